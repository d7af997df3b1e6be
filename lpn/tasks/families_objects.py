"""Object families: 8-connected groups of one colour are found, compared by size or position, and
recoloured, kept, removed or cropped."""

from __future__ import annotations

import numpy as np

from lpn.tasks.drawing import components, pick_colours, random_objects, random_shape, scatter, scattered, side
from lpn.tasks.family import Resample, register


def _boxes(rng, n: int, largest: int):
    return [(side(rng, 1, largest), side(rng, 1, largest)) for _ in range(n)]


def _unique_extreme(sizes, largest: bool) -> bool:
    best = max(sizes) if largest else min(sizes)
    return sizes.count(best) == 1


def recolour_by_size(grid, p):
    """Objects of a hidden colour are recoloured by their size: 1, 2, 3 or 4 cells each map to a
    hidden colour; bigger objects stay."""
    out = grid.copy()
    for cells in components(grid):
        r, c = cells[0]
        if grid[r, c] == p["colour"] and len(cells) <= 4:
            out[cells[:, 0], cells[:, 1]] = p["by_size"][len(cells) - 1]
    return out


def _by_size_input(rng, p, s):
    grid = np.zeros((side(rng, 3, s), side(rng, 3, s)), np.uint8)
    sizes = rng.integers(1, 5, size=side(rng, 2, 8))
    masks = [random_shape(rng, 3, 3, int(k)) for k in sizes]
    if not scatter(rng, grid, masks, [p["colour"]] * len(masks)):
        raise Resample("no object placed")
    return grid


def _by_size_params(rng, s):
    colour, *by_size = pick_colours(rng, 5)
    return {"colour": colour, "by_size": by_size}


register("recolour_by_size", _by_size_params, _by_size_input, recolour_by_size)


def recolour_largest(grid, p):
    """The largest object of a hidden colour takes a second hidden colour."""
    groups = [g for g in components(grid) if grid[tuple(g[0])] == p["colour"]]
    biggest = max(groups, key=len)
    out = grid.copy()
    out[biggest[:, 0], biggest[:, 1]] = p["target"]
    return out


def _largest_input(rng, p, s):
    rows, cols = side(rng, 4, s), side(rng, 4, s)
    boxes = _boxes(rng, side(rng, 2, 6), max(1, min(rows, cols) // 2))
    grid, placed = scattered(rng, rows, cols, boxes, [p["colour"]] * len(boxes))
    if len(placed) < 2 or not _unique_extreme([int(x.mask.sum()) for x in placed], True):
        raise Resample("need two or more objects with a unique largest")
    return grid


register(
    "recolour_largest",
    lambda rng, s: dict(zip(("colour", "target"), pick_colours(rng, 2))),
    _largest_input,
    recolour_largest,
)


def recolour_touching_border(grid, p):
    """Objects that touch the edge of the grid take a hidden colour."""
    out = grid.copy()
    for cells in components(grid):
        r, c = cells[:, 0], cells[:, 1]
        if r.min() == 0 or c.min() == 0 or r.max() == grid.shape[0] - 1 or c.max() == grid.shape[1] - 1:
            out[r, c] = p["target"]
    return out


register(
    "recolour_touching_border",
    lambda rng, s: {"target": pick_colours(rng, 1)[0]},
    lambda rng, p, s: random_objects(rng, s, (p["target"],)),
    recolour_touching_border,
)


def crop_by_size(grid, p):
    """The largest (or, hidden, the smallest) object alone, cropped to its bounding box."""
    groups = components(grid)
    chosen = (max if p["largest"] else min)(groups, key=len)
    r, c = chosen[:, 0], chosen[:, 1]
    out = np.zeros((r.max() - r.min() + 1, c.max() - c.min() + 1), np.uint8)
    out[r - r.min(), c - c.min()] = grid[r, c]
    return out


def _crop_by_size_input(rng, p, s):
    grid = random_objects(rng, s)
    groups = components(grid)
    if len(groups) < 2 or not _unique_extreme([len(g) for g in groups], p["largest"]):
        raise Resample("need two or more objects with a unique extreme size")
    return grid


register("crop_by_size", lambda rng, s: {"largest": bool(rng.integers(2))}, _crop_by_size_input, crop_by_size)


def remove_small(grid, p):
    """Objects smaller than a hidden number of cells are erased."""
    out = grid.copy()
    for cells in components(grid):
        if len(cells) < p["min_size"]:
            out[cells[:, 0], cells[:, 1]] = 0
    return out


register(
    "remove_small",
    lambda rng, s: {"min_size": int(rng.integers(2, 5))},
    lambda rng, p, s: random_objects(rng, s, lo=3, hi=8),
    remove_small,
)
