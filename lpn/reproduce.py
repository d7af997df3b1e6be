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
import io
import json
import platform
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from lpn.distributed import barrier, is_main, local_batch_size, process_seed
from lpn.evaluate import TaskMetrics, evaluate_batch, mean_metrics, per_task_in_groups, split_query, task_metrics
from lpn.experiments import Column, Experiment, Row, get_experiment
from lpn.files import atomic_write
from lpn.in_context import ARCHITECTURES
from lpn.methods import search_method
from lpn.search import truncate

EVAL_SEED = 10_000  # seed s tests on the tasks of seed EVAL_SEED + s
CUT = ("gradient", "prior-gradient")  # searches whose smaller budgets are cut from one run
PER_CALL = {"ttt": 32}  # tasks a compiled call, for methods that hold a copy of the model per task
# The training modes' fields, set to the scale's for evaluation, where they play no part.
TRAINING_FIELDS = (
    "train_search_steps",
    "train_search_lr",
    "train_search_stop_gradient",
    "train_samples",
    "train_sample_sigma",
    "train_prior_latents",
)


class ResultsMismatch(ValueError):
    """--resume into a folder whose results are of another experiment, scale or setting."""


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
        record = json.loads(done.read_text())
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
    _write_json(done, record)
    barrier(f"trained {folder.name}")  # several processes: process 0 has written the checkpoint read next
    return load_checkpoint(folder)[0], {k: record[k] for k in ("seconds", "diverged", "step") if k in record}


@eqx.filter_jit
def _cut_metrics(model, batch, keys, method, options, budgets):
    spec, query = split_query(batch)

    def one(pairs, q, key):
        trace = method(model, pairs, key, **dict(options))
        return tuple(task_metrics(model, truncate(trace, b), q) for b in budgets)

    return jax.vmap(one)(spec, query, keys)


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
        found[b] = evaluate_batch(model, batch, key, method, tasks_per_call=PER_CALL.get(name), **options)
    return found


def task_batch(exp: Experiment, cfg, scale: str, seed: int, column: Column):
    from lpn.tasks.sources import query_batch

    sizes = exp.scales[scale]
    pairs = sizes.pairs if column.pairs is None else column.pairs
    return query_batch(cfg, exp.data, EVAL_SEED + seed, sizes.tasks, density=column.density, pairs=pairs)


def settings(exp: Experiment, scale: str, model=None) -> dict:
    """What fixes the numbers of a run: a resumed run must have the same."""
    sizes = exp.scales[scale]
    given = {} if model is None else {"model": str(model)}
    return {
        **given,
        "experiment": exp.name,
        "scale": scale,
        "data": exp.data,
        "preset": sizes.preset,
        "config": sizes.config().to_dict(),
        "steps": sizes.steps,
        "tasks": sizes.tasks,
        "pairs": sizes.pairs,
        "trainings": {t.label: {"architecture": t.architecture, "changes": dict(t.changes)} for t in exp.trainings},
        "eval_seed": f"{EVAL_SEED} + seed",
    }


def environment() -> dict:
    import equinox
    import optax

    import lpn

    devices = jax.devices()
    return {
        "lpn": lpn.__version__,
        "jax": jax.__version__,
        "equinox": equinox.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "devices": f"{len(devices)} x {devices[0].device_kind}" if devices else "none",
        "lpn_commit": _commit(Path(lpn.__file__).parent),
        "data": "generated by lpn's own task generators (lpn.pattern, lpn.tasks.strings) at the lpn version and "
        "commit above",
    }


def _commit(folder: Path) -> str | None:
    """The git commit of the lpn source tree (with "+changes" if it has uncommitted ones), or None."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def start(out: Path, exp: Experiment, scale: str, resume: bool, command: str, model=None) -> dict:
    file = out / "results.json"
    if file.exists() and not resume:
        raise ValueError(f"{file} exists: pass --resume to continue that run, or choose another --out")
    if resume and file.exists():
        results = json.loads(file.read_text())
        if results.get("settings") != settings(exp, scale, model):
            raise ResultsMismatch(
                f"{file} holds a run of other settings (experiment, scale, config or trainings) "
                f"than {exp.name} --scale {scale}: choose another --out"
            )
        results.setdefault("sessions", []).append({"started": _now(), "command": command, "environment": environment()})
        return results
    return {
        "settings": settings(exp, scale, model),
        "command": command,
        "started": _now(),
        "environment": environment(),
        "seeds": {},
        "trainings": {},
    }


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
) -> dict:
    """Runs experiment `name` at `scale` ("smoke", "cpu" or "paper") for `seeds` seeds (default the
    scale's) into folder `out`, training into `models` (default OUT/models) or, for an experiment of
    one training, searching the checkpoint `model` instead. Returns the results written to
    OUT/results.json, after writing OUT/table.md and OUT/figure.png."""
    exp = get_experiment(name)
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
    save = lambda: _write_json(out / "results.json", clock.stamp())  # noqa: E731
    for seed in range(seeds):
        done = results["seeds"].setdefault(str(seed), {})
        for training in exp.trainings:
            cells = [(r, c) for r, c in exp.cells(scale) if r.training == training.label]
            todo = [(r, c) for r, c in cells if not _is_done(done, r, c)]
            if not todo:
                continue
            net = given
            if net is None:
                net, record = train_or_load(exp, training.label, scale, seed, models, progress, log)
                if "seconds" in record:
                    record["seconds"] = round(record["seconds"], 1)
                if record:
                    results["trainings"].setdefault(training.label, {}).setdefault(str(seed), {}).update(record)
            _evaluate_cells(exp, scale, seed, net, todo, done, log, save)
    results["finished"] = _now()
    results["summary"] = summary(exp, scale, results)
    save()
    if is_main():
        write_table(out / "table.md", exp, results)
        write_figure(out / "figure.png", exp, results)
    barrier(f"{exp.name} written")  # every process returns once the files are there
    return results


class Clock:
    """Adds the wall time of this session to the results' "seconds" at each save."""

    def __init__(self, results: dict):
        self.results, self.base, self.tick = results, results.get("seconds", 0.0), time.monotonic()

    def stamp(self) -> dict:
        self.results["seconds"] = round(self.base + time.monotonic() - self.tick, 1)
        return self.results


def _is_done(done: dict, row: Row, column: Column) -> bool:
    """Whether a stored cell is this cell: run with the method and budget the spec now gives it."""
    cell = done.get(row.label, {}).get(column.label)
    return cell is not None and (cell.get("search"), cell.get("budget")) == cell_method(row, column)


def _load(path):
    from lpn.checkpoint import load_model

    return load_model(path)[0]


def _evaluate_cells(exp, scale, seed, model, cells, done, log, save):
    """Runs `cells` of one model, grouped by method and test tasks, into `done[row][column]`. The
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


def summary(exp: Experiment, scale: str, results: dict) -> dict:
    """{row: {column: {"mean", "std", "n", "paper"}}} of top-1 exact match in %, over the seeds run."""
    table = {}
    for r, c in exp.cells(scale):
        values = [s[r.label][c.label]["top1"] * 100 for s in results["seeds"].values() if c.label in s.get(r.label, {})]
        paper = exp.paper.get((r.label, c.label))
        table.setdefault(r.label, {})[c.label] = {
            "mean": float(np.mean(values)) if values else None,
            "std": float(np.std(values)) if values else None,
            "n": len(values),
            "paper": None if paper is None else {"mean": paper[0], "std": paper[1]},
        }
    return table


HOLDS, REVERSED, TOO_CLOSE, NOT_RUN = "holds", "reversed", "too close to call", "not run"


def claims(exp: Experiment, table: dict) -> list[tuple[str, str, str]]:
    """(text, verdict, numbers) for each of the paper's orderings. The verdict is HOLDS where our
    better cell's mean exceeds the other's by more than their two stds added (the seeds' spreads
    do not overlap), REVERSED where it falls short by that much, TOO_CLOSE between, and NOT_RUN where
    a cell was not run at this scale."""
    found = []
    for claim in exp.claims:
        (br, bc), (wr, wc) = claim.better, claim.worse
        better, worse = table.get(br, {}).get(bc), table.get(wr, {}).get(wc)
        if better is None or worse is None or better["mean"] is None or worse["mean"] is None:
            found.append((claim.text, NOT_RUN, "not run"))
            continue
        gap, spread = better["mean"] - worse["mean"], better["std"] + worse["std"]
        verdict = HOLDS if gap > spread else REVERSED if -gap > spread else TOO_CLOSE
        paper = ""
        if better["paper"] and worse["paper"]:
            paper = f"; paper {better['paper']['mean']:.1f} vs {worse['paper']['mean']:.1f}"
        found.append((claim.text, verdict, f"ours {_mean_std(better)} vs {_mean_std(worse)}{paper}"))
    return found


def _mean_std(cell: dict) -> str:
    return f"{cell['mean']:.1f}" + (f" ± {cell['std']:.1f}" if cell["n"] > 1 else "")


def _cell_text(cell: dict) -> str:
    ours = (
        "–" if cell["mean"] is None else f"**{cell['mean']:.1f}**" + (f" ± {cell['std']:.1f}" if cell["n"] > 1 else "")
    )
    paper = cell["paper"]
    if paper is None:
        return ours
    std = "" if paper["std"] is None else f" ± {paper['std']:.1f}"
    return f"{ours}<br>paper {paper['mean']:.1f}{std}"


def write_table(path: Path, exp: Experiment, results: dict) -> None:
    scale = results["settings"]["scale"]
    table, sizes = results["summary"], exp.scales[scale]
    columns = [c for c in exp.columns if any(c.label in row for row in table.values())]
    seeds = len(results["seeds"])
    env = results["environment"]
    cfg = sizes.config()
    if "model" in results["settings"]:
        what = (
            f"Model `{results['settings']['model']}` (its own config), {sizes.tasks} test tasks a cell, "
            f"{_count(seeds, 'evaluation seed')} (test tasks and search keys; one model)"
        )
    else:
        what = (
            f"Scale `{scale}`: {cfg.max_rows}x{cfg.max_cols} grids"
            + (f", {cfg.pattern_size}x{cfg.pattern_size} patterns" if exp.data == "pattern" else "")
            + f", latent {cfg.latent_dim}, {cfg.enc_layers}+{cfg.dec_layers} layers of width {cfg.enc_width}, "
            f"{sizes.steps} training steps of {cfg.batch_size} tasks, {sizes.tasks} test tasks a cell, "
            f"{_count(seeds, 'seed')}"
        )
    lines = [
        f"# {exp.title}",
        "",
        f"`{results['command'] or f'lpn reproduce {exp.name} --scale {scale}'}`",
        "",
        f"{what}. Each cell: top-1 exact match %, the paper's metric for generated tasks, as mean ± std "
        f"over seeds (numpy's std, ddof 0). lpn {env['lpn']}, jax {env['jax']}, {env['devices']}; "
        f"{results.get('seconds', 0) / 60:.0f} min.",
        "",
        f"Paper: {exp.source}.",
        "",
        "| | " + " | ".join(c.label for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for row in exp.rows:
        cells = table[row.label]
        lines.append(
            f"| {row.label} | "
            + " | ".join(_cell_text(cells[c.label]) if c.label in cells else "" for c in columns)
            + " |"
        )
    for label, seeds in results.get("trainings", {}).items():
        for seed, record in seeds.items():
            if "diverged" in record:
                lines += [
                    "",
                    f"{label}, seed {seed}: {record['diverged'].split(';')[0]}; its cells use the "
                    f"checkpoint of step {record['step']}.",
                ]
    found = claims(exp, table)
    if found:
        lines += [
            "",
            "The paper's orderings at this scale (\"holds\" where the two cells' mean ± std do not "
            'overlap, "reversed" where they do not overlap the other way):',
            "",
        ]
        for text, verdict, numbers in found:
            lines.append(f"- {verdict}: {text} ({numbers})")
    path.write_text("\n".join(lines) + "\n")


def plot(exp: Experiment, results: dict):
    """A matplotlib figure of two panels, ours and the paper's: one line per row across the
    columns, with ± std bars. `results` is a `run`'s (or its results.json, loaded)."""
    import matplotlib.pyplot as plt

    table = results["summary"]
    shown = [c for c in exp.columns if any(c.label in row for row in table.values())]
    columns = [c.label for c in shown]
    fig, axes = plt.subplots(1, 2, figsize=(max(9.0, 1.1 * len(columns) * 2), 4.2), sharey=True)
    scale = results["settings"]["scale"]
    for ax, title, pick in (
        (axes[0], f"ours ({scale} scale, {_count(len(results['seeds']), 'seed')})", lambda c: c),
        (axes[1], "paper", lambda c: c["paper"]),
    ):
        for i, row in enumerate(exp.rows):
            lines: dict[tuple, tuple[list, list, list]] = {}  # a line joins columns of one method and density
            for x, column in enumerate(shown):
                cell = table[row.label].get(column.label)
                value = pick(cell) if cell else None
                if value and value["mean"] is not None:
                    xs, ys, es = lines.setdefault((column.search, column.density), ([], [], []))
                    xs.append(x), ys.append(value["mean"]), es.append(value["std"] or 0.0)
            for j, (xs, ys, es) in enumerate(lines.values()):
                ax.errorbar(
                    xs, ys, yerr=es, marker="o", ms=4, capsize=3, color=f"C{i}", label=row.label if j == 0 else None
                )
        ax.set_title(title)
        tilt = len(columns) > 6
        ax.set_xticks(
            range(len(columns)), columns, rotation=30 if tilt else 0, ha="right" if tilt else "center", fontsize=8
        )
        ax.set_xlabel(exp.x_label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("top-1 exact match %")
    axes[0].set_ylim(-3, 103)
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(exp.title, fontsize=10)
    fig.tight_layout()
    return fig


def write_figure(path: Path, exp: Experiment, results: dict) -> None:
    import matplotlib.pyplot as plt

    fig = plot(exp, results)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, png.getvalue())


def listing() -> str:
    """Each experiment, what it measures, and its estimated cost per scale."""
    from lpn.experiments import EXPERIMENTS

    lines = []
    for exp in EXPERIMENTS.values():
        lines.append(f"{exp.name:<8} {exp.title}")
        lines.append(f"{'':<8} measures {exp.measures}")
        lines.append(f"{'':<8} trains {len(exp.trainings)} model(s) a seed; {len(exp.cells('paper'))} cells")
        for scale, sizes in exp.scales.items():
            lines.append(
                f"{'':<8} --scale {scale:<6} about {_duration(sizes.minutes)} on {sizes.where} "
                f"({sizes.seeds} seed{'s' * (sizes.seeds > 1)}, {sizes.steps} steps, {sizes.tasks} test tasks)"
            )
    return "\n".join(lines)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _duration(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.0f} h"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, value) -> None:
    if not is_main():  # several processes: process 0 writes (lpn.distributed)
        return
    atomic_write(path, json.dumps(value, indent=1, default=_plain))


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
