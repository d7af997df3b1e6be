"""Training dashboard: live loss, KL and accuracy curves and a few sample predictions, fed by the
`callback(record, state)` of `lpn.train.train`, one `Record` a chunk.

Cheap by construction: the callback appends to a list and pushes it to the browser (at most every
`every_s` seconds, if set; `push()` sends the rest); sample predictions (each sample task's test
input decoded at the encoder's mean latent, `lpn.search.mean_latent`) are refreshed at most every
`samples_every_s` seconds. The dashboard measures its own share of the wall time and shows it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import traitlets

from lpn.grids import Task

from ._base import GridWidget, esm
from .encoding import encode_grids
from .layout import Layout
from .static import layout_html, line_chart_svg
from .task_model import TaskModel

if TYPE_CHECKING:
    from lpn.train import Record

GROUPS = {
    "loss": ("loss", "reconstruction"),
    "KL": ("kl",),
    "accuracy": ("top1", "top2", "pixel", "shape", "accuracy"),
    "gradient norm": ("grad_norm",),
}
# Keys that join a group by their prefix: `lpn train`'s evaluation names each method's accuracy,
# e.g. top1_mean_latent, top1_gradient, top2_gradient (LPN) or top1_in_context, top1_ttt.
PREFIXES = {"accuracy": ("top1_", "top2_")}


def group_keys(title: str, keys) -> list[str]:
    """The keys of `keys` charted under `title`: its named metrics in `GROUPS` order, then those
    its `PREFIXES` match, sorted."""
    named = [k for k in GROUPS[title] if k in keys]
    return named + sorted(k for k in keys if k not in named and k.startswith(PREFIXES.get(title, ())))


class TrainingDashboard(GridWidget):
    _esm = esm("charts.js", "training_dashboard.js")
    history = traitlets.List().tag(sync=True)  # [{"step": s, metric: value, ...}]
    groups = traitlets.List().tag(sync=True)  # [[chart title, [metric, ...]], ...]
    grids = traitlets.Bytes(b"").tag(sync=True)  # sample predictions (layout.py)
    sections = traitlets.List().tag(sync=True)
    status = traitlets.Unicode("waiting for the first chunk").tag(sync=True)

    def __init__(
        self,
        sample_tasks: Sequence[Task] = (),
        *,
        every_s: float = 0.0,
        samples_every_s: float = 10.0,
        max_points: int = 2000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_tasks = list(sample_tasks)
        self.every_s, self.samples_every_s, self.max_points = every_s, samples_every_s, max_points
        self.records: list[dict] = []
        self._pushed_at = self._sampled_at = -np.inf
        self._created = time.perf_counter()  # shown just before training starts, as a rule
        self.spent_s = 0.0
        self.layout_samples = Layout([])

    def __call__(self, record: Record, state=None) -> None:
        """The training callback: `train(..., callback=dashboard)`, called with each chunk's `Record`.
        `state` (a `TrainState` or a model) is only read when sample predictions are due."""
        start = time.perf_counter()
        self.records.append({k: int(v) if k == "step" else float(v) for k, v in record.to_dict().items()})
        if state is not None and self.sample_tasks and start - self._sampled_at >= self.samples_every_s:
            self.show_samples(getattr(state, "model", state))
            self._sampled_at = start
        if start - self._pushed_at >= self.every_s:
            self.push()
            self._pushed_at = start
        self.spent_s += time.perf_counter() - start

    @property
    def overhead(self) -> float:
        """The time spent in the callback as a share of the wall time since the dashboard was made."""
        return self.spent_s / max(time.perf_counter() - self._created, 1e-9)

    def push(self) -> None:
        """Sends the history (thinned to `max_points`) and the chart groups to the browser."""
        records = self.records
        if len(records) > self.max_points:
            stride = -(-len(records) // self.max_points)
            records = records[::stride] + ([records[-1]] if (len(records) - 1) % stride else [])
        keys = sorted({k for r in self.records for k in r} - {"step"})
        grouped = [[title, group_keys(title, keys)] for title in GROUPS]
        known = {k for _, names in grouped for k in names}
        groups = [g for g in grouped if g[1]] + [[k, [k]] for k in keys if k not in known]
        last = self.records[-1]
        status = f"step {last['step']}" + "".join(f" · {k} {v:.4g}" for k, v in last.items() if k in ("loss", "kl"))
        with self.hold_sync():
            self.history, self.groups = list(records), groups
            self.status = status + f" · dashboard {100 * self.overhead:.1f}% of wall time"

    def show_samples(self, model) -> None:
        """Each sample task's test input decoded at the encoder's mean latent, beside the truth."""
        predictions = []
        for task in self.sample_tasks:
            task_model = TaskModel(model, task)
            predictions.append([task_model.decode(task_model.pair_latents()[1])] + [None] * (len(task.test) - 1))
        queries = [Task((), task.test, task.name) for task in self.sample_tasks]  # the train pairs stay off
        self.layout_samples = Layout(queries, predictions)
        with self.hold_sync():
            self.grids, self.sections = encode_grids(self.layout_samples.grids), self.layout_samples.sections

    def to_html(self) -> str:
        steps = [r["step"] for r in self.records]
        charts = "".join(
            line_chart_svg([(k, steps, [r.get(k, np.nan) for r in self.records]) for k in names], title=title)
            for title, names in self.groups
        )
        samples = layout_html(self.layout_samples, palette=self.palette)
        return f'<div class="lpn-static"><div>{self.status}</div>{charts}{samples}</div>'


def training_dashboard(
    sample_tasks: Sequence[Task] = (), *, every_s: float = 0.0, samples_every_s: float = 10.0
) -> TrainingDashboard:
    """A live view of training: display it, then pass it as the callback,
    `train(cfg, steps, callback=dashboard)`. `sample_tasks` (each with a test pair) are decoded
    at the mean latent every `samples_every_s` seconds."""
    return TrainingDashboard(sample_tasks, every_s=every_s, samples_every_s=samples_every_s)
