"""One process at a time writes a run folder: `lpn train --out`, `lpn eval --out` and `lpn reproduce
--out` hold an exclusive lock on `RUN/.lock` for their whole life, so a second command on the same
folder stops at once with one line naming the folder and the process that holds it, instead of
both writing into it (one run's metrics beside the other's checkpoints).

The lock is `flock` on the open file, which holds this process's id for the message: the kernel
drops it when the process ends, however it ends, so a lock left by a killed run never blocks the
next. The file itself stays (removing it would race with a process opening it). In a run over
several processes only process 0 writes, so only it locks (`enabled`). The lock is advisory and
local: it does not stop other programs, nor processes on other hosts where the file system does
not carry flock across them (some NFS setups).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

LOCK_FILE = ".lock"


class RunFolderBusy(OSError):
    """The run folder is held by another process."""


def check_folder(folder: Path, flag: str = "--out") -> None:
    """Refuses a `folder` that exists as something other than a folder, naming it and `flag`."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, f"a file, not a folder: {flag} names the folder a run writes into", str(folder)
        )


@contextlib.contextmanager
def run_lock(folder, enabled: bool = True, flag: str = "--out"):
    """Holds `folder` (created if missing, and removed again if the block left it empty) for the
    block: `RunFolderBusy` naming the folder and the holder's process id if another process holds
    it; `NotADirectoryError` if `folder` is a file. With `enabled` false (a process other than 0 of
    a distributed run) it only checks the folder."""
    folder = Path(folder)
    check_folder(folder, flag)
    if not enabled:
        yield
        return
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    locked = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            raise RunFolderBusy(
                errno.EBUSY,
                f"in use by another run ({holder}); wait for it to end, or pass another {flag}",
                str(folder),
            ) from None
        locked = True
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        if locked and created and [p.name for p in folder.iterdir()] == [LOCK_FILE]:
            path.unlink()  # a command that failed before writing anything leaves no folder behind
            folder.rmdir()
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """'process PID' from the lock file's content, or a note that it does not say (a holder that has
    locked it but not yet written its id)."""
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    return f"process {text}" if text.isdigit() else "a process that has not yet written its id"
