"""Grids and tasks: validation, padding into arrays, and invertible augmentations.

A grid is a rectangle of colours 0-9 with 1 to 30 cells per side (paper §1.1). A task is a list of
input/output pairs (the specification) plus test pairs whose outputs may be unknown. The model sees
tasks as padded arrays: grids zero-padded at the bottom and right to the model's maximum size, with
their true shapes kept beside them (`Batch`). Everything here is numpy; the model side is in JAX.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

NUM_COLOURS = 10
MAX_SIDE = 30

# The canonical ARC palette (fchollet/ARC-AGI apps/css/common.css), colour 0 first.
PALETTE = (
    "#000000",
    "#0074D9",
    "#FF4136",
    "#2ECC40",
    "#FFDC00",
    "#AAAAAA",
    "#F012BE",
    "#FF851B",
    "#7FDBFF",
    "#870C25",
)


class GridError(ValueError):
    """A grid or task that the model cannot take, with where and why."""


class Pair(NamedTuple):
    input: np.ndarray
    output: np.ndarray | None  # None for a test input whose answer is unknown


@dataclass(frozen=True)
class Task:
    """The pairs of one task: `train` is the specification, `test` what to predict.

    Every grid is checked when the task is made, however it is made (`make_task`, a loader, an
    augmentation or `Task(...)` directly), with the errors of `make_task`: the model indexes
    embeddings by colour, and JAX clamps an out-of-range index instead of failing. Grids that are
    not yet uint8 arrays are converted; valid uint8 arrays are kept as they are, at the cost of a
    few array checks each.
    """

    train: tuple[Pair, ...]
    test: tuple[Pair, ...] = ()
    name: str = "task"
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        for split in ("train", "test"):
            pairs = getattr(self, split)
            if isinstance(pairs, (str, bytes, dict, np.ndarray)) or not isinstance(pairs, Sequence):
                raise GridError(
                    f"task {self.name!r}: {split} must be a sequence of (input, output) pairs, "
                    f"got {type(pairs).__name__}"
                )
            object.__setattr__(
                self,
                split,
                tuple(
                    _checked_pair(pair, f"task {self.name!r}, {split} pair {i}", need_output=split == "train")
                    for i, pair in enumerate(pairs)
                ),
            )

    @property
    def num_pairs(self) -> int:
        return len(self.train)


def _checked_pair(pair, where: str, need_output: bool, max_side: int = MAX_SIDE, grid=None) -> Pair:
    """`pair` as a `Pair` of grids checked by `grid` (default `checked_grid`: valid uint8 arrays kept)."""
    grid = grid or checked_grid
    if isinstance(pair, dict):
        pair = (pair.get("input"), pair.get("output"))
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise GridError(f"{where}: expected an (input, output) pair, got {type(pair).__name__}")
    inp, outp = pair
    if inp is None:
        raise GridError(f"{where}: missing input grid")
    if outp is None and need_output:
        raise GridError(f"{where}: missing output grid")
    return Pair(
        grid(inp, where=f"{where} input", max_side=max_side),
        None if outp is None else grid(outp, where=f"{where} output", max_side=max_side),
    )


def as_grid(cells, *, where: str = "grid", max_side: int = MAX_SIDE) -> np.ndarray:
    """Checks `cells` (nested lists or an array) and returns it as a new 2-D uint8 array.

    Raises `GridError` naming `where` for ragged rows, an empty grid, a colour outside 0-9 (with
    its cell), a value that is not an integer (booleans included, with its cell), or a side larger
    than `max_side`. Floats with integer values (2.0) are taken as those integers.
    """
    array = cells if isinstance(cells, np.ndarray) else _rows_to_array(cells, where)
    if array.ndim != 2:
        raise GridError(f"{where}: a grid must be 2-D, got shape {array.shape}")
    if array.size == 0:
        raise GridError(f"{where}: empty grid (shape {array.shape})")
    if max(array.shape) > max_side:
        raise GridError(f"{where}: shape {array.shape[0]}x{array.shape[1]} exceeds the maximum side {max_side}")
    if array.dtype.kind == "b":
        raise GridError(f"{where}: colours must be integers 0-9, got {array[0, 0]} at cell (row 0, col 0)")
    if array.dtype.kind not in "iu":
        array = _integer_valued(array, where)
    if array.max() >= NUM_COLOURS or (array.dtype.kind == "i" and array.min() < 0):
        r, c = np.argwhere((array < 0) | (array >= NUM_COLOURS))[0]
        raise GridError(f"{where}: colour {array[r, c]} at cell (row {r}, col {c}) is outside 0-9")
    return array.astype(np.uint8)


def checked_grid(grid, *, where: str = "grid", max_side: int = MAX_SIDE) -> np.ndarray:
    """`grid` itself if it is already a valid uint8 grid (no copy), else `as_grid(grid)`."""
    if _uint8_grid(grid, max_side) and grid.max() < NUM_COLOURS:
        return grid
    return as_grid(grid, where=where, max_side=max_side)


def _uint8_grid(grid, max_side: int = MAX_SIDE) -> bool:
    """A non-empty 2-D uint8 array within `max_side`: only its colours are left to check."""
    return (
        isinstance(grid, np.ndarray)
        and grid.dtype == np.uint8
        and grid.ndim == 2
        and grid.size > 0
        and max(grid.shape) <= max_side
    )


def _rows_to_array(cells, where: str) -> np.ndarray:
    if isinstance(cells, (str, bytes, dict)):
        raise GridError(f"{where}: a grid must be a list of rows, got {type(cells).__name__}")
    try:
        rows = list(cells)
    except TypeError:
        raise GridError(f"{where}: a grid must be a list of rows, got {type(cells).__name__}") from None
    if not rows:
        raise GridError(f"{where}: empty grid (no rows)")
    if not all(isinstance(row, (list, tuple, np.ndarray)) for row in rows):
        raise GridError(f"{where}: each row must be a list of colours")
    width = len(rows[0])
    bad = next((i for i, row in enumerate(rows) if len(row) != width), None)
    if bad is not None:
        raise GridError(f"{where}: ragged rows (row 0 has {width} cells, row {bad} has {len(rows[bad])})")
    # Booleans hide inside an int array ([[True, 2]] becomes [[1, 2]]), so name them before converting.
    for r, row in enumerate(rows):
        if not isinstance(row, np.ndarray):
            c = next((c for c, cell in enumerate(row) if isinstance(cell, (bool, np.bool_))), None)
            if c is not None:
                raise GridError(f"{where}: colours must be integers 0-9, got {row[c]} at cell (row {r}, col {c})")
    try:
        return np.asarray(rows)
    except (ValueError, TypeError) as err:
        raise GridError(f"{where}: not a grid of integers ({err})") from None


def _integer_valued(array: np.ndarray, where: str) -> np.ndarray:
    """A float or object array of colours 0-9 as int64; else `GridError` naming the first bad cell."""
    if array.dtype.kind == "f":
        with np.errstate(invalid="ignore"):  # NaN and inf are refused below, not warned about
            whole = np.isfinite(array) & (np.mod(array, 1) == 0)
    elif array.dtype.kind == "O":  # Python ints beyond int64, or mixed types
        whole = np.frompyfunc(lambda cell: type(cell) is int or isinstance(cell, np.integer), 1, 1)(array)
        whole = whole.astype(bool)
    else:
        whole = np.zeros(array.shape, bool)
    if not whole.all():
        r, c = np.argwhere(~whole)[0]
        value = array[r, c].item() if isinstance(array[r, c], np.generic) else array[r, c]
        raise GridError(f"{where}: colours must be integers, got {value!r} at cell (row {r}, col {c})")
    inside = np.asarray((array >= 0) & (array < NUM_COLOURS), bool)
    if not inside.all():
        r, c = np.argwhere(~inside)[0]
        raise GridError(f"{where}: colour {array[r, c]} at cell (row {r}, col {c}) is outside 0-9")
    return array.astype(np.int64)


def make_task(train, test=(), name: str = "task", *, max_side: int = MAX_SIDE, meta=None) -> Task:
    """Builds a validated `Task` from (input, output) pairs given as lists or arrays (copied).

    `test` pairs may have `None` as output. Every error names the task, the pair and the problem.
    """
    train = list(train)
    if not train:
        raise GridError(f"task {name!r}: has no train pairs")

    def checked(pairs, split):
        return tuple(
            _checked_pair(pair, f"task {name!r}, {split} pair {i}", split == "train", max_side, as_grid)
            for i, pair in enumerate(pairs)
        )

    return Task(checked(train, "train"), checked(test, "test"), name, dict(meta or {}))


class Batch(NamedTuple):
    """Tasks as padded arrays: N pair slots per task, R x C the maximum grid (letters: lpn/model.py).

    inputs, outputs: (B, N, R, C) uint8, zero-padded at the bottom and right.
    input_shapes, output_shapes: (B, N, 2) int32 true (rows, cols), at least 1 even for empty slots.
    pair_mask: (B, N) bool, True where the slot holds a real pair.
    """

    inputs: np.ndarray
    outputs: np.ndarray
    input_shapes: np.ndarray
    output_shapes: np.ndarray
    pair_mask: np.ndarray


def pad_grid(grid: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), np.uint8)
    out[: grid.shape[0], : grid.shape[1]] = grid
    return out


def batch_pairs(pair_lists: Sequence[Sequence[Pair]], rows: int, cols: int, num_pairs=None) -> Batch:
    """Pads lists of pairs (one list per task) into a `Batch` of `num_pairs` slots per task.

    A pair with an unknown output gets a 1x1 black output, so test inputs batch like any pair. Pairs
    that did not come from a `Task` are checked here too, with `as_grid`'s errors: nothing else
    stands between them and the model.
    """
    n = num_pairs or max(len(p) for p in pair_lists)
    b = len(pair_lists)
    inputs = np.zeros((b, n, rows, cols), np.uint8)
    outputs = np.zeros((b, n, rows, cols), np.uint8)
    in_shapes = np.ones((b, n, 2), np.int32)
    out_shapes = np.ones((b, n, 2), np.int32)
    mask = np.zeros((b, n), bool)
    for i, pairs in enumerate(pair_lists):
        if len(pairs) > n:
            raise GridError(f"task {i} has {len(pairs)} pairs, more than the {n} slots")
        for j, (x, y) in enumerate(pairs):
            x = x if _uint8_grid(x) else as_grid(x, where=f"task {i}, pair {j} input")
            y = (
                np.zeros((1, 1), np.uint8)
                if y is None
                else y
                if _uint8_grid(y)
                else as_grid(y, where=f"task {i}, pair {j} output")
            )
            for grid, what in ((x, "input"), (y, "output")):
                if grid.shape[0] > rows or grid.shape[1] > cols:
                    raise GridError(
                        f"task {i}, pair {j} {what}: shape {grid.shape[0]}x{grid.shape[1]} exceeds "
                        f"the model's maximum {rows}x{cols}"
                    )
            inputs[i, j, : x.shape[0], : x.shape[1]] = x
            outputs[i, j, : y.shape[0], : y.shape[1]] = y
            in_shapes[i, j], out_shapes[i, j] = x.shape, y.shape
            mask[i, j] = True
    for grids, what in ((inputs, "input"), (outputs, "output")):
        if grids.max(initial=0) >= NUM_COLOURS:  # uint8 grids passed above unread; one pass reads all
            i, j, r, c = np.argwhere(grids >= NUM_COLOURS)[0]
            raise GridError(
                f"task {i}, pair {j} {what}: colour {grids[i, j, r, c]} at cell (row {r}, col {c}) is outside 0-9"
            )
    return Batch(inputs, outputs, in_shapes, out_shapes, mask)


def batch_tasks(tasks: Sequence[Task], rows: int, cols: int, num_pairs=None) -> Batch:
    """The train pairs of each task as one `Batch`."""
    return batch_pairs([t.train for t in tasks], rows, cols, num_pairs)


def unpad(grid_RC: np.ndarray, shape) -> np.ndarray:
    """Crops a padded grid to its (rows, cols)."""
    return np.asarray(grid_RC)[: int(shape[0]), : int(shape[1])]


def unbatch(grids_BRC, shapes_B2) -> list[np.ndarray]:
    """Padded predictions back to a list of grids of their own shapes."""
    return [unpad(g, s) for g, s in zip(np.asarray(grids_BRC), np.asarray(shapes_B2))]


# Augmentations (paper §2.5): one symmetry of the square and one colour permutation with black fixed,
# applied the same way to every grid of a task, and invertible so predictions map back.


def apply_symmetry(grid: np.ndarray, k: int) -> np.ndarray:
    """Symmetry k in 0..7 of the dihedral group: k % 4 quarter turns, then a transpose if k >= 4."""
    out = np.rot90(grid, k % 4)
    return np.ascontiguousarray(out.T if k >= 4 else out)


def invert_symmetry(grid: np.ndarray, k: int) -> np.ndarray:
    grid = grid.T if k >= 4 else grid
    return np.ascontiguousarray(np.rot90(grid, -(k % 4)))


class Augmentation(NamedTuple):
    symmetry: int  # 0..7, 0 is the identity
    colours: np.ndarray  # (10,) permutation with colours[0] == 0

    def grid(self, grid: np.ndarray) -> np.ndarray:
        return apply_symmetry(self.colours[grid], self.symmetry).astype(np.uint8)

    def invert(self, grid: np.ndarray) -> np.ndarray:
        inverse = np.argsort(self.colours)
        return inverse[invert_symmetry(np.asarray(grid), self.symmetry)].astype(np.uint8)

    def task(self, task: Task) -> Task:
        def pair(p):
            return Pair(self.grid(p.input), None if p.output is None else self.grid(p.output))

        return Task(tuple(map(pair, task.train)), tuple(map(pair, task.test)), task.name, task.meta)


IDENTITY = Augmentation(0, np.arange(NUM_COLOURS))


def random_augmentation(rng: np.random.Generator, symmetries=True, colours=True) -> Augmentation:
    perm = np.concatenate([[0], 1 + rng.permutation(NUM_COLOURS - 1)]) if colours else np.arange(10)
    return Augmentation(int(rng.integers(8)) if symmetries else 0, perm)
