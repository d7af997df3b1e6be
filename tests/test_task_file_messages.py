"""A task file that cannot be read is named once in the error line, whichever command reads it, and
the failed command leaves no run folder behind."""

import pytest

from lpn.cli import main


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]]}]', "not valid JSON: Expecting ','"),
        ('{"train": [], "test": [{"input": [[1]]}]}', "task 'bad': has no train pairs"),
    ],
)
def test_lpn_train_names_a_bad_task_file_once(tmp_path, capsys, text, problem):
    task = tmp_path / "bad.json"
    task.write_text(text)
    out = tmp_path / "run"
    assert main(["train", "--preset", "pattern_2d", "--data", str(task), "--out", str(out), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lpn: error: {task}: {problem}") and err.count(str(task)) == 1
    assert len(err.splitlines()) == 1 and not out.exists()
