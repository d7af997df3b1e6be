"""Ctrl-C / SIGTERM in `lpn reproduce` (lpn/reproduce.py): the run stops at the end of the running
training chunk or evaluation group, keeps every finished cell and the training's checkpoint, says
`lpn reproduce ... --resume`, exits 130, and the resumed run ends with the numbers of a run never
stopped. table11 at smoke scale (one training of 3 steps) keeps it small; its training runs in chunks
of one step here so that a signal can land before the last one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lpn.reproduce
import lpn.train
from lpn.cli import main

ROOT = Path(__file__).resolve().parent.parent
REAL_TRAIN = lpn.train.train


def one_step_chunks(monkeypatch, signal_at=None):
    """Trains in chunks of one step; with `signal_at` ("start" or "last chunk"), SIGINT arrives as
    the training starts or during its last chunk (noted at its end, as a signal that came while it ran)."""

    def train(*args, **kwargs):
        callback = kwargs.pop("callback", None)

        def on_chunk(record, state):
            if signal_at == "last chunk" and record.step == 3:
                os.kill(os.getpid(), signal.SIGINT)
            if callback:
                callback(record, state)

        if signal_at == "start":
            os.kill(os.getpid(), signal.SIGINT)
        return REAL_TRAIN(*args, chunk=1, callback=on_chunk, **kwargs)

    monkeypatch.setattr(lpn.train, "train", train)


def reproduce(out, *more):
    return main(["reproduce", "table11", "--scale", "smoke", "--out", str(out), "--quiet", *more])


def cells(out) -> dict:
    """Every cell's numbers, less their wall time."""
    results = json.loads((out / "results.json").read_text())
    return {
        seed: {
            row: {col: {k: v for k, v in cell.items() if k != "group_seconds"} for col, cell in r.items()}
            for row, r in rows.items()
        }
        for seed, rows in results["seeds"].items()
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupts") / "whole"
    with pytest.MonkeyPatch.context() as monkeypatch:
        one_step_chunks(monkeypatch)
        assert reproduce(out) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("where", ["start", "last chunk", "cell"])
def test_a_signal_stops_at_the_next_boundary_and_resume_ends_as_a_run_never_stopped(
    uninterrupted, tmp_path, capsys, monkeypatch, where
):
    out = tmp_path / "stopped"
    if where == "cell":
        one_step_chunks(monkeypatch)
        real_group = lpn.reproduce.group_metrics

        def group_then_signal(*args, **kwargs):
            found = real_group(*args, **kwargs)
            if not (out / "results.json").exists() or not cells(out)["0"]:
                os.kill(os.getpid(), signal.SIGINT)  # during the first group
            return found

        monkeypatch.setattr(lpn.reproduce, "group_metrics", group_then_signal)
    else:
        one_step_chunks(monkeypatch, where)
    assert reproduce(out) == 130
    err = capsys.readouterr().err
    resume = f"continue with: lpn reproduce table11 --scale smoke --out {out} --quiet --resume"
    assert err.rstrip().endswith(resume) and "lpn train" not in err
    assert "lpn: interrupted (SIGINT) " in err and f"finished cells are kept in {out / 'results.json'}" in err
    models = list((out / "models").glob("grad-1-s0-*"))
    assert len(models) == 1 and (models[0] / "latest").exists()  # the training's checkpoint is kept
    step = json.loads((models[0] / (models[0] / "latest").read_text().strip() / "config.json").read_text())["step"]
    done = cells(out)["0"] if (out / "results.json").exists() else {}
    if where == "start":  # stopped after the first one-step chunk, with a checkpoint there
        assert "training Grad 1 (seed 0) at step 1 of 3, checkpoint in" in err and step == 1 and not done
    elif where == "last chunk":  # the training ends, then the run stops before any cell
        assert "after training Grad 1 (seed 0)" in err and step == 3 and not done
        assert (models[0] / "done.json").exists()
    else:  # one group of cells is kept, the others are not run
        assert "after seed 0's cells" in err and step == 3
        assert 0 < sum(len(r) for r in done.values()) < sum(len(r) for r in cells(uninterrupted)["0"].values())

    monkeypatch.undo()
    one_step_chunks(monkeypatch)
    assert reproduce(out, "--resume") == 0
    assert cells(out) == cells(uninterrupted)


def sigint_then_resume(folder: Path) -> dict:
    """`lpn reproduce table1 --scale smoke` sent SIGINT once a cell is done, then resumed; what each
    run printed and left (a background run: tests/background.py)."""
    out = folder / "table1"
    env = {
        **os.environ,
        "TQDM_DISABLE": "1",
        "LPN_CPU_DEVICES": "1",
    }  # os.environ carries the tests' compile cache (conftest: $LPN_TEST_CACHE), so the programs are shared
    argv = [sys.executable, "-m", "lpn", "reproduce", "table1", "--scale", "smoke", "--out", str(out), "--quiet"]
    run = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in run.stdout:  # a cell is done: the run is well under way
            seen.append(line)
            if line.startswith("seed 0:"):
                break
        running = run.poll() is None
        signalled = time.monotonic()
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=60)
        waited = time.monotonic() - signalled
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    kept = json.loads((out / "results.json").read_text())["seeds"]["0"] if (out / "results.json").exists() else {}
    resumed = subprocess.run([*argv, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return dict(
        out=out,
        seen="".join(seen),
        running=running,
        returncode=run.returncode,
        waited=waited,
        stderr=stderr,
        kept=kept,
        resumed=resumed,
        results=json.loads((out / "results.json").read_text()),
    )


@pytest.mark.slow
@pytest.mark.background.with_args(sigint_then_resume)
def test_sigint_during_lpn_reproduce_table1_exits_130_and_resume_finishes(background):
    run = background(sigint_then_resume)
    assert run["running"], run["seen"]  # still running when signalled
    assert run["returncode"] == 130 and run["waited"] < 60, run["stderr"]
    last = run["stderr"].strip().splitlines()[-1]
    assert last.startswith("lpn: interrupted (SIGINT) ") and "Traceback" not in run["stderr"]
    assert last.endswith(f"continue with: lpn reproduce table1 --scale smoke --out {run['out']} --quiet --resume")
    kept = run["kept"]
    assert 0 < sum(len(row) for row in kept.values()) < 36

    assert run["resumed"].returncode == 0, run["resumed"].stderr
    results = run["results"]
    assert sum(len(row) for row in results["seeds"]["0"].values()) == 36 and "finished" in results
    for row, columns in kept.items():  # the cells kept are not run again
        for column, cell in columns.items():
            assert results["seeds"]["0"][row][column] == cell
