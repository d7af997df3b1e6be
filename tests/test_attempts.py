"""Attempt 2 is a different grid (issue 25): the decoder's runner-up, the search path's candidates,
the scores that report it; and test-time augmentation's views and vote (`lpn.tta`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lpn.decoding as decoding
import lpn.evaluate as evaluate
import lpn.model as lpn_model
from conftest import TINY
from lpn.evaluate import batch_as_tasks, predict_tasks
from lpn.grids import Pair, Task, apply_symmetry
from lpn.in_context import InContext, ttt
from lpn.scoring import score_predictions
from lpn.search import SearchTrace, gradient_search, no_search
from lpn.tta import views, vote

# Called eagerly, these would dispatch (and compile) each operation of a decoding on its own: jitted,
# each compiles once.
attempts = eqx.filter_jit(evaluate.attempts)
task_metrics = eqx.filter_jit(evaluate.task_metrics)
decode_after, generate, runner_up_after = (
    eqx.filter_jit(f) for f in (decoding.decode_after, lpn_model.generate, decoding.runner_up_after)
)


def _query(pairs):
    return pairs.inputs[0], pairs.input_shapes[0]


@pytest.mark.slow
def test_runner_up_changes_the_greedy_answer_at_its_least_certain_cell(tiny_model, random_pairs):
    x, shape = _query(random_pairs)
    prefix = tiny_model.decoder.prefix(jnp.ones(TINY.latent_dim), x, shape)
    grid, out_shape, margins, seconds, log_p = decode_after(tiny_model.decoder, prefix, x.shape)
    np.testing.assert_array_equal(grid, generate(tiny_model, jnp.ones(TINY.latent_dim), x, shape)[0])
    cells = int(out_shape[0] * out_shape[1])
    assert np.all(np.isfinite(margins[: 2 + cells])) and np.all(margins[: 2 + cells] >= 0)
    assert np.all(np.isinf(margins[2 + cells :]))
    inside = np.zeros(x.shape, bool)
    inside[: int(out_shape[0]), : int(out_shape[1])] = True
    assert np.all(seconds[inside] != grid[inside]) and np.all(seconds[~inside] == 0)
    (g1, s1, lp1), (g2, s2, lp2) = runner_up_after(tiny_model.decoder, prefix, x.shape)
    np.testing.assert_array_equal(g1, grid)
    np.testing.assert_array_equal(s1, s2)
    changed = np.argwhere(np.asarray(g1 != g2))
    t = int(np.argmin(margins[2:]))
    assert changed.tolist() == [[t // int(s1[1]), t % int(s1[1])]]  # raster order of the output's cells
    assert g2[tuple(changed[0])] == seconds[tuple(changed[0])]
    np.testing.assert_allclose(lp2, lp1 - margins[2 + t], rtol=1e-6)
    assert lp2 <= lp1


def _trace_of(latents_SKH, scores_SK):
    flat = scores_SK.reshape(-1)
    i = int(jnp.argmax(flat))
    z = latents_SKH.reshape(-1, latents_SKH.shape[-1])
    return SearchTrace(latents_SKH, scores_SK, z[i], flat[i], z[i], jnp.asarray(-jnp.inf), jnp.asarray(0, jnp.int32))


def test_attempt_2_is_the_best_scoring_path_grid_that_differs(tiny_model, random_pairs):
    x, shape = _query(random_pairs)
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.normal(size=(12, TINY.latent_dim)) * 3, jnp.float32)
    grids = [generate(tiny_model, zi, x, shape) for zi in z]
    best = 0
    others = [
        i
        for i in range(1, 12)
        if not (np.array_equal(grids[i][0], grids[best][0]) and np.array_equal(grids[i][1], grids[best][1]))
    ]
    assert others, "the random latents should decode to at least two grids"
    scores = jnp.linspace(0.0, -11.0, 12)  # latent i scores -i: the first differing one is attempt 2
    trace = _trace_of(z[:, None], scores[:, None])
    got, got_shapes = attempts(tiny_model, trace, x, shape, candidates=12)
    np.testing.assert_array_equal(got[0], grids[best][0])
    np.testing.assert_array_equal(got[1], grids[others[0]][0])
    np.testing.assert_array_equal(got_shapes[1], grids[others[0]][1])


@pytest.mark.slow
def test_a_single_latent_still_gives_two_different_attempts(tiny_model, random_pairs):
    x, shape = _query(random_pairs)
    trace = no_search(tiny_model, random_pairs)
    grids, shapes = attempts(tiny_model, trace, x, shape)
    np.testing.assert_array_equal(grids[0], generate(tiny_model, trace.best, x, shape)[0])
    assert not (np.array_equal(grids[0], grids[1]) and np.array_equal(shapes[0], shapes[1]))
    searched = eqx.filter_jit(gradient_search)(tiny_model, random_pairs, jax.random.key(0), steps=3)
    metrics = task_metrics(tiny_model, searched, jax.tree.map(lambda a: a[0], random_pairs))
    assert bool(metrics.differs) and float(metrics.top2) >= float(metrics.top1)
    assert bool(metrics.rescued) == (bool(metrics.top2) and not bool(metrics.top1))


@pytest.mark.slow
def test_ttt_gives_two_different_attempts(random_pairs):
    model = InContext(TINY, jax.random.key(1))
    x, shape = _query(random_pairs)
    grids, shapes = attempts(model, ttt(model, random_pairs, steps=0), x, shape)
    assert not (np.array_equal(grids[0], grids[1]) and np.array_equal(shapes[0], shapes[1]))


def test_scores_report_how_often_attempt_2_differs_and_rescues():
    a, b, c = (np.full((2, 2), v, np.uint8) for v in (1, 2, 3))
    tasks = [Task((Pair(a, a),), (Pair(a, b),), "one"), Task((Pair(a, a),), (Pair(a, c), Pair(a, a)), "two")]
    predictions = {"one": [[a, b]], "two": [[c, c], [a, b]]}  # rescued; same twice; differs, attempt 1 right
    score = score_predictions(tasks, predictions)
    assert score.distinct == pytest.approx(2 / 3) and score.rescued == pytest.approx(1 / 3)
    assert score.to_dict()["attempt2_differs"] == pytest.approx(2 / 3)
    assert "attempt 2 differs" in score.summary()


def test_views_start_with_the_identity_and_cycle_the_symmetries():
    chosen = views(10, seed=3)
    assert chosen[0].symmetry == 0 and list(chosen[0].colours) == list(range(10))
    assert [v.symmetry for v in chosen] == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]
    assert all(v.colours[0] == 0 and sorted(v.colours) == list(range(10)) for v in chosen)
    grid = np.arange(6, dtype=np.uint8).reshape(2, 3)
    for v in chosen:
        np.testing.assert_array_equal(v.invert(v.grid(grid)), grid)
    with pytest.raises(ValueError, match="at least 1 view"):
        views(0)


def test_the_vote_ranks_by_first_attempts_then_second_then_confidence():
    a, b, c = (np.full((1, 2), v, np.uint8) for v in (1, 2, 3))
    assert [g[0, 0] for g in vote([([a, b], 0.0), ([c, b], 5.0), ([a, c], -1.0)])] == [1, 3]
    assert [g[0, 0] for g in vote([([a, b], 0.0), ([c, b], 5.0)])] == [3, 1]  # one first each: confidence
    assert [g[0, 0] for g in vote([([a, a], 0.0)])] == [1, 1]  # one grid in all: both attempts


def test_tta_maps_each_views_answer_back_before_voting(monkeypatch):
    """A stand-in model that answers every test input with the input itself, under every view: once
    mapped back, all views agree on the original input, whatever the symmetry and colours."""
    rng = np.random.default_rng(0)
    grid = lambda: rng.integers(0, 10, (2, 3)).astype(np.uint8)
    tasks = [Task((Pair(grid(), grid()),), (Pair(grid(), grid()),), f"t{i}") for i in range(3)]
    seen = []

    def echo(model, tasks, key, method, batch_size, progress, on_batch, options):
        seen.extend(t.name for t in tasks)
        predictions = {t.name: [[p.input, apply_symmetry(p.input, 2)] for p in t.test] for t in tasks}
        evals, sure = {t.name: 10 for t in tasks}, {t.name: 0.0 for t in tasks}
        on_batch(predictions, evals, sure)
        return predictions, evals, sure

    monkeypatch.setattr(evaluate, "_predict_all", echo)
    reported = {}
    predictions, evals = predict_tasks(
        object(), tasks, jax.random.key(0), no_search, tta=4, on_batch=lambda p, e: reported.update(p)
    )
    assert len(seen) == 12 and set(reported) == {"t0", "t1", "t2"}
    for t in tasks:
        np.testing.assert_array_equal(predictions[t.name][0][0], t.test[0].input)
        assert evals[t.name] == 40


@pytest.mark.slow
def test_tta_on_a_tiny_model_end_to_end(tiny_model, random_pairs):
    from lpn.tasks.sources import query_batch

    batch = query_batch(TINY, "pattern", 0, 4)
    tasks = batch_as_tasks(batch)
    assert len(tasks) == 4 and len(tasks[0].train) == TINY.num_pairs and len(tasks[0].test) == 1
    plain, plain_evals = predict_tasks(tiny_model, tasks, jax.random.key(0), gradient_search, steps=2)
    one_view, _ = predict_tasks(tiny_model, tasks, jax.random.key(0), gradient_search, tta=1, steps=2)
    voted, voted_evals = predict_tasks(tiny_model, tasks, jax.random.key(0), gradient_search, tta=3, steps=2)
    for t in tasks:
        np.testing.assert_array_equal(plain[t.name][0][0], one_view[t.name][0][0])
        assert voted_evals[t.name] == 3 * plain_evals[t.name]
        assert len(voted[t.name]) == 1 and len(voted[t.name][0]) == 2
    metrics = evaluate.tta_metrics(tiny_model, batch, jax.random.key(0), gradient_search, 3, steps=2)
    assert 0.0 <= metrics.top1 <= metrics.top2 <= 1.0


@pytest.mark.slow
def test_a_trace_cut_to_its_candidates_gives_the_same_attempts(tiny_model, random_pairs):
    from lpn.evaluate import keep_candidates

    x, shape = _query(random_pairs)
    for trace in (
        gradient_search(tiny_model, random_pairs, jax.random.key(0), steps=12),
        no_search(tiny_model, random_pairs),
    ):
        cut = keep_candidates(trace)
        assert cut.latents.shape == (1, 8, TINY.latent_dim)
        for a, b in zip(attempts(tiny_model, trace, x, shape), attempts(tiny_model, cut, x, shape)):
            np.testing.assert_array_equal(a, b)
