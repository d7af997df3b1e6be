"""The HTML page of `lpn demo`: the scores, the objective along each search and the latent landscape
of one task as PNG figures inlined as data URLs, and each shown task's grids as inline SVG, so the
page is one self-contained file with no script and no link out (paper §3-4: search in a 2-D latent
space). `lpn.demo.run_demo` computes what it shows. Shape letters: lpn/model.py.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from lpn.report import grid_svg

CELL = 14  # pixels a grid cell


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


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; }
.scores { display: flex; gap: 2em; } .score { font-size: 2em; font-weight: 600; }
.figures { display: flex; gap: 1.5em; flex-wrap: wrap; }
.task { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em; margin: 0.8em 0; }
.row { display: flex; gap: 0.8em; align-items: center; flex-wrap: wrap; }
.pair, .answer { display: inline-flex; flex-direction: column; align-items: center; font-size: 0.8em; }
.lpn-grid { margin: 2px; }
.ok { color: #2e8b3d; } .bad { color: #c0392b; } .muted { color: #666; font-size: 0.9em; }
"""


def _answer(label: str, grid, shape, ok: bool) -> str:
    mark = '<span class="ok">&#10003; solved</span>' if ok else '<span class="bad">&#10007; wrong</span>'
    return f'<div class="answer">{grid_svg(grid[: shape[0], : shape[1]], cell=CELL)}<div>{html.escape(label)}<br>{mark}</div></div>'


def _task_html(batch, i: int, mean, best, steps: int) -> str:
    """Task i: its given pairs, the test input and truth, and the answers `mean` and `best`, each
    (grids_BRC, shapes_B2, solved_B)."""
    pairs = "".join(
        f'<div class="pair">{grid_svg(batch.inputs[i, j], cell=CELL)}&darr;{grid_svg(batch.outputs[i, j], cell=CELL)}</div>'
        for j in range(batch.inputs.shape[1] - 1)
    )
    return (
        f'<div class="task"><b>Task {i}</b> <span class="muted">given pairs, then the test input, the true '
        f'output and the two answers</span><div class="row">{pairs}<span>&#10148;</span>'
        f'<div class="pair">{grid_svg(batch.inputs[i, -1], cell=CELL)}test input</div>'
        f'<div class="pair">{grid_svg(batch.outputs[i, -1], cell=CELL)}truth</div>'
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
    from lpn.version import __version__

    mean_ok, best_ok = mean[2], best[2]
    tasks = [_task_html(batch, i, mean, best, steps) for i in picked]
    figures = [
        f'<figure><img alt="objective along each search" src="{curves_png(scores_BS, picked[:3])}">'
        f"<figcaption>The objective along every search (grey), three shown tasks, and the median. "
        f"Most searches drop at step 1 and recover: Adam's first update moves every latent coordinate "
        f"by about the full learning rate whatever the gradient's size, which overshoots the narrow "
        f"peak the mean latent starts near (benchmarks/search_warmup.py measures a warm-up of the "
        f"rate against it; docs/results.md).</figcaption></figure>"
    ]
    if landscape:
        figures.insert(
            0,
            f'<figure><img alt="latent landscape of task {picked[0]}" src="{landscape}">'
            f"<figcaption>Task {picked[0]}: log-likelihood of its given pairs over the 2-D latent "
            f"plane, zoomed to where the search moves, and the path of gradient search from the mean "
            f"latent.</figcaption></figure>",
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
