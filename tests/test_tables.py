"""The verdicts of `lpn reproduce` on the paper's orderings (docs/calibration.md, "Verdicts"): paired
over seeds, with a word for the floor, the ceiling and a single seed, judged on hand-made results."""

import json
from dataclasses import replace

import pytest

from lpn.experiments import get_experiment
from lpn.tables import (
    CEILING,
    FLOOR,
    HOLDS,
    NOT_RUN,
    ONE_SEED,
    REVERSED,
    RULE,
    TOO_CLOSE,
    claims,
    summary,
    verdict,
    verdicts,
    write_table,
)

_TABLE_2 = get_experiment("table2")
# Table 2 with its cpu scale taken as calibrated (the shipped one is not: its claims get no verdict)
EXP = replace(_TABLE_2, scales={**_TABLE_2.scales, "cpu": replace(_TABLE_2.scales["cpu"], uncalibrated=None)})
CLAIM = "LPN with Grad 10 search beats the in-context model"  # ("LPN Grad 1", "Grad 10") over ("In-Context", "Grad 0")


def results_of(better, worse, other=0.5):
    """Table 2's results, one seed per value: `better` in LPN Grad 1 / Grad 10, `worse` in
    In-Context / Grad 0 (top-1 in %, or "diverged"), `other` (a fraction) everywhere else."""
    seeds = {}
    for seed, (a, b) in enumerate(zip(better, worse)):
        cells = seeds[str(seed)] = {}
        for r, c in EXP.cells("cpu"):
            value = {("LPN Grad 1", "Grad 10"): a, ("In-Context", "Grad 0"): b}.get((r.label, c.label), other * 100)
            cell = {"diverged": True, "step": 40} if value == "diverged" else {"top1": value / 100}
            cells.setdefault(r.label, {})[c.label] = {**cell, "search": "x", "budget": 0}
    return {"seeds": seeds}


def judged(better, worse):
    table = summary(EXP, "cpu", results_of(better, worse))
    found = {text: (word, numbers) for text, word, numbers in claims(EXP, table)}
    return found[CLAIM]


def test_every_seed_ahead_holds_where_the_unpaired_means_are_close():
    """The seeds' spreads overlap (50.5 ± 24.5 against 50.0 ± 24.5: the old unpaired rule said
    "too close to call"), but every seed gains half a point: the claim holds."""
    word, numbers = judged((20.5, 50.5, 80.5), (20.0, 50.0, 80.0))
    assert word == HOLDS
    assert numbers.startswith("A − B per seed: +0.5, +0.5, +0.5; mean +0.5, s.e. 0.0; ours 50.5 vs 50.0")
    assert numbers.endswith("paper 86.1 vs 77.7")


@pytest.mark.parametrize(
    "better, worse, word",
    [
        ((30, 40, 60), (20, 25, 30), HOLDS),  # +10, +15, +30
        ((20, 25, 30), (30, 40, 60), REVERSED),  # the mirror
        ((30, 40, 60), (25, 41, 50), TOO_CLOSE),  # +5, -1, +10: one seed disagrees
        ((30, 40), (30, 40), TOO_CLOSE),  # no difference at all
        ((1, 4, 2), (0, 0, 0), FLOOR),  # every seed ahead, but both below 5%
        ((99, 100, 100), (96, 97, 98), CEILING),  # both above 95%
        ((60,), (20,), ONE_SEED),  # 40 points ahead, but one seed decides nothing
        ((3,), (1,), FLOOR),  # at the floor, one seed or many
    ],
)
def test_each_branch_of_the_rule(better, worse, word):
    assert judged(better, worse)[0] == word


def test_the_floor_and_ceiling_need_both_cells():
    assert judged((10, 12, 11), (1, 2, 0))[0] == HOLDS  # one cell at the floor: the claim is decided
    assert judged((99, 99, 99), (90, 91, 92))[0] == HOLDS


def test_a_diverged_seed_is_left_out_of_the_pairs():
    word, numbers = judged((30, 40, "diverged"), (20, 25, 90))
    assert word == HOLDS and "A − B per seed: +10.0, +15.0;" in numbers
    assert "left out (diverged): seed 2" in numbers
    table = summary(EXP, "cpu", results_of((30, 40, "diverged"), (20, 25, 90)))
    cell = table["LPN Grad 1"]["Grad 10"]
    assert cell["n"] == 2 and cell["mean"] == pytest.approx(35.0) and cell["diverged"] == [{"seed": 2, "step": 40}]
    assert judged(("diverged",), (20,))[0] == NOT_RUN  # no seed with both


def test_verdict_reports_the_differences_by_seed():
    found = verdict({"seeds": {"0": 50.0, "2": 70.0, "1": 40.0}}, {"seeds": {"0": 45.0, "1": 30.0, "2": 50.0}})
    assert found.word == HOLDS and found.differences == {"0": 5.0, "1": 10.0, "2": 20.0}
    assert found.better == pytest.approx(160 / 3) and found.stderr == pytest.approx(4.409585518)
    assert verdict({}, {"seeds": {"0": 1.0}}).word == NOT_RUN


def test_table_md_prints_each_claims_differences_and_the_rule(tmp_path):
    results = results_of((30, 40, "diverged"), (20, 25, 90))
    results.update(
        settings={"scale": "cpu"},
        command="lpn reproduce table2 --scale cpu --out out",
        environment={"lpn": "0", "jax": "0", "devices": "1 x cpu"},
        seconds=600,
        minutes={"total": 10.0, "training": 7.0, "evaluation": 3.0},
        trainings={
            "LPN Grad 1": {"2": {"diverged": "training diverged between steps 30 and 40 (loss nan)", "step": 40}}
        },
    )
    results["summary"] = summary(EXP, "cpu", results)
    results["claims"] = verdicts(EXP, results["summary"])
    write_table(tmp_path / "table.md", EXP, results)
    text = (tmp_path / "table.md").read_text()
    assert "`lpn reproduce table2 --scale cpu --out out`" in text and "10 min (training 7, evaluating 3)" in text
    assert f"- {HOLDS}: {CLAIM} (A − B per seed: +10.0, +15.0;" in text
    assert text.rstrip().endswith(RULE)
    assert "**35.0** ± 5.0 (2 seeds; diverged: seed 2, step 40)" in text
    assert "LPN Grad 1, seed 2: training diverged between steps 30 and 40 (loss nan); its cells hold no numbers" in text
    claim = next(c for c in results["claims"] if c["claim"] == CLAIM)
    assert claim["verdict"] == HOLDS and claim["differences"] == {"0": 10.0, "1": 15.0}
    json.dumps(results)  # what results.json holds


def test_a_cell_whose_every_seed_diverged_says_so(tmp_path):
    table = summary(EXP, "cpu", results_of(("diverged",), (20,)))
    from lpn.tables import _cell_text

    assert _cell_text(table["LPN Grad 1"]["Grad 10"]).startswith("diverged (seed 0, step 40)<br>paper 86.1")


def test_an_uncalibrated_scale_says_why_above_its_numbers_and_decides_no_claim(tmp_path):
    """A scale no setting of whose ladder passed the calibration rule prints why, and its claims,
    however far apart their seeds, get no verdict (docs/calibration.md: "No setting passes")."""
    from lpn.tables import UNCALIBRATED

    why = "ceiling at this scale: no rung of the ladder passed (pilot.json)"
    exp = replace(EXP, scales={**EXP.scales, "cpu": replace(EXP.scales["cpu"], uncalibrated=why)})
    results = results_of((30, 40, 60), (20, 25, 30))  # every seed far ahead: "holds" at a calibrated scale
    results.update(
        settings={"scale": "cpu"},
        command="",
        environment={"lpn": "0", "jax": "0", "devices": "1 x cpu"},
        seconds=60,
    )
    results["summary"] = summary(exp, "cpu", results)
    assert {c["verdict"] for c in verdicts(exp, results["summary"], "cpu")} == {UNCALIBRATED}
    assert dict((t, w) for t, w, _ in claims(exp, results["summary"]))[CLAIM] == HOLDS  # the pairs themselves
    write_table(tmp_path / "table.md", exp, results)
    text = (tmp_path / "table.md").read_text()
    assert f"**Uncalibrated scale**: {why}" in text
    assert text.index("**Uncalibrated scale**") < text.index("| LPN Grad 1 |")
    assert f"- {UNCALIBRATED}: {CLAIM} (A − B per seed: +10.0, +15.0, +30.0;" in text


@pytest.mark.parametrize("name", ["table1", "fig2", "table2", "table3", "fig3", "table11"])
def test_every_scale_of_every_experiment_has_cells_and_writes_its_table_and_figure(name, tmp_path):
    """Table 1's cpu scale runs without the Sample 25 row and Table 11's scales are Table 1's: a
    scale's row filter once left Table 11 no cell at all, and table.md looked up the missing row
    after a whole run (the smoke scale, which every test ran, keeps every row)."""
    from lpn.figures import write_figure

    exp = get_experiment(name)
    for scale in exp.scales:
        cells = exp.cells(scale)
        assert cells, f"{name} at {scale} runs no cell"
        seeds = {"0": {}, "1": {}}
        for seed, value in (("0", 0.4), ("1", 0.6)):
            for r, c in cells:
                seeds[seed].setdefault(r.label, {})[c.label] = {"top1": value, "search": "x", "budget": 0}
        results = {
            "seeds": seeds,
            "settings": {"scale": scale},
            "command": "",
            "environment": {"lpn": "0", "jax": "0", "devices": "1 x cpu"},
            "seconds": 60,
        }
        results["summary"] = summary(exp, scale, results)
        results["claims"] = verdicts(exp, results["summary"], scale)
        write_table(tmp_path / f"{scale}.md", exp, results)
        text = (tmp_path / f"{scale}.md").read_text()
        assert all(f"| {label} |" in text for label in {r.label for r, _ in cells})
        write_figure(tmp_path / f"{scale}.png", exp, results)
        assert (tmp_path / f"{scale}.png").stat().st_size > 0
