"""An adversarial pass over the bulk tree check of fetched runs (gitruns.runs.treecheck)
against the per-object ``check_tree``: raw trees git itself would never write (empty,
slashed, duplicate, unsorted or non-UTF-8 names, zero-padded or odd modes, objects of the
wrong type, missing objects). Both must refuse the same runs. (Where both refuse, the
words may differ: the per-object check says "git object <id> is not a folder" or "... is
missing" where the bulk check names the path.)"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _sharing_helpers import make_run, make_team, per_object_failures, runs_of, store
from conftest import fsck, git, gitruns_cli

from gitruns.format import yamlio
from gitruns.format.ids import new_run_id
from gitruns.runs.untrusted import Limits, check_run_refs

LIMITS = Limits(max_entries=40, max_depth=4, max_total_bytes=60_000, max_file_bytes=20_000)
Entry = tuple[bytes, str, bytes]  # mode digits, object id, raw name


def _plumb(repo: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True)
    return done.stdout.decode().strip()


def _blob(repo: Path, data: bytes) -> str:
    return _plumb(repo, "hash-object", "-w", "--stdin", data=data)


def _raw_tree(repo: Path, entries: list[Entry], *, sort: bool = True) -> str:
    """A tree object of exactly these entries (sorted by name unless told not to)."""
    listed = sorted(entries, key=lambda e: e[2]) if sort else entries
    raw = b"".join(mode + b" " + name + b"\0" + bytes.fromhex(oid) for mode, oid, name in listed)
    return _plumb(repo, "hash-object", "--literally", "-t", "tree", "-w", "--stdin", data=raw)


class Crafted:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        good_id = make_run(repo, "good")
        good = runs_of(repo)[good_id]
        self.base = good + "^"
        self.root: list[Entry] = []
        for line in _plumb(repo, "ls-tree", good).splitlines():
            meta, name = line.split("\t")
            mode, _, oid = meta.split()
            self.root.append((mode.lstrip("0").encode(), oid, name.encode()))
        self.small = _blob(repo, b"x\n")
        self.leaf = _raw_tree(repo, [(b"100644", self.small, b"leaf")])

    def run(self, extra: list[Entry], *, sort: bool = True) -> tuple[str, str, str]:
        tree = _raw_tree(self.repo, [*self.root, *extra], sort=sort)
        commit = _plumb(self.repo, "commit-tree", tree, "-p", self.base, "-m", "crafted")
        run_id = new_run_id()
        ref = f"refs/remote-runs/origin/{run_id}"
        _plumb(self.repo, "update-ref", ref, commit)
        return ref, run_id, commit


CASES: dict[str, Callable[[Crafted], list[Entry]]] = {
    "empty name": lambda c: [(b"100644", c.small, b"")],
    "a slash in a name": lambda c: [(b"100644", c.small, b"a/b")],
    "a name twice": lambda c: [(b"100644", c.small, b"dup"), (b"100644", c.small, b"dup")],
    "a file and a folder of one name": lambda c: [
        (b"100644", c.small, b"same"),
        (b"40000", c.leaf, b"same"),
    ],
    "a non-UTF-8 name": lambda c: [(b"100644", c.small, b"caf\xe9")],
    "a newline in a name": lambda c: [(b"100644", c.small, b"a\nb")],
    "a dot": lambda c: [(b"100644", c.small, b".")],
    "a .GIT folder": lambda c: [(b"40000", c.leaf, b".GIT")],
    "a .git. file": lambda c: [(b"100644", c.small, b".git.")],
    "git~1": lambda c: [(b"40000", c.leaf, b"git~1")],
    "zero-padded file mode": lambda c: [(b"0100644", c.small, b"padded")],
    "zero-padded folder mode": lambda c: [(b"040000", c.leaf, b"padded")],
    "old group-writable mode": lambda c: [(b"100664", c.small, b"old")],
    "mode 644": lambda c: [(b"644", c.small, b"short")],
    "mode 0": lambda c: [(b"0", c.small, b"zero")],
    "a blob named as a folder": lambda c: [(b"40000", c.small, b"fake")],
    "a folder named as a file": lambda c: [(b"100644", c.leaf, b"fake")],
    "a missing blob": lambda c: [(b"100644", "3" * 40, b"missing")],
    "a missing folder": lambda c: [(b"40000", "3" * 40, b"missing")],
    "a commit named as a folder": lambda c: [
        (b"40000", _plumb(c.repo, "rev-parse", c.base), b"commit")
    ],
    "a symlink to ..": lambda c: [(b"120000", _blob(c.repo, b".."), b"up")],
    "a gitlink": lambda c: [(b"160000", "4" * 40, b"module")],
    "a nested bad name": lambda c: [
        (b"40000", _raw_tree(c.repo, [(b"100644", c.small, b"..")]), b"env2")
    ],
    "a nested odd mode": lambda c: [
        (b"40000", _raw_tree(c.repo, [(b"100664", c.small, b"f")]), b"env2")
    ],
}


@pytest.fixture
def crafted(tmp_path: Path) -> Crafted:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "initial")
    return Crafted(repo)


def _verdicts(repo: Path, runs: list[tuple[str, str, str]]) -> tuple[set[str], set[str]]:
    """The refs each check refuses: in bulk, and one run at a time."""
    bulk = set(check_run_refs(store(repo), runs, LIMITS))
    return bulk, set(per_object_failures(repo, runs, LIMITS))


# git reads modes 644 and 0 as submodules, and fsck --strict refuses 100664; a commit is
# no folder. libgit2 read them all as files and folders, so the per-object check passed
# them while the bulk check (reading the raw trees) refused them.
REFUSED = {
    "old group-writable mode": "holds an entry of mode 100664 at old",
    "mode 644": "holds an entry of mode 644 at short",
    "mode 0": "",  # zero-padded too: a folder that cannot be read
    "zero-padded file mode": "",  # accepted by both before; git fsck --strict: broken
    "zero-padded folder mode": "",
    "a nested odd mode": "holds an entry of mode 100664 at env2/f",
    "a commit named as a folder": "",
    # git fsck --strict: duplicateEntries (twice: a file and a folder of one name too)
    "a name twice": "",
    "a file and a folder of one name": "",
}


@pytest.mark.parametrize("case", list(CASES))
def test_odd_trees_get_the_per_object_verdict(crafted: Crafted, case: str) -> None:
    runs = [crafted.run(CASES[case](crafted))]
    bulk, one_by_one = _verdicts(crafted.repo, runs)
    assert bulk == one_by_one
    if case in REFUSED:
        [(ref, _, _)] = runs
        assert ref in bulk
        assert REFUSED[case] in per_object_failures(crafted.repo, runs, LIMITS)[ref]


def test_unsorted_entries_get_the_per_object_verdict(crafted: Crafted) -> None:
    extra: list[Entry] = [(b"100644", crafted.small, b"zz"), (b"100644", crafted.small, b"aa")]
    runs = [crafted.run(extra, sort=False)]
    bulk, one_by_one = _verdicts(crafted.repo, runs)
    assert bulk == one_by_one == {runs[0][0]}  # git fsck --strict: treeNotSorted


def test_a_folder_sorts_as_its_name_and_a_slash(crafted: Crafted) -> None:
    """git's order: the folder ``a`` sorts as ``a/``, after the file ``a-b`` ('-' < '/')
    and before ``a0`` ('/' < '0'); a tree in that order is well formed (fsck --strict
    agrees), the same entries by plain name order are not."""
    as_git: list[Entry] = [
        (b"100644", crafted.small, b"a-b"),
        (b"40000", crafted.leaf, b"a"),
        (b"100644", crafted.small, b"a0"),
    ]
    folder = _raw_tree(crafted.repo, as_git, sort=False)
    good = crafted.run([(b"40000", folder, b"nest")])
    by_name = _raw_tree(crafted.repo, sorted(as_git, key=lambda e: e[2]), sort=False)
    bad = crafted.run([(b"40000", by_name, b"nest")])
    bulk, one_by_one = _verdicts(crafted.repo, [good, bad])
    assert bulk == one_by_one == {bad[0]}
    checked = subprocess.run(
        ["git", "fsck", "--strict", "--no-dangling"], cwd=crafted.repo, capture_output=True
    )
    assert by_name in checked.stdout.decode() + checked.stderr.decode()
    assert folder not in checked.stdout.decode() + checked.stderr.decode()


def test_all_odd_runs_at_once_get_the_per_object_verdicts(crafted: Crafted) -> None:
    runs = [crafted.run(make(crafted)) for make in CASES.values()]
    bulk, one_by_one = _verdicts(crafted.repo, runs)
    assert bulk == one_by_one


def test_a_run_fetched_by_plain_git_with_an_odd_mode_is_skipped_by_ls(crafted: Crafted) -> None:
    """Through the real CLI: a copy of a good run under refs/remote-runs/origin/ (as a plain
    ``git fetch`` leaves it) whose tree holds an entry of mode 644, which git reads as a
    submodule. ``gitruns fetch`` refuses it (bulk check); ``ls`` reads it through the
    per-object check and must refuse it too (it listed it)."""
    [good_id] = runs_of(crafted.repo)
    crafted_ref, _, commit = crafted.run([(b"644", crafted.small, b"notes.txt")])
    ref = f"refs/remote-runs/origin/{good_id}"
    _plumb(crafted.repo, "update-ref", ref, commit)
    _plumb(crafted.repo, "update-ref", "-d", crafted_ref)
    _plumb(crafted.repo, "update-ref", "-d", f"refs/runs/{good_id}")  # fetched only
    listed = gitruns_cli(crafted.repo, "ls", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    assert f"skipping {ref}" in listed.stderr and "mode 644" in listed.stderr
    assert json.loads(listed.stdout) == []


def _sorted_literal_tree(repo: Path, entries: list[Entry]) -> str:
    """A tree of exactly these entries in git's order (a folder sorts as ``name/``)."""
    listed = sorted(entries, key=lambda e: e[2] + (b"/" if e[0].lstrip(b"0") == b"40000" else b""))
    return _raw_tree(repo, listed, sort=False)


def test_a_fetched_run_with_a_zero_padded_mode_is_dropped_and_gc_leaves_fsck_clean(
    tmp_path: Path,
) -> None:
    """Through the real CLI: a remote run whose tree writes a mode with a leading zero
    (``git fsck --strict``: zeroPaddedFilemode) was accepted by both tree checks, so the
    user's repository failed ``git fsck --strict`` for as long as the run was kept. Now
    ``gitruns fetch`` drops it, and after a gc nothing of it is left."""
    team = make_team(tmp_path)
    good = make_run(team.alice, "good")
    pushed = gitruns_cli(team.alice, "push", "origin", "--allow-unpublished-code")
    assert pushed.returncode == 0, pushed.stderr
    remote = team.remote
    tip = runs_of(remote)[good]
    run_id = new_run_id()
    document = yamlio.load(_plumb(remote, "cat-file", "blob", f"{tip}:run.yaml").encode(), "x")
    document["id"] = run_id
    entries: list[Entry] = []
    for line in _plumb(remote, "ls-tree", tip).splitlines():
        meta, name = line.split("\t")
        mode, _, oid = meta.split()
        if name == "run.yaml":
            oid = _blob(remote, yamlio.dump(document))
        entries.append((mode.lstrip("0").encode(), oid, name.encode()))
    entries.append((b"0100644", _blob(remote, b"x\n"), b"notes.txt"))
    tree = _sorted_literal_tree(remote, entries)
    commit = _plumb(remote, "commit-tree", tree, "-p", tip, "-m", "crafted")
    _plumb(remote, "update-ref", f"refs/runs/{run_id}", commit)
    fetched = gitruns_cli(team.bob, "fetch", "origin")
    assert fetched.returncode == 0, fetched.stderr
    assert "Traceback" not in fetched.stderr
    assert run_id in fetched.stderr + fetched.stdout  # reported as skipped
    assert set(runs_of(team.bob, "refs/remote-runs/origin/")) == {good}
    git(team.bob, "gc", "--prune=now", "-q")
    fsck(team.bob)
