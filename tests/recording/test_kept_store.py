"""A process keeps its last run's repository (``Store``) for its next run, and opens a new
one whenever what the kept one holds may be stale (issue 16, flat write cost)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from _store_helpers import run_child
from conftest import fsck, git

import gitruns


def _small_run(name: str, **kwargs: object) -> gitruns.ActiveRun:
    with gitruns.start_run(name=name, params={"lr": 0.01}, **kwargs) as run:  # type: ignore[arg-type]
        run.log_metric("loss", 0.5, step=0)
    return run


def test_a_sweep_keeps_one_store_and_every_run_is_whole(repo: Path) -> None:
    runs = [_small_run(f"r{i}") for i in range(4)]
    assert all(run.store is runs[0].store for run in runs)
    assert {run.name for run in gitruns.list_runs()} == {"r0", "r1", "r2", "r3"}
    fsck(repo)


def test_a_changed_config_opens_the_repository_again(repo: Path) -> None:
    first = _small_run("before")
    git(repo, "config", "user.name", "Somebody Else")
    second = _small_run("after")
    assert second.store is not first.store
    assert gitruns.get_run(second.id).user["name"] == "Somebody Else"
    assert gitruns.get_run(first.id).user["name"] == "Test User"


def test_a_changed_global_config_opens_the_repository_again(
    repo: Path, isolated_environment: Path
) -> None:
    first = _small_run("before")
    global_config = isolated_environment / ".gitconfig"
    global_config.write_text("[user]\n\tname = Global Person\n\temail = g@example.com\n")
    second = _small_run("after")
    assert second.store is not first.store
    assert gitruns.get_run(second.id).user["name"] == "Global Person"


def test_a_repack_by_anyone_opens_the_repository_again(repo: Path) -> None:
    """libgit2 keeps the packs it opened mapped: after packs were deleted, the kept Store
    is dropped, so it does not hold their disk space."""
    first = _small_run("before")
    git(repo, "repack", "-a", "-d", "-q")
    second = _small_run("after")
    assert second.store is not first.store
    third = _small_run("again")
    assert third.store is second.store
    assert len(gitruns.list_runs()) == 3
    fsck(repo)


def test_runs_in_two_repositories_each_land_in_their_own(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    git(other, "commit", "-q", "--allow-empty", "-m", "initial")
    for i in range(2):
        _small_run(f"here{i}")
        _small_run(f"there{i}", repo=other)
    os.chdir(other)
    assert {run.name for run in gitruns.list_runs()} == {"there0", "there1"}
    os.chdir(repo)
    assert {run.name for run in gitruns.list_runs()} == {"here0", "here1"}
    fsck(repo)
    fsck(other)


def test_a_new_repository_at_the_same_place_is_opened_anew(repo: Path) -> None:
    first = _small_run("old")
    git(repo, "init", "-q", "--separate-git-dir", str(repo.parent / "moved.git"))
    second = _small_run("new")
    assert second.store is not first.store
    assert second.store.git_dir != first.store.git_dir


def test_two_threads_never_share_a_store(repo: Path) -> None:
    _small_run("first")
    stores: list[object] = []
    started = threading.Barrier(2)

    def sweep(prefix: str) -> None:
        with gitruns.start_run(name=f"{prefix}-outer", nested=True) as run:
            started.wait(30)  # both runs are in progress at once
            stores.append(run.store)

    threads = [threading.Thread(target=sweep, args=(p,)) for p in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(stores) == 2 and stores[0] is not stores[1]
    assert len(gitruns.list_runs()) == 3


FORKED = """
import os
first = gitruns.start_run(name="parent-1")
first.end()
pid = os.fork()
if pid == 0:
    child = gitruns.start_run(name="child")
    child.end()
    os._exit(0 if child.store is not first.store else 3)
_, status = os.waitpid(pid, 0)
second = gitruns.start_run(name="parent-2")  # a new Store too: the child wrote a pack
second.end()
print("ok" if os.waitstatus_to_exitcode(status) == 0 else "no")
"""


def test_a_forked_child_opens_its_own_store(repo: Path) -> None:
    result = run_child(repo, FORKED)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    assert {run.name for run in gitruns.list_runs()} == {"parent-1", "child", "parent-2"}
    fsck(repo)


def test_a_kept_store_sees_the_worktree_index_and_head_move(repo: Path) -> None:
    """What a run records of the code comes from disk each time, not from the kept
    Store: an edit makes the next run dirty, a commit moves its HEAD."""
    clean = _small_run("clean")
    (repo / "train.py").write_text("print('edited')\n")
    dirty = _small_run("dirty")
    git(repo, "commit", "-qam", "edit")
    head = git(repo, "rev-parse", "HEAD").strip()
    (repo / "new.py").write_text("x = 1\n")
    git(repo, "add", "new.py")  # staged only: the index changed
    staged = _small_run("staged")
    git(repo, "commit", "-qm", "new")
    after = _small_run("after")
    assert dirty.store is clean.store and after.store is clean.store
    runs = {
        name: gitruns.get_run(run.id)
        for name, run in (("clean", clean), ("dirty", dirty), ("staged", staged), ("after", after))
    }
    assert not runs["clean"].git["dirty"] and runs["dirty"].git["dirty"]
    assert "edited" in git(repo, "show", f"{runs['dirty'].git['snapshot']}:train.py")
    assert runs["staged"].git["commit"] == head and runs["staged"].git["dirty"]
    assert runs["after"].git["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert not runs["after"].git["dirty"]
    fsck(repo)
