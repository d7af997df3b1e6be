"""Notebook 04 (the latent space) in real JupyterLab: every cell runs without error in the fast
setting, and two clicks on the latent explorer's map decode two different grids, which the widget
draws (its canvas pixels equal what the kernel decoded).

The notebook is copied from notebooks/ into the server's folder. The server is shared by the
session and may have been started without `LPN_FAST`, so the fast setting (and the test suite's
XLA settings, which make compiling quicker and cached) go into the kernel's environment before its
first cell imports JAX.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from browser_fixtures import browser, lab, new_page, screenshot, screenshot_on_failure  # noqa: F401
from browser_helpers import DONE, OPENED, PANEL, RUN_ALL, kernel_json, read_grid, wait_until
from compile_settings import XLA_FLAGS, cache_folder

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_latent_space.ipynb"
KERNEL_ENV = {
    "LPN_FAST": "1",
    "TQDM_DISABLE": "1",
    "XLA_FLAGS": XLA_FLAGS,
    "JAX_COMPILATION_CACHE_DIR": cache_folder(),
}

# Runs `code` silently in the notebook's kernel once it has started (before any cell has run).
PREPARE = (
    """async ([path, code]) => {
  """
    + PANEL
    + """
  await panel.context.ready;
  await panel.sessionContext.ready;
  const future = panel.sessionContext.session.kernel.requestExecute({ code, silent: true, store_history: false });
  const reply = await future.done;
  return reply.content.status;
}"""
)

# Every code cell's state: its execution count and the errors among its outputs.
CELLS = (
    """(path) => {
  """
    + PANEL
    + """
  return panel.content.widgets.filter((cell) => cell.model.type === "code").map((cell) => ({
    count: cell.model.executionCount,
    errors: cell.model.outputs.toJSON().filter((o) => o.output_type === "error").map((o) => o.ename + ": " + o.evalue),
  }));
}"""
)

SHUTDOWN = """async (path) => { """ + PANEL + """ if (panel) await panel.sessionContext.shutdown(); }"""

MAP_SIDE = 320  # pixels: the explorer's default `size`


@pytest.fixture(scope="module")
def page(browser, lab, request):
    """Notebook 04, opened in its own workspace and run to the end with the fast setting."""
    name = NOTEBOOK.name
    shutil.copy(NOTEBOOK, Path(lab["root"]) / name)
    page = new_page(browser)
    page.lpn_notebook = name
    request.module._open_pages = [page]  # screenshotted by screenshot_on_failure when a test fails
    page.goto(f"{lab['url']}/lab/workspaces/notebook-04/tree/{name}?reset&token={lab['token']}")
    page.wait_for_function(OPENED, arg=name, timeout=60_000)
    code = f"import os; os.environ.update({json.dumps(KERNEL_ENV)})"
    assert page.evaluate(PREPARE, [name, code]) == "ok"
    page.evaluate(RUN_ALL, name)
    page.wait_for_function(DONE, arg=name, timeout=240_000, polling=250)
    yield page
    page.evaluate(SHUTDOWN, name)  # the kernel holds a JAX process: free it for the other tests
    page.context.close()


def shows_output_at(explorer, u: float, v: float) -> bool:
    """The decoded caption names a point within a pixel or so of (u, v)."""
    found = re.search(r"output at \((-?[\d.]+), (-?[\d.]+)\)", explorer.inner_text())
    return bool(found) and abs(float(found[1]) - u) < 0.05 and abs(float(found[2]) - v) < 0.05


def test_every_cell_runs_without_error(page, screenshot):
    cells = page.evaluate(CELLS, NOTEBOOK.name)
    errors = [(i, e) for i, cell in enumerate(cells) for e in cell["errors"]]
    assert not errors, f"cells raised: {errors}"
    assert all(cell["count"] is not None for cell in cells), "run-all stopped before the last cell"
    assert kernel_json(page, "os.environ['LPN_FAST'] + str(FAST)") == "1True"
    assert not page.js_errors, page.js_errors
    screenshot(page)


def test_clicks_on_the_map_decode_different_grids(page, screenshot):
    explorer = page.locator(".lpn-latent-explorer").first  # `explorer`; the second one is the close-up
    explorer.scroll_into_view_if_needed()
    heat, decoded = explorer.locator("canvas[data-role=heat]"), explorer.locator("canvas[data-role=decoded]")
    u0, u1, v0, v1 = kernel_json(page, "explorer.extent")
    grids = []
    # Two opposite corners of the map; more points only if they happen to decode alike.
    for x, y in ((25, 25), (MAP_SIDE - 25, MAP_SIDE - 25), (25, MAP_SIDE - 25), (MAP_SIDE - 25, 25)):
        u, v = u0 + (u1 - u0) * x / MAP_SIDE, v1 - (v1 - v0) * y / MAP_SIDE
        heat.click(position={"x": x, "y": y})
        wait_until(page, lambda u=u, v=v: shows_output_at(explorer, u, v), timeout_s=20, what="the decoded caption")
        assert kernel_json(page, "explorer.query") == pytest.approx([u, v], abs=0.05)
        expected = kernel_json(page, "explorer.decoded_grid.tolist()")
        wait_until(page, lambda e=expected: read_grid(decoded) == e, what="the decoded grid on the canvas")
        grids.append(expected)
        if len(grids) >= 2 and len({json.dumps(g) for g in grids}) > 1:
            break
    assert len({json.dumps(g) for g in grids}) > 1, f"every click decoded the same grid: {grids[0]}"
    assert not page.js_errors, page.js_errors
    screenshot(explorer)
