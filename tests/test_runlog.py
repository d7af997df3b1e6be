"""A run's history on disk (lpn/runlog.py): metrics.jsonl through resumes and crashes, TensorBoard event
files, and `lpn report`. One tiny run is trained once through `lpn train` (the conftest's TINY config,
reached as tests/test_cli.py does, so the compiled programs are shared) and read by the other tests.
"""

import importlib.util
import json
import re
import struct
import sys
from datetime import datetime

import numpy as np
import optax
import pytest

from conftest import TINY
from lpn.cli import main
from lpn.config import get_preset
from lpn.optim import learning_rate_at, learning_rate_schedule
from lpn.runlog import FIELDS, TRAINING_FIELDS, MetricsError, MetricsLog, read_metrics
from lpn.train import Checkpoints, Record, TrainOptions, train

PRESET = get_preset("pattern_2d")
TINY_SET = [f"{k}={v}" for k, v in TINY.to_dict().items() if v != getattr(PRESET, k)]
EVAL = ["--eval-every", "4", "--eval-tasks", "8", "--eval-search-steps", "2"]
HAS_TENSORBOARD = importlib.util.find_spec("tensorboardX") is not None
LINE = dict.fromkeys(FIELDS, 1.0) | {"time": "2026-12-06T17:26:37Z"}  # a line of metrics.jsonl, but its step


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run of 6 steps in chunks of 2, evaluated at steps 4 and 6, with TensorBoard files if the
    extra is installed."""
    out = tmp_path_factory.mktemp("runlog") / "run"
    status = main(
        [
            "train",
            "--preset",
            "pattern_2d",
            "--steps",
            "6",
            "--chunk",
            "2",
            "--out",
            str(out),
            "--set",
            *TINY_SET,
            *EVAL,
            *(["--tensorboard"] if HAS_TENSORBOARD else []),
        ]
    )
    assert status == 0
    return out


@pytest.mark.slow
def test_metrics_jsonl_has_a_line_per_chunk_with_its_fields(run_dir):
    lines = read_metrics(run_dir)
    assert [line["step"] for line in lines] == [2, 4, 6]
    schedule = learning_rate_schedule(TINY)
    for line in lines:
        assert set(FIELDS) <= set(line)
        assert all(np.isfinite(line[name]) and line[name] >= 0 for name in TRAINING_FIELDS)
        assert line["learning_rate"] == pytest.approx(float(schedule(line["step"] - 1)))  # the chunk's last step
        assert datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert lines[0]["learning_rate"] < lines[-1]["learning_rate"]  # the warm-up
    assert 0 < lines[0]["wall_time"] < lines[1]["wall_time"] < lines[2]["wall_time"]
    evaluated = {"top1_mean_latent", "top1_gradient", "top2_gradient"}
    assert not evaluated & set(lines[0]) and evaluated <= set(lines[1]) and evaluated <= set(lines[2])
    checkpoint = json.loads((run_dir / "step-00000006" / "config.json").read_text())
    assert {k: lines[2][k] for k in checkpoint["metrics"]} == pytest.approx(checkpoint["metrics"])


def test_a_resume_drops_the_lines_past_its_checkpoint_and_repairs_a_torn_last_line(tmp_path):
    def crash(record, state):
        if record.step == 6:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):  # after the line of step 6, whose checkpoint never came
        train(
            TINY,
            8,
            chunk=2,
            callback=crash,
            progress=False,
            options=TrainOptions(out_dir=tmp_path, checkpoints=Checkpoints(every=4)),
        )
    path = tmp_path / "metrics.jsonl"
    with path.open("a") as file:
        file.write('{"step": 8, "loss": 1.2')  # killed mid-write
    before = read_metrics(tmp_path)  # the torn line is left out
    assert [line["step"] for line in before] == [2, 4, 6]

    _, history = train(
        TINY, 8, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path, resume=True)
    )  # from step 4
    after = read_metrics(tmp_path)
    assert [line["step"] for line in after] == [2, 4, 6, 8]
    assert after[:2] == before[:2]
    assert [after[2]["loss"], after[3]["loss"]] == [r.loss for r in history]  # step 6 is the resumed run's
    assert after[2]["wall_time"] > before[2]["wall_time"]  # the time goes on, the lost chunk included
    text = path.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 4 and '"loss": 1.2\n' not in text

    with path.open("a") as file:  # killed mid-write after its last checkpoint: only the torn line goes
        file.write('{"step": 10, "lo')
    train(TINY, 10, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path, resume=True))
    assert path.read_text().startswith(text) and [line["step"] for line in read_metrics(tmp_path)] == [2, 4, 6, 8, 10]


def test_a_damaged_line_before_the_last_is_an_error_naming_it(tmp_path):
    path = tmp_path / "metrics.jsonl"
    good = [json.dumps(LINE | {"step": s}) for s in (2, 4, 6)]
    path.write_text("\n".join([good[0], "{not json", good[2]]) + "\n")
    with pytest.raises(MetricsError, match=r"metrics.jsonl:2: not a JSON line"):
        read_metrics(tmp_path)
    with pytest.raises(MetricsError, match=r"metrics.jsonl:2: not a JSON line"):  # a resume refuses it too
        MetricsLog(tmp_path, 4, resume=True)
    path.write_text("\n".join([good[0], good[2], good[1]]) + "\n")
    with pytest.raises(MetricsError, match=r"metrics.jsonl:3: expected a JSON object with a whole 'step' above"):
        read_metrics(tmp_path)
    path.write_text("\n".join([good[0], json.dumps({"step": 4, "loss": 1.0}), good[2]]) + "\n")
    with pytest.raises(MetricsError, match=r"metrics.jsonl:2: lacks reconstruction, kl, grad_norm"):
        read_metrics(tmp_path)
    path.write_text("\n".join(good) + "\n")
    assert [line["step"] for line in read_metrics(tmp_path)] == [2, 4, 6]


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("loss", "abc", "field 'loss' is 'abc', expected a number"),
        ("kl", None, "field 'kl' is null, expected a number"),
        ("grad_norm", True, "field 'grad_norm' is true, expected a number"),
        ("learning_rate", [1], "field 'learning_rate' is [1], expected a number or null"),
        ("time", 5, "field 'time' is 5, expected a UTC time as a string"),
        ("top1_gradient", "50%", "field 'top1_gradient' is '50%', expected a number"),
    ],
)
def test_a_field_of_the_wrong_type_is_an_error_naming_the_line_and_the_field(tmp_path, capsys, field, value, expected):
    lines = [LINE | {"step": 2, "top1_gradient": 0.5}, LINE | {"step": 4, "top1_gradient": 0.5, field: value}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(MetricsError, match=rf"metrics.jsonl:2: {re.escape(expected)}"):
        read_metrics(tmp_path)
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lpn: error: ") and f"metrics.jsonl:2: {expected}" in err and "internal error" not in err
    assert len(err.splitlines()) == 1
    lines[1][field] = LINE.get(field, 0.5)  # the same line, mended, reads
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [line["step"] for line in read_metrics(tmp_path)] == [2, 4]


def test_a_results_file_that_does_not_parse_or_holds_a_wrong_field_is_named(tmp_path):
    from lpn.runlog import RunFileError, read_results

    path = tmp_path / "results.json"
    cell = {"top1": 0.5, "search": "gradient", "budget": 20}
    good = {"settings": {}, "seeds": {"0": {"Grad 1": {"Grad 20": cell}}}, "trainings": {}, "seconds": 3.0}
    path.write_text(json.dumps(good, indent=1))
    assert read_results(path) == good
    path.write_text(json.dumps(good, indent=1)[:-30] + "\n")
    with pytest.raises(RunFileError, match=rf"{re.escape(str(path))}:\d+: not valid JSON \("):
        read_results(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(RunFileError, match=rf"{re.escape(str(path))}: not UTF-8 text"):
        read_results(path)
    for change, field in [
        (lambda r: r.update(seeds=[]), "field 'seeds' is \\[\\], expected an object"),
        (lambda r: r.update(seconds="3"), "field 'seconds' is '3', expected a number"),
        (lambda r: r["seeds"]["0"]["Grad 1"]["Grad 20"].update(top1="x"), "field 'seeds.0.Grad 1.Grad 20.top1' is 'x'"),
        (lambda r: r["seeds"]["0"]["Grad 1"]["Grad 20"].update(budget=2.5), "field 'seeds.0.Grad 1.Grad 20.budget'"),
    ]:
        bad = json.loads(json.dumps(good))
        change(bad)
        path.write_text(json.dumps(bad))
        with pytest.raises(RunFileError, match=rf"{re.escape(str(path))}: {field}"):
            read_results(path)


def test_only_process_0_writes(tmp_path):
    with pytest.raises(ValueError, match="tensorboard=True needs out_dir"):
        MetricsLog(None, 0, resume=False, tensorboard=True)
    record = Record(2, 1.0, 0.9, 0.1, 3.0)
    with MetricsLog(tmp_path, 0, resume=False, process_index=1) as log:
        assert log.write(record, 10.0, 1e-3) is None
    assert not (tmp_path / "metrics.jsonl").exists()
    with MetricsLog(tmp_path, 0, resume=False, process_index=0) as log:
        assert log.write(record, 10.0, 1e-3)["loss"] == 1.0
    assert [line["step"] for line in read_metrics(tmp_path)] == [2]


def test_the_learning_rate_of_a_passed_in_optimizer_is_the_one_it_holds():
    schedule = optax.linear_schedule(0.0, 1.0, 10)
    params = np.zeros(3, np.float32)
    for optimizer, expected in (
        (optax.inject_hyperparams(optax.sgd)(learning_rate=schedule), schedule(2)),
        (optax.sgd(schedule), None),
    ):
        state = optimizer.init(params)
        for _ in range(3):
            _, state = optimizer.update(np.ones(3, np.float32), state, params)
        rate = learning_rate_at(TINY, optimizer, state, 2)
        assert rate == (None if expected is None else pytest.approx(float(expected)))


def read_events(folder) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} of the scalars in the TensorBoard event files in `folder`, each record's
    length and data checked against their masked CRC-32C (the TFRecord framing)."""
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.record_writer import masked_crc32c

    scalars = {}
    for file in sorted(folder.glob("events.out.tfevents.*")):
        data, i = file.read_bytes(), 0
        while i < len(data):
            header = data[i : i + 8]
            (length,), (header_crc,) = struct.unpack("<Q", header), struct.unpack("<I", data[i + 8 : i + 12])
            body = data[i + 12 : i + 12 + length]
            (body_crc,) = struct.unpack("<I", data[i + 12 + length : i + 16 + length])
            assert header_crc == masked_crc32c(header) and body_crc == masked_crc32c(body)
            event = Event.FromString(body)
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[event.step] = value.simple_value
            i += 16 + length
    return scalars


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TENSORBOARD, reason="needs the tensorboard extra (tensorboardX)")
def test_tensorboard_event_files_hold_the_metrics_of_metrics_jsonl(run_dir):
    scalars = read_events(run_dir / "tensorboard")
    lines = read_metrics(run_dir)
    assert {tag for tag in scalars if tag.startswith("train/")} == {f"train/{name}" for name in TRAINING_FIELDS}
    for name in TRAINING_FIELDS:
        assert scalars[f"train/{name}"] == {line["step"]: np.float32(line[name]) for line in lines}
    evaluated = {line["step"]: np.float32(line["top1_gradient"]) for line in lines if "top1_gradient" in line}
    assert scalars["eval/top1_gradient"] == evaluated and sorted(evaluated) == [4, 6]


def test_tensorboard_without_the_extra_is_an_error_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'lpn\[tensorboard\]'"):
        MetricsLog(tmp_path, 0, resume=False, tensorboard=True)
    status = main(["train", "--preset", "pattern_2d", "--out", str(tmp_path / "run"), "--tensorboard"])
    assert status == 1 and "lpn[tensorboard]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before any work


@pytest.mark.slow
def test_lpn_report_prints_a_summary_and_writes_a_png(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir)]) == 0
    text = capsys.readouterr().out
    lines = read_metrics(run_dir)
    assert f"{run_dir}: step 6 after 3 chunks" in text
    assert f"last chunk: loss {lines[-1]['loss']:.4f}, reconstruction {lines[-1]['reconstruction']:.4f}" in text
    best = max(lines[1:], key=lambda line: line["top1_gradient"])
    assert "best of 2 evaluations: " in text
    assert f"top1_gradient {best['top1_gradient']:.4g} at step {best['step']}" in text
    assert f"plot: {run_dir / 'report.png'}" in text
    assert (run_dir / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["report", str(run_dir), "--out", str(tmp_path / "curves.png")]) == 0
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "curves.png").shape[:2] == (640, 1280)  # readable on a 1280-px screen


def test_lpn_report_refuses_a_folder_without_metrics(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no metrics.jsonl here: not the folder of a run (lpn train --out), or a run from before" in err
    (tmp_path / "metrics.jsonl").write_text("")
    assert main(["report", str(tmp_path)]) == 1
    assert "no chunk has finished yet" in capsys.readouterr().err


def test_lpn_reproduce_resume_names_a_corrupt_results_file(tmp_path, capsys):
    out = tmp_path / "table1"
    out.mkdir()
    (out / "results.json").write_text('{"settings": {},\n "seeds": {"0": {\n')
    assert main(["reproduce", "table1", "--scale", "smoke", "--out", str(out), "--resume"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"lpn: error: {out / 'results.json'}:3: not valid JSON (") and "internal error" not in err
    assert len(err.splitlines()) == 1
