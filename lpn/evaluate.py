"""Accuracy of search methods on generated tasks (paper §3.5): each task's last pair is the query,
the others are the specification. A method's best latent gives attempt 1, its second-best distinct
latent attempt 2; outputs are decoded greedily with the cached decoder.

Metrics, each a fraction over tasks:
    top1, top2: exact match (shape and every cell) of attempt 1, of either attempt (pass@2);
    shape: the shape of attempt 1 is right;
    pixel: cells of the true output that attempt 1 colours right (cells outside its shape are wrong);
    differs: the two attempts are different grids (see `attempts`);
    rescued: attempt 2 is exact where attempt 1 is not (top2 - top1).

Every path from a method to its attempts and metrics runs the one compiled program of
`lpn.program` (`over_tasks`); a trace decodes its attempts itself (the trace protocol of
`lpn.kind`). `lpn eval`'s driver (resume, printing, results files) is `lpn.eval_run`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lpn.architectures import kind_of
from lpn.devices import first, spread_tasks
from lpn.distributed import gather, gather_objects, share
from lpn.grids import Batch
from lpn.program import given, over_tasks, split_query
from lpn.search import CANDIDATES

__all__ = ["CANDIDATES", "split_query"]  # re-exported: where readers of lpn.evaluate look for them


def batch_as_tasks(batch: Batch, prefix: str = "task") -> list:
    """Generated tasks as `Task`s: each task's last pair slot (the query, `split_query`) its test
    pair, the other real slots its train pairs; named PREFIX-0, PREFIX-1, ... in batch order."""
    from lpn.grids import Pair, Task, unpad

    batch = jax.tree.map(np.asarray, batch)
    tasks = []
    for i in range(batch.inputs.shape[0]):
        pairs = [
            Pair(
                unpad(batch.inputs[i, n], batch.input_shapes[i, n]),
                unpad(batch.outputs[i, n], batch.output_shapes[i, n]),
            )
            for n in range(batch.inputs.shape[1])
            if batch.pair_mask[i, n]
        ]
        tasks.append(Task(tuple(pairs[:-1]), (pairs[-1],), f"{prefix}-{i}"))
    return tasks


def exact(grid_RC, shape, truth_RC, true_shape):
    return jnp.all(shape == true_shape) & jnp.all(grid_RC == truth_RC)


def pixel_accuracy(grid_RC, shape, truth_RC, true_shape):
    rows, cols = truth_RC.shape
    r, c = jnp.arange(rows)[:, None], jnp.arange(cols)[None, :]
    in_true = (r < true_shape[0]) & (c < true_shape[1])
    in_pred = (r < shape[0]) & (c < shape[1])
    return jnp.sum(in_true & in_pred & (grid_RC == truth_RC)) / jnp.sum(in_true)


def attempts(model, trace, input_RC, input_shape, candidates: int = CANDIDATES):
    """Decodes attempts 1 and 2 of a method's trace on one input: grids (2, R, C), shapes (2, 2).

    Attempt 1 is the greedy answer of the best latent (or of the TTT-tuned model). Attempt 2 is a
    different grid, so that ARC's second try is not the first one again: a `SearchTrace`'s
    `candidates` highest-scoring latents (across steps and starts) are decoded, and attempt 2 is the
    grid of the best-scoring one whose grid differs from attempt 1; where none differs (a search that
    converged, or a single latent), it is the decoder's runner-up answer for the best latent (the
    greedy answer with its least certain cell changed, `lpn.decoding.runner_up`). A `TTTTrace`
    (in-context model, `lpn.in_context`) gives its tuned model's greedy answer and runner-up.
    Each trace decodes itself (`trace.attempts`, the trace protocol of `lpn.kind`)."""
    return trace.attempts(model, input_RC, input_shape, candidates)


def keep_candidates(trace, candidates: int = CANDIDATES):
    """A trace cut to what `attempts` reads (`trace.for_decoding`): a `SearchTrace`'s `candidates`
    best latents as a path of one step, (1, candidates, H), best first, padded with -inf scores
    where the search visited fewer; a `TTTTrace` without its losses. `attempts` gives the same
    grids from it, and its shapes no longer depend on the method's budget, so one compiled
    decoding serves every method."""
    return trace.for_decoding(candidates)


def method_or_default(model, method, options: dict):
    """(method, options), where no method means the model's default row of `lpn.methods` (its
    kind's `default`): LPN's mean latent, or the in-context model's prediction."""
    if method is not None:
        return method, options
    kind = kind_of(model)
    default = kind.methods[kind.default]
    return default.method, {**default.fixed, **options}


class TaskMetrics(NamedTuple):
    """The metrics of one task (arrays, inside the jitted programs), or their means over tasks
    (floats, from `evaluate_batch` and `mean_metrics`). `num_evals`: decoder evaluations spent."""

    top1: float
    top2: float
    shape: float
    pixel: float
    num_evals: float
    differs: float = 0.0
    rescued: float = 0.0

    @classmethod
    def from_score(cls, score, evals: dict) -> TaskMetrics:
        """The metrics of an `lpn.scoring.ArcScore` (pass@2 its per-task score) and the decoder
        evaluations each task spent."""
        return cls(
            score.top1,
            score.per_task,
            score.shape_accuracy,
            score.pixel_accuracy,
            float(np.mean(list(evals.values()))),
            score.distinct,
            score.rescued,
        )


def task_metrics(model, trace, query) -> TaskMetrics:
    """One task's metrics: the trace's two attempts decoded on the `query` pair and scored."""
    grids, shapes = trace.attempts(model, query.inputs, query.input_shapes)
    hits = jax.vmap(exact, in_axes=(0, 0, None, None))(grids, shapes, query.outputs, query.output_shapes)
    return TaskMetrics(
        top1=hits[0],
        top2=hits.any(),
        shape=jnp.all(shapes[0] == query.output_shapes),
        pixel=pixel_accuracy(grids[0], shapes[0], query.outputs, query.output_shapes),
        num_evals=trace.num_evals,
        differs=jnp.any(grids[0] != grids[1]) | jnp.any(shapes[0] != shapes[1]),
        rescued=hits[1] & ~hits[0],
    )


def mean_metrics(per_task: TaskMetrics) -> TaskMetrics:
    """The mean of every metric over the tasks' axis, as floats."""
    return TaskMetrics(*(float(np.mean(np.asarray(v, np.float32))) for v in per_task))


def _evaluate(model, batch, keys, method, options):
    """Per-task metrics of `method` on generated tasks (the last pair the query): the one program."""
    return over_tasks(model, batch, keys, method, options, task_metrics)


def tta_metrics(
    model, batch: Batch, key, method, tta: int, batch_size: int = 16, progress: bool | None = None, **options
) -> TaskMetrics:
    """`evaluate_batch`'s metrics with `tta` views voting: the generated tasks are predicted as
    `Task`s (`batch_as_tasks`, `predict_tasks(..., tta=tta, progress=progress)`) and scored by
    `lpn.scoring`."""
    from lpn.scoring import score_predictions

    tasks = batch_as_tasks(batch)
    predictions, evals = predict_tasks(
        model, tasks, key, method, batch_size=batch_size, tta=tta, progress=progress, **options
    )
    return TaskMetrics.from_score(score_predictions(tasks, predictions), evals)


def per_task_in_groups(run, model, batch: Batch, key, tasks_per_call: int | None = None):
    """`run(placed_model, batch, keys)` (a jitted program returning arrays with a leading task axis)
    over the tasks of `batch`, `tasks_per_call` at a time (default all), each group spread over the
    devices; returns its per-task outputs as numpy, concatenated. Task i's key is the i-th of `key`'s
    split however the tasks are grouped, and the last group repeats a task to keep one shape (one
    compiled program), so grouping changes the results only by float rounding. In a run of several
    processes each runs its share of the tasks and all get every output (`lpn.distributed`)."""
    total = batch.inputs.shape[0]
    if tasks_per_call is not None and tasks_per_call < 1:
        raise ValueError(f"tasks_per_call must be at least 1, got {tasks_per_call}")
    keys = jax.random.split(key, total)
    if jax.process_count() > 1:
        mine = share(total)
        batch, keys = jax.tree.map(lambda a: a[mine], batch), keys[mine]
    size = keys.shape[0]
    per_call = size if tasks_per_call is None else min(tasks_per_call, size)
    parts = []
    for start in range(0, size, per_call):
        index = np.minimum(np.arange(start, start + per_call), size - 1)
        placed, (part, part_keys), n = spread_tasks(model, jax.tree.map(lambda a: a[index], batch), keys[index])
        out = jax.device_get(first(run(placed, part, part_keys), n))
        parts.append(jax.tree.map(lambda a: np.asarray(a)[: min(per_call, size - start)], out))
    return gather(jax.tree.map(lambda *a: np.concatenate(a), *parts), total)


def evaluate_batch(
    model, batch: Batch, key, method=None, *, tasks_per_call: int | None = None, **options
) -> TaskMetrics:
    """Mean metrics of `method` (any function of `lpn.methods`' tables; default the model's "none"
    row) over the tasks of `batch`, `tasks_per_call` at a time (default all: one compiled call; TTT
    holds a copy of the parameters per task, so bound it there; see `per_task_in_groups`)."""
    method, options = method_or_default(model, method, options)
    options = tuple(sorted(options.items()))
    run = lambda placed, part, keys: _evaluate(placed, part, keys, method, options)
    return mean_metrics(per_task_in_groups(run, model, batch, key, tasks_per_call))


def confidence(trace):
    """How well a method's trace explains the given pairs, for voting across TTA views: the search
    objective of an LPN's best latent, minus the final leave-one-out loss of TTT."""
    return trace.confidence()


def attempts_on_tests(model, trace, tests):
    """A `then` of the one program: the attempts on each test input (`tests`: inputs (T, R, C) and
    their shapes (T, 2)), the evaluations spent and the trace's confidence."""
    inputs_TRC, shapes_T2 = tests
    grids, shapes = jax.vmap(lambda x, s: trace.attempts(model, x, s))(inputs_TRC, shapes_T2)
    return grids, shapes, trace.num_evals, trace.confidence()


def _predict(model, spec, test_inputs, test_shapes, keys, method, options):
    return over_tasks(model, (spec, (test_inputs, test_shapes)), keys, method, options, attempts_on_tests, given)


BUCKETS = (5, 10, 15, 20, 25, 30)  # grid sides tasks are padded to in `predict_tasks`


def _needed_side(task) -> int:
    grids = [g for p in task.train for g in (p.input, p.output)] + [p.input for p in task.test]
    return max(max(g.shape) for g in grids)


def _bucket(side: int, cfg) -> tuple[int, int]:
    fits = [b for b in BUCKETS if b >= side] + [max(cfg.max_rows, cfg.max_cols)]
    return min(fits[0], cfg.max_rows), min(fits[0], cfg.max_cols)


def predict_tasks(
    model,
    tasks,
    key,
    method=None,
    batch_size: int = 16,
    progress: bool | None = None,
    on_batch=None,
    tta: int = 1,
    tta_seed: int = 0,
    **options,
):
    """Two attempts for every test input of every task, searching on each task's train pairs.

    `method` is any function of `lpn.methods`' tables (default the model's "none" row). Returns
    ({task name: [[attempt_1, attempt_2] per test input]}, {task name: decoder evaluations spent}).
    Grids must fit the model: filter first.

    With `tta` > 1, each task is searched under `tta` views (the identity and `tta` - 1 symmetries
    with colour permutations, `lpn.tta.views(tta, tta_seed)`), each view's attempts are mapped back
    and the views vote for attempts 1 and 2 (`lpn.tta`); a task's evaluations add up over its views.

    Tasks are grouped by size and padded to the smallest of `BUCKETS` their grids fit, not to the
    model's maximum: padding is masked, so the objective is the same, and a 10x10 task costs about
    1/80 of a 30x30 one (attention over 2·s² tokens). A predicted output larger than its bucket is
    recomputed at the model's full size, so the answers equal those of padding everything to the
    maximum. Each bucket runs `batch_size` tasks at a time at 10x10 and below, proportionally fewer
    at larger sizes (`tasks_per_call`), tasks sorted by their number of pairs so that a batch pads
    few pair slots; one compiled program per bucket and pair count. After each batch,
    `on_batch(predictions, evals)` (if given) receives that batch's finished tasks (with TTA: the
    tasks whose every view is finished), e.g. to save them so that an interrupted evaluation can
    skip them when it starts again. With `progress`, a bar counts the finished tasks (views) batch
    by batch and names the size being searched; by default (`progress=None`) only a TTA run has
    one, which appears once the views have taken `lpn.progress.DELAY` seconds (TTA multiplies the
    work by `tta`); `progress=False`, `--quiet` or TQDM_DISABLE=1 turn it off.
    """
    from lpn.progress import DELAY

    method, options = method_or_default(model, method, options)
    bar = {"unit": "task", "desc": "predict"}
    if tta > 1:
        bar = {"unit": "view", "desc": f"predict, {tta} views a task", "leave": progress is not None}
    if progress is None:
        bar = {**bar, "delay": DELAY} if tta > 1 else None
    elif not progress:
        bar = None
    if tta <= 1:
        done = None if on_batch is None else (lambda predictions, evals, _confidence: on_batch(predictions, evals))
        predictions, evals, _ = _predict_all(model, tasks, key, method, batch_size, bar, done, options)
        return predictions, evals
    from lpn.tta import Voter, view_tasks, views

    voter = Voter(views(tta, tta_seed), on_batch)
    _predict_all(model, view_tasks(tasks, voter.views), key, method, batch_size, bar, voter.add, options)
    return {t.name: voter.predictions[t.name] for t in tasks}, {t.name: voter.evals[t.name] for t in tasks}


def _predict_all(model, tasks, key, method, batch_size, bar_options, on_batch, options):
    """predict_tasks without TTA: (predictions, evals, confidence), `on_batch` taking all three; a
    progress bar built with `bar_options` (tqdm's), none if they are None."""
    from lpn.progress import progress_bar, set_postfix

    cfg = model.config
    full = (cfg.max_rows, cfg.max_cols)
    groups: dict[tuple[int, int], list] = {}
    for task in tasks:
        groups.setdefault(_bucket(_needed_side(task), cfg), []).append(task)
    bar = progress_bar(total=len(tasks), enabled=bar_options is not None, **(bar_options or {}))

    def finished(predictions, evals, confidence):  # after every batch: the bar, then the caller's hook
        bar.update(len(predictions))
        if on_batch is not None:
            on_batch(predictions, evals, confidence)

    predictions, evals, confidence = {}, {}, {}
    for (size, group), k in zip(sorted(groups.items()), jax.random.split(key, len(groups))):
        grows = size != full
        set_postfix(bar, grids=f"{size[0]}x{size[1]}", tasks=len(group))
        got, spent, sure, too_big = _predict_padded(
            model, group, k, method, batch_size, size, options, finished, hold_back=grows
        )
        if too_big and grows:
            set_postfix(bar, grids=f"{full[0]}x{full[1]}", tasks=len(too_big), redo="outgrown")
            again, again_spent, again_sure, _ = _predict_padded(
                model, too_big, k, method, batch_size, full, options, finished, spent_before=spent
            )
            got.update(again)
            spent.update(again_spent)
            sure.update(again_sure)
        predictions.update(got)
        evals.update(spent)
        confidence.update(sure)
    bar.close()
    names = [t.name for t in tasks]
    return ({n: predictions[n] for n in names}, {n: evals[n] for n in names}, {n: confidence[n] for n in names})


def tasks_per_call(batch_size: int, rows: int, cols: int) -> int:
    """Tasks searched in one call at a bucket size: `batch_size` up to 10x10, proportionally fewer
    above (memory grows with the grid area, and a 30x30 task alone fills a CPU), but at least 2
    unless `batch_size` is 1 (a vmap over one task runs about half as fast per task on XLA's CPU
    backend as over two)."""
    return max(min(2, batch_size), min(batch_size, batch_size * 100 // (rows * cols)))


def _predict_padded(
    model, tasks, key, method, batch_size, size, options, on_batch=None, hold_back=False, spent_before=None
):
    """predict_tasks for tasks padded to `size`: (predictions, evals, confidence, tasks whose answer
    outgrew it).
    Evaluations in `spent_before` are added to a task's; with `hold_back`, tasks whose answer
    outgrew `size` are not passed to `on_batch` (they will be recomputed). In a run of several
    processes each searches its share of the batches, and every process gets all the answers, then
    passes them to `on_batch` at once (`lpn.distributed`)."""
    from lpn.grids import batch_pairs

    rows, cols = size
    # Tasks with as many pairs side by side: a batch computes every pair slot of its largest task.
    tasks = sorted(tasks, key=lambda t: (t.num_pairs, len(t.test)))
    batch_size = min(tasks_per_call(batch_size, rows, cols), len(tasks))
    predictions, evals, sure, too_big = {}, {}, {}, []

    def report(names):
        if on_batch is not None:
            held = {t.name for t in too_big} if hold_back else set()
            finished = [n for n in names if n not in held]
            on_batch(
                {n: predictions[n] for n in finished}, {n: evals[n] for n in finished}, {n: sure[n] for n in finished}
            )

    starts = range(0, len(tasks), batch_size)
    mine, alone = set(share(len(starts)).tolist()), jax.process_count() == 1
    for j, (start, k) in enumerate(zip(starts, jax.random.split(key, len(starts)))):
        if j not in mine:  # another process's batch
            continue
        chunk = list(tasks[start : start + batch_size])
        chunk += [chunk[-1]] * (batch_size - len(chunk))  # the last batch: same size, repeats
        num_pairs = max(t.num_pairs for t in chunk)
        num_tests = max(len(t.test) for t in chunk)
        spec = batch_pairs([t.train for t in chunk], rows, cols, num_pairs)
        tests = batch_pairs([[p._replace(output=None) for p in t.test] for t in chunk], rows, cols, num_tests)
        # The model placed once on the devices serves every later batch (placing it again is a no-op).
        model, args, n = spread_tasks(model, spec, tests.inputs, tests.input_shapes, jax.random.split(k, batch_size))
        grids, shapes, spent, confident = jax.device_get(
            first(_predict(model, *args, method, tuple(sorted(options.items()))), n)
        )
        for i, task in enumerate(tasks[start : start + batch_size]):
            shown = shapes[i, : len(task.test)]
            if (shown[..., 0] > rows).any() or (shown[..., 1] > cols).any():
                too_big.append(task)
            predictions[task.name] = [
                [grids[i, t, a, : shapes[i, t, a, 0], : shapes[i, t, a, 1]] for a in range(2)]
                for t in range(len(task.test))
            ]
            evals[task.name] = int(spent[i]) + (spent_before or {}).get(task.name, 0)
            sure[task.name] = float(confident[i])
        if alone:
            report([t.name for t in tasks[start : start + batch_size]])
    if not alone:
        outgrown = set()
        for got, spent, confident, names in gather_objects((predictions, evals, sure, [t.name for t in too_big])):
            predictions.update(got), evals.update(spent), sure.update(confident), outgrown.update(names)
        too_big = [t for t in tasks if t.name in outgrown]
        report([t.name for t in tasks])
    return predictions, evals, sure, too_big
