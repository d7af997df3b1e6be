"""The paper's training objective (§2, Algorithm 2): the leave-one-out loss with β·KL. Each pair of
a task is predicted from the mean latent of the others (`leave_one_out`), sampled from their
posteriors (`sample_latents`, the noise scaled by `Config.latent_noise_warmup` through
`noise_scale`), and the loss is its reconstruction term plus `cfg.kl_coeff` times the KL of the
posteriors to N(0, I).

Table 1's training modes refine each leave-one-out latent on the other pairs before it predicts its
pair (`refine`): K steps of gradient search ("Grad K", `Config.train_search_steps`) or the best of N
samples around it ("Sample N", `Config.train_samples`). Fig 2's "no encoder" training
(`Config.train_prior_latents`) builds the leave-one-out means from N(0, I) draws instead of the
encoder's latents. Not in the paper: `Config.train_targets = "last"` predicts only each task's last
pair from the others, the shape of test time, for N - 1 encodings and one decoding a task instead
of N of each. Another model class (`lpn.in_context.InContext`) brings its own `task_loss`, which
`loss_function` picks.

`batch_loss` is the mean over a batch of tasks; `accumulated_grads` its value and gradient, over
micro-batches (`Config.micro_batch_size`) when the batch is split. `lpn.train` steps on them.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from lpn.architectures import kind_of
from lpn.config import Config
from lpn.model import LPN, encode_pairs, pair_log_prob
from lpn.search import gradient_search, random_search


def kl_divergence(mu_H, logvar_H):
    return 0.5 * jnp.sum(jnp.exp(logvar_H) + mu_H**2 - 1.0 - logvar_H)


def leave_one_out(z_NH, mask_N):
    """For each pair i, the mean of the other pairs' latents: (N, H), and the weights used (N, N)."""
    weights_NN = mask_N[None, :] * (1.0 - jnp.eye(mask_N.size))
    return weights_NN @ z_NH / jnp.maximum(weights_NN.sum(1, keepdims=True), 1.0), weights_NN


def others_index(n: int):
    """(N, N-1) ints: row i lists the pairs other than i."""
    return jnp.array([[j for j in range(n) if j != i] for i in range(n)])


def other_pairs(pairs):
    """For each pair i, the task without it: every field gets shape (N, N-1, ...)."""
    others = others_index(pairs.pair_mask.shape[0])
    return jax.tree.map(lambda a: a[others], pairs)


def sample_latents(mu_NH, logvar_NH, key, cfg: Config, noise_scale=1.0):
    """z = mu + noise_scale * sigma * eps for a variational model; mu otherwise."""
    noise_NH = noise_scale * jnp.exp(0.5 * logvar_NH) * jax.random.normal(key, mu_NH.shape)
    return mu_NH + cfg.variational * noise_NH


def refine(model: LPN, pairs, z_H, key, cfg: Config, num_samples: int | None = None):
    """The leave-one-out latent z_H, refined on the log-likelihood of `pairs` (the other pairs, those
    that built it) as `cfg` says, the best latent seen being returned:

    - Sample N (`cfg.train_samples`, or `num_samples` if given, 0 included): the best of z_H and N
      candidates z_H + sigma·eps (`random_search`), for (N + 1) decodings of each other pair;
    - Grad K (`cfg.train_search_steps`): K Adam steps from z_H (`gradient_search`), the path's best;
    - neither: z_H itself.

    The move from z_H is a constant (stop-gradient), always for Sample N and by default for Grad K:
    the encoder still learns through z_H, the decoder gets no second-order terms. Grad K ** (without
    `cfg.train_search_stop_gradient`) differentiates through the steps."""
    num_samples = (cfg.train_samples or None) if num_samples is None else num_samples
    stop = num_samples is not None or cfg.train_search_stop_gradient
    inner = jax.lax.stop_gradient(model) if stop else model
    if num_samples is not None:
        trace = random_search(inner, pairs, key, num_samples=num_samples, scale=cfg.train_sample_sigma, start=z_H)
    elif cfg.train_search_steps:
        trace = gradient_search(
            inner,
            pairs,
            key,
            steps=cfg.train_search_steps,
            start=z_H,
            optimizer=optax.adam(cfg.train_search_lr, b2=0.9),
        )
    else:
        return z_H
    return z_H + jax.lax.stop_gradient(trace.best - z_H) if stop else trace.best


def pair_latents(mu_NH, logvar_NH, key, cfg: Config, noise_scale=1.0):
    """Each pair's latent before aggregation: a sample of its posterior (`sample_latents`), or, for
    "no encoder" training (`cfg.train_prior_latents`), an N(0, I) draw that ignores the encoder."""
    if cfg.train_prior_latents:
        return jax.random.normal(key, mu_NH.shape)
    return sample_latents(mu_NH, logvar_NH, key, cfg, noise_scale)


def task_latents(model: LPN, pairs, key, cfg: Config, noise_scale=1.0, num_samples: int | None = None):
    """(z_NH, mu_NH, logvar_NH): the latent each pair is predicted from (the others' mean, refined by
    `refine`) and the pairs' posteriors."""
    k_sample, k_search = jax.random.split(key)
    mu_NH, logvar_NH = encode_pairs(model, pairs)
    z_NH, _ = leave_one_out(pair_latents(mu_NH, logvar_NH, k_sample, cfg, noise_scale), pairs.pair_mask)
    keys = jax.random.split(k_search, z_NH.shape[0])
    z_NH = jax.vmap(lambda others, z, k: refine(model, others, z, k, cfg, num_samples))(other_pairs(pairs), z_NH, keys)
    return z_NH, mu_NH, logvar_NH


def task_loss(model: LPN, pairs, key, cfg: Config, noise_scale=1.0, num_samples: int | None = None):
    """Leave-one-out loss of one task: each pair is predicted from the latent of the others.
    `noise_scale` multiplies the sampling noise of the latents (see `Config.latent_noise_warmup`);
    `num_samples` forces Sample N with that N (see `refine`)."""
    z_NH, mu_NH, logvar_NH = task_latents(model, pairs, key, cfg, noise_scale, num_samples)
    recon_N = -jax.vmap(pair_log_prob, in_axes=(None, 0, 0, 0, 0, 0))(
        model, z_NH, pairs.inputs, pairs.input_shapes, pairs.outputs, pairs.output_shapes
    )
    kl_N = jax.vmap(kl_divergence)(mu_NH, logvar_NH) if cfg.variational else jnp.zeros_like(recon_N)
    mask_N = pairs.pair_mask.astype(jnp.float32)
    count = jnp.maximum(mask_N.sum(), 1.0)
    return jnp.sum(mask_N * recon_N) / count, jnp.sum(mask_N * kl_N) / count


def last_pair_loss(model: LPN, pairs, key, cfg: Config, noise_scale=1.0, num_samples: int | None = None):
    """The loss in the shape of test time: the last valid pair is predicted from the mean latent of
    the others, and only they are encoded. Each task gives one prediction instead of N, for the
    work of N - 1 encodings and one decoding instead of N of each: with 2 pairs, half the cost of
    `task_loss`, so a step can hold twice the tasks (`Config.train_targets = "last"`). The training
    modes apply as in `task_loss`."""
    n = pairs.pair_mask.shape[0]
    if n < 2:
        raise ValueError(f"train_targets='last' needs at least 2 pairs per task, got {n}")
    k_sample, k_search = jax.random.split(key)
    target = n - 1 - jnp.argmax(pairs.pair_mask[::-1])  # the last valid pair
    context = jax.tree.map(lambda a: a[others_index(n)[target]], pairs)
    mu_MH, logvar_MH = encode_pairs(model, context)
    z_MH = pair_latents(mu_MH, logvar_MH, k_sample, cfg, noise_scale)
    mask_M = context.pair_mask.astype(jnp.float32)
    count = jnp.maximum(mask_M.sum(), 1.0)
    z_H = refine(model, context, mask_M @ z_MH / count, k_search, cfg, num_samples)
    recon = -pair_log_prob(
        model, z_H, pairs.inputs[target], pairs.input_shapes[target], pairs.outputs[target], pairs.output_shapes[target]
    )
    kl = jnp.sum(mask_M * jax.vmap(kl_divergence)(mu_MH, logvar_MH)) / count if cfg.variational else 0.0 * recon
    return recon, kl


def loss_function(model, cfg: Config) -> Callable:
    """`fn(model, pairs, key, cfg, noise_scale) -> (reconstruction, kl)` for `model`'s architecture:
    LPN's losses above, or the `task_loss` method another architecture brings (lpn/in_context.py)."""
    own = kind_of(model).loss
    if own is not None:
        return own(cfg)
    return last_pair_loss if cfg.train_targets == "last" else task_loss


def batch_loss(model: LPN, batch, key, cfg: Config, noise_scale=1.0):
    loss_fn = loss_function(model, cfg)
    keys = jax.random.split(key, batch.inputs.shape[0])
    recon_B, kl_B = jax.vmap(lambda pairs, k: loss_fn(model, pairs, k, cfg, noise_scale))(batch, keys)
    recon, kl = recon_B.mean(), kl_B.mean()
    return recon + cfg.kl_coeff * kl, (recon, kl)


def accumulated_grads(model: LPN, batch, key, cfg: Config, noise_scale=1.0):
    """Loss, metrics and gradients of the whole batch, computed over micro-batches of
    `cfg.micro_batch_size` tasks in a scan: the same mean gradient, but activations stay in cache
    (on CPU, four micro-batches of 32 run faster than one batch of 128). Micro-batch m takes tasks
    m, m + M, m + 2M, ... so that each one stays spread over every device's shard."""
    size = batch.inputs.shape[0]
    micro = cfg.micro_batch_size if 0 < cfg.micro_batch_size < size else size
    if size % micro:
        raise ValueError(f"batch_size {size} is not a multiple of micro_batch_size {micro}")
    grad_fn = eqx.filter_value_and_grad(batch_loss, has_aux=True)
    if micro == size:
        return grad_fn(model, batch, key, cfg, noise_scale)
    chunks = jax.tree.map(lambda a: jnp.moveaxis(a.reshape(micro, size // micro, *a.shape[1:]), 1, 0), batch)

    def body(total, xs):
        chunk, k = xs
        out = grad_fn(model, chunk, k, cfg, noise_scale)
        return jax.tree.map(jnp.add, total, out), None

    shapes = eqx.filter_eval_shape(grad_fn, model, jax.tree.map(lambda a: a[0], chunks), key, cfg, noise_scale)
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    total, _ = jax.lax.scan(body, zeros, (chunks, jax.random.split(key, size // micro)))
    return jax.tree.map(lambda x: x / (size // micro), total)
