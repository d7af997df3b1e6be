"""Procedural ARC-like tasks from our own families, and online augmentation for any task source.

The paper trains on re-ARC generators (§2.5); these families play that role with programs we wrote
ourselves. A task draws its family's hidden parameters once, then draws each pair's input on its
own and applies the one program. Tasks are reproducible: `task.meta` records the family, the seed
and the parameters, and `make_family_task(family, seed)` rebuilds the same task. Families can be
held out by name (`sample_tasks(..., exclude=...)`) to test out-of-distribution generalisation;
`HOLDOUT` is the fixed split the data names `procedural-train` and `procedural-holdout` use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from lpn.grids import MAX_SIDE, Task, make_task, random_augmentation
from lpn.tasks import (  # noqa: F401  (importing a families module registers its families)
    families_colour,
    families_completion,
    families_geometry,
    families_halves,
    families_lines,
    families_motion,
    families_objects,
    families_shapes,
)
from lpn.tasks.family import FAMILIES, MIN_SIDE, Family, Resample

MAX_TRIES = 200

# The held-out split: one family from each families module, so that every kind of program (colour,
# completion, geometry, halves, lines, motion, objects, shapes) keeps relatives in training while
# these eight programs are never seen. Fixed, so results on `procedural-holdout` compare across runs.
HOLDOUT = (
    "count_to_bar",  # families_colour
    "continue_pattern",  # families_completion
    "concat_mirror",  # families_geometry
    "overlay_halves",  # families_halves
    "connect_pairs",  # families_lines
    "sort_bars",  # families_motion
    "recolour_touching_border",  # families_objects
    "pixel_halo",  # families_shapes
)


def _family(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown task family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[name]


def sample_pair(family: Family, params: dict, rng: np.random.Generator, max_side: int, seen=()):
    """One (input, output) pair of `family` under `params`.

    Draws again when the sampler asks (`Resample`), when the output equals the input (a pair that
    shows nothing) or when the input repeats one in `seen`.
    """
    for _ in range(MAX_TRIES):
        try:
            grid = np.ascontiguousarray(family.input(rng, params, max_side), np.uint8)
        except Resample:
            continue
        out = family(grid, params)
        if not (1 <= min(out.shape) and max(out.shape + grid.shape) <= max_side):
            raise RuntimeError(f"family {family.name!r} made a {grid.shape} -> {out.shape} pair, outside 1..{max_side}")
        if (out.shape == grid.shape and (out == grid).all()) or any(np.array_equal(grid, s) for s in seen):
            continue
        return grid, out
    raise RuntimeError(f"family {family.name!r} found no usable pair in {MAX_TRIES} tries ({params})")


def make_family_task(
    name: str, rng: np.random.Generator | int, num_pairs: int = 4, num_test: int = 1, max_side: int = MAX_SIDE
) -> Task:
    """A task of family `name`: `num_pairs` train pairs and `num_test` test pairs (outputs known).

    `rng` is a seed or a generator (which then draws the seed); the task is a function of the seed,
    recorded in `task.meta` with the family, its hidden parameters and `max_side`.
    """
    family = _family(name)
    if not MIN_SIDE <= max_side <= MAX_SIDE:
        raise ValueError(f"max_side must be in {MIN_SIDE}..{MAX_SIDE}, got {max_side}")
    seed = int(rng.integers(2**63)) if isinstance(rng, np.random.Generator) else int(rng)
    rng = np.random.default_rng(seed)
    params = family.params(rng, max_side)
    pairs = []
    for _ in range(num_pairs + num_test):
        pairs.append(sample_pair(family, params, rng, max_side, [x for x, _ in pairs]))
    meta = {"family": name, "seed": seed, "params": params, "max_side": max_side}
    return make_task(pairs[:num_pairs], pairs[num_pairs:], f"{name}-{seed}", max_side=max_side, meta=meta)


def sample_tasks(
    rng: np.random.Generator | int,
    n: int,
    families: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    num_pairs: int = 4,
    num_test: int = 1,
    max_side: int = MAX_SIDE,
) -> list[Task]:
    """`n` tasks, each from a family drawn uniformly from `families` (default all) minus `exclude`.

    The same seed gives the same tasks. Excluding families by name holds them out of training so
    they can be used for out-of-distribution evaluation.
    """
    names = sorted(families if families is not None else FAMILIES)
    for name in [*names, *exclude]:
        _family(name)
    names = [name for name in names if name not in set(exclude)]
    if not names:
        raise ValueError("no task families left to sample from")
    rng = np.random.default_rng(rng)
    picks, seeds = rng.integers(len(names), size=n), rng.integers(2**63, size=n)
    return [make_family_task(names[i], int(seed), num_pairs, num_test, max_side) for i, seed in zip(picks, seeds)]


def online_augment(tasks: Sequence[Task], rng: np.random.Generator | int, symmetries=True, colours=True) -> list[Task]:
    """Each task under its own random symmetry and colour permutation (black fixed), paper §2.5.

    The augmentation is kept in `task.meta["augmentation"]` so predictions can be mapped back.
    """
    rng = np.random.default_rng(rng)
    out = []
    for task in tasks:
        augmentation = random_augmentation(rng, symmetries, colours)
        augmented = augmentation.task(task)
        out.append(dataclasses.replace(augmented, meta={**task.meta, "augmentation": augmentation}))
    return out
