"""The test-time methods by name (paper §3, §3.6): one table per architecture, which `lpn eval
--search NAME`, `lpn solve`, `lpn train`'s evaluation and `lpn.compare` all read.

A row is a function with the signature of the `lpn.search` methods, `method(model, pairs, key,
**options)`, returning a trace that `lpn.evaluate.attempts` decodes (a `SearchTrace` of latents for
LPN, a `TTTTrace` of tuned parameters for the in-context model); the option its budget sets (`steps`
or `num_samples`); the options fixed for it (e.g. starting from a prior sample); and, for methods
driven by an optax optimiser, how to build it from a learning rate and which config field holds
that rate's default. Adding a method is adding a row; adding an architecture is adding a table.

The evolution strategies of `lpn.evolution` ("cma", "es", "hybrid") need the optional evosax
(`pip install "lpn[es]"`); their budget counts gradient-step equivalents (see that module), so a
row at budget 100 costs what 100 gradient steps cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from lpn import evolution, in_context, search
from lpn.in_context import InContext
from lpn.model import LPN


class Search(NamedTuple):
    """One method: `method(model, pairs, key, **options(budget, optimizer))`."""

    method: Callable
    label: str  # its name in the paper's tables (Table 11 for LPN's searches)
    help: str  # one phrase for `--help`
    budget: str | None = None  # the option a budget sets: "steps" or "num_samples"; None takes none
    default_budget: int | None = None  # for samplers, when the command line gives no --samples
    fixed: Mapping = {}
    optimizer: Callable | None = None  # learning rate -> its optax optimiser; None: takes none
    optimizer_name: str = ""  # that optimiser in words, for results files
    lr_field: str = "search_lr"  # the Config field holding the default learning rate
    budget_as: Callable | None = None  # budget -> the budget option's value (e.g. steps -> generations)
    requires: Callable | None = None  # raises ImportError (saying what to install) if a dependency is missing

    def options(self, budget: int | None = None, optimizer=None) -> dict:
        """The keyword options of `method` for `budget` (steps or candidates) and `optimizer`
        (ignored by rows that take none; without one the method uses its own default: Adam, b2
        0.9, at the config's `search_lr` for the gradient searches, Adam at its `ttt_lr` for TTT)."""
        options = dict(self.fixed)
        if self.budget is not None:
            options[self.budget] = budget if self.budget_as is None or budget is None else self.budget_as(budget)
        if self.optimizer is not None and optimizer is not None:
            options["optimizer"] = optimizer
        return options


SEARCHES: dict[str, Search] = {  # LPN's searches of its latent space (Table 11)
    "none": Search(search.no_search, "mean latent", "the encoder's mean latent"),
    "gradient": Search(
        search.gradient_search,
        "LPN (encoder init + gradient)",
        "Adam on log p(y|x,z) from the mean latent",
        "steps",
        optimizer=search.default_optimizer,
        optimizer_name="adam(b2=0.9)",
    ),
    "prior-gradient": Search(
        search.gradient_search,
        "Gaussian init + gradient",
        "the same from a prior sample",
        "steps",
        fixed={"from_prior": True},
        optimizer=search.default_optimizer,
        optimizer_name="adam(b2=0.9)",
    ),
    "random": Search(search.random_search, "random search", "samples around the mean latent", "num_samples", 250),
    "local": Search(search.local_search, "encoder init + local", "hill-climb", "steps"),
    "prior-local": Search(
        search.local_search,
        "Gaussian init + local",
        "the same from a prior sample",
        "steps",
        fixed={"from_prior": True},
    ),
    "sampling": Search(
        search.encoder_sampling, "encoder sampling", "samples from the encoder's posteriors", "num_samples", 100
    ),
    # Gradient-free ES rows: a budget of B gradient steps runs B x 3 // 6 generations of 6 candidates.
    "cma": Search(
        evolution.cma_es,
        "CMA-ES",
        "CMA-ES from the mean latent (needs evosax; --steps in gradient steps' worth of evaluations)",
        "steps",
        fixed={"population": evolution.POPULATION},
        budget_as=evolution.generations,
        requires=evolution.require_evosax,
    ),
    "es": Search(
        evolution.snes,
        "SNES",
        "separable natural ES from the mean latent (needs evosax; the same budget)",
        "steps",
        fixed={"population": evolution.POPULATION},
        budget_as=evolution.generations,
        requires=evolution.require_evosax,
    ),
    "hybrid": Search(
        evolution.hybrid_search,
        "CMA-ES then gradient",
        "CMA-ES for half the budget, then Adam from its best (needs evosax)",
        "steps",
        optimizer=search.default_optimizer,
        optimizer_name="adam(b2=0.9)",
        requires=evolution.require_evosax,
    ),
}

IN_CONTEXT: dict[str, Search] = {  # the in-context baseline (§3.6): its prediction, and TTT
    "none": Search(
        in_context.ttt, "in-context", "the in-context model's prediction (in-context model)", fixed={"steps": 0}
    ),
    "ttt": Search(
        in_context.ttt,
        "TTT",
        "test-time training: Adam on every parameter (in-context model)",
        "steps",
        optimizer=in_context.ttt_optimizer,
        optimizer_name="adam",
        lr_field="ttt_lr",
    ),
}

METHODS: dict[type, dict[str, Search]] = {LPN: SEARCHES, InContext: IN_CONTEXT}


def methods_for(architecture) -> dict[str, Search]:
    """The table of a model or model class."""
    cls = architecture if isinstance(architecture, type) else type(architecture)
    if cls not in METHODS:
        raise ValueError(f"no test-time methods are known for {cls.__name__}")
    return METHODS[cls]


def row(name: str, architecture=LPN) -> Search:
    """The row `name` of `architecture`'s table; KeyError saying which names it has."""
    table = methods_for(architecture)
    if name not in table:
        raise KeyError(
            f"search {name!r} does not apply to {in_context.describe_architecture(architecture)}; "
            f"it takes: {', '.join(table)}"
        )
    return table[name]


def search_method(name: str, cfg, steps: int = 100, lr=None, samples=None, architecture=LPN):
    """(method, options, settings) of the method called `name` for `architecture` (a model class or
    model; default LPN): a function with the search signature, its keyword options, and a JSON-able
    description of both. `steps` is the budget of step-wise methods (a row's `budget_as` converts
    it: the ES rows' generations), `samples` (default the row's) that of samplers, `lr` (default
    the config's field for the row: `search_lr` for LPN's gradient searches, `ttt_lr` for TTT) the
    learning rate of the row's optimiser. A row whose optional dependency is missing raises its
    ImportError."""
    found = row(name, architecture)
    if found.requires is not None:
        found.requires()
    settings, budget, optimizer = {"search": name}, None, None
    if found.budget == "num_samples":
        budget = settings["samples"] = samples or found.default_budget
    elif found.budget == "steps":
        budget = settings["steps"] = steps
        if found.budget_as is not None:
            settings["generations"] = found.budget_as(steps)
    if found.optimizer is not None:
        lr = getattr(cfg, found.lr_field) if lr is None else lr
        optimizer = found.optimizer(lr)
        settings.update(lr=lr, optimizer=found.optimizer_name)
    return found.method, found.options(budget, optimizer), settings


def describe(settings: dict) -> str:
    """One line naming a search and its settings, e.g. "gradient (steps 100, lr 0.1)"."""
    rest = ", ".join(f"{k} {v}" for k, v in settings.items() if k not in ("search", "optimizer"))
    return settings["search"] + (f" ({rest})" if rest else "")
