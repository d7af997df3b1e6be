"""Search methods, budgets and baselines compared on the same tasks (paper §3.4, Table 11;
§3.6, Tables 2-3).

`compare_methods` runs a list of search methods on one set of tasks with one key, so rows differ
only in the search, and reports per row the decoder evaluations each task spent
(`SearchTrace.num_evals`: a pair's forward pass is one, a gradient three), which puts gradient
steps, samples and hill-climbing steps on one budget axis; the accuracies of `lpn.evaluate`
(generated tasks, last pair the query) or of `lpn.scoring` (ARC `Task` lists); and wall-clock
seconds, with JAX's tracing and compilation timed apart. `lpn.figures.plot_comparison` draws
accuracy against evaluations, one line per method family.

On generated tasks the search and the decoding of the two attempts are two jitted programs, not
`evaluate_batch`'s one: each method compiles only its search, and one decoding program serves
every row, which saves most of the compile time on a large decoder. The metrics are
`evaluate_batch`'s.

The default list for an LPN is Table 11's five methods at each budget (gradient or local-search
steps, or candidates for the samplers, as the paper's columns), Table 1's random search around the
mean latent at the same budgets, and the mean latent alone (Grad 0); for an in-context model, its
prediction and TTT at each budget. A row may carry its own model, so `baseline_methods` puts LPN's
search and the in-context model's TTT in one table, on one budget axis: TTT's evaluations are
counted on the search's rule (a gradient step three a pair, `lpn.in_context.TTTTrace`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax

from lpn.architectures import kind_of
from lpn.evaluate import TaskMetrics, mean_metrics, per_task_in_groups, predict_tasks, task_metrics, tta_metrics
from lpn.evolution import require_evosax
from lpn.grids import Batch, Task
from lpn.methods import row
from lpn.program import given, over_tasks, split_query, the_trace
from lpn.progress import progress_bar
from lpn.scoring import score_predictions
from lpn.searches import TABLE_11

BUDGETS = (10, 50, 100, 400)
METRICS = {
    "top1": "top-1 exact match",
    "top2": "pass@2 (top-2 exact match)",
    "shape": "shape accuracy",
    "pixel": "pixel accuracy",
}


class SearchMethod(NamedTuple):
    """One row: `method(model, pairs, key, **options)`, any function of `lpn.methods`' tables.
    `family` joins rows into one line of the plot (default: the label); `budget` is shown beside
    the point; `model`, if given, is the row's own model (e.g. an in-context model's TTT beside an
    LPN's search), else the one `compare_methods` is given. A plain (label, method, options) tuple
    is accepted wherever a `SearchMethod` is."""

    label: str
    method: Callable
    options: Mapping | None = None
    family: str | None = None
    budget: int | None = None
    model: Any = None

    @classmethod
    def named(cls, name: str, budget: int | None = None, optimizer=None, model=None) -> SearchMethod:
        """The method `name` of `lpn.methods` at `budget` (steps or candidates), labelled with its
        name in the paper's tables. The table is `model`'s (default LPN's), and `model` becomes
        the row's own. Without `optimizer`, gradient searches use Adam (b2 0.9) at the model's `search_lr` and TTT Adam
        at the model's `ttt_lr`."""
        found = row(name, model)
        label = found.label if found.budget is None else f"{found.label} {budget}"
        return cls(
            label, found.method, found.options(budget, optimizer), found.label, budget if found.budget else 0, model
        )


class ComparisonRow(NamedTuple):
    """One method's results; accuracies are fractions of tasks, `num_evals` the mean over tasks."""

    label: str
    family: str
    budget: int | None
    num_evals: float
    top1: float
    top2: float
    shape: float
    pixel: float
    seconds: float  # the run, compilation excluded
    compile_seconds: float  # tracing and compiling, 0 when the program was already compiled
    differs: float = 0.0  # attempt 2 is a different grid from attempt 1
    rescued: float = 0.0  # attempt 2 is right where attempt 1 is not (top2 - top1)

    @classmethod
    def of(cls, method: SearchMethod, metrics: TaskMetrics, seconds: float, compile_seconds: float) -> ComparisonRow:
        """A method's row: its label, family and budget, every field of its `TaskMetrics`, its times."""
        return cls(
            method.label,
            method.family or method.label,
            method.budget,
            seconds=seconds,
            compile_seconds=compile_seconds,
            **metrics._asdict(),
        )


@dataclass(frozen=True)
class Comparison:
    rows: tuple[ComparisonRow, ...]
    num_tasks: int

    def row(self, label: str) -> ComparisonRow:
        for r in self.rows:
            if r.label == label:
                return r
        raise KeyError(f"no row labelled {label!r}; rows: {', '.join(r.label for r in self.rows)}")

    def table(self) -> str:
        head = ["method", "budget", "evals/task", "top-1", "pass@2", "shape", "pixel", "seconds", "compile s"]
        body = [
            [
                r.label,
                "-" if r.budget is None else str(r.budget),
                f"{r.num_evals:.0f}",
                *(f"{x:.1%}" for x in (r.top1, r.top2, r.shape, r.pixel)),
                f"{r.seconds:.2f}",
                f"{r.compile_seconds:.1f}",
            ]
            for r in self.rows
        ]
        widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
            for line in [head, *body]
        ]
        return f"{self.num_tasks} tasks, the same for every method\n" + "\n".join(lines)

    def to_dict(self) -> dict:
        return {"num_tasks": self.num_tasks, "rows": [r._asdict() for r in self.rows]}

    def __str__(self) -> str:
        return self.table()


def table_11_methods(budgets: Sequence[int] = BUDGETS, optimizer=None) -> list[SearchMethod]:
    """The default rows: the mean latent, then each family of `TABLE_11` at every budget, labelled
    with its Table 11 name. `optimizer` (an optax transformation; default Adam, b2 0.9, at the model's `search_lr`)
    drives both gradient searches."""
    methods = [SearchMethod.named("none")]
    methods += [SearchMethod.named(name, b, optimizer) for name in TABLE_11 for b in budgets]
    return methods


def baseline_methods(
    in_context_model, budgets: Sequence[int] = (10, 100), optimizer=None, lpn_budgets: Sequence[int] | None = None
) -> list[SearchMethod]:
    """The paper's central comparison (Tables 2-3, §3.6): LPN's mean latent and gradient search at
    `lpn_budgets` steps (default `budgets`; the rows run on `compare_methods`' model, an LPN), then
    the in-context model's prediction and its TTT at `budgets` steps (rows that carry
    `in_context_model`). `optimizer` drives the gradient searches (default Adam, b2 0.9, at the LPN's `search_lr`);
    TTT uses Adam at the in-context model's `ttt_lr`."""
    lpn_budgets = budgets if lpn_budgets is None else lpn_budgets
    methods = [SearchMethod.named("none"), *(SearchMethod.named("gradient", b, optimizer) for b in lpn_budgets)]
    methods.append(SearchMethod.named("none", model=in_context_model))
    methods += [SearchMethod.named("ttt", b, model=in_context_model) for b in budgets]
    return methods


def default_methods(model, budgets: Sequence[int] = BUDGETS, optimizer=None) -> list[SearchMethod]:
    """The model's plain prediction, then each method its kind compares (`Kind.compared`) at every
    budget: `table_11_methods` for an LPN; for an in-context model, its prediction and TTT."""
    kind = kind_of(model)
    rows = [SearchMethod.named(kind.default, model=model)]
    return rows + [SearchMethod.named(name, b, optimizer, model) for name in kind.compared for b in budgets]


def es_methods(
    budgets: Sequence[int] = (10, 50, 100), names: Sequence[str] = ("cma", "es", "hybrid"), optimizer=None
) -> list[SearchMethod]:
    """Rows of the ES searches of `lpn.searches.SEARCHES` (`lpn.evolution`) at each budget
    (gradient-step equivalents, so each sits at the evaluations of gradient search at that many
    steps). `optimizer` drives the hybrid's gradient part."""
    require_evosax()
    return [SearchMethod.named(name, b, optimizer) for name in names for b in budgets]


_open_clocks: list[list[float]] = []


def _on_duration(event: str, seconds: float, **kwargs):
    if event.startswith("/jax/core/compile/"):  # jaxpr tracing, lowering to MLIR, backend compile
        for clock in _open_clocks:
            clock[0] += seconds


@functools.cache
def _listen():
    jax.monitoring.register_event_duration_secs_listener(_on_duration)  # once: older JAX cannot unregister


@contextlib.contextmanager
def _compile_clock():
    """Yields [seconds]: the time JAX spends tracing and compiling inside the block (any thread)."""
    _listen()
    clock = [0.0]
    _open_clocks.append(clock)
    try:
        yield clock
    finally:
        _open_clocks.remove(clock)


def _for_decoding(model, trace, query):
    """What the decoding needs (`trace.for_decoding`), so the traces' shapes do not depend on the
    method's budget and one decoding program serves every row of an architecture: a search's
    `CANDIDATES` best latents, a `TTTTrace` without its losses."""
    return trace.for_decoding()


def _searched_metrics(placed, part, keys, method, options):
    """`evaluate_batch`'s per-task metrics in two runs of the one program: the method, its traces
    kept for decoding; then their metrics, which compile once for all rows of an architecture."""
    traces = over_tasks(placed, part, keys, method, options, _for_decoding)
    _, query = split_query(part)
    return over_tasks(placed, (traces, query), keys, the_trace, (), task_metrics, given)


def _metrics(model, data, key, method, options, tasks_per_call, progress: bool = True) -> TaskMetrics:
    """A row's metrics; a row with TTA views shows its own bar if it runs longer than
    `lpn.progress.DELAY` seconds (under `progress`)."""
    if options.get("tta", 1) > 1 and isinstance(data, Batch):  # views vote on Tasks: `tta_metrics`
        options = dict(options)
        views_bar = None if progress else False
        return tta_metrics(
            model, data, key, method, options.pop("tta"), tasks_per_call or 16, progress=views_bar, **options
        )
    if isinstance(data, Batch):
        options = tuple(sorted(options.items()))
        run = lambda placed, part, keys: _searched_metrics(placed, part, keys, method, options)  # noqa: E731
        return mean_metrics(per_task_in_groups(run, model, data, key, tasks_per_call))  # evaluate_batch's keys
    # A row's own `batch_size` option (predict_tasks' tasks a call) wins over `tasks_per_call`.
    options = {"batch_size": tasks_per_call or 16, "progress": None if progress else False, **options}
    predictions, evals = predict_tasks(model, data, key, method, **options)
    return TaskMetrics.from_score(score_predictions(data, predictions), evals)


def compare_methods(
    model,
    data: Batch | Sequence[Task],
    key,
    methods=None,
    *,
    budgets=None,
    optimizer=None,
    tasks_per_call: int | None = None,
    progress: bool = True,
) -> Comparison:
    """Runs every method on the same tasks with the same key and measures each.

    Args:
        data: a `Batch` of generated tasks (each task's last pair is the query, the others the
            specification; metrics of `evaluate_batch`) or a list of `Task`s (searched on their
            train pairs, scored on their test pairs by `lpn.scoring`: pass@2 is the per-task score).
        model: the model the rows run on, unless a row carries its own (an LPN or an in-context model).
        methods: `SearchMethod`s or (label, method, options) tuples with distinct labels; default
            `default_methods(model, budgets, optimizer)` (Table 11 for an LPN). A row whose options
            hold `tta=N` (N > 1) searches every task under N views that vote (`lpn.tta`,
            `predict_tasks`), e.g. `("gradient 100, 8 views", gradient_search, {"steps": 100, "tta": 8})`;
            its evaluations add up over the views.
        budgets, optimizer: the default list's budgets (default 10, 50, 100, 400) and optimiser.
        tasks_per_call: tasks searched in one compiled call (default: a whole `Batch`, 16 of a task
            list); bound it for TTT, which holds a copy of the parameters per task.
        progress: a bar over the rows, naming the one running, and a second one for a row with TTA views
            that runs longer than a few seconds (off with TQDM_DISABLE=1).
    Returns a `Comparison`: `.table()`, `.to_dict()`, `.row(label)`, and `lpn.figures.plot_comparison` draws it.
    Options must be hashable and reused as objects (see `default_optimizer`) for compiled programs
    to be reused across calls.
    """
    if methods is None:
        methods = default_methods(model, BUDGETS if budgets is None else budgets, optimizer)
    elif budgets is not None or optimizer is not None:
        raise ValueError("budgets and optimizer build the default method list; put them in `methods` instead")
    methods = [SearchMethod(*m) for m in methods]
    labels = [m.label for m in methods]
    if not methods or len(set(labels)) != len(labels):
        raise ValueError(f"methods need distinct labels, got {labels}")
    if isinstance(data, Batch):
        grid = data.inputs.shape[-2:]
        for m in methods:
            cfg = (model if m.model is None else m.model).config
            if (cfg.max_rows, cfg.max_cols) != grid:
                raise ValueError(
                    f"row {m.label!r}: its model takes {cfg.max_rows}x{cfg.max_cols} grids, the tasks are "
                    f"padded to {grid[0]}x{grid[1]}"
                )
    rows = []
    bar = progress_bar(methods, enabled=progress, desc="compare_methods", unit="row")
    for m in bar:
        bar.set_postfix_str(m.label, refresh=True)  # a row can take minutes: say which one runs
        with _compile_clock() as compiling:
            start = time.perf_counter()
            out = _metrics(
                model if m.model is None else m.model,
                data,
                key,
                m.method,
                dict(m.options or {}),
                tasks_per_call,
                progress,
            )
            elapsed = time.perf_counter() - start
        seconds = max(elapsed - compiling[0], 0.0)
        rows.append(ComparisonRow.of(m, out, seconds, compiling[0]))
    num_tasks = data.inputs.shape[0] if isinstance(data, Batch) else len(data)
    return Comparison(tuple(rows), num_tasks)
