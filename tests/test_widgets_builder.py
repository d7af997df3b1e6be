"""The task builder's Python side, driven headlessly: pairs, painting, JSON in and out, and solve
with a tiny model (2-D latent, 4x4 grids) against calling the search and `lpn.evaluate.attempts`.

What only a browser shows (clicks, pixels) is in tests/browser/test_browser_builder.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("anywidget", reason="lpn.widgets needs anywidget (pip install 'lpn[notebook]')")
jax = pytest.importorskip("jax")

from equinox import filter_jit as jit  # noqa: E402  (unjitted, the reference calls cost seconds more)

from lpn import make_task  # noqa: E402
from lpn.config import Config  # noqa: E402
from lpn.evaluate import attempts  # noqa: E402
from lpn.grids import batch_pairs, pad_grid, unpad  # noqa: E402
from lpn.in_context import InContext, ttt  # noqa: E402
from lpn.model import LPN  # noqa: E402
from lpn.search import default_optimizer, gradient_search  # noqa: E402
from lpn.tasks.json_tasks import TaskFileError, load_json_task, task_to_json  # noqa: E402
from lpn.widgets import TaskBuilder, build_task, decode_grids  # noqa: E402

TINY = Config(
    max_rows=4,
    max_cols=4,
    latent_dim=2,
    enc_layers=1,
    dec_layers=1,
    enc_heads=2,
    dec_heads=2,
    enc_head_dim=8,
    dec_head_dim=8,
    search_lr=0.3,
)


def grid(seed, shape=(3, 3)):
    return np.random.default_rng(seed).integers(0, 10, shape).astype(np.uint8)


@pytest.fixture
def task():
    return make_task(
        [(grid(1), grid(2)), (grid(3, (2, 4)), grid(4, (4, 2)))], [(grid(5), grid(6)), (grid(7), None)], name="demo"
    )


@pytest.fixture(scope="module")
def model():
    return LPN(TINY, jax.random.key(0))


def same(a, b) -> bool:
    """Tasks with equal grids (Task's == compares numpy arrays, which is ambiguous)."""
    return task_to_json(a) == task_to_json(b)


def shown(builder) -> list:
    """The grids the browser receives, as lists (None for an unknown test output)."""
    return [None if g is None else g.tolist() for g in decode_grids(builder.grids)]


# building


def test_a_new_builder_has_one_blank_train_pair_and_one_test_input(task):
    builder = build_task()
    assert builder.task.num_pairs == 1 and len(builder.task.test) == 1 and builder.task.test[0].output is None
    assert builder.selected == ["train", 0, "input"] and not builder.can_undo
    assert shown(builder) == [[[0] * 3] * 3, [[0] * 3] * 3, [[0] * 3] * 3, None]
    from_task = build_task(task)
    assert same(from_task.task, task) and from_task.task_name == "demo"
    assert (from_task.num_train, from_task.num_test) == (2, 2)
    html = from_task.to_html()  # the static fallback: every grid as SVG, the unknown output as "?"
    assert html.count("<svg") == 8 and html.count("lpn-missing") == 1 and "<h4>demo</h4>" in html
    assert html == from_task._repr_html_()


def test_pairs_are_added_deleted_and_moved_and_the_selection_follows(task):
    builder = build_task(task)
    builder.add_pair()  # a blank input the size of the last one, copied to its output
    new = builder.task.train[2]
    assert new.input.shape == (2, 4) and not new.input.any() and np.array_equal(new.output, new.input)
    assert builder.selected == ["train", 2, "input"]
    builder.add_pair("test", input=grid(9))
    assert builder.task.test[2].output is None and builder.selected == ["test", 2, "input"]
    builder.select("train", 0, "output")
    builder.move_pair("train", 0, +1)
    assert [p.input.shape for p in builder.task.train] == [(2, 4), (3, 3), (2, 4)]
    assert builder.selected == ["train", 1, "output"]
    builder.move_pair("train", 1, -5)  # clipped to the top
    assert np.array_equal(builder.task.train[0].input, task.train[0].input)
    builder.delete_pair("train", 0)
    assert builder.task.num_pairs == 2 and builder.selected == ["train", 0, "input"]
    with pytest.raises(IndexError, match="no train pair at index 5: the task has 2 train pairs"):
        builder.delete_pair("train", 5)
    with pytest.raises(ValueError, match="split must be one of"):
        builder.add_pair("validation")
    builder.select("train", 1, "output")
    builder.delete_pair("train", 0)
    assert builder.selected == ["train", 0, "output"]  # it follows its pair
    builder.delete_pair("train", 0)
    assert builder.task.num_pairs == 0 and builder.selected == ["test", 0, "input"]
    for _ in range(3):
        builder.delete_pair("test", 0)
    assert builder.selected == [] and builder.value is None and shown(builder) == []
    with pytest.raises(ValueError, match="no grid is selected: add a pair first"):
        builder.paint([(0, 0)])


def test_the_selected_grid_is_painted_filled_resized_and_copied_with_one_undo_history(task):
    builder = build_task(task)
    builder.select("train", 0, "output")
    before = builder.task
    builder.paint([(0, 0), (2, 2)], 7)
    assert builder.value[0, 0] == 7 and builder.value[2, 2] == 7
    builder.resize(2, 5)
    assert builder.value.shape == (2, 5) and builder.value[0, 0] == 7 and not builder.value[:, 3:].any()
    builder.fill(1, 4, 3)
    assert builder.value[1, 4] == 3
    builder.copy_input()
    assert np.array_equal(builder.task.train[0].output, task.train[0].input)
    builder.delete_pair("train", 1)  # pairs are in the same history as cells
    for _ in range(5):
        builder.undo()
    assert same(builder.task, before) and not builder.can_undo
    builder.redo()
    assert builder.value[0, 0] == 7 and builder.can_redo
    builder.paint([(0, 0)], 7)  # a no-op edit leaves no step to undo
    assert builder.can_redo


def test_a_test_output_is_given_by_selecting_it_and_made_unknown_again(task):
    builder = build_task(task)
    builder.select("test", 1, "output")
    assert builder.task.test[1].output.shape == task.test[1].input.shape
    assert builder.selected == ["test", 1, "output"]
    builder.drop_output(1)
    assert builder.task.test[1].output is None and builder.selected == ["test", 1, "input"]


def test_the_browser_sends_the_same_commands_and_sees_errors_as_a_message(task):
    builder = build_task(task)
    builder._handle_custom_msg({"op": "select", "split": "train", "index": 1, "side": "input"}, [])
    builder._handle_custom_msg({"op": "paint", "cells": [[0, 0]], "colour": 5}, [])
    assert builder.task.train[1].input[0, 0] == 5 and builder.message == ""
    builder._handle_custom_msg({"op": "delete_pair", "split": "test", "index": 9}, [])
    assert builder.message == "no test pair at index 9: the task has 2 test pairs"
    with pytest.raises(ValueError, match="unknown task builder command 'explode'"):
        builder._on_message(builder, {"op": "explode"}, [])  # ipywidgets would only log it


# JSON


def test_json_round_trips_through_the_arc_parser(task, tmp_path):
    builder = build_task(task)
    data = json.loads(builder.to_json())
    assert list(data) == ["train", "test"] and data["test"][1] == {"input": task.test[1].input.tolist()}
    assert builder.json_text == builder.to_json()
    path = builder.save(tmp_path / "demo.json")
    assert same(load_json_task(path), task)
    other = build_task()
    other.load(path)
    assert same(other.task, task)
    other.undo()  # loading is one edit
    assert other.task.num_pairs == 1
    other.load(data)
    assert same(other.task, task)
    other.load(builder.to_json())  # pasted text
    assert same(other.task, task)


def test_bad_json_gives_the_parsers_error_and_leaves_the_task(task):
    builder = build_task(task)
    with pytest.raises(TaskFileError, match="not valid JSON: Expecting ',' delimiter at line 1"):
        builder.load('{"train": [1 2]}')
    bad = {"train": [{"input": [[1, 2]], "output": [[3, 12]]}], "test": []}
    with pytest.raises(TaskFileError, match=r"train pair 0 output: colour 12 at cell \(row 0, col 1\) is outside 0-9"):
        builder.load(bad)
    builder._handle_custom_msg({"op": "load", "source": '{"train": []'}, [])
    assert builder.message.startswith("JSON: not valid JSON")
    assert same(builder.task, task) and not builder.can_undo


# solving


@pytest.mark.slow
def test_solve_shows_the_attempts_of_the_search_and_lpn_evaluate(model, task):
    task = make_task([(grid(1), grid(2)), (grid(3), grid(4))], [(grid(5), grid(6)), (grid(7), None)])
    builder = build_task(task, model=model, steps=6)
    assert builder.methods[:2] == ["none", "gradient"] and builder.method == "gradient"
    solution = builder.solve()
    pairs = jax.tree.map(lambda a: a[0], batch_pairs([task.train], 4, 4))
    trace = jit(gradient_search)(model, pairs, jax.random.key(0), steps=6, optimizer=default_optimizer(0.3))
    assert np.allclose(solution.trace.best, trace.best, atol=1e-5)
    for test, found in zip(task.test, solution.attempts):
        grids, shapes = jit(attempts)(model, trace, pad_grid(test.input, 4, 4), np.array(test.input.shape))
        assert len(found) == 2
        for k in range(2):
            assert np.array_equal(found[k], unpad(grids[k], shapes[k]))
    assert solution.settings == {"search": "gradient", "steps": 6, "lr": 0.3, "optimizer": "adam(b2=0.9)"}
    assert len(solution.objective) == 7 and builder.objective_label == "log p"
    assert solution.frame_steps == list(range(7)) and len(decode_grids(builder.frames)) == 7
    assert builder.solve_status.startswith("gradient (steps 6, lr 0.3): ")
    results = decode_grids(builder.result_grids)
    captions = [item["caption"] for row in builder.result_sections[0]["rows"] for item in row["items"]]
    assert captions[0] == "test input 3x3" and captions[1].startswith("attempt 1") and captions[3] == "truth 3x3"
    assert ("✓" in captions[1]) == np.array_equal(solution.attempts[0][0], task.test[0].output)
    assert np.array_equal(results[1], solution.attempts[0][0])
    builder.paint([(0, 0)], 9)
    assert builder.solve_status.endswith("(the task changed since: solve again)")
    html = builder.to_html()
    assert html.count("<svg") >= 4 * 2 + 2 * 4 + 1  # the task, the solution, the chart
    assert "objective by step" in html and "attempt 2" in html


def test_grids_larger_than_the_model_get_a_message_not_a_crash(model):
    builder = build_task(model=model)
    builder.select("train", 0, "output")
    builder.resize(5, 3)
    assert (
        builder.problem == "pair 1 output is 5x3, larger than the model's 4x4 grids: shrink it, or use a larger model"
    )
    with pytest.raises(ValueError, match="larger than the model's 4x4"):
        builder.solve()
    builder._handle_custom_msg({"op": "solve"}, [])
    assert "larger than the model's 4x4" in builder.message
    builder.undo()
    assert builder.problem == ""
    builder.delete_pair("test", 0)
    assert builder.problem == "solving needs at least one train pair and one test pair"


@pytest.mark.slow
def test_an_in_context_model_solves_with_its_prediction():
    ic = InContext(TINY, jax.random.key(1))
    task = make_task([(grid(1), grid(2)), (grid(3), grid(4))], [(grid(5), grid(6))])
    builder = TaskBuilder(task, model=ic, method="none")
    assert builder.methods == ["none", "ttt"]
    solution = builder.solve()
    pairs = jax.tree.map(lambda a: a[0], batch_pairs([task.train], 4, 4))
    trace = jit(ttt)(ic, pairs, steps=0)
    grids, shapes = jit(attempts)(ic, trace, pad_grid(task.test[0].input, 4, 4), np.array([3, 3]))
    assert np.array_equal(solution.attempts[0][0], unpad(grids[0], shapes[0]))
    assert solution.frames == [] and builder.objective_label == "−leave-one-out loss"
    with pytest.raises(KeyError, match="not one of"):
        TaskBuilder(task, model=ic, method="gradient")
