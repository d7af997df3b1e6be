"""A run's history on disk: `metrics.jsonl` in the run folder, one JSON object a chunk, and on request
TensorBoard event files in `RUN/tensorboard/`. Not in the paper: this is what lets a researcher watch
a run while it trains and read its curves after `lpn train` exits (`lpn report RUN` plots them).

Each line of `metrics.jsonl` holds, at the end of a chunk of `lpn.train.train`:

- `step`: the step the chunk reached; `loss`, `reconstruction`, `kl`, `grad_norm`: the chunk's means
  (`lpn.train.Metrics`);
- `learning_rate`: the rate of the chunk's last step (`lpn.optim.learning_rate_at`), null when the
  run's optimiser does not say;
- `steps_per_second`: the chunk's steps over its seconds (its data included, the evaluation not; a
  run's first chunk also compiles);
- `wall_time`: seconds of training since the run started, continued across resumes; `time`: the UTC
  time the line was written (ISO 8601, e.g. 2026-12-06T17:26:37Z);
- the evaluation's scores, by name (e.g. `top1_gradient`), on the chunks that evaluated.

A line is written before the chunk's checkpoint, and only by JAX process 0. A resumed run keeps the
lines up to its checkpoint's step and drops those past it (a crash lost those steps, which the run
trains again); its `wall_time` goes on from the last line's, so it counts the lost chunks too. A
line is complete once its newline is written: a last line without one (a run killed mid-write) is
ignored when read and cut off when the run resumes. Any other line that is not a JSON object with
these fields, of these types (numbers; `learning_rate` may be null; `time` a string), and a step
above the line before it is an error naming the file, the line and the field.

The same reader checks the results file of `lpn reproduce` (`read_results`): JSON that does not
parse, or a field of the wrong type, is an error naming `results.json:LINE` or the field.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from lpn.files import atomic_write

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
TRAINING_FIELDS = ("loss", "reconstruction", "kl", "grad_norm", "learning_rate", "steps_per_second")
FIELDS = ("step", *TRAINING_FIELDS, "wall_time", "time")  # then the evaluation's scores, if any


class MetricsError(ValueError):
    """A `metrics.jsonl` that is missing or cannot be read."""


class RunFileError(ValueError):
    """A run's JSON file (e.g. `results.json`) that cannot be read or holds a field of the wrong type."""


NUMBER_FIELDS = ("loss", "reconstruction", "kl", "grad_norm", "steps_per_second", "wall_time")


def is_number(value) -> bool:
    """Whether `value` is a JSON number (an int or float, not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value) -> str:
    return "null" if value is None else json.dumps(value)[:40] if not isinstance(value, str) else repr(value[:40])


def check_line(line: dict, where: str) -> None:
    """Refuses a metrics line (a dict with every field of `FIELDS`) whose fields are not of their
    type, naming `where` (FILE:LINE) and the field."""
    for name in (*NUMBER_FIELDS, *evaluation_names(line)):
        if not is_number(line[name]):
            raise MetricsError(f"{where}: field '{name}' is {_kind(line[name])}, expected a number")
    if line["learning_rate"] is not None and not is_number(line["learning_rate"]):
        raise MetricsError(
            f"{where}: field 'learning_rate' is {_kind(line['learning_rate'])}, expected a number or null"
        )
    if not isinstance(line["time"], str):
        raise MetricsError(f"{where}: field 'time' is {_kind(line['time'])}, expected a UTC time as a string")


def read_json(path: Path, fix: str):
    """The JSON value in `path`; `RunFileError` naming `path:LINE` where it does not parse, with
    `fix` (what the user can do) after it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunFileError(f"{path}: not UTF-8 text, so not a file lpn wrote; {fix}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RunFileError(f"{path}:{err.lineno}: not valid JSON ({err.msg}, column {err.colno}); {fix}") from None


def read_results(path: Path) -> dict:
    """The results of `lpn reproduce` in `path` (its results.json), checked field by field where
    `lpn reproduce --resume` reads them; `RunFileError` naming the file and the field otherwise."""
    fix = "it was edited or damaged: restore it, or choose another --out to start over"
    results = read_json(path, fix)

    def need(value, kind, field: str):
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            expected = {dict: "an object", str: "a string", list: "a list", int: "a whole number"}.get(kind, "a number")
            raise RunFileError(f"{path}: field {field} is {_kind(value)}, expected {expected}; {fix}")
        return value

    need(results, dict, "(the whole file)")
    for name, kind in (("settings", dict), ("seeds", dict), ("trainings", dict)):
        need(results.get(name), kind, f"'{name}'")
    if "seconds" in results:
        need(results["seconds"], (int, float), "'seconds'")
    if "sessions" in results:
        need(results["sessions"], list, "'sessions'")
    for seed, rows in results["seeds"].items():
        for row, cells in need(rows, dict, f"'seeds.{seed}'").items():
            for column, cell in need(cells, dict, f"'seeds.{seed}.{row}'").items():
                where = f"'seeds.{seed}.{row}.{column}"
                need(cell, dict, where + "'")
                if cell.get("diverged") is not True:  # a diverged training's cells hold no numbers
                    need(cell.get("top1"), (int, float), where + ".top1'")
                need(cell.get("search"), str, where + ".search'")
                need(cell.get("budget"), int, where + ".budget'")
    return results


def require_tensorboard():
    """tensorboardX's `SummaryWriter`, or an error that names the extra that installs it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ModuleNotFoundError(
            "TensorBoard logging (--tensorboard) needs the optional package tensorboardX: "
            "pip install 'lpn[tensorboard]'",
            name="tensorboardX",
        ) from None
    return SummaryWriter


def evaluation_names(line: Mapping) -> list[str]:
    """The evaluation scores in a line of `metrics.jsonl`: its keys other than `FIELDS`."""
    return [name for name in line if name not in FIELDS]


def parse_metrics(path: Path) -> tuple[list[dict], bool]:
    """The lines of `path` (a metrics.jsonl) as dicts, and whether a torn last line was left out."""
    text = path.read_text(encoding="utf-8", errors="replace")
    complete, _, rest = text.rpartition("\n")
    lines, last_step = [], -1
    for number, raw in enumerate(complete.split("\n") if complete else [], 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as err:
            raise MetricsError(
                f"{path}:{number}: not a JSON line ({err.msg}); the file was edited or damaged "
                f"(move it away to resume the run without its history)"
            ) from None
        step = line.get("step") if isinstance(line, dict) else None
        if not isinstance(step, int) or isinstance(step, bool) or step <= last_step:
            raise MetricsError(
                f"{path}:{number}: expected a JSON object with a whole 'step' above the previous "
                f"line's ({last_step}), got {raw[:80]!r}"
            )
        missing = [name for name in FIELDS if name not in line]
        if missing:
            raise MetricsError(
                f"{path}:{number}: lacks {', '.join(missing)} (a line of lpn's metrics.jsonl has {', '.join(FIELDS)})"
            )
        check_line(line, f"{path}:{number}")
        lines.append(line)
        last_step = step
    return lines, bool(rest.strip())


def read_metrics(run_dir) -> list[dict]:
    """The history of the run in `run_dir`, one dict a chunk (the fields are in this module's
    docstring). Works on a running run: a line still being written is left out."""
    run_dir = Path(run_dir)
    path = run_dir / METRICS_FILE
    if not path.is_file():
        if not run_dir.is_dir():
            raise MetricsError(f"{run_dir}: no such folder")
        raise MetricsError(
            f"{run_dir}: no {METRICS_FILE} here: not the folder of a run (lpn train --out), or a run "
            f"from before lpn wrote {METRICS_FILE}"
        )
    return parse_metrics(path)[0]


def write_lines(path: Path, lines: list[dict]) -> None:
    """Replaces `path` with `lines` atomically (a crash leaves the old file or the new one)."""
    atomic_write(path, "".join(json.dumps(line) + "\n" for line in lines))


class MetricsLog:
    """Writes `metrics.jsonl` (and, with `tensorboard`, TensorBoard scalars) for a run in `run_dir`
    that starts at step `start`: a fresh run (`resume=False`) starts a new file, a resumed one
    keeps the lines up to `start` (see the module's docstring). Only JAX process 0 writes
    (`process_index`, default `jax.process_index()`); elsewhere, or without `run_dir`, `write` does
    nothing. A context manager: leaving it closes the files."""

    def __init__(self, run_dir, start: int, resume: bool, tensorboard: bool = False, process_index: int | None = None):
        if tensorboard and run_dir is None:
            raise ValueError("tensorboard=True needs out_dir (its event files go to OUT/tensorboard)")
        writer_class = require_tensorboard() if tensorboard else None  # refused on every process alike
        if process_index is None:
            import jax

            process_index = jax.process_index()
        self.started, self.offset = time.monotonic(), 0.0
        self.file = self.board = None
        if run_dir is None or process_index != 0:
            return
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / METRICS_FILE
        if resume and self.path.exists():
            self.offset = self.keep_until(start)
        else:
            write_lines(self.path, [])
        self.file = self.path.open("a", encoding="utf-8")
        if writer_class is not None:
            # purge_step: TensorBoard hides the events of earlier files from this step on, as the file drops them.
            self.board = writer_class(
                str(run_dir / TENSORBOARD_DIR),
                purge_step=start + 1 if resume else 0,
                filename_suffix=f".step{start}.{uuid.uuid4().hex[:6]}",
            )

    def keep_until(self, step: int) -> float:
        """Cuts the file after the last line at or before `step`, and off a torn last line; returns
        the wall time to go on from (the last complete line's)."""
        lines, torn = parse_metrics(self.path)
        kept = [line for line in lines if line["step"] <= step]
        if torn or len(kept) < len(lines):
            write_lines(self.path, kept)
        return float(lines[-1]["wall_time"]) if lines else 0.0

    def write(self, record, steps_per_second: float, learning_rate: float | None) -> dict | None:
        """Appends the line of `record` (an `lpn.train.Record`) and returns it (None where this
        process does not write)."""
        if self.file is None:
            return None
        line = {
            "step": record.step,
            "loss": record.loss,
            "reconstruction": record.reconstruction,
            "kl": record.kl,
            "grad_norm": record.grad_norm,
            "learning_rate": learning_rate,
            "steps_per_second": steps_per_second,
            "wall_time": round(self.offset + time.monotonic() - self.started, 3),
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **{name: float(score) for name, score in record.evaluation.items()},
        }
        self.file.write(json.dumps(line) + "\n")  # one write a line: a kill leaves at most a torn last line
        self.file.flush()
        if self.board is not None:
            for name, value in line.items():
                if name not in ("step", "wall_time", "time") and value is not None and math.isfinite(value):
                    group = "train" if name in TRAINING_FIELDS else "eval"
                    self.board.add_scalar(f"{group}/{name}", value, record.step)
            self.board.flush()
        return line

    def close(self) -> None:
        for handle in (self.file, self.board):
            if handle is not None:
                handle.close()
        self.file = self.board = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
