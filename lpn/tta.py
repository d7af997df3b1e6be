"""Test-time augmentation (TTA): search a task under several views and vote.

A view is one of `lpn.grids`' invertible augmentations, a symmetry of the square and a colour
permutation with black fixed, applied the same way to every grid of a task. The model searches
each view as its own task; the two attempts of every view are mapped back by the view's inverse
and the views vote. Strong ARC systems vote this way: an answer the model reaches from several
views is likelier right than one it reaches from one.

The vote, per test output: a grid ranks by how many views gave it as attempt 1, then by how many
gave it as attempt 2, then by the best confidence of the views that gave it (the search objective
`log p(given outputs | inputs, z)` of an LPN's best latent, minus the final loss for TTT). Attempts
1 and 2 are the two best-ranked distinct grids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from lpn.grids import NUM_COLOURS, Augmentation, Task

SEPARATOR = "#view"  # a view's task name: the task's name, SEPARATOR, the view's number


def views(n: int, seed: int = 0) -> list[Augmentation]:
    """`n` views: the identity first, then the seven other symmetries of the square in turn, each
    with its own colour permutation (black fixed) drawn from `seed`; past eight views the symmetries
    repeat with new permutations."""
    if n < 1:
        raise ValueError(f"test-time augmentation needs at least 1 view, got {n}")
    rng = np.random.default_rng(seed)
    out = [Augmentation(0, np.arange(NUM_COLOURS))]
    for i in range(1, n):
        colours = np.concatenate([[0], 1 + rng.permutation(NUM_COLOURS - 1)])
        out.append(Augmentation(i % 8, colours))
    return out


def view_tasks(tasks: Sequence[Task], chosen: Sequence[Augmentation]) -> list[Task]:
    """Every task under every view, named `NAME#viewI` (I the view's index)."""
    return [dataclasses.replace(v.task(t), name=f"{t.name}{SEPARATOR}{i}") for t in tasks for i, v in enumerate(chosen)]


def split_name(name: str) -> tuple[str, int]:
    """(task name, view index) of a view's task name."""
    task, _, index = name.rpartition(SEPARATOR)
    return task, int(index)


class _Tally(NamedTuple):
    grid: np.ndarray
    firsts: int
    seconds: int
    confidence: float


def vote(answers: Sequence[tuple[Sequence[np.ndarray], float]]) -> list[np.ndarray]:
    """Attempts 1 and 2 for one test output from each view's (attempts mapped back, confidence)."""
    tally: dict[tuple, _Tally] = {}
    for attempts, confidence in answers:
        for rank, grid in enumerate(attempts[:2]):
            grid = np.asarray(grid, np.uint8)
            key = (grid.shape, grid.tobytes())
            old = tally.get(key, _Tally(grid, 0, 0, -np.inf))
            tally[key] = _Tally(
                grid, old.firsts + (rank == 0), old.seconds + (rank == 1), max(old.confidence, float(confidence))
            )
    ranked = sorted(tally.values(), key=lambda t: (-t.firsts, -t.seconds, -t.confidence))
    return [ranked[0].grid, ranked[min(1, len(ranked) - 1)].grid]


class Voter:
    """Collects each view's predictions of a task as they arrive (batch by batch) and, once every
    view of a task is in, votes and hands the task's answers to `done(predictions, evals)`. Evaluations
    add up over the views."""

    def __init__(self, chosen: Sequence[Augmentation], done=None):
        self.views, self.done = list(chosen), done
        self.pending: dict[str, dict[int, tuple]] = {}
        self.predictions: dict[str, list] = {}
        self.evals: dict[str, int] = {}

    def add(self, predictions: dict, evals: dict, confidence: dict) -> None:
        finished_p, finished_e = {}, {}
        for name, outputs in predictions.items():
            task, index = split_name(name)
            view = self.views[index]
            back = [[view.invert(a) for a in attempts] for attempts in outputs]
            got = self.pending.setdefault(task, {})
            got[index] = (back, evals[name], confidence[name])
            if len(got) == len(self.views):
                answers = [got[i] for i in range(len(self.views))]
                finished_p[task] = [vote([(a[0][t], a[2]) for a in answers]) for t in range(len(answers[0][0]))]
                finished_e[task] = int(sum(a[1] for a in answers))
                del self.pending[task]
        self.predictions.update(finished_p)
        self.evals.update(finished_e)
        if self.done is not None and finished_p:
            self.done(finished_p, finished_e)
