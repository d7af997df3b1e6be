"""Grid editor: paint, fill, resize, copy from the input, clear, undo and redo.

The grid and its history live in Python, so every edit is a method (`paint`, `fill`, `resize`,
`copy_input`, `clear`, `undo`, `redo`) that a test or a notebook can call, and the browser only
sends the same commands as messages (`{"op": "paint", ...}`). After each edit the optional
`predict(grid)` runs and its output is drawn beside the editor: "what does this program do to
*my* grid?". `value` is the edited grid as a numpy array.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import traitlets

from lpn.grids import MAX_SIDE, as_grid

from ._base import PaintWidget, esm
from .encoding import decode_grid, encode_grid
from .static import grids_html

OPS = ("paint", "fill", "resize", "copy_input", "clear", "undo", "redo")


def flood_fill(grid: np.ndarray, row: int, col: int, colour: int) -> np.ndarray:
    """`grid` with the 4-connected region of equal colour around (row, col) set to `colour`."""
    out = grid.copy()
    old = out[row, col]
    if old == colour:
        return out
    stack = [(row, col)]
    while stack:
        r, c = stack.pop()
        if 0 <= r < out.shape[0] and 0 <= c < out.shape[1] and out[r, c] == old:
            out[r, c] = colour
            stack += [(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)]
    return out


def painted(grid: np.ndarray, cells, colour: int) -> np.ndarray:
    """`grid` with each (row, col) of `cells` inside it set to `colour`."""
    out = grid.copy()
    for r, c in cells:
        if 0 <= r < out.shape[0] and 0 <= c < out.shape[1]:
            out[r, c] = colour
    return out


def resized(grid: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """`grid` cut or grown to rows x cols (each clipped to 1..30), keeping its top-left cells; new
    cells are black."""
    rows, cols = (int(np.clip(n, 1, MAX_SIDE)) for n in (rows, cols))
    out = np.zeros((rows, cols), np.uint8)
    r, c = min(rows, grid.shape[0]), min(cols, grid.shape[1])
    out[:r, :c] = grid[:r, :c]
    return out


class GridEditor(PaintWidget):
    _esm = esm("paint.js", "grid_editor.js")
    grid = traitlets.Bytes().tag(sync=True)  # the edited grid (encoding.py)
    source = traitlets.Bytes(b"").tag(sync=True)  # what "copy from input" copies; empty if none
    result = traitlets.Bytes(b"").tag(sync=True)  # predict(grid), empty if no predict
    result_caption = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        grid=None,
        *,
        source=None,
        predict: Callable | None = None,
        on_change: Callable | None = None,
        shape=(3, 3),
        history: int = 200,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._source = None if source is None else as_grid(source, where="source")
        if grid is None:
            grid = self._source if self._source is not None else np.zeros(shape, np.uint8)
        self._grid = as_grid(grid, where="grid").copy()
        self._past: deque[np.ndarray] = deque(maxlen=history)
        self._future: list[np.ndarray] = []
        self._callbacks = []
        self.predict = predict
        self.source = b"" if self._source is None else encode_grid(self._source)
        self.on_msg(self._on_message)
        self._sync()
        if on_change:
            self.on_change(on_change)

    @property
    def value(self) -> np.ndarray:
        return self._grid.copy()

    @value.setter
    def value(self, grid) -> None:
        self._commit(as_grid(grid, where="value"))

    def on_change(self, callback: Callable[[np.ndarray], None]) -> None:
        """Calls `callback(grid)` after every edit, undo and redo."""
        self._callbacks.append(callback)

    def paint(self, cells, colour: int | None = None) -> None:
        """Sets each (row, col) in `cells` to `colour` (default: the selected colour)."""
        self._commit(painted(self._grid, cells, self.colour if colour is None else int(colour)))

    def fill(self, row: int, col: int, colour: int | None = None) -> None:
        self._commit(flood_fill(self._grid, row, col, self.colour if colour is None else int(colour)))

    def resize(self, rows: int, cols: int) -> None:
        """Keeps the top-left cells; new cells are black. Sides are clipped to 1..30."""
        self._commit(resized(self._grid, rows, cols))

    def copy_input(self) -> None:
        if self._source is None:
            raise ValueError("this editor has no input grid to copy (pass source=...)")
        self._commit(self._source.copy())

    def clear(self) -> None:
        self._commit(np.zeros_like(self._grid))

    def undo(self) -> None:
        if self._past:
            self._future.append(self._grid)
            self._grid = self._past.pop()
            self._sync()

    def redo(self) -> None:
        if self._future:
            self._past.append(self._grid)
            self._grid = self._future.pop()
            self._sync()

    def _commit(self, new: np.ndarray) -> None:
        if new.shape == self._grid.shape and np.array_equal(new, self._grid):
            return  # a no-op edit leaves no step to undo
        self._past.append(self._grid)
        self._future.clear()
        self._grid = new
        self._sync()

    def _sync(self) -> None:
        result, caption = b"", ""
        if self.predict is not None:
            try:
                out = as_grid(np.asarray(self.predict(self.value)), where="predict output")
                result, caption = encode_grid(out), f"output {out.shape[0]}x{out.shape[1]}"
            except Exception as err:  # shown in the widget: a notebook user sees why, not a silent blank
                caption = f"predict failed: {type(err).__name__}: {err}"
        with self.hold_sync():
            self.grid = encode_grid(self._grid)
            self.result, self.result_caption = result, caption
            self.can_undo, self.can_redo = bool(self._past), bool(self._future)
        for callback in self._callbacks:
            callback(self.value)

    def _on_message(self, _widget, content, _buffers) -> None:
        op = content.get("op")
        if op not in OPS:
            raise ValueError(f"unknown editor command {op!r}; expected one of {OPS}")
        args = {k: v for k, v in content.items() if k != "op"}
        getattr(self, op)(**args)

    def to_html(self) -> str:
        grids = [self._source, self._grid] if self._source is not None else [self._grid]
        captions = ["input", "edited"] if self._source is not None else ["edited"]
        if self.result:
            grids.append(decode_grid(self.result))
            captions.append(self.result_caption)
        return grids_html(grids, captions, palette=self.palette, cell=self.cell_size or None)


def edit_grid(
    grid=None, *, source=None, predict: Callable | None = None, on_change: Callable | None = None, shape=(3, 3)
) -> GridEditor:
    """An editor for `grid` (or a copy of `source`, or a blank `shape`). `predict(grid) -> grid`,
    if given, runs after each edit and its output is drawn beside the editor. Read the edited
    grid from `.value`."""
    return GridEditor(grid, source=source, predict=predict, on_change=on_change, shape=shape)
