"""Search comparison: several search methods or budgets on one task, side by side (paper §3.4,
Table 11). Each method's best-so-far objective is plotted against decoder evaluations, the
budget measure `SearchTrace.num_evals` counts, and its two attempts are shown beside the truth.
"""

from __future__ import annotations

import numpy as np
import traitlets

from lpn.grids import Task
from ._base import GridWidget, esm
from .encoding import encode_grids
from .layout import Layout, judge
from .search_player import attempts_layout, check_trace
from .static import layout_html, line_chart_svg
from .task_model import TaskModel


def best_so_far(trace) -> tuple[np.ndarray, np.ndarray]:
    """(evaluations spent, best objective so far) after each step of a trace."""
    scores_SK = np.asarray(trace.scores, np.float64)
    best_S = np.maximum.accumulate(np.max(np.where(np.isfinite(scores_SK), scores_SK, -np.inf), 1))
    steps = len(best_S)
    return int(trace.num_evals) * np.arange(1, steps + 1) / steps, best_S


class SearchComparison(GridWidget):
    _esm = esm("charts.js", "search_comparison.js")
    curves = traitlets.List().tag(sync=True)  # [{"label", "x": evaluations, "y": best so far}]
    stats = traitlets.List().tag(sync=True)  # [{"label", "evals", "best", "verdicts"}]
    grids = traitlets.Bytes(b"").tag(sync=True)
    sections = traitlets.List().tag(sync=True)
    log_x = traitlets.Bool(False).tag(sync=True)

    def __init__(self, model, task: Task, traces: dict, *, test_index: int = 0, **kwargs):
        super().__init__(**kwargs)
        task_model = TaskModel(model, task, test_index)
        self.traces = dict(traces)
        curves, stats, combined = [], [], Layout([])
        for label, trace in self.traces.items():
            check_trace(trace)
            evals, best = best_so_far(trace)
            curves.append({"label": label, "x": evals.tolist(), "y": [float(b) for b in best]})
            part, attempts = attempts_layout(task_model, trace, title=label)
            verdicts = [judge(g, task_model.query.output)[1] or "?" for g in attempts]
            stats.append({"label": label, "evals": int(trace.num_evals), "best": float(trace.best_score),
                          "verdicts": verdicts})
            combined.merge(part)
        self.layout_all = combined
        with self.hold_sync():
            self.curves, self.stats = curves, stats
            self.grids, self.sections = encode_grids(combined.grids), combined.sections

    def to_html(self) -> str:
        chart = line_chart_svg([(c["label"], c["x"], c["y"]) for c in self.curves], width=420, height=200,
                               title="best log p so far vs decoder evaluations")
        return f'<div class="lpn-static">{chart}{layout_html(self.layout_all, palette=self.palette)}</div>'


def compare_searches(model, task: Task, methods: dict, *, key=None, test_index: int = 0) -> SearchComparison:
    """Runs each of `methods` on `task` and shows them side by side. `methods` maps a label to an
    `lpn.search` method or to (method, options), e.g.
    `{"mean": no_search, "GA 50": (gradient_search, {"steps": 50}), "random 250": (random_search, {"num_samples": 250})}`.
    """
    task_model = TaskModel(model, task, test_index)
    traces = {}
    for label, spec in methods.items():
        method, options = spec if isinstance(spec, tuple) else (spec, {})
        traces[label] = task_model.run(method, key, **options)
    return SearchComparison(model, task, traces, test_index=test_index)
