"""What a kind of model (an architecture: LPN, the in-context baseline) tells the rest of lpn about
itself, so that no module outside its own file asks which class a model or a trace is.

A kind's file defines its model class, its `Kind` (below) and the trace its methods return. The
trace carries the trace protocol as methods: `attempts(model, input_RC, input_shape, candidates)`
decodes its two attempts on one input, `confidence()` says how well it explains the given pairs (for
voting across TTA views), `for_decoding(candidates)` cuts it to what `attempts` reads (shapes that
do not depend on the method's budget), `own_model` is the model it carries (TTT's tuned copy) or
None, and `num_evals` counts the decoder evaluations it spent. `lpn.architectures` lists the kinds.

This module is a leaf: the kinds' files import it, it imports nothing of lpn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple


class Search(NamedTuple):
    """One method of a kind's table: `method(model, pairs, key, **options(budget, optimizer))`."""

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
    tasks_per_call: int | None = None  # tasks of one compiled call (None: all); TTT holds a model per task

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


class Kind(NamedTuple):
    """One kind of model, described once.

    name: its name in checkpoints and on the command line (`lpn train --arch NAME`).
    model: its model class, built as `model(config, key)`.
    words: the kind in words, with its article ("an LPN").
    methods: its table of test-time methods by name (`lpn.methods`).
    searched: the method `lpn train` evaluates with and the command line runs by default.
    compared: the methods `lpn.compare`'s default list runs at every budget, in order.
    loss: `loss(cfg)` -> `fn(model, pairs, key, cfg, noise_scale) -> (reconstruction, kl)`, its
        training loss; None for LPN, whose loss is the paper's, in `lpn.loss`.
    trains_with: Config fields it trains with only, and their one value.
    tasks_per_call: tasks of one compiled call its methods take at most (None: any number).
    training_metrics: `(plain, searched)` TaskMetrics of `lpn train`'s evaluation -> its named numbers.
    latent: it has a latent space to search and draw (`lpn demo`).
    default: the method run when none is given (its plain prediction).
    """

    name: str
    model: type
    words: str
    methods: Mapping[str, Search]
    searched: str
    compared: tuple[str, ...]
    loss: Callable | None
    trains_with: Mapping
    tasks_per_call: int | None
    training_metrics: Callable
    latent: bool
    default: str = "none"
