"""`lpn reproduce table2 --scale smoke` end to end, on 1 x 10 string grids, and `lpn eval` / `lpn
solve` on one of its 1-row models. The smoke run is a child process beside the other tests
(tests/background.py); `lpn eval` and `lpn solve` run here, on its models."""

import json

import pytest

from conftest import reproduce_smoke
from lpn.cli import main


@pytest.fixture(scope="module")
def table2_smoke(background):
    """Table 2 at smoke scale: 1 x 10 string grids, so every model has a one-entry row-count head.
    It runs beside the other tests (tests/background.py); the tests that use it wait at the end."""
    return background(reproduce_smoke, "table2")


pytestmark = pytest.mark.background.with_args(reproduce_smoke, "table2")


@pytest.mark.slow
def test_table2_smoke_runs_on_one_row_grids(table2_smoke):
    results = json.loads((table2_smoke / "results.json").read_text())
    cells = results["seeds"]["0"]
    assert set(cells) == {"In-Context", "TTT", "LPN Grad 0", "LPN Grad 1", "LPN Grad 1 ⋆⋆"}
    for row in cells.values():
        for cell in row.values():
            assert 0 <= cell["top1"] <= cell["top2"] <= 1
    assert cells["TTT"]["Grad 10"]["search"] == "ttt" and cells["LPN Grad 1"]["Grad 100"]["search"] == "gradient"
    assert (table2_smoke / "table.md").read_text().startswith("# Table 2")
    assert (table2_smoke / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.parametrize("search", ["gradient", "none"])
def test_eval_and_solve_a_one_row_model(table2_smoke, tmp_path, capsys, search):
    """`lpn eval` and `lpn solve` on a model of 1-row grids: the runner-up of its one-choice row
    head once crashed (`top_k` of 2 on a head of 1)."""
    checkpoint = next((table2_smoke / "models").glob("lpn-grad-1-s0-*"))
    out = tmp_path / "eval"
    argv = ["eval", str(checkpoint), "--data", "strings", "--limit", "4", "--search", search, "--steps", "2"]
    assert main([*argv, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["num_tasks"] == 4 and results["config"]["max_rows"] == 1
    assert 0 <= results["scores"]["top1"] <= results["scores"]["top2"] <= 1
    task = tmp_path / "task.json"
    row = lambda *c: [list(c)]  # noqa: E731
    task.write_text(
        json.dumps(
            {
                "train": [{"input": row(1, 2, 3), "output": row(3, 2, 1)}, {"input": row(4, 5), "output": row(5, 4)}],
                "test": [{"input": row(6, 7, 8), "output": row(8, 7, 6)}],
            }
        )
    )
    capsys.readouterr()
    assert main(["solve", str(checkpoint), str(task), "--search", search, "--steps", "2", "--no-color"]) == 0
    assert "attempt 2" in capsys.readouterr().out
