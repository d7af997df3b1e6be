"""Two-halves families: the input is two equal panels split by a divider line, and the output
combines them cell by cell, as a logic gate or as one layer over the other."""

from __future__ import annotations

import numpy as np

from lpn.tasks.drawing import any_grid, pick_colours, random_grid, side
from lpn.tasks.family import register

OPS = {
    "and": np.logical_and,
    "or": np.logical_or,
    "xor": np.logical_xor,
    "nor": lambda a, b: ~(a | b),
    "first_only": lambda a, b: a & ~b,
}


def _halves(grid, axis: int):
    """The two panels either side of the middle line (a row for axis 0, a column for axis 1)."""
    n = (grid.shape[axis] - 1) // 2
    first, second = np.take(grid, range(n), axis), np.take(grid, range(n + 1, 2 * n + 1), axis)
    return first, second


def _join(first, second, axis: int, divider: int):
    line = np.full(np.take(first, [0], axis).shape, divider, np.uint8)
    return np.concatenate([first, line, second], axis)


def _panel_shape(rng, axis: int, s: int):
    shape = [side(rng, 2, s), side(rng, 2, s)]
    shape[axis] = side(rng, 2, (s - 1) // 2)
    return shape


def boolean_op(grid, p):
    """Cells where a hidden logic gate (and, or, xor, nor, first-but-not-second) of the two panels'
    coloured cells is true take a hidden colour; the rest are black."""
    first, second = _halves(grid, p["axis"])
    return np.where(OPS[p["op"]](first != 0, second != 0), p["colour"], 0).astype(np.uint8)


def _boolean_params(rng, s):
    divider, colour, a, b = pick_colours(rng, 4)
    op = list(OPS)[rng.integers(len(OPS))]
    return {"op": op, "axis": int(rng.integers(2)), "divider": divider, "colour": colour, "a": a, "b": b}


def _boolean_input(rng, p, s):
    shape = _panel_shape(rng, p["axis"], s)
    first = random_grid(rng, *shape, [p["a"]], rng.uniform(0.3, 0.7))
    second = random_grid(rng, *shape, [p["b"]], rng.uniform(0.3, 0.7))
    return _join(first, second, p["axis"], p["divider"])


register("boolean_op", _boolean_params, _boolean_input, boolean_op)


def overlay_halves(grid, p):
    """One panel is laid over the other (which one is hidden): its coloured cells cover the
    other's."""
    first, second = _halves(grid, p["axis"])
    top, bottom = (first, second) if p["first_on_top"] else (second, first)
    return np.where(top != 0, top, bottom).astype(np.uint8)


def _overlay_input(rng, p, s):
    shape = _panel_shape(rng, p["axis"], s)
    first, second = (any_grid(rng, *shape, exclude=(0, p["divider"])) for _ in range(2))
    return _join(first, second, p["axis"], p["divider"])


register(
    "overlay_halves",
    lambda rng, s: {
        "axis": int(rng.integers(2)),
        "first_on_top": bool(rng.integers(2)),
        "divider": pick_colours(rng, 1)[0],
    },
    _overlay_input,
    overlay_halves,
)
