"""`lpn eval`: scores a checkpoint's search on ARC-AGI, JSON tasks (resumably, with a submission)
or fresh generated tasks, and writes results.json (`lpn.evaluate`, `lpn.scoring`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lpn.architectures import describe_architecture
from lpn.cli.arguments import (
    CHECKPOINT_HELP,
    add_distributed_args,
    add_search_args,
    chosen_search,
    paragraph,
    positive_int,
    probability,
    start_processes,
)
from lpn.cli.usage import UsageError
from lpn.tasks.sources import GENERATED


def add_parser(commands) -> None:
    p = commands.add_parser(
        "eval",
        help="score a checkpoint on ARC-AGI, JSON tasks or fresh generated tasks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraph(
            "Searches each task's latent program on its train pairs (an LPN) or fine-tunes on them (the "
            "in-context baseline, --search ttt) and predicts two attempts per test input. ARC data and JSON tasks are filtered to the model's grid size (skipped tasks are "
            "listed), checked for leakage against the checkpoint's training data, scored with the official "
            "pass@2 rule (both the per-task and the per-output average), and written to --out as "
            "submission.json and results.json. Generated data (" + ", ".join(GENERATED) + ") is made fresh "
            "for the checkpoint's config; with --tta N every task is searched under N augmented views that vote "
            "for the two attempts."
        ),
        epilog="examples:\n  lpn eval runs/arc --data arc-agi-1/evaluation --search gradient --steps 100\n"
        "  lpn eval runs/pattern_2d --data pattern --search none\n"
        "  lpn eval runs/arc --data my_tasks/ --search random --samples 500\n"
        "  lpn eval runs/in-context --data pattern --search ttt --steps 10 --lr 1e-4\n"
        "  lpn eval runs/arc --data arc-agi-1/evaluation --coordinator 10.0.0.1:1234 --num-processes 2 "
        "--process-id 0",
    )
    p.add_argument("checkpoint", help=CHECKPOINT_HELP)
    p.add_argument(
        "--data",
        required=True,
        help="arc-agi-1/training, arc-agi-1/evaluation, arc-agi-2/training, arc-agi-2/evaluation, "
        + ", ".join(GENERATED)
        + ", or a .json task file or a folder of them",
    )
    add_search_args(p, "gradient or local search steps, or ttt's training steps (default 100)")
    p.add_argument(
        "--limit", type=positive_int, default=None, help="the first N tasks only (generated data: N tasks, default 256)"
    )
    p.add_argument(
        "--smallest",
        type=positive_int,
        default=None,
        help="ARC/JSON data: the N tasks whose largest grid is smallest (ties by name), after the size filter",
    )
    p.add_argument(
        "--tta",
        type=positive_int,
        default=1,
        metavar="N",
        help="test-time augmentation: search every task under N views (the identity, then symmetries of "
        "the square with colour permutations, black fixed), map the answers back and vote for the two "
        "attempts (default 1: no augmentation). Costs N times the search",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=16,
        help="tasks searched at once at 10x10 and below (default 16); proportionally fewer for larger grids. "
        "On generated data it bounds the tasks of one call for the in-context model only (TTT "
        "holds a copy of the parameters per task); an LPN searches them all in one call",
    )
    p.add_argument(
        "--density",
        type=probability,
        default=None,
        help="pattern density of generated pattern tasks (OOD study; default the config's)",
    )
    p.add_argument(
        "--pairs",
        type=positive_int,
        default=None,
        help="given pairs per generated task, before its query (default: the config's num_pairs)",
    )
    p.add_argument("--out", help="folder for submission.json and results.json (default runs/eval/DATA-SEARCH)")
    p.add_argument("--table", action="store_true", help="also print a row per task (always written to tasks.txt)")
    p.add_argument(
        "--allow-leakage",
        action="store_true",
        help="evaluate even if the training data contains evaluation tasks (reported)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted ARC/JSON evaluation with the same settings and --out: the tasks "
        "it saved (progress.json, after every batch) are not searched again",
    )
    add_distributed_args(p)
    p.set_defaults(run=cmd_eval)


def cmd_eval(args) -> None:
    import jax

    from lpn.architectures import architecture_name, kind_of
    from lpn.checkpoint import load_model
    from lpn.distributed import is_main, peers_watched
    from lpn.eval_run import eval_generated
    from lpn.leakage import read_run
    from lpn.methods import describe
    from lpn.model import num_params
    from lpn.runlock import check_folder, run_lock

    processes = start_processes(args)  # several: each searches a share of the tasks, process 0 writes
    check_data_arg(args.data)
    model, meta, checkpoint = load_model(args.checkpoint)
    cfg = model.config
    name, method, options, settings = chosen_search(args, model)
    out = Path(args.out or Path("runs") / "eval" / f"{_slug(args.data)}-{name}")
    check_folder(out)  # before the search, not after
    devices = jax.devices()
    head = {
        "checkpoint": str(checkpoint),
        "step": meta.get("step"),
        "architecture": architecture_name(model),
        "preset": read_run(checkpoint.parent).get("preset"),
        "parameters": num_params(model),
        "config": cfg.to_dict(),
        "search_settings": settings,
        "device": f"{len(devices)} x {devices[0].device_kind} ({devices[0].platform}), {os.cpu_count()} CPU cores"
        + (f" a host, {processes} processes" if processes > 1 else ""),
    }
    print(
        f"model: {checkpoint} ({describe_architecture(model)}, step {meta.get('step')}); search: {describe(settings)}"
    )
    with run_lock(out, enabled=is_main()), peers_watched():  # one evaluation in a folder at a time
        if args.data in GENERATED:
            # a kind that bounds its tasks a call (TTT tunes a copy of the parameters per task) takes --batch-size
            per_call = args.batch_size if kind_of(model).tasks_per_call else None
            if args.smallest:
                raise UsageError("--smallest picks among ARC or JSON tasks; generated data takes --limit")
            return eval_generated(
                model,
                args.data,
                args.seed,
                args.limit or 256,
                method,
                options,
                head,
                out,
                density=args.density,
                pairs=args.pairs,
                tasks_per_call=per_call,
                tta=args.tta,
            )
        eval_tasks(args, model, meta, checkpoint, method, options, head, out)


def eval_tasks(args, model, meta, checkpoint, method, options, head, out) -> None:
    """`lpn eval` on ARC data or JSON tasks: checked for leakage, predicted batch by batch into
    progress.json (so --resume skips what an interrupted run saved), scored and written."""
    import jax

    from lpn.distributed import is_main
    from lpn.eval_run import Progress, predict, score_and_print, write_results
    from lpn.leakage import check_sources
    from lpn.tasks import LeakageError

    cfg, settings = model.config, head["search_settings"]
    dataset = eval_dataset(args.data, cfg)
    print_report(dataset)
    try:
        leakage = check_sources(meta, checkpoint, args.data, args.allow_leakage)
    except LeakageError as err:
        raise LeakageError(str(err).replace("pass allow=True", "pass --allow-leakage")) from None
    tasks = list(dataset.tasks)
    if args.smallest:
        tasks = sorted(tasks, key=lambda t: (_largest_side(t), t.name))[: args.smallest]
    tasks = tasks[: args.limit]
    if not tasks:
        raise UsageError(f"no task of {args.data} fits the model's {cfg.max_rows}x{cfg.max_cols} grids")
    try:
        progress = Progress(
            out / "progress.json",
            {
                "checkpoint": str(checkpoint),
                "data": args.data,
                "dataset_version": dataset.version,
                "search_settings": settings,
                "seed": args.seed,
                "tta": args.tta,
                "smallest": args.smallest,
            },
            resume=args.resume,
        )
    except ValueError as err:
        raise UsageError(str(err)) from None
    todo = [t for t in tasks if t.name not in progress.tasks]
    if len(todo) < len(tasks):
        print(f"resuming: {len(tasks) - len(todo)} of {len(tasks)} tasks were predicted before ({progress.path})")
    try:
        if todo:
            predict(
                model, todo, jax.random.key(args.seed), method, args.batch_size, options, progress.add, tta=args.tta
            )
    except KeyboardInterrupt:
        progress.save()
        print(
            f"lpn: {len(progress.tasks)} of {len(tasks)} tasks saved in {progress.path}; "
            f"the same command with --resume continues",
            file=sys.stderr,
        )
        raise
    if not is_main():  # process 0 has every answer too, and writes them
        return
    runtime = progress.save()
    predictions, evals = progress.predictions(tasks)
    results = {
        "data": args.data,
        "dataset_version": dataset.version,
        "num_tasks": len(tasks),
        "tta": args.tta,
        "smallest": args.smallest,
        **head,
        **leakage,
        "runtime_seconds": runtime,
        "decoder_evaluations": sum(evals.values()),
        "skipped": [s._asdict() for s in dataset.skipped],
    }
    results["scores"] = score_and_print(tasks, predictions, dataset.version, args.table, out)
    print(f"runtime {runtime:.1f} s for {len(tasks)} tasks ({sum(evals.values()):,} decoder evaluations)")
    write_results(out, results, predictions)


def _largest_side(task) -> int:
    return max(max(g.shape) for p in (*task.train, *task.test) for g in p if g is not None)


def check_data_arg(data: str) -> None:
    from lpn.tasks.arc import DATASETS

    if data not in DATASETS and data not in GENERATED and not Path(data).exists():
        raise UsageError(f"--data {data}: not a file or folder, nor one of {', '.join([*DATASETS, *GENERATED])}")


def eval_dataset(data: str, cfg):
    """The tasks behind `--data` (an ARC split, a JSON file or a folder) as an `ArcDataset` filtered
    to the model's grid size."""
    from lpn.checkpoint import content_hash
    from lpn.tasks import load_arc, load_json_tasks
    from lpn.tasks.arc import DATASETS, ArcDataset

    if data in DATASETS:
        dataset = load_arc(data)
    else:
        version = f"user tasks from {data}, sha1 {content_hash(Path(data))}"
        dataset = ArcDataset(data, version, tuple(load_json_tasks(data)))
    return dataset.filter_size(cfg.max_rows, cfg.max_cols)


def print_report(dataset, shown: int = 20) -> None:
    lines = dataset.report().splitlines()
    print("\n".join(lines[: shown + 1]))
    if len(lines) > shown + 1:
        print(f"  ... and {len(lines) - shown - 1} more skipped (all listed in results.json)")


def _slug(data: str) -> str:
    """A folder name for results: the ARC split or generator name, or the task file's stem."""
    name = Path(data).stem if Path(data).exists() else data
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.") or "tasks"
