"""The Python side of the task view and the grid editor, driven headlessly (no browser).

What only a browser shows (pixels, clicks, keys) is in tests/browser/.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("anywidget", reason="lpn.widgets needs anywidget (pip install 'lpn[notebook]')")

from lpn import GridError, make_task  # noqa: E402
from lpn.widgets import GridEditor, TaskView, decode_grids, edit_grid, encode_grids, grid_svg, show_task  # noqa: E402
from lpn.widgets.encoding import decode_grid, encode_grid, mismatch  # noqa: E402
from lpn.widgets.grid_editor import flood_fill  # noqa: E402
from lpn.widgets.layout import is_attempts  # noqa: E402


def grid(rows, cols, seed=0):
    return np.random.default_rng(seed).integers(0, 10, (rows, cols)).astype(np.uint8)


@pytest.fixture
def task():
    return make_task(
        [(grid(3, 3, 1), grid(3, 3, 2)), (grid(2, 5, 3), grid(4, 1, 4))],
        [(grid(2, 2, 5), [[1, 2], [3, 4]]), (grid(1, 1, 6), None)],
        name="demo",
    )


# encoding


def test_grids_round_trip_through_bytes_with_shapes_and_missing_grids():
    grids = [grid(1, 1), grid(30, 30, 1), None, grid(7, 2, 2)]
    data = encode_grids(grids)
    assert isinstance(data, bytes)
    assert len(data) == sum(2 + (0 if g is None else g.size) for g in grids)
    back = decode_grids(data)
    assert back[2] is None
    for g, b in zip(grids[:2] + grids[3:], back[:2] + back[3:]):
        assert b.dtype == np.uint8 and np.array_equal(g, b)


def test_encoding_layout_is_rows_cols_then_row_major_cells():
    assert encode_grid([[1, 2, 3], [4, 5, 6]]) == bytes([2, 3, 1, 2, 3, 4, 5, 6])
    assert encode_grid(None) == b"\x00\x00"


def test_decoding_rejects_a_truncated_buffer_and_encoding_rejects_bad_colours():
    with pytest.raises(ValueError, match="truncated"):
        decode_grids(bytes([2, 2, 1, 2, 3]))
    with pytest.raises(GridError, match="outside 0-9"):
        encode_grid([[0, 11]])
    with pytest.raises(ValueError, match="one grid"):
        decode_grid(encode_grids([grid(1, 1), grid(1, 1)]))


def test_mismatch_marks_differing_cells_and_none_for_a_different_shape():
    assert mismatch([[1, 2], [3, 4]], [[1, 0], [3, 0]]).tolist() == [[0, 1], [0, 1]]
    assert mismatch([[1, 2]], [[1], [2]]) is None


# layout and task view


def test_is_attempts_tells_one_grid_from_a_list_of_grids():
    assert not is_attempts([[1, 2], [3, 4]])
    assert not is_attempts(np.zeros((2, 2)))
    assert is_attempts([[[1, 2]], [[3, 4]]])
    assert is_attempts([np.zeros((2, 2)), np.zeros((3, 1))])


def test_task_view_sends_every_grid_once_in_layout_order(task):
    view = show_task(task)
    assert isinstance(view, TaskView)
    grids = decode_grids(view.grids)
    expected = [
        task.train[0].input,
        task.train[0].output,
        task.train[1].input,
        task.train[1].output,
        task.test[0].input,
        task.test[0].output,
        task.test[1].input,
        None,
    ]
    assert len(grids) == len(expected)
    for got, want in zip(grids, expected):
        assert (got is None and want is None) or np.array_equal(got, want)
    (section,) = view.sections
    assert section["title"] == "demo"
    assert [row["label"] for row in section["rows"]] == ["pair 1", "pair 2", "test 1", "test 2"]
    captions = [item["caption"] for row in section["rows"] for item in row["items"]]
    assert captions[:4] == ["input 3x3", "output 3x3", "input 2x5", "output 4x1"]
    assert captions[-1] == "truth ?"


def test_attempts_are_marked_correct_wrong_or_wrong_shape_with_their_mismatch_mask(task):
    right, wrong, bad_shape = [[1, 2], [3, 4]], [[1, 2], [0, 0]], [[1, 2, 3]]
    view = show_task(task, [[right, wrong], bad_shape])
    grids = decode_grids(view.grids)
    test1, test2 = view.sections[0]["rows"][2:]
    attempt1, attempt2 = test1["items"][1:3]
    assert attempt1["status"] == "correct" and "mismatch" not in attempt1 and "✓" in attempt1["caption"]
    assert attempt2["status"] == "wrong" and attempt2["caption"].endswith("✗ 2 cells")
    assert grids[attempt2["mismatch"]].tolist() == [[0, 0], [1, 1]]
    assert "status" not in test2["items"][1]  # no truth to compare with
    view.set_predictions([bad_shape])
    shaped = view.sections[0]["rows"][2]["items"][1]
    assert shaped["status"] == "shape" and "mismatch" not in shaped


def test_predictions_must_match_the_number_of_tasks_and_test_inputs(task):
    with pytest.raises(ValueError, match="3 predictions for 2 test inputs"):
        show_task(task, [None, None, None])
    with pytest.raises(ValueError, match="1 prediction lists for 2 tasks"):
        TaskView([task, task], [None])
    with pytest.raises(GridError, match="attempt 1"):
        show_task(task, [[[1, 12]]])


def test_a_gallery_of_hundreds_of_grids_is_one_small_buffer():
    tasks = [make_task([(grid(5, 5, i), grid(5, 5, i + 1))] * 2, name=f"t{i}") for i in range(100)]
    view = show_task(tasks)
    assert len(view.sections) == 100
    assert len(decode_grids(view.grids)) == 400
    assert len(view.grids) == 400 * (2 + 25)


def test_static_html_draws_each_grid_as_svg_with_its_cells_and_crosses(task):
    view = show_task(task, [[[1, 2], [0, 0]], None])
    html = view._repr_html_()
    assert html == view.to_html()
    shapes = re.findall(r'data-rows="(\d+)" data-cols="(\d+)"', html)
    assert shapes == [
        ("3", "3"),
        ("3", "3"),
        ("2", "5"),
        ("4", "1"),
        ("2", "2"),
        ("2", "2"),
        ("2", "2"),
        ("1", "1"),
        ("0", "0"),
    ]
    assert html.count('class="lpn-mismatch"') == 2
    assert "<script" not in html and "attempt 1 2x2 ✗ 2 cells" in html


def test_static_svg_uses_the_palette_and_merges_runs_of_a_colour():
    svg = grid_svg(np.array([[3, 3, 3], [3, 3, 4]]))
    fills = re.findall(r'<rect x="\d+" y="\d+" width="(\d+)" height="\d+" fill="(#\w+)"', svg)
    cell = int(re.search(r'width="(\d+)"', svg).group(1)) // 3
    assert fills == [(str(3 * cell), "#2ECC40"), (str(2 * cell), "#2ECC40"), (str(cell), "#FFDC00")]


def test_static_html_escapes_task_names():
    html = show_task(make_task([([[1]], [[2]])], name="<script>alert(1)</script>")).to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html


# grid editor


def test_editor_value_is_a_copy_and_the_grid_trait_is_its_bytes():
    editor = edit_grid([[1, 2], [3, 4]])
    value = editor.value
    value[0, 0] = 9
    assert editor.value[0, 0] == 1
    assert editor.grid == bytes([2, 2, 1, 2, 3, 4])
    assert edit_grid(shape=(2, 4)).value.tolist() == [[0] * 4] * 2
    assert np.array_equal(edit_grid(source=[[5, 6]]).value, [[5, 6]])


def test_paint_fill_resize_clear_copy_edit_the_grid():
    editor = GridEditor([[1, 1, 0], [0, 1, 0], [2, 0, 1]], source=[[7]])
    editor.paint([(0, 2), (5, 5)], 4)  # out-of-grid cells are ignored
    assert editor.value.tolist() == [[1, 1, 4], [0, 1, 0], [2, 0, 1]]
    editor.colour = 6
    editor.fill(0, 0)  # 4-connected: the diagonal 1 at (2, 2) is not reached
    assert editor.value.tolist() == [[6, 6, 4], [0, 6, 0], [2, 0, 1]]
    editor.resize(2, 4)
    assert editor.value.tolist() == [[6, 6, 4, 0], [0, 6, 0, 0]]
    editor.resize(0, 99)
    assert editor.value.shape == (1, 30)
    editor.clear()
    assert not editor.value.any()
    editor.copy_input()
    assert editor.value.tolist() == [[7]]


def test_undo_and_redo_walk_the_history_and_a_new_edit_drops_the_redo_branch():
    editor = edit_grid([[0, 0]])
    assert not editor.can_undo and not editor.can_redo
    editor.paint([(0, 0)], 1)
    editor.paint([(0, 1)], 2)
    editor.undo()
    assert editor.value.tolist() == [[1, 0]] and editor.can_undo and editor.can_redo
    editor.undo()
    assert editor.value.tolist() == [[0, 0]] and not editor.can_undo
    editor.undo()  # nothing left: no change, no error
    assert editor.value.tolist() == [[0, 0]]
    editor.redo()
    assert editor.value.tolist() == [[1, 0]]
    editor.paint([(0, 1)], 3)
    assert not editor.can_redo
    editor.redo()
    assert editor.value.tolist() == [[1, 3]]
    assert decode_grid(editor.grid).tolist() == [[1, 3]]


def test_no_op_edits_leave_no_undo_step_and_history_is_bounded():
    editor = GridEditor([[5]], history=3)
    editor.paint([(0, 0)], 5)
    editor.fill(0, 0, 5)
    assert not editor.can_undo
    for colour in range(1, 5):
        editor.paint([(0, 0)], colour)
    for _ in range(10):
        editor.undo()
    assert editor.value.tolist() == [[1]]  # the oldest of the 3 kept steps


def test_front_end_commands_arrive_as_messages_and_unknown_ones_raise():
    editor = GridEditor([[0, 0], [0, 0]], source=[[3]])
    editor._handle_custom_msg({"op": "paint", "cells": [[1, 1]], "colour": 8}, [])
    editor._handle_custom_msg({"op": "fill", "row": 0, "col": 0, "colour": 2}, [])
    assert editor.value.tolist() == [[2, 2], [2, 8]]
    editor._handle_custom_msg({"op": "undo"}, [])
    assert editor.value.tolist() == [[0, 0], [0, 8]]
    editor._handle_custom_msg({"op": "resize", "rows": 1, "cols": 3}, [])
    editor._handle_custom_msg({"op": "copy_input"}, [])
    assert editor.value.tolist() == [[3]]
    with pytest.raises(ValueError, match="unknown editor command 'explode'"):
        editor._on_message(editor, {"op": "explode"}, [])  # ipywidgets logs what a handler raises


def test_predict_runs_after_each_edit_and_its_failure_is_shown_not_raised():
    seen = []
    editor = edit_grid([[1, 2]], predict=lambda g: g[:, ::-1], on_change=seen.append)
    assert decode_grid(editor.result).tolist() == [[2, 1]] and editor.result_caption == "output 1x2"
    editor.paint([(0, 0)], 7)
    assert decode_grid(editor.result).tolist() == [[2, 7]]
    editor.undo()
    assert [g.tolist() for g in seen] == [[[7, 2]], [[1, 2]]]

    def broken(grid):
        raise RuntimeError("model not trained")

    failing = edit_grid([[1]], predict=broken)
    assert failing.result == b"" and failing.result_caption == "predict failed: RuntimeError: model not trained"


def test_editor_rejects_bad_grids_and_copy_without_an_input():
    with pytest.raises(GridError, match="outside 0-9"):
        edit_grid([[10]])
    editor = edit_grid([[1]])
    with pytest.raises(GridError):
        editor.value = [[1, 2], [3]]
    with pytest.raises(ValueError, match="no input grid"):
        editor.copy_input()


def test_flood_fill_is_four_connected_and_leaves_its_input_alone():
    g = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.uint8)
    out = flood_fill(g, 1, 1, 5)
    assert out.tolist() == [[1, 0, 1], [0, 5, 0], [1, 0, 1]] and g[1, 1] == 1
    assert flood_fill(g, 0, 1, 3).tolist() == [[1, 3, 1], [0, 1, 0], [1, 0, 1]]


def test_editor_static_html_shows_input_edit_and_output():
    editor = edit_grid(source=[[1, 2]], predict=lambda g: g.T)
    html = editor.to_html()
    assert re.findall(r'data-rows="(\d+)" data-cols="(\d+)"', html) == [("1", "2"), ("1", "2"), ("2", "1")]
    assert "output 2x1" in html


def test_a_displayed_widget_carries_its_static_html_for_renderers_without_a_kernel(task):
    ipython = pytest.importorskip("IPython.core.interactiveshell")
    data, _ = ipython.InteractiveShell.instance().display_formatter.format(show_task(task))
    assert "application/vnd.jupyter.widget-view+json" in data  # the live view, in JupyterLab
    assert data["text/html"].startswith('<div class="lpn-static">')  # the fallback, saved beside it


@pytest.mark.parametrize(
    "name", ["TaskView", "GridEditor", "LatentExplorer", "SearchPlayer", "SearchComparison", "TrainingDashboard"]
)
def test_each_widget_ships_one_self_contained_es_module(name, tmp_path):
    import shutil
    import subprocess

    import lpn.widgets

    esm = str(getattr(lpn.widgets, name)._esm)
    assert esm.count("export default") == 1
    assert not re.search(r"^\s*import\b|import\(", esm, re.M)  # nothing fetched: no CDN, works offline
    if shutil.which("node"):  # a syntax error would only show in a browser otherwise
        path = tmp_path / f"{name}.mjs"
        path.write_text(esm)
        result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
