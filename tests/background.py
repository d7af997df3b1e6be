"""Long subprocess runs of the suite, on the cores the main process leaves idle (a pytest plugin,
loaded by the root conftest.py).

A full run is mostly compiling, one core's work. A slow test that waits on a child process (a
notebook's kernel, `lpn reproduce` at smoke scale, the two-device script) keeps one core busy
while the main process idles, so on a 2-core machine one core is idle most of the run. Such a test
names its run with the marker `background(job, *args)`, written
`@pytest.mark.background.with_args(job, *args)` (a lone function would be taken for the test).
Once collection is done, this plugin starts the named runs in the order of their tests, one at a
time beside the main process (one per spare core on bigger machines), and moves the tests that
wait for a run to the end of the session, so that the in-process tests run meanwhile. A test, or
its fixture, gets the run's value from the `background` fixture: `background(job, *args)` waits
for it and returns what `job(folder, *args)` returned, or raises what it raised. When a test asks
for a run that has not started yet, the main process makes it there and then (as it does for a
run no selected test named), so at the end, with every test waiting, both cores still work.

A module of long in-process tests can go whole: `pytestmark =
pytest.mark.own_process` runs its selected tests in a pytest process of their own, as one such run;
its tests' reports (outcome, output, duration) come back into this session as if they had run here.

A job runs in a thread: it must do its work in a child process (`subprocess`, a notebook kernel),
never JAX in this process. `folder` is an empty folder of its own, removed after the session.
`LPN_TEST_BACKGROUND=0` turns the plugin off: each run is made where its test asks for it. The
session ends with each run's own time, since a test that waited shows only the wait.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

MARK = "background"
OWN = "own_process"
REPORTS_ENV = "LPN_TEST_REPORTS"  # set in a module's own process: where its reports go


class Runs:
    """The session's background runs, keyed by (job, args), each made once."""

    def __init__(self, workers: int):
        self.workers = workers
        self.root = Path(tempfile.mkdtemp(prefix="lpn-test-runs-"))
        self.lock = threading.Lock()
        self.queue: list[tuple] = []
        self.futures: dict[tuple, Future] = {}
        self.seconds: dict[tuple, float] = {}

    def submit(self, key: tuple) -> None:
        with self.lock:
            if key in self.futures:
                return
            self.futures[key] = Future()
            self.queue.append(key)

    def start(self) -> None:
        for _ in range(self.workers):
            threading.Thread(target=self._work, daemon=True, name="lpn-test-runs").start()

    def _take(self, key: tuple | None = None) -> tuple | None:
        """Claims the next queued run (or `key`, if still queued): each run is made by one thread."""
        with self.lock:
            if key is None:
                return self.queue.pop(0) if self.queue else None
            if key in self.queue:
                self.queue.remove(key)
                return key
            return None

    def _work(self) -> None:
        while (key := self._take()) is not None:
            self._make(key)

    def _make(self, key: tuple) -> None:
        job, args = key
        future = self.futures[key]
        if not future.set_running_or_notify_cancel():
            return
        folder = Path(tempfile.mkdtemp(prefix=f"{job.__name__}-", dir=self.root))
        start = time.perf_counter()
        try:
            future.set_result(job(folder, *args))
        except BaseException as error:  # handed to the test that waits for it
            future.set_exception(error)
        finally:
            self.seconds[key] = time.perf_counter() - start

    def result(self, job, *args):
        key = (job, args)
        self.submit(key)
        if self._take(key) is not None:  # not started yet: made here, while the threads go on
            self._make(key)
        return self.futures[key].result()

    def cancel(self) -> None:
        with self.lock:
            for key in self.queue:
                self.futures[key].cancel()
            self.queue.clear()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "background(job, *args): the test waits for job(folder, *args), a subprocess run that "
        "tests/background.py starts after collection and runs beside the other tests",
    )
    config.addinivalue_line(
        "markers", "own_process: the module's tests run in a pytest process of their own (tests/background.py)"
    )
    if os.environ.get(REPORTS_ENV):
        config.pluginmanager.register(ReportWriter(config, os.environ[REPORTS_ENV]), "lpn-test-report-writer")
    spare = max(1, (os.cpu_count() or 2) - 1)
    config.stash[RUNS] = Runs(spare if os.environ.get("LPN_TEST_BACKGROUND", "1") != "0" else 0)


RUNS = pytest.StashKey[Runs]()


def _keys(item) -> list[tuple]:
    return [(mark.args[0], tuple(mark.args[1:])) for mark in item.iter_markers(MARK)]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The tests that wait for a run go last (in their order), so that the others run meanwhile."""
    if not config.stash[RUNS].workers:
        return
    modules: dict[str, list] = {}
    for item in items:
        if item.get_closest_marker(OWN) is not None:
            modules.setdefault(item.path, []).append(item)
    for path, module in modules.items():
        run = (
            run_module,
            os.path.relpath(path, config.rootpath),
            tuple(i.nodeid for i in module),
            str(config.rootpath),
        )
        for item in module:
            item.add_marker(pytest.mark.background.with_args(*run))
    items[:] = [i for i in items if not _keys(i)] + [i for i in items if _keys(i)]


def pytest_collection_finish(session):
    runs = session.config.stash[RUNS]
    if not runs.workers:
        return
    for item in session.items:
        for key in _keys(item):
            runs.submit(key)
    runs.start()


def run_module(folder: Path, path: str, nodeids: tuple[str, ...], rootdir: str) -> dict[str, list]:
    """The tests `nodeids` of one module in a pytest process of its own, from the session's
    `rootdir`: {nodeid: its reports, as data}; a test it did not report gets the tail of the
    process's output (a collection error, a crash)."""
    reports = folder / "reports.jsonl"
    env = dict(os.environ, LPN_TEST_BACKGROUND="0", **{REPORTS_ENV: str(reports)})
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", rootdir]
    done = subprocess.run([*argv, "--", *nodeids], cwd=rootdir, env=env, capture_output=True, text=True, timeout=3600)
    found: dict[str, list] = {nodeid: [] for nodeid in nodeids}
    if reports.exists():
        for line in reports.read_text().splitlines():
            data = json.loads(line)
            found.setdefault(data["nodeid"], []).append(data)
    tail = f"{path}'s own pytest process exited {done.returncode}:\n{(done.stdout + done.stderr)[-5000:]}"
    return {nodeid: reports or tail for nodeid, reports in found.items()}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """A test of an own-process module: its reports from that process, logged here as the test's."""
    runs = item.config.stash[RUNS]
    if not runs.workers or item.get_closest_marker(OWN) is None:
        return None
    job, args = next(k for k in _keys(item) if k[0] is run_module)
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    try:
        found = runs.result(job, *args)[item.nodeid]
    except Exception as error:  # the process could not be run
        found = f"{args[0]}'s own pytest process: {error!r}"
    if isinstance(found, str):  # no report of its own: the process's failure stands for it
        reports = [pytest.TestReport(item.nodeid, item.location, {}, "failed", found, "call")]
    else:
        reports = [item.config.hook.pytest_report_from_serializable(config=item.config, data=d) for d in found]
    for report in reports:
        if isinstance(report.longrepr, list):  # a skip's (path, line, reason), a list after JSON
            report.longrepr = tuple(report.longrepr)
        item.ihook.pytest_runtest_logreport(report=report)
    # what earlier in-process tests set up and the next test does not share is torn down, as pytest's
    # own protocol does after each test
    item.session._setupstate.teardown_exact(nextitem)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


class ReportWriter:
    """In an own-process module's process: writes each report, as data, for the session that
    started it."""

    def __init__(self, config, path: str):
        self.config, self.file = config, open(path, "a")

    def pytest_runtest_logreport(self, report):
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.file.write(json.dumps(data) + "\n")
        self.file.flush()


@pytest.fixture(scope="session")
def background(request):
    """`background(job, *args)`: the value of that run (see the module's docstring), made once."""
    return request.config.stash[RUNS].result


def pytest_terminal_summary(terminalreporter, config):
    runs = config.stash[RUNS]
    if not runs.seconds:
        return
    terminalreporter.write_sep("=", "background runs (their own time; the tests that used them waited less)")
    for (job, args), seconds in sorted(runs.seconds.items(), key=lambda kv: -kv[1]):
        shown = ", ".join(
            f"{len(a)} tests" if isinstance(a, tuple) else os.path.relpath(a) if os.path.isabs(str(a)) else repr(a)
            for a in args
        )
        terminalreporter.write_line(f"{seconds:8.2f}s {job.__module__}.{job.__name__}({shown})")


def _descendants(pid: int) -> list[int]:
    """The processes started from `pid`, however deep (Linux's /proc; none found elsewhere)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def pytest_unconfigure(config):
    """Cancels the runs not started; a run still going (the session was interrupted) has its child
    processes stopped, so that none outlives the session."""
    runs = config.stash[RUNS]
    runs.cancel()
    if any(future.running() for future in runs.futures.values()):
        for pid in _descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    shutil.rmtree(runs.root, ignore_errors=True)
