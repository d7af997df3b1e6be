"""Notebook widgets for `lpn`: see tasks, edit grids, explore the latent space, replay searches.

Each widget is an anywidget (one class of synced traits plus one shipped ES module) with a
one-call helper, and renders as static SVG where no kernel runs. This package is `lpn.widgets`;
`lpn` itself never imports it, so the core runs without ipywidgets or anywidget.

    show_task(task, predictions)          TaskView: pairs, test inputs, attempts beside the truth
    edit_grid(grid, predict=f)            GridEditor: paint, fill, resize, undo; `.value` is the grid
    build_task(task, model=model)         TaskBuilder: a whole task by hand, ARC JSON in and out, "solve"
    latent_program(model, task)           grid -> grid at the task's latent, e.g. as `predict=` above
    explore_latent(model, task)           LatentExplorer: click the log p map to decode a latent
    show_search(model, task, method)      SearchPlayer: replay a SearchTrace step by step
    compare_searches(model, task, {...})  SearchComparison: searches, budgets and TTT side by side
    training_dashboard(sample_tasks)      TrainingDashboard: pass as train(..., callback=...)
"""

try:
    import anywidget  # noqa: F401
except ImportError as err:
    raise ImportError("lpn.widgets needs anywidget and ipywidgets: pip install 'lpn[notebook]'") from err

from .encoding import decode_grids, encode_grids
from .grid_editor import GridEditor, edit_grid
from .static import grid_svg
from .task_builder import TaskBuilder, build_task
from .task_view import TaskView, show_task

# The model widgets import JAX and the model: they load on first use, so that viewing and editing
# grids stays light.
LAZY = {
    "LatentExplorer": "latent_explorer",
    "explore_latent": "latent_explorer",
    "SearchPlayer": "search_player",
    "show_search": "search_player",
    "SearchComparison": "search_comparison",
    "compare_searches": "search_comparison",
    "TrainingDashboard": "dashboard",
    "training_dashboard": "dashboard",
    "latent_program": "task_model",
}


def __getattr__(name):
    if name not in LAZY:
        raise AttributeError(f"module 'lpn.widgets' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{LAZY[name]}"), name)


__all__ = [
    "GridEditor",
    "LatentExplorer",
    "SearchComparison",
    "SearchPlayer",
    "TaskBuilder",
    "TaskView",
    "TrainingDashboard",
    "build_task",
    "compare_searches",
    "decode_grids",
    "edit_grid",
    "encode_grids",
    "explore_latent",
    "grid_svg",
    "latent_program",
    "show_search",
    "show_task",
    "training_dashboard",
]
