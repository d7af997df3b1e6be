"""Atomic writes: a file (or a checkpoint's folder) is either as it was or whole, never half
written, whatever stops the process (a crash, a kill, a full disk). Every file that a run leaves
behind and something reads back later (checkpoints' `latest` and `config.json`, `run.json`,
`metrics.jsonl`, results, figures) goes through here.

A file is written to a temporary file beside it (same folder, so the rename stays on one file
system), flushed to the disk (`fsync`) and renamed over the target (`os.replace`, atomic on POSIX
and Windows). A failure removes the temporary file and raises an `OSError` naming the target, with
the original error chained.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def atomic_write(path, data: bytes | str) -> None:
    """Replaces `path` with `data` (text is written as UTF-8) atomically. On an `OSError` (a full
    disk, a read-only folder) `path` is as it was, no temporary file stays behind, and the error
    raised (of the original's class) names `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _naming(err, path) from err


def replace_folder(tmp, path) -> None:
    """Moves the finished folder `tmp` to `path` (same parent), replacing a folder already there: the
    old one is renamed aside first and removed last, so `path` is never a half-deleted folder."""
    tmp, path = Path(tmp), Path(path)
    aside = path.with_name(f".{path.name}.old")
    try:
        if path.exists():
            shutil.rmtree(aside, ignore_errors=True)
            os.replace(path, aside)
        os.replace(tmp, path)
    except OSError as err:
        raise _naming(err, path) from err
    shutil.rmtree(aside, ignore_errors=True)


def _naming(err: OSError, path: Path) -> OSError:
    """An error of `err`'s class (`OSError` maps the errno to it) that names `path`."""
    if err.errno is None:
        return OSError(f"{path}: not written ({err})")
    return OSError(err.errno, f"not written ({err.strerror})", str(path))
