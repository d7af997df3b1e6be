"""The base of every lpn widget: the palette trait, the shipped ES module, and the static fallback.

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
