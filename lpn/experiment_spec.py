"""What an experiment of `lpn reproduce` is, as data: a table of `Row`s (a `Training`'s model and a
test-time method) by `Column`s (a budget and the test tasks), run at a `Scale`, with the paper's
numbers and `Claim`s (orderings the paper reports) beside it (`../shared/docs/lpn-paper.md` §4).

The paper's experiments themselves are `lpn.experiments`; `lpn.reproduce` runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lpn.config import Config, get_preset


@dataclass(frozen=True)
class Training:
    """One model to train: `changes` over the scale's config, of `architecture` ("lpn" or "in-context")."""

    label: str
    changes: Mapping = field(default_factory=dict)
    architecture: str = "lpn"


@dataclass(frozen=True)
class Row:
    """A table row: `training`'s model searched with `search` (a name of `lpn.methods`' table for its
    architecture; "gradient" or "ttt" at a budget of 0 is the model's plain prediction), in `columns`
    (default all), at the columns' budgets or its own `budget`."""

    label: str
    training: str
    search: str = "gradient"
    columns: tuple[str, ...] | None = None
    budget: int | None = None  # the row's own budget, in place of the columns'


@dataclass(frozen=True)
class Column:
    """A budget (steps or candidates), the method if the column fixes one (else the row's), and the
    test tasks: pattern density (default the training's) and specification size (default the scale's)."""

    label: str
    budget: int = 0
    search: str | None = None
    density: float | None = None
    pairs: int | None = None


@dataclass(frozen=True)
class Scale:
    """Sizes: the preset and changes every training starts from, training steps, test tasks per
    cell, default seeds, and the estimated minutes of the whole experiment at that scale (2-core CPU
    for smoke and cpu, one GPU for paper)."""

    preset: str
    changes: Mapping
    steps: int
    tasks: int
    seeds: int
    minutes: float
    pairs: int = 3  # specification pairs of a test task (the training tasks' 4 less the query)
    columns: tuple[str, ...] | None = None  # the columns run at this scale (default all)
    rows: tuple[str, ...] | None = None  # the rows run at this scale (default all)
    where: str = "2-core CPU"
    # Where no setting of the experiment's ladder passed the calibration rule (docs/calibration.md):
    # why, and what this scale's cells are ("ceiling at this scale: ..."); table.md prints it above
    # the numbers and gives the claims no verdict.
    uncalibrated: str | None = None

    def config(self) -> Config:
        return get_preset(self.preset).replace(**self.changes)


@dataclass(frozen=True)
class Claim:
    """The paper's ordering: cell `better` (row, column) above cell `worse`."""

    text: str
    better: tuple[str, str]
    worse: tuple[str, str]


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    measures: str
    source: str  # where the paper's numbers are
    data: str  # "pattern" or "strings"
    trainings: tuple[Training, ...]
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    scales: Mapping[str, Scale]
    paper: Mapping[tuple[str, str], tuple[float, float | None]]  # (row, column) -> (mean %, std %)
    claims: tuple[Claim, ...] = ()
    x_label: str = "inference"
    # The cells whose level chooses the `cpu` scale (docs/calibration.md, `lpn.pilot`): (row, column).
    reference: tuple[tuple[str, str], ...] = ()

    def training(self, label: str) -> Training:
        for t in self.trainings:
            if t.label == label:
                return t
        raise KeyError(f"{self.name}: no training {label!r}")

    def cells(self, scale: str):
        """(row, column) for every cell run at `scale`, in table order."""
        sizes = self.scales[scale]
        return [
            (r, c)
            for r in self.rows
            for c in self.columns
            if (r.columns is None or c.label in r.columns)
            and (sizes.columns is None or c.label in sizes.columns)
            and (sizes.rows is None or r.label in sizes.rows)
        ]

    def rows_at(self, scale: str) -> tuple[Row, ...]:
        """The rows that have a cell at `scale`, in table order."""
        labels = {r.label for r, _ in self.cells(scale)}
        return tuple(r for r in self.rows if r.label in labels)

    def trainings_at(self, scale: str) -> tuple[Training, ...]:
        """The trainings the cells run at `scale` need, in the experiment's order."""
        needed = {r.training for r, _ in self.cells(scale)}
        return tuple(t for t in self.trainings if t.label in needed)
