"""lpn.report and lpn.demo_page draw without a notebook or a display, and `import lpn` does not pay for matplotlib."""

import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import TINY
from lpn.demo_page import curves_png, demo_page, landscape_png
from lpn.grids import PALETTE, Pair, batch_pairs
from lpn.report import draw_test, grid_svg, render_blocks


@pytest.mark.slow
def test_importing_lpn_leaves_matplotlib_unloaded():
    code = (
        "import sys, lpn, lpn.report, lpn.figures, lpn.tables, lpn.demo_page, lpn.run_report, lpn.demo, lpn.cli; "
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_blocks_wrap_to_the_terminal_width_and_keep_every_row():
    grid = np.arange(12).reshape(3, 4) % 10
    text = render_blocks([("input", grid), ("output", grid), ("more", grid)], colour=False, width=20)
    lines = text.splitlines()
    assert all(len(line) <= 20 for line in lines)
    assert lines[0].split() == ["input", "output"] and lines[4].split() == ["more"]
    assert lines[1] == "0 1 2 3    0 1 2 3"


def test_a_test_pair_is_marked_solved_when_either_attempt_is_right():
    truth = np.array([[1, 2]])
    text = draw_test(Pair(np.array([[0, 0]]), truth), [np.array([[2, 1]]), truth], colour=False, width=80)
    assert "attempt 1 wrong" in text and "attempt 2 right" in text and text.endswith("solved (pass@2)")
    unknown = draw_test(Pair(np.array([[0, 0]]), None), [truth], colour=False, width=80)
    assert "expected" not in unknown and "solved" not in unknown


def test_grid_svg_draws_each_cell_in_the_palette_inside_a_border():
    svg = grid_svg(np.array([[0, 1, 2], [3, 4, 5]]), cell=10)
    fills = re.findall(r'<rect x="(\d+)" y="(\d+)" width="10" height="10" fill="(#\w+)"', svg)
    assert fills == [(str(10 * c), str(10 * r), PALETTE[3 * r + c]) for r in range(2) for c in range(3)]
    assert 'width="30" height="20"' in svg and 'aria-label="2x3 grid"' in svg and svg.count("<rect") == 7


def test_demo_page_is_self_contained_html():
    rng = np.random.default_rng(0)
    tasks = [[Pair(rng.integers(0, 10, (3, 3)), rng.integers(0, 10, (3, 3))) for _ in range(3)] for _ in range(4)]
    batch = batch_pairs(tasks, TINY.max_rows, TINY.max_cols, 3)
    grids, shapes = np.asarray(batch.outputs[:, -1]), np.asarray(batch.output_shapes[:, -1])
    solved = np.array([True, False, True, False])
    scores_BS = -np.abs(rng.normal(size=(4, 6))).cumsum(1)[:, ::-1]
    path_SH = rng.normal(size=(6, 2))
    xs = ys = np.linspace(-2, 2, 8)
    landscape = landscape_png(xs, ys, rng.normal(size=(8, 8)), path_SH)
    page = demo_page(
        TINY,
        batch,
        [1, 0],
        (grids, shapes, ~solved),
        (grids, shapes, solved),
        scores_BS,
        landscape,
        steps=5,
        seed=3,
        seconds=1.0,
        platform="cpu",
    )
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("data:image/png;base64,") == 2
    assert page.count("<svg") == 2 * (2 * 2 + 2 + 2)  # per task: 2 given pairs, test input and truth, 2 answers
    assert "50.0%" in page and "lpn demo --seed 3" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert curves_png(scores_BS, [0]).startswith("data:image/png;base64,")
