"""LPN's kind (`lpn.kind.Kind`): its searches of the latent space by name (paper §3, Table 11),
and the rows `lpn.compare` runs by default.

The evolution strategies ("cma", "es", "hybrid", `lpn.evolution`) need the optional evosax
(`pip install "lpn[es]"`); their budget counts gradient-step equivalents (see that module), so a
row at budget 100 costs what 100 gradient steps cost.
"""

from __future__ import annotations

from lpn import evolution, search
from lpn.kind import Kind, Search
from lpn.model import LPN

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


# Table 11's families, in the order of its rows, by their names in `SEARCHES`.
TABLE_11 = ("sampling", "prior-gradient", "local", "prior-local", "random", "gradient")


def training_metrics(plain, searched) -> dict:
    """`lpn train`'s evaluation: top-1 of the mean latent, top-1 and pass@2 of gradient search."""
    return {"top1_mean_latent": plain.top1, "top1_gradient": searched.top1, "top2_gradient": searched.top2}


KIND = Kind(
    name="lpn",
    model=LPN,
    words="an LPN",
    methods=SEARCHES,
    searched="gradient",
    compared=TABLE_11,
    loss=None,
    trains_with={},
    tasks_per_call=None,
    training_metrics=training_metrics,
    latent=True,
)
