"""Task builder: make a whole ARC task by hand, export it as ARC JSON, and watch a model solve it.

A task is train pairs (the specification) and test pairs whose outputs may be unknown (paper
§1.1). Pairs are added, deleted and moved; the selected grid is painted with the grid editor's
surface (`paint.js`, the editor's `painted`, `flood_fill` and `resized`). The task lives in Python,
with one undo history for every edit, pairs included, so each button is a method a notebook or a
test can call. JSON goes in and out through `lpn.tasks.json_tasks`, in the format of the ARC files.

With a model, "solve" runs one of `lpn.methods.methods_for(model)` on the train pairs (default:
an LPN's gradient search, 100 steps at its config's `search_lr`; an in-context model's TTT) and
shows each test input's two attempts from `lpn.evaluate.attempts`, as `lpn eval` scores them, with
the verdict where the test output is given, the objective at each step and, for a latent search,
the output on test input 1 at a few steps along the path.
"""

from __future__ import annotations

import json
import time
from collections import deque
from html import escape
from pathlib import Path

import numpy as np
import traitlets

from lpn.grids import GridError, Pair, Task, as_grid
from lpn.tasks.json_tasks import load_json_task, parse_json_task, save_json_task, task_to_json

from ._base import PaintWidget, esm
from .encoding import encode_grids
from .grid_editor import OPS as EDIT_OPS
from .grid_editor import flood_fill, painted, resized
from .layout import Layout
from .static import layout_html, line_chart_svg
from .task_solution import SIDES, Solution, solution_layout, unsolvable

SPLITS = ("train", "test")
OPS = ("add_pair", "delete_pair", "move_pair", "select", "drop_output", *EDIT_OPS, "load", "solve")
REPLAY_FRAMES = 21  # outputs decoded along a search path: steps 0, 5, ..., 100 of a 100-step search
BLANK = (3, 3)
STALE = " (the task changed since: solve again)"


class TaskBuilder(PaintWidget):
    _esm = esm("paint.js", "charts.js", "task_builder.js")
    grids = traitlets.Bytes(b"").tag(sync=True)  # train input, output, ..., then test input, output (or missing)
    num_train = traitlets.Int(0).tag(sync=True)
    num_test = traitlets.Int(0).tag(sync=True)
    selected = traitlets.List().tag(sync=True)  # [split, index, side] of the grid being painted; [] for none
    task_name = traitlets.Unicode("task").tag(sync=True)
    json_text = traitlets.Unicode("").tag(sync=True)  # the task as ARC JSON
    message = traitlets.Unicode("").tag(sync=True)  # the last error of a command from the browser
    methods = traitlets.List(traitlets.Unicode()).tag(sync=True)  # empty without a model
    method = traitlets.Unicode("").tag(sync=True)
    steps = traitlets.Int(100, min=0).tag(sync=True)
    problem = traitlets.Unicode("").tag(sync=True)  # why "solve" cannot run now; "" when it can
    solve_status = traitlets.Unicode("").tag(sync=True)
    result_grids = traitlets.Bytes(b"").tag(sync=True)
    result_sections = traitlets.List().tag(sync=True)
    objective = traitlets.List(traitlets.Float()).tag(sync=True)
    objective_label = traitlets.Unicode("").tag(sync=True)
    frames = traitlets.Bytes(b"").tag(sync=True)
    frame_steps = traitlets.List(traitlets.Int()).tag(sync=True)

    def __init__(
        self, task=None, *, model=None, method: str | None = None, steps: int = 100, history: int = 200, **kwargs
    ):
        super().__init__(steps=steps, **kwargs)
        self.model = model
        self.solution: Solution | None = None
        self._past: deque = deque(maxlen=history)
        self._future: list = []
        self._train: list[Pair] = []
        self._test: list[Pair] = []
        self._selected: tuple | None = None
        if model is not None:
            from lpn.methods import methods_for

            table = methods_for(model)
            self.methods = list(table)
            default = next(name for name, row in table.items() if row.optimizer is not None)
            self.method = method or default
            if self.method not in table:
                raise KeyError(f"method {self.method!r} is not one of {self.methods}")
        if task is None:
            blank = np.zeros(BLANK, np.uint8)
            self._train, self._test, self._selected = [Pair(blank, blank)], [Pair(blank, None)], ("train", 0, "input")
        else:
            self._set_task(self._as_task(task))
        self.on_msg(self._on_message)
        self._sync()

    @property
    def task(self) -> Task:
        """The task as built (train pairs need their outputs; test outputs may be unknown)."""
        return Task(tuple(self._train), tuple(self._test), self.task_name)

    @property
    def value(self) -> np.ndarray | None:
        """The selected grid (None when there is none)."""
        return None if self._selected is None else self._grid(*self._selected).copy()

    # pairs

    def add_pair(self, split: str = "train", input=None, output=None) -> None:
        """Appends a pair to `split` ("train" or "test"), by default a blank input the size of the
        last input and its copy as output (a test pair gets no output), and selects its input."""
        pairs = self._pairs(split)
        if input is None:
            input = np.zeros(pairs[-1].input.shape if pairs else BLANK, np.uint8)
        input = as_grid(input, where=f"new {split} pair input")
        if output is None and split == "train":
            output = input
        output = None if output is None else as_grid(output, where=f"new {split} pair output")
        self._edit(split, pairs + [Pair(input, output)], (split, len(pairs), "input"))

    def delete_pair(self, split: str, index: int) -> None:
        pairs = self._pairs(split)
        self._check_index(split, index)
        rest = pairs[:index] + pairs[index + 1 :]
        if self._selected and self._selected[0] == split and self._selected[1] >= index:
            # the selection follows its pair, or moves to a neighbour when its own pair went
            at = self._selected[1] - (self._selected[1] > index or index == len(rest))
            side = self._selected[2] if self._selected[1] != index else "input"
            selected = (split, at, side) if rest else self._first_grid(split, rest)
        else:
            selected = self._selected
        self._edit(split, rest, selected)

    def move_pair(self, split: str, index: int, offset: int) -> None:
        """Moves pair `index` of `split` by `offset` places (-1 up, +1 down), within the list."""
        pairs = self._pairs(split)
        self._check_index(split, index)
        to = int(np.clip(index + int(offset), 0, len(pairs) - 1))
        pairs.insert(to, pairs.pop(index))
        self._edit(split, pairs, (split, to, self._selected[2]) if self._selected else None)

    def select(self, split: str, index: int, side: str = "input") -> None:
        """Selects a grid to paint; selecting a test pair's unknown output gives it one (blank)."""
        self._check_index(split, index)
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        if self._pairs(split)[index].output is None and side == "output":
            return self._set_grid(np.zeros_like(self._test[index].input), ("test", index, "output"))
        self._selected = (split, index, side)
        self._sync()

    def drop_output(self, index: int) -> None:
        """Makes test pair `index`'s output unknown (what a model is asked to find)."""
        self._check_index("test", index)
        pairs = self._pairs("test")
        pairs[index] = Pair(pairs[index].input, None)
        self._edit("test", pairs, ("test", index, "input"))

    # the selected grid, as the grid editor edits its grid

    def paint(self, cells, colour: int | None = None) -> None:
        self._set_grid(painted(self._require_selected(), cells, self.colour if colour is None else int(colour)))

    def fill(self, row: int, col: int, colour: int | None = None) -> None:
        self._set_grid(flood_fill(self._require_selected(), row, col, self.colour if colour is None else int(colour)))

    def resize(self, rows: int, cols: int) -> None:
        """Keeps the top-left cells; new cells are black. Sides are clipped to 1..30."""
        self._set_grid(resized(self._require_selected(), rows, cols))

    def clear(self) -> None:
        self._set_grid(np.zeros_like(self._require_selected()))

    def copy_input(self) -> None:
        """The selected pair's output becomes a copy of its input (and is selected)."""
        self._require_selected()
        split, index, _ = self._selected
        self._set_grid(self._pairs(split)[index].input.copy(), (split, index, "output"))

    def undo(self) -> None:
        if self._past:
            self._future.append(self._state())
            self._restore(self._past.pop())

    def redo(self) -> None:
        if self._future:
            self._past.append(self._state())
            self._restore(self._future.pop())

    # JSON

    def to_json(self) -> str:
        """The task as ARC JSON text, `{"train": [{"input", "output"}...], "test": [...]}` (a test
        output only where it is known), as the ARC files and tools have it."""
        return json.dumps(task_to_json(self.task))

    def load(self, source) -> None:
        """Replaces the task (an undoable edit) with `source`: a `Task`, a dict in the ARC JSON
        format, JSON text, or the path of a .json file holding one task. Bad input raises
        `lpn.tasks.json_tasks.TaskFileError` naming the file (or "JSON"), the pair and the cell."""
        self._commit(lambda: self._set_task(self._as_task(source)))

    def save(self, path) -> Path:
        """Writes the task as an ARC JSON file; returns its path."""
        return save_json_task(self.task, path)

    # solving

    def unsolvable(self) -> str:
        """Why "solve" cannot run on the task as it is ("" when it can)."""
        return unsolvable(self.model, self._train, self._test)

    def solve(self, method: str | None = None, *, steps: int | None = None, key=None) -> Solution:
        """Runs `method` (a name from `lpn.methods.methods_for(model)`, default the selected one)
        with `steps` (default the widget's) on the train pairs and decodes each test input's two
        attempts; ValueError naming the problem if the task cannot be solved as it is."""
        problem = self.unsolvable()
        if problem:
            raise ValueError(problem)
        self.solve_status = "solving..."
        self.solution = solve_task(
            self.model, self.task, method or self.method, self.steps if steps is None else steps, key, REPLAY_FRAMES
        )
        self._show_solution()
        return self.solution

    # state

    def _pairs(self, split: str) -> list[Pair]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return list(self._train if split == "train" else self._test)

    def _check_index(self, split: str, index: int) -> None:
        count = len(self._pairs(split))
        if not 0 <= index < count:
            raise IndexError(f"no {split} pair at index {index}: the task has {count} {split} pairs")

    def _first_grid(self, split: str, rest: list) -> tuple | None:
        other = self._test if split == "train" else self._train
        if rest:
            return (split, 0, "input")
        return (SPLITS[split == "train"], 0, "input") if other else None

    def _grid(self, split: str, index: int, side: str) -> np.ndarray:
        return self._pairs(split)[index][SIDES.index(side)]

    def _require_selected(self) -> np.ndarray:
        if self._selected is None:
            raise ValueError("no grid is selected: add a pair first")
        return self._grid(*self._selected)

    def _set_grid(self, grid: np.ndarray, selected: tuple | None = None) -> None:
        split, index, side = selected or self._selected
        pairs = self._pairs(split)
        old = pairs[index][SIDES.index(side)]
        if old is not None and old.shape == grid.shape and np.array_equal(old, grid) and selected is None:
            return  # a no-op edit leaves no step to undo
        pairs[index] = Pair(grid, pairs[index].output) if side == "input" else Pair(pairs[index].input, grid)
        self._edit(split, pairs, (split, index, side))

    def _edit(self, split: str, pairs: list[Pair], selected) -> None:
        def apply():
            setattr(self, f"_{split}", pairs)
            self._selected = selected

        self._commit(apply)

    def _set_task(self, task: Task) -> None:
        self._train, self._test = list(task.train), list(task.test)
        self._selected = self._first_grid("train", self._train)
        self.task_name = task.name

    def _as_task(self, source) -> Task:
        if isinstance(source, Task):
            return source
        if isinstance(source, dict) or (isinstance(source, str) and source.lstrip().startswith("{")):
            return parse_json_task(source, name=self.task_name)
        return load_json_task(source)

    def _state(self) -> tuple:
        return tuple(self._train), tuple(self._test), self._selected, self.task_name

    def _restore(self, state) -> None:
        train, test, self._selected, self.task_name = state
        self._train, self._test = list(train), list(test)
        self._changed()

    def _commit(self, apply) -> None:
        before = self._state()
        apply()
        self._past.append(before)
        self._future.clear()
        self._changed()

    def _changed(self) -> None:
        if self.solution is not None and not self.solve_status.endswith(STALE):
            self.solve_status += STALE
        self._sync()

    def _sync(self) -> None:
        grids = [g for pair in self._train + self._test for g in pair]
        with self.hold_sync():
            self.grids = encode_grids(grids)
            self.num_train, self.num_test = len(self._train), len(self._test)
            self.selected = list(self._selected or [])
            self.can_undo, self.can_redo = bool(self._past), bool(self._future)
            self.json_text = self.to_json()
            self.problem = self.unsolvable() if self.model is not None else ""

    def _show_solution(self) -> None:
        from lpn.methods import describe

        s = self.solution
        results = solution_layout(s)
        with self.hold_sync():
            self.result_grids, self.result_sections = encode_grids(results.grids), results.sections
            self.objective, self.objective_label = [float(v) for v in s.objective], s.objective_label
            self.frames, self.frame_steps = encode_grids(s.frames), list(s.frame_steps)
            self.solve_status = (
                f"{describe(s.settings)}: {int(s.trace.num_evals)} decoder evaluations, {s.seconds:.1f} s"
            )

    def _on_message(self, _widget, content, _buffers) -> None:
        op = content.get("op")
        if op not in OPS:
            raise ValueError(f"unknown task builder command {op!r}; expected one of {OPS}")
        args = {k: v for k, v in content.items() if k != "op"}
        try:
            getattr(self, op)(**args)
            self.message = ""
        except (GridError, ValueError, IndexError, KeyError) as err:  # shown in the widget, not lost in a log
            self.message = str(err)
            if op == "solve":
                self.solve_status = ""

    def to_html(self) -> str:
        out = [layout_html(Layout([self.task]), palette=self.palette, cell=self.cell_size or None)]
        if self.solution is not None:
            s = self.solution
            steps = np.arange(len(s.objective))
            out.append(f'<div class="lpn-static"><h4>{escape(self.solve_status)}</h4></div>')
            out.append(layout_html(solution_layout(s), palette=self.palette, cell=self.cell_size or None))
            out.append(line_chart_svg([(s.objective_label, steps, s.objective)], title="objective by step"))
        return "".join(out)


def solve_task(model, task: Task, method: str, steps: int, key=None, frames: int = REPLAY_FRAMES) -> Solution:
    """Runs the row `method` of `lpn.methods.methods_for(model)` on `task`'s train pairs with
    `steps` (its config's learning rate), and decodes each test input's attempts."""
    from lpn.methods import search_method

    from .search_player import decode_path
    from .task_model import TaskModel

    fn, options, settings = search_method(method, model.config, steps=steps, architecture=model)
    start = time.perf_counter()
    task_model = TaskModel(model, task, 0)
    trace = task_model.run(fn, key, **options)
    attempts = [task_model.attempts(trace, pair.input) for pair in task.test]
    if trace.own_model is not None:  # TTT's trace: a loss per step, no latent path to replay
        objective, label, frame_steps, decoded = -np.asarray(trace.losses), "−leave-one-out loss", [], []
    else:
        scores_SK = np.asarray(trace.scores, np.float32)
        chain = int(np.argmax(np.max(np.where(np.isfinite(scores_SK), scores_SK, -np.inf), 0)))
        objective, label = scores_SK[:, chain], "log p"
        frame_steps = np.unique(np.linspace(0, len(scores_SK) - 1, frames).round().astype(int)).tolist()
        decoded = decode_path(task_model, np.asarray(trace.latents, np.float32)[frame_steps, chain])
    return Solution(
        settings,
        task.test,
        trace,
        attempts,
        objective.tolist(),
        label,
        frame_steps,
        decoded,
        time.perf_counter() - start,
    )


def build_task(task=None, *, model=None, method: str | None = None, steps: int = 100) -> TaskBuilder:
    """A builder of a whole task: add, delete and move pairs, paint and resize each grid, copy an
    input to its output, export and import ARC JSON. `task` (a `Task`, an ARC JSON dict or text, or
    a .json path) is the start, else one blank train pair and one test input. With `model` (an LPN
    or an in-context model) a "solve" button runs `method` (a name from
    `lpn.methods.methods_for(model)`; default gradient search for an LPN, TTT for an in-context
    model) for `steps` and shows the two attempts. Read the result from `.task` or `.to_json()`."""
    return TaskBuilder(task, model=model, method=method, steps=steps)
