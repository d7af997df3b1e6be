"""Every picture `lpn` draws without a notebook: grids in the terminal (`lpn solve`), PNG galleries of
tasks (`lpn tasks gallery`), the plot of a search-method comparison (paper Table 11 as a figure), and
the HTML page of `lpn demo`.

The computations live elsewhere (`lpn.compare`, `lpn.demo`, `lpn.tasks`); this module only turns
their results into text, PNG or HTML. matplotlib is imported inside the functions that need it, so
`import lpn` stays free of it, and figures go through the Agg canvas or `savefig`, so it runs
headless. Interactive views are in `lpn.widgets`.
"""

from __future__ import annotations

import base64
import html
import io
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lpn.compare import METRICS, Comparison, ComparisonRow
from lpn.grids import PALETTE, Task

_RGB = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in PALETTE], np.uint8)
_LINE, _PAPER = np.array([85, 85, 85], np.uint8), np.array([255, 255, 255], np.uint8)


# The terminal: grids as ANSI colour blocks or digits.

RESET = "\x1b[0m"


def use_colour(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def grid_rows(grid, colour: bool) -> list[str]:
    """A grid as text rows, two characters per cell: ANSI 24-bit backgrounds, or plain digits."""
    if not colour:
        return ["".join(f"{int(v)} " for v in row) for row in grid]
    # Black cells get a faint dot, so a grid's extent shows on a dark terminal.
    dot = "\x1b[38;2;90;90;90m\u00b7 "
    cells = ["\x1b[48;2;{};{};{}m{}".format(*_RGB[v], dot if v == 0 else "  ") for v in range(10)]
    return ["".join(cells[int(v)] for v in row) + RESET for row in grid]


def render_blocks(blocks, colour: bool, width: int) -> str:
    """Labelled grids side by side, wrapped to `width` columns."""
    groups, line, used = [], [], 0
    for label, grid in blocks:
        w = max(len(label), 2 * grid.shape[1])
        if line and used + 3 + w > width:
            groups.append(line)
            line, used = [], 0
        line.append((label, grid, w))
        used += w + 3 * bool(used)
    groups.append(line)
    text = []
    for group in groups:
        text.append("   ".join(label.ljust(w) for label, _, w in group).rstrip())
        rendered = [(grid_rows(grid, colour), 2 * grid.shape[1], w) for _, grid, w in group]
        for r in range(max(g.shape[0] for _, g, _ in group)):
            parts = [rows[r] + " " * (w - cells) if r < len(rows) else " " * w for rows, cells, w in rendered]
            text.append("   ".join(parts).rstrip())
    return "\n".join(text)


def draw_test(pair, attempts, colour: bool, width: int) -> str:
    """A test input, both attempts (marked right or wrong when the answer is known) and the answer."""
    blocks, solved = [("input", pair.input)], False
    for a, grid in enumerate(attempts, 1):
        if pair.output is None:
            blocks.append((f"attempt {a}", grid))
            continue
        right = grid.shape == pair.output.shape and bool((grid == pair.output).all())
        solved |= right
        blocks.append((f"attempt {a} {'right' if right else 'wrong'}", grid))
    if pair.output is None:
        return render_blocks(blocks, colour, width)
    blocks.append(("expected", pair.output))
    return render_blocks(blocks, colour, width) + ("\nsolved (pass@2)" if solved else "\nnot solved")


# PNG galleries: one band per task, its pairs side by side, input above output, test pairs last.


def grid_image(grid: np.ndarray, cell: int) -> np.ndarray:
    """A grid as an RGB array, `cell` pixels per cell with one-pixel grey lines between cells."""
    rows, cols = grid.shape
    image = np.repeat(np.repeat(_RGB[grid], cell, 0), cell, 1)
    image[::cell], image[:, ::cell] = _LINE, _LINE
    out = np.empty((rows * cell + 1, cols * cell + 1, 3), np.uint8)
    out[:-1, :-1], out[-1], out[:, -1] = image, _LINE, _LINE
    return out


def _task_band(task: Task, cell: int, gap: int, label: int):
    """One task's pairs as an image, and the x offset and label of each pair."""
    pairs = list(task.train) + list(task.test)
    widths = [max(g.shape[1] for g in p if g is not None) * cell + 1 for p in pairs]
    top = max(p.input.shape[0] for p in pairs) * cell + 1
    bottom = max((p.output.shape[0] for p in pairs if p.output is not None), default=0) * cell + 1
    band = np.full((label + top + gap + bottom, sum(widths) + gap * (len(pairs) - 1), 3), _PAPER)
    x, marks = 0, []
    for j, (pair, width) in enumerate(zip(pairs, widths)):
        for grid, y in ((pair.input, label), (pair.output, label + top + gap)):
            if grid is not None:
                image = grid_image(grid, cell)
                band[y : y + image.shape[0], x : x + image.shape[1]] = image
        marks.append((x, "test" if j >= len(task.train) else f"{j}"))
        x += width + gap
    return band, marks


def render_tasks(tasks: Sequence[Task], out_path, title: str | None = None, cell: int | None = None) -> Path:
    """Writes a PNG of `tasks` to `out_path` and returns the path. The picture is composed as one
    RGB array and written through matplotlib's object API, so the global backend is left alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    side = max(max(g.shape) for t in tasks for p in t.train + t.test for g in p if g is not None)
    cell = cell or (16 if side <= 10 else 10 if side <= 20 else 7)
    gap, label = max(8, cell), 18
    bands = [_task_band(task, cell, gap, label) for task in tasks]
    width = max(b.shape[1] for b, _ in bands)
    title_lines = textwrap.wrap(title, max(30, width // 8)) if title else []
    header = 14 * len(title_lines) + 6 * bool(title_lines)
    height = header + sum(b.shape[0] + gap for b, _ in bands)
    canvas = np.full((height, width, 3), _PAPER)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    y = header
    for task, (band, marks) in zip(tasks, bands):
        canvas[y : y + band.shape[0], : band.shape[1]] = band
        ax.text(0, y + 2, f"{task.name}   pairs: {', '.join(m for _, m in marks)}", fontsize=8, va="top")
        y += band.shape[0] + gap
    ax.imshow(canvas, interpolation="nearest")
    if title_lines:
        ax.text(0, 2, "\n".join(title_lines), fontsize=9, va="top", weight="bold")
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=100)
    return out_path


def render_gallery(
    family: str, out_path, n_tasks: int = 4, seed: int = 0, num_pairs: int = 4, max_side: int = 30
) -> Path:
    """Writes a PNG of `n_tasks` tasks of one procedural family (by name) and returns its path."""
    from lpn.tasks.procedural import FAMILIES, make_family_task

    rng = np.random.default_rng(seed)
    tasks = [make_family_task(family, rng, num_pairs=num_pairs, max_side=max_side) for _ in range(n_tasks)]
    return render_tasks(tasks, out_path, title=f"{family}: {FAMILIES[family].doc}")


# Search methods compared (`lpn.compare`).


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


# The `lpn demo` page (`lpn.demo.run_demo` computes what it shows). Shape letters: lpn/model.py.


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    """A figure as a data URL, so the page needs no other file; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def landscape_png(xs, ys, values, path_SH) -> str:
    """The objective over a square of the 2-D latent plane (`values[i, j]` at (xs[j], ys[i])), and
    the search path drawn on it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    image = ax.imshow(
        np.maximum(values, np.percentile(values, 5)),
        origin="lower",
        cmap="viridis",
        extent=(xs[0], xs[-1], ys[0], ys[-1]),
        aspect="equal",
    )
    fig.colorbar(image, ax=ax, label="log p(outputs | inputs, z)")
    ax.plot(path_SH[:, 0], path_SH[:, 1], "-", color="white", lw=1.2, alpha=0.9)
    ax.plot(*path_SH[0], "o", color="white", mec="black", label="mean latent (start)")
    ax.plot(*path_SH[-1], "*", color="#FF4136", ms=12, mec="black", label="after search")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    return _png(fig)


def curves_png(scores_BS, picked) -> str:
    """The objective along every search (grey), the tasks in `picked` in colour, and the median."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    steps = np.arange(scores_BS.shape[1])
    for row in scores_BS:
        ax.plot(steps, row, color="#999999", lw=0.6, alpha=0.35)
    for i in picked:
        ax.plot(steps, scores_BS[i], lw=1.4, label=f"task {i}")
    ax.plot(steps, np.median(scores_BS, 0), color="black", lw=2.2, label="median")
    low = np.percentile(scores_BS, 2)
    ax.set_ylim(max(low, np.min(scores_BS)), np.max(scores_BS) + 0.1)
    ax.set_xlabel("gradient step")
    ax.set_ylabel("objective: sum of log p over the pairs")
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def grid_svg(grid, cell: int = 14) -> str:
    """One grid as an inline SVG, in the ARC palette."""
    grid = np.asarray(grid)
    rows, cols = grid.shape
    rects = "".join(
        f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" fill="{PALETTE[int(grid[r, c])]}"/>'
        for r in range(rows)
        for c in range(cols)
    )
    return (
        f'<svg class="grid" width="{cols * cell}" height="{rows * cell}" viewBox="0 0 {cols * cell} {rows * cell}" '
        f'role="img" aria-label="{rows}x{cols} grid">{rects}</svg>'
    )


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; }
.scores { display: flex; gap: 2em; } .score { font-size: 2em; font-weight: 600; }
.figures { display: flex; gap: 1.5em; flex-wrap: wrap; }
.task { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em; margin: 0.8em 0; }
.row { display: flex; gap: 0.8em; align-items: center; flex-wrap: wrap; }
.pair, .answer { display: inline-flex; flex-direction: column; align-items: center; font-size: 0.8em; }
.grid { border: 1px solid #888; margin: 2px; }
.ok { color: #2e8b3d; } .bad { color: #c0392b; } .muted { color: #666; font-size: 0.9em; }
"""


def _answer(label: str, grid, shape, ok: bool) -> str:
    mark = '<span class="ok">&#10003; solved</span>' if ok else '<span class="bad">&#10007; wrong</span>'
    return (
        f'<div class="answer">{grid_svg(grid[: shape[0], : shape[1]])}<div>{html.escape(label)}<br>{mark}</div></div>'
    )


def _task_html(batch, i: int, mean, best, steps: int) -> str:
    """Task i: its given pairs, the test input and truth, and the answers `mean` and `best`, each
    (grids_BRC, shapes_B2, solved_B)."""
    pairs = "".join(
        f'<div class="pair">{grid_svg(batch.inputs[i, j])}&darr;{grid_svg(batch.outputs[i, j])}</div>'
        for j in range(batch.inputs.shape[1] - 1)
    )
    return (
        f'<div class="task"><b>Task {i}</b> <span class="muted">given pairs, then the test input, the true '
        f'output and the two answers</span><div class="row">{pairs}<span>&#10148;</span>'
        f'<div class="pair">{grid_svg(batch.inputs[i, -1])}test input</div>'
        f'<div class="pair">{grid_svg(batch.outputs[i, -1])}truth</div>'
        + _answer("mean latent", mean[0][i], mean[1][i], bool(mean[2][i]))
        + _answer(f"after {steps} gradient steps", best[0][i], best[1][i], bool(best[2][i]))
        + "</div></div>"
    )


def demo_page(
    cfg, batch, picked, mean, best, scores_BS, landscape, steps: int, seed: int, seconds: float, platform: str
) -> str:
    """The self-contained HTML page of `lpn demo`. `batch`: the tasks (last pair the query); `mean`
    and `best`: (grids_BRC, shapes_B2, solved_B) from the mean latent and after the search;
    `landscape`: a `landscape_png` of task `picked[0]`, or None."""
    from lpn import __version__

    mean_ok, best_ok = mean[2], best[2]
    tasks = [_task_html(batch, i, mean, best, steps) for i in picked]
    figures = [
        f'<figure><img alt="objective along each search" src="{curves_png(scores_BS, picked[:3])}">'
        f"<figcaption>The objective along every search (grey), three shown tasks, and the median."
        f"</figcaption></figure>"
    ]
    if landscape:
        figures.insert(
            0,
            f'<figure><img alt="latent landscape of task {picked[0]}" src="{landscape}">'
            f"<figcaption>Task {picked[0]}: log-likelihood of its given pairs over the 2-D latent "
            f"plane, and the path of gradient search from the mean latent.</figcaption></figure>",
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lpn demo: latent program search</title>
<style>{STYLE}</style></head><body>
<h1>Latent Program Network: search in a 2-D program space</h1>
<p>A model with a {cfg.latent_dim}-dimensional latent program space was shown {len(mean_ok)} fresh
{cfg.max_rows}&times;{cfg.max_cols} pattern tasks it never saw. For each task the encoder turns the given
input/output pairs into latents whose mean is a first guess of the program; gradient search then moves that
latent to make the given pairs more likely, and the decoder runs the result on the test input.</p>
<div class="scores">
<div><div class="score">{mean_ok.mean():.1%}</div>exact match, mean latent (no search)</div>
<div><div class="score">{best_ok.mean():.1%}</div>exact match after {steps} gradient steps</div>
</div>
<h2>How the search moves</h2><div class="figures">{"".join(figures)}</div>
<h2>Tasks</h2>{"".join(tasks)}
<p class="muted">lpn {__version__}; tasks seeded by {seed}; {seconds:.1f} s on {platform}.
Reproduce with <code>lpn demo --seed {seed}</code>.</p>
</body></html>
"""


# A training run's history (`lpn report RUN`), from the lines of its metrics.jsonl (`lpn.runlog`).


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m{s:02d}s" if hours else f"{m}m{s:02d}s" if m else f"{s}s"


def run_summary(lines: Sequence[dict]) -> str:
    """A few lines on a run from its metrics (`lpn.runlog.read_metrics`): the steps done, the last
    chunk's loss terms, each evaluation score's best (highest) value and step, the pace and the
    wall time. The mean steps/s is the steps over the seconds spent in chunks, the compiling ones
    included; the last chunk's pace follows it."""
    from lpn.runlog import evaluation_names

    if not lines:
        raise ValueError("no chunk has finished yet (a run writes a line of metrics.jsonl at the end of each chunk)")
    last = lines[-1]
    steps = np.diff([0] + [line["step"] for line in lines])
    seconds = sum(k / line["steps_per_second"] for k, line in zip(steps, lines))
    rate = "" if last["learning_rate"] is None else f", learning rate {last['learning_rate']:.3g}"
    text = [
        f"step {last['step']} after {len(lines)} chunks, {_duration(last['wall_time'])} of training; "
        f"{steps.sum() / seconds:.3g} steps/s on average, {last['steps_per_second']:.3g} in the last chunk",
        f"last chunk: loss {last['loss']:.4f}, reconstruction {last['reconstruction']:.4f}, kl {last['kl']:.4g}, "
        f"grad norm {last['grad_norm']:.3g}{rate}",
    ]
    names = list(dict.fromkeys(name for line in lines for name in evaluation_names(line)))
    evaluated = [line for line in lines if evaluation_names(line)]
    if names:
        best = [max((line for line in evaluated if name in line), key=lambda line: line[name]) for name in names]
        text.append(
            f"best of {len(evaluated)} evaluation{'s' * (len(evaluated) != 1)}: "
            + "; ".join(f"{name} {line[name]:.4g} at step {line['step']}" for name, line in zip(names, best))
        )
    else:
        text.append("no evaluation yet")
    text.append(f"last line written {last['time']}")
    return "\n".join(text)


def plot_run(lines: Sequence[dict], out_path, title: str = "") -> Path:
    """Writes a PNG of a run's curves against the step (its metrics.jsonl lines): the loss and the
    reconstruction term, the KL term, the gradient norm, the learning rate, the evaluation scores
    and the pace; returns the path. Drawn on the Agg canvas, leaving the global backend alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from lpn.runlog import evaluation_names

    step = np.array([line["step"] for line in lines])
    fig = Figure(figsize=(13, 6.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3, sharex=True).ravel()
    panels = [
        ("loss", ("loss", "reconstruction")),
        ("KL", ("kl",)),
        ("gradient norm", ("grad_norm",)),
        ("learning rate", ("learning_rate",)),
        ("evaluation", ()),
        ("steps per second (log scale)", ("steps_per_second",)),
    ]
    for ax, (name, fields) in zip(axes, panels):
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        for field in fields:
            values = np.array([np.nan if line[field] is None else line[field] for line in lines], float)
            if np.isnan(values).all():
                ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", color="grey")
                continue
            ax.plot(step, values, label=field, marker="." if len(step) < 30 else None)
        if len(fields) > 1:
            ax.legend(fontsize=8)
    if all(line["loss"] > 0 and line["reconstruction"] > 0 for line in lines):
        axes[0].set_yscale("log")
        axes[0].set_title("loss (log scale)", fontsize=10)
    axes[5].set_yscale("log")  # a chunk that compiles is orders of magnitude slower
    evaluation = axes[4]
    names = list(dict.fromkeys(name for line in lines for name in evaluation_names(line)))
    for name in names:
        points = [(line["step"], line[name]) for line in lines if name in line]
        evaluation.plot(*zip(*points), marker="o", label=name)
    if names:
        evaluation.legend(fontsize=8)
    else:
        evaluation.text(0.5, 0.5, "no evaluation yet", transform=evaluation.transAxes, ha="center", color="grey")
    for ax in axes[3:]:
        ax.set_xlabel("step")
    fig.suptitle(title or f"training run: step {step[-1]}", fontsize=11)
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=100)
    return out_path
