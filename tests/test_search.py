import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from conftest import TINY
from lpn.grids import batch_tasks, make_task
from lpn.search import (
    encoder_sampling,
    gradient_search,
    local_search,
    log_prob,
    mean_latent,
    no_search,
    random_search,
    search_batch,
)

_JITTED = {}


def run(method, model, pairs, **options):
    """`method` jitted, its options static: one compiled program per method and options (an
    optimiser object is the same options each time it is passed), reused by every test."""
    jitted = _JITTED.setdefault(method, eqx.filter_jit(method))
    return jitted(model, pairs, jax.random.key(1), **options)


def test_zero_steps_returns_the_start(tiny_model, random_pairs):
    trace = run(gradient_search, tiny_model, random_pairs, steps=0)
    start = eqx.filter_jit(mean_latent)(tiny_model, random_pairs)
    assert trace.latents.shape == (1, 1, TINY.latent_dim)
    np.testing.assert_allclose(trace.best, start, rtol=1e-6)
    np.testing.assert_allclose(trace.best_score, eqx.filter_jit(log_prob)(tiny_model, start, random_pairs), rtol=1e-5)
    assert trace.second_score == -jnp.inf  # no distinct latent was seen


@pytest.mark.parametrize("optimizer", [None, optax.sgd(0.5), optax.adam(optax.cosine_decay_schedule(0.3, 20))])
def test_best_never_below_start_and_is_best_of_path(tiny_model, random_pairs, optimizer):
    trace = run(gradient_search, tiny_model, random_pairs, steps=20, optimizer=optimizer, num_random_starts=2)
    assert trace.latents.shape == (21, 3, TINY.latent_dim) and trace.scores.shape == (21, 3)
    assert trace.best_score >= trace.scores[0].max()
    assert trace.best_score == trace.scores.max()
    assert trace.second_score <= trace.best_score
    assert jnp.abs(trace.second - trace.best).max() > 0
    # Scores in the trace are the objective at the recorded latents.
    i = 7
    np.testing.assert_allclose(
        eqx.filter_jit(log_prob)(tiny_model, trace.latents[i, 0], random_pairs), trace.scores[i, 0], rtol=1e-4
    )


def test_gradient_search_climbs(tiny_model, random_pairs):
    trace = run(gradient_search, tiny_model, random_pairs, steps=30, optimizer=optax.adam(0.1))
    assert trace.scores[-1, 0] > trace.scores[0, 0]


@pytest.mark.slow  # eager, each of ~600 operations compiles a program of its own: 25-37 s of CPU cold
def test_jit_and_no_jit_agree(tiny_model, random_pairs):
    opt = optax.adam(0.1)
    jitted = run(gradient_search, tiny_model, random_pairs, steps=3, optimizer=opt)
    with jax.disable_jit():
        eager = gradient_search(tiny_model, random_pairs, jax.random.key(1), steps=3, optimizer=opt)
    np.testing.assert_allclose(jitted.latents, eager.latents, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(jitted.scores, eager.scores, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_gradient_free_methods_share_the_signature(tiny_model, random_pairs):
    n = int(random_pairs.pair_mask.sum())
    rs = run(random_search, tiny_model, random_pairs, num_samples=15)
    assert rs.latents.shape == (1, 16, TINY.latent_dim) and int(rs.num_evals) == 16 * n
    np.testing.assert_allclose(rs.latents[0, 0], eqx.filter_jit(mean_latent)(tiny_model, random_pairs), rtol=1e-6)
    prior = run(random_search, tiny_model, random_pairs, num_samples=15, from_prior=True)
    assert prior.best_score >= prior.scores[0].max()
    es = run(encoder_sampling, tiny_model, random_pairs, num_samples=7)
    assert es.latents.shape == (1, 8, TINY.latent_dim) and es.best_score == es.scores.max()
    ls = run(local_search, tiny_model, random_pairs, steps=12, num_starts=2, scale=0.3)
    assert ls.latents.shape == (13, 2, TINY.latent_dim)
    assert (jnp.diff(ls.scores, axis=0) >= 0).all()  # a hill-climb never goes down
    assert int(ls.num_evals) == 2 * n * 13
    gs = run(gradient_search, tiny_model, random_pairs, steps=12)
    assert int(gs.num_evals) == n * (3 * 12 + 1)
    ns = run(no_search, tiny_model, random_pairs)
    assert ns.latents.shape == (1, 1, TINY.latent_dim)


def test_weights_select_pairs(tiny_model, random_pairs):
    z = jnp.ones(TINY.latent_dim)
    lp = eqx.filter_jit(log_prob)
    only_first = jnp.array([1.0, 0.0, 0.0, 0.0])
    rest = random_pairs.pair_mask * (1 - only_first)
    np.testing.assert_allclose(
        lp(tiny_model, z, random_pairs, only_first) + lp(tiny_model, z, random_pairs, rest),
        lp(tiny_model, z, random_pairs),
        rtol=1e-5,
    )


@pytest.mark.slow
def test_search_batch_vmaps_over_tasks_with_per_task_clipping(tiny_model):
    rng = np.random.default_rng(5)
    tasks = [
        make_task([(rng.integers(0, 10, (3, 3)), rng.integers(0, 10, (2, 4))) for _ in range(2)]) for _ in range(3)
    ]
    batch = batch_tasks(tasks, TINY.max_rows, TINY.max_cols)
    opt = optax.sgd(1.0)
    traces = search_batch(gradient_search, tiny_model, batch, jax.random.key(0), steps=4, optimizer=opt)
    assert traces.latents.shape == (3, 5, 1, TINY.latent_dim)
    # Each task's path is the one it gets alone: clipping and optimiser state are per task.
    for i in range(3):
        one = jax.tree.map(lambda a: jnp.asarray(a[i]), batch)
        alone = run(gradient_search, tiny_model, one, steps=4, optimizer=opt)
        np.testing.assert_allclose(traces.latents[i], alone.latents, rtol=1e-4, atol=1e-5)
    # Clipping bounds every step of SGD(1.0) to norm 1.
    step_norms = jnp.linalg.norm(jnp.diff(traces.latents, axis=1), axis=-1)
    assert step_norms.max() <= 1.0 + 1e-4


def test_candidates_scored_in_chunks_score_as_all_at_once(tiny_model):
    from lpn.pattern import pattern_task
    from lpn.search import log_prob, score_candidates

    pairs = eqx.filter_jit(pattern_task)(jax.random.key(5), tiny_model.config, 3)
    z_KH = jax.random.normal(jax.random.key(6), (7, tiny_model.config.latent_dim))
    whole = eqx.filter_jit(jax.vmap(log_prob, in_axes=(None, 0, None)))(tiny_model, z_KH, pairs)
    # 7 candidates in chunks of 3: two full chunks and a remainder.
    chunked = eqx.filter_jit(score_candidates)(tiny_model, z_KH, pairs, chunk=3)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5)
