"""Runs an experiment of `lpn.experiments` and writes its results beside the paper's (`lpn reproduce`).

For each seed, each training the experiment's cells need is trained once into the models folder,
under a name fixed by what it is (architecture, config, steps, seed, data), so a second experiment
needing the same model (Figure 2 after Table 1, Figure 3 after Table 3) loads it instead, and a
training stopped half way resumes from its last checkpoint. The cells of one model are grouped:
one gradient search at the largest budget answers every smaller one (`lpn.search.truncate`); the
other methods run once per budget. Every group's numbers go to `results.json` as they come (an
atomic write), so `--resume` skips what is done.

Seed s trains with seed s and tests on tasks of seed 10000 + s; within a seed every cell sees the
same tasks and the same key, so cells differ only in their model and method.

Written to the output folder: `results.json` (every number of every seed, the scale's config, the
package versions, devices and wall times), `table.md` (ours, mean and std over seeds, beside the
paper's, and which of the paper's orderings hold) and `figure.png`.

Over several processes (`lpn reproduce ... --coordinator HOST:PORT --num-processes N --process-id
I`, `lpn.distributed`), each trains on its share of every batch and evaluates a share of the tasks;
process 0 writes the models and results, which the others read from the same folder (a file system
shared by the hosts).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import NamedTuple

import jax

from lpn.architectures import ARCHITECTURES
from lpn.distributed import barrier, is_main, local_batch_size, process_seed
from lpn.evaluate import TaskMetrics, evaluate_batch, mean_metrics, per_task_in_groups, task_metrics
from lpn.experiment_spec import Column, Experiment, Row
from lpn.experiments import get_experiment
from lpn.figures import write_figure
from lpn.methods import row as method_row
from lpn.methods import search_method
from lpn.program import over_tasks
from lpn.results_store import EVAL_SEED, Clock, now, start, write_json
from lpn.search import truncate
from lpn.tables import summary, write_table

CUT = ("gradient", "prior-gradient")  # searches whose smaller budgets are cut from one run
# The training modes' fields, set to the scale's for evaluation, where they play no part.
TRAINING_FIELDS = (
    "train_search_steps",
    "train_search_lr",
    "train_search_stop_gradient",
    "train_samples",
    "train_sample_sigma",
    "train_prior_latents",
)


class ReproduceInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run at a chunk of a training or between cells; every finished
    cell is in results.json and the training's checkpoint in its models folder, so `--resume`
    continues where it stopped."""

    def __init__(self, signal_name: str, where: str, out):
        super().__init__(
            f"interrupted ({signal_name}) {where}; finished cells are kept in {Path(out) / 'results.json'}"
        )
        self.signal_name, self.where, self.out = signal_name, where, Path(out)


def cell_method(row: Row, column: Column) -> tuple[str, int]:
    """(search name, budget) of a cell; budget 0 of a search that takes steps is the model's plain prediction."""
    name = column.search or row.search
    budget = column.budget if row.budget is None else row.budget
    if budget == 0 and name in ("gradient", "ttt"):
        name = "none"
    return name, budget


def model_name(label: str, architecture: str, cfg, steps: int, seed: int, data: str) -> str:
    """A folder name fixed by what the model is, readable by its label."""
    what = json.dumps(
        {"architecture": architecture, "config": cfg.to_dict(), "steps": steps, "seed": seed, "data": data},
        sort_keys=True,
    )
    slug = "".join(ch if ch.isalnum() else "-" for ch in label.lower()).strip("-")
    return f"{slug}-s{seed}-{hashlib.sha256(what.encode()).hexdigest()[:10]}"


def train_or_load(exp: Experiment, label: str, scale: str, seed: int, models: Path, progress: bool, log):
    """(model, what its training did) for training `label` at `scale` and `seed`, trained once:
    {"seconds": spent now} (nothing when it was trained before) and, where the training diverged,
    {"diverged": the error, "step": the step of the last good checkpoint, which is the model}.
    A training that diverges before its first checkpoint raises `TrainingDiverged`."""
    from lpn.checkpoint import load_checkpoint, read_meta
    from lpn.tasks.sources import host_batches
    from lpn.train import Checkpoints, TrainingDiverged, TrainOptions, train

    training, sizes = exp.training(label), exp.scales[scale]
    cfg = sizes.config().replace(**training.changes)
    folder = models / model_name(label, training.architecture, cfg, sizes.steps, seed, exp.data)
    done = folder / "done.json"
    if done.exists():
        from lpn.runlog import read_json

        record = read_json(done, "move the model's folder away to train it again")
        if not isinstance(record, dict):
            raise ValueError(f"{done}: expected a JSON object; move the model's folder away to train it again")
        return load_checkpoint(folder)[0], {k: record[k] for k in ("diverged", "step") if k in record}
    log(f"training {label} (seed {seed}, {sizes.steps} steps) into {folder}")
    tick = time.monotonic()
    data = None
    if exp.data != "pattern":  # several processes: each draws its share of a batch from a seed of its own
        share = cfg.replace(batch_size=local_batch_size(cfg.batch_size))
        data = host_batches(share, exp.data, seed if jax.process_count() == 1 else process_seed([seed]))
    record = {"label": label, "seed": seed, "steps": sizes.steps}
    try:
        train(
            cfg,
            sizes.steps,
            seed=seed,
            architecture=ARCHITECTURES[training.architecture],
            progress=progress,
            options=TrainOptions(
                data=data,
                out_dir=folder,
                resume=(folder / "latest").exists(),
                checkpoints=Checkpoints(every=max(sizes.steps // 4, 50)),
            ),
        )
    except TrainingDiverged as err:
        if not (folder / "latest").exists():
            raise
        record.update(diverged=str(err), step=read_meta(folder)["step"])
        log(f"{label} (seed {seed}) diverged; its cells use the checkpoint of step {record['step']}")
    record["seconds"] = time.monotonic() - tick
    write_json(done, record)
    barrier(f"trained {folder.name}")  # several processes: process 0 has written the checkpoint read next
    return load_checkpoint(folder)[0], {k: record[k] for k in ("seconds", "diverged", "step") if k in record}


class _AtBudgets(NamedTuple):
    """A `then` of `lpn.program.over_tasks`: a search's metrics cut to each budget (`truncate`)."""

    budgets: tuple

    def __call__(self, model, trace, query):
        return tuple(task_metrics(model, truncate(trace, b), query) for b in self.budgets)


def _cut_metrics(model, batch, keys, method, options, budgets):
    return over_tasks(model, batch, keys, method, options, _AtBudgets(budgets))


def group_metrics(model, batch, key, name: str, budgets, cfg) -> dict[int, TaskMetrics]:
    """{budget: mean metrics} of method `name` of the model's table on `batch`."""
    architecture = type(model)
    if name in CUT:
        method, options, _ = search_method(name, cfg, steps=max(budgets), architecture=architecture)
        options = tuple(sorted(options.items()))
        run = lambda placed, part, keys: _cut_metrics(placed, part, keys, method, options, tuple(budgets))  # noqa: E731
        per_budget = per_task_in_groups(run, model, batch, key)
        return {b: mean_metrics(m) for b, m in zip(budgets, per_budget)}
    found = {}
    for b in budgets:
        method, options, _ = search_method(name, cfg, steps=b, samples=b, architecture=architecture)
        found[b] = evaluate_batch(
            model, batch, key, method, tasks_per_call=method_row(name, model).tasks_per_call, **options
        )
    return found


def task_batch(exp: Experiment, cfg, scale: str, seed: int, column: Column):
    from lpn.tasks.sources import query_batch

    sizes = exp.scales[scale]
    pairs = sizes.pairs if column.pairs is None else column.pairs
    return query_batch(cfg, exp.data, EVAL_SEED + seed, sizes.tasks, density=column.density, pairs=pairs)


def run(
    name: str,
    scale: str,
    out,
    *,
    seeds: int | None = None,
    resume: bool = False,
    models=None,
    model=None,
    progress: bool = True,
    log=print,
    command: str = "",
    first_seed: int = 0,
    experiment: Experiment | None = None,
) -> dict:
    """Runs experiment `name` at `scale` ("smoke", "cpu" or "paper") for `seeds` seeds (default the
    scale's) into folder `out`, training into `models` (default OUT/models) or, for an experiment of
    one training, searching the checkpoint `model` instead. Returns the results written to
    OUT/results.json, after writing OUT/table.md and OUT/figure.png.

    SIGINT or SIGTERM (from the main thread) stops the run at the end of the running training chunk
    (with a checkpoint there) or evaluation group, results.json holding every finished cell, and
    raises `ReproduceInterrupted`; `resume=True` then continues to the results of a run never
    stopped.

    `first_seed` shifts the seeds to first_seed..first_seed+seeds-1 (a pilot's seed, `lpn.pilot`);
    `experiment` runs that `Experiment` in place of the one named (a pilot's reference cells)."""
    from lpn.distributed import anyone
    from lpn.signals import signals_caught
    from lpn.train import TrainingInterrupted

    exp = get_experiment(name) if experiment is None else experiment
    if scale not in exp.scales:
        raise ValueError(f"{name} has no scale {scale!r}; it has: {', '.join(exp.scales)}")
    sizes = exp.scales[scale]
    seeds = sizes.seeds if seeds is None else seeds
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    if model is not None and len(exp.trainings) != 1:
        raise ValueError(f"--model replaces the one model an experiment trains; {name} trains {len(exp.trainings)}")
    out = Path(out)
    models = out / "models" if models is None else Path(models)
    out.mkdir(parents=True, exist_ok=True)
    results = start(out, exp, scale, resume, command, model)
    given = _load(model) if model is not None else None
    clock = Clock(results)
    save = lambda: write_json(out / "results.json", clock.stamp())  # noqa: E731
    stopping = "at the end of this training chunk or evaluation group, keeping what is finished"
    with signals_caught(stopping=stopping) as caught:

        def stop(where: str) -> None:  # every process stops at the same point
            if anyone(caught):
                raise ReproduceInterrupted(caught[0] if caught else "a signal to another process", where, out)

        for seed in range(first_seed, first_seed + seeds):
            done = results["seeds"].setdefault(str(seed), {})
            for training in exp.trainings:
                cells = [(r, c) for r, c in exp.cells(scale) if r.training == training.label]
                todo = [(r, c) for r, c in cells if not _is_done(done, r, c)]
                if not todo:
                    continue
                net = given
                if net is None:
                    try:
                        net, record = train_or_load(exp, training.label, scale, seed, models, progress, log)
                    except TrainingInterrupted as err:
                        where = f"training {training.label} (seed {seed}) at step {err.step} of {err.steps}"
                        raise ReproduceInterrupted(
                            err.signal_name, f"{where}, checkpoint in {err.out_dir}", out
                        ) from None
                    if "seconds" in record:
                        record["seconds"] = round(record["seconds"], 1)
                    if record:
                        results["trainings"].setdefault(training.label, {}).setdefault(str(seed), {}).update(record)
                    save()
                    stop(f"after training {training.label} (seed {seed})")
                _evaluate_cells(exp, scale, seed, net, todo, done, log, save, stop)
    results["finished"] = now()
    results["summary"] = summary(exp, scale, results)
    save()
    if is_main():
        write_table(out / "table.md", exp, results)
        write_figure(out / "figure.png", exp, results)
    barrier(f"{exp.name} written")  # every process returns once the files are there
    return results


def _is_done(done: dict, row: Row, column: Column) -> bool:
    """Whether a stored cell is this cell: run with the method and budget the spec now gives it."""
    cell = done.get(row.label, {}).get(column.label)
    return cell is not None and (cell.get("search"), cell.get("budget")) == cell_method(row, column)


def _load(path):
    from lpn.checkpoint import load_model

    return load_model(path)[0]


def _evaluate_cells(exp, scale, seed, model, cells, done, log, save, stop=None):
    """Runs `cells` of one model, grouped by method and test tasks, into `done[row][column]`, calling
    `stop(where)` (which raises to stop the run) after saving each group. The
    model carries the scale's config, whatever its training mode was (searches read only sizes and
    test-time rates from it), so the trainings of one architecture share compiled programs."""
    from lpn.budget import with_config
    from lpn.config import architecture_diff

    base = exp.scales[scale].config()
    if not architecture_diff(model.config, base):  # not so for a --model checkpoint of its own sizes
        model = with_config(model, model.config.replace(**{f: getattr(base, f) for f in TRAINING_FIELDS}))
    cfg = model.config
    groups: dict[tuple, list] = {}
    for r, c in cells:
        name, budget = cell_method(r, c)
        groups.setdefault((name, c.density, c.pairs), []).append((r, c, budget))
    key = jax.random.key(seed)
    for (name, density, pairs), members in groups.items():
        tick = time.monotonic()
        batch = task_batch(exp, cfg, scale, seed, members[0][1])
        budgets = sorted({b for _, _, b in members})
        found = group_metrics(model, batch, key, name, budgets, cfg)
        seconds = time.monotonic() - tick
        for r, c, b in members:
            done.setdefault(r.label, {})[c.label] = {
                **found[b]._asdict(),
                "search": name,
                "budget": b,
                "group_seconds": round(seconds, 2),
            }
        save()
        log(
            f"seed {seed}: {', '.join(f'{r.label} / {c.label} {found[b].top1:.1%}' for r, c, b in members)} "
            f"({seconds:.0f} s)"
        )
        if stop is not None:
            stop(f"after seed {seed}'s cells {', '.join(f'{r.label} / {c.label}' for r, c, _ in members)}")
