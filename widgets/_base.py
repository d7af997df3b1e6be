"""The base of every lpn widget: the palette trait, the shipped ES module, and the static fallback.

Every widget's JavaScript is `common.js` followed by its own file, read from the installed package
(no CDN, so it works offline). `_repr_html_` gives renderers without a widget manager a static
SVG picture; JupyterLab, Notebook 7 and VS Code prefer the live widget.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import anywidget
import traitlets

from lpn.grids import PALETTE

HERE = Path(__file__).parent


@cache
def esm(name: str) -> str:
    return (HERE / "common.js").read_text() + "\n" + (HERE / name).read_text()


class GridWidget(anywidget.AnyWidget):
    palette = traitlets.List(traitlets.Unicode(), list(PALETTE)).tag(sync=True)

    def _repr_html_(self) -> str:
        return self.to_html()  # each widget defines to_html()
