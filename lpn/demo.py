"""`lpn demo`: the shipped 2-D latent model solves fresh pattern tasks, with and without test-time
search, and the run is written as one self-contained HTML page (no network, no external files).

The page shows the accuracy of the mean latent against gradient search, a few tasks with both
answers, the log-likelihood landscape of one task's 2-D latent space with the path the search took
through it, and the objective along every search.
"""

from __future__ import annotations

import base64
import html
import io
import time
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from lpn.devices import first, spread_tasks
from lpn.evaluate import split_query
from lpn.grids import PALETTE
from lpn.model import LPN, generate
from lpn.pattern import pattern_batch
from lpn.search import default_optimizer, gradient_search, log_prob


class DemoResult(NamedTuple):
    """What `run_demo` measured. Accuracies are exact-match fractions over `num_tasks` tasks."""

    num_tasks: int
    steps: int
    seed: int
    mean_accuracy: float
    search_accuracy: float
    seconds: float
    report: Path | None


@eqx.filter_jit
def _solve(model: LPN, batch, keys, steps: int, optimizer):
    """Gradient search on each task's specification pairs, and the query decoded from the mean
    latent (the search's start) and from the best latent found."""
    spec, query = split_query(batch)

    def one(pairs, q, key):
        trace = gradient_search(model, pairs, key, steps=steps, optimizer=optimizer)
        mean = generate(model, trace.latents[0, 0], q.inputs, q.input_shapes)
        best = generate(model, trace.best, q.inputs, q.input_shapes)
        return trace.latents[:, 0], trace.scores[:, 0], mean, best

    return jax.vmap(one)(spec, query, keys)


@eqx.filter_jit
def _landscape(model: LPN, pairs, z_GH):
    return jax.vmap(lambda z: log_prob(model, z, pairs))(z_GH)


def _solved(grids, shapes, truth, true_shapes) -> np.ndarray:
    return np.all(shapes == true_shapes, -1) & np.all(grids == truth, (-2, -1))


def run_demo(model: LPN, *, num_tasks: int = 96, steps: int = 100, seed: int = 0, out=None,
             learning_rate: float | None = None, shown: int = 6, log=print) -> DemoResult:
    """Draws `num_tasks` fresh pattern tasks for `model`'s config (seeded by `seed`), solves each from
    its mean latent and with `steps` of gradient search (Adam, the config's search rate), and, if
    `out` is given, writes the HTML report there. Progress lines go to `log`."""
    cfg = model.config
    started = time.perf_counter()
    key = jax.random.key(seed)
    batch = pattern_batch(jax.random.fold_in(key, 0), cfg, num_tasks, num_pairs=cfg.num_pairs + 1)
    optimizer = default_optimizer(cfg.search_lr if learning_rate is None else learning_rate)
    keys = jax.random.split(jax.random.fold_in(key, 1), num_tasks)
    placed, (spread, keys), n = spread_tasks(model, batch, keys)
    path_BSH, scores_BS, (mean_grids, mean_shapes), (best_grids, best_shapes) = jax.device_get(
        first(_solve(placed, spread, keys, steps, optimizer), n))
    batch = jax.device_get(batch)
    truth, true_shapes = batch.outputs[:, -1], batch.output_shapes[:, -1]
    mean_ok = _solved(mean_grids, mean_shapes, truth, true_shapes)
    best_ok = _solved(best_grids, best_shapes, truth, true_shapes)
    log(f"{num_tasks} fresh tasks (seed {seed}): mean latent {mean_ok.mean():.1%}, "
        f"gradient search ({steps} steps) {best_ok.mean():.1%}")
    report = None
    if out is not None:
        picked = _pick(mean_ok, best_ok, shown)
        focus = picked[0]
        spec = jax.tree.map(lambda a: a[focus, :-1], batch)
        landscape = _landscape_image(model, spec, path_BSH[focus]) if cfg.latent_dim == 2 else None
        page = _page(cfg, batch, picked, mean_grids, mean_shapes, best_grids, best_shapes, mean_ok, best_ok,
                     scores_BS, landscape, steps, seed, time.perf_counter() - started)
        report = Path(out)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(page, encoding="utf-8")
        log(f"report written to {report}")
    return DemoResult(num_tasks, steps, seed, float(mean_ok.mean()), float(best_ok.mean()),
                      time.perf_counter() - started, report)


def _pick(mean_ok, best_ok, k: int) -> list[int]:
    """Tasks to show: first those the search fixed, then those solved either way, then failures."""
    order = [i for i in range(len(mean_ok)) if best_ok[i] and not mean_ok[i]]
    order += [i for i in range(len(mean_ok)) if best_ok[i] and mean_ok[i]]
    order += [i for i in range(len(mean_ok)) if not best_ok[i]]
    return order[:k]


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _landscape_image(model: LPN, spec, path_SH, size: int = 64) -> str:
    """The objective over a square of the 2-D latent plane around the search path, with the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    centre = (path_SH.min(0) + path_SH.max(0)) / 2
    half = max(float(np.max(path_SH.max(0) - path_SH.min(0))) / 2 + 1.0, 2.0)
    xs = np.linspace(centre[0] - half, centre[0] + half, size)
    ys = np.linspace(centre[1] - half, centre[1] + half, size)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    values = np.asarray(_landscape(model, jax.tree.map(jnp.asarray, spec), jnp.asarray(grid))).reshape(size, size)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    image = ax.imshow(np.maximum(values, np.percentile(values, 5)), origin="lower", cmap="viridis",
                      extent=(xs[0], xs[-1], ys[0], ys[-1]), aspect="equal")
    fig.colorbar(image, ax=ax, label="log p(outputs | inputs, z)")
    ax.plot(path_SH[:, 0], path_SH[:, 1], "-", color="white", lw=1.2, alpha=0.9)
    ax.plot(*path_SH[0], "o", color="white", mec="black", label="mean latent (start)")
    ax.plot(*path_SH[-1], "*", color="#FF4136", ms=12, mec="black", label="after search")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    return _png(fig)


def _curves_image(scores_BS, picked) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

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
        for r in range(rows) for c in range(cols))
    return (f'<svg class="grid" width="{cols * cell}" height="{rows * cell}" viewBox="0 0 {cols * cell} {rows * cell}" '
            f'role="img" aria-label="{rows}x{cols} grid">{rects}</svg>')


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
    return f'<div class="answer">{grid_svg(grid[: shape[0], : shape[1]])}<div>{html.escape(label)}<br>{mark}</div></div>'


def _page(cfg, batch, picked, mean_grids, mean_shapes, best_grids, best_shapes, mean_ok, best_ok, scores_BS,
          landscape, steps, seed, seconds) -> str:
    from lpn import __version__

    tasks = []
    for i in picked:
        pairs = "".join(
            f'<div class="pair">{grid_svg(batch.inputs[i, j])}&darr;{grid_svg(batch.outputs[i, j])}</div>'
            for j in range(batch.inputs.shape[1] - 1))
        tasks.append(
            f'<div class="task"><b>Task {i}</b> <span class="muted">given pairs, then the test input, the true '
            f'output and the two answers</span><div class="row">{pairs}<span>&#10148;</span>'
            f'<div class="pair">{grid_svg(batch.inputs[i, -1])}test input</div>'
            f'<div class="pair">{grid_svg(batch.outputs[i, -1])}truth</div>'
            + _answer("mean latent", mean_grids[i], mean_shapes[i], bool(mean_ok[i]))
            + _answer(f"after {steps} gradient steps", best_grids[i], best_shapes[i], bool(best_ok[i]))
            + "</div></div>")
    figures = [f'<figure><img alt="objective along each search" src="{_curves_image(scores_BS, picked[:3])}">'
               f'<figcaption>The objective along every search (grey), three shown tasks, and the median.'
               f'</figcaption></figure>']
    if landscape:
        figures.insert(0, f'<figure><img alt="latent landscape of task {picked[0]}" src="{landscape}">'
                          f'<figcaption>Task {picked[0]}: log-likelihood of its given pairs over the 2-D latent '
                          f'plane, and the path of gradient search from the mean latent.</figcaption></figure>')
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
<h2>How the search moves</h2><div class="figures">{''.join(figures)}</div>
<h2>Tasks</h2>{''.join(tasks)}
<p class="muted">lpn {__version__}; tasks seeded by {seed}; {seconds:.1f} s on {jax.devices()[0].platform}.
Reproduce with <code>lpn demo --seed {seed}</code>.</p>
</body></html>
"""
