"""`lpn reproduce`: the paper's experiments (Tables 1-3, 11, Figures 2-3) from one command, beside
the paper's numbers (`lpn.experiments`, `lpn.reproduce`)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from lpn.cli.arguments import add_distributed_args, positive_int
from lpn.cli.usage import UsageError

EXAMPLES = """\
examples:
  lpn reproduce --list
  lpn reproduce table1 --scale smoke --out /tmp/table1
  lpn reproduce table1 --scale cpu --out results/table1
  lpn reproduce fig2 --scale cpu --out results/fig2 --models results/table1/models
  lpn reproduce table11 --scale cpu --out results/table11 --model runs/pattern
  lpn reproduce table1 --pilot --out docs/results/table1   # how the cpu scale was chosen

Each experiment trains its models once a seed (into --models, default OUT/models; an experiment
needing a model another one trained, at the same scale, finds it there), evaluates every cell,
and writes OUT/results.json, OUT/table.md (ours beside the paper's) and OUT/figure.png.
Ctrl-C (or SIGTERM) stops at the end of the running training chunk or cell group, keeping
what is finished (exit status 130); the same command with --resume continues from there."""


def add_parser(commands) -> None:
    p = commands.add_parser(
        "reproduce",
        help="run one of the paper's experiments, beside the paper's numbers",
        description="Runs one of the paper's experiments at a scale (smoke: a minute, checks the "
        "pipeline; cpu: a laptop, within the minutes --list says; paper: the paper's "
        "sizes, for a GPU) and writes its table beside the paper's.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("experiment", nargs="?", help="table1, fig2, table2, table3, fig3 or table11 (see --list)")
    p.add_argument("--list", action="store_true", help="each experiment, what it measures and its cost per scale")
    p.add_argument("--scale", choices=("smoke", "cpu", "paper"), default="cpu", help="sizes to run at (default cpu)")
    p.add_argument("--out", help="folder for results.json, table.md and figure.png")
    p.add_argument("--seeds", type=positive_int, help="training seeds 0..N-1 (default: the scale's, 1 / 2 / 3)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out, skipping what it has done")
    p.add_argument("--models", help="folder of trained models to reuse and add to (default OUT/models)")
    p.add_argument("--model", help="a checkpoint to search instead of training (experiments of one model: table11)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--pilot",
        action="store_true",
        help="choose the cpu scale by docs/calibration.md's rule: the ladder's rungs on pilot seed 99, "
        "reference cells only, into OUT/pilot.json",
    )
    add_distributed_args(p)
    p.set_defaults(run=cmd_reproduce)


def cmd_reproduce(args) -> None:
    from lpn.cli.arguments import start_processes
    from lpn.distributed import is_main, peers_watched
    from lpn.reproduce import ReproduceInterrupted, run
    from lpn.runlock import run_lock
    from lpn.tables import listing

    if args.list:
        print(listing())
        return
    if not args.experiment:
        raise UsageError("name an experiment (see `lpn reproduce --list`)")
    if not args.out:
        raise UsageError("--out DIR is required: the folder for results.json, table.md and figure.png")
    command = recorded_command(args.argv)  # the words `main` was given (sys.argv's, from a shell)
    if args.pilot:
        from lpn.pilot import pilot

        if args.scale != "cpu" or args.seeds or args.model or args.resume or args.coordinator:
            raise UsageError("--pilot chooses the cpu scale on one process: it takes --out, --models and --quiet only")
        with run_lock(args.out):
            pilot(args.experiment, args.out, models=args.models, progress=not args.quiet, command=command)
        return
    start_processes(args)  # several: each trains on its share of a batch and evaluates a share of the tasks

    def log(line):  # several processes: process 0 speaks
        if is_main():
            print(line, flush=True)

    try:
        with run_lock(args.out, enabled=is_main()), peers_watched():  # one run in a folder at a time
            results = run(
                args.experiment,
                args.scale,
                args.out,
                seeds=args.seeds,
                resume=args.resume,
                models=args.models,
                model=None if args.model is None else shown_path(args.model),  # recorded in results.json and table.md
                progress=not args.quiet and is_main(),
                log=log,
                command=command,
            )
    except ReproduceInterrupted as err:
        print(f"lpn: {err}; continue with: {resume_command(args)}", file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    if is_main():
        print(f"wrote {args.out}/results.json, table.md and figure.png ({results['seconds'] / 60:.1f} min)")


def shown_path(path: str) -> str:
    """`path` as it is recorded: an absolute path relative to the current folder (the same file), so
    what a run writes for others to read names no folder of the machine that ran it."""
    if not os.path.isabs(path):
        return path
    try:
        return os.path.relpath(path)
    except ValueError:  # Windows: another drive has no relative path
        return path


def recorded_command(argv: list[str]) -> str:
    """The command as typed (argv without the program), each absolute path in it shown relative to
    the current folder (`shown_path`), as table.md and results.json record it."""
    shown = []
    for arg in argv:
        flag, equals, value = arg.partition("=")
        shown.append(f"{flag}={shown_path(value)}" if equals and flag.startswith("--") else shown_path(arg))
    return "lpn " + " ".join(shlex.quote(a) for a in shown)


def resume_command(args) -> str:
    """The `lpn reproduce` command line that continues the run of `args`."""
    words = ["lpn", "reproduce", args.experiment, "--scale", args.scale, "--out", args.out]
    for flag, value in (("--seeds", args.seeds), ("--models", args.models), ("--model", args.model)):
        if value is not None:
            words += [flag, str(value)]
    if args.quiet:
        words.append("--quiet")
    if args.coordinator is None:
        return " ".join(shlex.quote(w) for w in [*words, "--resume"])
    words += ["--coordinator", args.coordinator, "--num-processes", str(args.num_processes), "--resume"]
    return " ".join(shlex.quote(w) for w in words) + " --process-id I (on every process, each with its own I)"
