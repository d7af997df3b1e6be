"""Real-browser fixtures: a JupyterLab server on localhost and headless Debian chromium.

Test modules import these fixtures by name (`from browser_fixtures import ...`). They are not in a
conftest.py on purpose: tests elsewhere import their own `conftest` module by name, and a second
conftest.py here would shadow it.

The server runs from a temporary copy of this folder (so the fixture notebooks stay clean), with
its own settings (no news pop-ups, no windowing, so every cell is in the DOM) and the app exposed
as `window.jupyterapp`, which the tests use to run all cells and wait for the kernel. Tests skip,
with the reason, only when chromium, JupyterLab or Playwright are missing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from browser_helpers import SCREENSHOTS, run_notebook

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("LPN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM} (apt-get install chromium, or set LPN_CHROMIUM)"
    for module in ("jupyterlab", "playwright", "anywidget"):
        try:
            __import__(module)
        except ImportError:
            return f"python package {module} not installed (pip install -e '.[notebook,test]' installs it)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Each test module imports these fixtures, so pytest sees one definition per module; the server
# and the browser are kept here so that the whole session shares one of each.
_SHARED: dict = {}


def start_lab(root: Path):
    """Starts JupyterLab serving a copy of this folder in `root`; returns (process, url, token)."""
    for path in HERE.iterdir():
        if path.suffix in (".ipynb", ".json"):
            shutil.copy(path, root / path.name)
    settings = root / ".settings"
    for name, value in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    port, token = free_port(), uuid.uuid4().hex
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"),
        JUPYTER_PLATFORM_DIRS="1",
        # A virtualenv over another Python's packages: the lab extensions (anywidget, ipywidgets) are in that
        # Python's share/jupyter, which `jupyter` looks for under sys.prefix only.
        JUPYTER_PATH=os.pathsep.join(
            p for p in (os.environ.get("JUPYTER_PATH"), str(Path(sys.base_prefix) / "share" / "jupyter")) if p
        ),
    )
    with open(root / "server.log", "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,  # `-m jupyterlab`, not `-m jupyter lab`, which runs the jupyter-lab on PATH: another
                "-m",  # Python's, whose kernels would import another checkout's lpn
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--LabApp.expose_app_in_browser=True",
                "--ServerApp.port_retries=0",
            ]
            + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            return server, url, token
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server)
                log = (root / "server.log").read_text()[-3000:]
                raise RuntimeError(f"JupyterLab did not start:\n{log}") from None
            time.sleep(0.3)


def stop(server) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A running JupyterLab, one per session: {"url", "token", "root"}."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    if "lab" in _SHARED:
        yield _SHARED["lab"]
        return
    root = tmp_path_factory.mktemp("lab")
    server, url, token = start_lab(root)
    _SHARED["lab"] = {"url": url, "token": token, "root": root}
    try:
        yield _SHARED["lab"]
    finally:
        _SHARED.pop("lab")
        stop(server)


@pytest.fixture(scope="session")
def browser(lab):
    """Headless Debian chromium driven by Playwright, one per session."""
    if "browser" in _SHARED:
        yield _SHARED["browser"]
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        _SHARED["browser"] = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield _SHARED["browser"]
        finally:
            _SHARED.pop("browser").close()


def new_page(browser):
    """A page in a fresh browser context, collecting uncaught errors and the widgets' console
    errors in `page.js_errors`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.js_errors = []
    page.on("pageerror", lambda err: page.js_errors.append(str(err)))
    page.on(
        "console",
        lambda msg: (
            msg.type == "error" and ("lpn" in msg.text or "anywidget" in msg.text) and page.js_errors.append(msg.text)
        ),
    )
    return page


@pytest.fixture(scope="module")
def notebook(browser, lab, request):
    """Opens, runs and caches notebooks for one test module: `notebook("grids.ipynb") -> page`.

    Running a notebook costs seconds, so the tests of a module share its page; each test saves
    its own screenshot (`screenshot(page, name)`), and `page.js_errors` collects uncaught errors.
    """
    pages, contexts = {}, []

    def open_notebook(name: str):
        if name not in pages:
            page = new_page(browser)
            contexts.append(page.context)
            pages[name] = page
            request.module._open_pages = list(pages.values())  # screenshotted when a test fails
            run_notebook(page, lab, name)
        return pages[name]

    yield open_notebook
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request):
    """After a failed test, saves every page its module opened as FAILED-<test>-<k>.png."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:  # the call's report is logged before teardown
        for k, page in enumerate(getattr(request.module, "_open_pages", [])):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}-{k}.png"))


@pytest.fixture
def screenshot(request):
    """Saves a screenshot of a page or of one element (a Playwright locator) under
    artifacts/screenshots/, named after the test, as its artefact."""

    def save(target, suffix: str = ""):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}{suffix}.png"
        target.screenshot(path=str(path))
        return path

    return save
