"""scripts/device_run.sh, the paper-scale run for a machine with one GPU: it refuses to run without a
GPU unless --dry-run is given, and its dry run (the same pipeline, tiny, on the CPU) trains a
candidate, scores it and the shipped `pattern` model on the same tasks, writes its log and
summary.json, and keeps the candidate exactly when it scores higher with search."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "device_run.sh"
SHIPPED_STEP = json.loads((ROOT / "lpn" / "pretrained" / "pattern" / "config.json").read_text())["step"]


def run_script(tmp_path, *args, out="out", timeout=300):
    """The script from the repository root with OUT (and WORK) in `tmp_path` and this interpreter;
    the environment is the suite's (one CPU device, the shared XLA cache)."""
    env = dict(os.environ, WORK=str(tmp_path / "work"), PYTHON=sys.executable)
    env.pop("OUT", None)
    if out is not None:
        env["OUT"] = str(tmp_path / out)
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the refusal is for a machine without a GPU")
def test_refuses_without_a_gpu(tmp_path):
    result = run_script(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "device_run.sh: error: no GPU: jax sees only [CpuDevice" in output
    assert "refusing to run" in output and "--dry-run" in output
    # nothing was trained or evaluated: the log of the refusal alone
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["device_run.log"]
    assert "no GPU" in (tmp_path / "out" / "device_run.log").read_text()
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize(
    "args, out, message",
    [
        ((), None, "OUT is not set"),
        (("--dry-run", "--fast"), "out", "unknown argument '--fast'"),
        (("--minutes", "soon"), "out", "--minutes soon: not a positive number"),
        (("--minutes", "0"), "out", "--minutes 0: not a positive number"),
    ],
)
def test_usage_errors(tmp_path, args, out, message):
    result = run_script(tmp_path, *args, out=out)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "work").exists()


def test_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "summary.json").write_text("{}")
    result = run_script(tmp_path, "--dry-run")
    assert result.returncode == 2 and "is not empty" in result.stderr, result.stderr
    assert (tmp_path / "out" / "summary.json").read_text() == "{}"


def dry_run(folder: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """The script's dry run and its OUT folder (a background run: tests/background.py)."""
    return run_script(folder, "--dry-run", timeout=1500), folder / "out"


@pytest.mark.slow
@pytest.mark.background.with_args(dry_run)
def test_dry_run(background):
    result, out = background(dry_run)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dry_run"] is True and summary["problems"] == []
    assert "CpuDevice" in summary["jax_devices"] and summary["commit"]
    assert summary["preset"] == "pattern" and "train_search_steps=1" in summary["overrides"]  # Grad 1
    assert summary["paper_steps"] == 20_000 and summary["train_exit_status"] == 0
    assert 1 <= summary["steps"] <= summary["target_steps"] and summary["train_minutes"] <= summary["total_minutes"]
    assert summary["eval"] == {
        "data": "pattern",
        "tasks": 8,
        "seed": 0,
        "search_steps": 20,
        "shipped": "lpn/pretrained/pattern",
        "same_tasks": True,
    }
    candidate, shipped = summary["scores"]["candidate"], summary["scores"]["shipped"]
    assert candidate["step"] == summary["steps"] and shipped["step"] == SHIPPED_STEP
    assert candidate["tasks"] == shipped["tasks"] and "seed 0" in shipped["tasks"] and "8 tasks" in shipped["tasks"]
    for scores in (candidate, shipped):
        for key in ("none", "gradient", "gradient_pass2", "none_pixel", "gradient_pixel"):
            assert 0.0 <= scores[key] <= 1.0, (key, scores)
    # the rule, on the numbers it recorded: kept exactly when the candidate scores higher with search,
    # and then (only then) copied for review
    assert summary["kept"] is (candidate["gradient"] > shipped["gradient"])
    assert (out / "candidate").is_dir() is summary["kept"]
    assert summary["candidate"] == ("candidate" if summary["kept"] else None)
    if summary["kept"]:
        meta = json.loads((out / "candidate" / "config.json").read_text())
        assert meta["step"] == summary["steps"] and (out / "candidate" / "model.safetensors").is_file()

    log = (out / "device_run.log").read_text()
    assert log == result.stdout  # everything printed goes to the log too
    assert "dry run: yes" in log and "== 1. lpn train --preset pattern" in log
    assert "lpn train: pattern" in log and "lpn train exited with status 0" in log
    assert log.count("8 fresh pattern tasks of 4 given pairs and a query") == 4  # both models, both searches
    rows = [line for line in log.splitlines() if line.startswith(("candidate (trained now)", "shipped: "))]
    assert len(rows) == 2 and rows[0].split()[-1] == f"{candidate['gradient']:.1%}"
    assert rows[1].split()[-1] == f"{shipped['gradient']:.1%}" and rows[1].split()[-3] == str(SHIPPED_STEP)
    assert ("kept: the candidate scores higher" in log) is summary["kept"]
    assert f"steps reached: {summary['steps']} of {summary['target_steps']}" in log
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert lines and json.loads(lines[-1])["step"] == summary["steps"]
