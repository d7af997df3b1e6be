"""Argument types and options shared by the commands, and the on-disk cache of compiled programs
every model-running command turns on."""

from __future__ import annotations

import argparse
import textwrap

from lpn.architectures import KINDS, describe_architecture
from lpn.cli.usage import UsageError
from lpn.methods import METHODS

CHECKPOINT_HELP = (
    "a checkpoint directory, a run directory (its latest checkpoint), or the name of a shipped "
    "model: pattern_2d, pattern, arc_small"
)


def paragraph(text: str) -> str:
    """A help paragraph wrapped by hand, since the raw formatters (kept for examples) do not wrap."""
    return textwrap.fill(text, 88)


def whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, 1)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def count(text: str) -> int:
    return whole_number(text, 0)


# The search each architecture runs when the command line names none, and `lpn train` evaluates.
DEFAULT_SEARCH = {kind.model: kind.searched for kind in KINDS.values()}


def add_search_args(parser, steps_help: str) -> None:
    """--search NAME (a row of one of `lpn.methods.METHODS`' tables) and its budget, learning rate
    and seed."""
    names = tuple(dict.fromkeys(name for table in METHODS.values() for name in table))
    tables = "; ".join(
        f"{describe_architecture(cls)}: "
        + ", ".join(f"{name} = {row.help.removesuffix(' (in-context model)')}" for name, row in table.items())
        for cls, table in METHODS.items()
    )
    defaults = " and ".join(f"{name} for {describe_architecture(cls)}" for cls, name in DEFAULT_SEARCH.items())
    parser.add_argument(
        "--search",
        choices=names,
        default=None,
        help=f"test-time method (paper §3, §3.6), by architecture. {tables} (default {defaults})",
    )
    parser.add_argument("--steps", type=count, default=100, help=steps_help)
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="learning rate of gradient search (default: the config's search_lr) and of ttt "
        "(default: the config's ttt_lr)",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=None,
        help="candidates for random (default 250) and sampling (default 100)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed of the search and of generated tasks (default 0)"
    )


def chosen_search(args, model) -> tuple:
    """(name, method, options, settings) of `--search` for the loaded `model` (default its
    architecture's `DEFAULT_SEARCH`); a name of another architecture's table, or a row whose optional
    dependency is missing, is a usage error."""
    from lpn.methods import methods_for, search_method

    name = args.search or DEFAULT_SEARCH[type(model)]
    table = methods_for(model)
    if name not in table:
        raise UsageError(
            f"--search {name} does not apply to {describe_architecture(model)} ({args.checkpoint}); "
            f"it takes: {', '.join(table)}"
        )
    try:
        return (name, *search_method(name, model.config, args.steps, args.lr, args.samples, architecture=type(model)))
    except ImportError as err:  # a row's optional dependency (evosax for the ES searches) is missing
        raise UsageError(str(err)) from err


def add_distributed_args(p: argparse.ArgumentParser) -> None:
    """The flags of a run over several processes (`lpn.distributed`); all three, or none."""
    group = p.add_argument_group(
        "several processes",
        "a run over several hosts on JAX's distributed runtime (docs/scale.md): give all three "
        "flags, the same --coordinator and --num-processes to every process, or none to let JAX read a cluster's "
        "environment (SLURM and others; with none found, one process)",
    )
    group.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        default=None,
        help="the address of process 0, which every process reaches (e.g. 10.0.0.1:1234)",
    )
    group.add_argument("--num-processes", type=positive_int, default=None, metavar="N", help="processes in the run")
    group.add_argument("--process-id", type=count, default=None, metavar="I", help="this process's id, 0 to N-1")
    group.add_argument(
        "--coordinator-timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="how long to wait for the coordinator and every process to join, and at the end for every "
        "process to leave, before giving up with an error (default 90)",
    )


def start_processes(args) -> int:
    """Joins the run the flags of `add_distributed_args` describe (or a cluster JAX detects); returns
    the number of processes. Bad flags are usage errors."""
    from lpn.distributed import DEFAULT_TIMEOUT, initialize, parse_settings

    try:
        settings = parse_settings(args.coordinator, args.num_processes, args.process_id)
    except ValueError as err:
        raise UsageError(str(err)) from None
    timeout = args.coordinator_timeout
    if timeout is not None and settings.coordinator is None:
        raise UsageError(
            "--coordinator-timeout bounds the wait of a run over several processes: give it with --coordinator"
        )
    try:
        return initialize(settings, DEFAULT_TIMEOUT if timeout is None else timeout)
    except RuntimeError as err:
        raise UsageError(f"--coordinator: {err}") from None
