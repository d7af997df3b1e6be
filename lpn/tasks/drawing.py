"""Small numpy helpers the procedural families share: colours, shapes, placement, objects.

Objects are found as 8-connected groups of one colour, and `scatter` keeps a gap of at least one
background cell between placed shapes, so what a sampler places is what a program finds.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lpn.tasks.family import Resample

_STEPS4 = ((-1, 0), (1, 0), (0, -1), (0, 1))
_STEPS8 = _STEPS4 + ((-1, -1), (-1, 1), (1, -1), (1, 1))


def pick_colours(rng: np.random.Generator, k: int, exclude=(0,)) -> list[int]:
    """k distinct colours from 0-9 minus `exclude`, in random order."""
    pool = [c for c in range(10) if c not in set(exclude)]
    return [int(c) for c in rng.choice(pool, size=k, replace=False)]


def side(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A length uniform in [lo, hi]; raises `Resample` when the range is empty."""
    if hi < lo:
        raise Resample(f"no length in [{lo}, {hi}]")
    return int(rng.integers(lo, hi + 1))


def random_grid(rng, rows: int, cols: int, palette, density: float, bg: int = 0) -> np.ndarray:
    """A `bg` grid whose cells are, with probability `density`, a colour drawn from `palette`."""
    grid = np.full((rows, cols), bg, np.uint8)
    on = rng.random((rows, cols)) < density
    grid[on] = rng.choice(np.asarray(palette, np.uint8), size=int(on.sum()))
    return grid


def any_grid(rng: np.random.Generator, rows: int, cols: int, exclude=(0,)) -> np.ndarray:
    """A random grid on black: 1-4 colours not in `exclude`, density 0.2-0.7."""
    palette = pick_colours(rng, int(rng.integers(1, 5)), exclude)
    return random_grid(rng, rows, cols, palette, float(rng.uniform(0.2, 0.7)))


def random_shape(rng: np.random.Generator, rows: int, cols: int, size: int | None = None) -> np.ndarray:
    """A 4-connected boolean mask grown cell by cell inside rows x cols, cropped to its box.

    Growth picks a random frontier cell, counted once per neighbour already in the shape, so
    shapes come out blob-like rather than stringy.
    """
    size = min(size or int(rng.integers(1, rows * cols + 1)), rows * cols)
    mask = np.zeros((rows, cols), bool)
    frontier = [(int(rng.integers(rows)), int(rng.integers(cols)))]
    picks = iter(rng.random(8 * size))
    count = 0
    while count < size:
        i = int(next(picks) * len(frontier))
        (r, c), frontier[i] = frontier[i], frontier[-1]
        frontier.pop()
        if mask[r, c]:
            continue
        mask[r, c] = True
        count += 1
        frontier += [(r + dr, c + dc) for dr, dc in _STEPS4 if 0 <= r + dr < rows and 0 <= c + dc < cols]
    return crop_to_mask(mask, mask)


def crop_to_mask(grid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return grid[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def dilate(mask: np.ndarray, diagonal: bool = True) -> np.ndarray:
    """Cells of `mask` plus their 8 (or 4) neighbours."""
    vertical = mask.copy()
    vertical[1:] |= mask[:-1]
    vertical[:-1] |= mask[1:]
    across = vertical if diagonal else mask  # the 3x3 square is a vertical then a sideways pass
    out = vertical.copy()
    out[:, 1:] |= across[:, :-1]
    out[:, :-1] |= across[:, 1:]
    return out


class Placed(NamedTuple):
    row: int
    col: int
    mask: np.ndarray
    colour: int


def scatter(rng, grid: np.ndarray, masks, colours, gap: int = 1, tries: int = 40) -> list[Placed]:
    """Paints each mask (in its colour) at a random free spot of `grid`, in place.

    Free means no non-background cell of the grid within `gap` cells. Masks that find no spot in
    `tries` draws are dropped, so callers check how many were placed.
    """
    taken = grid != 0
    for _ in range(gap):
        taken = dilate(taken)
    placed = []
    for mask, colour in zip(masks, colours):
        h, w = mask.shape
        if h > grid.shape[0] or w > grid.shape[1]:
            continue
        for _ in range(tries):
            r, c = int(rng.integers(grid.shape[0] - h + 1)), int(rng.integers(grid.shape[1] - w + 1))
            if not (taken[r : r + h, c : c + w] & mask).any():
                grid[r : r + h, c : c + w][mask] = colour
                here = np.zeros_like(taken)
                here[r : r + h, c : c + w] = mask
                for _ in range(gap):
                    here = dilate(here)
                taken |= here
                placed.append(Placed(r, c, mask, int(colour)))
                break
    return placed


def scattered(rng, rows: int, cols: int, boxes, colours, gap: int = 1) -> tuple[np.ndarray, list[Placed]]:
    """A black rows x cols grid with one random shape per (height, width) box, in `colours`.

    Raises `Resample` when no shape fits.
    """
    grid = np.zeros((rows, cols), np.uint8)
    masks = [random_shape(rng, h, w) for h, w in boxes]
    placed = scatter(rng, grid, masks, colours, gap)
    if not placed:
        raise Resample("no shape fits")
    return grid, placed


def random_objects(rng, max_side: int, avoid=(), lo: int = 2, hi: int = 6) -> np.ndarray:
    """A black grid with lo-hi random shapes in up to three colours, none of them in `avoid`."""
    rows, cols = side(rng, 3, max_side), side(rng, 3, max_side)
    largest = max(1, min(rows, cols) // 2)
    boxes = [(side(rng, 1, largest), side(rng, 1, largest)) for _ in range(side(rng, lo, hi))]
    colours = rng.choice(pick_colours(rng, 3, exclude=(0, *avoid)), size=len(boxes))
    return scattered(rng, rows, cols, boxes, colours)[0]


def components(grid: np.ndarray, bg: int = 0, diagonal: bool = True) -> list[np.ndarray]:
    """Groups of connected same-colour non-`bg` cells, each an (n, 2) array of (row, col).

    Groups come in scan order of their first cell; cells within a group in scan order too.
    """
    seen = grid == bg
    steps = _STEPS8 if diagonal else _STEPS4
    groups = []
    for r0, c0 in np.argwhere(~seen):
        if seen[r0, c0]:
            continue
        colour, stack, cells = grid[r0, c0], [(r0, c0)], []
        seen[r0, c0] = True
        while stack:
            r, c = stack.pop()
            cells.append((r, c))
            for dr, dc in steps:
                rr, cc = r + dr, c + dc
                if 0 <= rr < grid.shape[0] and 0 <= cc < grid.shape[1] and not seen[rr, cc]:
                    if grid[rr, cc] == colour:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        groups.append(np.array(sorted(cells), dtype=np.int64).reshape(-1, 2))
    return groups


def reachable(open_cells: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Cells of `open_cells` 4-connected to a `seeds` cell (seeds themselves must be open)."""
    out = seeds & open_cells
    while True:
        grown = dilate(out, diagonal=False) & open_cells
        if (grown == out).all():
            return out
        out = grown


DIRECTIONS = ("down", "left", "up", "right")


def to_wall(grid: np.ndarray, direction: int) -> np.ndarray:
    """Rotates so that `DIRECTIONS[direction]` points down; `from_wall` undoes it."""
    return np.rot90(grid, direction)


def from_wall(grid: np.ndarray, direction: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(grid, -direction))
