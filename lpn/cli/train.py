"""`lpn train`: trains an LPN or the in-context baseline (`--arch`, a name of
`lpn.architectures.ARCHITECTURES`) from a preset (`lpn.train.train`) with a progress bar, evaluation on
fresh tasks and checkpoints, resumable, with `--set key=value` config overrides. The arguments become
a checked `lpn.cli.train_plan.Plan` before anything compiles."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from lpn.architectures import ARCHITECTURES, architecture_name, describe_architecture, kind_of
from lpn.cli.arguments import (
    add_distributed_args,
    count,
    paragraph,
    positive_float,
    positive_int,
    start_processes,
)
from lpn.cli.train_plan import training_plan
from lpn.cli.usage import UsageError
from lpn.config import PRESETS
from lpn.in_context import InContext
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
    kind = kind_of(architecture)
    method, options, _ = search_method(kind.searched, cfg, args.eval_search_steps, architecture=architecture)

    def eval_fn(model):
        model = as_loaded(local_copy(model))  # several processes: each evaluates its share of the tasks
        plain = evaluate_batch(model, batch, key)
        searched = evaluate_batch(model, batch, key, method, tasks_per_call=kind.tasks_per_call, **options)
        return kind.training_metrics(plain, searched)

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

    from lpn.budget import Deadline
    from lpn.distributed import is_main, local_batch_size, process_seed
    from lpn.leakage import read_run, write_run
    from lpn.model import num_params
    from lpn.tasks.sources import ArcSource, host_batches
    from lpn.train import Checkpoints, Evaluation, TrainOptions, train

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
        architecture=architecture,
        chunk=args.chunk,
        callback=report,
        options=TrainOptions(
            data=batches,
            out_dir=out,
            resume=args.resume,
            checkpoints=Checkpoints(args.save_every, metadata),
            evaluation=Evaluation(eval_fn, args.eval_every) if eval_fn else None,
            deadline=None if minutes is None else Deadline(60 * minutes, fit),
            tensorboard=args.tensorboard,
        ),
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
