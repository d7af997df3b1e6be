"""Training on ARC tasks (`lpn train --data arc-agi-1/training`, alone or mixed with the procedural
families) and the held-out split of the families (`procedural-train`, `procedural-holdout`)."""

import json
import warnings

import numpy as np
import pytest

from conftest import TINY
from lpn.checkpoint import read_meta
from lpn.cli import main
from lpn.config import get_preset
from lpn.leakage import check_sources, read_run, write_run
from lpn.tasks import LeakageError, load_arc
from lpn.tasks.procedural import FAMILIES, HOLDOUT
from lpn.tasks.sources import (
    PROCEDURAL,
    ArcSource,
    arc_source,
    draw_arc_tasks,
    generated_tasks,
    host_batches,
    make_mix,
    mixed_tasks,
    query_batch,
    recorded_sources,
)

CFG = TINY.replace(max_rows=6, max_cols=6, num_pairs=3, batch_size=4)
TINY_SET = [f"{k}={v}" for k, v in TINY.to_dict().items() if v != getattr(get_preset("pattern_2d"), k)]


def solved(task):
    return [p for p in task.train + task.test if p.output is not None]


def same_pair(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_an_arc_source_keeps_the_tasks_that_fit_and_counts_the_rest():
    source = arc_source(CFG, "arc-agi-1/training")
    fitting = load_arc("arc-agi-1/training").filter_size(6, 6)
    assert source.total == 400 and len(source.tasks) == len(fitting) > 0
    assert [t.name for t in source.tasks] == fitting.ids
    assert f"{len(fitting)} of 400 tasks fit 6x6 ({400 - len(fitting)} skipped as too big)" in source.describe(CFG)


def test_nothing_that_fits_is_a_clear_error(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"train": [{"input": [[1] * 7], "output": [[1]]}], "test": []}))
    with pytest.raises(ValueError, match="no task of .*big.json fits this model's 6x6 grids"):
        arc_source(CFG, str(big))


def test_arc_batches_have_the_configs_shape_and_real_pairs_of_one_task():
    source = arc_source(CFG, "arc-agi-1/training", augment=False)
    batch = next(host_batches(CFG, make_mix(CFG, "arc-agi-1/training", augment=False), 0))
    assert batch.inputs.shape == (4, 3, 6, 6) and batch.pair_mask.all()
    tasks = draw_arc_tasks(source, np.random.default_rng(1), 20, num_pairs=3, num_test=1)
    by_name = {t.name: t for t in source.tasks}
    for task in tasks:
        pool = solved(by_name[task.name])
        assert len(task.train) == 3 and len(task.test) == 1
        assert all(any(same_pair(p, q) for q in pool) for p in task.train + task.test)
        if len(pool) >= 4:  # subsampled without repeats; shorter tasks cycle their pairs
            assert len({p.input.tobytes() + p.output.tobytes() for p in task.train + task.test}) == 4


def test_augmentation_is_one_symmetry_and_colour_map_for_all_pairs_of_a_task():
    source = arc_source(CFG, "arc-agi-1/training")
    by_name = {t.name: t for t in source.tasks}
    tasks = draw_arc_tasks(source, np.random.default_rng(2), 40, num_pairs=3, num_test=1)
    assert any(t.meta["augmentation"].symmetry != 0 for t in tasks)
    changed = 0
    for task in tasks:
        augmentation, pool = task.meta["augmentation"], solved(by_name[task.name])
        assert augmentation.colours[0] == 0
        for pair in task.train + task.test:
            back = (augmentation.invert(pair.input), augmentation.invert(pair.output))
            assert any(same_pair(back, q) for q in pool)
            changed += not same_pair(pair, back)
    assert changed > 0


def test_a_mix_draws_from_each_source_by_its_weight():
    mix = make_mix(CFG, "arc-agi-1/training+procedural-train", [1, 3])
    assert isinstance(mix.parts[0], ArcSource) and mix.parts[1] == "procedural-train" and mix.weights == (0.25, 0.75)
    tasks = mixed_tasks(CFG, mix, np.random.default_rng(0), 64, num_test=0)
    from_arc = sum(t.meta.get("dataset") == "arc-agi-1/training" for t in tasks)
    from_families = sum(t.meta.get("family") in PROCEDURAL["procedural-train"] for t in tasks)
    assert from_arc + from_families == 64 and 6 <= from_arc <= 26
    assert query_batch(CFG, mix, 0, 5).inputs.shape == (5, 4, 6, 6)
    with pytest.raises(ValueError, match="2 mix weights for 1 sources"):
        make_mix(CFG, "arc-agi-1/training", [1, 2])
    with pytest.raises(ValueError, match="'nowhere' is not a task source"):
        make_mix(CFG, "arc-agi-1/training+nowhere")


def test_the_holdout_split_is_disjoint_covers_every_family_and_spans_the_modules():
    train, holdout = set(PROCEDURAL["procedural-train"]), set(PROCEDURAL["procedural-holdout"])
    assert len(holdout) == 8 and not train & holdout and train | holdout == set(FAMILIES) and len(FAMILIES) == 42
    assert len({FAMILIES[name].program.__module__ for name in HOLDOUT}) == 8
    for name, families in (("procedural-train", train), ("procedural-holdout", holdout)):
        tasks = generated_tasks(CFG, name, np.random.default_rng(0), 12, num_test=1)
        assert {t.meta["family"] for t in tasks} <= families
        assert query_batch(CFG, name, 0, 3).inputs.shape == (3, 4, 6, 6)  # as `lpn eval --data NAME` draws them
    # the split leaves the full source's task stream as it was
    full = generated_tasks(CFG, "procedural", np.random.default_rng(3), 4, num_test=0)
    again = next(host_batches(CFG.replace(batch_size=4), "procedural", 3))
    assert np.array_equal(
        again.inputs[0, 0, : full[0].train[0].input.shape[0], : full[0].train[0].input.shape[1]], full[0].train[0].input
    )


def test_recorded_sources_let_the_leakage_guard_see_arc_training(tmp_path):
    assert recorded_sources("arc-agi-1/training+procedural-train") == [
        "arc-agi-1/training",
        "generated:procedural-train",
    ]
    run_dir = tmp_path / "run"
    write_run(run_dir, CFG, "arc-agi-1/evaluation+procedural", preset=None, seed=0)
    checkpoint = run_dir / "step_2"
    with pytest.raises(LeakageError, match="arc-agi-1/evaluation"):
        check_sources({}, checkpoint, "arc-agi-1/evaluation", allow=False)
    assert check_sources({}, checkpoint, "arc-agi-2/evaluation", allow=True)["leaked"]  # ARC-AGI-2 reuses a few


@pytest.mark.slow
def test_train_on_arc_end_to_end_then_the_leakage_guard(tmp_path, capsys):
    out = tmp_path / "arc"
    status = main(
        [
            "train",
            "--preset",
            "pattern_2d",
            "--data",
            "arc-agi-1/training",
            "--steps",
            "2",
            "--out",
            str(out),
            "--set",
            *TINY_SET,
            "--eval-every",
            "0",
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "arc-agi-1/training: 25 of 400 tasks fit 5x5 (375 skipped as too big)" in printed
    assert "random symmetry and colour permutation" in printed and "final (step 2)" in printed
    assert read_run(out)["train_sources"] == ["arc-agi-1/training"]
    assert read_meta(out)["train_sources"] == ["arc-agi-1/training"]
    with warnings.catch_warnings(record=True):  # the official split's one shared pair is warned about
        warnings.simplefilter("always")
        status = main(
            [
                "eval",
                str(out),
                "--data",
                "arc-agi-1/evaluation",
                "--search",
                "none",
                "--limit",
                "2",
                "--out",
                str(tmp_path / "eval"),
            ]
        )
    assert status == 0
    leaky = tmp_path / "leaky"
    status = main(
        [
            "train",
            "--preset",
            "pattern_2d",
            "--data",
            "arc-agi-1/evaluation",
            "--no-augment",
            "--steps",
            "1",
            "--out",
            str(leaky),
            "--set",
            *TINY_SET,
            "--eval-every",
            "0",
        ]
    )
    assert status == 0 and read_run(leaky)["augment"] is False
    capsys.readouterr()
    status = main(
        [
            "eval",
            str(leaky),
            "--data",
            "arc-agi-1/evaluation",
            "--search",
            "none",
            "--limit",
            "2",
            "--out",
            str(tmp_path / "eval2"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 1 and "training on arc-agi-1/evaluation and evaluating on arc-agi-1/evaluation leaks" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "nowhere"], "'nowhere' is not a task source"),
        (["--data", "pattern+procedural"], "pattern tasks are made on the device"),
        (["--data", "arc-agi-1/training", "--mix", "1", "2"], "2 mix weights for 1 sources"),
        (["--data", "arc-agi-1/training", "--set", "max_rows=2", "max_cols=2"], "no task of arc-agi-1/training fits"),
    ],
)
def test_bad_training_data_is_a_usage_error(argv, message, tmp_path, capsys):
    status = main(["train", "--preset", "pattern_2d", "--out", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert status != 0 and message in err and err.count("\n") == 1, err
