"""Official ARC scoring, and the Kaggle `submission.json` format.

A test output is solved when either of (at most) two attempts equals it exactly: same shape, every
cell. The two official sources average differently, so both are reported and labelled:

* per task (ARC Prize benchmarking repo): each task scores its fraction of solved test outputs, and
  the result is the mean over tasks;
* per output (Kaggle ARC Prize 2025): solved test outputs divided by all test outputs.

They differ only on tasks with several test outputs. Top-1, shape accuracy and pixel accuracy look
at the first attempt and are averaged per task, as the LPN evaluator does (paper §3.5); pixel
accuracy is the fraction of equal cells when the shape is right, else 0. A missing or malformed
attempt counts as wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lpn.grids import Task

ATTEMPTS = 2


class SubmissionError(ValueError):
    """A submission that does not follow the Kaggle format, naming the task and output."""


@dataclass(frozen=True)
class TaskScore:
    """One task: per test output, in order."""

    name: str
    solved: tuple[bool, ...]  # any attempt exact
    top1: tuple[bool, ...]  # the first attempt exact
    shape_ok: tuple[bool, ...]  # the first attempt has the right shape
    pixels: tuple[float, ...]  # fraction of the first attempt's cells right (0 on a wrong shape)
    distinct: tuple[bool, ...] = ()  # two attempts given, and they differ

    @property
    def num_outputs(self) -> int:
        return len(self.solved)

    @property
    def score(self) -> float:
        return float(np.mean(self.solved))


@dataclass(frozen=True)
class ArcScore:
    tasks: tuple[TaskScore, ...]

    def _per_task(self, field: str) -> float:
        return float(np.mean([np.mean(getattr(t, field)) for t in self.tasks])) if self.tasks else 0.0

    @property
    def per_task(self) -> float:
        """ARC Prize benchmarking: mean over tasks of each task's fraction of solved outputs."""
        return self._per_task("solved")

    @property
    def per_output(self) -> float:
        """Kaggle 2025: solved test outputs / all test outputs."""
        total = sum(t.num_outputs for t in self.tasks)
        return sum(sum(t.solved) for t in self.tasks) / total if total else 0.0

    @property
    def top1(self) -> float:
        return self._per_task("top1")

    @property
    def shape_accuracy(self) -> float:
        return self._per_task("shape_ok")

    @property
    def pixel_accuracy(self) -> float:
        return self._per_task("pixels")

    def _per_output(self, count) -> float:
        total = sum(t.num_outputs for t in self.tasks)
        return sum(count(t) for t in self.tasks) / total if total else 0.0

    @property
    def distinct(self) -> float:
        """The share of test outputs whose two attempts differ."""
        return self._per_output(lambda t: sum(t.distinct))

    @property
    def rescued(self) -> float:
        """The share of test outputs that attempt 2 solves and attempt 1 missed (pass@2 - top-1,
        per output)."""
        return self._per_output(lambda t: sum(s and not f for s, f in zip(t.solved, t.top1)))

    @property
    def fully_solved(self) -> int:
        """Tasks with every test output solved (the ARC-AGI-1 README's rule)."""
        return sum(all(t.solved) for t in self.tasks)

    def summary(self) -> str:
        outputs = sum(t.num_outputs for t in self.tasks)
        return "\n".join(
            [
                f"tasks {len(self.tasks)}, test outputs {outputs}, attempts per output {ATTEMPTS}",
                f"score, per-task average (ARC Prize benchmarking): {self.per_task:7.2%}",
                f"score, per-output average (Kaggle 2025):          {self.per_output:7.2%}",
                f"tasks with every output solved:                   {self.fully_solved} / {len(self.tasks)}",
                f"top-1 exact (per task):                           {self.top1:7.2%}",
                f"shape accuracy, attempt 1 (per task):             {self.shape_accuracy:7.2%}",
                f"pixel accuracy, attempt 1 (per task):             {self.pixel_accuracy:7.2%}",
                f"attempt 2 differs from attempt 1 (per output):    {self.distinct:7.2%}",
                f"attempt 2 solves what attempt 1 missed (per out): {self.rescued:7.2%}",
            ]
        )

    def table(self) -> str:
        width = max([len("task")] + [len(t.name) for t in self.tasks])
        lines = [f"{'task':<{width}}  outputs  solved  score   top-1  shape  pixels"]
        for t in self.tasks:
            lines.append(
                f"{t.name:<{width}}  {t.num_outputs:>7}  {sum(t.solved):>6}  {t.score:>5.2f}  "
                f"{np.mean(t.top1):>6.2f}  {np.mean(t.shape_ok):>5.2f}  {np.mean(t.pixels):>6.2f}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "per_task": self.per_task,
            "per_output": self.per_output,
            "fully_solved": self.fully_solved,
            "top1": self.top1,
            "shape_accuracy": self.shape_accuracy,
            "pixel_accuracy": self.pixel_accuracy,
            "attempt2_differs": self.distinct,
            "attempt2_rescues": self.rescued,
            "tasks": {t.name: [bool(s) for s in t.solved] for t in self.tasks},
        }

    def __str__(self) -> str:
        return self.summary() + "\n\n" + self.table()


def _as_grid(attempt) -> np.ndarray | None:
    """An attempt as a 2-D integer array, or None when it is not one (it then counts as wrong)."""
    try:
        grid = np.asarray(attempt)
    except (ValueError, TypeError):
        return None
    if grid.ndim != 2 or grid.size == 0 or grid.dtype.kind not in "iub":
        return None
    return grid


def score_task(task: Task, attempts_per_output: Sequence[Sequence]) -> TaskScore:
    """Scores one task; `attempts_per_output[i]` holds up to two attempts for test output i."""
    if len(attempts_per_output) > len(task.test):
        raise ValueError(
            f"task {task.name!r}: {len(attempts_per_output)} predictions for {len(task.test)} test outputs"
        )
    solved, top1, shape_ok, pixels, distinct = [], [], [], [], []
    for i, pair in enumerate(task.test):
        if pair.output is None:
            raise ValueError(f"task {task.name!r}: test output {i} is unknown, so it cannot be scored")
        attempts = list(attempts_per_output[i]) if i < len(attempts_per_output) else []
        if len(attempts) > ATTEMPTS:
            raise ValueError(f"task {task.name!r}, test output {i}: {len(attempts)} attempts, at most {ATTEMPTS}")
        grids = [_as_grid(a) for a in attempts]
        exact = [g is not None and g.shape == pair.output.shape and bool((g == pair.output).all()) for g in grids]
        first = grids[0] if grids else None
        right_shape = first is not None and first.shape == pair.output.shape
        solved.append(any(exact))
        top1.append(bool(exact) and exact[0])
        shape_ok.append(right_shape)
        pixels.append(float((first == pair.output).mean()) if right_shape else 0.0)
        distinct.append(len(grids) == 2 and not _same(grids[0], grids[1]))
    return TaskScore(task.name, tuple(solved), tuple(top1), tuple(shape_ok), tuple(pixels), tuple(distinct))


def _same(a, b) -> bool:
    return a is not None and b is not None and a.shape == b.shape and bool((a == b).all())


def score_predictions(tasks: Sequence[Task], predictions: Mapping[str, Sequence[Sequence]]) -> ArcScore:
    """Scores `predictions[task.name][i] = [attempt_1, attempt_2]` for each test output i.

    A task missing from `predictions` scores 0; a prediction for an unknown task is an error.
    """
    unknown = set(predictions) - {t.name for t in tasks}
    if unknown:
        raise ValueError(f"predictions for tasks not in the dataset: {', '.join(sorted(unknown)[:5])}")
    return ArcScore(tuple(score_task(t, predictions.get(t.name, [])) for t in tasks))


def to_submission(predictions: Mapping[str, Sequence[Sequence]]) -> dict:
    """The Kaggle format: {task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]}, one dict per test
    output in order. Both keys are required, so a lone attempt is repeated as attempt 2."""
    out = {}
    for name, per_output in predictions.items():
        entries = []
        for i, attempts in enumerate(per_output):
            attempts = [np.asarray(a).tolist() for a in attempts]
            if not 1 <= len(attempts) <= ATTEMPTS:
                raise SubmissionError(f"task {name!r}, test output {i}: {len(attempts)} attempts, need 1 or 2")
            entries.append({"attempt_1": attempts[0], "attempt_2": attempts[-1]})
        out[name] = entries
    return out


def write_submission(predictions: Mapping[str, Sequence[Sequence]], path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(to_submission(predictions)))
    return path


def from_submission(submission: Mapping) -> dict[str, list[list]]:
    """Kaggle-format dict to `{task_id: [[attempt_1, attempt_2], ...]}`, checking its structure."""
    if not isinstance(submission, Mapping):
        raise SubmissionError(f"a submission is an object of task ids, got {type(submission).__name__}")
    out = {}
    for name, entries in submission.items():
        if not isinstance(entries, list):
            raise SubmissionError(f"task {name!r}: expected a list with one entry per test output")
        out[name] = []
        for i, entry in enumerate(entries):
            missing = [k for k in ("attempt_1", "attempt_2") if not isinstance(entry, Mapping) or k not in entry]
            if missing:
                raise SubmissionError(f"task {name!r}, test output {i}: missing {', '.join(missing)}")
            out[name].append([entry["attempt_1"], entry["attempt_2"]])
    return out


def read_submission(path) -> dict[str, list[list]]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise SubmissionError(f"{path}: not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    try:
        return from_submission(data)
    except SubmissionError as err:
        raise SubmissionError(f"{path}: {err}") from None


def score_submission(tasks: Sequence[Task], submission) -> ArcScore:
    """Scores a Kaggle submission given as a dict or a path to `submission.json`."""
    attempts = read_submission(submission) if isinstance(submission, (str, Path)) else from_submission(submission)
    return score_predictions(tasks, attempts)
