"""Grids drawn without a notebook: as text in the terminal (`lpn solve`), as PNG galleries of tasks
(`lpn tasks gallery`) and as inline SVG for HTML pages (the `lpn demo` page, the widgets' static
fallback).

The computations live elsewhere (`lpn.tasks`, `lpn.demo`); this module only turns grids into text,
pixels or SVG. matplotlib is imported inside the one function that writes a PNG, through its Agg
canvas, so `import lpn` stays free of it and it runs headless. The figures of measurements are in
`lpn.figures`, the demo page in `lpn.demo_page`, `lpn report RUN` in `lpn.run_report`, and the
interactive views in `lpn.widgets`.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

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


# SVG: grids for HTML pages (the `lpn demo` page, the widgets' static fallback).

_SVG_LINE, _SVG_MARK = "#555555", "#FFFFFF"


def cell_size(grid_shape, target: int = 120) -> int:
    """Pixels per cell so a grid is about `target` pixels on its longer side."""
    return int(np.clip(target // max(grid_shape), 4, 24))


def grid_svg(grid, *, cell: int | None = None, mask=None, palette=PALETTE, lines: bool = True) -> str:
    """An `<svg>` of `grid` (R x C colours) with `mask` cells (R x C, nonzero) crossed out: each row's runs
    of one colour merged into one rectangle, grid lines drawn over them, so a 30x30 grid stays a few kB.
    The demo page and the widgets' static fallback both draw grids with it."""
    grid = np.asarray(grid)
    rows, cols = grid.shape
    cell = cell or cell_size(grid.shape)
    w, h = cols * cell, rows * cell
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lpn-grid" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" data-rows="{rows}" data-cols="{cols}" shape-rendering="crispEdges" '
        f'role="img" aria-label="{rows}x{cols} grid">'
    ]
    for r in range(rows):
        c = 0
        while c < cols:
            end = c
            while end + 1 < cols and grid[r, end + 1] == grid[r, c]:
                end += 1
            parts.append(
                f'<rect x="{c * cell}" y="{r * cell}" width="{(end - c + 1) * cell}" '
                f'height="{cell}" fill="{palette[int(grid[r, c])]}"/>'
            )
            c = end + 1
    if lines and cell >= 6:
        d = "".join(f"M0 {r * cell}H{w}" for r in range(1, rows))
        d += "".join(f"M{c * cell} 0V{h}" for c in range(1, cols))
        if d:
            parts.append(f'<path d="{d}" stroke="{_SVG_LINE}" stroke-width="1" fill="none"/>')
    if mask is not None:
        pad = max(1, cell // 5)
        for r, c in np.argwhere(np.asarray(mask)):
            x0, y0, x1, y1 = c * cell + pad, r * cell + pad, (c + 1) * cell - pad, (r + 1) * cell - pad
            parts.append(
                f'<path class="lpn-mismatch" d="M{x0} {y0}L{x1} {y1}M{x1} {y0}L{x0} {y1}" '
                f'stroke="{_SVG_MARK}" stroke-width="{max(1, cell // 8)}"/>'
            )
    parts.append(f'<rect width="{w}" height="{h}" fill="none" stroke="{_SVG_LINE}" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)
