"""An adversarial pass over the direct reading of git's ref files (gitruns.sharing.reffiles)
against ``git for-each-ref``: with a ``git pack-refs`` running meanwhile, and on odd or
broken ref layouts. The reader must answer what git lists, or None (git lists them)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _sharing_helpers import create_refs, refs_by_git
from conftest import git

from gitruns.sharing import reffiles
from gitruns.sharing.reffiles import refs_under, refs_under_each

PREFIX = "refs/runs/"


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    git(repo, "commit", "-q", "--allow-empty", "-m", "code")
    head = git(repo, "rev-parse", "HEAD").strip()
    create_refs(repo, [f"{PREFIX}a", f"{PREFIX}b", f"{PREFIX}c"], head)
    return repo, head


def test_a_pack_refs_right_after_packed_refs_is_read_loses_no_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``git pack-refs`` renames in a packed-refs holding the loose refs, then deletes them:
    a reader that read packed-refs before the loose files (as git never does) and the loose
    files after that missed every ref it moved (a push then left those runs behind)."""
    repo, head = _repo(tmp_path)
    git(repo, "pack-refs", "--all")
    create_refs(repo, [f"{PREFIX}d", "refs/remote-runs/origin/e"], head)  # loose
    read_packed = reffiles._packed_data

    def packed_then_pack_refs(path: str) -> bytes:
        data = read_packed(path)
        git(repo, "pack-refs", "--all")  # the real thing, at the worst moment
        return data

    monkeypatch.setattr(reffiles, "_packed_data", packed_then_pack_refs)
    prefixes = [PREFIX, "refs/remote-runs/origin/"]
    found = refs_under_each(repo / ".git", prefixes)
    assert found == {**refs_by_git(repo, PREFIX), **refs_by_git(repo, prefixes[1])}
    assert found is not None and f"{PREFIX}d" in found and len(found) == 5


@pytest.mark.slow
def test_listings_during_real_pack_refs_hold_every_ref(tmp_path: Path) -> None:
    """The same race, unstaged: listings taken while real ``git pack-refs`` runs (before
    the fix, about one in a hundred missed refs)."""
    repo, head = _repo(tmp_path)
    expected = set(refs_by_git(repo, PREFIX))
    for round_ in range(60):
        names = [f"{PREFIX}r{round_}-{i}" for i in range(300)]
        create_refs(repo, names, head)
        expected |= set(names)
        packing = subprocess.Popen(["git", "pack-refs", "--all"], cwd=repo)
        while packing.poll() is None:
            found = refs_under(repo / ".git", PREFIX)
            assert found is None or set(found) == expected
        assert packing.wait() == 0
    assert set(refs_by_git(repo, PREFIX)) == expected


def _loose(content: bytes) -> Callable[[Path, str], None]:
    def write(repo: Path, head: str) -> None:
        (repo / ".git" / "refs" / "runs" / "x").write_bytes(content.replace(b"HEAD", head.encode()))

    return write


def _packed(edit: Callable[[bytes], bytes]) -> Callable[[Path, str], None]:
    def write(repo: Path, head: str) -> None:
        git(repo, "pack-refs", "--all")
        packed = repo / ".git" / "packed-refs"
        packed.write_bytes(edit(packed.read_bytes()))

    return write


def _cut_in_last_id(data: bytes) -> bytes:
    return data[: data.rfind(b"\n", 0, len(data) - 1) + 20]


LAYOUTS: dict[str, Callable[[Path, str], None]] = {
    "loose CRLF": _loose(b"HEAD\r\n"),
    "loose without newline": _loose(b"HEAD"),
    "loose with trailing garbage": _loose(b"HEAD\ngarbage\n"),
    "loose in upper case": _loose(b"HEAD\n".upper()),
    "loose all zeros (git: broken, ignored)": _loose(b"0" * 40 + b"\n"),
    "loose empty": _loose(b""),
    "loose symbolic": _loose(b"ref: refs/runs/a\n"),
    "packed without its last newline": _packed(lambda d: d[:-1]),
    "packed cut in a name": _packed(lambda d: d[:-3]),
    "packed cut in an id": _packed(_cut_in_last_id),
    "packed with a blank line": _packed(lambda d: d + b"\n"),
    "packed with CRLF": _packed(lambda d: d.replace(b"\n", b"\r\n")),
    "packed not marked sorted": _packed(lambda d: d.replace(b" sorted", b"")),
    "packed ref to a missing object": _packed(lambda d: d + b"1" * 40 + b" refs/runs/z\n"),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_odd_layouts_read_as_git_lists_them_or_are_left_to_git(tmp_path: Path, layout: str) -> None:
    repo, head = _repo(tmp_path)
    LAYOUTS[layout](repo, head)
    listed = subprocess.run(
        ["git", "for-each-ref", "--format=%(objectname) %(refname)", PREFIX],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    found = refs_under(repo / ".git", PREFIX)
    if listed.returncode != 0:
        assert found is None, listed.stderr  # git refuses the files: so must the reader
        return
    assert found is None or found == refs_by_git(repo, PREFIX), listed.stderr
