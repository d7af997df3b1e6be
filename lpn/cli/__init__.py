"""The `lpn` command line: parameter counts, training (an LPN or the in-context baseline) and its
report, ARC-style evaluation, solving one task in the terminal, and the procedural task families.
Run `lpn --help`, or `lpn COMMAND --help`.

Each command is a module of this package holding its parser beside its `cmd_*` function, a thin
layer over the library (`lpn.train.train`, `lpn.evaluate`, `lpn.scoring`, `lpn.tasks`), imported by
the command that needs it. Every failure is one line, `lpn: error: ...`, on stderr and a non-zero
exit status; a bug says "internal error", and `lpn --debug` (or LPN_DEBUG=1) shows its traceback
instead. Compiled XLA programs are kept on disk between commands: `import lpn` turns the cache on
(`lpn.devices.configure_compile_cache`).
"""

from __future__ import annotations

import argparse
import os
import sys

from lpn.cli.usage import Parser, UsageError

__all__ = ["Parser", "UsageError", "main"]


MAIN_HELP = """\
Latent Program Networks in JAX: train, search and evaluate from the shell.

examples:
  lpn params
  lpn train --preset pattern_2d --steps 2000 --eval-every 500
  lpn report runs/pattern_2d
  lpn train --preset pattern --data procedural --set learning_rate=1e-3 batch_size=32
  lpn eval runs/pattern_2d --data pattern --search gradient --steps 100
  lpn train --preset pattern --arch in-context --out runs/pattern-in-context
  lpn eval runs/pattern-in-context --data pattern --search ttt --steps 10
  lpn eval runs/arc --data arc-agi-1/evaluation --search gradient --steps 100
  lpn solve runs/arc task.json
  lpn tasks gallery gravity --out gravity.png
  lpn reproduce table1 --scale cpu --out results/table1

Failures print one line, `lpn: error: ...`, and exit with status 1 (2 for usage errors);
run `lpn --debug COMMAND ...` (or set LPN_DEBUG=1) to see the traceback instead.
Compiled programs are cached in ~/.cache/lpn/xla (LPN_COMPILE_CACHE=DIR to move it,
LPN_COMPILE_CACHE= to turn it off)."""


def build_parser() -> Parser:
    from lpn.cli import demo, evaluate, params, report, reproduce, solve, tasks, train

    parser = Parser(prog="lpn", description=MAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--debug", action="store_true", help="show an error's traceback instead of one line (also LPN_DEBUG=1)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for module in (params, demo, train, report, evaluate, solve, tasks, reproduce):
        module.add_parser(commands)
    return parser


def one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        text = f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    else:
        text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or type(err).__name__


def expected_errors() -> tuple[type, ...]:
    """Errors that describe bad input rather than a bug (the modules defining them may be unloaded)."""
    known = [UsageError, ValueError, OSError]
    for module, name in (("lpn.checkpoint", "CheckpointError"), ("lpn.train", "TrainingDiverged")):
        if module in sys.modules:
            known.append(getattr(sys.modules[module], name))
    return tuple(known)


def is_bug(err: Exception) -> bool:
    """Whether `err` is a bug (an "internal error") rather than bad input or a missing resource: an
    `expected_errors()` error, a missing third-party module or a device out of memory is not."""
    if isinstance(err, expected_errors()):
        return False
    if isinstance(err, ModuleNotFoundError) and err.name and err.name.partition(".")[0] != "lpn":
        return False
    return not (isinstance(err, RuntimeError) and str(err).startswith("RESOURCE_EXHAUSTED"))


def interrupted(err: KeyboardInterrupt) -> str:
    """The line for Ctrl-C; `lpn.train.TrainingInterrupted` says where its checkpoint is."""
    train = sys.modules.get("lpn.train")
    if train is None or not isinstance(err, train.TrainingInterrupted):
        return "lpn: interrupted"
    return f"lpn: {err}; continue with lpn train --out {err.out_dir} --resume --steps {err.steps}"


def main(argv=None) -> int:
    """Runs one command; returns the exit status (0 ok, 1 failed, 2 bad usage, 130 interrupted,
    141 output pipe closed).
    With --debug or LPN_DEBUG=1, an error in a command is raised instead, traceback and all."""
    debug = os.environ.get("LPN_DEBUG") == "1"
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed: `lpn reproduce` records it
        debug |= args.debug
        args.run(args)
        return 0
    except SystemExit as exit:  # --help
        return exit.code if isinstance(exit.code, int) else 0
    except KeyboardInterrupt as err:
        print(interrupted(err), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lpn params | head`: the reader has what it wanted; say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so exit's flush cannot fail
        return 141
    except Exception as err:
        if debug:
            raise
        if not is_bug(err):
            print(f"lpn: error: {one_line(err)}", file=sys.stderr)
        else:
            print(
                f"lpn: error: internal error, {type(err).__name__}: {one_line(err)} "
                f"(rerun with `lpn --debug ...` or LPN_DEBUG=1 for the traceback)",
                file=sys.stderr,
            )
        return 2 if isinstance(err, UsageError) else 1
