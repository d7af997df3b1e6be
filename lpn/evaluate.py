"""Accuracy of search methods on generated tasks (paper §3.5): each task's last pair is the query,
the others are the specification. A method's best latent gives attempt 1, its second-best distinct
latent attempt 2; outputs are decoded greedily with the cached decoder.

Metrics, each a fraction over tasks:
    top1, top2: exact match (shape and every cell) of attempt 1, of either attempt (pass@2);
    shape: the shape of attempt 1 is right;
    pixel: cells of the true output that attempt 1 colours right (cells outside its shape are wrong).
"""

from __future__ import annotations

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp

from lpn.grids import Batch
from lpn.model import LPN, generate
from lpn.search import no_search


def split_query(batch: Batch):
    """(specification, query): the last pair slot of every task becomes the query."""
    spec = jax.tree.map(lambda a: a[:, :-1], batch)
    query = jax.tree.map(lambda a: a[:, -1], batch)
    return spec, query


def exact(grid_RC, shape, truth_RC, true_shape):
    return jnp.all(shape == true_shape) & jnp.all(grid_RC == truth_RC)


def pixel_accuracy(grid_RC, shape, truth_RC, true_shape):
    rows, cols = truth_RC.shape
    r, c = jnp.arange(rows)[:, None], jnp.arange(cols)[None, :]
    in_true = (r < true_shape[0]) & (c < true_shape[1])
    in_pred = (r < shape[0]) & (c < shape[1])
    return jnp.sum(in_true & in_pred & (grid_RC == truth_RC)) / jnp.sum(in_true)


def attempts(model: LPN, trace, input_RC, input_shape):
    """Decodes attempts 1 and 2 (the trace's best and second latents): grids (2, R, C), shapes (2, 2).
    Where no distinct second latent exists, attempt 2 repeats attempt 1."""
    second = jnp.where(jnp.isfinite(trace.second_score), trace.second, trace.best)
    return jax.vmap(lambda z: generate(model, z, input_RC, input_shape))(jnp.stack([trace.best, second]))


@partial(eqx.filter_jit)
def _evaluate(model, batch, keys, method, options):
    spec, query = split_query(batch)

    def one(pairs, q, key):
        trace = method(model, pairs, key, **dict(options))
        grids, shapes = attempts(model, trace, q.inputs, q.input_shapes)
        hits = jax.vmap(exact, in_axes=(0, 0, None, None))(grids, shapes, q.outputs, q.output_shapes)
        return {
            "top1": hits[0], "top2": hits.any(),
            "shape": jnp.all(shapes[0] == q.output_shapes),
            "pixel": pixel_accuracy(grids[0], shapes[0], q.outputs, q.output_shapes),
            "num_evals": trace.num_evals,
        }

    per_task = jax.vmap(one)(spec, query, keys)
    return jax.tree.map(lambda x: jnp.mean(x.astype(jnp.float32)), per_task)


def evaluate_batch(model: LPN, batch: Batch, key, method=no_search, **options) -> dict[str, float]:
    """Mean metrics of `method` (any search function) over the tasks of `batch`."""
    keys = jax.random.split(key, batch.inputs.shape[0])
    out = _evaluate(model, jax.tree.map(jnp.asarray, batch), keys, method, tuple(sorted(options.items())))
    return {k: float(v) for k, v in out.items()}
