"""User tasks in ARC JSON: files, folders, collections, and errors that name the file, pair and cell."""

import json

import numpy as np
import pytest

from lpn.grids import GridError
from lpn.tasks import TaskFileError, load_json_task, load_json_tasks, make_family_task, save_json_task

GOOD = {"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}], "test": [{"input": [[5, 6]]}]}


def write(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_loads_a_task_with_an_unknown_test_output(tmp_path):
    task = load_json_task(write(tmp_path / "flip.json", GOOD))
    assert task.name == "flip" and task.meta["source"].endswith("flip.json")
    np.testing.assert_array_equal(task.train[0].output, [[4, 3], [2, 1]])
    assert task.test[0].output is None


def test_round_trip_through_save(tmp_path):
    task = make_family_task("gravity", 3, max_side=10)
    back = load_json_task(save_json_task(task, tmp_path / "t.json"))
    for p, q in zip(task.train + task.test, back.train + back.test):
        np.testing.assert_array_equal(p.input, q.input)
        np.testing.assert_array_equal(p.output, q.output)


def test_folder_and_collection_files(tmp_path):
    write(tmp_path / "b.json", GOOD)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "a.json", GOOD)
    write(tmp_path / "many.json", {"x1": GOOD, "x2": GOOD})
    assert [t.name for t in load_json_tasks(tmp_path)] == ["b", "x1", "x2", "sub/a"]
    with pytest.raises(TaskFileError, match="holds 2 tasks"):
        load_json_task(tmp_path / "many.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TaskFileError, match="no .json task files"):
        load_json_tasks(tmp_path / "empty")


def bad(tmp_path, data, name="bad.json"):
    with pytest.raises(TaskFileError) as info:
        load_json_task(write(tmp_path / name, data))
    assert str(tmp_path / name) in str(info.value)
    assert isinstance(info.value, GridError)
    return str(info.value)


def test_errors_name_the_file_the_pair_and_the_cell(tmp_path):
    colour = {"train": GOOD["train"] + [{"input": [[0, 0], [0, 12]], "output": [[1]]}], "test": []}
    assert "train pair 1 input: colour 12 at cell (row 1, col 1)" in bad(tmp_path, colour)
    text = {"train": [{"input": [[1, "a"]], "output": [[1]]}], "test": []}
    assert 'train pair 0 input: cell (row 0, col 1) is "a"' in bad(tmp_path, text)
    fraction = {"train": GOOD["train"], "test": [{"input": [[1, 2.5]]}]}
    assert "test pair 0 input: cell (row 0, col 1) is 2.5" in bad(tmp_path, fraction)
    ragged = {"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": []}
    assert "train pair 0 input: ragged rows" in bad(tmp_path, ragged)
    wide = {"train": [{"input": [[1] * 31], "output": [[1]]}], "test": []}
    assert "train pair 0 input: shape 1x31 exceeds the maximum side 30" in bad(tmp_path, wide)


def test_errors_for_malformed_files(tmp_path):
    assert "not valid JSON" in bad(tmp_path, '{"train": [') and "line 1" in bad(tmp_path, '{"train": [')
    assert "missing the 'test' list" in bad(tmp_path, {"train": GOOD["train"]})
    assert "missing the 'train' list" in bad(tmp_path, {"test": []})
    assert "'train' must be a list" in bad(tmp_path, {"train": {}, "test": []})
    assert "train pair 0: missing 'output'" in bad(tmp_path, {"train": [{"input": [[1]]}], "test": []})
    assert "train pair 0: expected an object" in bad(tmp_path, {"train": [[[1]], [[2]]], "test": []})
    assert "has no train pairs" in bad(tmp_path, {"train": [], "test": []})
    assert "expected an object" in bad(tmp_path, [1, 2])
    with pytest.raises(TaskFileError, match="cannot read"):
        load_json_task(tmp_path / "missing.json")


def test_pasted_text_or_a_dict_parse_like_a_file_and_name_where_they_came_from():
    from lpn.tasks.json_tasks import parse_json_task

    task = parse_json_task(json.dumps(GOOD), name="pasted")
    assert task.name == "pasted" and task.test[0].output is None
    np.testing.assert_array_equal(parse_json_task(GOOD).train[0].input, [[1, 2], [3, 4]])
    assert parse_json_task({"only": GOOD}).name == "only"  # a collection of one
    with pytest.raises(TaskFileError, match=r"^the box: not valid JSON: Expecting value at line 1, column 11"):
        parse_json_task('{"train": ]', where="the box")
    with pytest.raises(TaskFileError, match="JSON: holds 2 tasks, expected one"):
        parse_json_task({"a": GOOD, "b": GOOD})
    with pytest.raises(TaskFileError, match=r"JSON: task 'task', test pair 0 input: cell \(row 0, col 1\) is \"6\""):
        parse_json_task({"train": GOOD["train"], "test": [{"input": [[5, "6"]]}]})
