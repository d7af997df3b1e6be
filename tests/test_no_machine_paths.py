"""What the repository ships for others to read (docs/, notebooks/, the shipped models' text files)
names no folder of the machine that wrote it: no home, temporary or work folder of any machine; and
`lpn reproduce` records its command with such paths shown relative (issue 37)."""

import os
import re
from pathlib import Path

import pytest

from lpn.cli.reproduce import recorded_command, shown_path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("docs", "notebooks", "lpn/pretrained")
TEXT = {".md", ".json", ".ipynb", ".txt", ".csv", ".py", ".yml", ".yaml", ".toml", ".html", ".svg"}
# An absolute path starts a token (not a URL's or a relative path's inner part).
ABSOLUTE = re.compile(
    r"(?<![\w.~/-])(/tmp/|/home/|/root/|/work/|/Users/|/private/|/var/folders/|/mnt/|/scratch/|/data/|[A-Za-z]:\\)"
)


def absolute_paths(text: str) -> list[tuple[int, str]]:
    """(line number, line) for each line of `text` holding an absolute machine path."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if ABSOLUTE.search(line)]


def shipped_files():
    for folder in SHIPPED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in TEXT and ".ipynb_checkpoints" not in path.parts:
                yield path


def test_the_scan_finds_machine_paths_and_leaves_relative_ones():
    text = "a\n`lpn x --out /tmp/t1`\n--models ../models\nsee https://host/home/x\n'C:\\\\Users\\\\me'\n/work/exp/m"
    assert [n for n, _ in absolute_paths(text)] == [2, 5, 6]
    assert absolute_paths("EXP/models, docs/results/table1, ~/.cache/lpn, ./runs/a") == []


def test_shipped_text_names_no_machine_folder():
    files = list(shipped_files())
    assert any(p.suffix == ".ipynb" for p in files) and any(p.name == "table.md" for p in files)
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line[:120]}"
        for path in files
        for n, line in absolute_paths(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not found, "absolute machine paths in shipped files:\n" + "\n".join(found)


@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_reproduce_records_absolute_paths_relative_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [
        "reproduce",
        "fig2",
        "--out",
        str(tmp_path / "out"),
        f"--models={tmp_path / 'models'}",
        "--model",
        "pattern",
    ]
    assert recorded_command(argv) == "lpn reproduce fig2 --out out --models=models --model pattern"
    outside = recorded_command(["reproduce", "fig2", "--out", "/tmp/elsewhere/fig2"])
    shown = outside.split()[-1]
    assert not absolute_paths(outside) and os.path.normpath(tmp_path / shown) == "/tmp/elsewhere/fig2"  # the same file
    assert shown_path("runs/x") == "runs/x" and shown_path(str(tmp_path / "a b")) == "a b"
