"""The test-time search methods by name (paper §3): one table that `lpn eval --search NAME`,
`lpn solve` and `lpn.compare.table_11_methods` all read.

A row is a search function of `lpn.search` (one signature, one `SearchTrace`), the option its budget
sets (`steps` or `num_samples`), the options fixed for it (e.g. starting from a prior sample), and
whether it takes an optax optimiser. Adding a method is adding a row.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

from lpn import search


class Search(NamedTuple):
    """One search method: `method(model, pairs, key, **options(budget, optimizer))`."""

    method: Callable
    label: str  # its name in the paper's Table 11
    help: str  # one phrase for `--help`
    budget: str | None = None  # the option a budget sets: "steps" or "num_samples"; None takes none
    default_budget: int | None = None  # for samplers, when the command line gives no --samples
    fixed: Mapping = {}
    optimizer: bool = False  # takes an optax optimiser (`optimizer=`)

    def options(self, budget: int | None = None, optimizer=None) -> dict:
        """The keyword options of `method` for `budget` (steps or candidates) and `optimizer`."""
        options = dict(self.fixed)
        if self.budget is not None:
            options[self.budget] = budget
        if self.optimizer:
            options["optimizer"] = search.default_optimizer() if optimizer is None else optimizer
        return options


SEARCHES: dict[str, Search] = {
    "none": Search(search.no_search, "mean latent", "the encoder's mean latent"),
    "gradient": Search(search.gradient_search, "LPN (encoder init + gradient)",
                       "Adam on log p(y|x,z) from the mean latent", "steps", optimizer=True),
    "prior-gradient": Search(search.gradient_search, "Gaussian init + gradient", "the same from a prior sample",
                             "steps", fixed={"from_prior": True}, optimizer=True),
    "random": Search(search.random_search, "random search", "samples around the mean latent", "num_samples", 250),
    "local": Search(search.local_search, "encoder init + local", "hill-climb", "steps"),
    "prior-local": Search(search.local_search, "Gaussian init + local", "the same from a prior sample", "steps",
                          fixed={"from_prior": True}),
    "sampling": Search(search.encoder_sampling, "encoder sampling", "samples from the encoder's posteriors",
                       "num_samples", 100),
}


def search_method(name: str, cfg, steps: int = 100, lr=None, samples=None):
    """(method, options, settings) of the search called `name`: a search function of `lpn.search`,
    its keyword options, and a JSON-able description of both. `steps` is the budget of step-wise
    searches, `samples` (default the row's) that of samplers, `lr` (default `cfg.search_lr`) the
    learning rate of Adam (b2 0.9) in gradient searches."""
    row = SEARCHES[name]
    settings, budget, optimizer = {"search": name}, None, None
    if row.budget == "num_samples":
        budget = settings["samples"] = samples or row.default_budget
    elif row.budget == "steps":
        budget = settings["steps"] = steps
    if row.optimizer:
        lr = cfg.search_lr if lr is None else lr
        optimizer = search.default_optimizer(lr)
        settings.update(lr=lr, optimizer="adam(b2=0.9)")
    return row.method, row.options(budget, optimizer), settings


def describe(settings: dict) -> str:
    """One line naming a search and its settings, e.g. "gradient (steps 100, lr 0.1)"."""
    rest = ", ".join(f"{k} {v}" for k, v in settings.items() if k not in ("search", "optimizer"))
    return settings["search"] + (f" ({rest})" if rest else "")
