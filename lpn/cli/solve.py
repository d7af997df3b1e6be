"""`lpn solve`: searches one JSON task's latent program and draws its pairs, both attempts and the
expected output as coloured grids in the terminal."""

from __future__ import annotations

import os
import shutil
import sys

from lpn.cli import UsageError
from lpn.cli.arguments import CHECKPOINT_HELP, add_search_args, paragraph, use_compile_cache


def add_parser(commands) -> None:
    p = commands.add_parser(
        "solve", help="solve one JSON task and draw its grids in the terminal",
        description=paragraph(
            "Searches the latent program of one ARC JSON task ({\"train\": [...], \"test\": [...]}) and "
            "prints its pairs, both attempts and, if known, the expected output, as coloured grids "
            "(plain digits when the output is not a terminal, with NO_COLOR set, or with --no-color)."))
    p.add_argument("checkpoint", help=CHECKPOINT_HELP)
    p.add_argument("task", help="a .json file holding one task")
    add_search_args(p, "gradient or local search steps (default 100)")
    p.add_argument("--no-color", action="store_true", help="print digits instead of colours")
    p.set_defaults(run=cmd_solve)


def cmd_solve(args) -> None:
    import jax

    from lpn.checkpoint import load_model
    from lpn.evaluate import predict_tasks
    from lpn.methods import describe, search_method

    use_compile_cache()
    model, _, checkpoint = load_model(args.checkpoint)
    task = task_that_fits(args.task, model.config)
    method, options, settings = search_method(args.search, model.config, args.steps, args.lr, args.samples)
    predictions, evals = predict_tasks(model, [task], jax.random.key(args.seed), method, batch_size=1, **options)
    colour, width = use_colour(args.no_color), shutil.get_terminal_size((120, 24)).columns
    print(f"task {task.name}: {plural(len(task.train), 'train pair')}, {plural(len(task.test), 'test input')}; "
          f"model {checkpoint}; search {describe(settings)}, {evals[task.name]:,} decoder evaluations")
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


# The terminal renderer, as it was in lpn/cli.py (lpn.report takes it over).
RESET = "\x1b[0m"


def use_colour(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def grid_rows(grid, colour: bool) -> list[str]:
    """A grid as text rows, two characters per cell: ANSI 24-bit backgrounds, or plain digits."""
    from lpn.grids import PALETTE

    if not colour:
        return ["".join(f"{int(v)} " for v in row) for row in grid]
    rgb = [tuple(int(h[i: i + 2], 16) for i in (1, 3, 5)) for h in PALETTE]
    # Black cells get a faint dot, so a grid's extent shows on a dark terminal.
    dot = "\x1b[38;2;90;90;90m\u00b7 "
    cells = ["\x1b[48;2;{};{};{}m{}".format(*rgb[v], dot if v == 0 else "  ") for v in range(10)]
    return ["".join(cells[int(v)] for v in row) + RESET for row in grid]


def render_blocks(blocks, colour: bool, width: int) -> str:
    """Labelled grids side by side, wrapped to `width` columns."""
    groups, line, used = [], [], 0
    for label, grid in blocks:
        w = max(len(label), 2 * grid.shape[1])
        if line and used + 3 + w > width:
            groups.append(line)
            line, used = [], 0
        line.append((label, grid, w))
        used += w + 3 * bool(used)
    groups.append(line)
    text = []
    for group in groups:
        text.append("   ".join(label.ljust(w) for label, _, w in group).rstrip())
        rendered = [(grid_rows(grid, colour), 2 * grid.shape[1], w) for _, grid, w in group]
        for r in range(max(g.shape[0] for _, g, _ in group)):
            parts = [rows[r] + " " * (w - cells) if r < len(rows) else " " * w for rows, cells, w in rendered]
            text.append("   ".join(parts).rstrip())
    return "\n".join(text)


def draw_test(pair, attempts, colour: bool, width: int) -> str:
    """A test input, both attempts (marked right or wrong when the answer is known) and the answer."""
    blocks, solved = [("input", pair.input)], False
    for a, grid in enumerate(attempts, 1):
        if pair.output is None:
            blocks.append((f"attempt {a}", grid))
            continue
        right = grid.shape == pair.output.shape and bool((grid == pair.output).all())
        solved |= right
        blocks.append((f"attempt {a} {'right' if right else 'wrong'}", grid))
    if pair.output is None:
        return render_blocks(blocks, colour, width)
    blocks.append(("expected", pair.output))
    return render_blocks(blocks, colour, width) + ("\nsolved (pass@2)" if solved else "\nnot solved")
