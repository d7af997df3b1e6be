"""Task sources sized to a model's config: the data `lpn train --data` trains on and `lpn eval --data`
scores. Generated sources are the pattern task (§2.5, made on the device), the procedural families
(all, or the `HOLDOUT` split's two sides) and the string task (§4.3, both made on the host). Training
can also read ARC tasks (an ARC-AGI dataset name, or a JSON file or folder), alone or mixed with
host generators: "arc-agi-1/training+procedural-train" draws each task from one of the parts.

An ARC training task gives all its solved pairs, its test pairs included; each draw subsamples them
(or cycles them, for a task with fewer) to the config's `num_pairs`, and by default puts the task
under one random symmetry and colour permutation (paper §2.5), the same for all its pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from lpn.grids import Task, batch_pairs, batch_tasks
from lpn.pattern import pattern_batch
from lpn.tasks.procedural import FAMILIES, HOLDOUT, online_augment, sample_tasks
from lpn.tasks.strings import sample_string_tasks

# The procedural sources and the families each draws from: all 42, or one side of the held-out split.
PROCEDURAL = {
    "procedural": tuple(sorted(FAMILIES)),
    "procedural-train": tuple(sorted(set(FAMILIES) - set(HOLDOUT))),
    "procedural-holdout": tuple(sorted(HOLDOUT)),
}
GENERATED = ("pattern", *PROCEDURAL, "strings")


def generated_tasks(cfg, data: str, rng, n: int, num_test: int):
    """`n` tasks of `cfg.num_pairs` pairs plus `num_test` from a host generator, sized to the model:
    procedural families with grids up to the model's side (`procedural-train` all but `HOLDOUT`,
    `procedural-holdout` only those), or string sequences as 1 x max_cols grids."""
    if data in PROCEDURAL:
        side = min(cfg.max_rows, cfg.max_cols)
        return sample_tasks(rng, n, PROCEDURAL[data], num_pairs=cfg.num_pairs, num_test=num_test, max_side=side)
    return sample_string_tasks(rng, n, length=cfg.max_cols, num_pairs=cfg.num_pairs, num_test=num_test)


def source_names(data: str) -> list[str]:
    """The parts of a `--data` value: one source, or several joined by "+". Raises ValueError naming
    a part that is neither generated, an ARC dataset nor an existing file or folder."""
    from lpn.tasks.arc import DATASETS

    def known(name):
        return name in GENERATED or name in DATASETS or Path(name).exists()

    names = [data] if known(data) else data.split("+")
    for name in names:
        if not known(name):
            raise ValueError(
                f"{name!r} is not a task source: choose {', '.join([*GENERATED, *DATASETS])}, "
                f"a .json task file or a folder of them, or join several with '+'"
            )
    if len(names) > 1 and "pattern" in names:
        raise ValueError("pattern tasks are made on the device and cannot be mixed with other sources")
    if len(set(names)) < len(names):
        raise ValueError(f"{data!r} names a source twice")
    return names


def recorded_sources(data: str) -> list[str]:
    """The names a run records as its training sources, which `check_leakage` reads: ARC dataset
    names and absolute paths as they are, generated sources as "generated:NAME"."""
    from lpn.tasks.arc import DATASETS

    def recorded(name):
        if name in GENERATED:
            return f"generated:{name}"
        return name if name in DATASETS else str(Path(name).resolve())

    return [recorded(name) for name in source_names(data)]


class ArcSource(NamedTuple):
    """Solved tasks to train on, those that fit the model; `total` counts them before the fit."""

    name: str
    tasks: tuple[Task, ...]
    total: int
    augment: bool

    def describe(self, cfg) -> str:
        return (
            f"{self.name}: {len(self.tasks)} of {self.total} tasks fit {cfg.max_rows}x{cfg.max_cols} "
            f"({self.total - len(self.tasks)} skipped as too big)"
            + (", each drawn under a random symmetry and colour permutation" if self.augment else "")
        )


def arc_source(cfg, name: str, augment: bool = True) -> ArcSource:
    """The tasks of an ARC dataset or JSON file or folder whose every grid fits the model, with at
    least one solved pair. Raises ValueError when none does."""
    from lpn.tasks.arc import DATASETS, ArcDataset, load_arc
    from lpn.tasks.json_tasks import load_json_tasks

    dataset = load_arc(name) if name in DATASETS else ArcDataset(name, "", tuple(load_json_tasks(name)))
    tasks = tuple(t for t in dataset.filter_size(cfg.max_rows, cfg.max_cols) if _solved_pairs(t))
    if not tasks:
        raise ValueError(
            f"no task of {name} fits this model's {cfg.max_rows}x{cfg.max_cols} grids "
            f"(of {len(dataset)} tasks); train a model with larger max_rows/max_cols"
        )
    return ArcSource(name, tasks, len(dataset), augment)


def _solved_pairs(task: Task) -> tuple:
    return tuple(p for p in task.train + task.test if p.output is not None)


def draw_arc_tasks(source: ArcSource, rng: np.random.Generator, n: int, num_pairs: int, num_test: int) -> list[Task]:
    """`n` tasks drawn from `source` with replacement, each with `num_pairs` + `num_test` of its
    solved pairs in a random order (cycled when it has fewer), augmented if the source says so."""
    tasks = []
    for i in rng.integers(len(source.tasks), size=n):
        task = source.tasks[i]
        pairs = _solved_pairs(task)
        k = num_pairs + num_test
        order = np.concatenate([rng.permutation(len(pairs)) for _ in range(-(-k // len(pairs)))])[:k]
        chosen = [pairs[j] for j in order]
        tasks.append(Task(tuple(chosen[:num_pairs]), tuple(chosen[num_pairs:]), task.name, task.meta))
    return online_augment(tasks, rng) if source.augment else tasks


class Mix(NamedTuple):
    """Sources to draw tasks from: each task comes from part i with probability `weights[i]`."""

    parts: tuple  # generated source names and `ArcSource`s
    weights: tuple[float, ...]


def make_mix(cfg, data: str, weights: Sequence[float] | None = None, augment: bool = True) -> Mix:
    """The `Mix` a `--data` value names (equal weights unless given), its ARC parts loaded and
    fitted to `cfg`. Raises ValueError for a bad name, a weight count that does not match, or an
    ARC part of which no task fits."""
    names = source_names(data)
    weights = [1.0] * len(names) if weights is None else [float(w) for w in weights]
    if len(weights) != len(names):
        raise ValueError(f"{len(weights)} mix weights for {len(names)} sources ({', '.join(names)})")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"mix weights must be non-negative with a positive sum, got {weights}")
    parts = tuple(name if name in GENERATED else arc_source(cfg, name, augment) for name in names)
    total = sum(weights)
    return Mix(parts, tuple(w / total for w in weights))


def mixed_tasks(cfg, mix: Mix, rng: np.random.Generator, n: int, num_test: int) -> list[Task]:
    """`n` tasks, each from a part of `mix` drawn by its weight, in the order drawn. One part draws
    nothing else from `rng`, so a single generated source gives the tasks it always gave."""
    picks = np.zeros(n, int) if len(mix.parts) == 1 else rng.choice(len(mix.parts), size=n, p=mix.weights)
    tasks = [None] * n
    for i, part in enumerate(mix.parts):
        where = np.flatnonzero(picks == i)
        if not len(where):
            continue
        if isinstance(part, ArcSource):
            drawn = draw_arc_tasks(part, rng, len(where), cfg.num_pairs, num_test)
        else:
            drawn = generated_tasks(cfg, part, rng, len(where), num_test)
        for j, task in zip(where, drawn):
            tasks[j] = task
    return tasks


def host_batches(cfg, data, seed):
    """An endless stream of numpy `Batch`es of `cfg.batch_size` tasks (for `train(data=...)`) from a
    generated source name or a `Mix`."""
    rng = np.random.default_rng(seed)
    mix = data if isinstance(data, Mix) else Mix((data,), (1.0,))
    while True:
        tasks = mixed_tasks(cfg, mix, rng, cfg.batch_size, num_test=0)
        yield batch_tasks(tasks, cfg.max_rows, cfg.max_cols, cfg.num_pairs)


def query_batch(cfg, data, seed: int, n: int, density=None, pairs=None):
    """`n` fresh tasks of `pairs` specification pairs (default `cfg.num_pairs`, the training tasks'
    count) plus a last one, the query (for `evaluate_batch`). `data` is a source name or a `Mix`
    (whose ARC tasks are training tasks: their test pair becomes the query)."""
    pairs = cfg.num_pairs if pairs is None else pairs
    if data == "pattern":
        return pattern_batch(jax.random.key(seed), cfg, n, num_pairs=pairs + 1, density=density)
    mix = data if isinstance(data, Mix) else Mix((data,), (1.0,))
    tasks = mixed_tasks(cfg.replace(num_pairs=pairs), mix, np.random.default_rng(seed), n, num_test=1)
    return batch_pairs([t.train + t.test for t in tasks], cfg.max_rows, cfg.max_cols, pairs + 1)
