"""Training (paper §2, Algorithm 2): the leave-one-out loss with β·KL, optionally refining each
leave-one-out latent by K steps of gradient search first ("Grad K"). Not in the paper:
`Config.train_targets = "last"` predicts only each task's last pair from the others, the shape of
test time, for N - 1 encodings and one decoding a task instead of N of each.

`train_chunk` runs k optimiser steps inside one `jit` as a `lax.scan`, generating the tasks on the
device; `train` is the Python loop around it with a progress bar, periodic evaluation, checkpoints
and a callback for live displays. The batch is sharded over the local devices (data parallel: on a
CPU, one device per core, see `lpn.devices`); the model is replicated and XLA inserts the gradient
all-reduce.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

from lpn.checkpoint import load_checkpoint, load_opt_state, resolve, save_checkpoint
from lpn.config import Config
from lpn.devices import training_devices
from lpn.model import LPN, encode_pairs, pair_log_prob
from lpn.pattern import pattern_batch
from lpn.search import gradient_search


class TrainState(NamedTuple):
    model: LPN
    opt_state: optax.OptState
    step: jax.Array
    key: jax.Array


class Metrics(NamedTuple):
    loss: jax.Array
    reconstruction: jax.Array  # -log p(y | x, z) per pair
    kl: jax.Array  # KL(q(z | x, y) || N(0, I)) per pair
    grad_norm: jax.Array


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


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


def refine(model: LPN, pairs, z_H, key, cfg: Config):
    """Grad K: K Adam steps on the log-likelihood of `pairs` (the other pairs) from z_H; the best
    latent of the path (start included) is returned. By default the move is a constant
    (stop-gradient): the encoder still learns through z_H, the decoder gets no second-order terms."""
    inner = jax.lax.stop_gradient(model) if cfg.train_search_stop_gradient else model
    trace = gradient_search(inner, pairs, key, steps=cfg.train_search_steps, start=z_H,
                            optimizer=optax.adam(cfg.train_search_lr, b2=0.9))
    if cfg.train_search_stop_gradient:
        return z_H + jax.lax.stop_gradient(trace.best - z_H)
    return trace.best


def task_loss(model: LPN, pairs, key, cfg: Config, noise_scale=1.0):
    """Leave-one-out loss of one task: each pair is predicted from the latent of the others.
    `noise_scale` multiplies the sampling noise of the latents (see `Config.latent_noise_warmup`)."""
    k_sample, k_search = jax.random.split(key)
    mu_NH, logvar_NH = encode_pairs(model, pairs)
    z_NH, _ = leave_one_out(sample_latents(mu_NH, logvar_NH, k_sample, cfg, noise_scale), pairs.pair_mask)
    if cfg.train_search_steps:
        keys = jax.random.split(k_search, z_NH.shape[0])
        z_NH = jax.vmap(lambda others, z, k: refine(model, others, z, k, cfg))(other_pairs(pairs), z_NH, keys)
    recon_N = -jax.vmap(pair_log_prob, in_axes=(None, 0, 0, 0, 0, 0))(
        model, z_NH, pairs.inputs, pairs.input_shapes, pairs.outputs, pairs.output_shapes
    )
    kl_N = jax.vmap(kl_divergence)(mu_NH, logvar_NH) if cfg.variational else jnp.zeros_like(recon_N)
    mask_N = pairs.pair_mask.astype(jnp.float32)
    count = jnp.maximum(mask_N.sum(), 1.0)
    return jnp.sum(mask_N * recon_N) / count, jnp.sum(mask_N * kl_N) / count


def last_pair_loss(model: LPN, pairs, key, cfg: Config, noise_scale=1.0):
    """The loss in the shape of test time: the last valid pair is predicted from the mean latent of
    the others, and only they are encoded. Each task gives one prediction instead of N, for the
    work of N - 1 encodings and one decoding instead of N of each: with 2 pairs, half the cost of
    `task_loss`, so a step can hold twice the tasks (`Config.train_targets = "last"`)."""
    n = pairs.pair_mask.shape[0]
    if n < 2:
        raise ValueError(f"train_targets='last' needs at least 2 pairs per task, got {n}")
    k_sample, k_search = jax.random.split(key)
    target = n - 1 - jnp.argmax(pairs.pair_mask[::-1])  # the last valid pair
    context = jax.tree.map(lambda a: a[others_index(n)[target]], pairs)
    mu_MH, logvar_MH = encode_pairs(model, context)
    z_MH = sample_latents(mu_MH, logvar_MH, k_sample, cfg, noise_scale)
    mask_M = context.pair_mask.astype(jnp.float32)
    count = jnp.maximum(mask_M.sum(), 1.0)
    z_H = mask_M @ z_MH / count
    if cfg.train_search_steps:
        z_H = refine(model, context, z_H, k_search, cfg)
    recon = -pair_log_prob(model, z_H, pairs.inputs[target], pairs.input_shapes[target],
                           pairs.outputs[target], pairs.output_shapes[target])
    kl = jnp.sum(mask_M * jax.vmap(kl_divergence)(mu_MH, logvar_MH)) / count if cfg.variational else 0.0 * recon
    return recon, kl


def batch_loss(model: LPN, batch, key, cfg: Config, noise_scale=1.0):
    loss_fn = last_pair_loss if cfg.train_targets == "last" else task_loss
    keys = jax.random.split(key, batch.inputs.shape[0])
    recon_B, kl_B = jax.vmap(lambda pairs, k: loss_fn(model, pairs, k, cfg, noise_scale))(batch, keys)
    recon, kl = recon_B.mean(), kl_B.mean()
    return recon + cfg.kl_coeff * kl, (recon, kl)


def learning_rate_schedule(cfg: Config) -> optax.Schedule:
    """Linear warm-up to the peak rate, then constant (§2.4), or, with `cfg.lr_decay_steps`, a
    cosine decay to 1% of the peak at that step (constant after it)."""
    warmup = max(cfg.warmup_steps, 1)
    if not cfg.lr_decay_steps:
        return optax.linear_schedule(0.0, cfg.learning_rate, warmup)
    if cfg.lr_decay_steps <= warmup:
        raise ValueError(f"lr_decay_steps ({cfg.lr_decay_steps}) must exceed warmup_steps ({warmup})")
    return optax.warmup_cosine_decay_schedule(0.0, cfg.learning_rate, warmup, cfg.lr_decay_steps,
                                              end_value=cfg.learning_rate / 100)


def make_optimizer(cfg: Config) -> optax.GradientTransformation:
    """AdamW after global-norm clipping, on `learning_rate_schedule(cfg)`."""
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip),
                       optax.adamw(learning_rate_schedule(cfg), b2=cfg.adam_b2, weight_decay=cfg.weight_decay))


def data_sharding(devices=None):
    """Shards a batch's leading axis over `devices` (default: all local devices)."""
    mesh = jax.sharding.Mesh(np.array(list(devices or jax.local_devices())), ("data",))
    return NamedSharding(mesh, PartitionSpec("data")), NamedSharding(mesh, PartitionSpec())


def init_state(cfg: Config, key, devices=None) -> TrainState:
    k_model, k_train = jax.random.split(key)
    model = LPN(cfg, k_model)
    state = TrainState(model, make_optimizer(cfg).init(eqx.filter(model, eqx.is_array)), jnp.array(0), k_train)
    return replicate(state, devices)


def replicate(state, devices=None):
    _, replicated = data_sharding(devices)
    return jax.tree.map(lambda x: jax.device_put(x, replicated) if eqx.is_array(x) else x, state)


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


def train_step(state: TrainState, batch, cfg: Config, optimizer, sharding):
    key, k_loss = jax.random.split(state.key)
    batch = jax.lax.with_sharding_constraint(batch, sharding)
    noise_scale = jnp.minimum(1.0, state.step / cfg.latent_noise_warmup) if cfg.latent_noise_warmup else 1.0
    (loss, (recon, kl)), grads = accumulated_grads(state.model, batch, k_loss, cfg, noise_scale)
    updates, opt_state = optimizer.update(grads, state.opt_state, eqx.filter(state.model, eqx.is_array))
    model = eqx.apply_updates(state.model, updates)
    return TrainState(model, opt_state, state.step + 1, key), Metrics(loss, recon, kl, optax.tree.norm(grads))


@partial(jax.jit, static_argnames=("cfg", "num_steps", "sample_batch", "devices"), donate_argnums=0)
def train_chunk(state: TrainState, cfg: Config, num_steps: int, sample_batch=None, batches=None, devices=None):
    """Runs `num_steps` training steps in one compiled scan. Tasks come from `sample_batch(key, cfg)`
    (a JAX function, default: the pattern generator) or from `batches`, host data stacked on a
    leading axis of length num_steps. Returns the new state and per-step `Metrics`."""
    sharding, _ = data_sharding(devices)
    optimizer = make_optimizer(cfg)
    sample_batch = sample_batch or (lambda key, cfg: pattern_batch(key, cfg, cfg.batch_size))

    def body(state, batch):
        if batch is None:
            key, k_data = jax.random.split(state.key)
            state, batch = state._replace(key=key), sample_batch(k_data, cfg)
        return train_step(state, batch, cfg, optimizer, sharding)

    return jax.lax.scan(body, state, batches, length=num_steps)


def train(cfg: Config, steps: int, *, seed: int = 0, out_dir=None, resume: bool = False, chunk: int = 50,
          save_every: int = 500, eval_every: int = 0, eval_fn: Callable | None = None,
          callback: Callable | None = None, sample_batch=None, host_batches: Iterator | None = None,
          progress: bool = True, devices=None, metadata: dict | None = None, time_limit: float | None = None,
          time_budget: float | None = None):
    """Trains for `steps` total steps (counting those of a resumed run) and returns (state, history).

    Tasks come from `sample_batch(key, cfg)`, a JAX function run on the device (default: the
    pattern generator), or from `host_batches`, an iterator of numpy `Batch`es of `cfg.batch_size`
    tasks (e.g. the procedural ARC-like families), stacked `chunk` at a time.

    Every `chunk` steps the host checks the loss, updates the progress bar and calls
    `callback(step, metrics: dict, state)`; every `eval_every` steps it adds `eval_fn(model)` (a
    dict) to the metrics; every `save_every` steps, and at the end, it writes a checkpoint to
    `out_dir`, with `metadata` (e.g. the training sources) in its JSON. A NaN loss raises
    `TrainingDiverged`; the last checkpoint written stays intact. With `time_limit` (seconds),
    training stops at the end of the first chunk past that wall-clock time and saves a checkpoint
    there; the history says where it stopped. With `time_budget` (seconds, a fresh run only),
    `steps` is a ceiling and a `Budget` fits the run and its learning-rate decay to the time.
    """
    from tqdm.auto import tqdm

    devices = training_devices(cfg.batch_size, cfg.micro_batch_size, devices)
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir")
    if resume and time_budget is not None:
        raise ValueError("time_budget fits a fresh run; resume a fitted run with its fitted steps instead")
    state = resume_state(out_dir, cfg, devices) if resume else init_state(cfg, jax.random.key(seed), devices)
    history, done = [], int(state.step)
    bar = tqdm(total=steps, initial=done, disable=not progress, desc="train", unit="step")
    last_saved = done if resume else 0
    deadline = None if time_limit is None else time.monotonic() + time_limit
    budget = None if time_budget is None else Budget(time_budget, cfg, steps)
    while done < steps:
        k = min(chunk, steps - done)
        tick, stacked = time.monotonic(), None  # a budget's pace counts the host's data too
        if host_batches is not None:
            stacked = jax.tree.map(lambda *xs: np.stack(xs), *[next(host_batches) for _ in range(k)])
        state, metrics = train_chunk(state, cfg, k, sample_batch, stacked, devices=devices)
        values = {name: float(np.mean(v)) for name, v in metrics._asdict().items()}
        check_finite(values, state.model, (done, done + k), out_dir if last_saved else None)
        done += k
        if budget is not None:
            steps, cfg, state = budget.after_chunk(k, time.monotonic() - tick, done, state)
            bar.total = steps
        values["step"] = done
        out_of_time = deadline is not None and time.monotonic() >= deadline
        if eval_fn and eval_every and (done % eval_every < k or done == steps or out_of_time):
            values.update(eval_fn(state.model))
        history.append(values)
        bar.update(k)
        bar.set_postfix(loss=f"{values['loss']:.4f}", kl=f"{values['kl']:.3g}")
        if out_dir and (done - last_saved >= save_every or done == steps or out_of_time):
            save_checkpoint(out_dir, state.model, step=done, opt_state=state.opt_state, metrics=values,
                            extra={**(metadata or {}), "key": np.asarray(jax.random.key_data(state.key)).tolist()})
            last_saved = done
        if callback:
            callback(done, values, state)
        if out_of_time:
            break
    bar.close()
    return state, history


def fit_to_budget(cfg: Config, steps: int, done: int, step_seconds: float, seconds_left: float,
                  multiple: int = 1) -> tuple[int, Config]:
    """The steps a run at step `done` reaches in `seconds_left` at `step_seconds` a step, in whole
    `multiple`s (at most `steps`, at least `done`), and `cfg` with its cosine decay shortened in
    proportion, so that a decay that ended at the last step still does (never before the warm-up's
    end). A constant rate, or a run that fits, keeps `cfg`."""
    more = max(0, math.floor(seconds_left / step_seconds / multiple)) * multiple
    fitted = min(steps, done + more)
    if fitted == steps or not cfg.lr_decay_steps:
        return fitted, cfg
    decay = max(round(cfg.lr_decay_steps * fitted / steps), max(cfg.warmup_steps, 1) + 1)
    return fitted, cfg.replace(lr_decay_steps=decay)


class Budget:
    """Fits a fresh run of at most `steps` steps under `cfg` to `seconds` of wall-clock time, by
    `fit_to_budget`: after its second chunk, from that chunk's pace (the first chunk's time beyond
    it is compilation, which a changed config pays again), and once more halfway through the
    fitted run, from the pace since, as a shared machine's speed drifts. The steps stay whole
    chunks (another chunk length would compile again); the two chunks that set the pace always
    run. The state, and so each checkpoint, carries the fitted config. Evaluations, checkpoints
    and callbacks are not counted in the pace: they spend the budget as they go. `clock` is for
    tests."""

    def __init__(self, seconds: float, cfg: Config, steps: int, clock: Callable = time.monotonic):
        self.clock, self.end = clock, clock() + seconds
        self.ceiling, self.base = steps, cfg  # what the fits scale from
        self.steps, self.cfg = steps, cfg  # the run as fitted so far
        self.chunks, self.first, self.since = 0, (0, 0.0), (0, 0.0)  # (steps, seconds)
        self.compile_s, self.refit_at = 0.0, None

    def after_chunk(self, k: int, seconds: float, done: int, state: TrainState):
        """Records a chunk of `k` steps that took `seconds` and ended at step `done`. Returns
        (steps, cfg, state) as fitted so far: after a fit that changes the config, the state
        (model and optimiser moments) carries it."""
        self.chunks += 1
        if self.chunks == 1:
            self.first = (k, seconds)
        elif self.chunks == 2:
            pace = seconds / k
            self.compile_s = max(0.0, self.first[1] - self.first[0] * pace)
            state = self.fit(k, done, pace, state)
            self.refit_at = (done + self.steps) // 2
        elif self.chunks > 3:  # the third chunk may have compiled the fitted config
            self.since = (self.since[0] + k, self.since[1] + seconds)
            if self.refit_at is not None and done >= self.refit_at:
                state, self.refit_at = self.fit(k, done, self.since[1] / self.since[0], state), None
        return self.steps, self.cfg, state

    def fit(self, k: int, done: int, pace: float, state: TrainState) -> TrainState:
        """Refits the run at step `done` to the time left at `pace` seconds a step."""
        self.steps, cfg = fit_to_budget(self.base, self.ceiling, done, pace,
                                        self.end - self.clock() - self.compile_s, multiple=k)
        state, self.cfg = (with_config(state, cfg) if cfg != self.cfg else state), cfg
        return state


def with_config(tree, cfg: Config):
    """`tree` with every `LPN` in it carrying `cfg`, whose architecture must be theirs: a model, or
    a training state, whose optimiser moments are shaped like the model, config included."""
    structure = jax.tree.structure(eqx.filter_eval_shape(LPN, cfg, jax.random.key(0)))
    return jax.tree.map(lambda m: jax.tree.unflatten(structure, jax.tree.leaves(m)) if isinstance(m, LPN) else m,
                        tree, is_leaf=lambda x: isinstance(x, LPN))


def check_finite(values: dict, model: LPN, steps: tuple[int, int], checkpoint_dir=None):
    """Raises `TrainingDiverged` if a metric or a weight is NaN or infinite, naming the steps and
    `checkpoint_dir` (the last good checkpoint), if any."""
    if all(math.isfinite(v) for v in values.values()) and bool(all_finite(model)):
        return
    where = f"; the last good checkpoint is {resolve(checkpoint_dir)}" if checkpoint_dir else ""
    raise TrainingDiverged(f"training diverged between steps {steps[0]} and {steps[1]} (loss {values['loss']}, "
                           f"non-finite values in the loss or the weights){where}")


@eqx.filter_jit
def all_finite(tree):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]))


def resume_state(out_dir, cfg: Config, devices=None) -> TrainState:
    """The training state of the latest checkpoint in `out_dir`, continued under `cfg` (whose
    architecture must match the checkpoint's)."""
    model, meta = load_checkpoint(out_dir, cfg)
    opt_state = load_opt_state(out_dir, make_optimizer(cfg).init(eqx.filter(model, eqx.is_array)))
    key = jax.random.wrap_key_data(jnp.asarray(meta["key"], jnp.uint32))
    return replicate(TrainState(model, opt_state, jnp.array(meta["step"]), key), devices)
