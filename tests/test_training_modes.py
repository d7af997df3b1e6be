"""Table 1's training modes besides Grad K: "Sample N" (the best of the leave-one-out mean and N
samples around it, scored on the other pairs) and Fig 2's "no encoder" (pair latents drawn from
N(0, I)), in both loss shapes (`task_loss`, `last_pair_loss`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import TINY
from lpn import pattern_batch
from lpn.loss import (
    batch_loss,
    last_pair_loss,
    leave_one_out,
    other_pairs,
    sample_latents,
    task_latents,
    task_loss,
)
from lpn.model import LPN
from lpn.search import log_prob
from lpn.train import init_state, train_chunk


@pytest.fixture(scope="module")
def model():
    return LPN(TINY, jax.random.key(0))


@pytest.fixture(scope="module")
def task():
    return jax.tree.map(lambda a: a[0], pattern_batch(jax.random.key(1), TINY, 1))


def total(loss_fn, cfg, **options):
    """The training objective of one task, recon + beta * KL, as a function of the model."""

    def fn(model, task, key):
        recon, kl = loss_fn(model, task, key, cfg, **options)
        return recon + cfg.kl_coeff * kl

    return fn


def assert_trees_close(a, b, **tolerance):
    a, b = jax.tree.leaves(eqx.filter(a, eqx.is_array)), jax.tree.leaves(eqx.filter(b, eqx.is_array))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tolerance)


def encoder_grads(loss_fn, model, task, key, cfg):
    """The gradient of the reconstruction term with respect to the encoder's weights, as one vector."""
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: loss_fn(m, task, key, cfg)[0]))(model)
    return jnp.concatenate([g.ravel() for g in jax.tree.leaves(eqx.filter(grads.encoder, eqx.is_array))])


@pytest.mark.slow
@pytest.mark.parametrize("loss_fn", [task_loss, last_pair_loss])
def test_sample_0_is_grad_0_in_value_and_gradients(model, task, loss_fn):
    key = jax.random.key(2)
    plain = eqx.filter_jit(eqx.filter_value_and_grad(total(loss_fn, TINY)))(model, task, key)
    sample_0 = eqx.filter_jit(eqx.filter_value_and_grad(total(loss_fn, TINY, num_samples=0)))(model, task, key)
    np.testing.assert_allclose(sample_0[0], plain[0], rtol=1e-6)
    assert_trees_close(sample_0[1], plain[1], rtol=1e-5, atol=1e-8)
    # The forced path is the Sample path: with samples, the latents (so the loss) move.
    assert eqx.filter_jit(total(loss_fn, TINY, num_samples=8))(model, task, key) != plain[0]


@pytest.mark.slow
def test_sample_n_predicts_each_pair_from_the_best_candidate_of_the_other_pairs(model, task):
    n, sigma, key = 16, 0.5, jax.random.key(3)
    cfg = TINY.replace(train_samples=n, train_sample_sigma=sigma)
    z_NH, mu_NH, logvar_NH = task_latents(model, task, key, cfg)
    # By hand: the leave-one-out means of the plain loss, then for pair i the mean and n samples
    # mean + sigma * eps (eps from pair i's search key, as random_search draws them), scored on the others.
    k_sample, k_search = jax.random.split(key)
    mean_NH, _ = leave_one_out(sample_latents(mu_NH, logvar_NH, k_sample, TINY), task.pair_mask)
    np.testing.assert_allclose(task_latents(model, task, key, TINY)[0], mean_NH, rtol=1e-6)
    others = other_pairs(task)
    scores = jax.jit(jax.vmap(log_prob, in_axes=(None, 0, None)))
    moved = 0
    for i, k_i in enumerate(jax.random.split(k_search, z_NH.shape[0])):
        others_i = jax.tree.map(lambda a: a[i], others)
        eps_KH = jax.random.normal(jax.random.split(k_i)[1], (n, TINY.latent_dim))
        candidates_KH = jnp.concatenate([mean_NH[i][None], mean_NH[i] + sigma * eps_KH])
        scores_K = scores(model, candidates_KH, others_i)
        np.testing.assert_allclose(z_NH[i], candidates_KH[jnp.argmax(scores_K)], rtol=1e-5, atol=1e-6)
        chosen, mean = scores(model, jnp.stack([z_NH[i], mean_NH[i]]), others_i)
        assert chosen >= mean - 1e-5
        moved += int(jnp.argmax(scores_K) > 0)
    assert moved > 0  # some pair found a better latent than its mean, or the check above says little


@pytest.mark.slow
def test_sample_n_trains_the_encoder_through_the_mean(model, task):
    """The chosen latent is the mean moved by a constant: every weight's gradient is that of
    reconstructing from `mean + stop_gradient(chosen - mean)`, the mean differentiable."""
    from lpn.loss import kl_divergence
    from lpn.model import encode_pairs, pair_log_prob

    cfg, key = TINY.replace(train_samples=4), jax.random.key(4)
    chosen_NH = task_latents(model, task, key, cfg)[0]
    k_sample, _ = jax.random.split(key)
    mask_N = task.pair_mask.astype(jnp.float32)

    def by_hand(model):
        mu_NH, logvar_NH = encode_pairs(model, task)
        mean_NH = leave_one_out(sample_latents(mu_NH, logvar_NH, k_sample, cfg), task.pair_mask)[0]
        z_NH = mean_NH + jax.lax.stop_gradient(chosen_NH - mean_NH)
        recon_N = -jax.vmap(pair_log_prob, in_axes=(None, 0, 0, 0, 0, 0))(
            model, z_NH, task.inputs, task.input_shapes, task.outputs, task.output_shapes
        )
        kl_N = jax.vmap(kl_divergence)(mu_NH, logvar_NH)
        return (jnp.sum(mask_N * recon_N) + cfg.kl_coeff * jnp.sum(mask_N * kl_N)) / mask_N.sum()

    grads = eqx.filter_jit(eqx.filter_grad(total(task_loss, cfg)))(model, task, key)
    assert_trees_close(grads, eqx.filter_jit(eqx.filter_grad(by_hand))(model), rtol=1e-4, atol=1e-6)
    encoder = encoder_grads(task_loss, model, task, key, cfg)
    assert bool(jnp.all(jnp.isfinite(encoder))) and float(jnp.abs(encoder).max()) > 0


@pytest.mark.slow
def test_no_encoder_latents_are_prior_draws_and_reconstruction_ignores_the_encoder(model, task):
    cfg, key = TINY.replace(train_prior_latents=True), jax.random.key(5)
    z_NH, mu_NH, logvar_NH = task_latents(model, task, key, cfg)
    k_sample, _ = jax.random.split(key)
    draws_NH = jax.random.normal(k_sample, mu_NH.shape)
    np.testing.assert_allclose(z_NH, leave_one_out(draws_NH, task.pair_mask)[0], rtol=1e-6)
    for loss_fn in (task_loss, last_pair_loss):
        assert float(jnp.abs(encoder_grads(loss_fn, model, task, key, cfg)).max()) == 0
        assert float(jnp.abs(encoder_grads(loss_fn, model, task, key, TINY)).max()) > 0  # the control
        # Other encoder weights: the same reconstruction, another KL (the KL term stays as before).
        other = eqx.tree_at(lambda m: m.encoder, model, LPN(TINY, jax.random.key(9)).encoder)
        loss = eqx.filter_jit(loss_fn)
        recon, kl = loss(model, task, key, cfg)
        recon_other, kl_other = loss(other, task, key, cfg)
        np.testing.assert_allclose(recon_other, recon, rtol=1e-6)
        np.testing.assert_allclose(kl, loss(model, task, key, TINY)[1], rtol=1e-6)
        assert kl_other != kl


@pytest.mark.slow
def test_no_encoder_draws_are_standard_normal(model):
    batch = pattern_batch(jax.random.key(6), TINY, 64)
    cfg = TINY.replace(train_prior_latents=True)
    keys = jax.random.split(jax.random.key(7), 64)
    z_BNH = jax.vmap(lambda pairs, k: task_latents(model, pairs, k, cfg)[0])(batch, keys)
    # Each leave-one-out latent is the mean of 3 N(0, I) draws: mean 0, variance 1/3.
    np.testing.assert_allclose(float(z_BNH.mean()), 0.0, atol=0.05)
    np.testing.assert_allclose(float(z_BNH.var()), 1 / 3, rtol=0.15)


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    [
        {"train_samples": 5},
        {"train_prior_latents": True},
        {"train_samples": 3, "train_prior_latents": True, "train_targets": "last"},
    ],
    ids=["sample", "no-encoder", "both-last"],
)
def test_each_mode_trains_a_few_steps_and_stays_finite(mode):
    cfg = TINY.replace(batch_size=4, **mode)
    state, metrics = train_chunk(init_state(cfg, jax.random.key(0)), cfg, 3)
    assert int(state.step) == 3
    assert all(np.isfinite(np.asarray(m)).all() for m in metrics)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [{"train_samples": 5}, {"train_prior_latents": True}, {"train_search_steps": 1}])
def test_last_pair_loss_with_each_mode_is_finite(model, task, mode):
    cfg = TINY.replace(train_targets="last", **mode)
    recon, kl = eqx.filter_jit(last_pair_loss)(model, task, jax.random.key(8), cfg)
    assert np.isfinite(float(recon)) and np.isfinite(float(kl)) and float(recon) > 0
    loss, _ = eqx.filter_jit(batch_loss)(model, pattern_batch(jax.random.key(9), cfg, 2), jax.random.key(10), cfg)
    assert np.isfinite(float(loss))
