"""`lpn train`: trains an LPN or the in-context baseline (`--arch`, a name of
`lpn.in_context.ARCHITECTURES`) from a preset (`lpn.train.train`) with a progress bar, evaluation on
fresh tasks and checkpoints, resumable, with `--set key=value` config overrides."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import NamedTuple

from lpn.cli import UsageError
from lpn.cli.arguments import (
    DEFAULT_SEARCH,
    add_distributed_args,
    count,
    paragraph,
    positive_float,
    positive_int,
    start_processes,
    use_compile_cache,
)
from lpn.config import PRESETS
from lpn.in_context import ARCHITECTURES, InContext, architecture_name, describe_architecture
from lpn.model import LPN
from lpn.tasks.arc import DATASETS


def add_parser(commands) -> None:
    p = commands.add_parser(
        "train",
        help="train an LPN or the in-context baseline from a preset, with a progress bar, evaluation and checkpoints",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraph(
            "Trains an LPN (paper §2), or the in-context baseline (§3.6, --arch in-context), from a preset "
            "config (see `lpn params`), writing checkpoints and metrics.jsonl (one line a chunk; see `lpn report`) "
            "to --out. Every --eval-every steps, and at the "
            "end, it reports top-1 accuracy on fresh tasks: an LPN's with the mean latent and with gradient "
            "search, the in-context model's from its prediction and after test-time training (TTT)."
        ),
        epilog="examples:\n  lpn train --preset pattern_2d --steps 2000\n"
        "  lpn train --preset pattern_2d --steps 4000 --resume\n"
        "  lpn train --preset pattern --arch in-context --steps 2000 --out runs/pattern-in-context\n"
        "  lpn train --preset pattern --set learning_rate=1e-3 batch_size=32 train_search_steps=1\n"
        "  lpn train --preset arc_small --data arc-agi-1/training+procedural-train --mix 1 3\n"
        "  lpn train --preset arc_small --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0",
    )
    p.add_argument("--preset", help=f"{', '.join(PRESETS)} (optional with --resume --out)")
    p.add_argument(
        "--arch",
        choices=tuple(ARCHITECTURES),
        default=None,
        help="the model: lpn (latent program network, §2) or in-context (the baseline of §3.6, "
        "conditioned on the pairs' embeddings with no latent; trains with "
        + " ".join(f"{f}={v}" for f, v in InContext.TRAINS_WITH.items())
        + "). Default lpn, or the resumed run's",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=1000,
        help="total training steps, counting those of a resumed run (default 1000)",
    )
    p.add_argument("--out", help="run directory for checkpoints and metrics.jsonl (default runs/PRESET)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its latest checkpoint, with its config (plus any --set)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the model and the data (default 0)")
    p.add_argument(
        "--data",
        default=None,
        metavar="SOURCE[+SOURCE...]",
        help="training tasks: pattern (§2.5, generated on the device); procedural (the 42 ARC-like "
        "families, grids up to the model's side, which must be at least 6), procedural-train "
        "(all but the 8 held-out families of lpn.tasks.procedural.HOLDOUT) or procedural-holdout "
        "(only those); strings (§4.3, 1 x max_cols sequences); an ARC dataset "
        f"({', '.join(DATASETS)}) or a .json task file or folder of them, whose tasks that fit the "
        "model are drawn with all their solved pairs (test pairs too) subsampled or cycled to "
        "num_pairs; or several host sources joined by '+', each task drawn from one of them "
        "(see --mix). Default pattern, or the resumed run's",
    )
    p.add_argument(
        "--mix",
        nargs="+",
        type=positive_float,
        default=None,
        metavar="WEIGHT",
        help="with --data A+B...: the share of tasks drawn from each source, one weight each "
        "(normalised; default equal)",
    )
    p.add_argument(
        "--no-augment",
        action="store_true",
        help="draw ARC and JSON tasks as they are; by default each draw puts the task under one random "
        "symmetry of the square and colour permutation (black fixed), the same for all its pairs",
    )
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help="override config fields, e.g. --set learning_rate=1e-3 batch_size=32 train_search_steps=1",
    )
    p.add_argument(
        "--eval-every",
        type=count,
        default=500,
        help="evaluate every N steps and at the end; 0 turns it off (default 500)",
    )
    p.add_argument("--eval-tasks", type=positive_int, default=256, help="fresh tasks per evaluation (default 256)")
    p.add_argument(
        "--eval-search-steps",
        type=count,
        default=100,
        help="gradient search steps (an LPN) or TTT steps (the in-context model) in evaluation (default 100)",
    )
    p.add_argument(
        "--eval-pairs",
        type=positive_int,
        default=None,
        help="given pairs per evaluation task, before its query (default: the config's num_pairs)",
    )
    p.add_argument(
        "--save-every", type=positive_int, default=500, help="checkpoint every N steps and at the end (default 500)"
    )
    p.add_argument(
        "--chunk",
        type=positive_int,
        default=50,
        help="steps per compiled call between progress updates, and per line of OUT/metrics.jsonl (default 50)",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard event files to OUT/tensorboard, one point a chunk (needs the "
        "tensorboard extra: pip install 'lpn[tensorboard]')",
    )
    timing = p.add_mutually_exclusive_group()
    timing.add_argument(
        "--time-limit",
        type=positive_float,
        default=None,
        metavar="MINUTES",
        help="stop after this much wall-clock time (compilation included), at the end of a chunk, "
        "with a checkpoint there; --steps stays the target a later --resume continues to",
    )
    timing.add_argument(
        "--time-budget",
        type=positive_float,
        default=None,
        metavar="MINUTES",
        help="fit a fresh run to this much wall-clock time (compilation included): after two "
        "chunks, --steps becomes the steps that fit (at most --steps) and a learning-rate "
        "decay shrinks with them, so the run ends on time with its decay complete",
    )
    add_distributed_args(p)
    p.set_defaults(run=cmd_train)


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
    from lpn.checkpoint import read_meta, read_run
    from lpn.config import Config, architecture_diff, get_preset
    from lpn.train import learning_rate_schedule

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


def make_eval_fn(cfg, data, args, architecture: type = LPN):
    """Top-1 on fresh tasks, for `lpn.train.Evaluation`: an LPN's with the mean latent and with
    gradient search (and its pass@2), the in-context model's from its prediction and after TTT. `data`
    is "pattern" or a `Mix`; its ARC tasks are training tasks, so on them this measures fit (a test
    pair as the query), not generalisation."""
    import jax

    from lpn.checkpoint import as_loaded
    from lpn.distributed import local_copy
    from lpn.evaluate import evaluate_batch
    from lpn.methods import search_method
    from lpn.tasks.sources import query_batch

    batch = query_batch(cfg, data, 1_000_003 + args.seed, args.eval_tasks, pairs=args.eval_pairs)
    key = jax.random.key(args.seed)
    method, options, _ = search_method(
        DEFAULT_SEARCH[architecture], cfg, args.eval_search_steps, architecture=architecture
    )

    # TTT holds a copy of the parameters and their Adam moments per task: 32 tasks a call bound it.
    per_call = None if architecture is LPN else 32

    def eval_fn(model):
        model = as_loaded(local_copy(model))  # several processes: each evaluates its share of the tasks
        plain = evaluate_batch(model, batch, key)
        searched = evaluate_batch(model, batch, key, method, tasks_per_call=per_call, **options)
        if architecture is LPN:
            return {"top1_mean_latent": plain.top1, "top1_gradient": searched.top1, "top2_gradient": searched.top2}
        return {"top1_in_context": plain.top1, "top1_ttt": searched.top1}

    return eval_fn


def format_metrics(values: dict, search_steps: int) -> str:
    text = f"loss {values['loss']:.4f}, reconstruction {values['reconstruction']:.4f}, kl {values['kl']:.4g}"
    if "top1_mean_latent" in values:
        text += (
            f"; top-1 mean latent {values['top1_mean_latent']:.1%}, gradient search ({search_steps} steps) "
            f"{values['top1_gradient']:.1%} (pass@2 {values['top2_gradient']:.1%})"
        )
    if "top1_in_context" in values:
        text += (
            f"; top-1 in-context prediction {values['top1_in_context']:.1%}, after TTT ({search_steps} steps) "
            f"{values['top1_ttt']:.1%}"
        )
    return text


def cmd_train(args) -> None:
    from lpn.checkpoint import remove_partial_checkpoints
    from lpn.distributed import is_main, peers_watched
    from lpn.runlock import run_lock
    from lpn.runlog import require_tensorboard

    if args.tensorboard:
        require_tensorboard()  # before any work
    if args.out is None and args.preset is None:
        raise UsageError("lpn train needs --preset NAME (or --resume with --out DIR)")
    use_compile_cache()
    processes = start_processes(args)
    folder = Path(args.out or Path("runs") / args.preset)
    with run_lock(folder, enabled=is_main()), peers_watched():  # one run in a folder at a time
        if is_main():  # the folder is this run's: a killed run's partial checkpoints go
            remove_partial_checkpoints(folder)
        run_training(args, processes)


def run_training(args, processes: int) -> None:
    """`lpn train` once the processes have started and the run folder is held."""
    import equinox as eqx
    import jax
    from tqdm.auto import tqdm

    from lpn.checkpoint import read_run, write_run
    from lpn.distributed import is_main, local_batch_size, process_seed
    from lpn.model import num_params
    from lpn.tasks.sources import ArcSource, host_batches
    from lpn.train import Checkpoints, Deadline, Evaluation, train

    cfg, out, data, start, architecture, source = training_plan(args)
    batches = None
    if source != "pattern":
        for part in source.parts:
            if isinstance(part, ArcSource):
                print(part.describe(cfg))
        try:  # several processes: each draws its share of the batch, from a seed of its own
            share = cfg.replace(batch_size=local_batch_size(cfg.batch_size))
        except ValueError as err:
            raise UsageError(f"--num-processes: {err}") from None
        batches = host_batches(share, source, process_seed([args.seed, start]))
        batches = itertools.chain([next(batches)], batches)  # a generator that cannot fit fails before compiling
    eval_fn = make_eval_fn(cfg, source, args, architecture) if args.eval_every else None
    count = num_params(eqx.filter_eval_shape(architecture, cfg, jax.random.key(0)))
    devices = jax.devices()
    name = args.preset or read_run(out).get("preset") or "run"
    where = f" of {processes} processes (this one {jax.process_index()})" if processes > 1 else ""
    print(
        f"lpn train: {name}, {describe_architecture(architecture)} of {count:,} parameters, data {data}, {len(devices)} {devices[0].platform} "
        f"device(s){where}, batch {cfg.batch_size}, checkpoints in {out}"
        + (f", resuming at step {start}" if start else "")
    )
    if args.set:
        print(f"  config overrides: {' '.join(args.set)}")
    if start >= args.steps:
        print(f"{out} is already at step {start} (--steps {args.steps}): nothing to do")
        return
    if is_main():  # the other processes read it, and the checkpoints, from the same folder
        write_run(
            out,
            cfg,
            data,
            preset=args.preset,
            seed=args.seed,
            overrides=args.set,
            fresh=not args.resume,
            architecture=architecture_name(architecture),
            mix=None if source == "pattern" else list(source.weights),
            augment=None
            if source == "pattern"
            else not args.no_augment and (args.data is not None or read_run(out).get("augment", True)),
        )

    def report(record, state):
        if record.evaluation:
            tqdm.write(f"step {record.step}: {format_metrics(record.to_dict(), args.eval_search_steps)}")

    run = read_run(out)  # each checkpoint carries its run's data sources, so a copied one keeps them
    metadata = {"preset": run.get("preset"), "train_sources": run.get("train_sources", [])}
    minutes, fit = (args.time_limit, False) if args.time_budget is None else (args.time_budget, True)
    state, history = train(
        cfg,
        args.steps,
        seed=args.seed,
        out_dir=out,
        resume=args.resume,
        data=batches,
        chunk=args.chunk,
        checkpoints=Checkpoints(args.save_every, metadata),
        evaluation=Evaluation(eval_fn, args.eval_every) if eval_fn else None,
        deadline=None if minutes is None else Deadline(60 * minutes, fit),
        callback=report,
        architecture=architecture,
        tensorboard=args.tensorboard,
    )
    final, fitted = history[-1], state.model.config
    if args.time_budget is not None and final.step < args.steps:
        decay = f", its learning rate decayed by step {fitted.lr_decay_steps}" if fitted.lr_decay_steps else ""
        print(f"fitted to the time budget ({args.time_budget:g} min): {final.step} of {args.steps} steps{decay}")
    elif final.step < args.steps:
        print(f"stopped at step {final.step} of {args.steps}: the time limit ({args.time_limit:g} min) was reached")
    print(f"final (step {final.step}): {format_metrics(final.to_dict(), args.eval_search_steps)}")
    print(f"checkpoint: {out} (continue with: lpn train --out {out} --resume --steps N)")
    print(
        f"metrics: {out / 'metrics.jsonl'}"
        + (f" and {out / 'tensorboard'}" if args.tensorboard else "")
        + f" (plot with: lpn report {out})"
    )
