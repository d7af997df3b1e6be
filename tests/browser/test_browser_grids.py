"""What a person sees of the task view and the grid editor in JupyterLab (fixture: grids.ipynb).

Colours are read back from the canvas pixels and mapped to the ARC palette; editor actions are
real mouse clicks and key presses, and the model output drawn beside the editor is computed in
the kernel, so it proves the round trip to Python.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from browser_fixtures import browser, lab, notebook, screenshot, screenshot_on_failure  # noqa: F401
from browser_helpers import click_cell, read_grid

pytestmark = pytest.mark.browser

SPEC = json.loads((Path(__file__).parent / "fixture_task.json").read_text())


@pytest.fixture(scope="module")
def page(notebook):
    return notebook("grids.ipynb")


def test_task_view_draws_every_grid_in_palette_colours(page, screenshot):
    view = page.locator(".lpn-task-view").first
    canvases = view.locator("canvas.lpn-grid")
    (x1, y1), (x2, y2) = SPEC["train"]
    test_in, truth = SPEC["test"][0]
    first, second = SPEC["attempts"]
    expected = [x1, y1, x2, y2, test_in, first, second, truth]
    assert canvases.count() == len(expected)
    for k, grid in enumerate(expected):
        canvas = canvases.nth(k)
        assert canvas.get_attribute("data-rows") == str(len(grid))
        assert canvas.get_attribute("data-cols") == str(len(grid[0]))
        assert read_grid(canvas) == grid, f"canvas {k}"
    captions = view.locator("figcaption").all_inner_texts()
    assert captions[0] == "input 3x3" and captions[4] == "test input 2x4"
    assert "✓" in captions[5] and "✗ 2 cells" in captions[6]
    screenshot(view)
    assert not page.js_errors


def test_task_view_crosses_out_exactly_the_wrong_cells(page):
    canvases = page.locator(".lpn-task-view").first.locator("canvas.lpn-grid")
    wrong = np.array(SPEC["attempts"][1]) != np.array(SPEC["test"][0][1])
    centres = np.array(read_grid(canvases.nth(6), fy=0.5))
    marked = centres == -1  # the white cross is not a palette colour... unless the cell is white
    assert (marked == wrong).all(), centres
    assert (np.array(read_grid(canvases.nth(5), fy=0.5)) != -1).all()  # the right attempt has no marks


def test_gallery_of_hundreds_of_grids_draws_fast(page, screenshot):
    gallery = page.locator(".lpn-task-view").nth(1)
    g = SPEC["gallery"]
    canvases = gallery.locator("canvas.lpn-grid")
    assert canvases.count() == g["tasks"] * 4
    rng = np.random.default_rng(g["seed"])
    first_input = rng.integers(0, 10, (g["side"], g["side"]))
    assert read_grid(canvases.first) == first_input.tolist()
    render_ms = float(gallery.get_attribute("data-render-ms"))
    print(f"gallery of {canvases.count()} grids drawn in {render_ms:.0f} ms")
    assert render_ms < 1000
    gallery.scroll_into_view_if_needed()
    screenshot(page)


@pytest.fixture(scope="module")
def editor(page):
    return page.locator(".lpn-grid-editor").first


def cells(editor, role):
    return read_grid(editor.locator(f"canvas[data-role={role}]"))


def wait_for(editor, role, expected):
    """Waits (up to 5 s) until the canvas shows `expected`: the kernel answers asynchronously."""
    page = editor.page
    for _ in range(50):
        if cells(editor, role) == expected:
            return
        page.wait_for_timeout(100)
    assert cells(editor, role) == expected


def test_editor_paints_undoes_and_redoes_with_mouse_and_keys(editor, screenshot):
    start = SPEC["train"][0][0]
    wait_for(editor, "edit", start)
    wait_for(editor, "result", np.array(start).T.tolist())  # predict=transpose ran in the kernel
    canvas = editor.locator("canvas[data-role=edit]")
    editor.click(position={"x": 2, "y": 2})  # focus the widget so keys reach it
    editor.page.keyboard.press("4")
    assert editor.locator(".lpn-swatch[data-colour='4']").get_attribute("aria-pressed") == "true"
    click_cell(canvas, 2, 1)
    painted = [row[:] for row in start]
    painted[2][1] = 4
    wait_for(editor, "edit", painted)
    wait_for(editor, "result", np.array(painted).T.tolist())
    editor.page.keyboard.press("Control+z")
    wait_for(editor, "edit", start)
    wait_for(editor, "result", np.array(start).T.tolist())
    editor.page.keyboard.press("Control+y")
    wait_for(editor, "edit", painted)
    screenshot(editor)
    assert not editor.page.js_errors


def test_editor_fill_clear_copy_and_resize(editor, screenshot):
    canvas = editor.locator("canvas[data-role=edit]")
    editor.locator("button[data-action=clear]").click()
    wait_for(editor, "edit", [[0] * 3] * 3)
    editor.page.keyboard.press("f")
    editor.page.keyboard.press("3")
    click_cell(canvas, 0, 0)
    wait_for(editor, "edit", [[3] * 3] * 3)
    editor.locator("button[data-action=undo]").click()
    wait_for(editor, "edit", [[0] * 3] * 3)
    editor.locator("button[data-action=copy_input]").click()
    wait_for(editor, "edit", SPEC["train"][0][0])
    editor.locator("input[data-size=rows]").fill("4")
    editor.locator("input[data-size=rows]").press("Enter")
    wait_for(editor, "edit", SPEC["train"][0][0] + [[0, 0, 0]])
    assert editor.locator("canvas[data-role=edit]").get_attribute("data-rows") == "4"
    screenshot(editor)
