"""Task view: the pairs of one or many tasks, test inputs, and attempts beside the truth.

The layout (which grid goes where, captions, mismatch masks) is decided in `layout.py`; all grids
go to the browser as one byte buffer and are drawn on small canvases, so a gallery of hundreds of
grids appears at once. `to_html()` draws the same layout as SVG for renderers without a kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import traitlets

from lpn.grids import Task

from ._base import GridWidget, esm
from .encoding import encode_grids
from .layout import Layout
from .static import layout_html


class TaskView(GridWidget):
    _esm = esm("task_view.js")
    grids = traitlets.Bytes(b"").tag(sync=True)
    sections = traitlets.List().tag(sync=True)
    cell_size = traitlets.Int(0).tag(sync=True)  # pixels per cell; 0 picks one per grid
    lines = traitlets.Bool(True).tag(sync=True)

    def __init__(self, tasks: Task | Sequence[Task], predictions=None, *, cell_size: int = 0, **kwargs):
        super().__init__(cell_size=cell_size, **kwargs)
        self.tasks = [tasks] if isinstance(tasks, Task) else list(tasks)
        self.set_predictions(predictions)

    def set_predictions(self, predictions) -> None:
        """Shows `predictions`: for one task, a grid or list of attempts per test input; for many
        tasks, one such list per task (None where a task has none)."""
        if predictions is not None and len(self.tasks) == 1:
            predictions = [predictions]
        self.plan = Layout(self.tasks, predictions)
        with self.hold_sync():
            self.grids = encode_grids(self.plan.grids)
            self.sections = self.plan.sections

    def to_html(self) -> str:
        return layout_html(self.plan, palette=self.palette, cell=self.cell_size or None)


def show_task(tasks: Task | Sequence[Task], predictions=None, *, cell_size: int = 0) -> TaskView:
    """A view of one task (or a gallery of many), with optional predictions: for one task a list
    over its test inputs of a grid or of attempts (up to two). As a cell's last expression it
    displays itself."""
    return TaskView(tasks, predictions, cell_size=cell_size)
