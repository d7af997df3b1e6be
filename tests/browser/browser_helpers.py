"""Helpers for the browser tests: run a notebook in JupyterLab, read canvases, click cells.

Kept outside conftest.py so test modules can import them (`from browser_helpers import ...`);
nothing here imports Playwright, so collection works where it is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

SCREENSHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"

# The notebook panel showing `path` (found by path, not focus: JupyterLab may restore other tabs).
PANEL = """const panel = Array.from(window.jupyterapp.shell.widgets("main"))
  .find((w) => w.context && w.context.path === path);"""

OPENED = (
    """(path) => { if (!window.jupyterapp) return false; """
    + PANEL
    + """ return !!(panel && panel.sessionContext); }"""
)

RUN_ALL = (
    """async (path) => {
  """
    + PANEL
    + """
  await panel.context.ready;
  await panel.sessionContext.ready;
  window.jupyterapp.shell.activateById(panel.id);
  await window.jupyterapp.commands.execute("notebook:run-all-cells");
}"""
)

# Done when the kernel is idle and every code cell has run, or when one failed (run-all stops there).
DONE = (
    """(path) => {
  """
    + PANEL
    + """
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== "idle") return false;
  const outputs = panel.node.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  if ([...outputs].some((node) => node.textContent.includes("Traceback"))) return true;
  const cells = panel.content.widgets.filter((cell) => cell.model.type === "code");
  return cells.every((cell) => cell.model.executionCount !== null && !cell.node.querySelector(".jp-mod-busy"));
}"""
)

ERRORS = """() => [...document.querySelectorAll(
  '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')].map((n) => n.textContent)"""


def run_notebook(page, lab, name: str, timeout: float = 300):
    """Opens notebook `name` in its own JupyterLab workspace, runs every cell and waits until the
    kernel is idle."""
    workspace = name.replace(".", "-")
    page.goto(f"{lab['url']}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab['token']}")
    page.wait_for_function(OPENED, arg=name, timeout=60_000)
    page.lpn_notebook = name
    page.evaluate(RUN_ALL, name)
    page.wait_for_function(DONE, arg=name, timeout=timeout * 1000, polling=250)
    failures = page.evaluate(ERRORS)
    assert not [f for f in failures if "Error" in f or "Traceback" in f], failures


# Reads a canvas drawn by common.js/drawGrid back into colours, one per cell, sampled at the
# middle column of each cell, a quarter down: clear of grid lines and of mismatch crosses, which
# meet at the centre (sample there, fy = 0.5, to see the crosses).
READ_GRID = """(canvas, fy) => {
  const { rows, cols, cell, scale } = canvas.dataset;
  const ctx = canvas.getContext("2d");
  const hex = (v) => v.toString(16).padStart(2, "0").toUpperCase();
  const out = [];
  for (let r = 0; r < Number(rows); r++) {
    const row = [];
    for (let c = 0; c < Number(cols); c++) {
      const x = Math.floor((c + 0.5) * cell * scale), y = Math.floor((r + fy) * cell * scale);
      const [red, green, blue] = ctx.getImageData(x, y, 1, 1).data;
      row.push("#" + hex(red) + hex(green) + hex(blue));
    }
    out.push(row);
  }
  return out;
}"""


def read_grid(locator, fy: float = 0.25) -> list[list[int]]:
    """The colours (palette indices) a canvas shows; -1 for a pixel that is not a palette colour."""
    from lpn.grids import PALETTE

    index = {colour.upper(): k for k, colour in enumerate(PALETTE)}
    return [[index.get(px, -1) for px in row] for row in locator.evaluate(READ_GRID, fy)]


def click_cell(canvas, row: int, col: int, **kwargs):
    cell = float(canvas.get_attribute("data-cell"))
    canvas.click(position={"x": (col + 0.5) * cell, "y": (row + 0.5) * cell}, **kwargs)


KERNEL_EVAL = (
    """async ([path, code]) => {
  """
    + PANEL
    + """
  const kernel = panel.sessionContext.session.kernel;
  const future = kernel.requestExecute({ code, silent: false, store_history: false });
  let out = "";
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === "stream") out += msg.content.text;
    if (msg.header.msg_type === "error") out += "ERROR " + msg.content.ename + ": " + msg.content.evalue;
  };
  await future.done;
  return out;
}"""
)


def kernel_eval(page, code: str) -> str:
    """Runs `code` in the notebook's kernel (outside any cell) and returns what it printed."""
    out = page.evaluate(KERNEL_EVAL, [page.lpn_notebook, code])
    assert not out.startswith("ERROR"), out
    return out


def kernel_json(page, expression: str):
    """The value of a Python `expression` in the notebook's kernel, through JSON."""
    return json.loads(kernel_eval(page, f"import json; print(json.dumps({expression}))"))


def wait_until(page, check, timeout_s: float = 10.0, what: str = "condition"):
    """Polls `check()` until it returns something truthy (the kernel answers asynchronously);
    on timeout, saves a screenshot of the page as artifacts/screenshots/timeout.png."""
    deadline = timeout_s * 10
    for _ in range(int(deadline)):
        value = check()
        if value:
            return value
        page.wait_for_timeout(100)
    page.screenshot(path=str(SCREENSHOTS / "timeout.png"))
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
