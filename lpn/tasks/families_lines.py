"""Line and fill families: rays from pixels, segments between pairs, borders, enclosed and
flooded regions. Drawing only ever paints cells that are black in the input."""

from __future__ import annotations

import numpy as np

from lpn.tasks.drawing import any_grid, dilate, pick_colours, reachable, scatter, side
from lpn.tasks.family import Resample, register

_ORTHOGONAL_SETS = (
    ((1, 0),),
    ((-1, 0),),
    ((0, 1),),
    ((0, -1),),
    ((0, -1), (0, 1)),
    ((-1, 0), (1, 0)),
    ((-1, 0), (1, 0), (0, -1), (0, 1)),
)
_DIAGONALS = ((-1, -1), (-1, 1), (1, -1), (1, 1))


def _rays(grid, steps):
    out = grid.copy()
    for r, c in np.argwhere(grid != 0):
        for dr, dc in steps:
            rr, cc = r + dr, c + dc
            while 0 <= rr < grid.shape[0] and 0 <= cc < grid.shape[1]:
                if grid[rr, cc] == 0:
                    out[rr, cc] = grid[r, c]
                rr, cc = rr + dr, cc + dc
    return out


def lines_from_pixels(grid, p):
    """Each coloured pixel draws lines of its colour to the edge in hidden directions (one side,
    both ways along an axis, or all four); later pixels in reading order draw over earlier ones."""
    return _rays(grid, p["steps"])


def diagonal_rays(grid, p):
    """Each coloured pixel draws diagonal lines of its colour to the edge in a hidden set of the
    four diagonal directions."""
    return _rays(grid, p["steps"])


def _pixels_input(rng, p, s):
    """A few pixels, no two in one row or column."""
    rows, cols = side(rng, 3, s), side(rng, 3, s)
    n = side(rng, 1, min(4, rows, cols) - 1)
    grid = np.zeros((rows, cols), np.uint8)
    grid[rng.choice(rows, n, replace=False), rng.choice(cols, n, replace=False)] = rng.integers(1, 10, n)
    return grid


def _diagonal_params(rng, s):
    chosen = rng.permutation(4)[: side(rng, 1, 4)]
    return {"steps": [_DIAGONALS[i] for i in sorted(chosen)]}


register(
    "lines_from_pixels",
    lambda rng, s: {"steps": list(_ORTHOGONAL_SETS[rng.integers(len(_ORTHOGONAL_SETS))])},
    _pixels_input,
    lines_from_pixels,
)
register("diagonal_rays", _diagonal_params, _pixels_input, diagonal_rays)


def connect_pairs(grid, p):
    """Two cells of one colour in the same row (then, column) are joined by a line of their colour,
    or of a hidden colour in some tasks."""
    out = grid.copy()
    for lines, painted in ((grid, out), (grid.T, out.T)):
        for line, target in zip(lines, painted):
            for colour in np.unique(line[line != 0]):
                where = np.nonzero(line == colour)[0]
                if len(where) == 2:
                    between = target[where[0] + 1 : where[1]]
                    between[between == 0] = p["line"] or colour
    return out


def _pairs_input(rng, p, s):
    rows, cols = side(rng, 3, s), side(rng, 3, s)
    grid = np.zeros((rows, cols), np.uint8)
    colours = pick_colours(rng, side(rng, 1, 4), exclude=(0, p["line"]))
    for colour in colours:
        mask = np.zeros((1, side(rng, 3, cols)), bool) if rng.integers(2) else None
        mask = np.zeros((side(rng, 3, rows), 1), bool) if mask is None else mask
        mask.flat[[0, -1]] = True
        scatter(rng, grid, [mask], [colour], gap=0)
    if not grid.any():
        raise Resample("no pair placed")
    return grid


register(
    "connect_pairs",
    lambda rng, s: {"line": pick_colours(rng, 1)[0] if rng.integers(2) else 0},
    _pairs_input,
    connect_pairs,
)


def draw_border(grid, p):
    """The outermost ring of cells takes a hidden colour."""
    out = grid.copy()
    out[[0, -1], :], out[:, [0, -1]] = p["colour"], p["colour"]
    return out


register(
    "draw_border",
    lambda rng, s: {"colour": pick_colours(rng, 1)[0]},
    lambda rng, p, s: any_grid(rng, side(rng, 3, s), side(rng, 3, s), exclude=(0, p["colour"])),
    draw_border,
)


def fill_enclosed(grid, p):
    """Black cells that cannot reach the edge through black cells (sideways steps) take a hidden
    colour."""
    black = grid == 0
    edge = np.zeros_like(black)
    edge[[0, -1], :], edge[:, [0, -1]] = True, True
    return np.where(black & ~reachable(black, edge & black), p["colour"], grid).astype(np.uint8)


def _frames_input(rng, p, s):
    """Rectangle outlines, some with a gap in the frame so that they do not enclose."""
    grid = np.zeros((side(rng, 3, s), side(rng, 3, s)), np.uint8)
    masks = []
    for _ in range(side(rng, 1, 4)):
        mask = np.ones((side(rng, 3, min(10, grid.shape[0])), side(rng, 3, min(10, grid.shape[1]))), bool)
        mask[1:-1, 1:-1] = False
        if rng.random() < 0.25:
            mask[0, mask.shape[1] // 2] = False
        masks.append(mask)
    scatter(rng, grid, masks, rng.choice(pick_colours(rng, 2, exclude=(0, p["colour"])), len(masks)))
    return grid


register("fill_enclosed", lambda rng, s: {"colour": pick_colours(rng, 1)[0]}, _frames_input, fill_enclosed)


def flood_fill(grid, p):
    """The black region around each seed pixel of a hidden colour is flooded with that colour,
    stopped by walls of any other colour."""
    black = grid == 0
    seeds = dilate(grid == p["seed"], diagonal=False) & black
    return np.where(reachable(black, seeds), p["seed"], grid).astype(np.uint8)


def _walls_input(rng, p, s):
    rows, cols = side(rng, 4, s), side(rng, 4, s)
    grid = np.zeros((rows, cols), np.uint8)
    for _ in range(side(rng, 1, 4)):
        if rng.integers(2):
            grid[rng.integers(rows), rng.integers(cols // 2 + 1) : cols] = p["wall"]
        else:
            grid[rng.integers(rows // 2 + 1) : rows, rng.integers(cols)] = p["wall"]
    black = np.argwhere(grid == 0)
    for r, c in black[rng.choice(len(black), size=min(len(black), side(rng, 1, 2)), replace=False)]:
        grid[r, c] = p["seed"]
    return grid


register(
    "flood_fill",
    lambda rng, s: dict(zip(("seed", "wall"), pick_colours(rng, 2))),
    _walls_input,
    flood_fill,
)
