"""tests/background.py, the plugin that runs the suite's long subprocess runs beside its in-process
tests: checked on a small project of its own, in a pytest subprocess. A run's value reaches its
test, an error in a run fails the test that waits for it, the tests that wait go last, and an
own-process module's outcomes, output and skips come back as if it had run in the session."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

PROJECT = {
    "conftest.py": """
        pytest_plugins = ["background"]
    """,
    "test_runs.py": """
        import subprocess, sys
        import pytest

        ORDER = []

        def echo(folder, word):
            (folder / "said").write_text(subprocess.check_output([sys.executable, "-c", f"print({word!r})"], text=True))
            return (folder / "said").read_text().strip()

        def broken(folder):
            raise RuntimeError("the run broke")

        @pytest.mark.background.with_args(echo, "hello")
        def test_waits_for_its_run(background):
            ORDER.append("waits")
            assert background(echo, "hello") == "hello"

        def test_in_process():
            ORDER.append("in-process")

        @pytest.mark.background.with_args(broken)
        def test_its_run_raised(background):
            background(broken)

        def test_order_is_in_process_first():
            ORDER.append("last in-process")

        @pytest.mark.background.with_args(echo, "hello")
        def test_zz_order(background):
            assert ORDER == ["in-process", "last in-process", "waits"], ORDER
    """,
    "test_own.py": """
        import pytest

        pytestmark = pytest.mark.own_process

        def test_passes_there():
            import os
            assert os.environ.get("LPN_TEST_REPORTS"), "not in a process of its own"

        def test_fails_there():
            print("printed before the failure")
            assert 1 == 2, "wrong sum"

        @pytest.mark.skip(reason="skipped on purpose")
        def test_skipped_there():
            pass
    """,
}


def run_project(tmp_path, *args, files=PROJECT, **env) -> subprocess.CompletedProcess:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    environ = {k: v for k, v in os.environ.items() if k not in ("LPN_TEST_BACKGROUND", "PYTEST_ADDOPTS")}
    environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), environ.get("PYTHONPATH", "")])
    argv = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), *args]
    return subprocess.run(
        [*argv, str(tmp_path)], cwd=tmp_path, env={**environ, **env}, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_runs_reach_their_tests_and_failures_come_back(tmp_path):
    done = run_project(tmp_path)
    out = done.stdout
    assert done.returncode == 1, out[-3000:]
    assert "test_runs.py::test_waits_for_its_run PASSED" in out
    assert "test_runs.py::test_its_run_raised FAILED" in out and "RuntimeError: the run broke" in out
    assert "test_runs.py::test_zz_order PASSED" in out  # the waiting tests ran after the others
    assert "test_own.py::test_passes_there PASSED" in out
    assert "test_own.py::test_fails_there FAILED" in out and "AssertionError: wrong sum" in out
    assert "printed before the failure" in out  # the test's output, from its own process
    assert "test_own.py::test_skipped_there SKIPPED (skipped on purpose)" in out
    assert "2 failed, 5 passed, 1 skipped" in out
    assert "background runs (their own time" in out and "run_module('test_own.py', 3 tests, " in out


@pytest.mark.slow
def test_turned_off_every_run_is_made_where_its_test_asks(tmp_path):
    done = run_project(tmp_path, LPN_TEST_BACKGROUND="0")
    out = done.stdout
    # in the order written: the order check fails, the own-process module runs here
    assert "test_runs.py::test_zz_order FAILED" in out and "test_own.py::test_passes_there FAILED" in out
    assert "test_runs.py::test_waits_for_its_run PASSED" in out and "RuntimeError: the run broke" in out
    assert "4 failed, 3 passed, 1 skipped" in out, out[-3000:]


@pytest.mark.slow
def test_a_session_that_stops_early_leaves_no_run_behind(tmp_path):
    """`-x` ends the session while a run's child process is still going: the process is stopped,
    and the session does not wait for it."""
    stop = f"""
        import subprocess, sys
        import pytest

        def sleeper(folder):
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            open({str(tmp_path / "pid")!r}, "w").write(str(child.pid))
            return child.wait()

        def test_fails_first():
            import os, time
            while not os.path.exists({str(tmp_path / "pid")!r}):  # the run is under way
                time.sleep(0.1)
            assert False, "stop here"

        @pytest.mark.background.with_args(sleeper)
        def test_waits(background):
            background(sleeper)
        """
    tick = time.monotonic()
    done = run_project(tmp_path, "-x", files={"conftest.py": PROJECT["conftest.py"], "test_stop.py": stop})
    assert time.monotonic() - tick < 120 and "1 failed" in done.stdout, done.stdout[-3000:]
    pid = int((tmp_path / "pid").read_text())
    time.sleep(0.5)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.slow
def test_an_own_process_module_hands_over_to_a_test_in_another_folder(tmp_path):
    """An in-process test, then an own-process module beside it, then a test in another folder that
    waits for a run (as the notebooks do, after test_pretrained): what the first left set up, its
    folder, is torn down before the last is set up, as pytest's own protocol does. Without that,
    pytest stops with 'previous item was not torn down properly'."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    files = {
        "conftest.py": PROJECT["conftest.py"],
        "a/test_first.py": "def test_first():\n    pass\n",
        "a/test_own.py": "import pytest\n\npytestmark = pytest.mark.own_process\n\ndef test_own():\n    pass\n",
        "b/test_last.py": """
import pytest

def job(folder):
    return 1

@pytest.mark.background.with_args(job)
def test_last(background):  # waits for a run too, so it comes after the own-process module
    assert background(job) == 1
""",
    }
    done = run_project(tmp_path, files=files)
    out = done.stdout
    assert "a/test_own.py::test_own PASSED" in out and "b/test_last.py::test_last PASSED" in out, out[-3000:]
    assert done.returncode == 0 and "3 passed" in out, out[-3000:]
