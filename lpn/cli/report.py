"""`lpn report RUN`: a training run's summary and plot from its `metrics.jsonl` (`lpn.runlog`), for a
finished run or one still training."""

from __future__ import annotations

import argparse
from pathlib import Path

from lpn.cli.arguments import paragraph


def add_parser(commands) -> None:
    p = commands.add_parser(
        "report",
        help="summarise and plot a training run (its metrics.jsonl), finished or still running",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraph(
            "Reads RUN/metrics.jsonl, which `lpn train --out RUN` writes one line a chunk, prints the steps done, "
            "the last loss terms, the best of each evaluation score, the pace and the wall time, and plots the "
            "loss terms, KL, gradient norm, learning rate, evaluation scores and pace against the step."
        ),
        epilog="examples:\n  lpn report runs/pattern_2d\n  lpn report runs/arc --out arc-run.png",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run folder (the --out of lpn train)")
    p.add_argument("--out", metavar="FILE", help="where to write the PNG (default RUN/report.png)")
    p.set_defaults(run=cmd_report)


def cmd_report(args) -> None:
    from lpn.run_report import plot_run, run_summary
    from lpn.runlog import read_metrics

    run = Path(args.run_dir)
    lines = read_metrics(run)
    print(f"{run}: {run_summary(lines)}")
    out = plot_run(lines, args.out or run / "report.png", title=f"{run.resolve().name}: step {lines[-1]['step']}")
    print(f"plot: {out}")
