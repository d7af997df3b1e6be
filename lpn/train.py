"""Training (paper §2, Algorithm 2): optimiser steps on the leave-one-out loss of `lpn.loss`, for
any architecture of `lpn.architectures` (`LPN` by default; another kind brings its own loss) and
any optax optimiser (`lpn.optim.make_optimizer(cfg)` unless one is passed in).

`train_chunk` runs k optimiser steps inside one `jit` as a `lax.scan`, generating the tasks on the
device; `train` is the Python loop around it with a progress bar, periodic evaluation, checkpoints
and a callback for live displays, and a history of one `Record` a chunk (on disk too, in the run
folder's `metrics.jsonl`: `lpn.runlog`); its less common options are one `TrainOptions`. The batch
is sharded over the local devices (on a CPU, one per core: `lpn.devices`) or every device of every
process of a run (`lpn.distributed`, process 0 writing); XLA inserts the gradient all-reduce. SIGINT or
SIGTERM during a run with a checkpoint folder ends it at the end of the running chunk, with a
checkpoint there (`TrainingInterrupted`). A `Deadline` holds a run to a time (`lpn.budget`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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

from lpn.architectures import architecture_name
from lpn.budget import Budget, Deadline
from lpn.checkpoint import CheckpointError, load_checkpoint, load_opt_state, resolve, save_checkpoint
from lpn.config import Config
from lpn.devices import training_devices
from lpn.distributed import anyone, global_batches, is_main, local_copy, put_replicated
from lpn.loss import accumulated_grads
from lpn.model import LPN
from lpn.optim import learning_rate_at, make_optimizer
from lpn.pattern import pattern_batch
from lpn.runlog import MetricsLog
from lpn.signals import signals_caught


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
    """A checkpoint in `train`'s `out_dir` every `every` steps and at the end, with `metadata` in its JSON."""

    every: int = 500
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """`fn(model) -> {name: score}`, run by `train` every `every` steps and where the run ends; the
    scores go to that chunk's `Record.evaluation`."""

    fn: Callable[[LPN], Mapping[str, float]]
    every: int


@dataclass(frozen=True)
class TrainOptions:
    """What `train` trains on and writes, beyond the common arguments:

    - data: a JAX function `sample_batch(key, cfg) -> Batch` run on the device (default: the pattern
      generator), or an iterator of numpy `Batch`es of `cfg.batch_size` tasks (e.g. the procedural
      ARC-like families), stacked `chunk` at a time.
    - out_dir: the run's folder, for checkpoints (as `checkpoints` says) and `metrics.jsonl`; none
      written without it. `resume` continues its latest checkpoint, with the optimiser state saved
      there: pass the same `optimizer` as the run had.
    - evaluation, deadline: see `Evaluation` and `Deadline` (the run's end, and a deadline's, also
      evaluate and save); devices: those the batch is sharded over (`lpn.devices.training_devices`).
    - tensorboard: also write each chunk's metrics as TensorBoard scalars to `out_dir/tensorboard`
      (needs tensorboardX, the `tensorboard` extra)."""

    data: Callable | Iterator | None = None
    out_dir: str | Path | None = None
    resume: bool = False
    checkpoints: Checkpoints = Checkpoints()
    evaluation: Evaluation | None = None
    deadline: Deadline | None = None
    devices: Sequence | None = None
    tensorboard: bool = False


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped `train` at `step` of its `steps`, after a checkpoint there in
    `out_dir`: `train(cfg, steps, options=TrainOptions(out_dir=out_dir, resume=True))` continues the run."""

    def __init__(self, signal_name: str, step: int, steps: int, out_dir):
        super().__init__(f"interrupted ({signal_name}) at step {step} of {steps}; checkpoint saved in {out_dir}")
        self.signal_name, self.step, self.steps, self.out_dir = signal_name, step, steps, Path(out_dir)


def data_sharding(devices=None):
    """Shards a batch's leading axis over `devices` (default: all local devices)."""
    mesh = jax.sharding.Mesh(np.array(list(devices or jax.local_devices())), ("data",))
    return NamedSharding(mesh, PartitionSpec("data")), NamedSharding(mesh, PartitionSpec())


def init_state(
    cfg: Config, key, devices=None, optimizer: optax.GradientTransformation | None = None, architecture: type = LPN
) -> TrainState:
    """A fresh model of class `architecture` (`LPN`, or a value of `lpn.architectures.ARCHITECTURES`)
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
    optimizer: optax.GradientTransformation | None = None,
    architecture: type = LPN,
    chunk: int = 50,
    callback: Callable | None = None,
    progress: bool = True,
    options: TrainOptions = TrainOptions(),
) -> tuple[TrainState, list[Record]]:
    """Trains for `steps` total steps (counting those of a resumed run); returns the final state and
    the history, one `Record` a chunk.

    Args:
      seed: of the model's initialisation and of the tasks generated on the device.
      optimizer: an `optax.GradientTransformation` (default `make_optimizer(cfg)`).
      architecture: the model class, `LPN` or `lpn.in_context.InContext` (a value of
        `lpn.architectures.ARCHITECTURES`); a resumed run must be of the same one.
      chunk: steps per compiled call; between chunks the host checks the loss, updates the progress
        bar (unless not `progress`), evaluates when due and calls `callback(record, state)`.
      options: the data, the run folder (checkpoints, resuming, metrics), evaluation, deadline and
        devices: see `TrainOptions`.

    With `options.out_dir`, each chunk appends a line to `out_dir/metrics.jsonl` (`lpn.runlog`),
    before its checkpoint; a resumed run drops the lines past its checkpoint.

    A NaN loss raises `TrainingDiverged`; the last checkpoint written stays intact. With `out_dir`,
    SIGINT (Ctrl-C) or SIGTERM ends the run at the end of the running chunk: a checkpoint is saved
    there and `TrainingInterrupted` raised (unless that chunk was the run's last: the run then ends
    as usual). A second signal acts as it would have before (Ctrl-C quits at once; the checkpoints
    on disk stay whole, as every write is atomic).
    """
    from lpn.progress import progress_bar

    out_dir, resume, deadline, evaluation = options.out_dir, options.resume, options.deadline, options.evaluation
    devices = training_devices(cfg.batch_size, cfg.micro_batch_size, options.devices)
    check_options(out_dir, resume, optimizer, deadline)
    if resume:
        state = resume_state(out_dir, cfg, devices, optimizer, architecture)
    else:
        state = init_state(cfg, jax.random.key(seed), devices, optimizer, architecture)
    data = options.data
    sample_batch, host_batches = (data, None) if data is None or callable(data) else (None, data)
    history, done = [], int(state.step)
    last_saved = done if resume else 0
    fit = deadline is not None and deadline.fit
    budget = Budget(deadline.seconds, cfg, steps) if fit else None
    stop_at = None if deadline is None or fit else time.monotonic() + deadline.seconds
    log = MetricsLog(out_dir, done, resume, options.tensorboard)
    bar = progress_bar(total=steps, initial=done, enabled=progress, desc="train", unit="step")
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
            bar.update(k)
            if due:  # an evaluation can take minutes: the bar says so
                bar.set_postfix_str(f"loss={means['loss']:.4f}, evaluating on fresh tasks", refresh=True)
            record = Record(done, **means, evaluation=dict(evaluation.fn(state.model)) if due else {})
            history.append(record)
            log.write(record, k / seconds, rate)
            bar.set_postfix(loss=f"{record.loss:.4f}", kl=f"{record.kl:.3g}")
            if out_dir and (done - last_saved >= options.checkpoints.every or done == steps or out_of_time):
                last_saved = save_state(out_dir, state, record, options.checkpoints.metadata)
            if callback:
                callback(record, state)
            if anyone(caught) and done < steps:  # a signal during the last chunk: the run is complete, and saved
                if last_saved != done:
                    last_saved = save_state(out_dir, state, record, options.checkpoints.metadata)
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
