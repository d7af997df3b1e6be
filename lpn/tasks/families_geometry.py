"""Geometry families: the whole grid is turned, shifted, scaled, tiled, halved or cropped."""

from __future__ import annotations

import math

import numpy as np

from lpn.grids import apply_symmetry
from lpn.tasks.drawing import any_grid, crop_to_mask, pick_colours, random_grid, random_shape, side
from lpn.tasks.family import Resample, register


def symmetry(grid, p):
    """One of the seven non-identity symmetries of the square: quarter turns, flips, transposes."""
    return apply_symmetry(grid, p["k"])


register(
    "symmetry",
    lambda rng, s: {"k": int(rng.integers(1, 8))},
    lambda rng, p, s: any_grid(rng, side(rng, 2, s), side(rng, 2, s)),
    symmetry,
)


def shift_wrap(grid, p):
    """The grid shifted by a hidden (rows, cols) offset, wrapping around the edges."""
    return np.roll(grid, (p["rows"], p["cols"]), axis=(0, 1))


def _shift_params(rng, s):
    rows, cols = 0, 0
    while rows == cols == 0:
        rows, cols = (int(x) for x in rng.integers(-2, 3, size=2))
    return {"rows": rows, "cols": cols}


register(
    "shift_wrap",
    _shift_params,
    lambda rng, p, s: any_grid(rng, side(rng, 3, s), side(rng, 3, s)),
    shift_wrap,
)


def scale_up(grid, p):
    """Every cell becomes a k x k block."""
    return np.repeat(np.repeat(grid, p["k"], axis=0), p["k"], axis=1)


register(
    "scale_up",
    lambda rng, s: {"k": int(rng.integers(2, 4))},
    lambda rng, p, s: any_grid(rng, side(rng, 1, s // p["k"]), side(rng, 2, s // p["k"])),
    scale_up,
)


def scale_down(grid, p):
    """A grid of k x k blocks shrinks to one cell per block."""
    return grid[:: p["k"], :: p["k"]]


register(
    "scale_down",
    lambda rng, s: {"k": int(rng.integers(2, 4))},
    lambda rng, p, s: scale_up(any_grid(rng, side(rng, 1, s // p["k"]), side(rng, 2, s // p["k"])), p),
    scale_down,
)


def tile(grid, p):
    """The grid repeated a x b times; in mirror mode every other tile is flipped."""
    rows = []
    for i in range(p["down"]):
        row = []
        for j in range(p["across"]):
            t = grid[::-1] if p["mirror"] and i % 2 else grid
            row.append(t[:, ::-1] if p["mirror"] and j % 2 else t)
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


def _tile_params(rng, s):
    down, across = 1, 1
    while down * across == 1:
        down, across = (int(x) for x in rng.integers(1, 4, size=2))
    return {"down": down, "across": across, "mirror": bool(rng.integers(2))}


register(
    "tile",
    _tile_params,
    lambda rng, p, s: any_grid(rng, side(rng, 2, s // p["down"]), side(rng, 2, s // p["across"])),
    tile,
)


def self_tile(grid, p):
    """Each cell of an r x c grid becomes an r x c block: a copy of the grid where the cell is
    coloured (or, inverted, where it is black), else black."""
    r, c = grid.shape
    out = np.zeros((r * r, c * c), np.uint8)
    for i, j in np.argwhere((grid != 0) != p["invert"]):
        out[i * r : (i + 1) * r, j * c : (j + 1) * c] = grid
    return out


def _self_tile_input(rng, p, s):
    n = math.isqrt(s)
    grid = random_grid(rng, side(rng, 2, n), side(rng, 2, n), pick_colours(rng, 1), 0.5)
    if grid.all() or not grid.any():
        raise Resample("self_tile needs black and coloured cells")
    return grid


register("self_tile", lambda rng, s: {"invert": bool(rng.integers(2))}, _self_tile_input, self_tile)


def concat_mirror(grid, p):
    """The grid joined to its mirror image along a hidden axis, the mirror first or second."""
    flipped = np.flip(grid, p["axis"])
    return np.concatenate([flipped, grid] if p["mirror_first"] else [grid, flipped], p["axis"])


def _concat_mirror_input(rng, p, s):
    sides = [side(rng, 2, s), side(rng, 2, s)]
    sides[p["axis"]] = side(rng, 1, s // 2)
    return any_grid(rng, *sides)


register(
    "concat_mirror",
    lambda rng, s: {"axis": int(rng.integers(2)), "mirror_first": bool(rng.integers(2))},
    _concat_mirror_input,
    concat_mirror,
)


def half_select(grid, p):
    """One hidden half of the grid: top, bottom, left or right."""
    r, c = grid.shape
    return (grid[: r // 2], grid[r - r // 2 :], grid[:, : c // 2], grid[:, c - c // 2 :])[p["half"]]


def _half_input(rng, p, s):
    sides = [side(rng, 2, s), side(rng, 2, s)]
    sides[p["half"] // 2] = 2 * side(rng, 1, s // 2)
    return any_grid(rng, *sides)


register("half_select", lambda rng, s: {"half": int(rng.integers(4))}, _half_input, half_select)


def crop_object(grid, p):
    """The bounding box of the one object drawn on a background of a hidden colour."""
    return crop_to_mask(grid, grid != p["background"])


def _crop_object_input(rng, p, s):
    rows, cols = side(rng, 3, s), side(rng, 3, s)
    mask = random_shape(rng, side(rng, 1, rows - 1), side(rng, 1, cols - 1))
    colours = pick_colours(rng, int(rng.integers(1, 4)), exclude=(p["background"],))
    grid = np.full((rows, cols), p["background"], np.uint8)
    r, c = rng.integers(rows - mask.shape[0] + 1), rng.integers(cols - mask.shape[1] + 1)
    patch = rng.choice(np.array(colours, np.uint8), size=mask.shape)
    grid[r : r + mask.shape[0], c : c + mask.shape[1]][mask] = patch[mask]
    return grid


register(
    "crop_object",
    lambda rng, s: {"background": int(rng.integers(10))},
    _crop_object_input,
    crop_object,
)


def crop_marked_region(grid, p):
    """What lies inside a rectangular frame of a hidden colour."""
    rows, cols = np.nonzero(grid == p["frame"])
    return grid[rows.min() + 1 : rows.max(), cols.min() + 1 : cols.max()]


def _marked_input(rng, p, s):
    grid = any_grid(rng, side(rng, 4, s), side(rng, 4, s), exclude=(0, p["frame"]))
    h, w = side(rng, 3, grid.shape[0]), side(rng, 3, grid.shape[1])
    r, c = rng.integers(grid.shape[0] - h + 1), rng.integers(grid.shape[1] - w + 1)
    box = grid[r : r + h, c : c + w]
    box[[0, -1], :], box[:, [0, -1]] = p["frame"], p["frame"]
    return grid


register(
    "crop_marked_region",
    lambda rng, s: {"frame": pick_colours(rng, 1)[0]},
    _marked_input,
    crop_marked_region,
)
