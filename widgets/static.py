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


def line_chart_svg(series, *, width: int = 320, height: int = 160, title: str = "", marker=None) -> str:
    """A static line chart of `series` = [(label, xs, ys)], the SVG twin of charts.js/lineChart."""
    colours = ["#0074D9", "#FF4136", "#2ECC40", "#FF851B", "#B10DC9", "#39CCCC"]
    left, right, top, bottom = 48, 10, 18 if title else 8, 28
    xs = np.concatenate([np.asarray(x, float) for _, x, _ in series]) if series else np.zeros(0)
    ys = np.concatenate([np.asarray(y, float) for _, _, y in series]) if series else np.zeros(0)
    ys = ys[np.isfinite(ys)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="lpn-chart">']
    if title:
        out.append(f'<text x="{left}" y="12" font-size="11" font-weight="bold">{escape(title)}</text>')
    if xs.size and ys.size:
        x0, x1 = xs.min(), max(xs.max(), xs.min() + 1)
        y0, y1 = (ys.min(), ys.max()) if ys.max() > ys.min() else (ys.min() - 1, ys.max() + 1)
        w, h = width - left - right, height - top - bottom

        def px(x):
            return left + (x - x0) / (x1 - x0) * w

        def py(y):
            return top + (1 - (y - y0) / (y1 - y0)) * h

        out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>')
        out.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="10">{y1:.3g}</text>')
        out.append(f'<text x="{left - 4}" y="{top + h}" text-anchor="end" font-size="10">{y0:.3g}</text>')
        for k, (label, x, y) in enumerate(series):
            colour = colours[k % len(colours)]
            points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, y) if np.isfinite(b))
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            out.append(
                f'<text x="{left + w - 4}" y="{top + 12 + 12 * k}" text-anchor="end" font-size="10" '
                f'fill="{colour}">{escape(label)}</text>'
            )
        if marker is not None:
            out.append(
                f'<line x1="{px(marker):.1f}" x2="{px(marker):.1f}" y1="{top}" y2="{top + h}" '
                f'stroke="#222" stroke-dasharray="3 2"/>'
            )
    out.append("</svg>")
    return "".join(out)
