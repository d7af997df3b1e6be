"""Official ARC scoring with hand-made submissions of known score, and the Kaggle file format."""

import json

import numpy as np
import pytest

from lpn.grids import make_task
from lpn.scoring import (
    SubmissionError,
    read_submission,
    score_predictions,
    score_submission,
    to_submission,
    write_submission,
)

A_OUT = [[1, 2], [3, 4]]
B_OUT0, B_OUT1 = [[5]], [[6, 6, 6]]
TASKS = [
    make_task([([[0]], [[1]])], [([[1, 1], [1, 1]], A_OUT)], "a"),
    make_task([([[0]], [[1]])], [([[1]], B_OUT0), ([[2]], B_OUT1)], "b"),
]
WRONG = [[0, 0], [0, 0]]


def test_two_averages_differ_on_a_task_with_two_test_outputs():
    predictions = {
        "a": [[WRONG, A_OUT]],  # solved by the second attempt
        "b": [[B_OUT0, WRONG], [[[6, 6]], [[6, 6, 7]]]],  # first output solved, second not
    }
    score = score_predictions(TASKS, predictions)
    assert score.per_task == pytest.approx((1 + 1 / 2) / 2)  # 0.75
    assert score.per_output == pytest.approx(2 / 3)
    assert score.fully_solved == 1
    assert score.top1 == pytest.approx((0 + 1 / 2) / 2)
    # attempt 1: a has the right shape, 0 of 4 cells; b's first is exact, b's second has the wrong shape
    assert score.shape_accuracy == pytest.approx((1 + 1 / 2) / 2)
    assert score.pixel_accuracy == pytest.approx((0 + (1 + 0) / 2) / 2)
    assert [t.solved for t in score.tasks] == [(True,), (True, False)]


def test_missing_and_malformed_attempts_count_as_wrong():
    score = score_predictions(TASKS, {"a": [[[[1, 2], [3]], A_OUT[::-1]]]})  # ragged, then flipped
    assert score.per_task == 0 and score.per_output == 0
    assert score.tasks[1].solved == (False, False)  # task b absent
    half = score_predictions(TASKS, {"a": [[np.array(A_OUT)]], "b": [[B_OUT0]]})  # one attempt each
    assert half.per_task == pytest.approx(0.75) and half.per_output == pytest.approx(2 / 3)


def test_partial_pixels_and_perfect_scores():
    score = score_predictions(TASKS, {"a": [[[[1, 2], [3, 0]]]], "b": [[B_OUT0], [B_OUT1]]})
    assert score.tasks[0].pixels == (0.75,) and score.tasks[0].shape_ok == (True,)
    assert score.tasks[1].solved == (True, True)
    perfect = score_predictions(TASKS, {"a": [[A_OUT]], "b": [[B_OUT0], [B_OUT1]]})
    assert (perfect.per_task, perfect.per_output, perfect.top1, perfect.pixel_accuracy) == (1, 1, 1, 1)


def test_bad_predictions_raise():
    with pytest.raises(ValueError, match="at most 2"):
        score_predictions(TASKS, {"a": [[WRONG, WRONG, A_OUT]]})
    with pytest.raises(ValueError, match="not in the dataset: zz"):
        score_predictions(TASKS, {"zz": [[A_OUT]]})
    with pytest.raises(ValueError, match="2 predictions for 1 test outputs"):
        score_predictions(TASKS, {"a": [[A_OUT], [A_OUT]]})
    unknown = make_task([([[0]], [[1]])], [([[1]], None)], "u")
    with pytest.raises(ValueError, match="unknown"):
        score_predictions([unknown], {})


def test_kaggle_submission_round_trip(tmp_path):
    predictions = {"a": [[WRONG, A_OUT]], "b": [[B_OUT0], [WRONG, WRONG]]}
    path = write_submission(predictions, tmp_path / "submission.json")
    raw = json.loads(path.read_text())
    assert raw["a"] == [{"attempt_1": WRONG, "attempt_2": A_OUT}]
    assert raw["b"][0] == {"attempt_1": B_OUT0, "attempt_2": B_OUT0}  # a lone attempt fills both keys
    assert len(raw["b"]) == 2
    from_file = score_submission(TASKS, path)
    assert from_file.per_task == pytest.approx(0.75) and from_file.per_output == pytest.approx(2 / 3)
    assert score_submission(TASKS, to_submission(predictions)).per_output == from_file.per_output
    assert read_submission(path)["a"] == [[WRONG, A_OUT]]


def test_malformed_submissions_name_the_task_and_output(tmp_path):
    with pytest.raises(SubmissionError, match="task 'b', test output 1: missing attempt_2"):
        score_submission(TASKS, {"b": [{"attempt_1": B_OUT0, "attempt_2": B_OUT0}, {"attempt_1": B_OUT1}]})
    with pytest.raises(SubmissionError, match="task 'a': expected a list"):
        score_submission(TASKS, {"a": {"attempt_1": A_OUT}})
    broken = tmp_path / "s.json"
    broken.write_text("{")
    with pytest.raises(SubmissionError, match="s.json: not valid JSON"):
        read_submission(broken)


def test_report_is_labelled_with_a_row_per_task():
    text = str(score_predictions(TASKS, {"a": [[A_OUT]]}))
    assert "per-task average (ARC Prize benchmarking)" in text and " 50.00%" in text
    assert "per-output average (Kaggle 2025)" in text and " 33.33%" in text
    rows = text.splitlines()
    assert any(r.startswith("a ") and "1.00" in r for r in rows)
    assert any(r.startswith("b ") and "0.00" in r for r in rows)
