"""The matplotlib figures of `lpn`'s measurements: a search-method comparison against decoder
evaluations (`lpn.compare`, paper Table 11 as a figure) and an experiment of `lpn reproduce` beside the
paper's numbers (paper §5, Tables 1-3, Figures 2-3).

matplotlib is imported inside the functions, so `import lpn` stays free of it. The numbers come from
elsewhere (`lpn.compare`, `lpn.tables.summary`); the same numbers as markdown are `lpn.tables`.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np

from lpn.compare import METRICS, Comparison, ComparisonRow
from lpn.experiment_spec import Experiment
from lpn.files import atomic_write


def plot_comparison(result: Comparison, ax=None, metric: str = "top2"):
    """Accuracy (`metric`: top1, top2, shape or pixel) against decoder evaluations per task on a
    log axis, ticked in plain numbers at the rows' evaluations: one line per family, one marker per
    row, each labelled with its budget. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    own_figure = ax is None
    if own_figure:
        _, ax = plt.subplots(figsize=(9, 4.5))
    families: dict[str, list[ComparisonRow]] = {}
    for row in result.rows:
        families.setdefault(row.family, []).append(row)
    labelled: list[tuple[int, float, str]] = []  # budget labels placed: one text per spot, not a pile
    for family, rows in families.items():
        rows = sorted(rows, key=lambda r: r.num_evals)
        xs, ys = [r.num_evals for r in rows], [getattr(r, metric) for r in rows]
        ax.plot(xs, ys, marker="o", label=family)
        for r, x, y in zip(rows, xs, ys):
            if r.budget and not any(x == a and abs(y - b) < 0.04 and t == str(r.budget) for a, b, t in labelled):
                ax.annotate(str(r.budget), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
                labelled.append((x, y, str(r.budget)))
    _evaluation_ticks(ax, [r.num_evals for r in result.rows])
    ax.set_xlabel("decoder evaluations per task")
    ax.set_ylabel(METRICS[metric])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title(f"search methods on {result.num_tasks} tasks")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if own_figure:
        ax.figure.tight_layout()
    return ax.figure


def _evaluation_ticks(ax, evals) -> None:
    """A log x axis ticked at the evaluations the rows spent, as plain numbers, leaving out a tick
    closer to the one before than a 14th of the span (labels that would overlap), and no minor
    labels (matplotlib's "3×10⁰4×10⁰" on an axis spanning less than a decade)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.set_xscale("log")
    values = sorted({float(v) for v in evals if v > 0})
    gap = max(0.12, (np.log10(values[-1]) - np.log10(values[0])) / 14) if values else 0.0
    ticks: list[float] = []
    for value in values:
        if not ticks or np.log10(value) - np.log10(ticks[-1]) >= gap:
            ticks.append(value)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 or v == round(v) else f"{v:.2g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    if ticks:  # room either side for the markers and their budget labels
        ax.set_xlim(ticks[0] / 1.3, max(evals) * 1.3)


WIDTH = 11.5  # inches: 1,265 px at write_figure's 110 dpi, readable on a 1280-px projector
SIDE_BY_SIDE = 6  # columns up to which ours and the paper's panels stand side by side, else stacked


def plot_experiment(exp: Experiment, results: dict):
    """A matplotlib figure of two panels, ours and the paper's: one line per row across the
    columns, with ± std bars, and one legend beside them. `results` is a `run`'s (or its
    results.json, loaded). The figure is `WIDTH` wide whatever the columns: past `SIDE_BY_SIDE`
    columns the panels are stacked, and long column labels wrap onto two lines."""
    import matplotlib.pyplot as plt

    table = results["summary"]
    shown = [c for c in exp.columns if any(c.label in row for row in table.values())]
    stacked = len(shown) > SIDE_BY_SIDE
    fig, axes = plt.subplots(
        2 if stacked else 1,
        1 if stacked else 2,
        figsize=(WIDTH, 7.6 if stacked else 4.6),
        sharey=True,
        layout="constrained",
    )
    scale = results["settings"]["scale"]
    for ax, title, pick in (
        (axes[0], f"ours ({scale} scale, {_count(len(results['seeds']), 'seed')})", lambda c: c),
        (axes[1], "paper", lambda c: c["paper"]),
    ):
        _experiment_panel(ax, exp, table, shown, pick)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("top-1 exact match %")
    axes[0].set_ylim(-3, 103)
    legend = {}  # a row drawn in either panel, once, in the rows' order
    for ax in axes:
        legend.update({label: handle for handle, label in zip(*ax.get_legend_handles_labels()) if label not in legend})
    order = [row.label for row in exp.rows if row.label in legend]
    fig.legend([legend[label] for label in order], order, fontsize=8, loc="outside right upper")
    fig.suptitle(textwrap.fill(exp.title, 110), fontsize=10)
    return fig


def _experiment_panel(ax, exp: Experiment, table: dict, shown, pick) -> None:
    """One panel: a line per row, joining the columns of one method and density."""
    for i, row in enumerate(exp.rows):  # colour by the row's place in the experiment, the same at every scale
        if row.label not in table:  # a row this scale does not run (Table 1's Sample 25 at cpu scale)
            continue
        lines: dict[tuple, tuple[list, list, list]] = {}
        for x, column in enumerate(shown):
            cell = table[row.label].get(column.label)
            value = pick(cell) if cell else None
            if value and value["mean"] is not None:
                xs, ys, es = lines.setdefault((column.search, column.density), ([], [], []))
                xs.append(x), ys.append(value["mean"]), es.append(value["std"] or 0.0)
        for j, (xs, ys, es) in enumerate(lines.values()):
            ax.errorbar(
                xs, ys, yerr=es, marker="o", ms=4, capsize=3, color=f"C{i}", label=row.label if j == 0 else None
            )
    ax.set_xticks(range(len(shown)), [_tick_label(c.label) for c in shown], fontsize=8)
    ax.set_xlim(-0.4, len(shown) - 0.6)
    ax.set_xlabel(exp.x_label)
    ax.grid(alpha=0.3)


def _tick_label(label: str) -> str:
    """A column label on two lines where it is long: Table 3's "0.5 · Grad 100" at its dot."""
    return label.replace(" · ", "\n") if " · " in label else textwrap.fill(label, 11)


def write_figure(path: Path, exp: Experiment, results: dict) -> None:
    import matplotlib.pyplot as plt

    fig = plot_experiment(exp, results)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, png.getvalue())


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"
