"""`lpn tasks list` and `lpn tasks gallery`: the procedural ARC-like task families (`lpn.tasks`)."""

from __future__ import annotations

from pathlib import Path

from lpn.cli.arguments import positive_int
from lpn.cli.usage import UsageError


def add_parser(commands) -> None:
    p = commands.add_parser(
        "tasks",
        help="list the procedural task families or draw a gallery of one",
        description="The procedural ARC-like task families (lpn.tasks).",
    )
    sub = p.add_subparsers(dest="tasks_command", required=True, metavar="ACTION", title="actions")
    q = sub.add_parser("list", help="every family with what its hidden program does")
    q.set_defaults(run=cmd_tasks_list)
    q = sub.add_parser(
        "gallery",
        help="a PNG of a few tasks of one family",
        description="Draws N tasks of one family, pairs side by side, into a PNG.",
    )
    q.add_argument("family", help="family name (see `lpn tasks list`)")
    q.add_argument("--out", help="PNG to write (default FAMILY.png)")
    q.add_argument("--n", type=positive_int, default=4, help="number of tasks (default 4)")
    q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    q.add_argument("--max-side", type=int, default=30, help="largest grid side, 6 to 30 (default 30)")
    q.set_defaults(run=cmd_tasks_gallery)


def cmd_tasks_list(args) -> None:
    from lpn.tasks import FAMILIES

    width = max(map(len, FAMILIES))
    for name in sorted(FAMILIES):
        print(f"{name:<{width}}  {FAMILIES[name].doc}")
    print(f"\n{len(FAMILIES)} families; draw one with: lpn tasks gallery NAME --out NAME.png")


def cmd_tasks_gallery(args) -> None:
    from lpn.grids import MAX_SIDE
    from lpn.report import render_gallery
    from lpn.tasks.family import MIN_SIDE

    if not MIN_SIDE <= args.max_side <= MAX_SIDE:
        raise UsageError(f"--max-side must be between {MIN_SIDE} and {MAX_SIDE}, got {args.max_side}")
    out = Path(args.out or f"{args.family}.png")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    path = render_gallery(args.family, out, n_tasks=args.n, seed=args.seed, max_side=args.max_side)
    print(f"wrote {path}")
