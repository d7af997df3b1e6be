"""Real-browser fixtures: a JupyterLab server on localhost and headless Debian chromium.

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
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for k, page in enumerate(getattr(item.module, "_open_pages", [])):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"FAILED-{item.name}-{k}.png"))


def missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM} (apt-get install chromium, or set LPN_CHROMIUM)"
    for module in ("jupyterlab", "playwright", "anywidget"):
        try:
            __import__(module)
        except ImportError:
            return f"python package {module} not installed (scripts/browser_setup.sh installs it)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A running JupyterLab: yields its base URL and token."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("lab")
    for path in HERE.iterdir():
        if path.suffix in (".ipynb", ".json"):
            shutil.copy(path, root / path.name)
    settings = root / ".settings"
    for name, value in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    port, token = free_port(), uuid.uuid4().hex
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"), JUPYTER_PLATFORM_DIRS="1")
    log = open(root / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{(root / 'server.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield {"url": url, "token": token, "root": root}
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def notebook(browser, lab, request):
    """Opens, runs and caches notebooks for one test module: `notebook("grids.ipynb") -> page`.

    Running a notebook costs seconds, so the tests of a module share its page; each test saves
    its own screenshot (`screenshot(page, name)`), and `page.js_errors` collects uncaught errors.
    """
    pages, contexts = {}, []

    def open_notebook(name: str):
        if name not in pages:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.js_errors = []
            page.on("pageerror", lambda err: page.js_errors.append(str(err)))
            page.on("console", lambda msg: msg.type == "error" and ("lpn" in msg.text or "anywidget" in msg.text)
                    and page.js_errors.append(msg.text))
            pages[name] = page
            request.module._open_pages = list(pages.values())  # screenshotted when a test fails
            run_notebook(page, lab, name)
        return pages[name]

    yield open_notebook
    for context in contexts:
        context.close()


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
