"""Notebook widgets for `lpn`: see tasks, edit grids, explore the latent space, replay searches.

Each widget is an anywidget (one class of synced traits plus one shipped ES module) with a
one-call helper, and renders as static SVG where no kernel runs. This package is `lpn.widgets`;
`lpn` itself never imports it, so the core runs without ipywidgets or anywidget.
"""

try:
    import anywidget  # noqa: F401
except ImportError as err:
    raise ImportError("lpn.widgets needs anywidget and ipywidgets: pip install 'lpn[notebook]'") from err

from .encoding import decode_grids, encode_grids
from .grid_editor import GridEditor, edit_grid
from .static import grid_svg
from .task_view import TaskView, show_task

__all__ = [
    "GridEditor", "TaskView", "decode_grids", "edit_grid", "encode_grids", "grid_svg", "show_task",
]
