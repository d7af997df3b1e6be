"""What a person sees of the task builder in JupyterLab (fixture: builder.ipynb): a two-pair task
built by clicks (add a pair, paint cells, resize a grid), solved with a tiny model, exported and
imported as JSON. What the kernel holds is read back with `kernel_eval` and compared with the
canvas pixels.
"""

from __future__ import annotations

import json

import pytest
from browser_fixtures import browser, lab, notebook, screenshot, screenshot_on_failure  # noqa: F401
from browser_helpers import click_cell, kernel_eval, kernel_json, read_grid, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(notebook):
    return notebook("builder.ipynb")


def thumbnail(builder, split: str, index: int, side: str):
    return builder.locator(f".lpn-pairs canvas[data-split={split}][data-index='{index}'][data-side={side}]")


def test_a_two_pair_task_is_built_by_clicks(page, screenshot):
    builder = page.locator(".lpn-task-builder")
    assert builder.locator(".lpn-pairs .lpn-row[data-split=train]").count() == 1
    builder.locator("button[data-action=add-train]").click()
    wait_until(
        page, lambda: builder.locator(".lpn-pairs .lpn-row[data-split=train]").count() == 2, what="a second pair"
    )
    assert kernel_json(page, "builder.selected") == ["train", 1, "input"]

    thumbnail(builder, "train", 0, "input").click()  # paint pair 1's input: colour 2 at (0, 0) and (1, 2)
    wait_until(
        page,
        lambda: builder.locator("[data-role=editing]").inner_text() == "editing pair 1 input",
        what="the selection",
    )
    builder.locator(".lpn-swatch[data-colour='2']").click()
    edit = builder.locator("canvas[data-role=edit]")
    click_cell(edit, 0, 0)
    click_cell(edit, 1, 2)
    painted = [[2, 0, 0], [0, 0, 2], [0, 0, 0]]
    wait_until(page, lambda: kernel_json(page, "builder.task.train[0].input.tolist()") == painted, what="the paint")
    wait_until(page, lambda: read_grid(thumbnail(builder, "train", 0, "input")) == painted, what="the thumbnail")

    thumbnail(builder, "train", 1, "output").click()  # resize pair 2's output to 4x2, then paint it
    wait_until(
        page,
        lambda: builder.locator("[data-role=editing]").inner_text() == "editing pair 2 output",
        what="the selection",
    )
    builder.locator("input[data-size=rows]").fill("4")
    builder.locator("input[data-size=rows]").press("Enter")
    wait_until(page, lambda: edit.get_attribute("data-rows") == "4", what="the new rows")
    builder.locator("input[data-size=cols]").fill("2")
    builder.locator("input[data-size=cols]").press("Enter")
    wait_until(
        page,
        lambda: edit.get_attribute("data-rows") == "4" and edit.get_attribute("data-cols") == "2",
        what="the resize",
    )
    builder.locator(".lpn-swatch[data-colour='4']").click()
    click_cell(edit, 3, 1)
    expected = [[0, 0], [0, 0], [0, 0], [0, 4]]
    wait_until(page, lambda: kernel_json(page, "builder.task.train[1].output.tolist()") == expected, what="the paint")
    assert "output 4x2" in builder.locator(".lpn-row[data-split=train][data-index='1']").inner_text()
    assert kernel_json(page, "[p.input.shape for p in builder.task.train]") == [[3, 3], [3, 3]]
    screenshot(builder)
    assert not page.js_errors


def test_solve_shows_two_attempts(page, screenshot):
    builder = page.locator(".lpn-task-builder")
    assert builder.locator("select[data-role=method]").input_value() == "gradient"
    builder.locator("button[data-action=solve]").click()
    results = builder.locator("[data-role=results]")
    wait_until(page, lambda: results.locator("figcaption").count() == 4, timeout_s=120, what="the attempts")
    captions = results.locator("figcaption").all_inner_texts()
    assert captions[0] == "test input 3x3" and captions[3] == "truth ?"  # the test output is not given
    assert captions[1].startswith("attempt 1") and captions[2].startswith("attempt 2")
    attempts = kernel_json(page, "[g.tolist() for g in builder.solution.attempts[0]]")
    canvases = results.locator("canvas.lpn-grid")
    assert read_grid(canvases.nth(1)) == attempts[0] and read_grid(canvases.nth(2)) == attempts[1]
    assert builder.locator("[data-role=status]").inner_text().startswith("gradient (steps 8, lr 0.1)")
    assert builder.locator("svg.lpn-chart polyline").count() == 1
    frame = builder.locator("canvas[data-role=frame]")
    assert frame.get_attribute("data-step") == "8"
    builder.locator("input[data-role=slider]").focus()
    page.keyboard.press("Home")
    assert frame.get_attribute("data-step") == "0"
    screenshot(builder)
    assert not page.js_errors


def test_json_is_exported_and_a_bad_paste_is_refused_with_the_parsers_message(page):
    builder = page.locator(".lpn-task-builder")
    builder.locator("button[data-action=export]").click()
    area = builder.locator("textarea[data-role=json]")
    assert json.loads(area.input_value()) == json.loads(kernel_eval(page, "print(builder.to_json())"))
    area.fill('{"train": [{"input": [[1, 12]], "output": [[1]]}], "test": []}')
    builder.locator("button[data-action=import]").click()
    wait_until(page, lambda: "colour 12" in builder.locator("[data-role=message]").inner_text(), what="the error")
    assert kernel_json(page, "builder.task.num_pairs") == 2
    area.fill('{"train": [{"input": [[1, 2]], "output": [[3]]}], "test": [{"input": [[4]]}]}')
    builder.locator("button[data-action=import]").click()
    wait_until(page, lambda: builder.locator(".lpn-pairs .lpn-row[data-split=train]").count() == 1, what="the import")
    assert read_grid(thumbnail(builder, "train", 0, "input")) == [[1, 2]]
    assert builder.locator("[data-role=message]").inner_text() == ""
