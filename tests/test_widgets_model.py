"""The model-driven widgets, driven headlessly with one tiny random model (2-D latent, 4x4 grids).

Compiling is most of the cost, so the module builds the model and one explorer once and the other
widgets reuse its compiled decoder and its search trace.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("anywidget", reason="lpn.widgets needs anywidget (pip install 'lpn[notebook]')")
jax = pytest.importorskip("jax")

from lpn import make_task  # noqa: E402
from lpn.config import Config  # noqa: E402
from lpn.in_context import InContext, answer, predict, ttt, ttt_optimizer  # noqa: E402
from lpn.model import LPN  # noqa: E402
from lpn.search import GRADIENT_COST, SearchTrace, log_prob, no_search  # noqa: E402
from lpn.train import Record  # noqa: E402
from lpn.widgets import (  # noqa: E402
    SearchComparison,
    SearchPlayer,
    compare_searches,
    decode_grids,
    edit_grid,
    explore_latent,
    latent_program,
    training_dashboard,
)
from lpn.widgets.dashboard import GROUPS  # noqa: E402
from lpn.widgets.encoding import decode_grid  # noqa: E402
from lpn.widgets.layout import judge  # noqa: E402
from lpn.widgets.projection import fit_plane, grid_points, square_extent  # noqa: E402
from lpn.widgets.task_model import TaskModel  # noqa: E402

TINY = Config(
    max_rows=4,
    max_cols=4,
    latent_dim=2,
    enc_layers=1,
    dec_layers=1,
    enc_heads=2,
    dec_heads=2,
    enc_head_dim=8,
    dec_head_dim=8,
)


def grid(seed, shape=(4, 4)):
    return np.random.default_rng(seed).integers(0, 10, shape)


@pytest.fixture(scope="module")
def model():
    return LPN(TINY, jax.random.key(0))


@pytest.fixture(scope="module")
def task():
    return make_task([(grid(1), grid(2)), (grid(3), grid(4))], [(grid(5), grid(6))], name="tiny")


@pytest.fixture(scope="module")
def explorer(model, task):
    return explore_latent(model, task, resolution=12, search_steps=8)


@pytest.fixture(scope="module")
def trace(explorer):
    """The explorer's gradient search from (2.5, 2.5), 8 steps (run here if no test ran it yet)."""
    if explorer.trace is None:
        explorer.select(2.5, 2.5)
        explorer.search()
    return explorer.trace


# projection (pure numpy)


def test_a_2d_latent_is_its_own_plane_and_larger_ones_use_their_main_directions():
    plane = fit_plane(np.random.default_rng(0).normal(size=(4, 2)))
    assert np.array_equal(plane.basis, np.eye(2)) and plane.axes == ("z₁", "z₂")
    points = np.zeros((5, 6), np.float32)
    points[:, 2] = np.arange(5)  # spread mostly along axis 2, a little along axis 4
    points[:, 4] = [0, 1, 0, 1, 0]
    plane = fit_plane(points)
    assert np.allclose(plane.basis @ plane.basis.T, np.eye(2), atol=1e-5)
    assert abs(plane.basis[0, 2]) > 0.99 and abs(plane.basis[1, 4]) > 0.99
    assert np.allclose(plane.to_latent(plane.to_plane(points)), points, atol=1e-5)  # the points lie in it
    single = fit_plane(np.ones((3, 5)))  # no spread at all: still an orthonormal plane
    assert np.allclose(single.basis @ single.basis.T, np.eye(2), atol=1e-5)


def test_grid_points_run_left_to_right_then_top_to_bottom_like_an_image():
    uv = grid_points([-1, 1, -1, 1], 2)
    assert uv.tolist() == [[-0.5, 0.5], [0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]]
    assert square_extent([[0.1, 5.0]]) == [-6.25, 6.25, -6.25, 6.25]
    assert square_extent([[0.1, 0.2]]) == [-3.0, 3.0, -3.0, 3.0]


# latent explorer


@pytest.mark.slow
def test_explorer_heat_map_is_log_prob_of_the_train_pairs_on_the_plane(explorer, model):
    g = explorer.resolution
    heat = np.frombuffer(explorer.heat, np.float32)
    assert heat.shape == (g * g,) and len(explorer.heat_rgba) == g * g * 4
    points = grid_points(explorer.extent, g)
    for i in (0, g * g // 2, g * g - 1):  # spot checks against the core's objective
        expected = float(log_prob(model, jax.numpy.asarray(points[i]), explorer.task_model.pairs))
        assert heat[i] == pytest.approx(expected, rel=1e-4, abs=1e-4)
    assert explorer.heat_range == [pytest.approx(heat.min()), pytest.approx(heat.max())]
    kinds = [m["kind"] for m in explorer.markers]
    assert kinds == ["pair", "pair", "mean"]
    assert np.allclose(explorer.markers[-1]["uv"], explorer.mean_latent, atol=1e-6)


def test_explorer_starts_at_the_mean_latent_and_a_click_decodes_the_latent_there(explorer):
    assert np.allclose(explorer.latent, explorer.mean_latent)
    explorer.query = [1.5, -2.0]  # what the browser sends on a click
    assert np.allclose(explorer.latent, [1.5, -2.0])
    expected = explorer.task_model.decode(np.array([1.5, -2.0]))[0]
    assert np.array_equal(decode_grid(explorer.decoded), expected)
    assert np.array_equal(explorer.decoded_grid, expected)
    assert explorer.decoded_caption.startswith("output at (1.50, -2.00), log p = ")
    assert "✓" in explorer.decoded_caption or "✗" in explorer.decoded_caption  # the truth is known
    assert np.array_equal(explorer.select(-1.0, 0.5), explorer.task_model.decode(np.array([-1.0, 0.5]))[0])


def test_explorer_search_draws_the_path_and_shows_the_best_latent(explorer):
    explorer.select(2.5, 2.5)
    explorer._handle_custom_msg({"op": "search"}, [])  # the button's message
    trace = explorer.trace
    assert len(explorer.path) == 9 and np.allclose(explorer.path[0], [2.5, 2.5])
    assert np.allclose(explorer.path, np.asarray(trace.latents)[:, 0], atol=1e-5)
    assert np.allclose(explorer.latent, trace.best)
    assert float(trace.best_score) >= float(trace.scores[0, 0])
    assert re.match(r"8 steps: log p -?[\d.]+ → -?[\d.]+, \d+ decoder evaluations", explorer.status)


def test_explorer_static_html_has_the_map_markers_and_grids(explorer):
    html = explorer.to_html()
    assert "data:image/png;base64," in html and html.count("<circle") == 3
    assert len(re.findall(r'class="lpn-grid"', html)) == 3


def test_latent_program_runs_the_specified_program_on_any_grid_and_feeds_the_editor(explorer, model, task):
    program = latent_program(model, task)
    out = program(task.test[0].input)
    assert np.array_equal(out, explorer.task_model.decode(explorer.mean_latent)[0])
    editor = edit_grid(source=task.test[0].input, predict=program)
    assert np.array_equal(decode_grid(editor.result), out)
    editor.paint([(0, 0), (1, 1), (2, 2)], 3)
    assert np.array_equal(decode_grid(editor.result), program(editor.value))
    editor.resize(5, 5)
    assert editor.result == b"" and "exceeds the model's 4x4" in editor.result_caption


# search player


def test_player_decodes_every_step_and_opens_on_the_last(explorer, trace, model, task):
    player = SearchPlayer(model, task, trace, title="GA")
    frames = decode_grids(player.frames)
    assert player.num_steps == len(frames) == 9 and player.step == 8
    for s in (0, 8):
        assert np.array_equal(frames[s], explorer.task_model.decode(np.asarray(trace.latents)[s, 0])[0])
    assert player.scores == pytest.approx(np.asarray(trace.scores)[:, 0].tolist())
    assert np.allclose(player.path, np.asarray(trace.latents)[:, 0], atol=1e-5)
    items = player.attempt_sections[0]["rows"][0]["items"]
    assert [i["caption"].split(" ")[0] for i in items] == ["test", "attempt", "attempt", "truth"]
    attempt1 = decode_grids(player.attempt_grids)[items[1]["grid"]]
    assert np.array_equal(attempt1, explorer.task_model.decode(trace.best)[0])
    assert "objective by step" in player.to_html()


def test_player_rejects_a_batched_trace(trace, model, task):
    batched = jax.tree.map(lambda a: np.asarray(a)[None], trace)
    with pytest.raises(ValueError, match="pick a task first"):
        SearchPlayer(model, task, batched)


# search comparison


def test_comparison_plots_best_so_far_against_evaluations_and_judges_attempts(trace, model, task):
    flat = SearchTrace(*(np.asarray(a) for a in trace))
    worse = flat._replace(scores=flat.scores - 5.0, best_score=flat.best_score - 5.0, num_evals=np.int32(10))
    view = SearchComparison(model, task, {"GA": flat, "worse": worse})
    ga, bad = view.curves
    assert ga["label"] == "GA" and ga["x"][-1] == int(trace.num_evals) and len(ga["x"]) == 9
    assert ga["y"] == sorted(ga["y"]) and ga["y"][-1] == pytest.approx(float(trace.best_score) / 2)  # per pair
    assert bad["x"][-1] == 10
    assert [s["label"] for s in view.stats] == ["GA", "worse"]
    assert all(v in ("correct", "wrong", "shape") for s in view.stats for v in s["verdicts"])
    assert [s["title"] for s in view.sections] == ["GA", "worse"]
    grids = decode_grids(view.grids)
    for section in view.sections:  # merged layouts point at their own grids
        test_input = grids[section["rows"][0]["items"][0]["grid"]]
        assert np.array_equal(test_input, task.test[0].input)
    assert "mean log p per given pair" in view.to_html() and "LPN: best so far" in view.note
    assert "TTT" not in view.note  # no TTT row, no TTT note


def test_compare_searches_runs_each_method(model, task):
    view = compare_searches(model, task, {"mean latent": no_search})
    (row,) = view.stats
    # one latent, two attempts: its grid and the decoder's runner-up (lpn.evaluate.attempts)
    assert row["label"] == "mean latent" and row["evals"] == 2 and len(row["verdicts"]) == 2


# search comparison of LPN's searches with TTT of an in-context model


TTT_ADAM = ttt_optimizer(1e-3)  # given, not the config's ttt_lr: a larger step, so the losses move (and no
# dependence on that field, which even 0 steps read when no optimizer is given)


@pytest.fixture(scope="module")
def ic_model():
    return InContext(TINY, jax.random.key(1))


@pytest.fixture(scope="module")
def mixed(model, ic_model, task):
    return compare_searches(
        model,
        task,
        {
            "mean": no_search,
            "in-context": (ic_model, ttt, {"steps": 0, "optimizer": TTT_ADAM}),
            "TTT 3": (ic_model, ttt, {"steps": 3, "optimizer": TTT_ADAM}),
        },
    )


def shown_attempts(view, label):
    """The attempt grids of row `label`'s section, in order."""
    (section,) = [s for s in view.sections if s["title"] == label]
    grids = decode_grids(view.grids)
    return [grids[i["grid"]] for i in section["rows"][0]["items"] if i["caption"].startswith("attempt")]


@pytest.mark.slow
def test_comparison_mixes_lpn_searches_and_ttt_rows(mixed):
    assert [s["label"] for s in mixed.stats] == ["mean", "in-context", "TTT 3"]
    assert [s["kind"] for s in mixed.stats] == [c["kind"] for c in mixed.curves] == ["LPN", "TTT", "TTT"]
    assert [c["label"] for c in mixed.curves] == ["mean", "in-context (leave-one-out)", "TTT 3 (leave-one-out)"]
    assert [s["title"] for s in mixed.sections] == ["mean", "in-context", "TTT 3"]
    for row in mixed.stats:  # two attempts, each judged
        assert len(row["verdicts"]) == 2 and set(row["verdicts"]) <= {"correct", "wrong", "shape"}
    assert "leave-one-out" in mixed.note and "not a best so far" in mixed.note


@pytest.mark.slow
def test_ttt_curve_is_minus_the_loss_after_each_step_against_evaluations(mixed, model, task):
    trace = mixed.traces["TTT 3"]
    curve = mixed.curves[2]
    assert len(curve["x"]) == len(curve["y"]) == 3 + 1
    assert curve["x"] == [2 * GRADIENT_COST * k for k in (1, 2, 3)] + [int(trace.num_evals)]  # 2 given pairs
    assert curve["x"][-1] == 2 * (GRADIENT_COST * 3 + 1)
    assert curve["y"] == pytest.approx((-np.asarray(trace.losses)).tolist())
    assert curve["y"][-1] > curve["y"][0]  # training on the pairs raised their likelihood
    assert mixed.stats[2]["log_p"] == pytest.approx(curve["y"][-1]) and mixed.stats[2]["evals"] == curve["x"][-1]
    in_context = mixed.curves[1]
    assert in_context["x"] == [2] and in_context["y"] == pytest.approx([-float(mixed.traces["in-context"].losses[0])])
    mean = mixed.curves[0]  # the LPN row on the same axis: its objective per given pair
    assert mean["y"] == pytest.approx([float(mixed.traces["mean"].best_score) / 2])


@pytest.mark.slow
def test_ttt_row_shows_the_tuned_models_answer_and_steps_0_the_in_context_prediction(mixed, ic_model, task):
    task_model = TaskModel(ic_model, task)
    input_RC, input_shape = task_model.padded(task.test[0].input)
    trace = jax.tree.map(jax.numpy.asarray, mixed.traces["TTT 3"])  # the widget keeps numpy, answer() wants jax
    out, shape = answer(trace, input_RC, input_shape)
    shown, second = shown_attempts(mixed, "TTT 3")
    assert np.array_equal(shown, np.asarray(out)[: shape[0], : shape[1]]) and not np.array_equal(shown, second)
    out, shape = predict(ic_model, task_model.pairs, input_RC, input_shape)
    shown, second = shown_attempts(mixed, "in-context")
    assert np.array_equal(shown, np.asarray(out)[: shape[0], : shape[1]])
    assert mixed.stats[1]["verdicts"] == [judge(g, task.test[0].output)[1] for g in (shown, second)]


@pytest.mark.slow
def test_comparison_html_draws_the_lpn_and_ttt_curves_with_the_note(mixed):
    html = mixed.to_html()
    assert html.count("<polyline") == 3
    for label in ("mean", "in-context (leave-one-out)", "TTT 3 (leave-one-out)"):
        assert f">{label}</text>" in html
    assert "mean log p per given pair" in html and "not a best so far" in html


def test_a_row_with_its_own_lpn_is_searched_and_decoded_with_that_model(model, task):
    other = LPN(TINY, jax.random.key(7))
    view = compare_searches(model, task, {"own": no_search, "other": (other, no_search, {})})
    own, theirs = (view.traces[k] for k in ("own", "other"))
    assert theirs[0] is other
    other_task = TaskModel(other, task)
    assert np.array_equal(shown_attempts(view, "other")[0], other_task.decode(theirs[1].best)[0])
    assert view.curves[1]["y"] == pytest.approx([float(other_task.score(theirs[1].best)[0]) / 2])
    assert not np.allclose(own.best, theirs[1].best)


# training dashboard


def test_dashboard_records_metrics_groups_charts_and_shows_samples(model, task):
    dashboard = training_dashboard([task], samples_every_s=0)
    dashboard(Record(50, loss=2.0, reconstruction=1.9, kl=3.0, grad_norm=1.0), None)
    assert dashboard.sections == []  # no state given: no samples
    dashboard(
        Record(100, loss=1.5, reconstruction=1.4, kl=2.0, grad_norm=0.5, evaluation={"top1": 0.25, "lr": 1e-3}), model
    )
    assert [r["step"] for r in dashboard.history] == [50, 100]
    assert dashboard.groups == [
        ["loss", ["loss", "reconstruction"]],
        ["KL", ["kl"]],
        ["accuracy", ["top1"]],
        ["gradient norm", ["grad_norm"]],
        ["lr", ["lr"]],
    ]
    assert dashboard.status.startswith("step 100 · loss 1.5 · kl 2 · dashboard ")
    items = dashboard.sections[0]["rows"][-1]["items"]
    assert [i["caption"].split(" ")[0] for i in items] == ["test", "attempt", "truth"]
    assert 0 <= dashboard.overhead < 1
    assert "accuracy" in dashboard.to_html()


def test_every_top1_and_top2_key_goes_to_the_one_accuracy_chart():
    dashboard = training_dashboard()
    evaluation = {
        "top1_mean_latent": 0.1,
        "top1_gradient": 0.3,
        "top2_gradient": 0.4,
        "top1_in_context": 0.2,
        "top1_ttt": 0.25,
        "top1": 0.5,
        "top10": 0.0,
    }
    dashboard.records.append({"step": 10, "loss": 1.0, **evaluation})
    dashboard.push()
    accuracy = [names for title, names in dashboard.groups if title == "accuracy"]
    assert accuracy == [["top1", "top1_gradient", "top1_in_context", "top1_mean_latent", "top1_ttt", "top2_gradient"]]
    assert [title for title, _ in dashboard.groups] == ["loss", "accuracy", "top10"]  # no prefix, its own chart
    assert GROUPS["accuracy"][:2] == ("top1", "top2")


def test_dashboard_thins_a_long_history_but_keeps_the_last_point():
    dashboard = training_dashboard()
    dashboard.max_points = 100
    for step in range(1, 1002):
        dashboard.records.append({"step": step, "loss": 1.0 / step})
    dashboard.push()
    assert len(dashboard.history) <= 101 and dashboard.history[-1]["step"] == 1001
    assert dashboard.history[0]["step"] == 1


@pytest.mark.slow
def test_explorer_of_a_3d_latent_shows_the_plane_of_the_task_latents_then_of_the_search_path():
    cfg = TINY.replace(latent_dim=3)
    model = LPN(cfg, jax.random.key(1))
    task = make_task([(grid(1), grid(2)), (grid(3), grid(4)), (grid(7), grid(8))], [(grid(5), grid(6))])
    explorer = explore_latent(model, task, resolution=8, search_steps=5)
    assert explorer.axes == ["PC1", "PC2"]
    pair_uv = explorer.plane.to_latent(np.array([m["uv"] for m in explorer.markers]))
    assert np.allclose(pair_uv, np.concatenate([explorer.pair_latents, explorer.mean_latent[None]]), atol=1e-4)
    heat_before = explorer.heat
    trace = explorer.search()
    path_SH = np.asarray(trace.latents)[:, 0]
    spread = np.abs(path_SH - path_SH.mean(0)).max()
    assert np.abs(explorer.plane.to_latent(explorer.path) - path_SH).max() < 0.2 * spread  # the plane follows the path
    assert explorer.heat != heat_before  # the map was redrawn on the new plane
    assert np.allclose(explorer.latent, trace.best)  # the true best latent is decoded, not its projection
    assert np.array_equal(explorer.decoded_grid, explorer.task_model.decode(trace.best)[0])
