"""Static HTML/SVG renderings for places without a kernel (nbconvert, GitHub, a saved notebook).

Pure Python strings: no JavaScript, no widget state. Each grid is one inline `<svg>` of
`lpn.report.grid_svg` (the `lpn demo` page draws its grids with the same function), whose rows of
equal colours are merged into single rectangles, so a 30x30 grid stays a few kilobytes. Mismatching
cells of an attempt are crossed out as in the live view.
"""

from __future__ import annotations

from html import escape

import numpy as np

from lpn.grids import PALETTE
from lpn.report import grid_svg

from .layout import Layout


def missing_svg(cell: int = 12) -> str:
    side = 3 * cell
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lpn-grid lpn-missing" width="{side}" '
        f'height="{side}" data-rows="0" data-cols="0"><rect width="{side}" height="{side}" '
        f'fill="#eeeeee" stroke="#999999"/><text x="50%" y="62%" text-anchor="middle" '
        f'font-family="sans-serif" font-size="{cell * 1.5}" fill="#666666">?</text></svg>'
    )


STYLE = (
    "<style>.lpn-static{font-family:sans-serif;font-size:12px;color:#222}"
    ".lpn-static .lpn-row{display:flex;align-items:flex-end;gap:12px;margin:4px 0}"
    ".lpn-static .lpn-label{width:56px;color:#666}"
    ".lpn-static figure{margin:0;display:flex;flex-direction:column;align-items:center;gap:2px}"
    ".lpn-static .correct{color:#1a7f37}.lpn-static .wrong,.lpn-static .shape{color:#c62828}"
    ".lpn-static h4{margin:8px 0 2px}</style>"
)


def layout_html(layout: Layout, *, palette=PALETTE, cell: int | None = None) -> str:
    """The whole layout (all sections) as one HTML fragment."""
    out = ['<div class="lpn-static">', STYLE]
    for section in layout.sections:
        out.append(f"<h4>{escape(section['title'])}</h4>")
        for row in section["rows"]:
            out.append(f'<div class="lpn-row"><span class="lpn-label">{escape(row["label"])}</span>')
            for item in row["items"]:
                grid = layout.grids[item["grid"]]
                mask = layout.grids[item["mismatch"]] if "mismatch" in item else None
                svg = missing_svg() if grid is None else grid_svg(grid, cell=cell, mask=mask, palette=palette)
                status = escape(item.get("status", ""))
                out.append(f'<figure>{svg}<figcaption class="{status}">{escape(item["caption"])}</figcaption></figure>')
            out.append("</div>")
    out.append("</div>")
    return "".join(out)


def grids_html(grids, captions=None, *, palette=PALETTE, cell: int | None = None) -> str:
    """A row of grids with optional captions (used by the editor and the search widgets)."""
    captions = captions or [""] * len(grids)
    figures = "".join(
        f"<figure>{missing_svg() if g is None else grid_svg(g, cell=cell, palette=palette)}"
        f"<figcaption>{escape(c)}</figcaption></figure>"
        for g, c in zip(grids, captions)
    )
    return f'<div class="lpn-static">{STYLE}<div class="lpn-row">{figures}</div></div>'


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round values (1, 2 or 5 times a power of ten) from `lo` to `hi`, as charts.js's niceTicks."""
    raw = (hi - lo) / count
    power = 10 ** np.floor(np.log10(raw))
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= raw), raw)
    first = np.ceil(lo / step) * step
    return [0.0 if abs(v) < step * 1e-9 else round(float(v), 12) for v in np.arange(first, hi + step * 1e-9, step)]


def legend_rows(labels, width: int, left: int) -> list[list[tuple[int, str, int]]]:
    """Legend entries (series index, label, x) in rows under a chart's plot, as charts.js's legendRows."""
    rows: list[list] = [[]]
    x = left
    for k, label in enumerate(labels):
        w = 18 + 6 * len(label) + 12
        if x + w > width and rows[-1]:
            rows.append([])
            x = left
        rows[-1].append((k, label, x))
        x += w
    return rows


def line_chart_svg(series, *, width: int = 320, height: int = 160, title: str = "", marker=None) -> str:
    """A static line chart of `series` = [(label, xs, ys)], the SVG twin of charts.js/lineChart:
    ticks on both axes, and the labels in a legend under the plot, off the lines."""
    colours = ["#0074D9", "#FF4136", "#2ECC40", "#FF851B", "#B10DC9", "#39CCCC"]
    left, right, top, bottom = 48, 10, 18 if title else 8, 28
    legend = legend_rows([label for label, _, _ in series], width, left) if series else []
    xs = np.concatenate([np.asarray(x, float) for _, x, _ in series]) if series else np.zeros(0)
    ys = np.concatenate([np.asarray(y, float) for _, _, y in series]) if series else np.zeros(0)
    ys = ys[np.isfinite(ys)]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 14 * len(legend) + 6 * bool(legend)}" class="lpn-chart">'
    ]
    if title:
        out.append(f'<text x="{left}" y="12" font-size="11" font-weight="bold">{escape(title)}</text>')
    if xs.size and ys.size:
        x0, x1 = xs.min(), max(xs.max(), xs.min() + 1)
        y0, y1 = (ys.min(), ys.max()) if ys.max() > ys.min() else (ys.min() - 1, ys.max() + 1)
        ticks = nice_ticks(y0, y1)
        y0, y1 = y0 - 0.04 * (y1 - y0), y1 + 0.04 * (y1 - y0)  # a line at either end stays off the frame
        w, h = width - left - right, height - top - bottom

        def px(x):
            return left + (x - x0) / (x1 - x0) * w

        def py(y):
            return top + (1 - (y - y0) / (y1 - y0)) * h

        out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>')
        digits = max(0, -int(np.floor(np.log10(ticks[1] - ticks[0]) + 1e-9))) if len(ticks) > 1 else 2
        for v in ticks:
            out.append(f'<line x1="{left}" x2="{left + w}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#eee"/>')
            out.append(
                f'<text x="{left - 4}" y="{py(v) + 3:.1f}" text-anchor="end" font-size="10">{v:.{digits}f}</text>'
            )
        ends = [float(xs.min()), float(xs.max())]
        inner = nice_ticks(ends[0], ends[1], 4) if ends[1] > ends[0] else []
        clear = [v for v in ends if all(abs(px(t) - px(v)) > 0.12 * w for t in inner)]
        for v in sorted(set(inner + clear)):  # the x axis: round values, and its ends where they stand clear
            x = px(v)
            anchor = "start" if x < left + 12 else "end" if x > left + w - 12 else "middle"
            out.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + h}" y2="{top + h + 3}" stroke="#999" class="lpn-xtick"/>'
            )
            out.append(
                f'<text x="{x:.1f}" y="{height - 14}" text-anchor="{anchor}" font-size="10" class="lpn-xlabel">{v:g}</text>'
            )
        for k, (label, x, y) in enumerate(series):
            colour = colours[k % len(colours)]
            finite = [(a, b) for a, b in zip(x, y) if np.isfinite(b)]
            points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in finite)
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            if finite:  # the last point as a dot: a one-point series (the mean latent) is a dot, not nothing
                a, b = finite[-1]
                out.append(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="{colour}" class="lpn-end"/>')
        for r, row in enumerate(legend):
            for k, label, x in row:
                colour, y = colours[k % len(colours)], height + 14 * r + 12
                out.append(
                    f'<line x1="{x}" x2="{x + 14}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2.5"/>'
                )
                out.append(f'<text x="{x + 18}" y="{y}" font-size="10" fill="{colour}">{escape(label)}</text>')
        if marker is not None:
            out.append(
                f'<line x1="{px(marker):.1f}" x2="{px(marker):.1f}" y1="{top}" y2="{top + h}" '
                f'stroke="#222" stroke-dasharray="3 2"/>'
            )
    out.append("</svg>")
    return "".join(out)
