"""The one ref listing (``Store._listed_refs``) and ``git pack-refs`` running meanwhile.

``git pack-refs`` renames the new ``packed-refs`` in before it deletes the loose refs it
took. libgit2 takes its copy of ``packed-refs`` and the names of the loose refs when a
listing starts, and reads each loose file as it goes: a listing that took the old
``packed-refs`` and then found the loose files gone would miss those runs. The listing is
taken again when ``packed-refs`` changed while it ran. Here the real ``git pack-refs`` runs
at exactly that moment, every time: after libgit2 has started the listing and handed out
its first ref, before it has read the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import fsck, git
from pygit2.references import References

import gitruns
from gitruns.storage import Store


def small_run(index: int) -> str:
    with gitruns.start_run(name=f"run-{index}", params={"lr": 0.01}) as run:
        run.log_metric("loss", 0.5, step=0)
    return run.id


def pack_refs_inside_the_first_listing(repo: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the next listing through libgit2 span a real ``git pack-refs --all``; the list
    returned counts the listings started (one element each)."""
    real_iterator = References.iterator
    listings: list[int] = []

    def iterator(self: References, *args: Any, **kwargs: Any) -> Iterator[Any]:
        refs = real_iterator(self, *args, **kwargs)
        first = next(refs)  # libgit2 has its packed-refs copy and the loose refs' names
        listings.append(1)
        if len(listings) == 1:
            git(repo, "pack-refs", "--all")  # new packed-refs in, then the loose files out
        yield first
        yield from refs

    monkeypatch.setattr(References, "iterator", iterator)
    return listings


def loose_run_refs(repo: Path) -> list[Path]:
    folder = repo / ".git" / "refs" / "runs"
    return [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []


def test_a_listing_spanning_pack_refs_misses_no_run(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = {small_run(i) for i in range(2)}
    git(repo, "pack-refs", "--all")  # an old packed-refs holding the first runs
    ids |= {small_run(i) for i in range(2, 8)}
    assert len(loose_run_refs(repo)) == 6
    store = Store(repo)
    listings = pack_refs_inside_the_first_listing(repo, monkeypatch)

    listed = store.run_refs()

    assert loose_run_refs(repo) == []  # pack-refs did run inside the listing
    assert set(listed) == ids
    assert len(listings) == 2  # the listing that spanned it was taken again
    assert listed == {i: git(repo, "rev-parse", f"refs/runs/{i}").strip() for i in ids}
    fsck(repo)


def test_a_listing_spanning_the_first_packed_refs_misses_no_run(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``packed-refs`` at all before: the file appearing is a change too."""
    ids = {small_run(i) for i in range(5)}
    assert not (repo / ".git" / "packed-refs").exists()
    store = Store(repo)
    listings = pack_refs_inside_the_first_listing(repo, monkeypatch)

    assert set(store.run_refs()) == ids
    assert len(listings) == 2
    assert loose_run_refs(repo) == []


def test_run_refs_are_read_as_parse_run_ref_reads_them(repo: Path) -> None:
    """``all_run_refs`` reads most names (``refs/runs/<run id>``) by one match: it lists
    exactly what reading every name with ``parse_run_ref`` lists, odd names included."""
    from gitruns.format.runrefs import parse_run_ref

    run_id = small_run(0)
    commit = git(repo, "rev-parse", f"refs/runs/{run_id}").strip()
    near = run_id[:14] + "6" + run_id[15:]  # not version 7: not a run id
    names = [
        f"refs/runs/{near[:-1]}",
        f"refs/runs/{run_id.upper()}",
        f"refs/runs/{run_id}x",
        f"refs/runs/{near}/more",
        "refs/runs/plain",
        f"refs/remote-runs/team/{run_id}",
        f"refs/remote-runs/team/{near}",
        f"refs/remote-runs/{run_id}",
    ]
    for name in names:
        git(repo, "update-ref", name, commit)
    git(repo, "symbolic-ref", "refs/runs/link", f"refs/runs/{run_id}")
    git(repo, "pack-refs", "--all")
    git(repo, "update-ref", f"refs/runs/{run_id}", commit)  # a loose one too
    store = Store(repo)
    local, remote, odd = store.all_run_refs()
    expected: tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str]] = ({}, {}, {})
    for name, target in store._listed_refs():
        if not name.startswith(("refs/runs/", "refs/remote-runs/")) or isinstance(target, str):
            continue
        parsed = parse_run_ref(name)
        if parsed is None:
            expected[2][name] = str(target)
        elif parsed[0] == "local":
            expected[0][parsed[1]] = str(target)
        else:
            expected[1].setdefault(parsed[0], {})[parsed[1]] = str(target)
    assert (local, remote, odd) == expected
    assert local == {run_id: commit} and remote == {"team": {run_id: commit}}
    assert set(odd) == set(names) - {f"refs/remote-runs/team/{run_id}"}
