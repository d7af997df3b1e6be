"""How grids travel to the browser: one uint8 buffer, never JSON lists.

Each grid is written as two bytes (rows, cols) followed by its rows*cols colours in row-major
order, and grids follow one another with no padding. A missing grid (an unknown test output) is
written as rows = cols = 0. The JavaScript reader is `decodeGrids` in `common.js`; both sides
agree because sides are at most 30, so every number fits a byte.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from lpn.grids import as_grid


def encode_grid(grid) -> bytes:
    """One grid (or None) as bytes: rows, cols, then the colours."""
    if grid is None:
        return b"\x00\x00"
    grid = as_grid(grid)
    return bytes(grid.shape) + grid.tobytes()


def encode_grids(grids: Iterable) -> bytes:
    return b"".join(encode_grid(g) for g in grids)


def decode_grids(data: bytes | memoryview) -> list[np.ndarray | None]:
    """The inverse of `encode_grids`; raises ValueError on a truncated buffer."""
    data = bytes(data)
    out, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise ValueError(f"grid buffer truncated at byte {i}: no room for a shape")
        rows, cols = data[i], data[i + 1]
        end = i + 2 + rows * cols
        if end > len(data):
            raise ValueError(f"grid buffer truncated at byte {i}: {rows}x{cols} needs {rows * cols} cells")
        cells = np.frombuffer(data, np.uint8, rows * cols, i + 2)
        out.append(cells.reshape(rows, cols).copy() if rows and cols else None)
        i = end
    return out


def decode_grid(data: bytes | memoryview) -> np.ndarray | None:
    grids = decode_grids(data)
    if len(grids) != 1:
        raise ValueError(f"expected one grid, found {len(grids)}")
    return grids[0]


def mismatch(prediction, truth) -> np.ndarray | None:
    """Cells where `prediction` differs from `truth` (uint8 0/1), or None when the shapes differ."""
    prediction, truth = np.asarray(prediction), np.asarray(truth)
    if prediction.shape != truth.shape:
        return None
    return (prediction != truth).astype(np.uint8)
