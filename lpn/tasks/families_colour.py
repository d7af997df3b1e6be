"""Colour families: cells are recoloured, removed, counted or summarised by colour."""

from __future__ import annotations

import numpy as np

from lpn.tasks.drawing import any_grid, components, pick_colours, random_grid, random_shape, scatter, side
from lpn.tasks.family import Resample, register


def colour_map(grid, p):
    """Each of a few hidden colours becomes another hidden colour; the rest stay."""
    return np.asarray(p["lut"], np.uint8)[grid]


def _colour_map_params(rng, s):
    sources = pick_colours(rng, int(rng.integers(2, 5)))
    lut = list(range(10))
    for src in sources:
        lut[src] = pick_colours(rng, 1, exclude=(0, src))[0]
    return {"lut": lut}


def _colour_map_input(rng, p, s):
    sources = [c for c in range(10) if p["lut"][c] != c]
    extra = pick_colours(rng, int(rng.integers(0, 2)), exclude=[0, *sources])
    grid = random_grid(rng, side(rng, 2, s), side(rng, 2, s), sources + extra, rng.uniform(0.4, 1))
    if not set(sources) <= set(np.unique(grid).tolist()):
        raise Resample("every mapped colour should appear")
    return grid


register("colour_map", _colour_map_params, _colour_map_input, colour_map)


def _with_colour_input(rng, p, s):
    palette = [p["colour"], *pick_colours(rng, int(rng.integers(1, 4)), exclude=(0, p["colour"]))]
    grid = random_grid(rng, side(rng, 2, s), side(rng, 2, s), palette, rng.uniform(0.3, 0.8))
    if not (grid == p["colour"]).any():
        raise Resample("the hidden colour should appear")
    return grid


def remove_colour(grid, p):
    """Cells of one hidden colour become black."""
    return np.where(grid == p["colour"], 0, grid)


def keep_colour(grid, p):
    """Only the cells of one hidden colour stay; the rest become black."""
    return np.where(grid == p["colour"], grid, 0)


register("remove_colour", lambda rng, s: {"colour": pick_colours(rng, 1)[0]}, _with_colour_input, remove_colour)
register("keep_colour", lambda rng, s: {"colour": pick_colours(rng, 1)[0]}, _with_colour_input, keep_colour)


def _commonest(cells) -> tuple[int, bool]:
    """The most frequent non-black colour (smallest on a tie) and whether there was a tie."""
    counts = np.bincount(np.asarray(cells).ravel(), minlength=10)[1:]
    best = int(np.argmax(counts))
    return best + 1, int((counts == counts[best]).sum()) > 1


def majority_colour(grid, p):
    """A hidden-size square of the grid's most frequent non-black colour."""
    return np.full((p["size"], p["size"]), _commonest(grid)[0], np.uint8)


def _majority_input(rng, p, s):
    grid = any_grid(rng, side(rng, 2, s), side(rng, 2, s))
    if not grid.any() or _commonest(grid)[1]:
        raise Resample("the commonest colour must be unique")
    return grid


register("majority_colour", lambda rng, s: {"size": int(rng.integers(1, 4))}, _majority_input, majority_colour)


def majority_line(grid, p):
    """Each row (or column) is filled with its most frequent non-black colour, if it has one."""
    lines = grid if p["axis"] == 0 else grid.T
    out = np.array([np.full(len(line), _commonest(line)[0] if line.any() else 0) for line in lines])
    return (out if p["axis"] == 0 else out.T).astype(np.uint8)


def _majority_line_input(rng, p, s):
    grid = any_grid(rng, side(rng, 2, s), side(rng, 2, s))
    lines = grid if p["axis"] == 0 else grid.T
    if any(_commonest(line)[1] for line in lines if line.any()):
        raise Resample("every line needs a unique commonest colour")
    return grid


register("majority_line", lambda rng, s: {"axis": int(rng.integers(2))}, _majority_line_input, majority_line)


def count_to_bar(grid, p):
    """A bar of a hidden colour, one cell per object in the input, across or down."""
    n = len(components(grid))
    return np.full((n, 1) if p["vertical"] else (1, n), p["colour"], np.uint8)


def _count_input(rng, p, s):
    grid = np.zeros((side(rng, 3, s), side(rng, 3, s)), np.uint8)
    n = side(rng, 1, min(6, grid.size // 6))
    masks = [random_shape(rng, side(rng, 1, 3), side(rng, 1, 3)) for _ in range(n)]
    if not scatter(rng, grid, masks, rng.integers(1, 10, size=n)):
        raise Resample("no object placed")
    return grid


register(
    "count_to_bar",
    lambda rng, s: {"colour": pick_colours(rng, 1)[0], "vertical": bool(rng.integers(2))},
    _count_input,
    count_to_bar,
)


def paint_from_header(grid, p):
    """Cells of a hidden marker colour take the colour of the header cell at the top of their
    column (or at the left of their row)."""
    g = (grid if p["axis"] == 0 else grid.T).copy()
    header = np.broadcast_to(g[0], g.shape)
    paint = (g == p["marker"]) & (header != 0)
    paint[0] = False
    g[paint] = header[paint]
    return g if p["axis"] == 0 else g.T


def _header_input(rng, p, s):
    rows, cols = side(rng, 3, s), side(rng, 2, s)
    body = random_grid(rng, rows - 2, cols, [p["marker"]], rng.uniform(0.2, 0.6))
    header = random_grid(rng, 1, cols, pick_colours(rng, 3, exclude=(0, p["marker"])), 0.8)
    grid = np.concatenate([header, np.zeros((1, cols), np.uint8), body])
    return grid if p["axis"] == 0 else np.ascontiguousarray(grid.T)


register(
    "paint_from_header",
    lambda rng, s: {"marker": pick_colours(rng, 1)[0], "axis": int(rng.integers(2))},
    _header_input,
    paint_from_header,
)
