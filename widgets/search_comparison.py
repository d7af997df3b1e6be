"""Search comparison: several search methods or budgets on one task, side by side (paper §3.4,
Table 11), LPN's latent searches next to TTT of the in-context model (§3.6).

Every method is drawn on one axis: decoder evaluations spent (the budget `num_evals` counts, on
the same rule for both kinds) against the mean log-likelihood per given pair, higher is better.
An LPN row plots its best objective so far (Σ log p(y_i | x_i, z) over the given pairs) divided by
the number of pairs; a TTT row plots minus its leave-one-out loss at each step, the mean of
log p(y_i | x_i, the other pairs) under the current parameters, which is not a best so far and may
fall. Each row's two attempts are shown beside the truth, as `lpn.evaluate.attempts` scores them:
the best latent's grid (TTT: the tuned model's greedy answer), then a different grid.
"""

from __future__ import annotations

from html import escape

import numpy as np
import traitlets

from lpn.grids import Task
from lpn.in_context import TTTTrace
from lpn.search import GRADIENT_COST

from ._base import GridWidget, esm
from .encoding import encode_grids
from .layout import Layout, judge
from .search_player import attempts_layout, check_trace
from .static import layout_html, line_chart_svg
from .task_model import TaskModel

TITLE = "mean log p per given pair vs decoder evaluations"
LPN_NOTE = "LPN: best so far of Σ log p(yᵢ | xᵢ, z) over the given pairs, ÷ pairs."
TTT_NOTE = (
    "TTT: −(leave-one-out loss) at each step, the mean of log p(yᵢ | xᵢ, the other pairs) under the "
    "current parameters; not a best so far."
)


def best_so_far(trace) -> tuple[np.ndarray, np.ndarray]:
    """(evaluations spent, best objective so far) after each step of a trace."""
    scores_SK = np.asarray(trace.scores, np.float64)
    best_S = np.maximum.accumulate(np.max(np.where(np.isfinite(scores_SK), scores_SK, -np.inf), 1))
    steps = len(best_S)
    return int(trace.num_evals) * np.arange(1, steps + 1) / steps, best_S


def ttt_path(trace: TTTTrace) -> tuple[np.ndarray, np.ndarray]:
    """(evaluations spent, -loss) at each of a TTT trace's S + 1 losses: loss k < S comes with
    step k's gradient (GRADIENT_COST evaluations per given pair each), the last with one more
    forward pass, so the last point is at `num_evals`."""
    losses = np.asarray(trace.losses, np.float64)
    num_pairs = int(np.sum(trace.context_mask))
    evals = num_pairs * GRADIENT_COST * np.arange(1, len(losses), dtype=np.float64)
    return np.append(evals, float(trace.num_evals)), -losses


def check_ttt_trace(trace: TTTTrace) -> None:
    if np.ndim(trace.losses) != 1:
        raise ValueError(
            f"expected the TTT trace of one task, losses (S + 1,); got shape {np.shape(trace.losses)}. "
            "For batched results pick a task first: jax.tree.map(lambda a: a[i], trace)"
        )


HEADINGS = ("method", "kind", "decoder evaluations", "log p per pair", "attempts")


class SearchComparison(GridWidget):
    _esm = esm("charts.js", "search_comparison.js")
    curves = traitlets.List().tag(sync=True)  # [{"label", "kind", "x": evaluations, "y": log p per pair}]
    stats = traitlets.List().tag(sync=True)  # [{"label", "kind", "evals", "log_p", "verdicts", "note"}]
    note = traitlets.Unicode("").tag(sync=True)  # what each kind of curve plots
    grids = traitlets.Bytes(b"").tag(sync=True)
    sections = traitlets.List().tag(sync=True)
    log_x = traitlets.Bool(False).tag(sync=True)

    def __init__(self, model, task: Task, traces: dict, *, test_index: int = 0, **kwargs):
        """`traces` maps a label to a trace of `model` (a `SearchTrace`), to (other model, its
        trace), or to a `TTTTrace` of `lpn.in_context.ttt`, which carries its tuned model and is
        decoded with it (whatever model is given)."""
        super().__init__(**kwargs)
        task_model = TaskModel(model, task, test_index)
        num_pairs = int(np.sum(task_model.pairs.pair_mask))  # what LPN's objective sums over
        self.traces = dict(traces)
        curves, stats, combined, kinds = [], [], Layout([]), set()
        for label, entry in self.traces.items():
            row_model, trace = entry if isinstance(entry, tuple) and not hasattr(entry, "_fields") else (None, entry)
            if trace.own_model is not None:  # TTT's trace: decoded with the tuned model it carries
                check_ttt_trace(trace)
                kind, (evals, log_p) = "TTT", ttt_path(trace)
                part, attempts = attempts_layout(TaskModel(trace.own_model, task, test_index), trace, title=label)
            else:
                check_trace(trace)
                evals, best = best_so_far(trace)
                kind, log_p = "LPN", best / num_pairs
                rows = task_model if row_model is None else TaskModel(row_model, task, test_index)
                part, attempts = attempts_layout(rows, trace, title=label)
            kinds.add(kind)
            curves.append(
                {
                    "label": label if kind == "LPN" else f"{label} (leave-one-out)",
                    "kind": kind,
                    "x": evals.tolist(),
                    "y": [float(v) for v in log_p],
                }
            )
            verdicts = [judge(g, task_model.query.output)[1] or "?" for g in attempts]
            stats.append(
                {
                    "label": label,
                    "kind": kind,
                    "evals": int(trace.num_evals),
                    "log_p": float(log_p[-1]),
                    "verdicts": verdicts,
                    "note": "",
                }
            )
            combined.merge(part)
        self.layout_all = combined
        with self.hold_sync():
            self.curves, self.stats = curves, stats
            self.note = " ".join(text for kind, text in (("LPN", LPN_NOTE), ("TTT", TTT_NOTE)) if kind in kinds)
            self.grids, self.sections = encode_grids(combined.grids), combined.sections

    def to_html(self) -> str:
        chart = line_chart_svg([(c["label"], c["x"], c["y"]) for c in self.curves], width=420, height=200, title=TITLE)
        mark = {"correct": "✓", "wrong": "✗", "shape": "✗ shape"}
        cell = 'style="padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left"'  # the widget's style
        rows = "".join(
            f'<tr data-label="{escape(s["label"])}"><td {cell}>{escape(s["label"])}</td><td {cell}>{s["kind"]}</td>'
            f"<td {cell}>{s['evals']}</td><td {cell}>{s['log_p']:.4g}</td>"
            f"<td {cell}>{escape(' '.join(mark.get(v, v) for v in s['verdicts']))}"
            f"{escape(' (' + s['note'] + ')') if s['note'] else ''}</td></tr>"
            for s in self.stats
        )
        head = "".join(f"<th {cell}>{name}</th>" for name in HEADINGS)
        table = f'<table style="border-collapse: collapse; margin: 6px 0"><tr>{head}</tr>{rows}</table>'
        return (
            f'<div class="lpn-static">{chart}<div class="lpn-note">{escape(self.note)}</div>{table}'
            f"{layout_html(self.layout_all, palette=self.palette)}</div>"
        )


def compare_searches(model, task: Task, methods: dict, *, key=None, test_index: int = 0) -> SearchComparison:
    """Runs each of `methods` on `task` and shows them side by side. `methods` maps a label to
    `method`, `(method, options)` or `(model, method, options)`: a method with the search signature
    (an `lpn.search` method, or `lpn.in_context.ttt`), run as `method(model, train pairs, key,
    **options)` on `model`, or on the row's own model in the 3-tuple form. So one comparison holds
    LPN's searches and TTT of an in-context model (`ic_model`), e.g.
    `{"mean": no_search, "GA 100": (gradient_search, {"steps": 100}),
    "random 250": (random_search, {"num_samples": 250}),
    "in-context": (ic_model, ttt, {"steps": 0}), "TTT 100": (ic_model, ttt, {"steps": 100})}`.
    LPN rows plot their best objective so far per given pair, TTT rows minus their leave-one-out
    loss, both against decoder evaluations (see the module docstring).
    """
    task_models = {id(model): TaskModel(model, task, test_index)}
    traces = {}
    for label, spec in methods.items():
        row_model, method, options = (
            spec
            if isinstance(spec, tuple) and len(spec) == 3
            else (model, *spec)
            if isinstance(spec, tuple)
            else (model, spec, {})
        )
        if id(row_model) not in task_models:
            task_models[id(row_model)] = TaskModel(row_model, task, test_index)
        trace = task_models[id(row_model)].run(method, key, **options)
        traces[label] = trace if row_model is model or trace.own_model is not None else (row_model, trace)
    return SearchComparison(model, task, traces, test_index=test_index)
