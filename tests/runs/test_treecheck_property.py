"""Property: the bulk check of a fetch refuses the runs the per-object ``check_tree`` refuses
(and runs with a mode git never writes, which libgit2 reads as another), on batches of
crafted runs, and its fast paths (folders judged by shape, sizes once for the batch) word
every refusal as its exact walk does.

Objects are written as loose files of a real repository (so that names, modes and sizes
can be anything a hostile remote sends) and read back by the real ``git cat-file``.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from _sharing_helpers import store
from conftest import git
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gitruns.errors import InvalidRunError
from gitruns.format.ids import new_run_id
from gitruns.format.runrefs import all_run_refs, parse_run_ref
from gitruns.format.treeorder import names_as_git_writes
from gitruns.runs import treecheck
from gitruns.runs.gitbatch import parse_tree
from gitruns.runs.untrusted import Limits, check_run_refs, check_tree

# smallest cap 500 (metrics), other files 1000, a run 2000 bytes, 12 entries, 3 levels
LIMITS = Limits(
    max_entries=12, max_depth=3, max_total_bytes=2000, max_file_bytes=1000, max_metric_bytes=500
)
GOOD = [b"run.yaml", b"params.yaml", b"a.csv", b"b.csv", b"m", b"x", b"y", b"z"]
BAD = [b"..", b".", b".git", b"GIT~1", b"b\x01", b"\xff", b"", b"a\\b"]
SIZES = [0, 7, 450, 600, 1200]
_name = st.one_of(st.sampled_from(GOOD), st.sampled_from(GOOD), st.sampled_from(BAD))

_file = st.tuples(st.just("file"), st.sampled_from([b"100644", b"100755"]), st.sampled_from(SIZES))
_other = st.sampled_from(
    [
        ("link", b"120000", 5),
        ("submodule", b"160000", 0),
        ("missing", b"100644", 0),  # a file whose blob is not there
        ("odd", b"100664", 7),  # a mode git never writes
        ("padded", b"0100644", 7),  # zero-padded: git's fsck refuses it, a crafted tree holds it
    ]
)
_reuse = st.tuples(st.just("reuse"), st.integers(0, 20), st.just(0))


def _folders(children: Any) -> Any:
    return st.tuples(st.just("folder"), st.dictionaries(_name, children), st.just(0))


_node = st.recursive(st.one_of(_file, _file, _other, _reuse), _folders, max_leaves=14)
_run = st.dictionaries(_name, _node, max_size=6)
_batch = st.lists(_run, min_size=1, max_size=5)


class _Objects:
    """Loose objects written straight into ``.git/objects``: git checks nothing of them."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.trees: list[str] = []  # folders written so far, for runs that reuse them

    def write(self, kind: str, body: bytes) -> str:
        raw = b"%s %d\0%s" % (kind.encode(), len(body), body)
        oid = hashlib.sha1(raw).hexdigest()
        path = self.repo / ".git" / "objects" / oid[:2] / oid[2:]
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(zlib.compress(raw))
        return oid

    def tree(self, entries: dict[bytes, Any], padded: bool = False) -> str:
        rows = []
        for name, (kind, detail, size) in entries.items():
            if kind == "folder":
                mode, oid = b"40000", self.tree(detail)
            elif kind == "reuse":
                mode = b"40000"
                oid = self.trees[detail % len(self.trees)] if self.trees else self.tree({})
            elif kind == "file":
                mode, oid = detail, self.write("blob", bytes([len(name) % 7 + 97]) * size)
            elif kind == "missing":
                mode, oid = detail, hashlib.sha1(name + b"missing").hexdigest()
            elif kind == "submodule":
                mode, oid = detail, "5" * 40
            else:
                mode, oid = detail, self.write("blob", b"-> " + name)
            rows.append(mode + b" " + name + b"\0" + bytes.fromhex(oid))
        oid = self.write("tree", b"".join(sorted(rows, key=lambda row: row.split(b"\0")[0])))
        self.trees.append(oid)
        return oid

    def run(self, tree: str) -> tuple[str, str, str]:
        body = f"tree {tree}\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nrun\n"
        commit = self.write("commit", body.encode())
        run_id = new_run_id()
        ref = f"refs/remote-runs/origin/{run_id}"
        path = self.repo / ".git" / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(commit + "\n")
        return ref, run_id, commit


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crafted")
    git(folder, "init", "-q", "repo")
    return folder / "repo"


def _messages(failed: dict[str, InvalidRunError]) -> dict[str, str]:
    return {ref: exc.message for ref, exc in failed.items()}


def _files(size: int, *names: bytes) -> dict[bytes, Any]:
    return {name: ("file", b"100644", size) for name in names}


_GOOD_RUN = {b"run.yaml": ("file", b"100644", 7), b"m": ("folder", _files(7, b"a.csv"), 0)}


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=_batch)
@example(batch=[_GOOD_RUN, _files(450, b"x", b"y", b"z", b"m", b"a.csv")])  # 2250 bytes
@example(batch=[_GOOD_RUN, {**_GOOD_RUN, b"a.csv": ("file", b"100644", 600)}])  # over its cap
@example(batch=[_GOOD_RUN, {**_GOOD_RUN, b"x": ("missing", b"100644", 0)}])
@example(batch=[_GOOD_RUN, {b"run.yaml": ("odd", b"100664", 7)}])
@example(  # 13 entries
    batch=[_GOOD_RUN, {b"m": ("folder", _files(7, *GOOD), 0), **_files(7, *GOOD[:4])}]
)
def test_the_bulk_check_refuses_what_the_per_object_check_refuses(
    repo: Path, batch: list[dict[bytes, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = _Objects(repo)
    runs = [objects.run(objects.tree(root)) for root in batch]
    runs += [objects.run(objects.tree(root)) for root in batch[:2]]  # the same trees again
    with mock.patch.object(treecheck, "_TEMPLATE_AFTER", 2):  # (64 in use)
        bulk = _messages(check_run_refs(store(repo), runs, LIMITS))
    one_by_one = {}
    for ref, _, commit in runs:
        try:
            check_tree(store(repo), commit, ref, LIMITS)
        except InvalidRunError as exc:
            one_by_one[ref] = exc.message
    # libgit2 reads mode 100664 as 100644: the per-object check passes what git would
    # call an odd mode, which the bulk check refuses (and only that)
    assert set(one_by_one) <= set(bulk)
    assert all("an entry of mode 100664" in bulk[ref] for ref in set(bulk) - set(one_by_one))
    # every run through the exact walk alone: the same words for every refusal
    with monkeypatch.context() as patched:
        patched.setattr(treecheck._FastWalk, "run", lambda self, root: False)
        assert _messages(check_run_refs(store(repo), runs, LIMITS)) == bulk


_headers = st.lists(
    st.tuples(
        st.sampled_from([b"100644", b"100755", b"40000", b"120000", b"0100644", b"7"]),
        st.sampled_from(
            [b"run.yaml", b"a.csv", b"a_csv", b"m", b" ", b"a b", b"1", b"\xff\n", b""]
        ),
    ),
    max_size=4,
)
_ids = st.lists(
    st.sampled_from([bytes(20), b"\0" * 19 + b"\n", b"1" * 20, bytes(range(20))]),
    min_size=4,
    max_size=4,
)
_damage = st.one_of(
    st.just(b""), st.sampled_from([b"x", b"\0", b"100644 a\0", b"100644 a\0" + bytes(19)])
)


@given(
    st.lists(_headers, min_size=1, max_size=3),
    st.lists(st.tuples(st.integers(0, 2), _ids, _damage, st.booleans()), max_size=16),
)
@example(  # a template of "a.csv" must not match "a_csv" ('.' is a literal there)
    [[(b"100644", b"a.csv")], [(b"100644", b"a_csv")]],
    [(0, [bytes(20)] * 4, b"", False)] * 2 + [(1, [bytes(20)] * 4, b"", False)],
)
def test_a_parse_by_template_is_the_entry_split(
    shapes: list[list[tuple[bytes, bytes]]], trees: list[Any]
) -> None:
    """Trees of a few shapes (so that shapes repeat and get templates) with their own ids,
    some damaged at the end or the start: each parses to the entries
    ``gitbatch.parse_tree`` reads, or to None where it refuses the tree."""
    parser = treecheck._Parser(20)
    with mock.patch.object(treecheck, "_TEMPLATE_AFTER", 2):  # (64 in use)
        _parse_each(parser, shapes, trees)


def _parse_each(
    parser: treecheck._Parser, shapes: list[list[tuple[bytes, bytes]]], trees: list[Any]
) -> None:
    for index, ids, damage, at_start in trees:
        headers = shapes[index % len(shapes)]
        body = b"".join(
            mode + b" " + name + b"\0" + oid
            for (mode, name), oid in zip(headers, ids[: len(headers)], strict=True)
        )
        body = damage + body if at_start else body + damage
        try:
            expected: Any = [(name, mode, oid) for name, mode, oid in parse_tree(body, 20)]
        except ValueError:
            expected = None
        headers_read = [h.partition(b" ") for h in treecheck._entry_pattern(20).split(body)[1::3]]
        modes_read = [mode for mode, _, _ in headers_read]
        names_read = [rest[:-1] for _, _, rest in headers_read]
        if any(mode[:1] == b"0" for mode in modes_read) or not names_as_git_writes(
            modes_read, names_read
        ):
            expected = None  # zero-padded, unsorted or twice: fsck --strict refuses
        folder = parser.folder(body)
        if folder is None:
            assert expected is None
        else:
            shape, found = folder
            got = [
                (name, treecheck._mode(mode), oid.hex())
                for mode, name, oid in zip(shape.modes, shape.names, found, strict=True)
            ]
            assert got == expected


_RUN_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
_prefixes = st.sampled_from(
    [
        "refs/runs/",
        "refs/remote-runs/origin/",
        "refs/remote-runs/team/",
        "refs/remote-runs/a/b/",
        "refs/remote-runs/local/",
        "refs/remote-runs//",
        "refs/remote-runs/",
        "refs/runs/evil/",
        "refs/other/",
    ]
)
_run_ids = st.sampled_from(
    [
        _RUN_ID,
        new_run_id(),
        _RUN_ID.upper(),
        _RUN_ID + "\n",
        _RUN_ID[:-1],
        _RUN_ID.replace("-7", "-4"),
        "x/" + _RUN_ID,
        "",
    ]
)


@given(
    st.lists(st.tuples(_prefixes, _run_ids, st.sampled_from(["", "", "", "other"])), max_size=6),
    _prefixes,
)
@example([("refs/runs/", _RUN_ID, ""), ("refs/other/", _RUN_ID, "")], "refs/runs/")
@example([("refs/runs/", _RUN_ID, ""), ("refs/runs/", _RUN_ID.upper(), "")], "refs/runs/")
def test_all_run_refs_at_once_is_parse_run_ref_of_each(
    refs: list[tuple[str, str, str]], shared: str
) -> None:
    """``all_run_refs`` says yes only when ``parse_run_ref`` of every name gives its id,
    and does for valid refs under one prefix (a fetch's)."""
    for pairs in (
        [(prefix + run_id, other or run_id) for prefix, run_id, other in refs],
        [(shared + run_id, run_id) for _, run_id, _ in refs],
    ):
        each = all(
            (parsed := parse_run_ref(name)) is not None and parsed[1] == run_id
            for name, run_id in pairs
        )
        if all_run_refs(pairs):
            assert each
        elif len({name[: len(name) - len(run_id)] for name, run_id in pairs}) <= 1:
            # (is_run_id takes "<id>\n": its "$" matches before a last newline; the batch
            # says no to it, and each ref is then asked alone, as before)
            complete = all(name.endswith(run_id) and "\n" not in name for name, run_id in pairs)
            assert not each or not complete
