"""What a person sees of the model widgets in JupyterLab (fixture: model.ipynb): a click on the
latent map decodes a new grid, the search button draws a path, the player's slider and play
button change the frame, the comparison and the live training dashboard are drawn.

What the kernel computed is read back with `kernel_eval` and compared with the canvas pixels.
"""

from __future__ import annotations

import json
import re

import pytest
from browser_fixtures import browser, lab, notebook, screenshot, screenshot_on_failure  # noqa: F401
from browser_helpers import kernel_json, read_grid, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(notebook):
    return notebook("model.ipynb")


def click_map(explorer, x: float, y: float) -> tuple[float, float]:
    """Clicks the heat map at pixel (x, y); returns the plane point there (extent over 320 px)."""
    u0, u1, v0, v1 = kernel_json(explorer.page, "explorer.extent")
    explorer.locator("canvas[data-role=heat]").click(position={"x": x, "y": y})
    return u0 + (u1 - u0) * x / 320, v1 - (v1 - v0) * y / 320


def shows_output_at(explorer, u: float, v: float) -> bool:
    """The decoded caption names a point within a pixel or so of (u, v): clicks land on fractions
    of a pixel."""
    found = re.search(r"output at \((-?[\d.]+), (-?[\d.]+)\)", explorer.inner_text())
    return bool(found) and abs(float(found[1]) - u) < 0.05 and abs(float(found[2]) - v) < 0.05


def test_explorer_draws_the_heat_map_and_the_task_latents(page, screenshot):
    explorer = page.locator(".lpn-latent-explorer")
    colours = explorer.locator("canvas[data-role=heat]").evaluate("""(c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, seen = new Set();
      for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + "," + d[i + 1] + "," + d[i + 2]);
      return seen.size; }""")
    assert colours > 5  # a colour map, not a blank canvas
    assert explorer.locator("circle.lpn-marker-pair").count() == 2
    assert explorer.locator("circle.lpn-marker-mean").count() == 1
    spec = explorer.locator("canvas[data-role=spec]")
    assert spec.count() == 4 and read_grid(spec.first) == kernel_json(page, "task.train[0].input.tolist()")
    screenshot(explorer)
    assert not page.js_errors


def test_a_click_on_the_map_decodes_that_latent(page, screenshot):
    explorer = page.locator(".lpn-latent-explorer")
    decoded = explorer.locator("canvas[data-role=decoded]")
    seen = []
    for x, y in ((20, 20), (300, 300)):
        u, v = click_map(explorer, x, y)
        wait_until(page, lambda u=u, v=v: shows_output_at(explorer, u, v), what="the decoded caption")
        assert kernel_json(page, "explorer.query") == pytest.approx([u, v], abs=0.05)
        expected = kernel_json(page, "explorer.decoded_grid.tolist()")
        wait_until(page, lambda e=expected: read_grid(decoded) == e, what="the decoded grid on the canvas")
        seen.append(expected)
    assert seen[0] != seen[1], "the two corners decode alike: the fixture model should depend on z"
    screenshot(explorer)


def test_the_search_button_draws_a_path_from_the_clicked_point(page, screenshot):
    explorer = page.locator(".lpn-latent-explorer")
    u, v = click_map(explorer, 60, 250)
    wait_until(page, lambda: shows_output_at(explorer, u, v), what="the click")
    path = explorer.locator("polyline.lpn-path")
    before = path.get_attribute("points")
    explorer.locator("button[data-action=search]").click()
    wait_until(page, lambda: path.get_attribute("points") != before, timeout_s=60, what="a new search path")
    assert path.get_attribute("data-points") == "9"
    start = kernel_json(page, "explorer.path[0]")
    assert start == pytest.approx([u, v], abs=0.05)
    u0, u1, v0, v1 = kernel_json(page, "explorer.extent")  # the map may have grown to hold the path
    x, y = (float(c) for c in path.get_attribute("points").split(" ")[0].split(","))
    assert (x, y) == pytest.approx((320 * (start[0] - u0) / (u1 - u0), 320 * (v1 - start[1]) / (v1 - v0)), abs=0.01)
    assert re.search(r"8 steps: log p .* decoder evaluations", explorer.locator("[data-role=status]").inner_text())
    screenshot(explorer)


def test_the_player_slider_and_play_button_change_the_frame(page, screenshot):
    player = page.locator(".lpn-search-player")
    frames = kernel_json(page, "[g.tolist() for g in player.frame_grids]")
    assert len(frames) == 9 and len({json.dumps(f) for f in frames}) > 1, "the fixture search should change its output"
    frame = player.locator("canvas[data-role=frame]")
    assert read_grid(frame) == frames[8]  # opens on the last step
    slider = player.locator("input[data-role=slider]")
    slider.focus()
    page.keyboard.press("Home")
    assert player.locator("[data-role=step-label]").inner_text().startswith("step 0 / 8")
    assert read_grid(frame) == frames[0]
    assert player.locator(".lpn-marker").get_attribute("data-x") == "0"
    for k in range(1, 4):
        page.keyboard.press("ArrowRight")
        assert frame.get_attribute("data-step") == str(k) and read_grid(frame) == frames[k]
    wait_until(page, lambda: kernel_json(page, "player.step") == 3, what="the step to reach Python")
    player.locator("button[data-action=play]").click()
    wait_until(
        page,
        lambda: player.locator("[data-role=step-label]").inner_text().startswith("step 8 / 8"),
        timeout_s=10,
        what="playback to reach the last step",
    )
    assert read_grid(frame) == frames[8]
    screenshot(player)


def test_the_comparison_shows_each_method(page, screenshot):
    view = page.locator(".lpn-search-comparison")
    assert view.locator("svg.lpn-chart[data-series='4'] polyline").count() == 4
    # the evaluations axis ticked at round values, not only at its two ends
    assert view.locator("svg.lpn-chart[data-series='4'] line.lpn-xtick").count() >= 3
    rows = view.locator("tr[data-label]")
    assert rows.all_inner_texts()[0].startswith("mean latent") and rows.count() == 4
    assert [rows.nth(k).get_attribute("data-kind") for k in range(4)] == ["LPN", "LPN", "TTT", "TTT"]
    assert view.locator(".lpn-section").count() == 4
    # each row: input, its two attempts (the second a different grid), truth
    assert view.locator("canvas.lpn-grid").count() == 4 * 4
    screenshot(view)


def test_the_comparison_draws_ttt_on_the_lpn_axis_with_its_two_attempts(page):
    view = page.locator(".lpn-search-comparison")
    curves = kernel_json(page, "comparison.curves")
    ttt = view.locator("polyline[data-label='TTT 4 (leave-one-out)']")
    assert len(ttt.get_attribute("points").split()) == len(curves[3]["x"]) == 4 + 1  # before each step, and after
    assert len(view.locator("polyline[data-label='in-context (leave-one-out)']").get_attribute("points").split()) == 1
    assert "leave-one-out" in view.locator("[data-role=note]").inner_text()
    answer = view.locator(".lpn-section[data-section='3'] canvas.lpn-grid").nth(1)
    shown = "comparison.layout_all.sections[3]['rows'][0]['items'][1]['grid']"
    assert read_grid(answer) == kernel_json(page, f"comparison.layout_all.grids[{shown}].tolist()")


def test_the_dashboard_follows_training(page, screenshot):
    view = page.locator(".lpn-training-dashboard")
    assert view.locator("[data-role=status]").inner_text().startswith("step 4 · loss ")
    titles = view.locator("svg.lpn-chart > text:first-child").all_text_contents()
    assert titles[:3] == ["loss", "KL", "gradient norm"]
    points = view.locator("svg.lpn-chart polyline").first.get_attribute("points").split()
    assert len(points) == 2  # one point per training chunk
    captions = view.locator("figcaption").all_inner_texts()
    assert captions[0] == "test input 4x4" and captions[1].startswith("attempt 1") and captions[2] == "truth 4x4"
    prediction = kernel_json(page, "dashboard.layout_samples.grids[1].tolist()")
    assert read_grid(view.locator("canvas.lpn-grid").nth(1)) == prediction
    screenshot(view)
