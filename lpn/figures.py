"""The matplotlib figures of `lpn`'s measurements: a search-method comparison against decoder
evaluations (`lpn.compare`, paper Table 11 as a figure) and an experiment of `lpn reproduce` beside the
paper's numbers (paper §5, Tables 1-3, Figures 2-3).

matplotlib is imported inside the functions, so `import lpn` stays free of it. The numbers come from
elsewhere (`lpn.compare`, `lpn.tables.summary`); the same numbers as markdown are `lpn.tables`.
"""

from __future__ import annotations

import os
from pathlib import Path

from lpn.compare import METRICS, Comparison, ComparisonRow
from lpn.experiment_spec import Experiment


def plot_comparison(result: Comparison, ax=None, metric: str = "top2"):
    """Accuracy (`metric`: top1, top2, shape or pixel) against decoder evaluations per task on a
    log axis: one line per family, one marker per row, each labelled with its budget. Returns the
    figure."""
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
    for family, rows in families.items():
        rows = sorted(rows, key=lambda r: r.num_evals)
        xs, ys = [r.num_evals for r in rows], [getattr(r, metric) for r in rows]
        ax.plot(xs, ys, marker="o", label=family)
        for r, x, y in zip(rows, xs, ys):
            if r.budget:
                ax.annotate(str(r.budget), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("decoder evaluations per task")
    ax.set_ylabel(METRICS[metric])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title(f"search methods on {result.num_tasks} tasks")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if own_figure:
        ax.figure.tight_layout()
    return ax.figure


def plot_experiment(exp: Experiment, results: dict):
    """A matplotlib figure of two panels, ours and the paper's: one line per row across the
    columns, with ± std bars. `results` is a `run`'s (or its results.json, loaded)."""
    import matplotlib.pyplot as plt

    table = results["summary"]
    shown = [c for c in exp.columns if any(c.label in row for row in table.values())]
    columns = [c.label for c in shown]
    fig, axes = plt.subplots(1, 2, figsize=(max(9.0, 1.1 * len(columns) * 2), 4.2), sharey=True)
    scale = results["settings"]["scale"]
    for ax, title, pick in (
        (axes[0], f"ours ({scale} scale, {_count(len(results['seeds']), 'seed')})", lambda c: c),
        (axes[1], "paper", lambda c: c["paper"]),
    ):
        for i, row in enumerate(exp.rows):
            lines: dict[tuple, tuple[list, list, list]] = {}  # a line joins columns of one method and density
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
        ax.set_title(title)
        tilt = len(columns) > 6
        ax.set_xticks(
            range(len(columns)), columns, rotation=30 if tilt else 0, ha="right" if tilt else "center", fontsize=8
        )
        ax.set_xlabel(exp.x_label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("top-1 exact match %")
    axes[0].set_ylim(-3, 103)
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(exp.title, fontsize=10)
    fig.tight_layout()
    return fig


def write_figure(path: Path, exp: Experiment, results: dict) -> None:
    import matplotlib.pyplot as plt

    fig = plot_experiment(exp, results)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"
