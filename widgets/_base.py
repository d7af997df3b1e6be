"""The base of every lpn widget: the palette trait, the shipped ES module, and the static fallback;
and the painting traits that the grid editor and the task builder share.

Every widget's JavaScript is `common.js` (and `charts.js` where it plots) followed by its own
file, read from the installed package (no CDN, so it works offline). `_repr_html_` gives
renderers without a widget manager a static SVG picture; JupyterLab, Notebook 7 and VS Code prefer the live widget.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import anywidget
import traitlets

from lpn.grids import PALETTE

HERE = Path(__file__).parent


@cache
def esm(*names: str) -> str:
    """One ES module: common.js, then each named file (shared helpers first, the widget last)."""
    return "\n".join((HERE / name).read_text() for name in ("common.js", *names))


class GridWidget(anywidget.AnyWidget):
    palette = traitlets.List(traitlets.Unicode(), list(PALETTE)).tag(sync=True)

    def _repr_html_(self) -> str:
        return self.to_html()  # each widget defines to_html()


class PaintWidget(GridWidget):
    """A widget with a grid to paint (the grid editor, the task builder): the painting surface of
    `paint.js` reads and sets these traits by name. `cell_size` 0 sizes cells to the grid."""

    colour = traitlets.Int(1, min=0, max=9).tag(sync=True)
    tool = traitlets.Enum(("paint", "fill"), "paint").tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)
    can_redo = traitlets.Bool(False).tag(sync=True)
    lines = traitlets.Bool(True).tag(sync=True)
    cell_size = traitlets.Int(0).tag(sync=True)
