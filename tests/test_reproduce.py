"""`lpn reproduce`: the experiment specs agree with themselves and the methods' tables, the runner
trains each model once, writes results.json / table.md / figure.png with the paper's numbers, and
resumes where it stopped."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import reproduce_smoke
from lpn.architectures import ARCHITECTURES
from lpn.cli import main
from lpn.experiment_spec import Column, Row
from lpn.experiments import EXPERIMENTS, TABLE_11_ROWS, get_experiment
from lpn.methods import row as method_row
from lpn.reproduce import cell_method, model_name
from lpn.search import gradient_search, truncate


@pytest.mark.parametrize("exp", EXPERIMENTS.values(), ids=lambda e: e.name)
def test_each_spec_is_whole(exp):
    """Every row trains a model the experiment lists, with a method that model has; every paper
    number and claim names a cell the experiment runs; every scale builds a valid config."""
    labels = {t.label for t in exp.trainings}
    assert len(labels) == len(exp.trainings)
    assert len({r.label for r in exp.rows}) == len(exp.rows) and len({c.label for c in exp.columns}) == len(exp.columns)
    cells = {(r.label, c.label) for r, c in exp.cells("paper")}
    for r, c in exp.cells("paper"):
        assert r.training in labels
        name, _ = cell_method(r, c)
        method_row(name, ARCHITECTURES[exp.training(r.training).architecture])  # KeyError if it has no such method
    assert set(exp.paper) <= cells, set(exp.paper) - cells
    for claim in exp.claims:
        assert claim.better in cells and claim.worse in cells
    assert set(exp.scales) == {"smoke", "cpu", "paper"}
    for sizes in exp.scales.values():
        for training in exp.trainings:
            sizes.config().replace(**training.changes)  # ConfigError if a mode does not fit the scale


def test_paper_numbers_are_the_papers():
    assert get_experiment("table1").paper[("Grad 1", "Grad 100")] == (99.5, 0.5)
    assert get_experiment("table2").paper[("TTT", "Grad 100")] == (11.8, 1.9)
    assert get_experiment("table3").paper[("LPN Grad 1", "1.0 · Grad 100")] == (88.0, 5.3)
    assert get_experiment("fig2").paper[("Grad 0", "Grad 100, prior init")] == (32.5, None)
    assert get_experiment("table11").paper[
        ("Encoder Sampling", "1201")
    ]  # 400 steps of gradient search == (10.62, None)
    with pytest.raises(ValueError, match="unknown experiment 'table9'.*table1"):
        get_experiment("table9")


def test_a_budget_of_0_is_the_plain_prediction_and_a_row_may_fix_its_budget():
    assert cell_method(Row("r", "t"), Column("Grad 0", 0)) == ("none", 0)
    assert cell_method(Row("r", "t", "ttt"), Column("Grad 0", 0)) == ("none", 0)
    assert cell_method(Row("r", "t", "ttt"), Column("Grad 10", 10)) == ("ttt", 10)
    assert cell_method(Row("r", "t"), Column("Sample 250", 250, "random")) == ("random", 250)
    assert cell_method(Row("r", "t", "prior-gradient"), Column("Grad 0", 0)) == ("prior-gradient", 0)
    assert cell_method(Row("r", "t", "gradient", budget=100), Column("3", pairs=3)) == ("gradient", 100)


def test_model_names_are_fixed_by_what_is_trained(tiny_cfg):
    a = model_name("Grad 1 ⋆⋆", "lpn", tiny_cfg, 500, 0, "pattern")
    assert a == model_name("Grad 1 ⋆⋆", "lpn", tiny_cfg, 500, 0, "pattern") and a.startswith("grad-1-s0-")
    others = [
        model_name("Grad 1 ⋆⋆", "lpn", tiny_cfg, 500, 1, "pattern"),
        model_name("Grad 1 ⋆⋆", "in-context", tiny_cfg, 500, 0, "pattern"),
        model_name("Grad 1 ⋆⋆", "lpn", tiny_cfg.replace(train_search_steps=1), 500, 0, "pattern"),
        model_name("Grad 1 ⋆⋆", "lpn", tiny_cfg, 400, 0, "pattern"),
        model_name("Grad 1 ⋆⋆", "lpn", tiny_cfg, 500, 0, "strings"),
    ]
    assert len({a, *others}) == 6


@pytest.mark.slow
def test_a_cut_gradient_search_is_the_shorter_search(tiny_model, random_pairs):
    key = jax.random.key(3)
    long, short = (
        gradient_search(tiny_model, random_pairs, key, steps=12),
        gradient_search(tiny_model, random_pairs, key, steps=4),
    )
    cut = truncate(long, 4)
    np.testing.assert_allclose(cut.latents, short.latents, atol=1e-5)
    np.testing.assert_allclose(cut.scores, short.scores, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cut.best, short.best, atol=1e-5)
    assert int(cut.num_evals) == int(short.num_evals)
    assert truncate(long, 0).latents.shape[0] == 1
    with pytest.raises(ValueError, match="12-step search to 13"):
        truncate(long, 13)


def test_the_prior_start_is_the_papers_mean_of_the_pairs_draws(tiny_model, random_pairs):
    """Figure 2's and Table 11's Gaussian init: one N(0, I) draw per given pair (3 of the 4 slots
    here), then their mean, N(0, I/3); `prior_draws="one"` keeps the single N(0, I) draw."""
    from lpn.search import prior_latent, start_latents

    keys = jax.random.split(jax.random.key(0), 4000)
    draw = jax.jit(jax.vmap(prior_latent, in_axes=(None, 0, None, None)), static_argnums=(2, 3))
    starts = {d: draw(random_pairs, keys, tiny_model.config.latent_dim, d) for d in ("pairs", "one")}
    assert float(jnp.var(starts["pairs"])) == pytest.approx(1 / 3, rel=0.05)
    assert float(jnp.var(starts["one"])) == pytest.approx(1.0, rel=0.05)
    assert abs(float(jnp.mean(starts["pairs"]))) < 0.02
    # the searches' start from the prior is that draw (from the first half of the key they are given)
    first = start_latents(tiny_model, random_pairs, keys[0], from_prior=True)[0]
    np.testing.assert_allclose(first, draw(random_pairs, jax.random.split(keys[0])[:1], first.shape[0], "pairs")[0])
    with pytest.raises(ValueError, match="prior_draws must be one of pairs, one"):
        start_latents(tiny_model, random_pairs, keys[0], from_prior=True, prior_draws="two")


def test_list_says_what_each_experiment_measures_and_costs(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in EXPERIMENTS:
        assert f"\n{name} " in f"\n{out}"
    assert out.count("--scale cpu") == len(EXPERIMENTS) and "on 2-core CPU" in out and "on one GPU" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["reproduce"], "name an experiment"),
        (["reproduce", "table1"], "--out DIR is required"),
        (["reproduce", "table7", "--out", "{tmp}"], "unknown experiment 'table7'"),
        (["reproduce", "table1", "--out", "{tmp}", "--model", "pattern_2d"], "table1 trains 6"),
        (["reproduce", "table1", "--out", "{tmp}", "--seeds", "0"], "at least 1"),
    ],
)
def test_bad_commands_are_one_line_errors(argv, message, tmp_path, capsys):
    status = main([a.replace("{tmp}", str(tmp_path / "out")) for a in argv])
    err = capsys.readouterr().err
    assert status in (1, 2) and message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def table1_smoke(background):
    return background(reproduce_smoke, "table1")


# The tests on table1's smoke run wait for it; it runs beside the other tests (tests/background.py)
on_table1_smoke = pytest.mark.background.with_args(reproduce_smoke, "table1")


@pytest.mark.slow
@on_table1_smoke
def test_table1_smoke_writes_results_table_and_figure(table1_smoke):
    results = json.loads((table1_smoke / "results.json").read_text())
    exp = get_experiment("table1")
    assert results["settings"]["experiment"] == "table1" and results["settings"]["scale"] == "smoke"
    assert results["environment"]["jax"] == jax.__version__
    assert set(results["trainings"]) == {t.label for t in exp.trainings}
    cells = results["seeds"]["0"]
    assert sum(len(row) for row in cells.values()) == 36
    cell = cells["Grad 1"]["Grad 20"]
    assert 0 <= cell["top1"] <= cell["top2"] <= 1 and cell["search"] == "gradient" and cell["budget"] == 20
    assert cells["Grad 1"]["Sample 250"]["search"] == "random" and cells["Grad 0"]["Grad 0"]["search"] == "none"
    # cut budgets count the evaluations of their own length: 3 pairs x (3 x 20 + 1)
    assert cell["num_evals"] == 3 * 61 and cells["Grad 1"]["Grad 100"]["num_evals"] == 3 * 301
    assert results["summary"]["Grad 1"]["Grad 100"]["paper"] == {"mean": 99.5, "std": 0.5}
    table = (table1_smoke / "table.md").read_text()
    assert table.startswith("# Table 1") and "paper 99.5 ± 0.5" in table and "| Sample 25 |" in table
    assert "The paper's orderings at this scale" in table
    assert (table1_smoke / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((table1_smoke / "models").glob("*/done.json"))) == 6


@pytest.mark.slow
@on_table1_smoke
def test_a_second_run_needs_resume_and_then_redoes_nothing(table1_smoke, capsys):
    assert main(["reproduce", "table1", "--scale", "smoke", "--out", str(table1_smoke)]) == 1
    assert "results.json exists: pass --resume" in capsys.readouterr().err
    results = json.loads((table1_smoke / "results.json").read_text())
    del results["seeds"]["0"]["Grad 5"]["Grad 20"], results["seeds"]["0"]["Sample 5"]  # as if stopped there
    results["seeds"]["0"]["Grad 0"]["Sample 250"]["budget"] = 100  # as if the spec had changed since
    (table1_smoke / "results.json").write_text(json.dumps(results))
    assert main(["reproduce", "table1", "--scale", "smoke", "--out", str(table1_smoke), "--resume", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "training" not in out  # every model was trained already
    evaluated = [line for line in out.splitlines() if line.startswith("seed 0:")]
    assert len(evaluated) == 5 and "Grad 0 / Sample 250" in evaluated[0] and "Grad 5 / Grad 20" in evaluated[1]
    assert "Grad 5 / Grad 1 " not in out and all("Sample 5 /" in line for line in evaluated[2:])
    again = json.loads((table1_smoke / "results.json").read_text())
    assert sum(len(row) for row in again["seeds"]["0"].values()) == 36
    assert again["seeds"]["0"]["Grad 0"]["Sample 250"]["budget"] == 250
    assert len(again["sessions"]) == 1 and again["seconds"] > results["seconds"]


@pytest.mark.slow
@on_table1_smoke
def test_fig2_reuses_table1s_models_and_a_mismatched_resume_is_refused(table1_smoke, tmp_path, capsys):
    out = tmp_path / "fig2"
    status = main(
        [
            "reproduce",
            "fig2",
            "--scale",
            "smoke",
            "--out",
            str(out),
            "--models",
            str(table1_smoke / "models"),
            "--quiet",
        ]
    )
    assert status == 0 and "training" not in capsys.readouterr().out
    table = json.loads((out / "results.json").read_text())["summary"]
    assert table["Grad 1"]["Grad 100, encoder init"]["paper"] == {"mean": 99.5, "std": None}
    assert main(["reproduce", "table1", "--scale", "smoke", "--out", str(out), "--resume"]) == 1
    assert "holds a run of other settings" in capsys.readouterr().err


@pytest.mark.slow
@on_table1_smoke
def test_table11_searches_a_given_checkpoint(table1_smoke, tmp_path, capsys):
    checkpoint = next((table1_smoke / "models").glob("grad-1-s0-*"))
    out = tmp_path / "t11"
    assert (
        main(["reproduce", "table11", "--scale", "smoke", "--out", str(out), "--model", str(checkpoint), "--quiet"])
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    # recorded relative to the folder it ran in: no machine path in results that ship
    recorded = results["settings"]["model"]
    assert not recorded.startswith("/") and (Path.cwd() / recorded).resolve() == checkpoint.resolve()
    assert "training" not in capsys.readouterr().out
    assert not (out / "models").exists()
    table = results["summary"]
    assert set(table) == {label for label, _ in TABLE_11_ROWS}
    assert all(
        set(row) == {"31"} for row in table.values()
    )  # the smoke scale's one column: 10 gradient steps' evaluations
    assert "| Encoder Sampling |" in (out / "table.md").read_text()


@pytest.mark.slow
def test_a_diverged_training_is_recorded_as_diverged_with_no_numbers(tmp_path, capsys, monkeypatch):
    import lpn.train
    from lpn.checkpoint import save_checkpoint
    from lpn.model import LPN

    def diverges(cfg, steps, *, options, **kwargs):
        out_dir = options.out_dir
        save_checkpoint(out_dir, LPN(cfg, jax.random.key(0)), step=2)
        raise lpn.train.TrainingDiverged(
            f"training diverged between steps 2 and 3 (loss nan, ...); the last good "
            f"checkpoint is {out_dir}/step-00000002"
        )

    monkeypatch.setattr(lpn.train, "train", diverges)
    out = tmp_path / "t11"
    assert main(["reproduce", "table11", "--scale", "smoke", "--out", str(out), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "Grad 1 (seed 0) diverged: training diverged between steps 2 and 3 (loss nan, ...); its cells are" in said
    results = json.loads((out / "results.json").read_text())
    record = results["trainings"]["Grad 1"]["0"]
    assert record["step"] == 3 and record["diverged"] == "training diverged between steps 2 and 3 (loss nan, ...)"
    cells = results["seeds"]["0"]["Encoder Sampling"]
    assert all(cell["diverged"] and "top1" not in cell for cell in cells.values())  # no checkpoint's numbers
    assert results["summary"]["Encoder Sampling"]["31"]["n"] == 0  # no seed left to average
    table = (out / "table.md").read_text()
    assert "diverged (seed 0, step 3)" in table
    assert "Grad 1, seed 0: training diverged between steps 2 and 3 (loss nan, ...); its cells hold no numbers" in table
    assert "step-00000002" not in table  # the error's checkpoint path stays out of what ships
    # a second run finds the training done, and diverged: nothing is trained or evaluated again
    assert main(["reproduce", "table11", "--scale", "smoke", "--out", str(out), "--resume", "--quiet"]) == 0
    assert json.loads((out / "results.json").read_text())["seeds"] == results["seeds"]


# Every experiment of `lpn reproduce --list` runs end to end at smoke scale somewhere in the suite:
# table1 (fixture above), fig2 and table11 on its models; table2 in test_reproduce_strings.py, table3 and fig3
# (on table3's models) in test_reproduce_ood.py. A new experiment fails this check until a smoke run is added for it.
SMOKE_RUNS = {"table1", "fig2", "table11", "table2", "table3", "fig3"}


def test_every_experiment_has_a_smoke_run():
    assert SMOKE_RUNS == set(EXPERIMENTS)
