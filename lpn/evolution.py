"""Evolution strategies as test-time searches of the latent space (issue 25; beside paper §3.4).

The paper compares gradient ascent on log p(y | x, z) with gradient-free searches (random and local
search, Table 11). Evolution strategies are the stronger gradient-free family: they sample a
population around a mean, rank it by the objective and move the mean (and, for CMA-ES, the
sampling covariance) towards the better candidates. This module runs three of them from evosax,
CMA-ES, SNES and OpenAI-ES, with the signature of the searches in `lpn.search`,

    method(model, pairs, key, *, steps, population, sigma, start, from_prior, weights_N) -> SearchTrace

maximising `lpn.search.log_prob` from the encoder's mean latent (or a prior sample). `steps` is the
number of generations; the trace's step 0 is the start (in every one of its K = population
columns) and step g the g-th generation's population, with their scores. Counting follows
`lpn.search`: each candidate costs one decoder evaluation per given pair, so a search costs
pairs x (generations x population + 1), the 1 for the start.

`hybrid_search` spends part of a budget on an ES and the rest on `lpn.search.gradient_search` from
the best latent it found, and returns one trace joining both paths.

On budgets: a gradient step costs GRADIENT_COST (3) evaluations a pair, so a generation of
POPULATION (6) candidates costs what two gradient steps cost. The rows of `lpn.searches.SEARCHES`
("cma", "es", "hybrid") therefore take their budget in gradient-step equivalents: "cma" at budget
100 runs 50 generations of 6, 301 evaluations a pair, exactly what 100 gradient steps cost, so
`lpn.compare.compare_methods` puts them side by side on one axis (`lpn.compare.es_methods` builds such rows).

evosax (and flax, which it needs) is an optional dependency, imported when a search runs:
`pip install "lpn[es]"`.

Seen once, not understood: on a loaded 2-core CPU with two lpn devices (the default, lpn/devices.py),
a `search_batch` of `cma_es` over the benchmark's tasks stalled with the process idle, while with
LPN_CPU_DEVICES=1 it ran; `lpn eval pattern --data pattern --search cma --steps 4 --limit 4` on two
devices ran normally (36 s). On the same loaded machine `lpn eval` with gradient search logged
XLA's CPU collective "rendezvous ... waiting" warnings (the two devices' threads meeting late), so
the likely cause is the machine's load, not the ES. If a run stalls, LPN_CPU_DEVICES=1 is the
workaround.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from lpn.model import LPN
from lpn.optim import cached_adam
from lpn.search import (
    GRADIENT_COST,
    SearchTrace,
    _finish,
    gradient_search,
    log_prob,
    num_pairs,
    score_candidates,
    start_latents,
)

POPULATION = 6  # candidates a generation: 2 gradient steps' worth of evaluations (2 x GRADIENT_COST)
SIGMA = 0.5  # the initial spread, as random search's scale: latents are N(0, I) under the prior


def require_evosax():
    """evosax's algorithms module, or an ImportError that says how to install it."""
    try:
        from evosax import algorithms
    except ImportError as err:
        raise ImportError('the evolution-strategy searches need evosax: pip install "lpn[es]"') from err
    return algorithms


def generations(budget: int, population: int = POPULATION) -> int:
    """Generations of `population` candidates that cost what `budget` gradient steps cost (rounded
    down): the "cma" and "es" rows' reading of their budget."""
    return budget * GRADIENT_COST // population


def _evolve(strategy, params, model: LPN, pairs, key, steps, start, from_prior, weights_N) -> SearchTrace:
    """`steps` generations of an evosax `strategy` (it minimises, so it is told -log_prob)."""
    k_start, k_init, k_steps = jax.random.split(key, 3)
    z_H = start_latents(model, pairs, k_start, start=start, from_prior=from_prior)[0]
    s = log_prob(model, z_H, pairs, weights_N)
    population = strategy.population_size

    def generation(state, key):
        k_ask, k_tell = jax.random.split(key)
        z_KH, state = strategy.ask(k_ask, state, params)
        s_K = score_candidates(model, z_KH, pairs, weights_N)
        s_K = jnp.where(jnp.isnan(s_K), -jnp.inf, s_K)
        state, _ = strategy.tell(k_tell, z_KH, -s_K, state, params)
        return state, (z_KH, s_K)

    state = strategy.init(k_init, z_H, params)
    _, (path_SKH, scores_SK) = jax.lax.scan(generation, state, jax.random.split(k_steps, steps))
    path_SKH = jnp.concatenate([jnp.broadcast_to(z_H, (1, population, z_H.shape[0])), path_SKH])
    scores_SK = jnp.concatenate([jnp.broadcast_to(s, (1, population)), scores_SK])
    return _finish(path_SKH, scores_SK, num_pairs(pairs) * (steps * population + 1))


def _check(name: str, steps: int, population: int, sigma: float):
    if steps < 0 or population < 2 or not sigma > 0:
        raise ValueError(
            f"{name}: need steps >= 0, population >= 2 and sigma > 0, got steps {steps}, "
            f"population {population}, sigma {sigma}"
        )


def cma_es(
    model: LPN,
    pairs,
    key,
    *,
    steps=50,
    population=POPULATION,
    sigma=SIGMA,
    start=None,
    from_prior=False,
    weights_N=None,
) -> SearchTrace:
    """CMA-ES (Hansen's defaults, evosax's `CMA_ES`): `steps` generations of `population`
    candidates drawn from N(mean, sigma² C), mean and sigma and C adapted each generation.

    Args:
        steps: generations; the trace has S = steps + 1 points, step 0 the start.
        population: K candidates a generation (each costs one evaluation a pair).
        sigma: the initial step size, in latent units.
        start, from_prior: the mean's start (see `lpn.search.start_latents`).
        weights_N: which pairs the objective sums over (default: all given pairs).
    Returns a `SearchTrace` (S, K, H) whose best latent is the best candidate seen, start included.
    """
    _check("cma_es", steps, population, sigma)
    strategy = require_evosax().CMA_ES(population, jnp.zeros(model.config.latent_dim))
    params = strategy.default_params.replace(std_init=jnp.asarray(sigma, jnp.float32))
    return _evolve(strategy, params, model, pairs, key, steps, start, from_prior, weights_N)


def snes(
    model: LPN,
    pairs,
    key,
    *,
    steps=50,
    population=POPULATION,
    sigma=SIGMA,
    start=None,
    from_prior=False,
    weights_N=None,
) -> SearchTrace:
    """Separable natural evolution strategy (evosax's `SNES`): a diagonal Gaussian whose mean and
    per-dimension spread follow the natural gradient of the ranked population. Options and trace
    as `cma_es`'s."""
    _check("snes", steps, population, sigma)
    strategy = require_evosax().SNES(population, jnp.zeros(model.config.latent_dim))
    params = strategy.default_params.replace(std_init=jnp.asarray(sigma, jnp.float32))
    return _evolve(strategy, params, model, pairs, key, steps, start, from_prior, weights_N)


def open_es(
    model: LPN,
    pairs,
    key,
    *,
    steps=50,
    population=POPULATION,
    sigma=SIGMA,
    learning_rate=0.1,
    start=None,
    from_prior=False,
    weights_N=None,
) -> SearchTrace:
    """OpenAI-ES (evosax's `Open_ES`): antithetic samples mean ± sigma·eps at a fixed sigma, their
    centred ranks estimate a gradient that Adam (`learning_rate`) follows. `population` must be
    even; other options and trace as `cma_es`'s."""
    _check("open_es", steps, population, sigma)
    if population % 2:
        raise ValueError(f"open_es: the population must be even (antithetic pairs), got {population}")
    strategy = require_evosax().Open_ES(
        population,
        jnp.zeros(model.config.latent_dim),
        optimizer=cached_adam(float(learning_rate)),
        std_schedule=optax.constant_schedule(float(sigma)),
    )
    return _evolve(strategy, strategy.default_params, model, pairs, key, steps, start, from_prior, weights_N)


def hybrid_search(
    model: LPN,
    pairs,
    key,
    *,
    steps=100,
    explore=cma_es,
    share=0.5,
    population=POPULATION,
    sigma=SIGMA,
    optimizer=None,
    clip=1.0,
    start=None,
    from_prior=False,
    weights_N=None,
) -> SearchTrace:
    """An ES for `share` of the budget, then gradient ascent from the best latent it found.

    Args:
        steps: the budget in gradient steps (GRADIENT_COST evaluations a pair each). The ES gets
            share·steps·GRADIENT_COST // population generations, gradient search the steps left.
        explore: `cma_es`, `snes` or `open_es`, run with `population` and `sigma`.
        optimizer, clip: gradient search's (default Adam, b2 0.9, at the config's `search_lr`).
        start, from_prior, weights_N: as in `cma_es`.
    Returns one `SearchTrace`: the ES's (G+1, K, H) path, then the gradient path (its first point
    the ES's best) repeated across the K columns; num_evals the sum of both, so pairs x
    (3·steps + 2) at most: one evaluation a pair more than gradient search alone (the ES's start).
    """
    if not 0 <= share <= 1:
        raise ValueError(f"hybrid_search: share must be in [0, 1], got {share}")
    gens = generations(int(share * steps), population)
    descent = (steps * GRADIENT_COST - gens * population) // GRADIENT_COST
    k_explore, k_descend = jax.random.split(key)
    found = explore(
        model,
        pairs,
        k_explore,
        steps=gens,
        population=population,
        sigma=sigma,
        start=start,
        from_prior=from_prior,
        weights_N=weights_N,
    )
    refined = gradient_search(
        model, pairs, k_descend, steps=descent, optimizer=optimizer, clip=clip, start=found.best, weights_N=weights_N
    )
    k = found.latents.shape[1]
    latents_SKH = jnp.concatenate([found.latents, jnp.repeat(refined.latents, k, axis=1)])
    scores_SK = jnp.concatenate([found.scores, jnp.repeat(refined.scores, k, axis=1)])
    return _finish(latents_SKH, scores_SK, found.num_evals + refined.num_evals)
