"""The pilot that chooses an experiment's `cpu` scale (`lpn reproduce NAME --pilot`), by the rule of
docs/calibration.md, written down before any pilot ran:

the `cpu` scale is the cheapest rung of the experiment's ladder (`LADDERS`) whose reference cells
(`Experiment.reference`) all lie inside 10-90% exact match on the pilot seed (`PILOT_SEED`, which no
table runs), and whose whole experiment is estimated to fit in `CAP_MINUTES` of the 2-core CPU.

For each rung, cheapest first, the pilot

1. times every training the experiment runs at that rung (`TIMED_STEPS` steps after one compiled
   chunk: seconds a step, for each training mode, since a Sample 25 step costs ~25 Grad 0 steps);
   a rung whose trainings alone are estimated over the cap is not tried, and neither is any rung
   after it (the ladder's cost only grows);
2. trains the reference cells' trainings on the pilot seed and evaluates the reference cells only,
   through `lpn.reproduce.run` on an experiment cut down to them;
3. estimates the whole experiment: (trainings' seconds a step x steps + the reference cell groups'
   mean seconds x cell groups) x seeds, plus 10% for compiling.

It looks at the reference cells' levels, never at an ordering or another cell. Each rung's record
(setting, reference cells' top-1 and top-2, minutes, estimate, verdict) goes to OUT/pilot.json as it
comes, with the command and the commit; the run folders to OUT/pilot/RUNG.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from lpn.experiment_spec import Experiment, Scale

PILOT_SEED = 99  # no table runs it: tables run seeds 0, 1, 2
BAND = (10.0, 90.0)  # the reference cells' exact-match range (%), bounds included
CAP_MINUTES = 120.0
TIMED_STEPS = 100
TABLE_SEEDS = 3  # the seeds a table runs at its `cpu` scale (issue 33: 3 seeds, the pilot seed excluded)


@dataclass(frozen=True)
class Rung:
    """A setting of a ladder: changes over the experiment's `cpu` config, and training steps (None:
    the `cpu` scale's own, for the rung that is the experiment's setting before the ladder)."""

    name: str
    changes: dict = field(default_factory=dict)
    steps: int | None = 3000

    def describe(self, exp: Experiment) -> str:
        scale = rung_scale(exp, self)
        c = scale.config()
        parts = [f"{c.max_rows}x{c.max_cols} grids"]
        if exp.data == "pattern":
            parts.append(f"{c.pattern_size}x{c.pattern_size} patterns")
        parts += [
            f"latent {c.latent_dim}",
            f"{c.enc_layers}+{c.dec_layers} layers",
            f"width {c.enc_heads * c.enc_head_dim} ({c.enc_heads} x {c.enc_head_dim})",
            f"{scale.steps:,} steps",
        ]
        return ("the setting before the ladder: " if not self.changes else "") + ", ".join(parts)


def _sizes(latent: int, layers: int, head_dim: int) -> dict:
    return dict(
        latent_dim=latent,
        enc_layers=layers,
        dec_layers=layers,
        enc_heads=4,
        dec_heads=4,
        enc_head_dim=head_dim,
        dec_head_dim=head_dim,
    )


_PATTERN = dict(max_rows=4, max_cols=4, pattern_size=3)
# docs/calibration.md's ladders, cheapest first.
# P0 and S0, each experiment's `cpu` setting before the ladder, were added by the second amendment
# (docs/calibration.md), before any of their reference cells on the pilot seed was seen.
LADDERS: dict[str, tuple[Rung, ...]] = {
    "pattern": (
        Rung("P0", {}, None),
        Rung("P1", dict(_PATTERN, **_sizes(16, 2, 8)), 3000),
        Rung("P2", dict(_PATTERN, **_sizes(16, 2, 8)), 6000),
        Rung("P3", dict(_PATTERN, **_sizes(16, 2, 16)), 6000),
        Rung("P4", dict(_PATTERN, **_sizes(16, 3, 16)), 10_000),
    ),
    "strings": (
        Rung("S0", {}, None),
        Rung("S1", _sizes(16, 2, 8), 3000),
        Rung("S2", _sizes(16, 3, 16), 3000),
        Rung("S3", _sizes(16, 3, 16), 6000),
    ),
}


def rung_scale(exp: Experiment, rung: Rung) -> Scale:
    """The experiment's `cpu` scale with the rung's setting and the table's seeds."""
    cpu = exp.scales["cpu"]
    steps = cpu.steps if rung.steps is None else rung.steps
    return replace(cpu, changes={**cpu.changes, **rung.changes}, steps=steps, seeds=TABLE_SEEDS)


def reference_experiment(exp: Experiment, scale: Scale) -> Experiment:
    """`exp` cut down to its reference cells, at one scale named "pilot"."""
    if not exp.reference:
        raise ValueError(
            f"{exp.name} has no reference cells: it takes the scale of the experiment whose models it uses"
        )
    wanted: dict[str, list[str]] = {}
    for row, column in exp.reference:
        wanted.setdefault(row, []).append(column)
    rows = tuple(replace(r, columns=tuple(wanted[r.label])) for r in exp.rows if r.label in wanted)
    trainings = tuple(t for t in exp.trainings if t.label in {r.training for r in rows})
    return replace(exp, rows=rows, trainings=trainings, scales={"pilot": replace(scale, seeds=1)}, claims=())


def step_seconds(exp: Experiment, scale: Scale, log=print) -> dict[str, float]:
    """{training: wall seconds a training step}, timed over `TIMED_STEPS` steps after one compiled
    chunk, for each training the experiment runs at `scale`."""
    from lpn.architectures import ARCHITECTURES
    from lpn.tasks.sources import host_batches
    from lpn.train import TrainOptions, train

    timed = replace(exp, scales={"timed": scale})
    found = {}
    for training in timed.trainings_at("timed"):
        cfg = scale.config().replace(**training.changes)

        def once(steps, cfg=cfg, training=training):
            data = None if exp.data == "pattern" else host_batches(cfg, exp.data, PILOT_SEED)
            train(
                cfg,
                steps,
                seed=PILOT_SEED,
                architecture=ARCHITECTURES[training.architecture],
                progress=False,
                options=TrainOptions(data=data),
            )

        once(50)  # compiles the chunk
        tick, cpu = time.monotonic(), time.process_time()
        once(TIMED_STEPS)
        found[training.label] = (time.monotonic() - tick) / TIMED_STEPS
        log(
            f"  {training.label}: {found[training.label] * 1000:.0f} ms a step "
            f"({(time.process_time() - cpu) / TIMED_STEPS * 1000:.0f} ms of CPU time; load {_load():.1f})"
        )
    return found


def _load() -> float:
    """The machine's 1-minute load average (timings taken on a busy machine are slower), or -1."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return -1.0


def cell_groups(exp: Experiment, scale_name: str) -> int:
    """Evaluation groups a seed runs (`lpn.reproduce._evaluate_cells`: per training, one per method,
    density and specification size)."""
    from lpn.reproduce import _groups

    cells = exp.cells(scale_name)
    return sum(len(_groups(exp, [(r, c) for r, c in cells if r.training == t.label])) for t in exp.trainings)


def pilot(name: str, out, *, models=None, progress: bool = True, log=print, command: str = "") -> dict:
    """Runs the ladder of experiment `name` into OUT/pilot.json (see the module's docstring); returns
    that record. Rungs already recorded in OUT/pilot.json are not run again."""
    from lpn.experiments import get_experiment
    from lpn.reproduce import run
    from lpn.results_store import commit_of, now, write_json
    from lpn.runlog import read_json

    exp = get_experiment(name)
    ladder = LADDERS["strings" if exp.data == "strings" else "pattern"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "pilot.json"
    record = read_json(path, "move it away to pilot again") if path.exists() else None
    if not isinstance(record, dict) or record.get("experiment") != name:
        record = {"experiment": name, "rule": "docs/calibration.md", "rungs": []}
    record.update(
        command=command,
        commit=commit_of(Path(__file__).parent),
        pilot_seed=PILOT_SEED,
        band=list(BAND),
        cap_minutes=CAP_MINUTES,
        table_seeds=TABLE_SEEDS,
        reference=[list(cell) for cell in exp.reference],
    )
    done = {r["rung"]: r for r in record["rungs"]}
    record["rungs"] = []
    models = out / "pilot" / "models" if models is None else Path(models)
    for rung in ladder:
        entry = done.get(rung.name) or _try(exp, rung, out / "pilot" / rung.name, models, progress, log, run)
        entry.setdefault("finished", now())
        record["rungs"].append(entry)
        record["chosen"] = rung.name if entry["passed"] else None
        write_json(path, record)
        if entry["passed"] or entry["stop"]:
            break
    if record["chosen"] is None:
        record["outcome"] = (
            "no rung passes: the table keeps the cheapest setting and says so above its numbers (docs/calibration.md)"
        )
    else:
        record["outcome"] = f"cpu scale: {record['chosen']}"
    write_json(path, record)
    log(f"pilot of {name}: {record['outcome']}; wrote {path}")
    return record


def _try(exp: Experiment, rung: Rung, folder: Path, models: Path, progress: bool, log, run) -> dict:
    """One rung: its timing, and its reference cells where the timing allows."""
    scale = rung_scale(exp, rung)
    entry = {"rung": rung.name, "setting": rung.describe(exp), "changes": rung.changes, "steps": scale.steps}
    log(f"pilot {exp.name} {rung.name} ({rung.describe(exp)}): timing the trainings")
    tick = time.monotonic()
    per_step = step_seconds(exp, scale, log)
    training_minutes = sum(per_step.values()) * scale.steps * scale.seeds / 60
    entry.update(step_seconds={k: round(v, 4) for k, v in per_step.items()}, load_average=round(_load(), 2))
    if training_minutes * 1.1 > CAP_MINUTES:
        entry.update(
            estimated_minutes=round(training_minutes * 1.1, 1),
            passed=False,
            stop=True,
            why=f"not tried: its trainings alone are estimated at {training_minutes * 1.1:.0f} min "
            f"(> {CAP_MINUTES:.0f}), and every later rung costs more",
            minutes=round((time.monotonic() - tick) / 60, 1),
        )
        log(f"  {entry['why']}")
        return entry
    cut = reference_experiment(exp, scale)
    results = run(
        exp.name,
        "pilot",
        folder,
        seeds=1,
        first_seed=PILOT_SEED,
        models=models,
        progress=progress,
        log=log,
        experiment=cut,
        resume=(folder / "results.json").exists(),
    )
    cells = results["seeds"][str(PILOT_SEED)]
    reference = {f"{r} / {c}": cells[r][c] for r, c in exp.reference}
    group_seconds = [cell["group_seconds"] for cell in reference.values()]
    groups = cell_groups(replace(exp, scales={"cpu": scale}), "cpu")
    cell_minutes = sum(group_seconds) / len(group_seconds) * groups * scale.seeds / 60
    estimate = (training_minutes + cell_minutes) * 1.1
    inside = all(BAND[0] <= 100 * cell["top1"] <= BAND[1] for cell in reference.values())
    entry.update(
        reference={
            k: {"top1": round(100 * v["top1"], 1), "top2": round(100 * v["top2"], 1)} for k, v in reference.items()
        },
        cell_groups_per_seed=groups,
        estimated_minutes=round(estimate, 1),
        passed=inside and estimate <= CAP_MINUTES,
        stop=estimate > CAP_MINUTES,
        minutes=round((time.monotonic() - tick) / 60, 1),
    )
    entry["why"] = (
        ("reference cells inside" if inside else "reference cells outside")
        + f" {BAND[0]:.0f}-{BAND[1]:.0f}%; estimated {estimate:.0f} min "
        + ("within" if estimate <= CAP_MINUTES else "over")
        + f" the {CAP_MINUTES:.0f}-minute cap"
    )
    log(f"  {rung.name}: {entry['reference']}; {entry['why']}")
    return entry
