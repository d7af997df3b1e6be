"""`lpn reproduce table3` and `fig3` (on table3's models) end to end at smoke scale. A module of its
own, with the compiled programs freed between the two runs (see test_reproduce_strings.py)."""

import json

import jax
import pytest

from lpn.cli import main
from lpn.experiments import get_experiment


@pytest.fixture(scope="module")
def table3_smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "table3"
    assert main(["reproduce", "table3", "--scale", "smoke", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.slow
def test_table3_and_fig3_smoke_run_end_to_end(table3_smoke, tmp_path, capsys):
    results = json.loads((table3_smoke / "results.json").read_text())
    exp = get_experiment("table3")
    assert sum(len(row) for row in results["seeds"]["0"].values()) == len(exp.cells("smoke"))
    assert (table3_smoke / "table.md").read_text().startswith("# Table 3")
    jax.clear_caches()  # table3's programs: fig3 compiles its own
    out = tmp_path / "fig3"
    capsys.readouterr()
    argv = ["reproduce", "fig3", "--scale", "smoke", "--out", str(out), "--models", str(table3_smoke / "models")]
    assert main([*argv, "--quiet"]) == 0
    assert "training" not in capsys.readouterr().out  # Table 3's models serve Figure 3
    fig3 = json.loads((out / "results.json").read_text())
    assert sum(len(row) for row in fig3["seeds"]["0"].values()) == len(get_experiment("fig3").cells("smoke"))
    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
