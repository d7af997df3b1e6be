"""What the task builder's "solve" finds, and whether it can run: the `Solution` of a method on a
built task (its attempts, objective and replay frames), its layout as a view of grids, and why a
model cannot solve a task as it is (`widgets.task_builder`).
"""

from __future__ import annotations

from typing import NamedTuple

from lpn.grids import Task

from .layout import Layout

SIDES = ("input", "output")


class Solution(NamedTuple):
    """What the last "solve" found.

    settings: the method and its options (`lpn.methods.search_method`'s description).
    test: the test pairs answered, as they were when solved (their outputs give the verdicts).
    trace: the method's trace (a `SearchTrace`, or a `TTTTrace` for an in-context model).
    attempts: for each test pair, attempts 1 and 2 (`lpn.evaluate.attempts`).
    objective: the objective at each step (S,): an LPN's log p of the chain that found the best
        latent, or minus TTT's leave-one-out loss; `objective_label` names it.
    frame_steps, frames: a few steps of that chain and its output on test input 1 at each (empty
        for TTT, which has no latent path).
    """

    settings: dict
    test: tuple
    trace: object
    attempts: list
    objective: list
    objective_label: str
    frame_steps: list
    frames: list
    seconds: float


def solution_layout(solution: Solution) -> Layout:
    """Each test input solved, its two attempts and the truth (where it was given)."""
    return Layout([Task((), solution.test, name="solution")], [solution.attempts])


def unsolvable(model, train, test) -> str:
    """Why a model cannot solve a task of these train and test pairs ("" when it can): no model, a
    side with no pairs, or a grid larger than the model's."""
    if model is None:
        return "no model: build the widget with model=... to solve"
    if not train or not test:
        return "solving needs at least one train pair and one test pair"
    cfg = model.config
    for split, pairs in (("train", train), ("test", test)):
        for i, pair in enumerate(pairs):
            for side, grid in zip(SIDES, pair):
                if grid is not None and (grid.shape[0] > cfg.max_rows or grid.shape[1] > cfg.max_cols):
                    label = f"pair {i + 1}" if split == "train" else f"test {i + 1}"  # as the widget labels it
                    return (
                        f"{label} {side} is {grid.shape[0]}x{grid.shape[1]}, larger than the model's "
                        f"{cfg.max_rows}x{cfg.max_cols} grids: shrink it, or use a larger model"
                    )
    return ""
