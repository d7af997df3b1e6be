"""Every way a grid enters `lpn` checks it: make_task, Task(...) directly, the JSON loader and
batching. Random valid tasks round-trip through JSON, padding and every augmentation; random invalid
grids are always rejected with a `GridError` naming the cell (property-based, with hypothesis)."""

import json
import tempfile
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lpn.grids import (
    Augmentation,
    GridError,
    Pair,
    Task,
    apply_symmetry,
    as_grid,
    batch_pairs,
    batch_tasks,
    invert_symmetry,
    make_task,
    unpad,
)
from lpn.tasks import load_json_task, save_json_task
from lpn.tasks.json_tasks import task_to_json

FAST = settings(max_examples=40, deadline=None)

sides = st.integers(1, 30)
grids = arrays(np.uint8, st.tuples(sides, sides), elements=st.integers(0, 9))
small_grids = arrays(np.uint8, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=st.integers(0, 9))
pairs = st.tuples(grids, grids)


@st.composite
def tasks(draw, grid=grids):
    train = draw(st.lists(st.tuples(grid, grid), min_size=1, max_size=4))
    test = draw(st.lists(st.tuples(grid, st.none() | grid), max_size=2))
    return make_task(train, test, name=draw(st.text("abcxyz-", min_size=1, max_size=8)))


def same_task(a: Task, b: Task) -> bool:
    def same(p, q):
        return np.array_equal(p.input, q.input) and (
            p.output is q.output is None or (p.output is not None and np.array_equal(p.output, q.output))
        )

    return (
        len(a.train) == len(b.train)
        and len(a.test) == len(b.test)
        and all(same(p, q) for p, q in zip(a.train + a.test, b.train + b.test))
    )


@FAST
@given(tasks())
def test_valid_tasks_round_trip_through_json(task):
    assert same_task(make_task(**{k: v for k, v in json.loads(json.dumps(task_to_json(task))).items()}), task)
    with tempfile.TemporaryDirectory() as folder:
        back = load_json_task(save_json_task(task, Path(folder) / "t.json"))
    assert same_task(back, task) and all(p.input.dtype == np.uint8 for p in back.train)


@FAST
@given(st.lists(tasks(), min_size=1, max_size=3))
def test_valid_tasks_round_trip_through_padding(task_list):
    batch = batch_tasks(task_list, 30, 30)
    for i, task in enumerate(task_list):
        for j, (x, y) in enumerate(task.train):
            np.testing.assert_array_equal(unpad(batch.inputs[i, j], batch.input_shapes[i, j]), x)
            np.testing.assert_array_equal(unpad(batch.outputs[i, j], batch.output_shapes[i, j]), y)
            assert batch.inputs[i, j, x.shape[0] :].sum() == 0 and batch.inputs[i, j, :, x.shape[1] :].sum() == 0
        assert batch.pair_mask[i].sum() == len(task.train)


@FAST
@given(grids, st.integers(0, 7), st.permutations(range(1, 10)))
def test_every_augmentation_inverts(grid, k, perm):
    np.testing.assert_array_equal(invert_symmetry(apply_symmetry(grid, k), k), grid)
    augmentation = Augmentation(k, np.array([0, *perm]))
    moved = augmentation.grid(grid)
    assert moved.shape == (grid.shape[::-1] if k % 2 != (k >= 4) else grid.shape)
    np.testing.assert_array_equal(augmentation.invert(moved), grid)


@FAST
@given(tasks(small_grids), st.integers(0, 7), st.permutations(range(1, 10)))
def test_augmented_tasks_stay_valid_and_invert(task, k, perm):
    augmentation = Augmentation(k, np.array([0, *perm]))
    moved = augmentation.task(task)
    back = [augmentation.invert(p.input) for p in moved.train + moved.test]
    assert all(np.array_equal(b, p.input) for b, p in zip(back, task.train + task.test))


# Invalid grids, as nested lists (so that 10**30 and booleans survive), each with the cell at fault.


def with_cell(grid, value, r, c):
    rows = grid.tolist()
    rows[r % grid.shape[0]][c % grid.shape[1]] = value
    return rows, (r % grid.shape[0], c % grid.shape[1])


bad_values = (
    st.integers(max_value=-1)
    | st.integers(min_value=10)
    | st.just(10**30)
    | st.booleans()
    | st.floats(allow_nan=True).filter(lambda x: not float(x).is_integer())
)


@st.composite
def bad_cells(draw):
    """(rows, (r, c)): a valid grid with one cell replaced by a colour outside 0-9 or a non-integer."""
    return with_cell(draw(small_grids), draw(bad_values), draw(st.integers(0, 7)), draw(st.integers(0, 7)))


bad_shapes = st.one_of(
    st.just([]),
    st.lists(st.just([]), min_size=1, max_size=3),  # empty
    st.tuples(st.integers(1, 5), st.integers(1, 5)).map(lambda s: [[0] * s[0], [0] * (s[0] + s[1])]),  # ragged
    st.tuples(st.integers(31, 60), st.integers(1, 30)).map(lambda s: [[1] * s[1]] * s[0]),  # too many rows
    st.tuples(st.integers(1, 30), st.integers(31, 60)).map(lambda s: [[1] * s[1]] * s[0]),  # too wide
)


def rejected_everywhere(rows, cell=None):
    """Each path that makes or batches a task raises GridError; with `cell`, naming it."""
    good = np.zeros((2, 2), np.uint8)
    paths = {
        "as_grid": lambda: as_grid(rows),
        "make_task": lambda: make_task([(good, rows)]),
        "Task": lambda: Task((Pair(good, good),), (Pair(rows, None),)),
        "batch_pairs": lambda: batch_pairs([[Pair(rows, good)]], 30, 30),
    }
    if np.asarray(rows, dtype=object).size and not isinstance(np.asarray(rows, dtype=object).flat[0], list):
        paths["numpy array"] = lambda: as_grid(np.array(rows, dtype=object))
    messages = []
    for name, path in paths.items():
        with pytest.raises(GridError) as info:
            path()
        messages.append(str(info.value))
        if cell is not None:
            assert f"(row {cell[0]}, col {cell[1]})" in str(info.value), (name, str(info.value))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bad.json"
        path.write_text(json.dumps({"train": [{"input": rows, "output": [[1]]}], "test": []}))
        with pytest.raises(GridError) as info:
            load_json_task(path)
        assert str(path) in str(info.value) and "train pair 0 input" in str(info.value)
        if cell is not None:
            assert f"(row {cell[0]}, col {cell[1]})" in str(info.value), str(info.value)
    return messages


@FAST
@given(bad_cells())
def test_bad_colours_bools_and_fractions_are_rejected_naming_the_cell(bad):
    rows, cell = bad
    rejected_everywhere(rows, cell)


@FAST
@given(bad_shapes)
def test_empty_ragged_and_oversized_grids_are_rejected(rows):
    rejected_everywhere(rows)


@pytest.mark.parametrize("colour", [10, 11, 200, -5, 2.7])
def test_a_task_built_directly_checks_its_colours(colour):
    grid = np.array([[0, colour]])
    with pytest.raises(GridError, match=r"task 'direct', train pair 0 input: colou?rs?.*\(row 0, col 1\)"):
        Task((Pair(grid, np.zeros((1, 1), np.uint8)),), name="direct")


def test_booleans_are_not_colours_in_any_path():
    for grid in ([[True, False]], [[1, True]], np.array([[True, False]])):
        with pytest.raises(GridError, match=r"colours must be integers 0-9, got True at cell \(row 0, col \d\)"):
            make_task([(grid, [[1]])])
        with pytest.raises(GridError, match="got True"):
            Task((Pair(np.zeros((1, 1), np.uint8), grid),))


def test_direct_tasks_convert_grids_and_keep_valid_uint8_arrays():
    grid = np.ones((2, 3), np.uint8)
    task = Task(((grid, [[1, 2]]),), ((np.array([[4]], np.int64), None),))
    assert isinstance(task.train[0], Pair) and task.train[0].input is grid  # not copied
    assert task.train[0].output.dtype == np.uint8 and task.test[0].input.dtype == np.uint8
    assert Task((), task.test).num_pairs == 0  # query-only tasks, as the widgets build them
    with pytest.raises(GridError, match="train pair 0: missing output grid"):
        Task(((grid, None),))


def test_batching_catches_grids_changed_after_the_task_was_made(tiny_model):
    from lpn.evaluate import predict_tasks

    task = make_task([(np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8))] * 2, [([[1]], None)], name="t")
    task.train[1].output[1, 0] = 12  # arrays are mutable: the last check is in batch_pairs
    with pytest.raises(GridError, match=r"task 0, pair 1 output: colour 12 at cell \(row 1, col 0\)"):
        predict_tasks(tiny_model, [task], jax.random.key(0))
