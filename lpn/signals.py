"""Stopping at a boundary on Ctrl-C or SIGTERM: `signals_caught` notes the first signal instead of
acting on it, so a training ends at the end of its chunk with a checkpoint (`lpn.train`) and `lpn
reproduce` at the end of a training or a group of cells; a second signal acts as before."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

_catching: list[list[str]] = []  # the lists of the signals_caught blocks now open, innermost last


@contextlib.contextmanager
def signals_caught(enabled: bool = True, stopping: str = "at the end of this chunk to save a checkpoint there"):
    """Within it, the first SIGINT or SIGTERM is not acted on but noted: its name goes into the
    yielded list, a line on stderr says where the run is `stopping`, and the previous handlers come
    back, so that a second signal acts as before. Handlers can only be set in the main thread:
    elsewhere, or if not `enabled`, nothing changes. Nested in another (a training inside `lpn
    reproduce`), it shares the outer block's list and handlers, so the outer code sees a signal the
    training did not act on (one in its last chunk)."""
    caught: list[str] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield caught
        return
    if _catching:
        yield _catching[-1]
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in signals}

    def restore():
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)  # None: not set from Python

    def note(signum, frame):
        caught.append(signal.Signals(signum).name)
        restore()
        print(
            f"\n{caught[0]}: stopping {stopping}; another {caught[0]} quits without saving",
            file=sys.stderr,
            flush=True,
        )

    for s in signals:
        signal.signal(s, note)
    _catching.append(caught)
    try:
        yield caught
    finally:
        _catching.pop()
        restore()
