"""`lpn demo`: the shipped 2-D model solves fresh pattern tasks, with and without search, into an
HTML report (`lpn.demo.run_demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lpn.cli.arguments import count, paragraph, positive_int
from lpn.cli.usage import UsageError


def add_parser(commands) -> None:
    p = commands.add_parser(
        "demo",
        help="the shipped 2-D model solves fresh tasks with and without search; writes an HTML report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraph(
            "Loads the shipped pattern_2d model (no download), draws fresh pattern tasks, solves each from its "
            "mean latent and with gradient search, prints both accuracies, and writes a self-contained HTML "
            "report: task grids with both answers, the 2-D latent landscape of one task with the search's path, "
            "and the objective along every search. Open the report in any browser."
        ),
        epilog="examples:\n  lpn demo\n  lpn demo --seed 7 --tasks 256 --out report.html\n"
        "  lpn demo --model runs/pattern_2d",
    )
    p.add_argument("--out", default="lpn-demo.html", help="HTML report to write (default lpn-demo.html)")
    p.add_argument("--tasks", type=positive_int, default=96, help="fresh tasks to solve (default 96)")
    p.add_argument("--steps", type=count, default=100, help="gradient search steps (default 100)")
    p.add_argument("--seed", type=int, default=None, help="seed of the tasks (default: a new one each run, printed)")
    p.add_argument(
        "--model",
        default="pattern_2d",
        help="a shipped model name or a checkpoint of a pattern model (default pattern_2d)",
    )
    p.set_defaults(run=cmd_demo)


def cmd_demo(args) -> None:
    import secrets

    from lpn.architectures import architecture_name, kind_of
    from lpn.checkpoint import load_model
    from lpn.demo import run_demo

    model, meta, checkpoint = load_model(args.model)
    if not kind_of(model).latent:
        raise UsageError(
            f"lpn demo shows an LPN's latent space and its search; {checkpoint} holds an "
            f"{architecture_name(model)} model (try lpn eval or lpn solve with --search ttt)"
        )
    seed = secrets.randbelow(10**6) if args.seed is None else args.seed
    print(
        f"lpn demo: model {args.model} ({model.config.latent_dim}-D latent, trained {meta.get('step')} steps); "
        f"solving {args.tasks} fresh {model.config.max_rows}x{model.config.max_cols} pattern tasks, seed {seed}"
    )
    result = run_demo(model, num_tasks=args.tasks, steps=args.steps, seed=seed, out=args.out)
    print(f"done in {result.seconds:.1f} s; open {Path(args.out).resolve()} in a browser")
