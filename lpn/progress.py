"""Progress bars: `tqdm.auto` (a widget in a notebook, text in a terminal), off where the caller
says so (`progress=False`, `--quiet`) or where `TQDM_DISABLE` is set. tqdm reads that variable only
for arguments its caller leaves out, so a bar built with `disable=not progress` showed under it."""

from __future__ import annotations

import os
import time

from tqdm.auto import tqdm

DELAY = 3.0  # seconds work runs before a bar that is shown "when it takes a while" appears (tqdm's delay)


def quiet() -> bool:
    """True where the environment turns progress bars off (TQDM_DISABLE set, and not to 0 or false)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")


def progress_bar(iterable=None, *, enabled: bool = True, **options) -> tqdm:
    """A `tqdm` bar over `iterable` (or one updated by hand: `total=`), shown when `enabled` and not
    `quiet()`."""
    return tqdm(iterable, disable=not enabled or quiet(), **options)


def set_postfix(bar: tqdm, **values) -> None:
    """`bar.set_postfix(**values)`, redrawn now unless the bar waits for its `delay` (tqdm redraws
    on a postfix even then, so a bar meant to appear only after some seconds appeared at once)."""
    if bar.disable:  # a disabled bar has no clock
        return
    waiting = bar.delay and time.time() - bar.start_t < bar.delay
    bar.set_postfix(refresh=not waiting, **values)
