"""Shape families: objects are outlined, hollowed, boxed, grown or haloed, and noise is removed."""

from __future__ import annotations

import numpy as np

from lpn.tasks.drawing import components, dilate, pick_colours, random_objects, random_shape, scatter, side
from lpn.tasks.family import Resample, register

_ORTHOGONAL = ((-1, 0), (1, 0), (0, -1), (0, 1))
_DIAGONAL = ((-1, -1), (-1, 1), (1, -1), (1, 1))


def _one_colour(rng, s):
    return {"colour": pick_colours(rng, 1)[0]}


def outline_objects(grid, p):
    """Black cells touching an object (also diagonally) take a hidden colour."""
    return np.where((grid == 0) & dilate(grid != 0), p["colour"], grid).astype(np.uint8)


register(
    "outline_objects",
    _one_colour,
    lambda rng, p, s: random_objects(rng, s, (p["colour"],), 1, 4),
    outline_objects,
)


def hollow_objects(grid, p):
    """Cells whose eight neighbours all share their colour become a hidden colour (maybe black)."""
    padded = np.pad(grid, 1, constant_values=255)
    inner = np.ones(grid.shape, bool)
    for dr, dc in _ORTHOGONAL + _DIAGONAL:
        inner &= padded[1 + dr : 1 + dr + grid.shape[0], 1 + dc : 1 + dc + grid.shape[1]] == grid
    return np.where(inner & (grid != 0), p["colour"], grid).astype(np.uint8)


def _rectangles_input(rng, p, s):
    grid = np.zeros((side(rng, 3, s), side(rng, 3, s)), np.uint8)
    n = side(rng, 1, 4)
    masks = [
        np.ones((side(rng, 3, min(8, grid.shape[0])), side(rng, 3, min(8, grid.shape[1]))), bool) for _ in range(n)
    ]
    colours = rng.choice(pick_colours(rng, 3, exclude=(0, p["colour"])), size=n)
    if not scatter(rng, grid, masks, colours):
        raise Resample("no rectangle placed")
    return grid


register(
    "hollow_objects",
    lambda rng, s: {"colour": pick_colours(rng, 1, exclude=())[0]},
    _rectangles_input,
    hollow_objects,
)


def fill_bbox(grid, p):
    """Black cells inside each object's bounding box take a hidden colour."""
    out = grid.copy()
    for cells in components(grid):
        (r0, c0), (r1, c1) = cells.min(0), cells.max(0)
        box = out[r0 : r1 + 1, c0 : c1 + 1]
        box[grid[r0 : r1 + 1, c0 : c1 + 1] == 0] = p["colour"]
    return out


def _ragged_input(rng, p, s):
    """Shapes that leave part of their bounding box black, so there is something to fill."""
    grid = np.zeros((side(rng, 3, s), side(rng, 3, s)), np.uint8)
    masks = []
    for _ in range(side(rng, 1, 4)):
        h, w = side(rng, 2, max(2, min(grid.shape) // 2)), side(rng, 2, max(2, min(grid.shape) // 2))
        masks.append(random_shape(rng, h, w, side(rng, max(h, w), h * w - 1)))
    colours = rng.choice(pick_colours(rng, 3, exclude=(0, p["colour"])), size=len(masks))
    if not scatter(rng, grid, masks, colours):
        raise Resample("no shape placed")
    return grid


register("fill_bbox", _one_colour, _ragged_input, fill_bbox)


def grow(grid, p):
    """Every object grows by one cell into black, sideways only or also diagonally (hidden)."""
    out = grid.copy()
    for cells in components(grid):
        mask = np.zeros(grid.shape, bool)
        mask[cells[:, 0], cells[:, 1]] = True
        out[dilate(mask, p["diagonal"]) & (grid == 0)] = grid[tuple(cells[0])]
    return out


def _grow_input(rng, p, s):
    grid = np.zeros((side(rng, 3, s), side(rng, 3, s)), np.uint8)
    n = side(rng, 1, 5)
    masks = [random_shape(rng, side(rng, 1, 3), side(rng, 1, 3)) for _ in range(n)]
    if not scatter(rng, grid, masks, rng.integers(1, 10, size=n), gap=2):
        raise Resample("no object placed")
    return grid


register("grow", lambda rng, s: {"diagonal": bool(rng.integers(2))}, _grow_input, grow)


def pixel_halo(grid, p):
    """Around each coloured cell, black side neighbours take one hidden colour and black corner
    neighbours another (black, in some tasks)."""
    out = grid.copy()
    for r, c in np.argwhere(grid != 0):
        for steps, colour in ((_ORTHOGONAL, p["side"]), (_DIAGONAL, p["corner"])):
            for dr, dc in steps:
                rr, cc = r + dr, c + dc
                if 0 <= rr < grid.shape[0] and 0 <= cc < grid.shape[1] and grid[rr, cc] == 0:
                    out[rr, cc] = colour
    return out


def _halo_params(rng, s):
    side_colour, corner = pick_colours(rng, 2)
    return {"side": side_colour, "corner": corner if rng.integers(2) else 0}


def _pixels_input(rng, p, s):
    grid = np.zeros((side(rng, 3, s), side(rng, 3, s)), np.uint8)
    n = side(rng, 1, max(1, grid.size // 12))
    colours = rng.choice(pick_colours(rng, 2, exclude=(0, p["side"], p["corner"])), size=n)
    if not scatter(rng, grid, [np.ones((1, 1), bool)] * n, colours, gap=2):
        raise Resample("no pixel placed")
    return grid


register("pixel_halo", _halo_params, _pixels_input, pixel_halo)


def denoise(grid, p):
    """Cells of a hidden noise colour take the commonest other colour among their eight
    neighbours (the smallest colour on a tie)."""
    out = grid.copy()
    for r, c in np.argwhere(grid == p["noise"]):
        around = grid[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].ravel()
        counts = np.bincount(around[around != p["noise"]], minlength=10)
        out[r, c] = int(np.argmax(counts))
    return out


def _noisy_input(rng, p, s):
    """Rectangles on black, then noise only where a cell's whole neighbourhood has one colour and
    no other noise is adjacent, so the clean grid is recoverable."""
    grid = np.zeros((side(rng, 4, s), side(rng, 4, s)), np.uint8)
    n = side(rng, 1, 4)
    masks = [np.ones((side(rng, 2, grid.shape[0]), side(rng, 2, grid.shape[1])), bool) for _ in range(n)]
    scatter(rng, grid, masks, rng.choice(pick_colours(rng, 3, exclude=(0, p["noise"])), size=n), gap=0)
    padded = np.pad(grid.astype(int), 1, constant_values=-1)
    uniform = np.ones(grid.shape, bool)
    for dr, dc in _ORTHOGONAL + _DIAGONAL:
        there = padded[1 + dr : 1 + dr + grid.shape[0], 1 + dc : 1 + dc + grid.shape[1]]
        uniform &= (there == grid) | (there == -1)
    noisy = np.zeros(grid.shape, bool)
    for r, c in np.argwhere(uniform & (rng.random(grid.shape) < rng.uniform(0.05, 0.2))):
        if not noisy[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].any():
            noisy[r, c] = True
    return np.where(noisy, p["noise"], grid).astype(np.uint8)


register("denoise", lambda rng, s: {"noise": pick_colours(rng, 1)[0]}, _noisy_input, denoise)
