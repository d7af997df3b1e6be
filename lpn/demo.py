"""`lpn demo`: the shipped 2-D latent model solves fresh pattern tasks, with and without test-time
search, and the run is written as one self-contained HTML page (no network, no external files).

The page shows the accuracy of the mean latent against gradient search, a few tasks with both
answers, the log-likelihood landscape of one task's 2-D latent space with the path the search took
through it, and the objective along every search.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from lpn.demo_page import demo_page, landscape_png
from lpn.evaluate import per_task_in_groups
from lpn.model import LPN, generate
from lpn.pattern import pattern_batch
from lpn.program import over_tasks
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


def _mean_and_best(model: LPN, trace, query):
    """The search's path and the query decoded from the mean latent (its start) and from the best
    latent found."""
    latents = jnp.stack([trace.latents[0, 0], trace.best])  # one decoding loop, vmapped: half the compiling
    grids, shapes = jax.vmap(lambda z: generate(model, z, query.inputs, query.input_shapes))(latents)
    return trace.latents[:, 0], trace.scores[:, 0], (grids[0], shapes[0]), (grids[1], shapes[1])


def _solve(model: LPN, batch, keys, steps: int, optimizer):
    """Gradient search on each task's specification pairs (the one program, `lpn.program`)."""
    options = (("optimizer", optimizer), ("steps", steps))
    return over_tasks(model, batch, keys, gradient_search, options, _mean_and_best)


TASKS_PER_CALL = 32  # tasks one call searches: XLA's buffers for 96 at once took ~200 MB, for 32 about a third


def _release_freed_memory() -> None:
    """Hands the memory that XLA's compiler has freed back to the operating system. Compiling the
    search frees some 300 MB, which glibc keeps in its per-thread arenas, so each compile after the
    first stacked on the last (peak 1.02 GB before this, cold); `malloc_trim` returns it. A no-op
    where the C library has no `malloc_trim` (macOS, musl)."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is not None:
        trim(0)


LANDSCAPE_CHUNK = 256  # latents a landscape evaluates at once: all 4,096 at once peaked at ~1.8 GB


@eqx.filter_jit
def _landscape(model: LPN, pairs, z_GH):
    return jax.lax.map(lambda z: log_prob(model, z, pairs), z_GH, batch_size=LANDSCAPE_CHUNK)


def _solved(grids, shapes, truth, true_shapes) -> np.ndarray:
    return np.all(shapes == true_shapes, -1) & np.all(grids == truth, (-2, -1))


def run_demo(
    model: LPN,
    *,
    num_tasks: int = 96,
    steps: int = 100,
    seed: int = 0,
    out=None,
    learning_rate: float | None = None,
    shown: int = 6,
    log=print,
) -> DemoResult:
    """Draws `num_tasks` fresh pattern tasks for `model`'s config (seeded by `seed`), solves each from
    its mean latent and with `steps` of gradient search (Adam, the config's search rate), and, if
    `out` is given, writes the HTML report there. Progress lines go to `log`."""
    cfg = model.config
    started = time.perf_counter()
    key = jax.random.key(seed)
    batch = pattern_batch(jax.random.fold_in(key, 0), cfg, num_tasks, num_pairs=cfg.num_pairs + 1)
    optimizer = default_optimizer(cfg.search_lr if learning_rate is None else learning_rate)
    batch = jax.device_get(batch)
    _release_freed_memory()  # what compiling the task generator freed
    solve = lambda placed, part, keys: _solve(placed, part, keys, steps, optimizer)  # noqa: E731
    path_BSH, scores_BS, (mean_grids, mean_shapes), (best_grids, best_shapes) = per_task_in_groups(
        solve, model, batch, jax.random.fold_in(key, 1), TASKS_PER_CALL
    )
    _release_freed_memory()  # what compiling the search freed, before the landscape compiles
    truth, true_shapes = batch.outputs[:, -1], batch.output_shapes[:, -1]
    mean_ok = _solved(mean_grids, mean_shapes, truth, true_shapes)
    best_ok = _solved(best_grids, best_shapes, truth, true_shapes)
    log(
        f"{num_tasks} fresh tasks (seed {seed}): mean latent {mean_ok.mean():.1%}, "
        f"gradient search ({steps} steps) {best_ok.mean():.1%}"
    )
    report = None
    if out is not None:
        picked = _pick(mean_ok, best_ok, shown)
        focus = picked[0]
        spec = jax.tree.map(lambda a: a[focus, :-1], batch)
        landscape = None
        if cfg.latent_dim == 2:
            landscape = landscape_png(*_landscape_grid(model, spec, path_BSH[focus]), path_BSH[focus])
        page = demo_page(
            cfg,
            batch,
            picked,
            (mean_grids, mean_shapes, mean_ok),
            (best_grids, best_shapes, best_ok),
            scores_BS,
            landscape,
            steps,
            seed,
            time.perf_counter() - started,
            jax.devices()[0].platform,
        )
        report = Path(out)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(page, encoding="utf-8")
        log(f"report written to {report}")
    return DemoResult(
        num_tasks, steps, seed, float(mean_ok.mean()), float(best_ok.mean()), time.perf_counter() - started, report
    )


def _pick(mean_ok, best_ok, k: int) -> list[int]:
    """Tasks to show: first those the search fixed, then those solved either way, then failures."""
    order = [i for i in range(len(mean_ok)) if best_ok[i] and not mean_ok[i]]
    order += [i for i in range(len(mean_ok)) if best_ok[i] and mean_ok[i]]
    order += [i for i in range(len(mean_ok)) if not best_ok[i]]
    return order[:k]


def _landscape_grid(model: LPN, spec, path_SH, size: int = 64, min_half: float = 0.1):
    """(xs, ys, values): the objective over a square of the 2-D latent plane around the search path,
    `values[i, j]` at (xs[j], ys[i]). The square is zoomed to where the search moves (the path's
    extent, 1.5 times, at least `min_half` either side of its centre): searches move about a tenth
    of a unit, which a view of the whole prior (several units) shows as one dot."""
    centre = (path_SH.min(0) + path_SH.max(0)) / 2
    half = max(0.75 * float(np.max(path_SH.max(0) - path_SH.min(0))), min_half)
    xs = np.linspace(centre[0] - half, centre[0] + half, size)
    ys = np.linspace(centre[1] - half, centre[1] + half, size)
    z_GH = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    values = _landscape(model, jax.tree.map(jnp.asarray, spec), jnp.asarray(z_GH))
    return xs, ys, np.asarray(values).reshape(size, size)
