"""The test-time methods by name (paper §3, §3.6): one table per architecture, which `lpn eval
--search NAME`, `lpn solve`, `lpn train`'s evaluation and `lpn.compare` all read.

A row is a function with the signature of the `lpn.search` methods, `method(model, pairs, key,
**options)`, returning a trace that its `attempts` method decodes (a `SearchTrace` of latents for
LPN, a `TTTTrace` of tuned parameters for the in-context model); the option its budget sets (`steps`
or `num_samples`); the options fixed for it (e.g. starting from a prior sample); and, for methods
driven by an optax optimiser, how to build it from a learning rate and which config field holds
that rate's default (`lpn.kind.Search`). Each kind's file holds its table (`lpn.searches.SEARCHES`
for LPN, `lpn.in_context.IN_CONTEXT`); adding a method is adding a row there, adding an
architecture is adding a kind (`lpn.architectures`).

The evolution strategies of `lpn.evolution` ("cma", "es", "hybrid") need the optional evosax
(`pip install "lpn[es]"`); their budget counts gradient-step equivalents (see that module), so a
row at budget 100 costs what 100 gradient steps cost.
"""

from __future__ import annotations

from lpn.architectures import DEFAULT, KINDS, kind_of
from lpn.in_context import IN_CONTEXT
from lpn.kind import Search
from lpn.searches import SEARCHES

__all__ = ["IN_CONTEXT", "METHODS", "SEARCHES", "Search", "describe", "methods_for", "row", "search_method"]

METHODS: dict[type, dict[str, Search]] = {kind.model: kind.methods for kind in KINDS.values()}


def methods_for(architecture) -> dict[str, Search]:
    """The table of a model or model class."""
    try:
        return kind_of(architecture).methods
    except ValueError:
        cls = architecture if isinstance(architecture, type) else type(architecture)
        raise ValueError(f"no test-time methods are known for {cls.__name__}") from None


def row(name: str, architecture=None) -> Search:
    """The row `name` of `architecture`'s table (a model or model class; default LPN's); KeyError
    saying which names it has."""
    kind = KINDS[DEFAULT] if architecture is None else kind_of(architecture)
    if name not in kind.methods:
        raise KeyError(f"search {name!r} does not apply to {kind.words}; it takes: {', '.join(kind.methods)}")
    return kind.methods[name]


def search_method(name: str, cfg, steps: int = 100, lr=None, samples=None, architecture=None):
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
