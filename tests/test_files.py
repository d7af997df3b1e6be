"""`lpn.files`: an atomic write leaves the old file or the new one, never a temporary file, and a
failure names the file it could not write."""

import errno
import os

import pytest

from lpn import files
from lpn.files import atomic_write, replace_folder


def test_atomic_write_replaces_text_and_bytes_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "run.json"
    atomic_write(target, '{"a": 1}')
    assert target.read_text() == '{"a": 1}'
    atomic_write(target, b"\x89PNG")
    assert target.read_bytes() == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_a_full_disk_keeps_the_old_file_names_the_path_and_removes_the_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "latest"
    target.write_text("step-00000002\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device") as caught:
        atomic_write(target, "step-00000004\n")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert isinstance(caught.value.__cause__, OSError)  # the original error, chained
    assert target.read_text() == "step-00000002\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_raises_a_permission_error_naming_the_file(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as caught:
            atomic_write(folder / "results.json", "{}")
        assert caught.value.filename == str(folder / "results.json")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_an_error_without_an_errno_still_names_the_path(tmp_path, monkeypatch):
    def broken(src, dst):
        raise OSError("rename refused")

    monkeypatch.setattr(files.os, "replace", broken)
    with pytest.raises(OSError, match=r"results\.json: not written \(rename refused\)"):
        atomic_write(tmp_path / "results.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_replace_folder_swaps_in_the_new_folder_and_removes_the_old_one(tmp_path):
    final, tmp = tmp_path / "step-00000004", tmp_path / ".step-00000004-abc"
    final.mkdir()
    (final / "old").write_text("old")
    tmp.mkdir()
    (tmp / "new").write_text("new")
    replace_folder(tmp, final)
    assert [p.name for p in final.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000004"]
    fresh = tmp_path / ".fresh"
    fresh.mkdir()
    replace_folder(fresh, tmp_path / "step-00000006")  # nothing there yet
    assert (tmp_path / "step-00000006").is_dir() and not fresh.exists()
