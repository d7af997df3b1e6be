"""Test-time search in latent space (paper §3, Algorithm 1).

The objective is one pure function of the latent: the sum over the given pairs of log p(y | x, z),
each term row + column log-probability plus the mean valid-cell log-probability (§3.1). Every
search method below shares one signature,

    method(model, pairs, key, **options) -> SearchTrace

where `pairs` is one task's specification (a `Batch` without its task axis: N pair slots, masked).
A trace holds the whole path, so a notebook can replay it without recomputing, and counts the
decoder evaluations spent, so methods can be compared at equal budgets. Methods are written for one
task: `search_batch` vmaps one over many tasks and jits it (`lpn.program.over_tasks`). Shape letters (S steps, K candidates,
H latent, N pairs) are those of lpn/model.py.

Counting: one decoder evaluation is one forward pass of the decoder on one pair. A gradient costs
three (forward plus a backward pass of about twice the work), the usual FLOP rule of thumb.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from lpn.decoding import decode_after, runner_up
from lpn.devices import first, spread_tasks
from lpn.model import LPN, encode_pairs, pair_log_prob
from lpn.optim import cached_adam
from lpn.program import alone, over_tasks, trace_only

GRADIENT_COST = 3
CANDIDATES = 8  # the highest-scoring latents of a search decoded for attempt 2 (`SearchTrace.attempts`)


class SearchTrace(NamedTuple):
    """The path of one search over S steps with K parallel candidates (starts, samples or chains).

    latents: (S, K, H) every latent visited, step 0 being the starts.
    scores: (S, K) the objective at each.
    best, second: (H,) the best latent and the best one distinct from it (attempts 1 and 2).
    best_score, second_score: () their objectives (second is -inf if no distinct latent exists).
    num_evals: () decoder evaluations spent (see the module docstring).
    """

    latents: jax.Array
    scores: jax.Array
    best: jax.Array
    best_score: jax.Array
    second: jax.Array
    second_score: jax.Array
    num_evals: jax.Array

    own_model = None  # the trace protocol of `lpn.kind`: a search's trace is decoded with the model searched

    def attempts(self, model: LPN, input_RC, input_shape, candidates: int = CANDIDATES):
        """Attempts 1 and 2 on one input: grids (2, R, C), shapes (2, 2). Attempt 1 is the greedy
        answer of the best latent; attempt 2 is the grid of the best-scoring of the `candidates`
        highest-scoring latents (across steps and starts) whose grid differs from attempt 1, or,
        where none differs (a search that converged, or a single latent), the decoder's runner-up
        answer for the best latent (its least certain cell changed, `lpn.decoding.runner_up`)."""
        flat_z = self.latents.reshape(-1, self.latents.shape[-1])
        flat_s = self.scores.reshape(-1)
        # top_k puts the first of equal scores first, as argmax does: candidate 0 is `self.best`
        top_s, index = jax.lax.top_k(jnp.where(jnp.isfinite(flat_s), flat_s, -jnp.inf), min(candidates, flat_s.size))
        prefixes = jax.vmap(lambda z: model.decoder.prefix(z, input_RC, input_shape))(flat_z[index])
        decode = jax.vmap(lambda p: decode_after(model.decoder, p, input_RC.shape))
        grids, shapes, margins, seconds, log_ps = decode(prefixes)
        spare, spare_shape, _ = runner_up(grids[0], shapes[0], margins[0], seconds[0], log_ps[0])
        differs = (jnp.any(grids != grids[0], axis=(1, 2)) | jnp.any(shapes != shapes[0], axis=1)) & (top_s > -jnp.inf)
        j = jnp.argmax(differs)
        grid2 = jnp.where(differs[j], grids[j], spare)
        shape2 = jnp.where(differs[j], shapes[j], spare_shape)
        return jnp.stack([grids[0], grid2]), jnp.stack([shapes[0], shape2])

    def confidence(self):
        """The search objective of the best latent (for voting across TTA views)."""
        return self.best_score

    def for_decoding(self, candidates: int = CANDIDATES) -> SearchTrace:
        """The trace cut to what `attempts` reads: its `candidates` best latents as a path of one
        step, (1, candidates, H), best first, padded with -inf scores where the search visited
        fewer. `attempts` gives the same grids from it, and its shapes no longer depend on the
        method's budget, so one compiled decoding serves every method."""
        flat_z = self.latents.reshape(-1, self.latents.shape[-1])
        flat_s = self.scores.reshape(-1)
        top_s, index = jax.lax.top_k(jnp.where(jnp.isfinite(flat_s), flat_s, -jnp.inf), min(candidates, flat_s.size))
        missing = candidates - top_s.size
        z = jnp.concatenate([flat_z[index], jnp.zeros((missing, flat_z.shape[-1]), flat_z.dtype)])
        s = jnp.concatenate([top_s, jnp.full((missing,), -jnp.inf, top_s.dtype)])
        return self._replace(latents=z[None], scores=s[None])


def log_prob(model: LPN, z_H, pairs, weights_N=None):
    """The search objective: sum over pairs of log p(y | x, z). `weights_N` (default: the pair
    mask) selects pairs, e.g. all but one for leave-one-out."""
    weights_N = pairs.pair_mask if weights_N is None else weights_N
    lp_N = jax.vmap(pair_log_prob, in_axes=(None, None, 0, 0, 0, 0))(
        model, z_H, pairs.inputs, pairs.input_shapes, pairs.outputs, pairs.output_shapes
    )
    return jnp.sum(jnp.where(weights_N > 0, lp_N * weights_N, 0.0))


def num_pairs(pairs):
    return jnp.sum(pairs.pair_mask)


def mean_latent(model: LPN, pairs, key=None, weights_N=None):
    """The mean of the pair latents' means over the given pairs (the encoder's answer)."""
    weights_N = pairs.pair_mask if weights_N is None else weights_N
    mu_NH, _ = encode_pairs(model, pairs)
    return jnp.sum(mu_NH * weights_N[:, None], 0) / jnp.maximum(jnp.sum(weights_N), 1)


def sample_latent(model: LPN, pairs, key, weights_N=None):
    """The mean over pairs of one reparameterised sample from each pair's posterior."""
    weights_N = pairs.pair_mask if weights_N is None else weights_N
    mu_NH, logvar_NH = encode_pairs(model, pairs)
    z_NH = mu_NH + jnp.exp(0.5 * logvar_NH) * jax.random.normal(key, mu_NH.shape)
    return jnp.sum(z_NH * weights_N[:, None], 0) / jnp.maximum(jnp.sum(weights_N), 1)


PRIOR_DRAWS = ("pairs", "one")  # the prior starts: see `prior_latent`


def prior_latent(pairs, key, dim: int, draws: str = "pairs"):
    """A start that ignores the encoder, drawn from the prior. `draws`:

    - "pairs" (default), the paper's Gaussian init ("no encoder", `remove_encoder_latents` in the
      authors' code; lpn-paper.md §3.4 and Figure 2): each given pair's latent replaced by an
      N(0, I) draw, then their mean, as the encoder's mean latent is taken: N(0, I/n) for n pairs.
    - "one": one N(0, I) draw, whatever the pairs (this package's start before it followed the paper).
    """
    if draws == "one":
        return jax.random.normal(key, (dim,))
    if draws != "pairs":
        raise ValueError(f"prior_draws must be one of {', '.join(PRIOR_DRAWS)}, got {draws!r}")
    z_NH = jax.random.normal(key, (pairs.pair_mask.shape[0], dim))
    weights_N = pairs.pair_mask
    return jnp.sum(z_NH * weights_N[:, None], 0) / jnp.maximum(jnp.sum(weights_N), 1)


def start_latents(
    model: LPN,
    pairs,
    key,
    *,
    start=None,
    from_prior=False,
    prior_draws="pairs",
    num_random_starts=0,
    start_scale=0.5,
    per_pair_starts=False,
):
    """(K, H) starting points: `start` if given, else the encoder's mean latent (or, if
    `from_prior`, a `prior_latent` of `prior_draws`); then optionally each pair's own latent and
    `num_random_starts` perturbations first + start_scale·eps."""
    k_prior, k_random = jax.random.split(key)
    dim = model.config.latent_dim
    if start is not None:
        first = jnp.asarray(start, jnp.float32)
    elif from_prior:
        first = prior_latent(pairs, k_prior, dim, prior_draws)
    else:
        first = mean_latent(model, pairs)
    starts = [first[None]]
    if per_pair_starts:
        mu_NH, _ = encode_pairs(model, pairs)
        starts.append(jnp.where(pairs.pair_mask[:, None], mu_NH, first))
    if num_random_starts:
        starts.append(first + start_scale * jax.random.normal(k_random, (num_random_starts, dim)))
    return jnp.concatenate(starts)


def _finish(latents_SKH, scores_SK, num_evals) -> SearchTrace:
    flat_z, flat_s = latents_SKH.reshape(-1, latents_SKH.shape[-1]), scores_SK.reshape(-1)
    flat_s = jnp.where(jnp.isfinite(flat_s), flat_s, -jnp.inf)
    i = jnp.argmax(flat_s)
    distinct = jnp.any(jnp.abs(flat_z - flat_z[i]) > 1e-6, axis=-1)
    j = jnp.argmax(jnp.where(distinct, flat_s, -jnp.inf))
    second_score = jnp.where(distinct[j], flat_s[j], -jnp.inf)
    return SearchTrace(
        latents_SKH, scores_SK, flat_z[i], flat_s[i], flat_z[j], second_score, jnp.asarray(num_evals, jnp.int32)
    )


def default_optimizer(learning_rate=0.1):
    """Adam with b2 = 0.9, the inner optimiser of the paper's pattern experiments. One object per
    rate given as a number: search options are static arguments of the jitted searches, so reusing
    the object reuses their compiled programs. A traced rate (inside a jit) gets a new object."""
    return cached_adam(learning_rate, b2=0.9)


def _over_starts(fn, num_starts: int):
    """`fn` of one latent applied to each of K: a vmap, except for one start, where it is called on
    the latent itself: XLA's CPU backend runs the objective slower with a size-1 batch axis on every
    activation (`python benchmarks/bench_core.py` times the search this path serves)."""
    if num_starts == 1:
        return lambda z_KH: jax.tree.map(lambda x: x[None], fn(z_KH[0]))
    return jax.vmap(fn)


def gradient_search(
    model: LPN,
    pairs,
    key,
    *,
    steps=100,
    optimizer=None,
    clip=1.0,
    start=None,
    from_prior=False,
    prior_draws="pairs",
    num_random_starts=0,
    start_scale=0.5,
    per_pair_starts=False,
    weights_N=None,
) -> SearchTrace:
    """Gradient ascent on `log_prob` from each start (§3.2).

    Args:
        steps: number of updates S-1; the trace has S = steps + 1 points per start.
        optimizer: any `optax.GradientTransformation` (default Adam at the config's `search_lr`,
            b2 0.9). Schedules work.
        clip: max global norm of each start's latent gradient, or None. Clipping is per task and
            per start, unlike the authors' code, which clips across the whole batch.
        start, from_prior, prior_draws, num_random_starts, start_scale, per_pair_starts: see
            `start_latents` (from the prior: the paper's N(0, I/n) start by default, `prior_latent`).
        weights_N: which pairs the objective sums over (default: all given pairs).
    Returns a `SearchTrace` whose best latent is the best seen along the path, start included.
    """
    optimizer = default_optimizer(model.config.search_lr) if optimizer is None else optimizer
    if clip is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(clip), optimizer)
    z_KH = start_latents(
        model,
        pairs,
        key,
        start=start,
        from_prior=from_prior,
        prior_draws=prior_draws,
        start_scale=start_scale,
        num_random_starts=num_random_starts,
        per_pair_starts=per_pair_starts,
    )
    value_and_grad = _over_starts(jax.value_and_grad(lambda z: log_prob(model, z, pairs, weights_N)), z_KH.shape[0])

    def step(carry, _):
        z_KH, opt_state = carry
        score_K, grad_KH = value_and_grad(z_KH)
        updates, opt_state = jax.vmap(optimizer.update)(-grad_KH, opt_state, z_KH)
        return (optax.apply_updates(z_KH, updates), opt_state), (z_KH, score_K)

    (z_last, _), (path_SKH, scores_SK) = jax.lax.scan(step, (z_KH, jax.vmap(optimizer.init)(z_KH)), length=steps)
    last_K = _over_starts(lambda z: log_prob(model, z, pairs, weights_N), z_KH.shape[0])(z_last)
    path_SKH = jnp.concatenate([path_SKH, z_last[None]])
    scores_SK = jnp.concatenate([scores_SK, last_K[None]])
    k = z_KH.shape[0]
    return _finish(path_SKH, scores_SK, k * num_pairs(pairs) * (GRADIENT_COST * steps + 1))


def truncate(trace: SearchTrace, steps: int) -> SearchTrace:
    """The trace `gradient_search` returns with `steps` updates, cut from a longer run's: its first
    steps + 1 points, the best and second among them, and the evaluations those cost. The first
    updates of a longer run are the same updates (for an optimiser whose schedule does not depend
    on the run's length), so one run answers every smaller budget."""
    total = trace.latents.shape[0] - 1
    if not 0 <= steps <= total:
        raise ValueError(f"cannot cut a {total}-step search to {steps} steps")
    per_point = trace.num_evals // (GRADIENT_COST * total + 1)  # starts x pairs
    return _finish(trace.latents[: steps + 1], trace.scores[: steps + 1], per_point * (GRADIENT_COST * steps + 1))


def score_candidates(model: LPN, z_KH, pairs, weights_N=None, chunk: int = 32):
    """The objective of each of K latents, `chunk` at a time (`lax.map`), so that memory holds
    `chunk` decoder passes per task however many candidates there are (the authors' scan_batch_size)."""
    return jax.lax.map(lambda z: log_prob(model, z, pairs, weights_N), z_KH, batch_size=min(chunk, z_KH.shape[0]))


def random_search(
    model: LPN, pairs, key, *, num_samples=250, scale=0.5, start=None, from_prior=False, weights_N=None, chunk: int = 32
) -> SearchTrace:
    """Scores the start latent (`start`, default the encoder's mean latent) and `num_samples`
    candidates start + scale·eps (§3.3); from the prior, the candidates are N(0, I) draws instead.
    One step, K = num_samples + 1 candidates, scored `chunk` at a time. Training's "Sample N"
    (`lpn.loss.refine`) runs it from each leave-one-out latent."""
    if start is not None and from_prior:
        raise ValueError(
            "random_search: pass start or from_prior, not both (from the prior, no candidate is centred on a start)"
        )
    k_start, k_eps = jax.random.split(key)
    dim = model.config.latent_dim
    eps = jax.random.normal(k_eps, (num_samples, dim))
    if from_prior:
        z_KH = jnp.concatenate([jax.random.normal(k_start, (1, dim)), eps])
    else:
        start_1H = start_latents(model, pairs, k_start, start=start)[:1]
        z_KH = start_1H + jnp.concatenate([jnp.zeros((1, dim)), scale * eps])
    scores_K = score_candidates(model, z_KH, pairs, weights_N, chunk)
    return _finish(z_KH[None], scores_K[None], (num_samples + 1) * num_pairs(pairs))


def encoder_sampling(model: LPN, pairs, key, *, num_samples=100, weights_N=None, chunk: int = 32) -> SearchTrace:
    """ "Encoder Sampling" of Table 11: candidates are the mean latent plus the means over pairs of
    samples from each pair's posterior; the best scoring one wins. One step, K = num_samples + 1,
    scored `chunk` at a time."""
    z_KH = jnp.concatenate(
        [
            mean_latent(model, pairs, weights_N=weights_N)[None],
            jax.vmap(lambda k: sample_latent(model, pairs, k, weights_N))(jax.random.split(key, num_samples)),
        ]
    )
    scores_K = score_candidates(model, z_KH, pairs, weights_N, chunk)
    return _finish(z_KH[None], scores_K[None], (num_samples + 1) * num_pairs(pairs))


def local_search(
    model: LPN,
    pairs,
    key,
    *,
    steps=100,
    scale=0.1,
    num_starts=1,
    from_prior=False,
    prior_draws="pairs",
    weights_N=None,
) -> SearchTrace:
    """Gradient-free hill-climb (§3.4): each step proposes z + scale·eps and keeps it if it scores
    higher. The trace records the accepted latent of each chain at every step. It starts from the
    encoder's mean latent or, `from_prior`, a `prior_latent` of `prior_draws`."""
    k_start, k_steps = jax.random.split(key)
    z_KH = start_latents(
        model,
        pairs,
        k_start,
        from_prior=from_prior,
        prior_draws=prior_draws,
        num_random_starts=num_starts - 1,
        start_scale=scale,
    )
    score = _over_starts(lambda z: log_prob(model, z, pairs, weights_N), z_KH.shape[0])

    def step(carry, key):
        z_KH, s_K = carry
        proposal = z_KH + scale * jax.random.normal(key, z_KH.shape)
        s_new = score(proposal)
        better = s_new > s_K
        z_KH, s_K = jnp.where(better[:, None], proposal, z_KH), jnp.where(better, s_new, s_K)
        return (z_KH, s_K), (z_KH, s_K)

    s_K = score(z_KH)
    _, (path_SKH, scores_SK) = jax.lax.scan(step, (z_KH, s_K), jax.random.split(k_steps, steps))
    path_SKH = jnp.concatenate([z_KH[None], path_SKH])
    scores_SK = jnp.concatenate([s_K[None], scores_SK])
    return _finish(path_SKH, scores_SK, z_KH.shape[0] * num_pairs(pairs) * (steps + 1))


def no_search(model: LPN, pairs, key=None, *, weights_N=None) -> SearchTrace:
    """The mean latent alone (Grad 0), as a trace of one point."""
    z_H = mean_latent(model, pairs, weights_N=weights_N)
    score = log_prob(model, z_H, pairs, weights_N)
    return _finish(z_H[None, None], score[None, None], num_pairs(pairs))


def _search_batch(method, model, batch, keys, options):
    return over_tasks(model, batch, keys, method, options, trace_only, alone)


def search_batch(method, model: LPN, batch, key, **options) -> SearchTrace:
    """Runs `method` on every task of `batch` at once (vmapped and jitted, the tasks spread over the
    local devices); every field of the returned trace gets a leading task axis B. Options must be
    hashable (optimisers are)."""
    model, (batch, keys), n = spread_tasks(model, batch, jax.random.split(key, batch.inputs.shape[0]))
    return first(_search_batch(method, model, batch, keys, tuple(sorted(options.items()))), n)
