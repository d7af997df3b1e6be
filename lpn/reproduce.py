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

A training that diverges (a NaN or infinite loss) has no numbers: its cells are recorded as
diverged, the table says so, and the means over seeds leave them out.

Written to the output folder: `results.json` (every number of every seed, the verdict on each of
the paper's orderings, the scale's config, the package versions, devices, the command, the commit,
each training's loss curve and the wall minutes of the run, its trainings and its cell groups),
`table.md` (ours, mean and std over seeds, beside the paper's, and the verdicts, paired over seeds:
`lpn.tables.verdict`) and `figure.png`. One progress bar counts the run's trainings and cell
groups, with tqdm's estimate of the time left.

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
from lpn.experiments import EVALUATION_BUDGETS, get_experiment
from lpn.figures import write_figure
from lpn.methods import row as method_row
from lpn.methods import search_method
from lpn.program import over_tasks
from lpn.progress import progress_bar
from lpn.results_store import (
    EVAL_SEED,
    Clock,
    api_command,
    loss_curve,
    now,
    relative_path,
    start,
    wall_minutes,
    write_json,
)
from lpn.search import GRADIENT_COST, truncate
from lpn.tables import summary, verdicts, write_table

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


def cell_method(row: Row, column: Column, evaluations: bool = False) -> tuple[str, int]:
    """(search name, budget) of a cell; budget 0 of a search that takes steps is the model's plain
    prediction. With `evaluations` (an experiment of `EVALUATION_BUDGETS`), the column's budget
    counts decoder evaluations per given pair, and the budget is the steps or samples of the
    cell's search that spend them (`budget_for_evaluations`)."""
    name = column.search or row.search
    budget = column.budget if row.budget is None else row.budget
    if evaluations:
        budget = budget_for_evaluations(name, budget)
    if budget == 0 and name in ("gradient", "ttt"):
        name = "none"
    return name, budget


# Decoder evaluations per given pair of one step or sample of each of LPN's searches, one start
# (lpn.search's counting, which every SearchTrace's num_evals follows): each search also scores
# its start once.
EVALUATIONS_PER_UNIT = {
    "gradient": GRADIENT_COST,
    "prior-gradient": GRADIENT_COST,
    "local": 1,
    "prior-local": 1,
    "sampling": 1,
    "random": 1,
}


def budget_for_evaluations(name: str, evaluations: int) -> int:
    """The steps or samples of search `name` that spend `evaluations` decoder evaluations per given
    pair (its start's one included): (evaluations - 1) // the cost of a step or sample."""
    if name not in EVALUATIONS_PER_UNIT:
        raise ValueError(
            f"search {name!r} has no budget in decoder evaluations here; those that do: {', '.join(EVALUATIONS_PER_UNIT)}"
        )
    if evaluations < 1:
        raise ValueError(f"a budget of decoder evaluations must be at least 1 (the start's), got {evaluations}")
    return (evaluations - 1) // EVALUATIONS_PER_UNIT[name]


def _method(exp: Experiment, row: Row, column: Column) -> tuple[str, int]:
    return cell_method(row, column, exp.name in EVALUATION_BUDGETS)


def model_name(label: str, architecture: str, cfg, steps: int, seed: int, data: str) -> str:
    """A folder name fixed by what the model is, readable by its label."""
    what = json.dumps(
        {"architecture": architecture, "config": cfg.to_dict(), "steps": steps, "seed": seed, "data": data},
        sort_keys=True,
    )
    slug = "".join(ch if ch.isalnum() else "-" for ch in label.lower()).strip("-")
    return f"{slug}-s{seed}-{hashlib.sha256(what.encode()).hexdigest()[:10]}"


def model_folder(exp: Experiment, label: str, scale: str, seed: int, models: Path) -> Path:
    """The folder training `label` of `exp` at `scale` and `seed` trains into (`model_name`)."""
    training, sizes = exp.training(label), exp.scales[scale]
    cfg = sizes.config().replace(**training.changes)
    return Path(models) / model_name(label, training.architecture, cfg, sizes.steps, seed, exp.data)


def train_or_load(exp: Experiment, label: str, scale: str, seed: int, models: Path, progress: bool, log):
    """(model, record) for training `label` at `scale` and `seed`, trained once into its
    `model_folder`. The record: "steps", "seconds" (the training's wall time, whichever run trained
    it), "trained_here" (whether this call trained it), "curve" (`loss_curve`, where the folder has
    a metrics.jsonl) and, for a training that diverged, "diverged" (what the error says) and "step"
    (where); the model is then None: a diverged training has no numbers (a checkpoint from before
    the divergence is not the model the experiment asks for)."""
    from lpn.checkpoint import load_checkpoint
    from lpn.tasks.sources import host_batches
    from lpn.train import Checkpoints, TrainingDiverged, TrainOptions, train

    training, sizes = exp.training(label), exp.scales[scale]
    cfg = sizes.config().replace(**training.changes)
    folder = model_folder(exp, label, scale, seed, models)
    done = folder / "done.json"
    if done.exists():
        from lpn.runlog import read_json

        record = read_json(done, "move the model's folder away to train it again")
        if not isinstance(record, dict):
            raise ValueError(f"{done}: expected a JSON object; move the model's folder away to train it again")
        record = _trained(record, folder, here=False)
        return (None if "diverged" in record else load_checkpoint(folder)[0]), record
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
        record.update(diverged=str(err).split(";")[0], step=diverged_step(str(err)))
        log(
            f"{label} (seed {seed}) diverged: {record['diverged']}; its cells are recorded as diverged, with no numbers"
        )
    record["seconds"] = round(time.monotonic() - tick, 1)
    write_json(done, record)
    barrier(f"trained {folder.name}")  # several processes: process 0 has written the checkpoint read next
    record = _trained(record, folder, here=True)
    return (None if "diverged" in record else load_checkpoint(folder)[0]), record


def diverged_step(message: str) -> int | None:
    """The step at which `lpn.train` found the loss or weights non-finite ("... between steps A
    and B ..." gives B), or None where the message does not say."""
    import re

    found = re.search(r"between steps (\d+) and (\d+)", message)
    return int(found.group(2)) if found else None


def _trained(record: dict, folder: Path, here: bool) -> dict:
    """What results.json keeps of a training's done.json record (see `train_or_load`)."""
    kept = {k: record[k] for k in ("steps", "seconds") if k in record}
    if "diverged" in record:  # a record from before the step was parsed held the last checkpoint's
        message = record["diverged"]
        kept.update(diverged=message.split(";")[0], step=diverged_step(message))
        if kept["step"] is None:
            kept["step"] = record.get("step")
    curve = loss_curve(folder)
    if curve:
        kept["curve"] = curve
    return {**kept, "trained_here": here}


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
    command = command or api_command(name, scale, out, seeds, models, model)
    results = start(out, exp, scale, resume, command, model)
    given = _load(model) if model is not None else None
    clock = Clock(results)
    save = lambda: write_json(out / "results.json", clock.stamp())  # noqa: E731
    stopping = "at the end of this training chunk or evaluation group, keeping what is finished"
    plan = _plan(exp, scale, range(first_seed, first_seed + seeds), results, models, trains=given is None)
    bar = progress_bar(total=len(plan), enabled=progress, desc=f"{name} ({scale})", unit="part")
    say = _beside(bar, log)
    with signals_caught(stopping=stopping) as caught, bar:

        def stop(where: str) -> None:  # every process stops at the same point
            if anyone(caught):
                raise ReproduceInterrupted(caught[0] if caught else "a signal to another process", where, out)

        for seed in range(first_seed, first_seed + seeds):
            done = results["seeds"].setdefault(str(seed), {})
            for training in exp.trainings:
                todo = _todo(exp, scale, training.label, done)
                if not todo:
                    continue
                net = given
                if net is None:
                    bar.set_postfix_str(f"training {training.label}, seed {seed}")
                    try:
                        net, record = train_or_load(exp, training.label, scale, seed, models, progress, say)
                    except TrainingInterrupted as err:
                        where = f"training {training.label} (seed {seed}) at step {err.step} of {err.steps}"
                        raise ReproduceInterrupted(
                            err.signal_name, f"{where}, checkpoint in {err.out_dir}", out
                        ) from None
                    record["model"] = relative_path(model_folder(exp, training.label, scale, seed, models), out)
                    _keep_training(results, training.label, seed, record)
                    bar.update((seed, training.label) in plan)
                    save()
                    stop(f"after training {training.label} (seed {seed})")
                if net is None:  # diverged: its cells are recorded as such, with no numbers
                    _mark_diverged(exp, done, todo, record.get("step"))
                    bar.update(len(_groups(exp, todo)))
                    save()
                    continue
                timings = results.setdefault("groups", [])

                def finished(members, group, seconds, seed=seed, training=training.label):
                    timings.append({"seed": seed, "training": training, **group, "seconds": round(seconds, 2)})
                    bar.update()

                bar.set_postfix_str(f"evaluating {training.label}, seed {seed}")
                _evaluate_cells(exp, scale, seed, net, todo, done, say, save, stop, finished)
    results["finished"] = now()
    results["minutes"] = wall_minutes(clock.stamp())
    results["summary"] = summary(exp, scale, results)
    results["claims"] = verdicts(exp, results["summary"], scale)
    save()
    if is_main():
        write_table(out / "table.md", exp, results)
        write_figure(out / "figure.png", exp, results)
    barrier(f"{exp.name} written")  # every process returns once the files are there
    return results


def _keep_training(results: dict, label: str, seed: int, record: dict) -> None:
    """Puts `train_or_load`'s record into results["trainings"][label][seed], still counted as
    trained by this run where an earlier session of it trained the model."""
    before = results["trainings"].setdefault(label, {}).get(str(seed), {})
    record["trained_here"] |= before.get("trained_here", False)
    results["trainings"][label][str(seed)] = record


def _mark_diverged(exp: Experiment, done: dict, cells, step) -> None:
    """Records `cells` of a diverged training in `done`: no numbers, the step it diverged at."""
    for r, c in cells:
        search, budget = _method(exp, r, c)
        done.setdefault(r.label, {})[c.label] = {"diverged": True, "step": step, "search": search, "budget": budget}


def _todo(exp: Experiment, scale: str, label: str, done: dict) -> list:
    return [(r, c) for r, c in exp.cells(scale) if r.training == label and not _is_done(exp, done, r, c)]


def _groups(exp: Experiment, cells) -> dict[tuple, list]:
    """`cells` grouped as one search answers them: {(search, density, pairs): [(row, column, budget)]}."""
    groups: dict[tuple, list] = {}
    for r, c in cells:
        name, budget = _method(exp, r, c)
        groups.setdefault((name, c.density, c.pairs), []).append((r, c, budget))
    return groups


def _plan(exp: Experiment, scale: str, seeds, results: dict, models: Path, trains: bool) -> list:
    """The parts of the run left to do, for its progress bar: (seed, training label) for each
    training to run (its folder has no done.json) and (seed, training label, group) for each cell
    group to evaluate."""
    parts = []
    for seed in seeds:
        done = results["seeds"].get(str(seed), {})
        for training in exp.trainings:
            todo = _todo(exp, scale, training.label, done)
            if not todo:
                continue
            if trains and not (model_folder(exp, training.label, scale, seed, models) / "done.json").exists():
                parts.append((seed, training.label))
            parts += [(seed, training.label, group) for group in _groups(exp, todo)]
    return parts


def _beside(bar, log):
    """`log` that prints its line above `bar` (tqdm clears the bar, prints, and draws it again)."""
    if bar.disable:
        return log

    def say(line):
        with bar.external_write_mode():
            log(line)

    return say


def _is_done(exp: Experiment, done: dict, row: Row, column: Column) -> bool:
    """Whether a stored cell is this cell: run with the method and budget the spec now gives it."""
    cell = done.get(row.label, {}).get(column.label)
    return cell is not None and (cell.get("search"), cell.get("budget")) == _method(exp, row, column)


def _load(path):
    from lpn.checkpoint import load_model

    return load_model(path)[0]


def _evaluate_cells(exp, scale, seed, model, cells, done, log, save, stop=None, finished=None):
    """Runs `cells` of one model, grouped by method and test tasks (`_groups`), into
    `done[row][column]`, calling `finished(members, group, seconds)` and `stop(where)` (which raises
    to stop the run) after saving each group. The model carries the scale's config, whatever its
    training mode was (searches read only sizes and test-time rates from it), so the trainings of
    one architecture share compiled programs."""
    from lpn.budget import with_config
    from lpn.config import architecture_diff

    base = exp.scales[scale].config()
    if not architecture_diff(model.config, base):  # not so for a --model checkpoint of its own sizes
        model = with_config(model, model.config.replace(**{f: getattr(base, f) for f in TRAINING_FIELDS}))
    cfg = model.config
    key = jax.random.key(seed)
    for (name, density, pairs), members in _groups(exp, cells).items():
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
        if finished is not None:
            finished(members, {"search": name, "density": density, "pairs": pairs}, seconds)
        save()
        log(
            f"seed {seed}: {', '.join(f'{r.label} / {c.label} {found[b].top1:.1%}' for r, c, b in members)} "
            f"({seconds:.0f} s)"
        )
        if stop is not None:
            stop(f"after seed {seed}'s cells {', '.join(f'{r.label} / {c.label}' for r, c, _ in members)}")
