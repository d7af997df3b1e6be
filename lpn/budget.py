"""Training to a wall-clock time (`lpn train --time-limit`, `--time-budget`): a `Deadline` stops a
run at the end of the first chunk past it, or, with `fit=True`, a `Budget` fits the run's steps and
its learning-rate decay to the time from the pace of its first chunks (`fit_to_budget`), and the
training state then carries the fitted config (`with_config`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax

from lpn.architectures import ARCHITECTURES
from lpn.config import Config


@dataclass(frozen=True)
class Deadline:
    """Wall-clock seconds for `train` (compilation included). By default the run stops at the end of
    the first chunk past them, with a checkpoint there. With `fit=True` (a fresh run on the default
    optimiser only), `steps` is a ceiling and a `Budget` fits the steps and the learning-rate decay
    of `make_optimizer(cfg)` to the time."""

    seconds: float
    fit: bool = False


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

    def after_chunk(self, k: int, seconds: float, done: int, state):
        """Records a chunk of `k` steps that took `seconds` and ended at step `done` in `state` (a
        `lpn.train.TrainState`). Returns
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

    def fit(self, k: int, done: int, pace: float, state):
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
