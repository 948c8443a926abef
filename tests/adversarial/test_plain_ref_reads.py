"""An adversarial pass over ``gitruns record``'s pygit2-free path (gitruns.runwrite), which
reads run refs from git's files: each read must answer what git (and libgit2, the slow
path) answers, or hand over to the Store."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
from _record_helpers import record
from conftest import fsck, git, gitruns_cli

from gitruns.runwrite import NeedsStore, ref_target


def _run_ids(repo: Path) -> list[str]:
    listed = gitruns_cli(repo, "ls", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return [str(run["id"]) for run in json.loads(listed.stdout)]


def test_a_packed_run_with_an_empty_folder_of_its_name_is_still_a_parent(repo: Path) -> None:
    """A packed run ref next to an empty folder of the same name (``refs/runs/<id>/``):
    git reads the ref from packed-refs, and so must the plain path, which took the folder
    for "no such run" and left the parent out of the new run's commit."""
    assert record(repo, "--", "true").returncode == 0
    [parent] = _run_ids(repo)
    git(repo, "pack-refs", "--all")
    (repo / ".git" / "refs" / "runs" / parent).mkdir(parents=True)
    parent_commit = git(repo, "rev-parse", f"refs/runs/{parent}").strip()
    assert ref_target(repo / ".git", f"refs/runs/{parent}") == parent_commit
    done = record(repo, "--parent", parent, "--", "true")
    assert done.returncode == 0, done.stderr
    [child] = [run_id for run_id in _run_ids(repo) if run_id != parent]
    parents = git(repo, "rev-list", "--parents", "-n1", f"refs/runs/{child}").split()[1:]
    assert parent_commit in parents
    fsck(repo)


def _libgit2_answer(repo: Path, name: str) -> str | Exception | None:
    try:
        ref = pygit2.Repository(str(repo)).references.get(name)
    except pygit2.GitError as exc:
        return exc
    return None if ref is None else str(ref.target)


@pytest.mark.parametrize("cut", [1, 5, 30], ids=lambda n: f"{n} bytes cut")
def test_a_packed_refs_cut_short_reads_as_libgit2_reads_it_or_goes_to_the_store(
    repo: Path, cut: int
) -> None:
    assert record(repo, "--", "true").returncode == 0
    [run_id] = _run_ids(repo)
    git(repo, "pack-refs", "--all")
    packed = repo / ".git" / "packed-refs"
    packed.write_bytes(packed.read_bytes()[:-cut])
    name = f"refs/runs/{run_id}"
    slow = _libgit2_answer(repo, name)
    try:
        fast = ref_target(repo / ".git", name)
    except NeedsStore:
        return  # the Store (libgit2) decides
    assert not isinstance(slow, Exception), f"libgit2 refuses the file ({slow}); read {fast}"
    assert fast == slow


@pytest.mark.parametrize(
    "content",
    ["HEAD\n", "HEAD\r\n", "HEAD", "HEAD \n", "HEAD\n\n", " HEAD\n", "\nHEAD\n", "HEAD junk\n"],
)
def test_a_loose_run_ref_reads_as_libgit2_reads_it_or_goes_to_the_store(
    repo: Path, content: str
) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    name = "refs/runs/01a233f7-2418-7769-bbd7-14882ed88e4b"
    (repo / ".git" / "refs" / "runs").mkdir(parents=True, exist_ok=True)
    (repo / ".git" / name).write_text(content.replace("HEAD", head))
    slow = _libgit2_answer(repo, name)
    try:
        fast = ref_target(repo / ".git", name)
    except NeedsStore:
        return
    assert not isinstance(slow, Exception), f"libgit2 refuses the file ({slow}); read {fast}"
    assert fast == slow
