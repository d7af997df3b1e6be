"""`lpn solve`: searches one JSON task's latent program and draws its pairs, both attempts and the
expected output as coloured grids in the terminal."""

from __future__ import annotations

import shutil

from lpn.cli.arguments import (
    CHECKPOINT_HELP,
    add_search_args,
    chosen_search,
    paragraph,
    positive_int,
)
from lpn.cli.usage import UsageError


def add_parser(commands) -> None:
    p = commands.add_parser(
        "solve",
        help="solve one JSON task and draw its grids in the terminal",
        description=paragraph(
            'Searches the latent program of one ARC JSON task ({"train": [...], "test": [...]}) with an '
            "LPN, or fine-tunes the in-context baseline on its train pairs (--search ttt), and prints its "
            "pairs, both attempts and, if known, the expected output, as coloured grids "
            "(plain digits when the output is not a terminal, with NO_COLOR set, or with --no-color)."
        ),
    )
    p.add_argument("checkpoint", help=CHECKPOINT_HELP)
    p.add_argument("task", help="a .json file holding one task")
    add_search_args(p, "gradient or local search steps, or ttt's training steps (default 100)")
    p.add_argument(
        "--tta",
        type=positive_int,
        default=1,
        metavar="N",
        help="search under N augmented views (symmetries, colour permutations) that vote (default 1)",
    )
    p.add_argument("--no-color", action="store_true", help="print digits instead of colours")
    p.set_defaults(run=cmd_solve)


def cmd_solve(args) -> None:
    import jax

    from lpn.checkpoint import load_model
    from lpn.evaluate import predict_tasks
    from lpn.methods import describe
    from lpn.report import draw_test, render_blocks, use_colour

    model, _, checkpoint = load_model(args.checkpoint)
    _, method, options, settings = chosen_search(args, model)
    task = task_that_fits(args.task, model.config)
    predictions, evals = predict_tasks(
        model, [task], jax.random.key(args.seed), method, batch_size=args.tta, tta=args.tta, **options
    )
    colour, width = use_colour(args.no_color), shutil.get_terminal_size((120, 24)).columns
    print(
        f"task {task.name}: {plural(len(task.train), 'train pair')}, {plural(len(task.test), 'test input')}; "
        f"model {checkpoint}; search {describe(settings)}"
        + (f" under {args.tta} views" if args.tta > 1 else "")
        + f", {evals[task.name]:,} decoder evaluations"
    )
    for i, pair in enumerate(task.train):
        print(f"\ntrain pair {i}")
        print(render_blocks([("input", pair.input), ("output", pair.output)], colour, width))
    for i, (pair, attempts) in enumerate(zip(task.test, predictions[task.name])):
        print(f"\ntest {i}")
        print(draw_test(pair, attempts, colour, width))


def task_that_fits(path: str, cfg):
    from lpn.grids import GridError
    from lpn.tasks import load_json_task
    from lpn.tasks.arc import ArcDataset

    task = load_json_task(path)
    if not task.test:
        raise UsageError(f"{path}: the task has no test input to solve")
    skipped = ArcDataset(path, "", (task,)).filter_size(cfg.max_rows, cfg.max_cols).skipped
    if skipped:
        raise GridError(f"{path}: {skipped[0].reason}")
    return task


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
