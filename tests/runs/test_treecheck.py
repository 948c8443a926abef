"""The bulk tree check of a fetch (``check_run_refs`` over ``git cat-file`` batches) gives
the verdicts of the per-object ``check_tree``, and stays bounded on crafted trees.

Runs are crafted with git plumbing in a real repository, under refs/remote-runs/origin/."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from _sharing_helpers import make_run, per_object_failures, runs_of, store
from conftest import git, git_before_batch_command

from gitruns.format.ids import new_run_id
from gitruns.runs.catfile_session import CatFileSession
from gitruns.runs.gitbatch import BatchError, parse_tree, raw_sizes, read_raw
from gitruns.runs.untrusted import Limits, check_run_refs

LIMITS = Limits(max_entries=40, max_depth=4, max_total_bytes=60_000, max_file_bytes=20_000)


def _plumb(repo: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True)
    return done.stdout.decode().strip()


def _blob(repo: Path, data: bytes) -> str:
    return _plumb(repo, "hash-object", "-w", "--stdin", data=data)


def _tree(repo: Path, entries: list[tuple[str, str, str]]) -> str:
    """A tree of (mode, id, name) written literally: git checks nothing."""
    raw = b"".join(
        mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
        for mode, oid, name in sorted(entries, key=lambda e: e[2])
    )
    return _plumb(repo, "hash-object", "--literally", "-t", "tree", "-w", "--stdin", data=raw)


def _run(repo: Path, base: str, tree: str) -> tuple[str, str, str]:
    run_id = new_run_id()
    commit = _plumb(repo, "commit-tree", tree, "-p", base, "-m", "crafted")
    ref = f"refs/remote-runs/origin/{run_id}"
    _plumb(repo, "update-ref", ref, commit)
    return ref, run_id, commit


@pytest.fixture
def crafted(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str, str]]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "initial")
    good_id = make_run(repo, "good")
    good = runs_of(repo)[good_id]
    base = good + "^"
    small = _blob(repo, b"x\n")
    big = _blob(repo, b"y" * 25_000)
    root = []
    for line in _plumb(repo, "ls-tree", good).splitlines():
        meta, name = line.split("\t")
        mode, _, oid = meta.split()
        root.append((mode.lstrip("0"), oid, name))

    def deep(levels: int) -> str:
        tree = _tree(repo, [("100644", small, "leaf")])
        for _ in range(levels):
            tree = _tree(repo, [("40000", tree, "d")])
        return tree

    wide = _tree(repo, [("100644", small, f"f{i}") for i in range(45)])
    cases = {
        "good": _run(repo, base, _tree(repo, root)),
        "symlink": _run(repo, base, _tree(repo, [*root, ("120000", small, "link")])),
        "submodule": _run(repo, base, _tree(repo, [*root, ("160000", "1" * 40, "sub")])),
        "dotgit": _run(
            repo,
            base,
            _tree(repo, [*root, ("40000", _tree(repo, [("100644", small, "c")]), ".git")]),
        ),
        "dotdot": _run(repo, base, _tree(repo, [*root, ("100644", small, "..")])),
        "big_file": _run(repo, base, _tree(repo, [*root, ("100644", big, "big.bin")])),
        "too_many": _run(repo, base, _tree(repo, [*root, ("40000", wide, "many")])),
        "too_deep": _run(repo, base, _tree(repo, [*root, ("40000", deep(5), "deep")])),
        "fine_depth": _run(repo, base, _tree(repo, [*root, ("40000", deep(2), "deep")])),
        "too_big_in_all": _run(
            repo,
            base,
            _tree(
                repo,
                [
                    *root,
                    *((("100644", _blob(repo, bytes([i]) * 19_000), f"p{i}")) for i in range(4)),
                ],
            ),
        ),
    }
    blob_ref = f"refs/remote-runs/origin/{new_run_id()}"
    _plumb(repo, "update-ref", blob_ref, small)
    cases["not_a_commit"] = (blob_ref, blob_ref.rsplit("/", 1)[1], small)
    return repo, cases


def test_bulk_check_agrees_with_the_per_object_check(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    repo, cases = crafted
    runs = list(cases.values())
    bulk = {ref: exc.message for ref, exc in check_run_refs(store(repo), runs, LIMITS).items()}
    assert bulk == per_object_failures(repo, runs, LIMITS)
    failing = {name for name, (ref, _, _) in cases.items() if ref in bulk}
    assert failing == set(cases) - {"good", "fine_depth"}
    assert "does not point at a commit" in bulk[cases["not_a_commit"][0]]
    assert "a symlink at link" in bulk[cases["symlink"][0]]
    assert "more than 40 files" in bulk[cases["too_many"][0]]
    assert "deeper than 4" in bulk[cases["too_deep"][0]]


def test_a_ref_that_is_not_its_run_id_fails(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    repo, cases = crafted
    ref, _, commit = cases["good"]
    failed = check_run_refs(store(repo), [(ref, new_run_id(), commit)], LIMITS)
    assert list(failed) == [ref]


def test_a_tree_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """16 entries per level, 8 levels of the same folder: 4 billion paths, 9 objects."""
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    tree = _tree(repo, [("100644", _blob(repo, b"x"), "leaf")])
    for _ in range(8):
        tree = _tree(repo, [("40000", tree, f"d{i}") for i in range(16)])
    commit = _plumb(repo, "commit-tree", tree, "-m", "bomb")
    ref = f"refs/remote-runs/origin/{new_run_id()}"
    started = time.monotonic()
    failed = check_run_refs(store(repo), [(ref, ref.rsplit("/", 1)[1], commit)])
    assert "more than 250000 files and folders" in failed[ref].message
    assert time.monotonic() - started < 120  # bounded (a guard against hangs, not a timing)


def test_malformed_trees_and_folders_that_are_files_fail(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    blob = _blob(repo, b"x\n")
    garbage = _plumb(
        repo, "hash-object", "--literally", "-t", "tree", "-w", "--stdin", data=b"100644 oops"
    )
    odd_mode = _tree(repo, [("100664", blob, "file")])
    runs = []
    for tree in (
        _tree(repo, [("40000", garbage, "bad")]),
        _tree(repo, [("40000", blob, "not-a-folder")]),
        _tree(repo, [("100644", _tree(repo, [("100644", blob, "x")]), "folder-as-file")]),
        odd_mode,
    ):
        ref = f"refs/remote-runs/origin/{new_run_id()}"
        runs.append((ref, ref.rsplit("/", 1)[1], _plumb(repo, "commit-tree", tree, "-m", "x")))
    failed = check_run_refs(store(repo), runs)
    messages = [failed[ref].message if ref in failed else "" for ref, _, _ in runs]
    assert "folder that cannot be read: bad" in messages[0]
    assert "folder that cannot be read: not-a-folder" in messages[1]
    # A file entry that names a folder is refused when read (Store.read_file), not here.
    assert "mode 100664" in messages[3]  # a mode git never writes


def test_parse_tree_refuses_trailing_garbage() -> None:
    entry = b"100644 name\0" + bytes(20)
    assert parse_tree(entry, 20) == [(b"name", 0o100644, "00" * 20)]
    with pytest.raises(ValueError):
        parse_tree(entry + b"junk", 20)
    with pytest.raises(ValueError):
        parse_tree(entry[:-3], 20)


def test_the_summary_cap_is_the_readers() -> None:
    from gitruns.runs import untrusted
    from gitruns.runs.model import MAX_SUMMARY_BYTES

    assert untrusted._SUMMARY_CAP == MAX_SUMMARY_BYTES


# -- hostile runs in a batch with good ones, reusing the good runs' object ids ------------------


def _bulk(repo: Path, runs: list[tuple[str, str, str]]) -> dict[str, str]:
    return {ref: exc.message for ref, exc in check_run_refs(store(repo), runs, LIMITS).items()}


@pytest.mark.parametrize("case", ["too_many", "too_deep", "too_big_in_all"])
def test_runs_over_a_limit_next_to_good_runs_are_refused(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]], case: str
) -> None:
    """Limits that depend on where a folder sits or how often it repeats (entries, bytes,
    depth) are applied to each run of a batch whose folders are all well-formed."""
    repo, cases = crafted
    runs = [cases["good"], cases["fine_depth"], cases[case]]
    bulk = _bulk(repo, runs)
    assert list(bulk) == [cases[case][0]]
    assert bulk == per_object_failures(repo, runs, LIMITS)


def test_a_shared_folder_deeper_in_another_run_is_checked_there(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    """A hostile run holds a good run's own folders (same ids, already passed at depth 1)
    three folders down: its paths are then too deep, whatever was kept of that folder."""
    repo, cases = crafted
    ref, _, good = cases["good"]
    root = _plumb(repo, "rev-parse", f"{good}^{{tree}}")
    folder = next(
        line.split()[2] for line in _plumb(repo, "ls-tree", good).splitlines() if " tree " in line
    )
    deep = _tree(repo, [("40000", folder, "x")])
    for _ in range(2):
        deep = _tree(repo, [("40000", deep, "d")])
    base = good + "^"
    hostile = _run(repo, base, _tree(repo, [("40000", deep, "d")]))
    also_root = _run(repo, base, _tree(repo, [("40000", root, "again")]))
    runs = [cases["good"], hostile, also_root]
    bulk = _bulk(repo, runs)
    assert "deeper than 4" in bulk[hostile[0]]
    assert ref not in bulk and also_root[0] not in bulk  # a good tree one level down is fine
    assert bulk == per_object_failures(repo, runs, LIMITS)


def test_a_repeated_folder_counts_each_time_it_is_held(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    """One folder id held many times (a small bomb): its entries count every time."""
    repo, cases = crafted
    _, _, good = cases["good"]
    root = _plumb(repo, "rev-parse", f"{good}^{{tree}}")
    many = _run(repo, good + "^", _tree(repo, [("40000", root, f"copy{i}") for i in range(4)]))
    runs = [cases["good"], many]
    bulk = _bulk(repo, runs)
    assert "more than 40 files" in bulk[many[0]]
    assert bulk == per_object_failures(repo, runs, LIMITS)


@pytest.mark.parametrize("mode", ["40000", "120000", "160000", "100664"])
def test_an_id_of_a_good_run_under_another_mode_is_refused(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]], mode: str
) -> None:
    """A hostile run names a good run's file (same blob id, already sized) as a folder, a
    symlink, a submodule or an odd mode: refused, the good run not."""
    repo, cases = crafted
    _, _, good = cases["good"]
    blob = _plumb(repo, "rev-parse", f"{good}:run.yaml")
    hostile = _run(repo, good + "^", _tree(repo, [("100644", blob, "run.yaml"), (mode, blob, "x")]))
    runs = [cases["good"], hostile]
    bulk = _bulk(repo, runs)
    assert list(bulk) == [hostile[0]]
    # (libgit2, under the per-object check, cannot read a blob as a folder, and reads
    # mode 100664 as 100644: those two are compared with what the bulk check says)
    if mode == "40000":
        assert "holds a folder that cannot be read: x" in bulk[hostile[0]]
        # the per-object check (partial clones) refuses it too, rather than crash
        one_by_one = per_object_failures(repo, runs, LIMITS)
        assert f"git object {blob} is not a folder" in one_by_one[hostile[0]]
    elif mode == "100664":
        assert "holds an entry of mode 100664 at x" in bulk[hostile[0]]
    else:
        assert bulk == per_object_failures(repo, runs, LIMITS)


@pytest.mark.parametrize("name", ["..", ".git", "a/b", "bad\x01name", "GIT~1"])
def test_a_bad_name_next_to_a_good_runs_file_is_refused(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]], name: str
) -> None:
    repo, cases = crafted
    _, _, good = cases["good"]
    blob = _plumb(repo, "rev-parse", f"{good}:run.yaml")
    hostile = _run(repo, good + "^", _tree(repo, [("100644", blob, name)]))
    runs = [cases["good"], hostile]
    bulk = _bulk(repo, runs)
    assert bulk == per_object_failures(repo, runs, LIMITS)
    # "a/b" as one name is the path a/b, which the path rules allow; the others are not
    assert list(bulk) == ([] if name == "a/b" else [hostile[0]])


def test_root_trees_as_git_lists_them_give_the_same_verdicts(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    """A fetch hands the check the root trees ``git for-each-ref`` parsed (no commit pass):
    same verdicts, a ref naming a blob or an annotated tag is still not a commit."""
    from gitruns.sharing.refs import list_refs_with_trees

    repo, cases = crafted
    _, _, good = cases["good"]
    _plumb(repo, "tag", "-a", "-m", "a tag", "t1", good)
    tag = _plumb(repo, "rev-parse", "t1")
    tag_ref = f"refs/remote-runs/origin/{new_run_id()}"
    _plumb(repo, "update-ref", tag_ref, tag)
    runs = [*cases.values(), (tag_ref, tag_ref.rsplit("/", 1)[1], tag)]
    refs, trees = list_refs_with_trees(store(repo), "refs/remote-runs/origin/")
    assert {ref: refs[ref] for ref, _, _ in runs} == {ref: c for ref, _, c in runs}
    assert trees[good] == _plumb(repo, "rev-parse", f"{good}^{{tree}}")
    assert trees[tag] is None and trees[cases["not_a_commit"][2]] is None
    listed = {
        ref: exc.message for ref, exc in check_run_refs(store(repo), runs, LIMITS, trees).items()
    }
    assert listed == _bulk(repo, runs)
    assert "does not point at a commit" in listed[tag_ref]
    assert set(listed) == {ref for ref, _, _ in runs} - {cases["good"][0], cases["fine_depth"][0]}


def test_a_ref_to_a_missing_object_is_listed_and_refused(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    """git cannot list trees when a ref names a missing object: the plain listing is used
    and the check reads the commits itself; that run fails, the good one passes."""
    from gitruns.sharing.refs import list_refs_with_trees

    repo, cases = crafted
    run_id = new_run_id()
    broken = repo / ".git" / "refs" / "remote-runs" / "origin" / run_id
    broken.write_text("12" * 20 + "\n")
    refs, trees = list_refs_with_trees(store(repo), "refs/remote-runs/origin/")
    assert trees == {}
    ref = f"refs/remote-runs/origin/{run_id}"
    assert refs[ref] == "12" * 20
    runs = [cases["good"], (ref, run_id, refs[ref])]
    failed = check_run_refs(store(repo), runs, LIMITS, trees)
    assert list(failed) == [ref]
    assert "does not point at a commit" in failed[ref].message


def test_one_cat_file_session_or_one_process_a_pass_give_the_same_verdicts(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every pass of the check goes through one `git cat-file --batch-command`; a git that
    does not know the option gets a process a pass, with the same answers."""
    repo, cases = crafted
    runs = list(cases.values())
    session = {ref: exc.message for ref, exc in check_run_refs(store(repo), runs, LIMITS).items()}
    monkeypatch.setenv("PATH", git_before_batch_command(tmp_path / "old-git"))
    per_pass = {ref: exc.message for ref, exc in check_run_refs(store(repo), runs, LIMITS).items()}
    assert session == per_pass == per_object_failures(repo, runs, LIMITS)
    assert {name for name, (ref, _, _) in cases.items() if ref in session} == set(cases) - {
        "good",
        "fine_depth",
    }


def test_a_session_answers_as_one_process_a_pass(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    repo, cases = crafted
    repository = store(repo)
    names = [commit for _, _, commit in cases.values()] + ["0" * 40, "f" * 40]
    trees = [_plumb(repo, "rev-parse", f"{c}^{{tree}}") for c in names[:3]]
    listing = "".join(f"{n}\n" for n in names).encode()
    trees_listing = "".join(f"{t}\n" for t in trees).encode()
    with CatFileSession(repository) as reads:
        assert reads.read_raw(listing, len(names)) == read_raw(repository, listing, len(names))
        assert reads.raw_sizes(listing, len(names)) == raw_sizes(repository, listing, len(names))
        assert reads.read_raw(trees_listing, 3) == read_raw(repository, trees_listing, 3)
        assert reads.read_raw(b"", 0) == []
        # answers longer than a pipe holds, and than one read takes, come whole
        big = [_blob(repo, bytes([i]) * 1_500_000) for i in range(3)]
        big_listing = "".join(f"{b}\n" for b in [big[0], "0" * 40, *big[1:]]).encode()
        assert reads.read_raw(big_listing, 4) == read_raw(repository, big_listing, 4)
        with pytest.raises(BatchError):
            reads.read_raw(b"a\nb\n", 1)  # a name that holds a newline
    assert read_raw(repository, listing, len(names))[-1] is None  # a missing object


def test_a_commit_whose_tree_line_has_spaces_fails_alone(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    """``bytes.fromhex`` skips spaces: a tree line of 40 characters with spaces in it would
    read as a shorter id and shift the other runs' ids in the pass's listing. It is not a
    commit git can read; the good runs of the batch still pass."""
    repo, cases = crafted
    spaced = "ab" * 9 + " " + "ab" * 5 + " " + "ab" * 5
    body = f"tree {spaced}\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nx\n"
    commit = _plumb(
        repo, "hash-object", "--literally", "-t", "commit", "-w", "--stdin", data=body.encode()
    )
    run_id = new_run_id()
    ref = f"refs/remote-runs/origin/{run_id}"
    (repo / ".git" / ref).write_text(commit + "\n")  # (git update-ref refuses it)
    runs = [cases["good"], cases["fine_depth"], (ref, run_id, commit)]
    for order in (runs, runs[::-1]):
        bulk = _bulk(repo, order)
        assert list(bulk) == [ref]
        assert "does not point at a commit" in bulk[ref]


def test_a_session_without_ids_answers_as_one_process_a_pass(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--batch-command=%(objecttype) %(objectsize)``: types, contents and sizes as the
    per-pass reads give them, a missing object None; and the same where git is older."""
    repo, cases = crafted
    repository = store(repo)
    commits = [commit for _, _, commit in cases.values()]
    trees = [_plumb(repo, "rev-parse", f"{c}^{{tree}}") for c in commits[:3]]
    big = [_blob(repo, bytes([i]) * 1_500_000) for i in range(2)]  # over a pipe's worth
    there = [*commits, *trees, *big]
    names = [*there[:3], "0" * 40, *there[3:], "f" * 40]
    listing, present = ("".join(f"{n}\n" for n in n_).encode() for n_ in (names, there))
    count = len(names)
    expected = [None if o is None else (o[1], o[2]) for o in read_raw(repository, listing, count)]
    assert expected[3] is None and expected[-1] is None and expected[-2] is not None
    sizes = raw_sizes(repository, listing, count)
    assert sizes[3] is None and sizes[-2] == 1_500_000
    for old_git in (False, True):
        if old_git:
            monkeypatch.setenv("PATH", git_before_batch_command(tmp_path / "old-git"))
        with CatFileSession(repository, without_ids=True) as reads:
            assert reads.read_typed(listing, count) == expected
            assert reads.sizes(listing, count) == sizes
            assert reads.sizes(present, len(there)) == [s for s in sizes if s is not None]
            assert reads._per_pass == old_git  # (the older git refused the option)
            assert reads.read_typed(b"", 0) == [] and reads.sizes(b"", 0) == []


def test_root_trees_known_for_some_runs_only_give_the_same_verdicts(
    crafted: tuple[Path, dict[str, tuple[str, str, str]]],
) -> None:
    """The commits whose root tree is not handed in are read, each to its own run."""
    from gitruns.sharing.refs import list_refs_with_trees

    repo, cases = crafted
    runs = list(cases.values())
    _, trees = list_refs_with_trees(store(repo), "refs/remote-runs/origin/")
    expected = _bulk(repo, runs)
    for kept in (0, 1):
        some = {c: t for i, (_, _, c) in enumerate(runs) if i % 2 == kept for t in [trees[c]]}
        found = check_run_refs(store(repo), runs, LIMITS, some)
        assert {ref: exc.message for ref, exc in found.items()} == expected
