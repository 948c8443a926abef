"""``capture.executables.which`` finds what ``shutil.which`` finds (record checks its
command and finds a Python child's interpreter with it, without importing shutil)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gitruns.capture.executables import which


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
    for folder, name, mode in [
        ("a", "tool", 0o644),  # not executable: skipped
        ("b", "tool", 0o755),
        ("c", "tool", 0o755),
        ("a", "only-a", 0o755),
        ("c", "python3", 0o755),
    ]:
        (tmp_path / folder / name).write_text("#!/bin/sh\n")
        (tmp_path / folder / name).chmod(mode)
    (tmp_path / "b" / "dir-named").mkdir()  # a folder is never a command
    return tmp_path


@pytest.mark.parametrize(
    "command", ["tool", "only-a", "python3", "dir-named", "missing", "a/tool", "b/tool", "./b/tool"]
)
@pytest.mark.parametrize("path", ["{a}:{b}:{c}", "{c}:{b}", "{a}:{a}:{b}", "", ":", "{b}:"])
def test_which_finds_what_shutil_finds(
    folders: Path, command: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folders)
    searched = path.format(a=folders / "a", b=folders / "b", c=folders / "c")
    assert which(command, path=searched) == shutil.which(command, path=searched)
    monkeypatch.setenv("PATH", searched)
    assert which(command) == shutil.which(command)


def test_without_path_the_system_default_is_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATH", raising=False)
    assert which("sh") == shutil.which("sh") is not None
    assert os.path.isabs(which("sh") or "")
