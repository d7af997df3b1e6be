"""One run in a folder at a time (lpn/runlock.py): a second `lpn train`, `lpn eval --out` or `lpn
reproduce --out` on a held folder stops at once naming the folder and the holder's PID, a lock left
by a killed process never blocks, and `--out` naming a file says so."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY
from lpn.cli import main
from lpn.config import get_preset
from lpn.runlock import LOCK_FILE, RunFolderBusy, run_lock

ROOT = Path(__file__).resolve().parent.parent
PRESET = get_preset("pattern_2d")
TINY_SET = [f"{k}={v}" for k, v in TINY.to_dict().items() if v != getattr(PRESET, k)]


def test_a_held_folder_is_refused_naming_it_and_the_holder(tmp_path):
    folder = tmp_path / "run"
    with run_lock(folder):
        assert (folder / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with pytest.raises(RunFolderBusy) as caught:
            with run_lock(folder):
                pass
        assert caught.value.filename == str(folder)
        assert f"in use by another run (process {os.getpid()})" in caught.value.strerror
        (folder / "metrics.jsonl").write_text("")
    with run_lock(folder):  # released at the end of the block
        pass
    assert (folder / "metrics.jsonl").exists()


def test_a_folder_the_lock_made_and_nothing_filled_is_removed(tmp_path):
    with pytest.raises(ValueError, match="failed before writing"):
        with run_lock(tmp_path / "new" / "run"):
            raise ValueError("failed before writing")
    assert not (tmp_path / "new" / "run").exists()
    (tmp_path / "kept").mkdir()
    with run_lock(tmp_path / "kept"):  # a folder that was there stays
        pass
    assert (tmp_path / "kept").is_dir()


def test_only_process_0_locks(tmp_path):
    with run_lock(tmp_path / "run"):
        with run_lock(tmp_path / "run", enabled=False):  # another process of the same run
            pass


@pytest.mark.parametrize("command", ["train", "eval", "reproduce"])
def test_out_naming_a_file_says_so(tmp_path, capsys, command):
    file = tmp_path / "taken"
    file.write_text("not a folder")
    argv = {
        "train": ["train", "--preset", "pattern_2d", "--steps", "2", "--out", str(file)],
        "eval": ["eval", "pattern_2d", "--data", "pattern", "--limit", "2", "--out", str(file)],
        "reproduce": ["reproduce", "table1", "--scale", "smoke", "--out", str(file)],
    }[command]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == f"lpn: error: {file}: a file, not a folder: --out names the folder a run writes into\n"
    assert file.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["train", "eval", "reproduce"])
def test_a_command_on_a_held_folder_stops_naming_it(tmp_path, capsys, command):
    folder = tmp_path / "busy"
    argv = {
        "train": ["train", "--preset", "pattern_2d", "--steps", "2", "--out", str(folder), "--set", *TINY_SET],
        "eval": ["eval", "pattern_2d", "--data", "pattern", "--limit", "2", "--out", str(folder)],
        "reproduce": ["reproduce", "table1", "--scale", "smoke", "--out", str(folder)],
    }[command]
    with run_lock(folder):  # as another process would hold it; flock does not tell processes apart from files
        assert main(argv) == 1
        assert os.listdir(folder) == [LOCK_FILE]  # nothing written
    err = capsys.readouterr().err
    assert err == (
        f"lpn: error: {folder}: in use by another run (process {os.getpid()}); wait for it to end, or pass another --out\n"
    )


def lock_holder(folder: Path) -> subprocess.Popen:
    """A Python process holding `folder`'s lock until killed."""
    code = (
        "import sys, time\n"
        "from lpn.runlock import run_lock\n"
        "with run_lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline() == "held\n"
    return holder


@pytest.mark.slow
def test_a_lock_left_by_a_killed_process_never_blocks(tmp_path):
    folder = tmp_path / "run"
    holder = lock_holder(folder)
    try:
        with pytest.raises(RunFolderBusy, match=rf"process {holder.pid}\)"):
            with run_lock(folder):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (folder / LOCK_FILE).read_text() == f"{holder.pid}\n"  # the file stays, the lock went with the process
    with run_lock(folder):
        assert (folder / LOCK_FILE).read_text() == f"{os.getpid()}\n"


@pytest.mark.slow
def test_a_second_lpn_train_on_a_running_runs_folder_fails_and_the_first_run_is_intact(tmp_path):
    from lpn.checkpoint import read_meta
    from lpn.runlog import read_metrics

    folder = tmp_path / "D"
    argv = ["train", "--preset", "pattern_2d", "--out", str(folder), "--chunk", "2", "--eval-every", "0"]
    argv += ["--set", *TINY_SET]
    env = {
        **os.environ,
        "TQDM_DISABLE": "1",
        "LPN_CPU_DEVICES": "1",
    }  # os.environ carries the tests' compile cache (conftest: $LPN_TEST_CACHE), so the programs are shared
    first = subprocess.Popen(
        [sys.executable, "-m", "lpn", *argv, "--steps", "400", "--save-every", "100"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not (folder / "run.json").exists():  # the first run has started writing
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-m", "lpn", *argv, "--steps", "4", "--seed", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert first.poll() is None  # the first was still running, so the check was against a live holder
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGINT)  # stops at the end of a chunk, with a checkpoint
        out, err = first.communicate(timeout=300)
    assert second.returncode == 1
    assert second.stderr == (
        f"lpn: error: {folder}: in use by another run (process {first.pid}); wait for it to end, or pass another --out\n"
    )
    assert first.returncode in (0, 130), err
    meta = read_meta(folder)  # the first run's checkpoint, of its seed, with its metrics to its step
    steps = [line["step"] for line in read_metrics(folder)]
    assert meta["step"] == steps[-1] and steps == list(range(2, steps[-1] + 1, 2))
    assert json.loads((folder / "run.json").read_text())["seed"] == 0
