"""User tasks in the ARC JSON format, from a file or a folder of files.

A file holds one task, `{"train": [{"input": grid, "output": grid}, ...], "test": [...]}` (test
outputs optional), or a collection `{task_id: task, ...}` as in the Kaggle challenge files. Every
failure, whatever the file's size or nesting, is one `TaskFileError` naming the file and, where it
lies in a grid, the task, the pair and the cell.
"""

from __future__ import annotations

import json
from pathlib import Path

from lpn.grids import MAX_SIDE, GridError, Task, make_task


class TaskFileError(GridError):
    """A task file that cannot be read, naming the file and the place in it."""


def load_json_tasks(path, max_side: int = MAX_SIDE) -> list[Task]:
    """Tasks from one .json file, or from every .json file under a folder (sorted by path)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob("*.json"))
        if not files:
            raise TaskFileError(f"{path}: no .json task files in this folder")
        return [task for f in files for task in _load_file(f, str(f.relative_to(path).with_suffix("")), max_side)]
    return _load_file(path, path.stem, max_side)


def load_json_task(path, max_side: int = MAX_SIDE) -> Task:
    """The one task in a .json file."""
    tasks = load_json_tasks(path, max_side)
    if len(tasks) != 1:
        raise TaskFileError(f"{path}: holds {len(tasks)} tasks, expected one")
    return tasks[0]


# Far above any ARC file (the Kaggle collections are a few MB): a bigger one is not a task file, and
# parsing it into Python lists would take minutes and many times its size in memory.
MAX_FILE_BYTES = 100 * 2**20


def _load_file(path: Path, name: str, max_side: int) -> list[Task]:
    try:
        size = path.stat().st_size
        data = None if size > MAX_FILE_BYTES else json.loads(path.read_text())
    except OSError as err:
        raise TaskFileError(f"{path}: cannot read ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise TaskFileError(f"{path}: not UTF-8 text ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise TaskFileError(f"{path}: not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    except RecursionError:
        raise TaskFileError(
            f"{path}: not a task file: lists or objects nested too deeply to parse (a grid is a list of lists)"
        ) from None
    except ValueError as err:  # an integer of more than 4300 digits
        raise TaskFileError(f"{path}: not valid JSON: {_first_line(err)}") from None
    except MemoryError:
        raise TaskFileError(f"{path}: too large to parse in the memory available") from None
    if size > MAX_FILE_BYTES:
        raise TaskFileError(
            f"{path}: {size / 2**20:.0f} MiB is too large for a task file "
            f"(at most {MAX_FILE_BYTES // 2**20} MiB); split it into smaller files"
        )
    return _tasks_in(data, name, path, max_side)


def _tasks_in(data, name: str, path, max_side: int) -> list[Task]:
    """The tasks of parsed JSON: one task, or a collection {task_id: task, ...}."""
    if (
        isinstance(data, dict)
        and "train" not in data
        and data
        and all(isinstance(v, dict) and "train" in v for v in data.values())
    ):
        return [_parse_task(task, str(task_id), path, max_side) for task_id, task in data.items()]
    return [_parse_task(data, name, path, max_side)]


def parse_json_task(text_or_data, name: str = "task", where: str = "JSON", max_side: int = MAX_SIDE) -> Task:
    """The one task in ARC JSON text (or in its parsed dict), e.g. pasted into a widget, with the
    errors of `load_json_task`, naming `where` instead of a file."""
    data = text_or_data
    if isinstance(text_or_data, (str, bytes)):
        try:
            data = json.loads(text_or_data)
        except json.JSONDecodeError as err:
            raise TaskFileError(
                f"{where}: not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
            ) from None
        except RecursionError:
            raise TaskFileError(f"{where}: not a task: lists or objects nested too deeply to parse") from None
        except ValueError as err:  # an integer of more than 4300 digits, or bytes that are not UTF-8
            raise TaskFileError(f"{where}: not valid JSON: {_first_line(err)}") from None
    tasks = _tasks_in(data, name, where, max_side)
    if len(tasks) != 1:
        raise TaskFileError(f"{where}: holds {len(tasks)} tasks, expected one")
    return tasks[0]


def _first_line(err: Exception) -> str:
    return str(err).split(";")[0].splitlines()[0] if str(err) else type(err).__name__


def _parse_task(data, name: str, path: Path | str, max_side: int) -> Task:
    where = f"{path}: task {name!r}"
    if not isinstance(data, dict):
        raise TaskFileError(f'{where}: expected an object with "train" and "test" lists, got {type(data).__name__}')
    for key in ("train", "test"):
        if key not in data:
            raise TaskFileError(f"{where}: missing the {key!r} list (keys present: {sorted(data)})")
        if not isinstance(data[key], list):
            raise TaskFileError(f"{where}: {key!r} must be a list of pairs, got {type(data[key]).__name__}")
    for split in ("train", "test"):
        for i, pair in enumerate(data[split]):
            _check_pair(pair, f"{where}, {split} pair {i}", split == "train", max_side)
    try:
        return make_task(data["train"], data["test"], name, max_side=max_side, meta={"source": str(path)})
    except GridError as err:
        raise TaskFileError(f"{path}: {err}") from None


def _check_pair(pair, where: str, need_output: bool, max_side: int) -> None:
    if not isinstance(pair, dict):
        raise TaskFileError(f'{where}: expected an object with "input" and "output", got {type(pair).__name__}')
    for key in ("input", "output") if need_output else ("input",):
        if key not in pair:
            raise TaskFileError(f"{where}: missing {key!r}")
    for key in ("input", "output"):
        if pair.get(key) is not None:
            _check_cells(pair[key], f"{where} {key}", max_side)


def _check_cells(rows, where: str, max_side: int) -> None:
    """Names the first cell that is not a colour 0-9 (strings, fractions, booleans, null, nested
    lists, huge numbers), after the size so that a huge grid fails before its cells are read."""
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise TaskFileError(f"{where}: a grid must be a list of rows, each a list of colours")
    cols = max(map(len, rows), default=0)
    if len(rows) > max_side or cols > max_side:
        raise TaskFileError(f"{where}: shape {len(rows)}x{cols} exceeds the maximum side {max_side}")
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if isinstance(cell, bool) or not (isinstance(cell, int) or (isinstance(cell, float) and cell.is_integer())):
                raise TaskFileError(f"{where}: cell (row {r}, col {c}) is {_short(cell)}, not a colour 0-9")
            if not 0 <= cell <= 9:
                raise TaskFileError(f"{where}: colour {_short(cell)} at cell (row {r}, col {c}) is outside 0-9")


def _short(value, limit: int = 40) -> str:
    """`value` as JSON, cut to `limit` characters (a cell may hold a huge number or a deep list)."""
    try:
        text = json.dumps(value)
    except (ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def task_to_json(task: Task) -> dict:
    """A task in the ARC JSON format (test outputs included when known)."""

    def pair(p):
        out = {"input": p.input.tolist()}
        if p.output is not None:
            out["output"] = p.output.tolist()
        return out

    return {"train": [pair(p) for p in task.train], "test": [pair(p) for p in task.test]}


def save_json_task(task: Task, path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(task_to_json(task)))
    return path
