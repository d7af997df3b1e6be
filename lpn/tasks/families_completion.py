"""Completion families: a symmetry or a period hidden in the input is used to fill in the rest."""

from __future__ import annotations

import numpy as np

from lpn.tasks.drawing import any_grid, pick_colours, random_grid, side
from lpn.tasks.family import Resample, register

_MIRRORS = ((np.fliplr,), (np.flipud,), (np.fliplr, np.flipud, lambda g: g[::-1, ::-1]))


def mirror_complete(grid, p):
    """A left-right, up-down or four-way symmetric picture with patches of a hidden mask colour;
    each masked cell takes the colour of its first unmasked mirror image."""
    out = grid.copy()
    for mirror in _MIRRORS[p["symmetry"]]:
        image = mirror(out)
        fill = (out == p["mask"]) & (image != p["mask"])
        out[fill] = image[fill]
    return out


def _symmetric(rng, rows: int, cols: int, symmetry: int, exclude) -> np.ndarray:
    palette = pick_colours(rng, side(rng, 2, 4), exclude=exclude)
    grid = random_grid(rng, rows, cols, palette, rng.uniform(0.5, 1))
    if symmetry in (0, 2):
        grid[:, cols - cols // 2 :] = grid[:, : cols // 2][:, ::-1]
    if symmetry in (1, 2):
        grid[rows - rows // 2 :] = grid[: rows // 2][::-1]
    return grid


def _masked_input(rng, p, s):
    rows, cols = side(rng, 4, s), side(rng, 4, s)
    clean = _symmetric(rng, rows, cols, p["symmetry"], exclude=(p["mask"],))
    grid = clean.copy()
    h, w = side(rng, 1, rows // 2), side(rng, 1, cols // 2)
    r, c = rng.integers(rows - h + 1), rng.integers(cols - w + 1)
    grid[r : r + h, c : c + w] = p["mask"]
    if not np.array_equal(mirror_complete(grid, p), clean):
        raise Resample("the mask covers its own mirror image")
    return grid


register(
    "mirror_complete",
    lambda rng, s: {"symmetry": int(rng.integers(3)), "mask": pick_colours(rng, 1)[0]},
    _masked_input,
    mirror_complete,
)


def symmetrize(grid, p):
    """One hidden half of the grid (top, bottom, left or right) is mirrored onto the other half."""
    g = grid if p["axis"] == 1 else grid.T
    out, half = g.copy(), g.shape[1] // 2
    if p["from_start"]:
        out[:, g.shape[1] - half :] = g[:, :half][:, ::-1]
    else:
        out[:, :half] = g[:, g.shape[1] - half :][:, ::-1]
    return out if p["axis"] == 1 else out.T


register(
    "symmetrize",
    lambda rng, s: {"axis": int(rng.integers(2)), "from_start": bool(rng.integers(2))},
    lambda rng, p, s: any_grid(rng, side(rng, 2, s), side(rng, 2, s)),
    symmetrize,
)


def continue_pattern(grid, p):
    """A pattern that repeats from the left (or top) edge and then stops is continued to the far
    edge, with the shortest period that explains what is shown."""
    g = grid if p["axis"] == 1 else grid.T
    shown = int(np.nonzero(g.any(axis=0))[0].max()) + 1
    period = next(q for q in range(1, shown + 1) if (g[:, q:shown] == g[:, : shown - q]).all())
    out = g[:, np.arange(g.shape[1]) % period]
    return out if p["axis"] == 1 else out.T


def _periodic_input(rng, p, s):
    period = side(rng, 2, (s - 1) // 2)
    rows, cols = side(rng, 1, s), side(rng, 2 * period + 1, s)
    tile = random_grid(rng, rows, period, pick_colours(rng, side(rng, 1, 3)), rng.uniform(0.4, 1))
    tile[rng.integers(rows, size=period), np.arange(period)] = pick_colours(rng, 1)[0]
    shown = side(rng, 2 * period, cols - 1)
    g = np.zeros((rows, cols), np.uint8)
    g[:, :shown] = tile[:, np.arange(shown) % period]
    return g if p["axis"] == 1 else np.ascontiguousarray(g.T)


register("continue_pattern", lambda rng, s: {"axis": int(rng.integers(2))}, _periodic_input, continue_pattern)
