"""The teaching notebooks stay clean and listed: committed without outputs or execution counts, and
named 01_... to 07_... as the READMEs name them. (Running them is the root `conftest.py`'s job.)"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAME = re.compile(r"\b(0[1-7])_[a-z0-9_]+\.ipynb\b")


def named_in(readme: Path) -> dict[str, set[str]]:
    """{number: {notebook file names}} that a README mentions."""
    found: dict[str, set[str]] = {}
    for match in NAME.finditer(readme.read_text() if readme.exists() else ""):
        found.setdefault(match.group(1), set()).add(match.group(0))
    return found


def test_notebooks_exist_and_are_numbered():
    assert NOTEBOOKS, "no notebooks in notebooks/"
    names = [nb.name for nb in NOTEBOOKS]
    for name in names:
        assert NAME.fullmatch(name), f"{name}: notebooks are named 01_topic.ipynb to 07_topic.ipynb"
    numbers = [name[:2] for name in names]
    assert len(set(numbers)) == len(numbers), f"two notebooks share a number: {names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}, cell {i}: has outputs; see notebooks/README.md to clear them"
            assert cell.execution_count is None, f"{path.name}, cell {i}: has an execution count"
    assert "widgets" not in notebook.metadata, f"{path.name}: holds saved widget state; see notebooks/README.md"


@pytest.mark.parametrize("readme", ["notebooks/README.md", "README.md"])
def test_readmes_name_the_notebooks_that_exist(readme):
    present = {path.name[:2]: path.name for path in NOTEBOOKS}
    named = named_in(ROOT / readme)
    for number, names in named.items():
        assert len(names) == 1, f"{readme} names notebook {number} in different ways: {sorted(names)}"
        if number in present:
            assert names == {present[number]}, f"{readme} names {names.pop()}, the file is {present[number]}"
    if readme == "notebooks/README.md":
        missing = sorted(set(present) - set(named))
        assert not missing, f"{readme} does not list {[present[n] for n in missing]}"
        if len(present) == 7:
            assert set(named) == set(present), f"{readme} lists notebooks that do not exist"
