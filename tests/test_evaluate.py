import equinox as eqx
import jax
import numpy as np
import pytest

import lpn.evaluate as evaluate
from conftest import TINY
from lpn.grids import Pair, Task, batch_pairs
from lpn.model import LPN
from lpn.search import gradient_search, log_prob

WIDE = TINY.replace(max_rows=12, max_cols=12)


@pytest.fixture(scope="module")
def wide_model():
    return eqx.filter_jit(LPN)(WIDE, jax.random.key(3))


def random_task(rng, name, side, num_train=2, num_test=1):
    def grid():
        return rng.integers(0, 10, (rng.integers(1, side + 1), side)).astype(np.uint8)

    pairs = [Pair(grid(), grid()) for _ in range(num_train + num_test)]
    return Task(tuple(pairs[:num_train]), tuple(pairs[num_train:]), name=name)


def test_smaller_padding_leaves_the_objective_unchanged(wide_model):
    rng = np.random.default_rng(0)
    task = random_task(rng, "t", 4)
    z = jax.random.normal(jax.random.key(1), (WIDE.latent_dim,))
    small = batch_pairs([task.train], 5, 5)
    full = batch_pairs([task.train], 12, 12)
    objective = eqx.filter_jit(log_prob)  # one program per padding (eager: one per operation and padding)
    a = objective(wide_model, z, jax.tree.map(lambda x: x[0], small))
    b = objective(wide_model, z, jax.tree.map(lambda x: x[0], full))
    np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.slow
def test_size_buckets_give_the_answers_of_full_padding(wide_model, monkeypatch):
    method, options = gradient_search, {"steps": 2}
    rng = np.random.default_rng(1)
    tasks = [random_task(rng, f"t{i}", side, num_test=1 + i % 2) for i, side in enumerate([2, 3, 7, 9, 12, 4])]
    calls = []
    padded = evaluate._predict_padded

    def spy(model, group, key, method, batch_size, size, options, *args, **kwargs):
        calls.append((size, len(group)))
        return padded(model, group, key, method, batch_size, size, options, *args, **kwargs)

    monkeypatch.setattr(evaluate, "_predict_padded", spy)
    reported = {}
    bucketed, bucketed_evals = evaluate.predict_tasks(
        wide_model, tasks, jax.random.key(0), method, batch_size=2, on_batch=lambda p, e: reported.update(p), **options
    )
    sizes = [size for size, _ in calls]
    assert (5, 5) in sizes and (10, 10) in sizes and (12, 12) in sizes
    # The random model predicts outputs larger than some buckets: those tasks were recomputed at full size.
    assert sum(n for size, n in calls if size == (12, 12)) > 1

    monkeypatch.setattr(evaluate, "BUCKETS", ())
    calls.clear()
    full, full_evals = evaluate.predict_tasks(wide_model, tasks, jax.random.key(0), method, batch_size=2, **options)
    assert {size for size, _ in calls} == {(12, 12)}
    assert list(bucketed) == [t.name for t in tasks]
    # on_batch saw every task once, with its final answer (not the held-back outgrown one).
    assert set(reported) == set(bucketed)
    for name, outputs in reported.items():
        for got, want in zip(outputs, bucketed[name]):
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)
    for task in tasks:
        assert len(bucketed[task.name]) == len(task.test)
        for got, want in zip(bucketed[task.name], full[task.name]):
            for attempt_got, attempt_want in zip(got, want):
                np.testing.assert_array_equal(attempt_got, attempt_want)
        assert bucketed_evals[task.name] >= full_evals[task.name]


def test_tasks_per_call_shrinks_with_the_grid_area():
    assert [evaluate.tasks_per_call(16, s, s) for s in (5, 10, 15, 20, 25, 30)] == [16, 16, 7, 4, 2, 2]
    assert evaluate.tasks_per_call(1, 30, 30) == 1 and evaluate.tasks_per_call(4, 30, 30) == 2


@pytest.mark.slow
def test_batches_pad_only_to_their_own_pair_count(monkeypatch):
    """Tasks are sorted by pair count before batching, so a 1-pair task never computes 3 slots;
    the answers equal those of each task searched on its own."""
    small = eqx.filter_jit(LPN)(WIDE.replace(max_rows=5, max_cols=5), jax.random.key(3))  # one size bucket
    rng = np.random.default_rng(2)
    counts = [3, 1, 2, 1]
    tasks = [random_task(rng, f"t{i}", 4, num_train=n) for i, n in enumerate(counts)]
    padded_to = []
    import lpn.grids as grids

    original = grids.batch_pairs

    def spy(pairs_per_task, rows, cols, num_pairs=None):
        if all(p.output is not None for ps in pairs_per_task for p in ps):  # train pairs, not test inputs
            padded_to.append((num_pairs, sorted(len(ps) for ps in pairs_per_task)))
        return original(pairs_per_task, rows, cols, num_pairs)

    monkeypatch.setattr(grids, "batch_pairs", spy)
    together, _ = evaluate.predict_tasks(small, tasks, jax.random.key(0), gradient_search, batch_size=2, steps=2)
    assert padded_to == [(1, [1, 1]), (3, [2, 3])]
    monkeypatch.setattr(grids, "batch_pairs", original)
    for task in tasks:
        alone, _ = evaluate.predict_tasks(small, [task], jax.random.key(0), gradient_search, batch_size=2, steps=2)
        for got, want in zip(together[task.name], alone[task.name]):
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)
