"""Search player: replays a `SearchTrace` step by step (paper §3.2, Fig 20 and the B.4 trajectory).

Every step's latent (of one chain: a start, a sample or a hill-climber) is decoded on the test
input once, here, and all frames go to the browser in one buffer with the objective curve and the
path in a 2-D projection, so the slider and the play button run in the browser without the
kernel. The two final attempts (the trace's best and second-best latents) sit beside the truth.
"""

from __future__ import annotations

from html import escape

import numpy as np
import traitlets

from lpn.grids import Task
from lpn.search import gradient_search

from ._base import GridWidget, esm
from .encoding import encode_grids
from .layout import Layout
from .projection import fit_plane, square_extent
from .static import grids_html, layout_html, line_chart_svg
from .task_model import TaskModel

MAX_CLOUD = 2000  # candidates drawn faintly behind the path


def check_trace(trace) -> None:
    if np.ndim(trace.latents) != 3:
        raise ValueError(
            f"expected the trace of one task, latents (S, K, H); got shape {np.shape(trace.latents)}. "
            "For search_batch results pick a task first: jax.tree.map(lambda a: a[i], trace)"
        )


def attempts_layout(task_model: TaskModel, trace, title: str = "") -> tuple[Layout, list[np.ndarray]]:
    """The two attempts as `lpn eval` scores them (`lpn.evaluate.attempts`: the best latent's grid,
    then a different one) and the query row (test input, attempts, truth) as a layout. Works for a
    `SearchTrace` and for a `TTTTrace` (whose tuned model decodes)."""
    attempts = task_model.attempts(trace)
    query = Task((), (task_model.query,), name=title)
    return Layout([query], [[attempts]]), attempts


class SearchPlayer(GridWidget):
    _esm = esm("charts.js", "search_player.js")
    frames = traitlets.Bytes(b"").tag(sync=True)  # S decoded grids
    test_input = traitlets.Bytes(b"").tag(sync=True)
    scores = traitlets.List(traitlets.Float()).tag(sync=True)  # objective of the chain at each step
    path = traitlets.List().tag(sync=True)  # S [u, v]
    cloud = traitlets.List().tag(sync=True)  # every other candidate [u, v], at most MAX_CLOUD
    extent = traitlets.List(traitlets.Float(), [-3.0, 3.0, -3.0, 3.0]).tag(sync=True)
    axes = traitlets.List(traitlets.Unicode(), ["z₁", "z₂"]).tag(sync=True)
    attempt_grids = traitlets.Bytes(b"").tag(sync=True)
    attempt_sections = traitlets.List().tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    interval_ms = traitlets.Int(200).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self, model, task: Task, trace, *, test_index: int = 0, chain: int | None = None, title: str = "", **kwargs
    ):
        super().__init__(title=title, **kwargs)
        check_trace(trace)
        self.task_model = TaskModel(model, task, test_index)
        self.trace = trace
        latents_SKH, scores_SK = np.asarray(trace.latents, np.float32), np.asarray(trace.scores, np.float32)
        if chain is None:  # the chain that found the best latent
            chain = int(np.argmax(np.max(np.where(np.isfinite(scores_SK), scores_SK, -np.inf), 0)))
        self.chain = chain
        path_SH = latents_SKH[:, self.chain]
        self.frame_grids = decode_path(self.task_model, path_SH)
        everything = latents_SKH.reshape(-1, latents_SKH.shape[-1])
        plane = fit_plane(everything[:MAX_CLOUD] if len(everything) > 2 else path_SH)
        cloud = plane.to_plane(np.delete(latents_SKH, self.chain, axis=1).reshape(-1, everything.shape[1])[:MAX_CLOUD])
        path = plane.to_plane(path_SH)
        self.attempts, self.attempt_outputs = attempts_layout(self.task_model, trace)
        with self.hold_sync():
            self.frames = encode_grids(self.frame_grids)
            self.test_input = encode_grids([self.task_model.query.input])
            self.scores = [float(v) for v in scores_SK[:, self.chain]]
            self.path, self.cloud = path.tolist(), cloud.tolist()
            self.extent = square_extent(np.concatenate([path, cloud]), minimum=0.5, margin=1.1)
            self.axes = list(plane.axes)
            self.attempt_grids = encode_grids(self.attempts.grids)
            self.attempt_sections = self.attempts.sections
            self.step = len(self.frame_grids) - 1

    @property
    def num_steps(self) -> int:
        return len(self.frame_grids)

    def to_html(self) -> str:
        steps = np.arange(self.num_steps)
        chart = line_chart_svg([("log p", steps, self.scores)], title="objective by step", marker=self.step)
        ends = grids_html(
            [self.frame_grids[0], self.frame_grids[self.step]], ["step 0", f"step {self.step}"], palette=self.palette
        )
        return (
            f'<div class="lpn-static"><h4>{escape(self.title)}</h4>{chart}{ends}'
            f"{layout_html(self.attempts, palette=self.palette)}</div>"
        )


def decode_path(task_model: TaskModel, path_SH) -> list[np.ndarray]:
    """Decodes each step of a path, once per distinct latent (hill-climbers repeat theirs)."""
    seen: dict[bytes, np.ndarray] = {}
    for z in path_SH:
        if z.tobytes() not in seen:
            seen[z.tobytes()] = task_model.decode(z)[0]
    return [seen[z.tobytes()] for z in path_SH]


def show_search(
    model, task: Task, method=gradient_search, *, key=None, test_index: int = 0, title: str | None = None, **options
) -> SearchPlayer:
    """Runs `method(model, train pairs, key, **options)` (any `lpn.search` method) on `task` and
    returns a player of its trace: the output at every step on the test input, the objective
    curve, the path, and the two final attempts beside the truth."""
    trace = TaskModel(model, task, test_index).run(method, key, **options)
    label = title if title is not None else f"{getattr(method, '__name__', 'search')} on {task.name}"
    return SearchPlayer(model, task, trace, test_index=test_index, title=label)
