"""PNG galleries of tasks, for looking at what a family (or any task source) produces.

One band per task: its pairs side by side, input above output, test pairs last, in the ARC palette.
The picture is composed as one RGB array and written through matplotlib's object API with the Agg
canvas, so nothing changes the global backend and it runs headless.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np

from lpn.grids import PALETTE, Task

_RGB = np.array([[int(h[i: i + 2], 16) for i in (1, 3, 5)] for h in PALETTE], np.uint8)
_LINE, _PAPER = np.array([85, 85, 85], np.uint8), np.array([255, 255, 255], np.uint8)


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
                band[y: y + image.shape[0], x: x + image.shape[1]] = image
        marks.append((x, "test" if j >= len(task.train) else f"{j}"))
        x += width + gap
    return band, marks


def render_tasks(tasks: Sequence[Task], out_path, title: str | None = None, cell: int | None = None) -> Path:
    """Writes a PNG of `tasks` to `out_path` and returns the path."""
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
        canvas[y: y + band.shape[0], : band.shape[1]] = band
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
