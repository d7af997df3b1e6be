import json

import jax
import pytest

from conftest import TINY
from lpn.compare import Comparison, compare_methods, table_11_methods
from lpn.evaluate import evaluate_batch
from lpn.figures import plot_comparison
from lpn.pattern import pattern_batch, pattern_tasks
from lpn.search import gradient_search, no_search

BUDGETS = (1, 3)
FAMILIES = (
    "encoder sampling",
    "Gaussian init + gradient",
    "encoder init + local",
    "Gaussian init + local",
    "random search",
    "LPN (encoder init + gradient)",
)
SPEC_PAIRS = TINY.num_pairs - 1  # the last pair of each generated task is the query


@pytest.fixture(scope="module")
def batch():
    return pattern_batch(jax.random.key(3), TINY, 4)


@pytest.fixture(scope="module")
def default(tiny_model, batch):
    return compare_methods(tiny_model, batch, jax.random.key(4), budgets=BUDGETS)


@pytest.mark.slow
def test_every_default_row_is_present(default):
    expected = ["mean latent"] + [f"{family} {b}" for family in FAMILIES for b in BUDGETS]
    assert [r.label for r in default.rows] == expected
    assert default.num_tasks == 4
    for r in default.rows:
        assert 0 <= r.top1 <= r.top2 <= 1 and 0 <= r.pixel <= 1 and 0 <= r.shape <= 1
        assert r.seconds >= 0 and r.compile_seconds >= 0


@pytest.mark.slow
def test_evaluations_follow_each_methods_budget(default):
    # Every generated task has the same pairs, so per-task counts are exact.
    assert default.row("mean latent").num_evals == SPEC_PAIRS  # one forward pass per given pair
    for b in BUDGETS:
        gradient = SPEC_PAIRS * (3 * b + 1)  # a gradient step counts three, plus the last point
        assert default.row(f"LPN (encoder init + gradient) {b}").num_evals == gradient
        assert default.row(f"Gaussian init + gradient {b}").num_evals == gradient
        for family in ("encoder sampling", "random search", "encoder init + local", "Gaussian init + local"):
            assert default.row(f"{family} {b}").num_evals == SPEC_PAIRS * (b + 1)
    for family in FAMILIES:
        small, large = (default.row(f"{family} {b}").num_evals for b in BUDGETS)
        assert small < large


@pytest.mark.slow
def test_same_key_same_results_and_no_recompilation(tiny_model, batch, default):
    again = compare_methods(tiny_model, batch, jax.random.key(4), budgets=BUDGETS)
    strip = lambda c: [r._replace(seconds=0.0, compile_seconds=0.0) for r in c.rows]
    assert strip(again) == strip(default)
    # Options are reused objects (the optimiser is cached), so every program compiled once.
    assert all(r.compile_seconds == 0 for r in again.rows), again.table()


@pytest.mark.slow
def test_a_custom_method_list_reuses_compiled_searches(tiny_model, batch, default):
    methods = [("mean", no_search, {}), ("grad 3", gradient_search, {"steps": 3})]  # the default rows' options
    result = compare_methods(tiny_model, batch, jax.random.key(4), methods)
    assert [r.label for r in result.rows] == ["mean", "grad 3"]
    assert [r.family for r in result.rows] == ["mean", "grad 3"]
    # The same tasks, key and options give the default rows' results, from the same programs.
    assert result.row("mean")[3:8] == default.row("mean latent")[3:8]
    assert result.row("grad 3")[3:8] == default.row("LPN (encoder init + gradient) 3")[3:8]
    assert all(r.compile_seconds == 0 for r in result.rows)
    with pytest.raises(ValueError, match="distinct labels"):
        compare_methods(tiny_model, batch, jax.random.key(4), methods + methods[:1])
    with pytest.raises(ValueError, match="budgets"):
        compare_methods(tiny_model, batch, jax.random.key(4), methods, budgets=(2,))


@pytest.mark.slow
def test_rows_match_evaluate_batch(tiny_model, batch, default):
    expected = evaluate_batch(tiny_model, batch, jax.random.key(4), no_search)
    row = default.row("mean latent")
    for name, value in expected._asdict().items():
        assert getattr(row, name) == pytest.approx(value, abs=1e-6), name


@pytest.mark.slow
def test_task_lists_are_scored_on_their_test_pairs(tiny_model):
    tasks = pattern_tasks(5, TINY, 3, num_pairs=2)
    result = compare_methods(tiny_model, tasks, jax.random.key(0), [("mean", no_search, {})])
    (row,) = result.rows
    assert result.num_tasks == 3 and row.num_evals == 2
    assert 0 <= row.top1 <= row.top2 <= 1
    # A row's own predict_tasks option `batch_size` beside compare_methods' tasks_per_call: the same answers.
    again = compare_methods(
        tiny_model, tasks, jax.random.key(0), [("mean", no_search, {"batch_size": 1})], tasks_per_call=2
    )
    assert again.rows[0][3:8] == row[3:8]


@pytest.mark.slow
def test_table_and_dict_name_every_row(default):
    table = default.table()
    for r in default.rows:
        assert r.label in table
    assert "evals/task" in table and "pass@2" in table
    lines = table.splitlines()[1:]
    assert len(lines) == len(default.rows) + 1 and len({len(line) for line in lines}) == 1  # aligned
    data = json.loads(json.dumps(default.to_dict()))
    assert [r["label"] for r in data["rows"]] == [r.label for r in default.rows]
    assert isinstance(default, Comparison) and len(table_11_methods()) == 1 + 6 * 4


@pytest.mark.slow
def test_plot_has_one_point_per_row_and_one_line_per_family(default):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plot_comparison(default)
    (ax,) = fig.axes
    assert sum(len(line.get_xdata()) for line in ax.lines) == len(default.rows)
    assert [line.get_label() for line in ax.lines] == ["mean latent", *FAMILIES]
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="metric"):
        plot_comparison(default, ax=ax, metric="accuracy")
    plt.close(fig)


@pytest.mark.slow
def test_baseline_rows_put_lpn_and_ttt_on_one_budget_axis(tiny_model, batch):
    from lpn.compare import baseline_methods
    from lpn.in_context import InContext, ttt

    in_context = InContext(TINY, jax.random.key(5))
    key = jax.random.key(4)
    result = compare_methods(tiny_model, batch, key, baseline_methods(in_context, (1,)))
    assert [r.label for r in result.rows] == ["mean latent", "LPN (encoder init + gradient) 1", "in-context", "TTT 1"]
    assert result.row("in-context").num_evals == result.row("mean latent").num_evals == SPEC_PAIRS
    assert result.row("TTT 1").num_evals == result.row("LPN (encoder init + gradient) 1").num_evals == SPEC_PAIRS * 4
    assert result.row("TTT 1").family == "TTT" and result.row("in-context").budget == 0
    for label, model, method, options in [
        ("in-context", in_context, None, {}),
        ("TTT 1", in_context, ttt, {"steps": 1}),
        ("LPN (encoder init + gradient) 1", tiny_model, gradient_search, {"steps": 1}),
    ]:
        expected = evaluate_batch(model, batch, key, method, **options)
        row = result.row(label)
        assert (row.top1, row.top2, row.shape) == pytest.approx((expected.top1, expected.top2, expected.shape)), label
        assert row.pixel == pytest.approx(expected.pixel, rel=1e-5), label
    assert result.row("TTT 1").top1 <= result.row("TTT 1").top2 and result.row("TTT 1").differs == 1.0
    # The rows above share budget 1's programs with the default rows and the next test; budget 2 here
    # pins TTT's count at a second budget (3 a step, plus the last loss).
    ttt_2 = [m for m in baseline_methods(in_context, (2,)) if m.label == "TTT 2"]  # a task list: TTT's row alone
    tasks = compare_methods(tiny_model, pattern_tasks(1, TINY, 3, num_pairs=SPEC_PAIRS), key, ttt_2)
    assert tasks.row("TTT 2").num_evals == SPEC_PAIRS * 7 and tasks.num_tasks == 3


@pytest.mark.slow
def test_an_in_context_model_defaults_to_its_prediction_and_ttt(batch):
    from lpn.in_context import InContext

    result = compare_methods(InContext(TINY, jax.random.key(5)), batch, jax.random.key(4), budgets=(1,))
    assert [r.label for r in result.rows] == ["in-context", "TTT 1"]


def test_a_row_whose_model_does_not_fit_the_tasks_is_refused(tiny_model, batch):
    from lpn.compare import SearchMethod
    from lpn.in_context import InContext

    small = InContext(TINY.replace(max_rows=TINY.max_rows - 1), jax.random.key(5))
    with pytest.raises(ValueError, match="row 'in-context': its model takes"):
        compare_methods(tiny_model, batch, jax.random.key(4), [SearchMethod.named("none", model=small)])
    with pytest.raises(ValueError, match="tasks_per_call must be at least 1, got 0"):
        evaluate_batch(tiny_model, batch, jax.random.key(4), tasks_per_call=0)


def test_a_row_holds_every_metric_of_task_metrics():
    from lpn.compare import ComparisonRow, SearchMethod
    from lpn.evaluate import TaskMetrics

    assert set(TaskMetrics._fields) <= set(ComparisonRow._fields)
    metrics = TaskMetrics(0.25, 0.5, 0.75, 0.8, 12.0, 0.5, 0.25)
    r = ComparisonRow.of(SearchMethod("g 3", no_search, {}, "g", 3), metrics, 1.5, 2.5)
    assert (r.label, r.family, r.budget, r.seconds, r.compile_seconds) == ("g 3", "g", 3, 1.5, 2.5)
    assert {f: getattr(r, f) for f in TaskMetrics._fields} == metrics._asdict()
