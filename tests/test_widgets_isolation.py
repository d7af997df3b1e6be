"""`lpn` runs headless: it must import without ipywidgets, anywidget or IPython installed.

Each check runs in a fresh interpreter where those modules are blocked (`sys.modules[name] =
None` makes any import of them, or of their submodules, raise ImportError), then imports `lpn`
and every one of its submodules except `lpn.widgets` (and `__main__`, which runs the CLI).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # each check starts an interpreter of its own

BLOCKED = ("ipywidgets", "anywidget", "IPython", "ipykernel", "traitlets", "comm")


def run_blocked(code: str) -> subprocess.CompletedProcess:
    prelude = f"import sys\nfor name in {BLOCKED!r}:\n    sys.modules[name] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_the_block_really_blocks():
    result = run_blocked("import ipywidgets")
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_lpn_and_all_its_core_modules_import_without_widget_packages():
    result = run_blocked("""
        import importlib, pkgutil
        import lpn

        names = []
        def visit(package):  # walk_packages would import lpn.widgets when installed in lpn/
            for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
                if info.name != "lpn.widgets" and not info.name.endswith(".__main__"):  # __main__ runs the CLI
                    names.append(info.name)
                    module = importlib.import_module(info.name)
                    if info.ispkg:
                        visit(module)
        visit(lpn)
        loaded = [m for m in sys.modules if m.startswith("lpn.widgets")]
        assert not loaded, loaded
        print(len(names), "modules")
    """)
    assert result.returncode == 0, result.stderr
    assert "modules" in result.stdout


def test_lpn_widgets_says_what_to_install_when_anywidget_is_missing():
    result = run_blocked("import lpn.widgets")
    assert result.returncode != 0
    assert "pip install 'lpn[notebook]'" in result.stderr
