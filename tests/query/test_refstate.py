"""A warm query skips listing the refs only while they stat as when the cache last matched
them exactly (gitruns.query.refstate): every change by another process, git itself or a
writer that rewrites ref files in place is seen by the very next query."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import git, gitruns_cli
from hypothesis import given
from hypothesis import strategies as st

import gitruns
from gitruns.query import cache, refstate
from gitruns.query.search import select_runs
from gitruns.recording.repository import open_store
from gitruns.runs.annotate import set_tags


def record(name: str) -> str:
    with gitruns.start_run(name=name) as run:
        run.log_metric("acc", 0.5)
    return run.id


def record_in(path: Path, name: str) -> str:
    """A run recorded by another process."""
    script = (
        "import gitruns\n"
        f"with gitruns.start_run(name={name!r}) as run: run.log_metric('acc', 0.7)\n"
        "print(run.id)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=path, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def age(repo: Path, seconds: float = 60.0) -> None:
    """Date every ref file and folder back, as if nothing had changed for a while (a
    fingerprint is only recorded for paths older than refstate.RACY_NS)."""
    then = time.time() - seconds
    common = repo / ".git"
    paths = [common / "packed-refs", common / "refs"]
    for folder, dirs, files in os.walk(common / "refs"):
        paths += [Path(folder, name) for name in dirs + files]
    for path in paths:
        if path.exists():
            os.utime(path, (then, then))


def fingerprint(repo: Path) -> str | None:
    with sqlite3.connect(repo / ".git" / "gitruns" / "cache.sqlite") as db:
        found = db.execute("SELECT fingerprint FROM ref_state").fetchone()
    return found[0] if found else None


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry each time a sync lists the refs."""
    seen: list[int] = []
    original = cache.current_refs

    def counting(store: Any) -> dict[str, tuple[str, str, str]]:
        seen.append(1)
        return original(store)

    monkeypatch.setattr(cache, "current_refs", counting)
    return seen


def names(store: Any, **kwargs: Any) -> list[str]:
    return sorted(row.name for row in cache.sync(store).runs(**kwargs))


def warm(repo: Path, store: Any) -> None:
    """Age the refs and sync once, so that the cache holds their fingerprint."""
    age(repo)
    cache.sync(store)
    assert fingerprint(repo) is not None


def test_a_warm_query_lists_no_refs(repo: Path, listings: list[int]) -> None:
    ids = [record(f"r{i}") for i in range(3)]
    store = open_store()
    warm(repo, store)
    listings.clear()
    snapshot = cache.sync(store)
    assert listings == [] and sorted(r.run_id for r in snapshot.runs()) == sorted(ids)
    rows = select_runs(store, "metrics.acc = 0.5 and name = 'r1'").rows
    assert listings == [] and [r.name for r in rows] == ["r1"]
    assert gitruns.get_run(ids[0]).name == "r0"


def test_refs_changed_just_now_are_listed_every_time(repo: Path, listings: list[int]) -> None:
    """Within the racy window no fingerprint is recorded: a change in the same clock tick
    would leave the same mtime."""
    record("a")
    store = open_store()
    cache.sync(store)
    assert fingerprint(repo) is None
    listings.clear()
    assert names(store) == ["a"] and listings == [1]


@pytest.mark.parametrize("seconds", [1.0, -30.0])  # just now, and in the future
def test_recent_or_future_mtimes_are_not_trusted(repo: Path, seconds: float) -> None:
    record("a")
    age(repo)
    then = time.time() - seconds
    os.utime(repo / ".git" / "refs" / "runs", (then, then))
    assert refstate.take(repo / ".git") is None
    age(repo)
    assert refstate.take(repo / ".git") is not None


def _create_elsewhere(repo: Path, ids: list[str]) -> str:
    record_in(repo, "new")
    return "new"


def _delete_with_git(repo: Path, ids: list[str]) -> str:
    git(repo, "update-ref", "-d", f"refs/runs/{ids[0]}")
    return "r0"


def _rename_elsewhere(repo: Path, ids: list[str]) -> str:
    result = gitruns_cli(repo, "rename", ids[1], "renamed")
    assert result.returncode == 0, result.stderr
    return "renamed"


def _on_top(repo: Path, run_id: str) -> str:
    """A new commit on top of a run, with its tree (as an annotation makes one)."""
    ref = f"refs/runs/{run_id}"
    return git(repo, "commit-tree", f"{ref}^{{tree}}", "-p", ref, "-m", "moved").strip()


def _move_with_git(repo: Path, ids: list[str]) -> str:
    git(repo, "update-ref", f"refs/runs/{ids[0]}", _on_top(repo, ids[0]))
    return "r0"


def _fetch_with_git(repo: Path, ids: list[str]) -> str:
    other = repo.parent / "other"
    git(repo.parent, "clone", "-q", str(repo), str(other))
    record_in(other, "theirs")
    git(repo, "fetch", "-q", str(other), "refs/runs/*:refs/remote-runs/team/*")
    return "theirs"


def _pack_then_move(repo: Path, ids: list[str]) -> str:
    git(repo, "pack-refs", "--all")
    age(repo)  # nothing changed but the layout: the next query may record the new state
    assert names(open_store()) == ["r0", "r1", "r2"]
    assert fingerprint(repo) is not None
    git(repo, "update-ref", "-d", f"refs/runs/{ids[2]}")  # a packed ref: packed-refs rewritten
    return "r2"


def _odd_ref_with_git(repo: Path, ids: list[str]) -> str:
    commit = git(repo, "rev-parse", f"refs/runs/{ids[0]}").strip()
    git(repo, "update-ref", f"refs/runs/evil/{ids[0]}", commit)
    return "problem"


CHANGES: dict[str, Callable[[Path, list[str]], str]] = {
    "created by another process": _create_elsewhere,
    "deleted by git update-ref -d": _delete_with_git,
    "renamed by gitruns in another process": _rename_elsewhere,
    "moved by git update-ref": _move_with_git,
    "fetched by git fetch": _fetch_with_git,
    "deleted after git pack-refs": _pack_then_move,
    "odd ref made by git": _odd_ref_with_git,
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_is_seen_by_the_next_query(repo: Path, change: str) -> None:
    ids = [record(f"r{i}") for i in range(3)]
    store = open_store()
    warm(repo, store)
    git_view = _runs_by_git(repo)
    CHANGES[change](repo, ids)
    assert _runs_by_git(repo) != git_view
    for _ in range(2):  # the first query after the change, and a second one
        snapshot = cache.sync(store)
        served = {row.ref: row.commit_id for row in snapshot.runs(all_copies=True)}
        served.update({ref: "problem" for ref, _ in snapshot.problems})
        assert served == _runs_by_git(repo, odd_as_problem=True)
        # and through the CLI, in a fresh process
        listed = gitruns_cli(repo, "ls", "--all", "--format", "csv", "-c", "id")
        assert listed.returncode == 0, listed.stderr
        expected = sorted(ref.rpartition("/")[2] for ref, c in served.items() if c != "problem")
        assert sorted(listed.stdout.split()[1:]) == expected
        age(repo)


def _runs_by_git(repo: Path, odd_as_problem: bool = False) -> dict[str, str]:
    """Every ref under the run prefixes, as the git CLI lists them."""
    out = git(
        repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/runs", "refs/remote-runs"
    )
    found = dict(line.split() for line in out.splitlines())
    if odd_as_problem:
        found = {
            ref: "problem" if ref.count("/") != (2 if ref.startswith("refs/runs/") else 3) else c
            for ref, c in found.items()
        }
    return found


def test_a_ref_rewritten_in_place_with_its_old_size_and_mtime_is_seen(repo: Path) -> None:
    """A writer that rewrites a loose ref file in place (no lock file, no rename: the
    folder's mtime stays), in the same second, to a commit of the same length, with the
    file's mtime set back: its ctime still moves."""
    ids = [record(f"r{i}") for i in range(2)]
    store = open_store()
    warm(repo, store)
    path = repo / ".git" / "refs" / "runs" / ids[0]
    before = path.stat()
    other = _on_top(repo, ids[0]) + "\n"
    with open(path, "r+") as handle:  # in place: same inode
        handle.write(other)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert [row.commit_id for row in cache.sync(store).runs() if row.run_id == ids[0]] == [
        other.strip()
    ]


def test_packed_refs_rewritten_in_place_with_its_old_size_and_mtime_is_seen(repo: Path) -> None:
    ids = [record(f"r{i}") for i in range(2)]
    git(repo, "pack-refs", "--all")
    store = open_store()
    warm(repo, store)
    packed = repo / ".git" / "packed-refs"
    before = packed.stat()
    first, second = git(repo, "rev-parse", f"refs/runs/{ids[0]}").strip(), _on_top(repo, ids[0])
    text = packed.read_text().replace(f"{first} refs/runs/{ids[0]}", f"{second} refs/runs/{ids[0]}")
    with open(packed, "r+") as handle:
        handle.write(text)
    os.utime(packed, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert packed.stat().st_size == before.st_size
    # a new Store: libgit2 keeps packed-refs in memory by the same (size, mtime, inode)
    served = {row.run_id: row.commit_id for row in cache.sync(open_store()).runs()}
    assert served[ids[0]] == second and len(served) == 2


def test_a_sync_from_an_older_listing_leaves_no_wrong_fingerprint(repo: Path) -> None:
    """Process A lists the refs, B changes a run and syncs (recording the new state), then
    A writes what it had read: the cache holds A's rows, so it must not keep B's
    fingerprint, and the next query reads the run again."""
    run_id = record("r")
    store = open_store()
    age(repo)
    state_a = refstate.take(repo / ".git")
    refs_a = cache.current_refs(store)
    set_tags(store, run_id, {"moved": "yes"})  # B's change
    warm(repo, store)
    ref = f"refs/runs/{run_id}"
    stale = cache._read_row(store, ref, run_id, "local", refs_a[ref][2])
    db = cache._connect(repo / ".git" / "gitruns" / "cache.sqlite")
    try:
        cache._write(db, [stale], [])
        assert db.execute("SELECT fingerprint FROM ref_state").fetchone() is None
        cache._remember(db, state_a or "", refs_a)  # A's own (older) state, if any
    finally:
        db.close()
    assert [row.tags for row in cache.sync(store).runs()] == [{"moved": "yes"}]


def test_a_run_with_missing_objects_leaves_no_fingerprint(repo: Path, listings: list[int]) -> None:
    record("good")
    missing = "01900000-0000-7000-8000-00000000abcd"
    (repo / ".git" / "refs" / "runs" / missing).write_text(
        "1234567890abcdef1234567890abcdef12345678\n"
    )
    store = open_store()
    age(repo)
    snapshot = cache.sync(store)
    assert [r.name for r in snapshot.runs()] == ["good"] and len(snapshot.problems) == 1
    assert fingerprint(repo) is None  # its row is not cached: every query reads it again
    listings.clear()
    assert len(cache.sync(store).problems) == 1 and listings == [1]


def test_a_linked_worktree_shares_the_fingerprint(repo: Path, listings: list[int]) -> None:
    ids = [record(f"r{i}") for i in range(2)]
    tree = repo.parent / "tree"
    git(repo, "worktree", "add", "-q", str(tree))
    store = open_store(tree)
    warm(repo, store)
    listings.clear()
    assert names(store) == ["r0", "r1"] and listings == []
    git(tree, "update-ref", "-d", f"refs/runs/{ids[1]}")
    assert names(open_store(repo)) == ["r0"]
    assert names(store) == ["r0"]


def test_lineage_follows_the_refs(repo: Path, listings: list[int]) -> None:
    """Children are read from the cache without listing the refs while the fingerprint
    holds, and a child deleted by git is gone from the next query's count."""
    with gitruns.start_run(name="base"):
        pass
    with gitruns.start_run(name="tuned", parents=["base"]) as tuned:
        pass
    store = open_store()
    warm(repo, store)
    listings.clear()
    assert [r.name for r in select_runs(store, "children = 1").rows] == ["base"]
    assert listings == []
    git(repo, "update-ref", "-d", f"refs/runs/{tuned.id}")
    assert [r.name for r in select_runs(store, "children = 1").rows] == []
    assert [r.name for r in select_runs(store, "children = 0").rows] == ["base"]


def test_a_symlink_among_the_refs_leaves_no_fingerprint(repo: Path, listings: list[int]) -> None:
    """A change behind a symlink would not show in the link's own stat."""
    run_id = record("a")
    (repo / ".git" / "refs" / "runs" / "linked").symlink_to(repo / ".git" / "refs" / "heads")
    store = open_store()
    age(repo)
    assert refstate.take(repo / ".git") is None
    assert names(store) == ["a"]
    assert fingerprint(repo) is None
    listings.clear()
    git(repo, "update-ref", "-d", f"refs/runs/{run_id}")
    assert names(store) == [] and listings == [1]


def _shown_by_rank(refs: dict[str, tuple[str, str, str]]) -> set[str]:
    """The rule ``_shown_refs`` implements, written plainly."""
    chosen: dict[str, tuple[bool, str, str]] = {}
    for ref, (run_id, origin, _) in refs.items():
        rank = (origin != "local", origin, ref)
        if run_id not in chosen or rank < chosen[run_id]:
            chosen[run_id] = rank
    return {rank[2] for rank in chosen.values()}


_copies = st.dictionaries(
    st.tuples(st.sampled_from(["local", "team", "alice", "?"]), st.sampled_from("abcd")),
    st.just(""),
    max_size=12,
)


@given(_copies)
def test_the_copy_shown_is_the_local_one_else_the_first_remote(copies: dict[Any, str]) -> None:
    refs = {
        (f"refs/runs/{i}" if origin == "local" else f"refs/remote-runs/{origin}/{i}"): (
            i,
            origin,
            "",
        )
        for origin, i in copies
    }
    assert cache._shown_refs(refs) == _shown_by_rank(refs)
