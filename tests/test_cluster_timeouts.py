"""Bounded waits for a run over several processes (lpn/distributed.py, --coordinator-timeout): an
unreachable coordinator, a process 0 whose peers never come and a peer that dies mid-run each end in
an `lpn: error:` line naming the coordinator, never an abort with a C++ stack trace; and what the
processes send each other is JSON and arrays, never pickles."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from compile_settings import cache_folder

from conftest import TINY
from lpn.cli import main
from lpn.config import get_preset
from lpn.distributed import ClusterUnreachable, _decode_array, _encode_array, wait_for_coordinator

ROOT = Path(__file__).resolve().parent.parent
PRESET = get_preset("pattern_2d")
TINY_SET = [f"{k}={v}" for k, v in TINY.to_dict().items() if v != getattr(PRESET, k)]
ENV = {
    **os.environ,
    "TQDM_DISABLE": "1",
    "LPN_CPU_DEVICES": "1",
    "LPN_COMPILE_CACHE": cache_folder(),
}


def free_port() -> int:
    from test_distributed import free_port as port

    return port()


def test_nothing_in_lpn_unpickles():
    mentions = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "lpn").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "pickle" in line
    ]
    assert mentions == []


def test_values_cross_processes_as_json_with_arrays_of_numbers():
    value = (
        {"task-1": [[np.arange(6, dtype=np.int32).reshape(2, 3), np.zeros((0, 4), np.int32)]]},
        {"task-1": 12},
        {"task-1": 0.25},
        ["task-2"],
        np.float32(1.5),
        np.array([True, False]),
    )
    back = json.loads(json.dumps(value, default=_encode_array), object_hook=_decode_array)
    grids = back[0]["task-1"][0]
    assert [g.dtype for g in grids] == [np.int32, np.int32] and [g.shape for g in grids] == [(2, 3), (0, 4)]
    assert np.array_equal(grids[0], value[0]["task-1"][0][0])
    assert back[1:4] == [{"task-1": 12}, {"task-1": 0.25}, ["task-2"]]  # tuples come back as lists
    assert back[4].dtype == np.float32 and back[4] == 1.5 and back[5].tolist() == [True, False]
    with pytest.raises(TypeError, match="not of dtype object"):
        json.dumps(np.array([object()]), default=_encode_array)
    with pytest.raises(TypeError, match="not set"):
        json.dumps({1, 2}, default=_encode_array)
    with pytest.raises(ValueError, match="array of dtype object, not of numbers"):  # what a hostile peer might send
        json.loads('{"__lpn_array__": [1], "dtype": "|O", "shape": [1]}', object_hook=_decode_array)


def test_an_unreachable_coordinator_is_an_error_within_the_timeout():
    coordinator = f"127.0.0.1:{free_port()}"
    tick = time.monotonic()
    with pytest.raises(ClusterUnreachable) as caught:
        wait_for_coordinator(coordinator, 1.5)
    assert 1.5 <= time.monotonic() - tick < 10
    assert str(caught.value).startswith(f"could not reach the coordinator {coordinator} within 1.5 s")
    assert "check that process 0 runs with --coordinator" in str(caught.value)


def test_coordinator_timeout_needs_a_coordinator(capsys):
    assert main(["train", "--preset", "pattern_2d", "--coordinator-timeout", "5"]) == 2
    assert "--coordinator-timeout bounds the wait of a run over several processes" in capsys.readouterr().err
    assert main(["train", "--preset", "pattern_2d", "--coordinator-timeout", "0"]) == 2
    assert "argument --coordinator-timeout: expected a positive number, got 0" in capsys.readouterr().err


def lpn(*argv, timeout=300):
    tick = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lpn", *argv], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout
    )
    return done, time.monotonic() - tick


@pytest.mark.slow
def test_process_1_with_nothing_listening_exits_with_one_line(tmp_path):
    coordinator = f"127.0.0.1:{free_port()}"
    flags = ["--coordinator", coordinator, "--num-processes", "2", "--process-id", "1", "--coordinator-timeout", "3"]
    done, seconds = lpn("train", "--preset", "pattern_2d", "--out", str(tmp_path / "run"), *flags)
    assert done.returncode == 1 and seconds < 90
    assert done.stderr.startswith(f"lpn: error: could not reach the coordinator {coordinator} within 3 s")
    assert len(done.stderr.splitlines()) == 1 and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_process_0_whose_peers_never_come_exits_with_one_line(tmp_path):
    coordinator = f"127.0.0.1:{free_port()}"
    flags = ["--coordinator", coordinator, "--num-processes", "2", "--process-id", "0", "--coordinator-timeout", "4"]
    done, seconds = lpn("train", "--preset", "pattern_2d", "--out", str(tmp_path / "run"), *flags)
    assert done.returncode == 1 and seconds < 90, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("lpn: error:")]
    assert errors == [
        f"lpn: error: the 2 processes of the run did not all join the coordinator {coordinator} within 4 s "
        f"(--coordinator-timeout): check that every process was started with --coordinator {coordinator} "
        f"--num-processes 2 and its own --process-id, and that the port is reachable from every host"
    ]
    assert "Check failure" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_peer_that_dies_mid_run_ends_the_other_with_one_line(tmp_path):
    from test_distributed import cpu_collectives_reason, write_tasks

    reason = cpu_collectives_reason()
    if reason:
        pytest.skip(reason)
    run, tasks = tmp_path / "run", write_tasks(tmp_path / "train", 0, 8)
    coordinator = f"127.0.0.1:{free_port()}"
    argv = ["train", "--preset", "pattern_2d", "--steps", "400", "--out", str(run), "--data", str(tasks)]
    argv += ["--no-augment", "--set", *TINY_SET, "--chunk", "2", "--eval-every", "0", "--save-every", "100"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lpn", *argv, "--coordinator", coordinator, "--num-processes", "2"]
            + ["--process-id", str(i), "--coordinator-timeout", "20"],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 400
        while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text():  # under way
            ended = [p for p in procs if p.poll() is not None]
            if ended:
                early = ended[0].stderr.read()
                if "GetKeyValue() timed out" in early:  # compiles more than gloo's 30 s apart: no peer died
                    pytest.skip(f"the processes fell out of step before the kill (a loaded machine): {early[-300:]}")
                raise AssertionError(f"a process ended before the kill: {early[-3000:]}")
            assert time.monotonic() < deadline
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        err = procs[0].communicate(timeout=120)[1]
        seconds = time.monotonic() - killed
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    assert procs[0].returncode == 1 and seconds < 90, err[-3000:]  # the error, then at most the timeout (20 s)
    errors = [line for line in err.splitlines() if line.startswith("lpn: error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"lpn: error: another process of the run (coordinator {coordinator}) stopped, lost its connection or fell "
        f"behind ("
    )
    assert "Check failure" not in err and "Traceback" not in err
