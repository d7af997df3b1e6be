"""One model and one task, with the jitted `lpn` functions a widget calls on them.

Widgets hold no maths: decoding is `lpn.model.generate`, scoring is `lpn.search.log_prob`,
encoding is `lpn.model.encode_pairs`, searching is any `lpn.search` method. This module only pads
the task for the model and jits those calls once per process (module-level functions, so a second
widget reuses the compiled code); a widget that calls them while it is built answers its first
click at once.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from lpn.grids import Task, batch_pairs, pad_grid, unpad
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
    return gradient_search(model, pairs, key, steps=steps, start=start_H,
                           optimizer=default_optimizer(learning_rate))


@eqx.filter_jit
def _run(method, model, pairs, key, options):
    return method(model, pairs, key, **options)


class TaskModel:
    """`model` applied to `task`: its train pairs are the specification, test pair `test_index`
    the query whose input is decoded."""

    def __init__(self, model, task: Task, test_index: int = 0):
        cfg = model.config
        if not task.test:
            raise ValueError(f"task {task.name!r} has no test input to decode; give it a test pair")
        if not 0 <= test_index < len(task.test):
            raise IndexError(f"test_index {test_index} out of range: task {task.name!r} has {len(task.test)} test pairs")
        self.model, self.task, self.query = model, task, task.test[test_index]
        batch = batch_pairs([task.train], cfg.max_rows, cfg.max_cols)
        self.pairs = jax.tree.map(lambda a: jnp.asarray(a[0]), batch)
        self.input_RC = jnp.asarray(pad_grid(self.query.input, cfg.max_rows, cfg.max_cols))
        self.input_shape = jnp.asarray(self.query.input.shape, jnp.int32)
        self.latent_dim = cfg.latent_dim

    def decode(self, z_KH) -> list[np.ndarray]:
        """The greedy output on the query input for each latent (K, H), cropped to its shape.
        One latent at a time: a single compiled program serves clicks and whole search paths
        alike (a vmapped decoder would compile again for every path length)."""
        z_KH = np.asarray(z_KH, np.float32).reshape(-1, self.latent_dim)
        out = []
        for z_H in z_KH:
            grid, shape = jax.device_get(_decode(self.model, jnp.asarray(z_H), self.input_RC, self.input_shape))
            out.append(unpad(grid, shape).astype(np.uint8))
        return out

    def score(self, z_KH, chunk: int = 1024) -> np.ndarray:
        """log p(specification | z) for each latent (K, H), in padded chunks of two fixed sizes
        (16 for a click's few latents, `chunk` for a heat map) so each compiles once."""
        z_KH = np.asarray(z_KH, np.float32).reshape(-1, self.latent_dim)
        chunk = SMALL if len(z_KH) <= SMALL else chunk
        out = []
        for start in range(0, len(z_KH), chunk):
            part = z_KH[start:start + chunk]
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
        trace = _gradient_search(self.model, self.pairs, jnp.asarray(start_H, jnp.float32),
                                 jnp.float32(learning_rate), key, int(steps))
        return jax.device_get(trace)

    def run(self, method, key=None, **options):
        """Any `lpn.search` method on this task's train pairs, jitted: `method(model, pairs, key,
        **options)`. Returns its `SearchTrace` as numpy."""
        key = jax.random.key(0) if key is None else key
        return jax.device_get(_run(method, self.model, self.pairs, key, options))
