"""Helpers for the browser tests: run a notebook in JupyterLab, read canvases, click cells.

Kept outside conftest.py so test modules can import them (`from browser_helpers import ...`);
nothing here imports Playwright, so collection works where it is not installed.
"""

from __future__ import annotations

RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  await app.commands.execute("notebook:run-all-cells");
}"""

DONE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== "idle") return false;
  const cells = panel.content.widgets.filter((cell) => cell.model.type === "code");
  return cells.every((cell) => cell.model.executionCount !== null && !cell.node.querySelector(".jp-mod-busy"));
}"""

ERRORS = """() => [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')].map((n) => n.textContent)"""


def run_notebook(page, lab, name: str, timeout: float = 120):
    """Opens notebook `name` in JupyterLab, runs every cell and waits until the kernel is idle."""
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext", timeout=60_000)
    page.evaluate(RUN_ALL)
    page.wait_for_function(DONE, timeout=timeout * 1000, polling=250)
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
