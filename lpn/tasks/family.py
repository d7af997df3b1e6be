"""What a procedural task family is, and the registry that holds them.

A family is a hidden program with parameters (paper §2.5 trains on re-ARC, one generator per ARC
task; ours are written from scratch in the same spirit). `params` samples the hidden parameters once
per task; `input` samples one pair's input; `program` maps an input to its output. Every output
grid is `program(input, params)`, so all pairs of a task come from one program by construction, and
a test can re-apply the program to check it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MIN_SIDE = 6  # every family can make tasks with grids this small


class Resample(Exception):
    """Raised by an input sampler when a draw is unusable (no room, a tie); the caller retries."""


@dataclass(frozen=True)
class Family:
    """A hidden program with parameters; see the module docstring.

    params: (rng, max_side) -> dict of plain Python values, sampled once per task.
    input: (rng, params, max_side) -> uint8 grid, sampled once per pair.
    program: (grid, params) -> uint8 grid, deterministic.
    """

    name: str
    params: Callable[[np.random.Generator, int], dict]
    input: Callable[[np.random.Generator, dict, int], np.ndarray]
    program: Callable[[np.ndarray, dict], np.ndarray]
    doc: str = ""

    def __call__(self, grid: np.ndarray, params: dict) -> np.ndarray:
        return np.asarray(self.program(np.asarray(grid, np.uint8), params), np.uint8)


FAMILIES: dict[str, Family] = {}


def register(name: str, params, input, program) -> Family:
    """Adds a family to `FAMILIES`; its description is the program's docstring."""
    if name in FAMILIES:
        raise ValueError(f"family {name!r} is registered twice")
    family = Family(name, params, input, program, " ".join((program.__doc__ or "").split()))
    FAMILIES[name] = family
    return family
