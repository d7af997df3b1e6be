"""What a task view shows, decided once in Python and drawn twice: by `task_view.js` on a canvas
in a live kernel, and by `static.py` as SVG where there is none (nbconvert, GitHub).

A layout is a flat list of grids (sent as one buffer, see `encoding.py`) and a list of sections,
one per task, of rows of items that point into that list. A prediction item also points at its
mismatch mask against the truth, so both renderers mark the same cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lpn.grids import Task, as_grid

from .encoding import mismatch


def is_attempts(entry) -> bool:
    """True for a list of grids (attempts), False for one grid given as an array or nested lists."""
    if isinstance(entry, np.ndarray) or not isinstance(entry, (list, tuple)) or not entry:
        return False
    return all(np.ndim(e) == 2 for e in entry)


def shape_text(grid) -> str:
    return "?" if grid is None else f"{grid.shape[0]}x{grid.shape[1]}"


class Layout:
    """Grids and sections for `tasks`, with `predictions[t][j]` the attempts for test pair j of task t."""

    def __init__(self, tasks: Sequence[Task], predictions: Sequence | None = None):
        self.grids: list[np.ndarray | None] = []
        self.sections: list[dict] = []
        predictions = predictions if predictions is not None else [None] * len(tasks)
        if len(predictions) != len(tasks):
            raise ValueError(f"{len(predictions)} prediction lists for {len(tasks)} tasks")
        for task, preds in zip(tasks, predictions):
            self.sections.append({"title": task.name, "rows": self.task_rows(task, preds)})

    def merge(self, other: Layout) -> None:
        """Appends `other`'s sections, renumbering their grid indices into this layout."""
        offset = len(self.grids)

        def shifted(item):
            return {**item, **{k: item[k] + offset for k in ("grid", "mismatch") if k in item}}

        self.grids += other.grids
        self.sections += [
            {**s, "rows": [{**r, "items": [shifted(i) for i in r["items"]]} for r in s["rows"]]} for s in other.sections
        ]

    def add(self, grid, caption: str, **extra) -> dict:
        self.grids.append(grid)
        return {"grid": len(self.grids) - 1, "caption": caption, **extra}

    def task_rows(self, task: Task, preds) -> list[dict]:
        rows = [
            {
                "label": f"pair {i + 1}",
                "items": [
                    self.add(p.input, f"input {shape_text(p.input)}"),
                    self.add(p.output, f"output {shape_text(p.output)}"),
                ],
            }
            for i, p in enumerate(task.train)
        ]
        preds = list(preds) if preds is not None else []
        if len(preds) > len(task.test):
            raise ValueError(f"task {task.name!r}: {len(preds)} predictions for {len(task.test)} test inputs")
        for j, pair in enumerate(task.test):
            items = [self.add(pair.input, f"test input {shape_text(pair.input)}")]
            attempts = preds[j] if j < len(preds) else None
            attempts = [] if attempts is None else attempts if is_attempts(attempts) else [attempts]
            for k, attempt in enumerate(attempts):
                items.append(self.attempt(as_grid(attempt, where=f"attempt {k + 1}"), k, pair.output))
            items.append(self.add(pair.output, f"truth {shape_text(pair.output)}"))
            rows.append({"label": f"test {j + 1}", "items": items})
        return rows

    def attempt(self, grid: np.ndarray, k: int, truth) -> dict:
        verdict, status, mask = judge(grid, truth)
        extra = {"status": status} if status else {}
        item = self.add(grid, f"attempt {k + 1} {shape_text(grid)}{verdict}", **extra)
        if mask is not None:
            item["mismatch"] = len(self.grids)
            self.grids.append(mask)
        return item


def judge(grid, truth) -> tuple[str, str, np.ndarray | None]:
    """How `grid` compares with `truth`: a caption suffix (" ✓", " ✗ 2 cells", " ✗ shape"), a
    status ("correct", "wrong", "shape", or "" when the truth is unknown) and the mismatch mask
    (None unless some cells are wrong)."""
    if truth is None:
        return "", "", None
    mask = mismatch(grid, truth)
    if mask is None:
        return " ✗ shape", "shape", None
    wrong = int(mask.sum())
    if not wrong:
        return " ✓", "correct", None
    return f" ✗ {wrong} cell{'s' * (wrong > 1)}", "wrong", mask
