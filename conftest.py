"""Runs every notebook in notebooks/ as a test under `python -m pytest`, in the fast setting, and
loads tests/background.py, which runs the long subprocess runs (notebooks among them) beside the
in-process tests.

nbmake collects notebooks only when `--nbmake` is passed, and would then also run the fixture
notebooks of `tests/browser/`; this hook hands the notebooks of notebooks/ alone to nbmake's
collector, as items that nbmake's runner executes in the background (their kernels are child
processes) and that wait for it at the end of the session. (It lives here, not in
notebooks/conftest.py, because the tests import `tests/conftest.py` as the module `conftest`, which
a second conftest.py loaded after it would replace.) A notebook's kernel inherits this process's
environment: `LPN_FAST=1` shrinks every size, and the test suite's XLA settings make compiling,
most of a fast run, quicker and cached. Values set outside win: `LPN_FAST=0 python -m pytest
notebooks` runs the full notebooks.
"""

import os
from pathlib import Path

import pytest

from tests.compile_settings import XLA_FLAGS, cache_folder

pytest_plugins = ["tests.background"]

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
NOTEBOOK_ENV = {
    "LPN_FAST": "1",
    "TQDM_DISABLE": "1",
    "XLA_FLAGS": XLA_FLAGS,
    "JAX_COMPILATION_CACHE_DIR": cache_folder(),
}
# Set for the whole session (a kernel started in a thread takes this process's environment); the
# tests' own settings (tests/conftest.py) are the same, and nothing but the notebooks reads LPN_FAST.
for _name, _value in NOTEBOOK_ENV.items():
    os.environ.setdefault(_name, _value)


def run_notebook(folder: Path, path: str, timeout: int):
    """nbmake's run of one notebook (its NotebookResult: the executed notebook and its error, if any)."""
    from nbmake.nb_run import NotebookRun

    return NotebookRun(Path(path), timeout).execute()


def pytest_collect_file(file_path, parent):
    if (
        file_path.suffix == ".ipynb"
        and file_path.parent == NOTEBOOKS
        and not getattr(parent.config.option, "nbmake", False)
    ):
        from nbmake.pytest_items import NotebookFailedException, NotebookFile, NotebookItem

        class BackgroundNotebook(NotebookItem):
            """nbmake's notebook test, made by tests/background.py: it waits for the run and fails
            as nbmake's own item does, with the failing cell."""

            def runtest(self):
                from tests.background import RUNS

                result = self.config.stash[RUNS].result(*self.run)
                if result.error is not None:
                    raise NotebookFailedException(result)

        class BackgroundNotebookFile(NotebookFile):
            def collect(self):
                item = BackgroundNotebook.from_parent(self, filename=str(self.path))
                item.run = (run_notebook, str(self.path), self.config.option.nbmake_timeout)
                item.add_marker(pytest.mark.background.with_args(*item.run))
                yield item

        return BackgroundNotebookFile.from_parent(parent, path=file_path)


def pytest_collection_modifyitems(items):
    """A notebook run is slow (a kernel of its own, which compiles every program again): `-m "not
    slow"`, the inner loop, leaves them to the full run."""
    for item in items:
        if item.path.parent == NOTEBOOKS and item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
