"""The command line's usage error and parser, in a leaf module: the commands import them from here,
not from `lpn.cli` (whose `main` imports the commands), so the import graph has no cycle."""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """A command line that cannot run as given."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors raised, so `main` prints them as one line like every other error."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")
