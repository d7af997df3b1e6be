"""Motion families: cells fall, objects slide to a wall, bars are sorted.

Directions are handled once: the grid is turned so the hidden direction points down, the program
works downwards, and the grid is turned back (`to_wall` / `from_wall`).
"""

from __future__ import annotations

import numpy as np

from lpn.tasks.drawing import from_wall, pick_colours, random_grid, random_shape, side, to_wall
from lpn.tasks.family import register


def _direction(rng, s):
    return {"direction": int(rng.integers(4))}


def gravity(grid, p):
    """Every coloured cell falls in a hidden direction (down, left, up or right) until it rests on
    the edge or on another cell."""
    down = to_wall(grid, p["direction"])
    out = np.zeros_like(down)
    for j in range(down.shape[1]):
        column = down[:, j][down[:, j] != 0]
        out[down.shape[0] - len(column) :, j] = column
    return from_wall(out, p["direction"])


register(
    "gravity",
    _direction,
    lambda rng, p, s: random_grid(
        rng, side(rng, 2, s), side(rng, 2, s), pick_colours(rng, side(rng, 1, 3)), rng.uniform(0.1, 0.4)
    ),
    gravity,
)


def move_to_wall(grid, p):
    """Everything coloured slides as one piece in a hidden direction until it touches the edge."""
    down = to_wall(grid, p["direction"])
    rows = np.nonzero(down.any(axis=1))[0]
    return from_wall(np.roll(down, down.shape[0] - 1 - rows.max(), axis=0), p["direction"])


def _object_input(rng, p, s):
    rows, cols = side(rng, 3, s), side(rng, 3, s)
    mask = random_shape(rng, side(rng, 1, rows - 1), side(rng, 1, cols - 1))
    patch = rng.choice(np.array(pick_colours(rng, side(rng, 1, 3)), np.uint8), size=mask.shape)
    grid = np.zeros((rows, cols), np.uint8)
    r, c = rng.integers(rows - mask.shape[0] + 1), rng.integers(cols - mask.shape[1] + 1)
    grid[r : r + mask.shape[0], c : c + mask.shape[1]][mask] = patch[mask]
    return grid


register("move_to_wall", _direction, _object_input, move_to_wall)


def sort_bars(grid, p):
    """Bars standing on the bottom edge are reordered by height, shortest or tallest first
    (hidden), each keeping its colour; equal bars keep their order."""
    heights = (grid != 0).sum(axis=0)
    order = np.argsort(-heights if p["tallest_first"] else heights, kind="stable")
    out = np.zeros_like(grid)
    for j, k in enumerate(order):
        if heights[k]:
            out[grid.shape[0] - heights[k] :, j] = grid[-1, k]
    return out


def _bars_input(rng, p, s):
    rows, cols = side(rng, 2, s), side(rng, 2, s)
    heights = rng.integers(0, rows + 1, size=cols)
    colours = rng.choice(np.array(pick_colours(rng, side(rng, 1, 3)), np.uint8), size=cols)
    grid = np.zeros((rows, cols), np.uint8)
    for j, (h, colour) in enumerate(zip(heights, colours)):
        grid[rows - h :, j] = colour
    return grid


register("sort_bars", lambda rng, s: {"tallest_first": bool(rng.integers(2))}, _bars_input, sort_bars)
