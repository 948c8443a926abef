"""``gitruns rm``, ``restore`` and ``gc`` through the real CLI."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from _compare_helpers import make_run
from conftest import fsck, git, gitruns_cli

import gitruns

HOUR_AGO = time.time() - 2 * 3600


def _refs(repo: Path, prefix: str) -> dict[str, str]:
    lines = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", prefix).splitlines()
    return dict(line.split() for line in lines)


def _artifact_files(repo: Path) -> list[Path]:
    return sorted(p for p in (repo / ".git/lfs/objects").rglob("*") if p.is_file())


def _age_artifacts(repo: Path) -> None:
    for path in _artifact_files(repo):
        os.utime(path, (HOUR_AGO, HOUR_AGO))


def test_rm_refuses_without_tty_or_yes(repo: Path) -> None:
    run_id = make_run("keep")
    result = gitruns_cli(repo, "rm", "keep")
    assert result.returncode == 1
    assert "without confirmation" in result.stderr and "--yes" in result.stderr
    assert f"refs/runs/{run_id}" in _refs(repo, "refs/runs/")


def test_rm_asks_on_a_terminal(repo: Path) -> None:
    run_id = make_run("doomed")
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "gitruns", "rm", "doomed"],
        cwd=repo,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in output and time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                output += os.read(main, 1024)
            except OSError:  # the child closed the terminal: it exited without asking
                break
    assert b"[y/N]" in output, output
    os.write(main, b"y\n")
    assert process.wait(timeout=30) == 0
    os.close(main)
    assert b"doomed" in output
    assert f"refs/gitruns-trash/{run_id}" in _refs(repo, "refs/gitruns-trash/")


def test_rm_and_restore_round_trip(repo: Path) -> None:
    run_id = make_run("victim", tags={"a": "1"})
    gitruns.set_run_tags(run_id, {"b": "2"})
    before = _refs(repo, "refs/runs/")[f"refs/runs/{run_id}"]
    result = gitruns_cli(repo, "rm", "--yes", "victim")
    assert result.returncode == 0, result.stderr
    assert "gitruns restore" in result.stdout
    assert _refs(repo, "refs/runs/") == {}
    marker = _refs(repo, "refs/gitruns-trash/")[f"refs/gitruns-trash/{run_id}"]
    assert git(repo, "rev-parse", f"{marker}^").strip() == before
    assert "Gitruns-Annotation: deleted" in git(repo, "log", "-1", "--format=%B", marker)
    assert gitruns_cli(repo, "show", "victim").returncode == 1
    listing = gitruns_cli(repo, "restore", "--list").stdout
    assert run_id[-8:] in listing and "victim" in listing
    restored = gitruns_cli(repo, "restore", run_id[-8:])
    assert restored.returncode == 0, restored.stderr
    assert _refs(repo, "refs/runs/") == {f"refs/runs/{run_id}": before}
    assert _refs(repo, "refs/gitruns-trash/") == {}
    assert gitruns.get_run(run_id).tags == {"a": "1", "b": "2"}
    fsck(repo)


def test_restore_unknown(repo: Path) -> None:
    result = gitruns_cli(repo, "restore", "nothing")
    assert result.returncode == 1 and "no deleted run matches" in result.stderr


def test_gc_keeps_recent_trash_and_purges_old(repo: Path) -> None:
    recent = make_run("recent")
    assert gitruns_cli(repo, "rm", "-y", recent).returncode == 0
    result = gitruns_cli(repo, "gc")
    assert result.returncode == 0, result.stderr
    assert f"refs/gitruns-trash/{recent}" in _refs(repo, "refs/gitruns-trash/")
    git(repo, "config", "gitruns.trashDays", "0")
    purged = gitruns_cli(repo, "gc")
    assert f"purged deleted run recent ({recent})" in purged.stdout
    assert _refs(repo, "refs/gitruns-trash/") == {}
    fsck(repo)


def test_gc_removes_only_unreferenced_artifacts(repo: Path) -> None:
    kept = make_run("kept", artifacts={"shared.bin": b"shared"})
    trashed = make_run("trashed", artifacts={"trashed.bin": b"trashed only"})
    fetched = make_run("fetched", artifacts={"fetched.bin": b"fetched only"})
    gone = make_run("gone", artifacts={"gone.bin": b"gone soon", "shared.bin": b"shared"})
    git(repo, "update-ref", f"refs/remote-runs/origin/{fetched}", f"refs/runs/{fetched}")
    for run_id in (gone, fetched):
        assert gitruns_cli(repo, "rm", "-y", run_id).returncode == 0
    git(repo, "config", "gitruns.trashDays", "0")
    assert gitruns_cli(repo, "gc").returncode == 0  # purges gone and fetched from the trash
    assert gitruns_cli(repo, "rm", "-y", trashed).returncode == 0  # recent: stays in trash
    _age_artifacts(repo)
    assert len(_artifact_files(repo)) == 4
    dry = gitruns_cli(repo, "gc", "--dry-run", "--older-than", "30d")
    assert "would remove 1 unreferenced artifact(s), 9 B" in dry.stdout
    assert len(_artifact_files(repo)) == 4
    result = gitruns_cli(repo, "gc", "--older-than", "30d")
    assert result.returncode == 0, result.stderr
    assert "removed 1 unreferenced artifact(s), 9 B" in result.stdout
    names = {p.read_bytes() for p in _artifact_files(repo)}
    assert names == {b"shared", b"trashed only", b"fetched only"}
    assert gitruns.get_run(kept).artifacts[0]["path"] == "shared.bin"
    fsck(repo)


def test_gc_keeps_young_artifacts(repo: Path) -> None:
    run_id = make_run("fresh", artifacts={"new.bin": b"brand new"})
    assert gitruns_cli(repo, "rm", "-y", run_id).returncode == 0
    result = gitruns_cli(repo, "gc", "--older-than", "0")
    assert "removed 0 unreferenced artifact(s)" in result.stdout
    assert len(_artifact_files(repo)) == 1


def test_gc_staging_leftovers_and_packs_refs(repo: Path) -> None:
    for index in range(3):
        make_run(f"run-{index}")
    staging = repo / ".git/gitruns/staging"
    old, young = staging / ".new-old", staging / ".new-young"
    for folder in (old, young):
        folder.mkdir(parents=True)
        (folder / "start.json").write_text("{}")
    os.utime(old, (HOUR_AGO, HOUR_AGO))
    result = gitruns_cli(repo, "gc", "--now")
    assert result.returncode == 0, result.stderr
    assert "removed 1 staging leftover(s)" in result.stdout
    assert "git gc --prune=now" in result.stdout and "freed" in result.stdout
    assert not old.exists() and young.exists()
    assert not list((repo / ".git/refs/runs").glob("*"))
    assert (repo / ".git/packed-refs").read_text().count("refs/runs/") == 3
    assert len(gitruns.list_runs()) == 3
    fsck(repo)


def test_bad_age(repo: Path) -> None:
    result = gitruns_cli(repo, "gc", "--older-than", "soon")
    assert result.returncode == 1 and "is not an age" in result.stderr


def test_rm_again_after_the_run_came_back(repo: Path) -> None:
    run_id = make_run("twice")
    original = _refs(repo, "refs/runs/")[f"refs/runs/{run_id}"]
    assert gitruns_cli(repo, "rm", "-y", run_id).returncode == 0
    git(repo, "update-ref", f"refs/runs/{run_id}", original)  # as a fetch would bring it back
    assert gitruns_cli(repo, "restore", run_id).returncode == 1  # it exists: refused
    assert gitruns_cli(repo, "rm", "-y", run_id).returncode == 0
    assert len(_refs(repo, "refs/gitruns-trash/")) == 1
    assert gitruns_cli(repo, "restore", "twice").returncode == 0
    assert _refs(repo, "refs/runs/") == {f"refs/runs/{run_id}": original}
    fsck(repo)


def test_rm_filter_deletes_the_matching_local_runs(repo: Path) -> None:
    crashed = [make_run(f"bad-{i}", status="FAILED") for i in range(3)]
    kept = make_run("good")
    refused = gitruns_cli(repo, "rm", "--filter", 'status = "FAILED"')
    assert refused.returncode == 1 and "--yes" in refused.stderr  # no terminal, no --yes
    assert len(_refs(repo, "refs/runs/")) == 4
    done = gitruns_cli(repo, "rm", "--filter", 'status = "FAILED"', "--yes")
    assert done.returncode == 0, done.stderr
    assert set(_refs(repo, "refs/runs/")) == {f"refs/runs/{kept}"}
    assert set(_refs(repo, "refs/gitruns-trash/")) == {f"refs/gitruns-trash/{i}" for i in crashed}
    nothing = gitruns_cli(repo, "rm", "-f", 'name = "nope"', "--yes")
    assert nothing.returncode == 0 and "nothing deleted" in nothing.stderr
    bad = gitruns_cli(repo, "rm", "-f", "status = ", "--yes")
    assert bad.returncode == 1 and bad.stderr.startswith("gitruns: error: ")
    neither = gitruns_cli(repo, "rm")
    assert neither.returncode == 1 and "--filter" in neither.stderr
    fsck(repo)
