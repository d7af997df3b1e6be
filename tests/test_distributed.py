"""Several processes, one run (lpn/distributed.py): the flags' checks, and two CPU processes on
127.0.0.1 that train through `lpn train --coordinator ...`, resume, evaluate through `lpn eval` and
run `lpn reproduce table11 --scale smoke` on that checkpoint, compared with one process given the same
global batches and the same checkpoint."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from conftest import TINY
from lpn.checkpoint import read_meta
from lpn.cli import main
from lpn.config import get_preset
from lpn.distributed import Settings, initialize, parse_settings, share

ROOT = os.path.dirname(os.path.dirname(__file__))
PRESET = get_preset("pattern_2d")
TINY_SET = [f"{k}={v}" for k, v in TINY.to_dict().items() if v != getattr(PRESET, k)]
PROCESSES = 2


@pytest.mark.parametrize(
    "flags, message",
    [
        (("127.0.0.1:1234", 2, None), "--coordinator, --num-processes given without --process-id"),
        ((None, None, 1), "--process-id given without --coordinator, --num-processes"),
        (("127.0.0.1", 2, 0), "--coordinator '127.0.0.1': expected HOST:PORT"),
        (("127.0.0.1:99999", 2, 0), "a port in 1-65535"),
        ((":1234", 2, 0), "expected HOST:PORT"),
        (("127.0.0.1:1234", 0, 0), "--num-processes 0: expected at least 1 process"),
        (("127.0.0.1:1234", 2, 2), "--process-id 2: expected an id from 0 to 1 (--num-processes 2)"),
    ],
)
def test_bad_settings_name_the_flag(flags, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_settings(*flags)


def test_settings_all_or_none():
    assert parse_settings() == Settings()
    assert parse_settings("node-1:1234", 4, 3) == Settings("node-1:1234", 4, 3)


def test_without_settings_or_a_cluster_one_process_and_no_runtime(monkeypatch):
    for name in ("SLURM_JOB_ID", "OMPI_MCA_orte_hnp_uri", "JAX_COORDINATOR_ADDRESS", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    assert initialize() == 1 and initialize(Settings("127.0.0.1:1234", 1, 0)) == 1
    assert not jax.distributed.is_initialized()


def test_a_share_of_items_per_process_covers_them_in_order(monkeypatch):
    monkeypatch.setattr(jax, "process_count", lambda: 3)
    blocks = []
    for i in range(3):
        monkeypatch.setattr(jax, "process_index", lambda i=i: i)
        blocks.append(share(7))
    assert [b.tolist() for b in blocks] == [[0, 1, 2], [3, 4, 5], [6, 6, 6]]


def test_several_processes_train_on_all_their_devices_with_seeds_of_their_own(monkeypatch):
    from lpn.budget import Deadline
    from lpn.devices import training_devices
    from lpn.distributed import process_seed
    from lpn.train import check_options

    assert process_seed([0, 5]) == [0, 5]
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    monkeypatch.setattr(jax, "devices", lambda: ["a", "b", "c", "d"])
    assert process_seed([0, 5]) == [0, 5, 1]
    assert training_devices(8, 4) == ("a", "b", "c", "d")
    with pytest.raises(
        ValueError, match="batch_size 8 and micro_batch_size 2 must divide evenly over the 4 devices of 2 processes"
    ):
        training_devices(8, 2)
    with pytest.raises(ValueError, match="a run over several processes takes Deadline"):
        check_options(None, False, None, Deadline(60, fit=True))


def test_bad_flags_are_usage_errors(capsys):
    status = main(
        ["train", "--preset", "pattern_2d", "--coordinator", "127.0.0.1", "--num-processes", "2", "--process-id", "0"]
    )
    assert status == 2 and "--coordinator '127.0.0.1': expected HOST:PORT" in capsys.readouterr().err
    status = main(["eval", "pattern_2d", "--data", "pattern", "--num-processes", "2"])
    assert status == 2 and "--num-processes given without --coordinator, --process-id" in capsys.readouterr().err
    status = main(["train", "--preset", "pattern_2d", "--process-id", "-1"])
    assert status == 2 and "argument --process-id: must be at least 0, got -1" in capsys.readouterr().err


def cpu_collectives_reason() -> str | None:
    """Why this platform cannot run the two-process test, or None: JAX's CPU collectives are gloo's."""
    from jax._src.lib import _jax

    if not hasattr(_jax, "make_gloo_tcp_collectives"):
        return "this jaxlib has no gloo CPU collectives (JAX ships them for Linux and macOS)"
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
    except OSError as err:
        return f"cannot open a TCP port on 127.0.0.1 ({err})"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_tasks(folder, seed: int, count: int):
    """`count` JSON tasks of 3 pairs of small random grids (fits TINY), in `folder`, named after it."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for i in range(count):

        def grid():
            return rng.integers(0, 10, size=tuple(rng.integers(1, 4, size=2))).tolist()

        pairs = [{"input": grid(), "output": grid()} for _ in range(3)]
        (folder / f"{folder.name}-{i}.json").write_text(json.dumps({"train": pairs[:2], "test": pairs[2:]}))
    return folder


# Each process runs the commands in turn (a failure exits non-zero), listing the run's checkpoints
# after each, then spreads `per_task_outputs` over the processes.
WORKER = """
import json, pathlib, sys
from lpn.cli import main
flags = ["--coordinator", sys.argv[1], "--num-processes", "{processes}", "--process-id", sys.argv[2]]
for argv in {commands}:
    if main(argv + flags):
        sys.exit(f"process {{sys.argv[2]}}: lpn {{' '.join(argv)}} failed")
    print("CHECKPOINTS", json.dumps(sorted(p.name for p in pathlib.Path("{run}").glob("step-*"))), flush=True)
from test_distributed import per_task_outputs
print("PER_TASK", json.dumps(per_task_outputs()))
"""


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """The folders of a run trained, resumed and evaluated by two processes on 127.0.0.1."""
    reason = cpu_collectives_reason()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("distributed")
    run, train_tasks, eval_tasks = tmp / "run", write_tasks(tmp / "train", 0, 8), write_tasks(tmp / "eval", 1, 6)
    common = ["--chunk", "2", "--eval-every", "0", "--save-every", "100"]
    commands = [
        [
            "train",
            "--preset",
            "pattern_2d",
            "--steps",
            "2",
            "--out",
            str(run),
            "--data",
            str(train_tasks),
            "--no-augment",
            "--set",
            *TINY_SET,
            *common,
        ],
        ["train", "--out", str(run), "--resume", "--steps", "4", *common],
        [
            "eval",
            str(run),
            "--data",
            str(eval_tasks),
            "--search",
            "gradient",
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--out",
            str(tmp / "eval-2"),
        ],
        ["reproduce", "table11", "--scale", "smoke", "--model", str(run), "--out", str(tmp / "table11-2"), "--quiet"],
    ]
    script = WORKER.format(processes=PROCESSES, commands=commands, run=run)
    env = {
        **os.environ,
        "LPN_CPU_DEVICES": "1",
        "TQDM_DISABLE": "1",
        "LPN_COMPILE_CACHE": jax.config.jax_compilation_cache_dir or "",
        "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
    }  # run from tests/
    coordinator = f"127.0.0.1:{free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), coordinator, str(i)],
            cwd=os.path.join(ROOT, "tests"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    try:
        outputs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    return tmp, outputs


def same_global_batches(cfg, tasks_folder, seed_prefix):
    """What the two processes trained on: each process's share, drawn from its own seed, joined in
    process order."""
    from lpn.tasks.sources import host_batches, make_mix

    share_cfg = cfg.replace(batch_size=cfg.batch_size // PROCESSES)
    mix = make_mix(share_cfg, str(tasks_folder), None, augment=False)
    streams = [host_batches(share_cfg, mix, [*seed_prefix, i]) for i in range(PROCESSES)]
    while True:
        parts = [next(s) for s in streams]
        yield jax.tree.map(lambda *a: np.concatenate(a), *parts)


@pytest.mark.slow
def test_two_processes_train_as_one_with_the_same_global_batch(two_processes, tmp_path):
    from lpn.train import TrainOptions, train

    tmp, outputs = two_processes
    run = tmp / "run"
    listed = [json.loads(line.split(" ", 1)[1]) for line in outputs[0].splitlines() if line.startswith("CHECKPOINTS")]
    assert listed[:2] == [["step-00000002"], ["step-00000002", "step-00000004"]]  # one a save, by one process
    assert "2 cpu device(s) of 2 processes (this one 1)" in outputs[1]
    _, first = train(
        TINY,
        2,
        chunk=2,
        progress=False,
        options=TrainOptions(data=same_global_batches(TINY, tmp / "train", [0, 0]), out_dir=tmp_path),
    )
    _, second = train(
        TINY,
        4,
        chunk=2,
        progress=False,
        options=TrainOptions(data=same_global_batches(TINY, tmp / "train", [0, 2]), out_dir=tmp_path, resume=True),
    )
    losses = [read_meta(run / f"step-0000000{step}")["metrics"]["loss"] for step in (2, 4)]
    assert losses == pytest.approx([first[-1].loss, second[-1].loss], rel=1e-5)
    assert json.loads((run / "run.json").read_text())["data"] == str(tmp / "train")
    from lpn.runlog import read_metrics

    lines = read_metrics(run)  # one line a chunk, by process 0 alone, carried through the resume
    assert [line["step"] for line in lines] == [2, 4]
    assert [line["loss"] for line in lines] == pytest.approx(losses, rel=1e-6)


def test_only_process_0_writes_checkpoints(monkeypatch, tmp_path):
    from lpn.train import Record, init_state, save_state

    state = init_state(TINY, jax.random.key(0))
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    assert save_state(tmp_path / "run", state, Record(3, 1.0, 1.0, 0.0, 1.0), {}) == 3
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_two_processes_evaluate_as_one(two_processes, tmp_path, capsys):
    tmp, _ = two_processes
    status = main(
        [
            "eval",
            str(tmp / "run"),
            "--data",
            str(tmp / "eval"),
            "--search",
            "gradient",
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0, capsys.readouterr().err
    two = json.loads((tmp / "eval-2" / "submission.json").read_text())
    assert two == json.loads((tmp_path / "submission.json").read_text()) and len(two) == 6
    scores = [json.loads((folder / "results.json").read_text())["scores"] for folder in (tmp / "eval-2", tmp_path)]
    assert scores[0] == scores[1]


@pytest.mark.slow
def test_two_processes_reproduce_as_one(two_processes):
    from lpn.experiments import get_experiment
    from lpn.reproduce import _evaluate_cells, _load

    tmp, outputs = two_processes
    assert "wrote" in outputs[0] and "wrote" not in outputs[1]  # process 0 alone speaks and writes
    folder, exp = tmp / "table11-2", get_experiment("table11")
    assert (folder / "table.md").is_file() and (folder / "figure.png").is_file()
    two = json.loads((folder / "results.json").read_text())["seeds"]
    assert two.keys() == {"0"} and two["0"].keys() == {r.label for r, _ in exp.cells("smoke")}
    # One row again in this one process (the row's cells of the smoke scale, as `run` evaluates them).
    row = "LPN (Encoder Init + Gradient)"
    one = {}
    _evaluate_cells(
        exp,
        "smoke",
        0,
        _load(tmp / "run"),
        [(r, c) for r, c in exp.cells("smoke") if r.label == row],
        one,
        lambda line: None,
        lambda: None,
    )
    for column, cell in one[row].items():
        for name, value in cell.items():
            if name != "group_seconds":
                assert two["0"][row][column][name] == pytest.approx(value, rel=1e-5), (column, name)


def per_task_outputs() -> list:
    """`per_task_in_groups` over 7 generated tasks, 2 a call, of a function of each task and its key:
    in a run of several processes each computes its share, and all get every output."""
    from lpn.evaluate import per_task_in_groups
    from lpn.pattern import pattern_batch

    batch = jax.tree.map(np.asarray, pattern_batch(jax.random.key(5), TINY, 7))
    run = jax.jit(lambda model, part, keys: (part.inputs.sum(axis=(1, 2, 3)), jax.vmap(jax.random.uniform)(keys)))
    sums, draws = per_task_in_groups(run, None, batch, jax.random.key(1), tasks_per_call=2)
    return [sums.tolist(), draws.tolist()]


@pytest.mark.slow
def test_two_processes_spread_generated_tasks_and_gather_them_in_order(two_processes):
    _, outputs = two_processes
    for out in outputs:
        spread = [json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("PER_TASK")]
        assert spread == [per_task_outputs()] and len(set(spread[0][1])) == 7
