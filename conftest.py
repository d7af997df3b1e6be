"""Runs every notebook in notebooks/ as a test under `python -m pytest`, in the fast setting.

nbmake collects notebooks only when `--nbmake` is passed, and would then also run the fixture
notebooks of `tests/browser/`; this hook hands the notebooks of notebooks/ alone to nbmake's
collector. (It lives here, not in notebooks/conftest.py, because the tests import
`tests/conftest.py` as the module `conftest`, which a second conftest.py loaded after it would
replace.) While a notebook runs, its kernel inherits this process's environment: `LPN_FAST=1`
shrinks every size, and the test suite's XLA settings make compiling, most of a fast run, quicker
and cached. Values set outside win: `LPN_FAST=0 python -m pytest notebooks` runs the full notebooks.
"""

import os
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
NOTEBOOK_ENV = {
    "LPN_FAST": "1",
    "TQDM_DISABLE": "1",
    "XLA_FLAGS": "--xla_backend_optimization_level=0",
    "JAX_COMPILATION_CACHE_DIR": os.environ.get("LPN_TEST_CACHE", "/tmp/lpn-test-xla-cache"),
}


def pytest_collect_file(file_path, parent):
    if (
        file_path.suffix == ".ipynb"
        and file_path.parent == NOTEBOOKS
        and not getattr(parent.config.option, "nbmake", False)
    ):
        from nbmake.pytest_items import NotebookFile  # --nbmake collects them itself

        return NotebookFile.from_parent(parent, path=file_path)


def pytest_collection_modifyitems(items):
    """A notebook run is slow (a kernel of its own, which compiles every program again): `-m "not slow"`,
    the inner loop, leaves them to the full run."""
    for item in items:
        if item.path.parent == NOTEBOOKS and item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if item.path.parent != NOTEBOOKS or item.path.suffix != ".ipynb":
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in NOTEBOOK_ENV.items():
            patch.setenv(name, os.environ.get(name, value))
        return (yield)
