"""Grids and tasks: validation, padding into arrays, and invertible augmentations.

A grid is a rectangle of colours 0-9 with 1 to 30 cells per side (paper §1.1). A task is a list of
input/output pairs (the specification) plus test pairs whose outputs may be unknown. The model sees
tasks as padded arrays: grids zero-padded at the bottom and right to the model's maximum size, with
their true shapes kept beside them (`Batch`). Everything here is numpy; the model side is in JAX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

NUM_COLOURS = 10
MAX_SIDE = 30

# The canonical ARC palette (fchollet/ARC-AGI apps/css/common.css), colour 0 first.
PALETTE = (
    "#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00",
    "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF", "#870C25",
)


class GridError(ValueError):
    """A grid or task that the model cannot take, with where and why."""


class Pair(NamedTuple):
    input: np.ndarray
    output: np.ndarray | None  # None for a test input whose answer is unknown


@dataclass(frozen=True)
class Task:
    """The pairs of one task: `train` is the specification, `test` what to predict."""

    train: tuple[Pair, ...]
    test: tuple[Pair, ...] = ()
    name: str = "task"
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def num_pairs(self) -> int:
        return len(self.train)


def as_grid(cells, *, where: str = "grid", max_side: int = MAX_SIDE) -> np.ndarray:
    """Checks `cells` (nested lists or an array) and returns it as a 2-D uint8 array.

    Raises `GridError` naming `where` for ragged rows, an empty grid, a colour outside 0-9 (with
    its cell), a non-integer value, or a side larger than `max_side`.
    """
    if isinstance(cells, np.ndarray):
        array = cells
    else:
        rows = list(cells)
        if not rows:
            raise GridError(f"{where}: empty grid (no rows)")
        lengths = {len(row) if isinstance(row, (list, tuple, np.ndarray)) else -1 for row in rows}
        if -1 in lengths:
            raise GridError(f"{where}: each row must be a list of colours")
        if len(lengths) > 1:
            bad = next(i for i, row in enumerate(rows) if len(row) != len(rows[0]))
            raise GridError(
                f"{where}: ragged rows (row 0 has {len(rows[0])} cells, row {bad} has {len(rows[bad])})"
            )
        try:
            array = np.asarray(rows)
        except (ValueError, TypeError) as err:
            raise GridError(f"{where}: not a grid of integers ({err})") from None
    if array.ndim != 2:
        raise GridError(f"{where}: a grid must be 2-D, got shape {array.shape}")
    if array.size == 0:
        raise GridError(f"{where}: empty grid (shape {array.shape})")
    if array.dtype.kind not in "iub":
        if array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0):
            array = array.astype(np.int64)
        else:
            raise GridError(f"{where}: colours must be integers, got dtype {array.dtype}")
    bad = np.argwhere((array < 0) | (array >= NUM_COLOURS))
    if len(bad):
        r, c = bad[0]
        raise GridError(f"{where}: colour {array[r, c]} at cell (row {r}, col {c}) is outside 0-9")
    if max(array.shape) > max_side:
        raise GridError(
            f"{where}: shape {array.shape[0]}x{array.shape[1]} exceeds the maximum side {max_side}"
        )
    return array.astype(np.uint8)


def make_task(train, test=(), name: str = "task", *, max_side: int = MAX_SIDE, meta=None) -> Task:
    """Builds a validated `Task` from (input, output) pairs given as lists or arrays.

    `test` pairs may have `None` as output. Every error names the task, the pair and the problem.
    """
    train = list(train)
    if not train:
        raise GridError(f"task {name!r}: has no train pairs")

    def checked(pairs, split, need_output):
        out = []
        for i, pair in enumerate(pairs):
            inp, outp = (pair["input"], pair.get("output")) if isinstance(pair, dict) else pair
            where = f"task {name!r}, {split} pair {i}"
            if outp is None and need_output:
                raise GridError(f"{where}: missing output grid")
            out.append(Pair(
                as_grid(inp, where=f"{where} input", max_side=max_side),
                None if outp is None else as_grid(outp, where=f"{where} output", max_side=max_side),
            ))
        return tuple(out)

    return Task(checked(train, "train", True), checked(test, "test", False), name, dict(meta or {}))


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

    A pair with an unknown output gets a 1x1 black output, so test inputs batch like any pair.
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
            y = np.zeros((1, 1), np.uint8) if y is None else y
            for grid, what in ((x, "input"), (y, "output")):
                if grid.shape[0] > rows or grid.shape[1] > cols:
                    raise GridError(
                        f"task {i}, pair {j} {what}: shape {grid.shape[0]}x{grid.shape[1]} exceeds "
                        f"the model's maximum {rows}x{cols}"
                    )
            inputs[i, j], outputs[i, j] = pad_grid(x, rows, cols), pad_grid(y, rows, cols)
            in_shapes[i, j], out_shapes[i, j] = x.shape, y.shape
            mask[i, j] = True
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
