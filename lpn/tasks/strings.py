"""The string-manipulation task of paper §4.3: sequences of numbers 0-4 rewritten by a program of
3-5 parameterised rules, shown to the model as 1 x L grids.

The paper names five rule families and says that rules are applied one after another, each scanning
the sequence left to right. It gives no lengths, parameter ranges or boundary handling; our choices:

* Sequences have `length` cells (default 10), each uniform in 0-4; the value is the colour.
* A rule reads one neighbour, `offset` -1 (left) or +1 (right). A threshold test is either
  "neighbour >= t" for t in 1-4 or "neighbour <= t" for t in 0-3. A missing neighbour (off the end)
  never passes a test and counts as 0 in an aggregate.
* decrement: x[i] = (x[i] - 1) mod 5 where the neighbour passes the test.
* increment: x[i] = (x[i] + 1) mod 5 where the neighbour passes the test.
* subtract: x[i] = (x[i] - neighbour) mod 5 where the neighbour passes the test.
* multiply: x[i] = min(x[i] * k, 4) where the neighbour equals x[i]; k in 2-4.
* aggregate: x[i] = (x[i] + a * left + b * right) mod 5; a, b in 0-2, not both 0.
* The scan updates in place, so position i sees the new value of i-1 (this is what makes the order of
  the scan matter).
* A program is 3-5 rules drawn uniformly (family, then parameters); 62 rule variants give about
  62^3 + 62^4 + 62^5, roughly 9.3e8 programs (many behave alike), "over 100M" as in the paper.
* A program that leaves every sampled input unchanged is redrawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from lpn.grids import Task, make_task

RULE_KINDS = ("decrement", "increment", "subtract", "multiply", "aggregate")
MODULUS = 5


class Rule(NamedTuple):
    kind: str  # one of RULE_KINDS
    offset: int = -1  # which neighbour a rule reads: -1 left, +1 right
    at_least: bool = True  # threshold test: neighbour >= threshold, else neighbour <= threshold
    threshold: int = 1
    factor: int = 2  # multiply
    weights: tuple[int, int] = (1, 1)  # aggregate: (left, right)


def _passes(rule: Rule, neighbour: int | None) -> bool:
    if neighbour is None:
        return False
    return neighbour >= rule.threshold if rule.at_least else neighbour <= rule.threshold


def apply_rule(seq: Sequence[int], rule: Rule) -> np.ndarray:
    """One rule, scanning left to right and updating in place."""
    x = [int(v) for v in seq]
    for i in range(len(x)):
        j = i + rule.offset
        neighbour = x[j] if 0 <= j < len(x) else None
        if rule.kind == "decrement" and _passes(rule, neighbour):
            x[i] = (x[i] - 1) % MODULUS
        elif rule.kind == "increment" and _passes(rule, neighbour):
            x[i] = (x[i] + 1) % MODULUS
        elif rule.kind == "subtract" and _passes(rule, neighbour):
            x[i] = (x[i] - neighbour) % MODULUS
        elif rule.kind == "multiply" and neighbour == x[i]:
            x[i] = min(x[i] * rule.factor, MODULUS - 1)
        elif rule.kind == "aggregate":
            left = x[i - 1] if i > 0 else 0
            right = x[i + 1] if i + 1 < len(x) else 0
            x[i] = (x[i] + rule.weights[0] * left + rule.weights[1] * right) % MODULUS
    return np.array(x, np.uint8)


def apply_program(seq: Sequence[int], rules: Sequence[Rule]) -> np.ndarray:
    """The rules in order, each over the whole sequence."""
    out = np.asarray(seq, np.uint8)
    for rule in rules:
        out = apply_rule(out, rule)
    return out


def sample_rule(rng: np.random.Generator) -> Rule:
    kind = RULE_KINDS[rng.integers(len(RULE_KINDS))]
    offset = int(rng.choice([-1, 1]))
    if kind == "multiply":
        return Rule(kind, offset, factor=int(rng.integers(2, 5)))
    if kind == "aggregate":
        weights = (0, 0)
        while weights == (0, 0):
            weights = tuple(int(w) for w in rng.integers(0, 3, size=2))
        return Rule(kind, weights=weights)
    at_least = bool(rng.integers(2))
    return Rule(kind, offset, at_least, int(rng.integers(1, 5) if at_least else rng.integers(0, 4)))


def sample_program(rng: np.random.Generator) -> list[Rule]:
    return [sample_rule(rng) for _ in range(int(rng.integers(3, 6)))]


def make_string_task(seed: int, length: int = 10, num_pairs: int = 4, num_test: int = 1) -> Task:
    """One task: a random program and `num_pairs + num_test` random sequences through it."""
    rng = np.random.default_rng(seed)
    while True:
        rules = sample_program(rng)
        inputs = rng.integers(0, MODULUS, size=(num_pairs + num_test, length)).astype(np.uint8)
        outputs = [apply_program(x, rules) for x in inputs]
        if any((y != x).any() for x, y in zip(inputs, outputs)):
            break
    pairs = [(x[None, :], y[None, :]) for x, y in zip(inputs, outputs)]
    meta = {"source": "strings", "seed": seed, "rules": rules}
    return make_task(pairs[:num_pairs], pairs[num_pairs:], f"strings-{seed}", meta=meta)


def sample_string_tasks(seed, n: int, length: int = 10, num_pairs: int = 4, num_test: int = 1) -> list[Task]:
    """`n` string tasks; the same seed gives the same tasks. `length` is at most 30 (a grid side)."""
    if not 1 <= length <= 30:
        raise ValueError(f"length must be in 1..30 to fit a grid, got {length}")
    seeds = np.random.default_rng(seed).integers(2**63, size=n)
    return [make_string_task(int(s), length, num_pairs, num_test) for s in seeds]
