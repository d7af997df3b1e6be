import numpy as np
import pytest

from lpn.grids import (
    IDENTITY,
    Augmentation,
    GridError,
    as_grid,
    batch_tasks,
    make_task,
    random_augmentation,
    unbatch,
)


@pytest.mark.parametrize(
    "cells, message",
    [
        ([[1, 2], [3]], "ragged rows"),
        ([[1, 12]], "colour 12 at cell (row 0, col 1) is outside 0-9"),
        ([[-1]], "colour -1"),
        ([], "empty grid"),
        ([[]], "empty grid"),
        ([[0] * 31], "exceeds the maximum side 30"),
        ([[0.5]], "colours must be integers"),
        ([1, 2], "each row must be a list"),
    ],
)
def test_each_bad_grid_has_its_own_error(cells, message):
    with pytest.raises(GridError, match=message.replace("(", r"\(").replace(")", r"\)")):
        as_grid(cells, where="here")


def test_errors_name_task_and_pair():
    with pytest.raises(GridError, match=r"task 'demo', train pair 1 output: colour 10"):
        make_task([([[0]], [[1]]), ([[0]], [[10]])], name="demo")
    with pytest.raises(GridError, match="has no train pairs"):
        make_task([], name="empty")
    with pytest.raises(GridError, match="train pair 0: missing output"):
        make_task([([[0]], None)])
    with pytest.raises(GridError, match="exceeds the maximum side 4"):
        make_task([([[0] * 5], [[0]])], max_side=4)


def test_padding_round_trip_keeps_shapes():
    rng = np.random.default_rng(1)
    grids = [rng.integers(0, 10, (r, c)) for r, c in [(1, 1), (3, 5), (5, 2)]]
    task = make_task([(g, g.T) for g in grids])
    batch = batch_tasks([task], 6, 6)
    assert batch.inputs.shape == (1, 3, 6, 6) and batch.pair_mask.all()
    for got, want in zip(unbatch(batch.inputs[0], batch.input_shapes[0]), grids):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(unbatch(batch.outputs[0], batch.output_shapes[0]), grids):
        np.testing.assert_array_equal(got, want.T)
    assert (batch.inputs[0, 1, 3:] == 0).all() and (batch.inputs[0, 1, :, 5:] == 0).all()


def test_batch_rejects_grids_larger_than_the_model():
    task = make_task([([[1] * 7], [[1]])], name="wide")
    with pytest.raises(GridError, match="exceeds the model's maximum 5x5"):
        batch_tasks([task], 5, 5)


def test_extra_slots_are_masked():
    task = make_task([([[1]], [[2]])])
    batch = batch_tasks([task], 3, 3, num_pairs=4)
    assert batch.pair_mask.tolist() == [[True, False, False, False]]
    assert (batch.input_shapes[0, 1:] == 1).all()


@pytest.mark.parametrize("k", range(8))
def test_every_symmetry_inverts_and_all_eight_differ(k):
    grid = np.arange(12).reshape(3, 4) % 10
    aug = Augmentation(k, np.arange(10))
    np.testing.assert_array_equal(aug.invert(aug.grid(grid)), grid)
    images = {
        Augmentation(j, np.arange(10)).grid(grid).tobytes() + bytes(Augmentation(j, np.arange(10)).grid(grid).shape)
        for j in range(8)
    }
    assert len(images) == 8


def test_colour_permutation_fixes_black_and_inverts_on_tasks():
    rng = np.random.default_rng(0)
    task = make_task(
        [(rng.integers(0, 10, (3, 4)), rng.integers(0, 10, (2, 2))) for _ in range(3)],
        test=[(rng.integers(0, 10, (4, 4)), None)],
    )
    for _ in range(10):
        aug = random_augmentation(rng)
        assert aug.colours[0] == 0 and sorted(aug.colours) == list(range(10))
        moved = aug.task(task)
        for before, after in zip(task.train, moved.train):
            np.testing.assert_array_equal(aug.invert(after.output), before.output)
            assert (after.input == 0).sum() == (before.input == 0).sum()
        assert moved.test[0].output is None
    np.testing.assert_array_equal(IDENTITY.grid(task.train[0].input), task.train[0].input)
