"""Accuracy of search methods on generated tasks (paper §3.5): each task's last pair is the query,
the others are the specification. A method's best latent gives attempt 1, its second-best distinct
latent attempt 2; outputs are decoded greedily with the cached decoder.

Metrics, each a fraction over tasks:
    top1, top2: exact match (shape and every cell) of attempt 1, of either attempt (pass@2);
    shape: the shape of attempt 1 is right;
    pixel: cells of the true output that attempt 1 colours right (cells outside its shape are wrong).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from lpn.devices import first, spread_tasks
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


@eqx.filter_jit
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

    return jax.vmap(one)(spec, query, keys)


def evaluate_batch(model: LPN, batch: Batch, key, method=no_search, **options) -> dict[str, float]:
    """Mean metrics of `method` (any search function) over the tasks of `batch`."""
    model, (batch, keys), n = spread_tasks(model, batch, jax.random.split(key, batch.inputs.shape[0]))
    per_task = jax.device_get(first(_evaluate(model, batch, keys, method, tuple(sorted(options.items()))), n))
    return {k: float(np.mean(v.astype(np.float32))) for k, v in per_task.items()}


@eqx.filter_jit
def _predict(model, spec, test_inputs, test_shapes, keys, method, options):
    def one(pairs, inputs_TRC, shapes_T2, key):
        trace = method(model, pairs, key, **dict(options))
        grids, shapes = jax.vmap(lambda x, s: attempts(model, trace, x, s))(inputs_TRC, shapes_T2)
        return grids, shapes, trace.num_evals

    return jax.vmap(one)(spec, test_inputs, test_shapes, keys)


BUCKETS = (5, 10, 15, 20, 25, 30)  # grid sides tasks are padded to in `predict_tasks`


def _needed_side(task) -> int:
    grids = [g for p in task.train for g in (p.input, p.output)] + [p.input for p in task.test]
    return max(max(g.shape) for g in grids)


def _bucket(side: int, cfg) -> tuple[int, int]:
    fits = [b for b in BUCKETS if b >= side] + [max(cfg.max_rows, cfg.max_cols)]
    return min(fits[0], cfg.max_rows), min(fits[0], cfg.max_cols)


def predict_tasks(model: LPN, tasks, key, method=no_search, batch_size: int = 16, progress: bool = False,
                  on_batch=None, **options):
    """Two attempts for every test input of every task, searching on each task's train pairs.

    Returns ({task name: [[attempt_1, attempt_2] per test input]}, {task name: decoder evaluations
    spent}). Grids must fit the model: filter first.

    Tasks are grouped by size and padded to the smallest of `BUCKETS` their grids fit, not to the
    model's maximum: padding is masked, so the objective is the same, and a 10x10 task costs about
    1/80 of a 30x30 one (attention over 2·s² tokens). A predicted output larger than its bucket is
    recomputed at the model's full size, so the answers equal those of padding everything to the
    maximum. Each bucket runs `batch_size` tasks at a time at 10x10 and below, proportionally fewer
    at larger sizes (`tasks_per_call`), tasks sorted by their number of pairs so that a batch pads
    few pair slots; one compiled program per bucket and pair count. After each batch,
    `on_batch(predictions, evals)` (if given) receives that batch's finished tasks, e.g. to save
    them so that an interrupted evaluation can skip them when it starts again. With `progress`, a
    bar counts the finished tasks batch by batch and names the size being searched.
    """
    from tqdm.auto import tqdm

    cfg = model.config
    full = (cfg.max_rows, cfg.max_cols)
    groups: dict[tuple[int, int], list] = {}
    for task in tasks:
        groups.setdefault(_bucket(_needed_side(task), cfg), []).append(task)
    bar = tqdm(total=len(tasks), unit="task", desc="predict", disable=not progress)

    def finished(predictions, evals):  # after every batch: the bar, then the caller's hook
        bar.update(len(predictions))
        if on_batch is not None:
            on_batch(predictions, evals)

    predictions, evals = {}, {}
    for (size, group), k in zip(sorted(groups.items()), jax.random.split(key, len(groups))):
        grows = size != full
        bar.set_postfix(grids=f"{size[0]}x{size[1]}", tasks=len(group))
        got, spent, too_big = _predict_padded(model, group, k, method, batch_size, size, options,
                                              finished, hold_back=grows)
        if too_big and grows:
            bar.set_postfix(grids=f"{full[0]}x{full[1]}", tasks=len(too_big), redo="outgrown")
            again, again_spent, _ = _predict_padded(model, too_big, k, method, batch_size, full, options,
                                                    finished, spent_before=spent)
            got.update(again)
            spent.update(again_spent)
        predictions.update(got)
        evals.update(spent)
    bar.close()
    return {t.name: predictions[t.name] for t in tasks}, {t.name: evals[t.name] for t in tasks}


def tasks_per_call(batch_size: int, rows: int, cols: int) -> int:
    """Tasks searched in one call at a bucket size: `batch_size` up to 10x10, proportionally fewer
    above (memory grows with the grid area, and a 30x30 task alone fills a CPU), but at least 2
    unless `batch_size` is 1 (a vmap over one task runs about half as fast per task on XLA's CPU
    backend as over two)."""
    return max(min(2, batch_size), min(batch_size, batch_size * 100 // (rows * cols)))


def _predict_padded(model, tasks, key, method, batch_size, size, options, on_batch=None, hold_back=False,
                    spent_before=None):
    """predict_tasks for tasks padded to `size`: (predictions, evals, tasks whose answer outgrew it).
    Evaluations in `spent_before` are added to a task's; with `hold_back`, tasks whose answer
    outgrew `size` are not passed to `on_batch` (they will be recomputed)."""
    from lpn.grids import batch_pairs

    rows, cols = size
    # Tasks with as many pairs side by side: a batch computes every pair slot of its largest task.
    tasks = sorted(tasks, key=lambda t: (t.num_pairs, len(t.test)))
    batch_size = min(tasks_per_call(batch_size, rows, cols), len(tasks))
    predictions, evals, too_big = {}, {}, []
    starts = range(0, len(tasks), batch_size)
    for start, k in zip(starts, jax.random.split(key, len(starts))):
        chunk = list(tasks[start:start + batch_size])
        chunk += [chunk[-1]] * (batch_size - len(chunk))  # the last batch: same size, repeats
        num_pairs = max(t.num_pairs for t in chunk)
        num_tests = max(len(t.test) for t in chunk)
        spec = batch_pairs([t.train for t in chunk], rows, cols, num_pairs)
        tests = batch_pairs([[p._replace(output=None) for p in t.test] for t in chunk], rows, cols, num_tests)
        # The model placed once on the devices serves every later batch (placing it again is a no-op).
        model, args, n = spread_tasks(model, spec, tests.inputs, tests.input_shapes, jax.random.split(k, batch_size))
        grids, shapes, spent = jax.device_get(first(_predict(model, *args, method, tuple(sorted(options.items()))), n))
        for i, task in enumerate(tasks[start:start + batch_size]):
            shown = shapes[i, : len(task.test)]
            if (shown[..., 0] > rows).any() or (shown[..., 1] > cols).any():
                too_big.append(task)
            predictions[task.name] = [
                [grids[i, t, a, : shapes[i, t, a, 0], : shapes[i, t, a, 1]] for a in range(2)]
                for t in range(len(task.test))
            ]
            evals[task.name] = int(spent[i]) + (spent_before or {}).get(task.name, 0)
        if on_batch is not None:
            held = {t.name for t in too_big} if hold_back else set()
            finished = [t.name for t in tasks[start:start + batch_size] if t.name not in held]
            on_batch({n: predictions[n] for n in finished}, {n: evals[n] for n in finished})
    return predictions, evals, too_big
