"""`lpn reproduce NAME --pilot` (`lpn.pilot`): the calibration rule of docs/calibration.md run as
written: each rung timed, tried cheapest first, its reference cells only, on the pilot seed, into
pilot.json; a rung over the time cap is not tried and ends the ladder; Table 3's training keeps the
strongly-OOD patterns out."""

import json
from dataclasses import replace

import jax
import pytest

from lpn import pilot as pilot_module
from lpn.cli import main
from lpn.config import get_preset
from lpn.experiments import EXPERIMENTS, TABLE_1, get_experiment
from lpn.pattern import pattern_batch
from lpn.pilot import LADDERS, PILOT_SEED, Rung, cell_groups, reference_experiment, rung_scale

_TINY = dict(latent_dim=4, enc_layers=1, dec_layers=1, enc_heads=2, dec_heads=2, enc_head_dim=8, dec_head_dim=8)


def test_reference_cells_are_cells_of_their_table_and_the_ladders_grow_in_cost():
    for exp in EXPERIMENTS.values():
        cells = {(r.label, c.label) for r, c in exp.cells("cpu")}
        assert set(exp.reference) <= cells, (exp.name, set(exp.reference) - cells)
    assert {e.name for e in EXPERIMENTS.values() if e.reference} == {"table1", "table2", "table3"}
    for ladder, exp in ((LADDERS["pattern"], TABLE_1), (LADDERS["strings"], get_experiment("table2"))):
        assert not ladder[0].changes and rung_scale(exp, ladder[0]) == replace(exp.scales["cpu"], seeds=3)
        assert ladder[0].describe(exp).startswith("the setting before the ladder: ")  # amendment 2
        sizes = [rung_scale(exp, r).config() for r in ladder]
        cost = [(rung_scale(exp, r).steps * c.enc_layers * c.enc_head_dim, c.latent_dim) for r, c in zip(ladder, sizes)]
        assert all(a <= b for a, b in zip(cost, cost[1:])) and len(set(cost)) == len(cost)
    assert LADDERS["pattern"][1].describe(TABLE_1) == (
        "4x4 grids, 3x3 patterns, latent 16, 2+2 layers, width 32 (4 x 8), 3,000 steps"
    )
    cut = reference_experiment(TABLE_1, rung_scale(TABLE_1, LADDERS["pattern"][1]))
    assert [(r.label, c.label) for r, c in cut.cells("pilot")] == [("Grad 0", "Grad 0"), ("Grad 0", "Grad 100")]
    assert [t.label for t in cut.trainings] == ["Grad 0"] and not cut.claims
    with pytest.raises(ValueError, match="fig2 has no reference cells"):
        reference_experiment(get_experiment("fig2"), TABLE_1.scales["cpu"])


def test_table1_at_cpu_leaves_out_table5s_sample_25_row_and_counts_its_cell_groups():
    rows = {r.label for r, _ in TABLE_1.cells("cpu")}
    assert "Sample 25" not in rows and "Sample 25" in {r.label for r, _ in TABLE_1.cells("paper")}
    assert "Sample 25" not in {t.label for t in TABLE_1.trainings_at("cpu")}
    # per training: the plain prediction, the cut gradient search, Sample 250
    assert cell_groups(TABLE_1, "cpu") == 3 * 5


def test_training_patterns_of_the_ood_study_are_never_fully_dense():
    cfg = get_preset("pattern").replace(max_rows=4, max_cols=4, pattern_size=2, pattern_density=0.9)
    key = jax.random.key(0)
    coloured = lambda batch: (batch.outputs[:, 0] > 0).sum((-1, -2))  # noqa: E731
    assert int((coloured(pattern_batch(key, cfg, 256)) == 4).sum()) > 100  # without the rule: most of them
    kept_out = cfg.replace(pattern_exclude_full=True)
    assert int(coloured(pattern_batch(key, kept_out, 256)).max()) == 3
    assert int((coloured(pattern_batch(key, kept_out, 64, density=1.0)) == 4).sum()) == 64  # a test column's
    assert get_experiment("table3").scales["cpu"].config().pattern_exclude_full


@pytest.mark.slow
def test_pilot_records_each_rung_and_stops_at_the_first_that_passes_or_over_the_cap(tmp_path, monkeypatch, capsys):
    """A table cut to its Grad 0 row, two tiny rungs: with the band opened to 0-100% the first rung
    passes and the second is never run; with the cap at zero minutes the first is not tried."""
    exp = replace(TABLE_1, rows=TABLE_1.rows[:1], trainings=TABLE_1.trainings[:1])
    exp = replace(exp, scales={**exp.scales, "cpu": replace(exp.scales["cpu"], tasks=8, rows=None)})
    monkeypatch.setitem(EXPERIMENTS, "table1", exp)
    ladder = (Rung("T1", dict(_TINY), 3), Rung("T2", dict(_TINY, latent_dim=6), 6))
    monkeypatch.setitem(LADDERS, "pattern", ladder)
    monkeypatch.setattr(pilot_module, "TIMED_STEPS", 2)
    monkeypatch.setattr(pilot_module, "BAND", (0.0, 100.0))
    out = tmp_path / "t1"
    main(["reproduce", "table1", "--pilot", "--out", str(out), "--quiet"])
    record = json.loads((out / "pilot.json").read_text())
    assert record["chosen"] == "T1" and [r["rung"] for r in record["rungs"]] == ["T1"]
    assert record["pilot_seed"] == PILOT_SEED and record["command"].startswith("lpn reproduce table1 --pilot")
    assert record["commit"] and record["reference"] == [["Grad 0", "Grad 0"], ["Grad 0", "Grad 100"]]
    entry = record["rungs"][0]
    assert set(entry["reference"]) == {"Grad 0 / Grad 0", "Grad 0 / Grad 100"}
    assert all(0 <= v["top1"] <= v["top2"] <= 100 for v in entry["reference"].values())
    assert entry["passed"] and entry["estimated_minutes"] > 0 and set(entry["step_seconds"]) == {"Grad 0"}
    assert str(PILOT_SEED) in json.loads((out / "pilot" / "T1" / "results.json").read_text())["seeds"]

    monkeypatch.setattr(pilot_module, "CAP_MINUTES", 0.0)
    capped = tmp_path / "capped"
    main(["reproduce", "table1", "--pilot", "--out", str(capped), "--quiet"])
    record = json.loads((capped / "pilot.json").read_text())
    assert record["chosen"] is None and "no rung passes" in record["outcome"]
    (entry,) = record["rungs"]
    assert not entry["passed"] and entry["why"].startswith("not tried") and "reference" not in entry
    assert not (capped / "pilot" / "T1").exists()
    assert "pilot of table1: no rung passes" in capsys.readouterr().out


def test_pilot_takes_no_flag_of_a_table_run(tmp_path, capsys):
    assert main(["reproduce", "table1", "--pilot", "--out", str(tmp_path), "--seeds", "2"]) == 2
    assert "--pilot chooses the cpu scale" in capsys.readouterr().err


def test_each_cpu_scale_agrees_with_its_recorded_pilot():
    """The shipped cpu scales follow docs/results/NAME/pilot.json: a table whose pilot chose no rung
    says so (Scale.uncalibrated) and one whose pilot chose a rung is that rung, at the table's seeds."""
    from pathlib import Path

    results = Path(__file__).parent.parent / "docs" / "results"
    for exp in EXPERIMENTS.values():
        if not exp.reference:
            continue
        record = json.loads((results / exp.name / "pilot.json").read_text())
        cpu = exp.scales["cpu"]
        assert record["experiment"] == exp.name and cpu.seeds == record["table_seeds"] == 3
        if record["chosen"] is None:
            assert cpu.uncalibrated and ("floor at this scale" in cpu.uncalibrated) != (
                "ceiling at this scale" in cpu.uncalibrated
            ), exp.name
        else:
            assert cpu.uncalibrated is None, exp.name
            (rung,) = [
                r for r in LADDERS["strings" if exp.data == "strings" else "pattern"] if r.name == record["chosen"]
            ]
            assert rung_scale(exp, rung) == cpu, exp.name
            assert max(r["estimated_minutes"] for r in record["rungs"] if r["rung"] == rung.name) <= 120
