"""`lpn reproduce table3` and `fig3` (on table3's models) end to end at smoke scale, one after the
other in child processes, beside the other tests (tests/background.py)."""

import json
from pathlib import Path

import pytest

from conftest import reproduce_smoke, run_lpn
from lpn.experiments import get_experiment


def table3_then_fig3(folder: Path) -> tuple[Path, Path, str]:
    """Table 3's smoke run, then Figure 3's on its models: both folders and what fig3 printed."""
    table3 = reproduce_smoke(folder, "table3")
    fig3 = folder / "fig3"
    said = run_lpn(
        "reproduce", "fig3", "--scale", "smoke", "--out", str(fig3), "--models", str(table3 / "models"), "--quiet"
    )
    return table3, fig3, said.stdout


@pytest.mark.slow
@pytest.mark.background.with_args(table3_then_fig3)
def test_table3_and_fig3_smoke_run_end_to_end(background):
    table3, fig3, fig3_said = background(table3_then_fig3)
    results = json.loads((table3 / "results.json").read_text())
    exp = get_experiment("table3")
    assert sum(len(row) for row in results["seeds"]["0"].values()) == len(exp.cells("smoke"))
    assert (table3 / "table.md").read_text().startswith("# Table 3")
    assert "training" not in fig3_said  # Table 3's models serve Figure 3
    fig3_results = json.loads((fig3 / "results.json").read_text())
    assert sum(len(row) for row in fig3_results["seeds"]["0"].values()) == len(get_experiment("fig3").cells("smoke"))
    assert (fig3 / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
