"""One model and one task, with the jitted `lpn` functions a widget calls on them.

Widgets hold no maths: decoding is `lpn.model.generate`, scoring is `lpn.search.log_prob`,
encoding is `lpn.model.encode_pairs`, searching is any `lpn.search` method (or, for an in-context
model, `lpn.in_context.ttt`, whose answer is `lpn.in_context.answer`). This module only pads
the task for the model and jits those calls once per process (module-level functions, so a second
widget reuses the compiled code); a widget that calls them while it is built answers its first
click at once.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from lpn.evaluate import attempts
from lpn.grids import Task, batch_pairs, pad_grid, unpad
from lpn.in_context import TTTTrace, answer
from lpn.model import encode_pairs, generate
from lpn.search import default_optimizer, gradient_search, log_prob, mean_latent

SMALL = 16


@eqx.filter_jit
def _decode(model, z_H, input_RC, input_shape):
    return generate(model, z_H, input_RC, input_shape)


@eqx.filter_jit
def _score(model, z_KH, pairs):
    return jax.vmap(lambda z: log_prob(model, z, pairs))(z_KH)


@eqx.filter_jit
def _encode(model, pairs):
    return encode_pairs(model, pairs), mean_latent(model, pairs)


@eqx.filter_jit
def _gradient_search(model, pairs, start_H, learning_rate, key, steps):
    return gradient_search(model, pairs, key, steps=steps, start=start_H, optimizer=default_optimizer(learning_rate))


@eqx.filter_jit
def _answer(model, context_ND, context_mask_N, input_RC, input_shape):
    # Not the whole trace: its losses (S + 1,) would compile a program per step count.
    return answer(TTTTrace(model, context_ND, context_mask_N, None, None), input_RC, input_shape)


@eqx.filter_jit
def _attempts(model, trace, input_RC, input_shape):
    return attempts(model, trace, input_RC, input_shape)


@eqx.filter_jit
def _run(method, model, pairs, key, options):
    return method(model, pairs, key, **options)


class TaskModel:
    """`model` applied to `task`: its train pairs are the specification, test pair `test_index`
    the query whose input is decoded. `model` is an `LPN` or an `lpn.in_context.InContext` model
    (padded alike by its config; the latent methods `decode`, `score`, `pair_latents` and
    `gradient_search` are LPN's, `run` and `answer` serve both)."""

    def __init__(self, model, task: Task, test_index: int | None = 0):
        """`test_index=None` for a task used only as a specification (no query to decode)."""
        cfg = model.config
        if test_index is not None and not task.test:
            raise ValueError(f"task {task.name!r} has no test input to decode; give it a test pair")
        if test_index is not None and not 0 <= test_index < len(task.test):
            raise IndexError(
                f"test_index {test_index} out of range: task {task.name!r} has {len(task.test)} test pairs"
            )
        self.model, self.task = model, task
        self.query = None if test_index is None else task.test[test_index]
        batch = batch_pairs([task.train], cfg.max_rows, cfg.max_cols)
        self.pairs = jax.tree.map(lambda a: jnp.asarray(a[0]), batch)
        self.latent_dim = cfg.latent_dim

    def padded(self, grid) -> tuple[jax.Array, jax.Array]:
        """`grid` padded to the model's size, and its shape; ValueError if it does not fit."""
        cfg = self.model.config
        grid = np.asarray(grid, np.uint8)
        if grid.shape[0] > cfg.max_rows or grid.shape[1] > cfg.max_cols:
            raise ValueError(f"grid {grid.shape[0]}x{grid.shape[1]} exceeds the model's {cfg.max_rows}x{cfg.max_cols}")
        return jnp.asarray(pad_grid(grid, cfg.max_rows, cfg.max_cols)), jnp.asarray(grid.shape, jnp.int32)

    def apply(self, z_H, grid) -> np.ndarray:
        """The greedy output of latent `z_H` on any input `grid` (padded to the model's size)."""
        out, shape = jax.device_get(_decode(self.model, jnp.asarray(z_H, jnp.float32), *self.padded(grid)))
        return unpad(out, shape).astype(np.uint8)

    def answer(self, trace: TTTTrace) -> np.ndarray:
        """A `TTTTrace`'s one answer on the query input (`lpn.in_context.answer`: its tuned model's
        greedy output), cropped to its shape."""
        if getattr(trace, "own_model", None) is None:  # a search's trace: decoded with the model searched
            raise TypeError(f"expected a TTTTrace of lpn.in_context.ttt, got {type(trace).__name__}")
        input_RC, input_shape = self.padded(self.query.input)
        out, shape = jax.device_get(_answer(trace.model, trace.context, trace.context_mask, input_RC, input_shape))
        return unpad(out, shape).astype(np.uint8)

    def attempts(self, trace, grid=None) -> list[np.ndarray]:
        """Attempts 1 and 2 of a method's trace (`lpn.evaluate.attempts`, as `lpn eval` scores
        them) on `grid` (default the query input), cropped to their shapes."""
        input_RC, input_shape = self.padded(self.query.input if grid is None else grid)
        grids, shapes = jax.device_get(_attempts(self.model, trace, input_RC, input_shape))
        return [unpad(g, s).astype(np.uint8) for g, s in zip(grids, shapes)]

    def decode(self, z_KH) -> list[np.ndarray]:
        """The greedy output on the query input for each latent (K, H), cropped to its shape.
        One latent at a time: a single compiled program serves clicks and whole search paths
        alike (a vmapped decoder would compile again for every path length)."""
        z_KH = np.asarray(z_KH, np.float32).reshape(-1, self.latent_dim)
        return [self.apply(z_H, self.query.input) for z_H in z_KH]

    def score(self, z_KH, chunk: int = 1024) -> np.ndarray:
        """log p(specification | z) for each latent (K, H), in padded chunks of two fixed sizes
        (16 for a click's few latents, `chunk` for a heat map) so each compiles once."""
        z_KH = np.asarray(z_KH, np.float32).reshape(-1, self.latent_dim)
        chunk = SMALL if len(z_KH) <= SMALL else chunk
        out = []
        for start in range(0, len(z_KH), chunk):
            part = z_KH[start : start + chunk]
            padded = np.concatenate([part, np.zeros((chunk - len(part), self.latent_dim), np.float32)])
            out.append(np.asarray(_score(self.model, jnp.asarray(padded), self.pairs))[: len(part)])
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def pair_latents(self) -> tuple[np.ndarray, np.ndarray]:
        """The encoder's mean latent of each train pair (N, H), and their mean (H,) as
        `lpn.search.mean_latent` computes it."""
        (mu_NH, _), mean_H = _encode(self.model, self.pairs)
        return np.asarray(mu_NH)[np.asarray(self.pairs.pair_mask)], np.asarray(mean_H)

    def gradient_search(self, start_H, *, steps: int, learning_rate: float, key=None):
        """`lpn.search.gradient_search` from `start_H` with the default Adam at `learning_rate`
        (a traced value: changing it does not recompile). Returns the `SearchTrace` as numpy."""
        key = jax.random.key(0) if key is None else key
        trace = _gradient_search(
            self.model, self.pairs, jnp.asarray(start_H, jnp.float32), jnp.float32(learning_rate), key, int(steps)
        )
        return jax.device_get(trace)

    def run(self, method, key=None, **options):
        """Any `lpn.search` method (or `lpn.in_context.ttt` on an in-context model) on this task's
        train pairs, jitted: `method(model, pairs, key, **options)`. Returns its trace as numpy (a
        `SearchTrace`, or a `TTTTrace` whose tuned model `answer` decodes)."""
        key = jax.random.key(0) if key is None else key
        return jax.device_get(_run(method, self.model, self.pairs, key, options))


def latent_program(model, task: Task, latent=None):
    """The program that `task`'s train pairs specify, as a function from a grid to a grid: it
    decodes any input at the encoder's mean latent (or at `latent`, e.g. a search's best). Pass it
    to `edit_grid(..., predict=...)` to see what the program does to a grid you draw."""
    task_model = TaskModel(model, task, test_index=None)
    z_H = task_model.pair_latents()[1] if latent is None else np.asarray(latent, np.float32)
    return lambda grid: task_model.apply(z_H, grid)
