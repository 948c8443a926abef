"""A full disk: a clear error, nothing recorded is lost, the repository stays sound.

A real filesystem fills up: a small tmpfs mounted for the test (root only; skipped where
mounting is not allowed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fsck, git, gitruns_cli


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


FILL_AND_LOG = textwrap.dedent(
    """
    import sys
    import gitruns
    from gitruns.errors import StorageWriteError

    run = gitruns.start_run(name="during")
    for step in range(300):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    run._writer.flush()  # these 300 points reach the disk
    with open(sys.argv[1], "wb") as filler:
        try:
            while True:
                filler.write(b"x" * 65536)
                filler.flush()
        except OSError:
            pass
    try:
        for step in range(50_000):
            run.log_metric("acc", step / 50_000, step=step)
        run.end()
    except StorageWriteError as error:
        print("clear error:", error.message)
        print("hint:", error.hint)
        sys.exit(3)
    print("ended without an error")
    """
)


def test_full_disk_gives_a_clear_error_and_loses_nothing_recorded(small_disk: Path) -> None:
    repo = small_disk / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text("pass\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "initial")
    before = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gitruns\nwith gitruns.start_run(name='before') as r:\n"
            "    r.log_metric('loss', 0.5)",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert before.returncode == 0, before.stderr
    filler = small_disk / "filler"
    child = subprocess.run(
        [sys.executable, "-c", FILL_AND_LOG, str(filler)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 3, child.stdout + child.stderr
    assert "clear error: cannot write the run's journal" in child.stdout
    assert "No space left on device" in child.stdout
    assert "Traceback" not in child.stderr

    full = gitruns_cli(repo, "ls", "--format", "json")  # while the disk is still full
    assert full.returncode in (0, 1)
    assert "Traceback" not in full.stderr
    if full.returncode == 1:
        assert full.stderr.startswith("gitruns: error: ")

    os.unlink(filler)
    listing = gitruns_cli(repo, "show", "before", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    assert '"status": "FINISHED"' in listing.stdout
    during = gitruns_cli(repo, "show", "during", "--format", "json")
    assert during.returncode == 0, during.stderr
    # CRASHED when the disk refused even the end event; FINISHED when the end event fit in
    # the journal's last page (the run's first events, its command and environment, were
    # written while there was room) and only the commit failed: recovery keeps that status.
    assert '"status": "CRASHED"' in during.stdout or '"status": "FINISHED"' in during.stdout
    assert '"count": 300' in during.stdout  # every point that reached the disk is kept
    fsck(repo)
