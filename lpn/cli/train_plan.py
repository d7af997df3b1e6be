"""What `lpn train` runs, from its arguments, checked before anything compiles: the config (a
preset, or a resumed run's checkpoint, with `--set` overrides), the run folder, the model class
(`--arch`, or the resumed run's) and the data source (`--data`, `--mix`, `--no-augment`). Every
problem is a `UsageError` saying what to pass instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from lpn.architectures import ARCHITECTURES, architecture_name
from lpn.cli.usage import UsageError


def overridden(cfg, items):
    """`cfg` with `--set key=value` items applied (`lpn.config.parse_overrides`, then `Config`'s own
    checks), each error a usage error."""
    from lpn.config import parse_overrides

    try:
        changes = parse_overrides(cfg, items)
    except ValueError as err:
        raise UsageError(f"--set {err}") from None
    try:
        return cfg.replace(**changes)
    except ValueError as err:
        raise UsageError(f"--set: {err}") from None


class Plan(NamedTuple):
    """What `lpn train` runs: the config, the run directory, the data (its `--data` value, and the
    "pattern" name or the `lpn.tasks.sources.Mix` it names), the first step and the model class."""

    cfg: object
    out: Path
    data: str
    start: int
    architecture: type
    source: object = "pattern"


def chosen_architecture(args, out: Path) -> type:
    """The class `--arch` names; a resumed run's checkpoint names its own, which --arch may omit
    but not contradict."""
    from lpn.checkpoint import read_meta

    if not args.resume:
        return ARCHITECTURES[args.arch or "lpn"]
    saved = read_meta(out).get("architecture", "lpn")
    if args.arch is not None and args.arch != saved:
        raise UsageError(
            f"--arch {args.arch} does not match the run in {out}, which trains the {saved} model "
            f"(omit --arch to continue it, or pass --out DIR to start another)"
        )
    return ARCHITECTURES[saved]


def check_trainable(architecture: type, cfg) -> None:
    """Refuses, before compiling, config fields `architecture` cannot train with (its `TRAINS_WITH`)."""
    for field, value in getattr(architecture, "TRAINS_WITH", {}).items():
        if getattr(cfg, field) != value:
            raise UsageError(
                f"{field}={getattr(cfg, field)}: the {architecture_name(architecture)} model trains "
                f"with {field}={value} only (set by the preset or --set; pass --set {field}={value})"
            )


def training_plan(args) -> Plan:
    """The `Plan` of the train arguments, checked."""
    from lpn.checkpoint import read_meta
    from lpn.config import Config, architecture_diff, get_preset
    from lpn.leakage import read_run
    from lpn.optim import learning_rate_schedule

    preset = get_preset(args.preset) if args.preset else None
    if args.out is None and preset is None:
        raise UsageError("lpn train needs --preset NAME (or --resume with --out DIR)")
    out = Path(args.out or Path("runs") / args.preset)
    run = read_run(out)
    if args.resume:
        if args.time_budget is not None:
            raise UsageError(
                "--time-budget fits a fresh run; resume a fitted run with --steps (its checkpoint "
                "keeps the fitted schedule)"
            )
        meta = read_meta(out)
        base, start = Config.from_dict(meta["config"]), int(meta["step"])
        diff = architecture_diff(preset, base) if preset else {}
        if diff:
            raise UsageError(
                f"--preset {args.preset} does not match the checkpoint in {out} (preset vs checkpoint: {diff})"
            )
    else:
        if (out / "latest").exists():
            raise UsageError(
                f"{out} already holds a training run; pass --resume to continue it, or --out DIR to start another"
            )
        base, start = preset, 0
    architecture = chosen_architecture(args, out)
    data = args.data or run.get("data", "pattern")
    cfg = overridden(base, args.set)
    check_trainable(architecture, cfg)
    changed = architecture_diff(base, cfg) if args.resume else {}
    if changed:
        raise UsageError(
            f"--set changes the architecture of the run in {out} (checkpoint vs requested: {changed}); "
            f"a resumed run keeps its architecture"
        )
    try:
        learning_rate_schedule(cfg)
    except ValueError as err:
        raise UsageError(f"--set: {err}") from None
    return Plan(cfg, out, data, start, architecture, data_source(args, cfg, data, run))


def data_source(args, cfg, data: str, run: dict):
    """ "pattern", or the `Mix` that `--data` (with `--mix` and `--no-augment`, else the resumed
    run's) names, its ARC tasks loaded and fitted to the model; every problem a usage error."""
    from lpn.tasks.family import MIN_SIDE
    from lpn.tasks.json_tasks import TaskFileError
    from lpn.tasks.sources import PROCEDURAL, make_mix, source_names

    try:
        names = source_names(data)
    except ValueError as err:
        raise UsageError(f"--data {err}") from None
    for name in set(names) & set(PROCEDURAL):
        if min(cfg.max_rows, cfg.max_cols) < MIN_SIDE:
            raise UsageError(
                f"--data {name} needs grids of at least {MIN_SIDE} cells per side; this config has "
                f"{cfg.max_rows}x{cfg.max_cols} (use --data pattern or strings, or a larger preset)"
            )
    if names == ["pattern"]:
        if args.mix:
            raise UsageError("--mix weighs the sources of --data A+B; pattern is a single source")
        return "pattern"
    weights = args.mix or (run.get("mix") if args.data is None else None)
    augment = not args.no_augment and (args.data is not None or run.get("augment", True))
    try:
        return make_mix(cfg, data, weights, augment)
    except TaskFileError as err:  # it names the file already
        raise UsageError(str(err)) from None
    except ValueError as err:
        raise UsageError(f"--data {data}: {err}") from None
