"""Progress bars: `tqdm.auto` (a widget in a notebook, text in a terminal), off where the caller
says so (`progress=False`, `--quiet`) or where `TQDM_DISABLE` is set. tqdm reads that variable only
for arguments its caller leaves out, so a bar built with `disable=not progress` showed under it."""

from __future__ import annotations

import os

from tqdm.auto import tqdm


def quiet() -> bool:
    """True where the environment turns progress bars off (TQDM_DISABLE set, and not to 0 or false)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")


def progress_bar(iterable=None, *, enabled: bool = True, **options) -> tqdm:
    """A `tqdm` bar over `iterable` (or one updated by hand: `total=`), shown when `enabled` and not
    `quiet()`."""
    return tqdm(iterable, disable=not enabled or quiet(), **options)
