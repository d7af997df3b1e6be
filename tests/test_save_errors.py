"""A checkpoint save that fails (a full disk, simulated) names the path and leaves the previous
checkpoint whole; partial `.step-*` folders of failed or killed saves go at the next save or resume
(lpn/checkpoint.py)."""

import errno
import pathlib

import pytest

from conftest import TINY
from lpn.checkpoint import load_checkpoint, read_meta, remove_partial_checkpoints, save_checkpoint
from lpn.cli import main
from lpn.config import get_preset

PRESET = get_preset("pattern_2d")
TINY_SET = [f"{k}={v}" for k, v in TINY.to_dict().items() if v != getattr(PRESET, k)]


def disk_full(monkeypatch, after: int = 0):
    """Every Path.write_bytes after the first `after` fails as on a full disk (with no file name, as
    a failing write() reports it)."""
    real, calls = pathlib.Path.write_bytes, []

    def write_bytes(self, data):
        calls.append(self)
        if len(calls) > after:
            with open(self, "wb") as file:  # a partial file, as the disk filled
                file.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    return calls


def test_a_full_disk_names_the_path_and_keeps_the_previous_checkpoint(tmp_path, tiny_model, monkeypatch):
    save_checkpoint(tmp_path, tiny_model, step=2)
    calls = disk_full(monkeypatch)
    with pytest.raises(OSError) as caught:
        save_checkpoint(tmp_path, tiny_model, step=4)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path)
    assert caught.value.strerror == (
        "could not save checkpoint step-00000004: No space left on device; the run's previous checkpoint stays as it was"
    )
    assert calls and calls[0].parent.name.startswith(".step-00000004-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "step-00000002"]  # no partial folder left
    assert read_meta(tmp_path)["step"] == 2 and load_checkpoint(tmp_path)[0] is not None
    monkeypatch.undo()
    save_checkpoint(tmp_path, tiny_model, step=4)  # once there is room
    assert read_meta(tmp_path)["step"] == 4


def test_partial_folders_of_killed_saves_go_at_the_next_save(tmp_path, tiny_model):
    save_checkpoint(tmp_path, tiny_model, step=2)
    stale = tmp_path / ".step-00000004-0123456789ab"
    stale.mkdir()
    (stale / "weights.safetensors").write_bytes(b"half a file")
    (tmp_path / ".notes").mkdir()  # not a checkpoint's: kept
    save_checkpoint(tmp_path, tiny_model, step=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes", "latest", "step-00000002", "step-00000006"]
    assert remove_partial_checkpoints(tmp_path) == []


@pytest.mark.slow
def test_lpn_train_on_a_full_disk_says_which_folder_in_one_line(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--chunk", "2", "--save-every", "2", "--eval-every", "0"]
    assert main([*argv, "--steps", "2", "--preset", "pattern_2d", "--set", *TINY_SET]) == 0
    disk_full(monkeypatch)
    assert main([*argv, "--steps", "4", "--resume"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("lpn:")]
    assert errors == [
        f"lpn: error: {out}: could not save checkpoint step-00000004: No space left on device; the run's previous "
        f"checkpoint stays as it was"
    ]
    assert not list(out.glob(".step-*")) and read_meta(out)["step"] == 2
    monkeypatch.undo()
    stale = out / ".step-00000004-0123456789ab"  # as a save killed mid-write leaves it
    stale.mkdir()
    assert main([*argv, "--steps", "2", "--resume"]) == 0  # at step 2 already: nothing to train, the folder cleaned
    assert not stale.exists()
    assert main([*argv, "--steps", "4", "--resume"]) == 0
    assert read_meta(out)["step"] == 4
