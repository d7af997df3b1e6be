"""The figures read on a 1280-px projector (issue 37): plain-number ticks on plot_comparison's log
axis, reproduce's figure no wider than 1280 px and stacked when wide, `lpn report`'s evaluation
panel on a 0-100% axis, its log axes in plain numbers and its title the run folder's name, and the
widgets' static chart with y ticks and its labels off the lines."""

import json
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lpn.cli import main  # noqa: E402
from lpn.compare import Comparison, ComparisonRow  # noqa: E402
from lpn.experiments import get_experiment  # noqa: E402
from lpn.figures import SIDE_BY_SIDE, WIDTH, plot_comparison, plot_experiment  # noqa: E402
from lpn.run_report import plot_run  # noqa: E402
from widgets.static import line_chart_svg, nice_ticks  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def row(family, budget, evals, top2=0.5):
    return ComparisonRow(f"{family} {budget}", family, budget, evals, top2, top2, 1.0, 1.0, 0.1, 0.0)


def tick_labels(ax):
    fig = ax.figure
    fig.canvas.draw()
    return [t.get_text() for t in ax.get_xticklabels() if t.get_text()]


def test_a_log_axis_under_a_decade_is_ticked_in_plain_numbers():
    fig = plot_comparison(Comparison((row("gradient", 1, 3.0), row("mean latent", None, 4.0)), 8))
    (ax,) = fig.axes
    assert tick_labels(ax) == ["3", "4"]
    assert not [t.get_text() for t in ax.get_xminorticklabels() if t.get_text()]
    plt.close(fig)


def test_ticks_close_together_are_thinned_so_labels_do_not_overlap():
    evals = (1, 10, 30, 50, 100, 150, 200, 300, 400, 600, 1200)
    fig = plot_comparison(Comparison(tuple(row("g", i + 1, e) for i, e in enumerate(evals)), 8))
    (ax,) = fig.axes
    labels = tick_labels(ax)
    assert labels[0] == "1" and labels[-1] == "1,200" and "150" not in labels and len(labels) < len(evals)
    boxes = [t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), "tick labels overlap"
    plt.close(fig)


def test_budget_labels_on_one_spot_are_written_once():
    """Three families at 303 evaluations and about 90% read '100100' in one pile."""
    rows = (row("random", 100, 303.0, 0.90), row("sampling", 100, 303.0, 0.91), row("local", 100, 303.0, 0.60))
    fig = plot_comparison(Comparison(rows + (row("gradient", 10, 93.0, 0.90),), 8))
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == ["10", "100", "100"]  # the one at 60% keeps its label
    plt.close(fig)


@pytest.mark.parametrize("name", ["table1", "table3"])
def test_reproduce_figure_fits_1280_px_and_stacks_when_wide(name):
    exp = get_experiment(name)
    results = json.loads((RESULTS / name / "results.json").read_text())
    fig = plot_experiment(exp, results)
    assert fig.get_figwidth() * 110 <= 1280 and fig.get_figwidth() == WIDTH
    ours, paper = fig.axes[:2]
    stacked = len([c for c in exp.columns if any(c.label in r for r in results["summary"].values())]) > SIDE_BY_SIDE
    assert (ours.get_position().y0 > paper.get_position().y1) == stacked
    assert fig.legends and not ours.get_legend() and not paper.get_legend()  # one legend, beside the panels
    plt.close(fig)


def metrics_line(step, **scores):
    return {
        "step": step,
        "loss": 1.0,
        "reconstruction": 0.9,
        "kl": 0.1,
        "grad_norm": 1.0,
        "learning_rate": 1e-3,
        "steps_per_second": 10.0,
        "wall_time": step / 10,
        "time": "2026-12-07T00:00:00Z",
        **scores,
    }


def run_figure(lines, tmp_path, monkeypatch):
    """The figure `plot_run` draws from `lines`, caught as it is saved."""
    import matplotlib.figure

    saved = []
    original = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(
        matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: saved.append(fig) or original(fig, *a, **k)
    )
    plot_run(lines, tmp_path / "r.png", title="run")
    (fig,) = saved
    return fig


def test_the_evaluation_panel_of_all_zero_scores_is_a_percent_axis(tmp_path, monkeypatch):
    lines = [metrics_line(s, top1_gradient=0.0) for s in (10, 20)]
    fig = run_figure(lines, tmp_path, monkeypatch)
    evaluation = next(ax for ax in fig.axes if ax.get_title() == "evaluation")
    assert evaluation.get_ylim() == pytest.approx((-0.03, 1.03))
    assert [line.get_label() for line in evaluation.lines] == ["top-1 gradient"]
    assert fig.get_figwidth() * fig.dpi <= 1280


def test_lpn_reports_log_axes_are_labelled_in_plain_numbers(tmp_path, monkeypatch):
    """The loss and the pace span under a decade or two: plain labels (0.5, 3, 20), not 5×10⁻¹."""
    lines = [
        {**metrics_line(s), "loss": loss, "reconstruction": loss * 0.98, "steps_per_second": pace}
        for s, loss, pace in ((50, 3.4, 19.0), (100, 1.2, 31.0), (150, 0.6, 12.0), (200, 0.42, 5.2))
    ]
    fig = run_figure(lines, tmp_path, monkeypatch)
    for title in ("loss (log scale)", "steps per second (log scale)"):
        ax = next(a for a in fig.axes if a.get_title() == title)
        low, high = ax.get_ylim()
        shown = [
            t.get_text()
            for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True)
            if t.get_text() and low <= t.get_position()[1] <= high
        ]
        assert shown and all(re.fullmatch(r"[\d.]+", text) for text in shown), (title, shown)
    assert {"0.5", "1", "2", "3"} <= set(
        t.get_text() for a in fig.axes[:1] for t in a.get_yticklabels() + a.get_yticklabels(minor=True)
    )


def test_lpn_report_titles_its_plot_with_the_run_folders_name(tmp_path, monkeypatch, capsys):
    run = tmp_path / "deep" / "my-run"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text("".join(json.dumps(metrics_line(s)) + "\n" for s in (10, 20)))
    titles = []
    monkeypatch.setattr("lpn.run_report.plot_run", lambda lines, out, title="": titles.append(title) or out)
    assert main(["report", str(run)]) == 0
    assert titles == ["my-run: step 20"]


def test_static_chart_has_y_ticks_and_a_legend_under_the_plot():
    svg = line_chart_svg([("LPN 100", [0, 1, 2], [-3.0, -2.0, -0.5]), ("TTT 100", [0, 1], [-2.0, -1.0])], height=160)
    ticks = re.findall(r'text-anchor="end" font-size="10">(-?[\d.]+)</text>', svg)
    assert ticks == ["-3.0", "-2.5", "-2.0", "-1.5", "-1.0", "-0.5"]
    legend_y = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" font-size="10" fill=', svg)]
    assert legend_y and min(legend_y) > 160  # below the plot and its axis, off the lines
    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] and nice_ticks(-250, -20)[0] == -250


def test_static_chart_ticks_its_x_axis_at_round_values_and_clear_ends():
    """The evaluations axis of compare_searches read 2 ... 50 with nothing between."""
    svg = line_chart_svg([("GA 8", [2, 10, 26, 50], [-8.0, -7.0, -6.0, -5.5])])
    assert re.findall(r'class="lpn-xlabel">([\d.]+)</text>', svg) == ["2", "20", "40", "50"]
    assert svg.count('class="lpn-xtick"') == 4
    close = line_chart_svg([("a", [0, 41], [0.0, 1.0])])  # 41 stands within a few pixels of 40: not labelled
    assert re.findall(r'class="lpn-xlabel">([\d.]+)</text>', close) == ["0", "20", "40"]


def test_static_chart_draws_a_one_point_series_and_keeps_flat_lines_off_the_frame():
    """compare_searches showed neither the mean latent (one point) nor a random search that never beat
    it (a flat line along the frame's bottom edge)."""
    svg = line_chart_svg(
        [("mean latent", [3], [-0.09]), ("random 30", [3, 93], [-0.09, -0.09]), ("GA", [3, 93], [-0.09, -0.04])]
    )
    assert svg.count('class="lpn-end"') == 3
    top, height = (
        float(v) for v in re.search(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg).groups()
    )
    flat = [float(p.split(",")[1]) for p in re.findall(r'<polyline points="([^"]+)"', svg)[1].split()]
    assert all(top + 2 < y < top + height - 2 for y in flat)
