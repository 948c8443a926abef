"""Compact by default (issue 16): runs end up packed, objects and refs, without anyone
running gc; the background compaction never loses an object a live run needs, and a
compaction killed half way leaves a repository git and gitruns still read and write."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _store_helpers import child_script, run_refs, wait_for_compaction
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns import compaction
from gitruns.format import packcounts, packs
from gitruns.storage import Store


def loose_objects(repo: Path) -> list[Path]:
    return [p for p in (repo / ".git" / "objects").glob("??/*") if len(p.name) == 38]


def loose_run_refs(repo: Path) -> list[Path]:
    folder = repo / ".git" / "refs" / "runs"
    return [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []


def small_run(index: int) -> str:
    with gitruns.start_run(name=f"run-{index}", params={"lr": 0.01}) as run:
        run.log_metric("loss", 0.5, step=0)
        run.log_metric("loss", 0.25, step=1)
        run.set_tag("model", "mlp")
    return run.id


def test_runs_end_up_packed_without_gc(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects in a few packs, no keep file, no loose object, most refs in packed-refs:
    nobody ran gc (the limits are lowered so that 30 runs cross them several times)."""
    monkeypatch.setattr(compaction, "PACK_LIMIT", 4)
    monkeypatch.setattr(compaction, "REF_LIMIT", 5)
    ids = [small_run(i) for i in range(30)]
    wait_for_compaction(repo)
    # Writes made while a background job held the lock started none; on a loaded machine
    # a long repack lets packs pile up behind it. The next write starts what is then due,
    # as any later command would, so the bounds below do not depend on the machine's speed.
    ids.append(small_run(30))
    wait_for_compaction(repo)
    store = Store(repo)
    assert packs.gitruns_keeps(store.objects_dir) == []
    assert loose_objects(repo) == []
    # Bounded, not exact: writes made while a background job runs start none (the lock is
    # held), and a geometric roll-up may leave a few packs of decreasing size.
    assert packcounts.count_packs(store.objects_dir) <= 3 * 4
    assert len(loose_run_refs(repo)) <= 20  # of 30: most refs went into packed-refs
    packed = (repo / ".git" / "packed-refs").read_text()
    assert sum(f"refs/runs/{run_id}\n" in packed for run_id in ids) >= 10
    # No dumb-HTTP catalogue: info/refs would list every ref again at each compaction.
    assert not (repo / ".git" / "info" / "refs").exists()
    fsck(repo)
    assert sorted(run_refs(repo)) == sorted(f"refs/runs/{i}" for i in ids)
    assert {r.id for r in gitruns.list_runs()} == set(ids)


def test_a_run_created_over_packed_refs_is_a_plain_loose_ref(repo: Path) -> None:
    """gitruns writes a new run's ref itself (libgit2 re-reads packed-refs each time);
    git reads it, and an id that exists only in packed-refs is not created twice."""
    first = small_run(0)
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "runs" / first).exists()
    second = small_run(1)
    assert (repo / ".git" / "refs" / "runs" / second).read_text().strip() == git(
        repo, "rev-parse", f"refs/runs/{second}"
    ).strip()
    store = Store(repo)
    packed_commit = store.run_commit(first)
    assert packed_commit is not None
    assert store.create_ref(first, packed_commit) is False
    assert not (repo / ".git" / "refs" / "runs" / f"{first}.lock").exists()
    fsck(repo)


def test_reflogs_and_shared_repositories_go_through_libgit2(repo: Path) -> None:
    """With core.logAllRefUpdates=always a run's ref gets its reflog, as before."""
    git(repo, "config", "core.logAllRefUpdates", "always")
    run_id = small_run(0)
    assert (repo / ".git" / "logs" / "refs" / "runs" / run_id).exists()


LIVE_WRITER = """
import sys
for i in range(int(sys.argv[1])):
    with gitruns.start_run(name=f"w{sys.argv[2]}-{i}") as run:
        run.log_param("i", i)
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    if i % 4 == 0:
        gitruns.set_run_tags(run.id, {"checked": str(i)})
print("done", flush=True)
"""


@pytest.mark.slow
def test_compaction_racing_live_writers_loses_nothing(repo: Path) -> None:
    """Writers on a dirty tree (whose snapshots stay in kept packs until their runs end)
    run while another process repeats exactly what the background compaction runs:
    every run is whole and fsck is clean."""
    (repo / "train.py").write_text("print('dirty')\n")
    per_writer = 20
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", child_script(LIVE_WRITER), str(per_writer), str(n)],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    rounds = 0
    while any(w.poll() is None for w in writers) or rounds < 2:
        for command in (compaction.REPACK_COMMAND, compaction.PACK_REFS_COMMAND):
            subprocess.run(shlex.split(command), cwd=repo, check=True)
        rounds += 1
    for writer in writers:
        out, err = writer.communicate()
        assert writer.returncode == 0 and "done" in out, err
    wait_for_compaction(repo)
    fsck(repo)
    assert len(run_refs(repo)) == 3 * per_writer
    listed = gitruns_cli(repo, "ls", "--format", "json")
    assert listed.returncode == 0 and "skipping" not in listed.stderr, listed.stderr
    for run in gitruns.list_runs():
        assert run.git["snapshot"] and run.metric_history("loss")


@pytest.mark.slow
def test_compaction_killed_half_way_leaves_a_working_repository(repo: Path) -> None:
    """kill -9 of the repack and of pack-refs at several moments: fsck stays clean, every
    run reads, new runs are written; a packed-refs.lock left behind is collected by
    gitruns gc once it is old, after which packed runs can be removed again."""
    ids = [small_run(i) for i in range(12)]
    for delay in (0.0, 0.01, 0.03, 0.08):
        for command in (compaction.REPACK_COMMAND, compaction.PACK_REFS_COMMAND):
            process = subprocess.Popen(shlex.split(command), cwd=repo)
            time.sleep(delay)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            fsck(repo)
            ids.append(small_run(len(ids)))
    assert {r.id for r in gitruns.list_runs()} == set(ids)
    wait_for_compaction(repo)
    stale = repo / ".git" / "packed-refs.lock"
    # A pack-refs killed while it held its lock left it (which kill does depends on the
    # machine's speed); gc collects such a lock once it is old, checked below with one made
    # old on purpose. Here the refs are packed first, so any such lock goes.
    stale.unlink(missing_ok=True)
    # killed while writing, it also left the new file it writes under that lock
    (repo / ".git" / "packed-refs.new").unlink(missing_ok=True)
    subprocess.run(shlex.split(compaction.PACK_REFS_COMMAND), cwd=repo, check=True)
    stale.write_text("")  # as a pack-refs killed while writing leaves it
    old = time.time() - 7200
    os.utime(stale, (old, old))
    blocked = gitruns_cli(repo, "rm", "--yes", ids[0])
    assert blocked.returncode == 1, blocked.stderr  # git cannot lock packed-refs
    assert gitruns_cli(repo, "gc").returncode == 0
    assert not stale.exists()
    removed = gitruns_cli(repo, "rm", "--yes", ids[0])
    assert removed.returncode == 0, removed.stderr
    fsck(repo)


def test_gc_collects_the_new_packed_refs_a_killed_pack_refs_left(repo: Path) -> None:
    """git writes packed-refs.new under packed-refs.lock; a pack-refs killed then leaves it,
    and every later pack-refs or deletion of a packed ref fails to create it: gitruns gc
    removes it once it is old (never a young one: a pack-refs may be writing it)."""
    ids = [small_run(i) for i in range(3)]
    wait_for_compaction(repo)
    subprocess.run(shlex.split(compaction.PACK_REFS_COMMAND), cwd=repo, check=True)
    left = repo / ".git" / "packed-refs.new"
    left.write_text("")
    assert gitruns_cli(repo, "rm", "--yes", ids[0]).returncode == 1  # git cannot rewrite it
    young = gitruns_cli(repo, "gc")  # young: it may be a live pack-refs', so it stays
    assert young.returncode == 1 and "packed-refs.new" in young.stderr, young.stderr
    assert "Traceback" not in young.stderr
    assert left.exists()
    old = time.time() - 7200
    os.utime(left, (old, old))
    assert gitruns_cli(repo, "gc").returncode == 0
    assert not left.exists()
    removed = gitruns_cli(repo, "rm", "--yes", ids[0])
    assert removed.returncode == 0, removed.stderr
    subprocess.run(shlex.split(compaction.PACK_REFS_COMMAND), cwd=repo, check=True)
    fsck(repo)
