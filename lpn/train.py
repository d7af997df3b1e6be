"""Training (paper §2, Algorithm 2): the leave-one-out loss with β·KL. Table 1's training modes
refine each leave-one-out latent on the other pairs before it predicts its pair (`refine`): K steps
of gradient search ("Grad K", `Config.train_search_steps`) or the best of N samples around it
("Sample N", `Config.train_samples`). Fig 2's "no encoder" training (`Config.train_prior_latents`)
builds the leave-one-out means from N(0, I) draws instead of the encoder's latents. Not in the paper:
`Config.train_targets = "last"` predicts only each task's last pair from the others, the shape of
test time, for N - 1 encodings and one decoding a task instead of N of each. The architecture is a
value, `LPN` by default: another model class (`lpn.in_context.InContext`) brings its own
`task_loss`, which `loss_function` picks.

`train_chunk` runs k optimiser steps inside one `jit` as a `lax.scan`, generating the tasks on the
device; `train` is the Python loop around it with a progress bar, periodic evaluation, checkpoints
and a callback for live displays, and a history of one `Record` a chunk (on disk too, in the run
folder's `metrics.jsonl`: `lpn.runlog`). The optimiser is a value
(`make_optimizer(cfg)` unless one is passed in). The batch is sharded over the local devices (data
parallel: on a CPU, one device per core, see `lpn.devices`), or over every device of every process
in a run of several (`lpn.distributed`, only process 0 writing); the model is replicated and XLA
inserts the gradient all-reduce. SIGINT or SIGTERM during a run with a checkpoint folder ends it at
the end of the running chunk, with a checkpoint there (`TrainingInterrupted`).
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

from lpn.checkpoint import CheckpointError, load_checkpoint, load_opt_state, resolve, save_checkpoint
from lpn.config import Config
from lpn.devices import training_devices
from lpn.distributed import anyone, global_batches, is_main, local_copy, put_replicated
from lpn.in_context import ARCHITECTURES, architecture_name
from lpn.model import LPN, encode_pairs, pair_log_prob
from lpn.pattern import pattern_batch
from lpn.runlog import MetricsLog
from lpn.search import gradient_search, random_search


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


class Record(NamedTuple):
    """One entry of `train`'s history, at the end of a chunk: the step it reached, the means of the
    chunk's `Metrics`, and what the evaluation returned there ({} where it did not run)."""

    step: int
    loss: float
    reconstruction: float
    kl: float
    grad_norm: float
    evaluation: Mapping[str, float] = {}

    def to_dict(self) -> dict[str, float]:
        """The step, the metrics and the evaluation's scores in one flat dict (for JSON and charts)."""
        values = self._asdict()
        evaluation = values.pop("evaluation")
        return {**values, **evaluation}


@dataclass(frozen=True)
class Checkpoints:
    """What `train` writes to its `out_dir`: a checkpoint every `every` steps and at the end, with
    `metadata` (e.g. the training sources) in its JSON."""

    every: int = 500
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """`fn(model) -> {name: score}`, run by `train` every `every` steps and where the run ends; the
    scores go to that chunk's `Record.evaluation`."""

    fn: Callable[[LPN], Mapping[str, float]]
    every: int


@dataclass(frozen=True)
class Deadline:
    """Wall-clock seconds for `train` (compilation included). By default the run stops at the end of
    the first chunk past them, with a checkpoint there. With `fit=True` (a fresh run on the default
    optimiser only), `steps` is a ceiling and a `Budget` fits the steps and the learning-rate decay
    of `make_optimizer(cfg)` to the time."""

    seconds: float
    fit: bool = False


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped `train` at `step` of its `steps`, after a checkpoint there in
    `out_dir`: `train(cfg, steps, out_dir=out_dir, resume=True)` continues the run."""

    def __init__(self, signal_name: str, step: int, steps: int, out_dir):
        super().__init__(f"interrupted ({signal_name}) at step {step} of {steps}; checkpoint saved in {out_dir}")
        self.signal_name, self.step, self.steps, self.out_dir = signal_name, step, steps, Path(out_dir)


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
    if isinstance(model, LPN):
        return last_pair_loss if cfg.train_targets == "last" else task_loss
    return type(model).task_loss


def batch_loss(model: LPN, batch, key, cfg: Config, noise_scale=1.0):
    loss_fn = loss_function(model, cfg)
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
    return optax.warmup_cosine_decay_schedule(
        0.0, cfg.learning_rate, warmup, cfg.lr_decay_steps, end_value=cfg.learning_rate / 100
    )


def make_optimizer(cfg: Config) -> optax.GradientTransformation:
    """AdamW after global-norm clipping, on `learning_rate_schedule(cfg)`."""
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.adamw(learning_rate_schedule(cfg), b2=cfg.adam_b2, weight_decay=cfg.weight_decay),
    )


def learning_rate_at(cfg: Config, optimizer: optax.GradientTransformation | None, opt_state, step: int) -> float | None:
    """The learning rate of optimiser step `step` (counted from 0): `learning_rate_schedule(cfg)`'s
    for the default optimiser. For a passed-in one, the `learning_rate` its state holds, which an
    `optax.inject_hyperparams` optimiser keeps as that of its last step; None if it holds none (or
    several)."""
    if optimizer is None:
        return float(learning_rate_schedule(cfg)(step))
    found = [v for _, v in optax.tree_utils.tree_get_all_with_path(opt_state, "learning_rate") if eqx.is_array(v)]
    return float(found[0]) if len(found) == 1 else None


def data_sharding(devices=None):
    """Shards a batch's leading axis over `devices` (default: all local devices)."""
    mesh = jax.sharding.Mesh(np.array(list(devices or jax.local_devices())), ("data",))
    return NamedSharding(mesh, PartitionSpec("data")), NamedSharding(mesh, PartitionSpec())


def init_state(
    cfg: Config, key, devices=None, optimizer: optax.GradientTransformation | None = None, architecture: type = LPN
) -> TrainState:
    """A fresh model of class `architecture` (`LPN`, or a value of `lpn.in_context.ARCHITECTURES`)
    and the state of `optimizer` (default `make_optimizer(cfg)`) for it, at step 0."""
    architecture_name(architecture)  # refuses a class that checkpoints could not name
    k_model, k_train = jax.random.split(key)
    model = architecture(cfg, k_model)
    opt_state = (optimizer or make_optimizer(cfg)).init(eqx.filter(model, eqx.is_array))
    return replicate(TrainState(model, opt_state, jnp.array(0), k_train), devices)


def replicate(state, devices=None):
    _, replicated = data_sharding(devices)
    if jax.process_count() > 1:
        return put_replicated(state, replicated)
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


@partial(jax.jit, static_argnames=("cfg", "num_steps", "sample_batch", "devices", "optimizer"), donate_argnums=0)
def train_chunk(
    state: TrainState,
    cfg: Config,
    num_steps: int,
    sample_batch=None,
    batches=None,
    devices=None,
    optimizer: optax.GradientTransformation | None = None,
):
    """Runs `num_steps` training steps in one compiled scan. Tasks come from `sample_batch(key, cfg)`
    (a JAX function, default: the pattern generator) or from `batches`, host data stacked on a
    leading axis of length num_steps. Returns the new state and per-step `Metrics`.

    `optimizer` (default `make_optimizer(cfg)`) must be the one whose state `state` holds. It is a
    static argument, compared by identity: pass the same object to every chunk, or each compiles
    again."""
    sharding, _ = data_sharding(devices)
    optimizer = optimizer or make_optimizer(cfg)
    sample_batch = sample_batch or (lambda key, cfg: pattern_batch(key, cfg, cfg.batch_size))

    def body(state, batch):
        if batch is None:
            key, k_data = jax.random.split(state.key)
            state, batch = state._replace(key=key), sample_batch(k_data, cfg)
        return train_step(state, batch, cfg, optimizer, sharding)

    return jax.lax.scan(body, state, batches, length=num_steps)


def train(
    cfg: Config,
    steps: int,
    *,
    seed: int = 0,
    out_dir=None,
    resume: bool = False,
    optimizer: optax.GradientTransformation | None = None,
    data: Callable | Iterator | None = None,
    chunk: int = 50,
    checkpoints: Checkpoints = Checkpoints(),
    evaluation: Evaluation | None = None,
    deadline: Deadline | None = None,
    callback: Callable | None = None,
    progress: bool = True,
    devices=None,
    architecture: type = LPN,
    tensorboard: bool = False,
) -> tuple[TrainState, list[Record]]:
    """Trains for `steps` total steps (counting those of a resumed run); returns the final state and
    the history, one `Record` a chunk.

    Args:
      out_dir: the run's checkpoint folder (none written without it); `resume` continues its latest
        checkpoint, with the optimiser state saved there: pass the same `optimizer` as the run had.
      optimizer: an `optax.GradientTransformation` (default `make_optimizer(cfg)`).
      data: a JAX function `sample_batch(key, cfg) -> Batch` run on the device (default: the pattern
        generator), or an iterator of numpy `Batch`es of `cfg.batch_size` tasks (e.g. the procedural
        ARC-like families), stacked `chunk` at a time.
      chunk: steps per compiled call; between chunks the host checks the loss, updates the progress
        bar, evaluates when due and calls `callback(record, state)`.
      checkpoints, evaluation, deadline: see `Checkpoints`, `Evaluation` and `Deadline`; the run's
        end, and a deadline's, also evaluate and save.
      architecture: the model class, `LPN` or `lpn.in_context.InContext` (a value of
        `lpn.in_context.ARCHITECTURES`); a resumed run must be of the same one.
      tensorboard: also write each chunk's metrics as TensorBoard scalars to `out_dir/tensorboard`
        (needs tensorboardX, the `tensorboard` extra).

    With `out_dir`, each chunk appends a line to `out_dir/metrics.jsonl` (`lpn.runlog`), before its
    checkpoint; a resumed run drops the lines past its checkpoint.

    A NaN loss raises `TrainingDiverged`; the last checkpoint written stays intact. With `out_dir`,
    SIGINT (Ctrl-C) or SIGTERM ends the run at the end of the running chunk: a checkpoint is saved
    there and `TrainingInterrupted` raised (unless that chunk was the run's last: the run then ends
    as usual). A second signal acts as it would have before (Ctrl-C quits at once; the checkpoints
    on disk stay whole, as every write is atomic).
    """
    from tqdm.auto import tqdm

    devices = training_devices(cfg.batch_size, cfg.micro_batch_size, devices)
    check_options(out_dir, resume, optimizer, deadline)
    if resume:
        state = resume_state(out_dir, cfg, devices, optimizer, architecture)
    else:
        state = init_state(cfg, jax.random.key(seed), devices, optimizer, architecture)
    sample_batch, host_batches = (data, None) if data is None or callable(data) else (None, data)
    history, done = [], int(state.step)
    last_saved = done if resume else 0
    fit = deadline is not None and deadline.fit
    budget = Budget(deadline.seconds, cfg, steps) if fit else None
    stop_at = None if deadline is None or fit else time.monotonic() + deadline.seconds
    log = MetricsLog(out_dir, done, resume, tensorboard)
    bar = tqdm(total=steps, initial=done, disable=not progress, desc="train", unit="step")
    with bar, signals_caught(out_dir is not None) as caught, log:
        while done < steps:
            k, tick = min(chunk, steps - done), time.monotonic()  # a budget's pace counts the host's data too
            stacked = (
                None
                if host_batches is None
                else jax.tree.map(lambda *xs: np.stack(xs), *[next(host_batches) for _ in range(k)])
            )
            stacked = global_batches(stacked, devices)  # several processes: every one's share, one array
            state, metrics = train_chunk(state, cfg, k, sample_batch, stacked, devices=devices, optimizer=optimizer)
            means = {name: float(np.mean(v)) for name, v in metrics._asdict().items()}
            check_finite(means, state.model, (done, done + k), out_dir if last_saved else None)
            done += k
            seconds, rate = time.monotonic() - tick, learning_rate_at(cfg, optimizer, state.opt_state, done - 1)
            if budget is not None:
                steps, cfg, state = budget.after_chunk(k, time.monotonic() - tick, done, state)
                bar.total = steps
            out_of_time = anyone(stop_at is not None and time.monotonic() >= stop_at)  # every process stops
            due = evaluation and evaluation.every and (done % evaluation.every < k or done == steps or out_of_time)
            record = Record(done, **means, evaluation=dict(evaluation.fn(state.model)) if due else {})
            history.append(record)
            log.write(record, k / seconds, rate)
            bar.update(k)
            bar.set_postfix(loss=f"{record.loss:.4f}", kl=f"{record.kl:.3g}")
            if out_dir and (done - last_saved >= checkpoints.every or done == steps or out_of_time):
                last_saved = save_state(out_dir, state, record, checkpoints.metadata)
            if callback:
                callback(record, state)
            if anyone(caught) and done < steps:  # a signal during the last chunk: the run is complete, and saved
                if last_saved != done:
                    last_saved = save_state(out_dir, state, record, checkpoints.metadata)
                raise TrainingInterrupted(caught[0] if caught else "a signal to another process", done, steps, out_dir)
            if out_of_time:
                break
    return state, history


def check_options(out_dir, resume: bool, optimizer, deadline: Deadline | None) -> None:
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir")
    if deadline is not None and deadline.fit and jax.process_count() > 1:
        raise ValueError(
            "Deadline(fit=True) fits the run to one process's pace; a run over several processes "
            "takes Deadline(seconds) (--time-limit) instead"
        )
    if deadline is not None and deadline.fit and resume:
        raise ValueError("Deadline(fit=True) fits a fresh run; resume a fitted run with its fitted steps instead")
    if deadline is not None and deadline.fit and optimizer is not None:
        raise ValueError(
            "Deadline(fit=True) refits the learning-rate decay of make_optimizer(cfg), and a passed-in "
            "optimizer's schedule cannot be refitted: use Deadline(seconds) to stop at the time, or "
            "size the optimizer's schedule to the steps that fit"
        )


def save_state(out_dir, state: TrainState, record: Record, metadata: Mapping[str, Any]) -> int:
    """Writes the checkpoint of `state` (model, optimiser state, PRNG key) at `record.step`; returns
    that step. Only process 0 writes (`lpn.distributed`); every process returns the step."""
    if not is_main():
        return record.step
    state = local_copy(state)
    save_checkpoint(
        out_dir,
        state.model,
        step=record.step,
        opt_state=state.opt_state,
        metrics=record.to_dict(),
        extra={**metadata, "key": np.asarray(jax.random.key_data(state.key)).tolist()},
    )
    return record.step


_catching: list[list[str]] = []  # the lists of the signals_caught blocks now open, innermost last


@contextlib.contextmanager
def signals_caught(enabled: bool = True, stopping: str = "at the end of this chunk to save a checkpoint there"):
    """Within it, the first SIGINT or SIGTERM is not acted on but noted: its name goes into the
    yielded list, a line on stderr says where the run is `stopping`, and the previous handlers come
    back, so that a second signal acts as before. Handlers can only be set in the main thread:
    elsewhere, or if not `enabled`, nothing changes. Nested in another (a training inside `lpn
    reproduce`), it shares the outer block's list and handlers, so the outer code sees a signal the
    training did not act on (one in its last chunk)."""
    caught: list[str] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield caught
        return
    if _catching:
        yield _catching[-1]
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in signals}

    def restore():
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)  # None: not set from Python

    def note(signum, frame):
        caught.append(signal.Signals(signum).name)
        restore()
        print(
            f"\n{caught[0]}: stopping {stopping}; another {caught[0]} quits without saving",
            file=sys.stderr,
            flush=True,
        )

    for s in signals:
        signal.signal(s, note)
    _catching.append(caught)
    try:
        yield caught
    finally:
        _catching.pop()
        restore()


def fit_to_budget(
    cfg: Config, steps: int, done: int, step_seconds: float, seconds_left: float, multiple: int = 1
) -> tuple[int, Config]:
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
        self.steps, cfg = fit_to_budget(
            self.base, self.ceiling, done, pace, self.end - self.clock() - self.compile_s, multiple=k
        )
        state, self.cfg = (with_config(state, cfg) if cfg != self.cfg else state), cfg
        return state


def with_config(tree, cfg: Config):
    """`tree` with every model in it (of any of `ARCHITECTURES`) carrying `cfg`, whose architecture
    must be theirs: a model, or a training state, whose optimiser moments are shaped like the model,
    config included."""
    classes = tuple(ARCHITECTURES.values())

    def carry(m):
        structure = jax.tree.structure(eqx.filter_eval_shape(type(m), cfg, jax.random.key(0)))
        return jax.tree.unflatten(structure, jax.tree.leaves(m))

    return jax.tree.map(
        lambda m: carry(m) if isinstance(m, classes) else m, tree, is_leaf=lambda x: isinstance(x, classes)
    )


def check_finite(values: dict, model: LPN, steps: tuple[int, int], checkpoint_dir=None):
    """Raises `TrainingDiverged` if a metric or a weight is NaN or infinite, naming the steps and
    `checkpoint_dir` (the last good checkpoint), if any."""
    if all(math.isfinite(v) for v in values.values()) and bool(all_finite(model)):
        return
    where = f"; the last good checkpoint is {resolve(checkpoint_dir)}" if checkpoint_dir else ""
    raise TrainingDiverged(
        f"training diverged between steps {steps[0]} and {steps[1]} (loss {values['loss']}, "
        f"non-finite values in the loss or the weights){where}"
    )


@eqx.filter_jit
def all_finite(tree):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]))


def resume_state(
    out_dir, cfg: Config, devices=None, optimizer: optax.GradientTransformation | None = None, architecture: type = LPN
) -> TrainState:
    """The training state of the latest checkpoint in `out_dir`, continued under `cfg` (whose
    architecture must match the checkpoint's) and `optimizer` (default `make_optimizer(cfg)`), which
    must be the run's: its state is read back into that optimiser's structure. The checkpoint's
    model must be of class `architecture`."""
    model, meta = load_checkpoint(out_dir, cfg)
    if type(model) is not architecture:
        raise CheckpointError(
            f"{resolve(out_dir)}: holds a {architecture_name(model)} model, not the "
            f"{architecture_name(architecture)} model this run asks to resume"
        )
    template = (optimizer or make_optimizer(cfg)).init(eqx.filter(model, eqx.is_array))
    hint = " (resuming needs the optimizer the run was trained with)"
    try:
        opt_state = load_opt_state(out_dir, template)
    except CheckpointError as err:
        raise CheckpointError(f"{err}{hint}") from None
    key = jax.random.wrap_key_data(jnp.asarray(meta["key"], jnp.uint32))
    return replicate(TrainState(model, opt_state, jnp.array(meta["step"]), key), devices)
