"""A cold build reads a run's files through ``Store.regular_blob`` and
``Store.sized_blob_data``, and a file whose blob it parsed before comes from memory by blob
id without its size being read again (``gitruns.runs.model._load_yaml``). What must still
hold for every tree, local runs included: a file that is not a regular file, a file over
its size limit, and a file whose entry names an object that is not a blob make the run an
error row (never a crash, never a row read from memory or from the wrong object)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _trust_helpers import plumb, tree_entries

import gitruns
from gitruns.format.ids import new_run_id
from gitruns.format.layout import MAX_META_BYTES
from gitruns.query import cache
from gitruns.recording.repository import open_store
from gitruns.runs import model


def _copy_with(repo: Path, run_id: str, files: dict[str, tuple[str, str]]) -> str:
    """A local run copied from ``run_id`` under a new id (its run.yaml says the new id),
    with the ``(mode, object id)`` of some top-level files replaced. Written as raw tree
    bytes (``git mktree`` refuses an entry whose mode does not fit its object)."""
    new_id = new_run_id()
    commit = plumb(repo, "rev-parse", f"refs/runs/{run_id}")
    run_yaml = plumb(repo, "cat-file", "blob", f"{commit}:run.yaml").replace(run_id, new_id)
    entries = {name: (mode, oid) for mode, _kind, oid, name in tree_entries(repo, commit)}
    entries["run.yaml"] = (
        "100644",
        plumb(repo, "hash-object", "-w", "--stdin", data=run_yaml.encode()),
    )
    entries.update(files)
    raw = b"".join(
        f"{mode} {name}".encode() + b"\0" + bytes.fromhex(oid)
        for name, (mode, oid) in sorted(entries.items(), key=lambda item: _tree_order(*item))
    )
    tree = plumb(repo, "hash-object", "--literally", "-t", "tree", "-w", "--stdin", data=raw)
    new = plumb(repo, "commit-tree", tree, "-m", "crafted")
    plumb(repo, "update-ref", f"refs/runs/{new_id}", new)
    return new_id


def _tree_order(name: str, entry: tuple[str, str]) -> str:
    return name + "/" if entry[0] == "40000" else name  # git's order: folders as "name/"


def _rows(repo: Path) -> dict[str, tuple[object, ...]]:
    store = open_store()
    refs = cache.current_refs(store)
    return {info[0]: cache._read_row(store, ref, *info).row for ref, info in sorted(refs.items())}


@pytest.fixture
def shared(repo: Path) -> list[str]:
    """Two runs with the same params.yaml blob, read twice: that blob is then parsed
    and remembered by id (``model._PARSED``)."""
    model._PARSED.clear()
    model._SEEN_ONCE.clear()
    ids = []
    for name in ("a", "b"):
        with gitruns.start_run(name=name, params={"lr": 0.1, "seed": 1}) as run:
            run.log_metric("acc", 0.5)
        ids.append(run.id)
    for _ in range(2):
        rows = _rows(repo)
        assert all(row[4] is None for row in rows.values())
    assert any(key[0] == "params.yaml" for key in model._PARSED)
    return ids


def test_a_remembered_blob_under_a_symlink_is_still_refused(repo: Path, shared: list[str]) -> None:
    commit = plumb(repo, "rev-parse", f"refs/runs/{shared[0]}")
    blob = plumb(repo, "rev-parse", f"{commit}:params.yaml")
    assert ("params.yaml", blob) in model._PARSED
    bad = _copy_with(repo, shared[0], {"params.yaml": ("120000", blob)})
    for _ in range(2):  # and again, once everything else is remembered
        rows = _rows(repo)
        assert "params.yaml" in rows[bad][4] and "not a regular file" in rows[bad][4]
        assert all(rows[i][4] is None for i in shared)


def test_a_file_over_its_limit_is_refused_before_it_is_read(
    repo: Path, shared: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    big = b"a: " + b"x" * MAX_META_BYTES + b"\n"
    blob = plumb(repo, "hash-object", "-w", "--stdin", data=big)
    bad = _copy_with(repo, shared[0], {"params.yaml": ("100644", blob)})
    read: list[str] = []
    store_type = type(open_store())
    original = store_type._blob_data
    monkeypatch.setattr(
        store_type, "_blob_data", lambda self, oid: read.append(str(oid)) or original(self, oid)
    )
    rows = _rows(repo)
    assert "params.yaml" in rows[bad][4] and f"over the {MAX_META_BYTES} limit" in rows[bad][4]
    assert blob not in read
    assert all(rows[i][4] is None for i in shared)


def test_a_file_entry_naming_a_folder_is_an_error_row(repo: Path, shared: list[str]) -> None:
    commit = plumb(repo, "rev-parse", f"refs/runs/{shared[0]}")
    folder = plumb(repo, "rev-parse", f"{commit}:metrics")
    bad = _copy_with(repo, shared[0], {"summary.yaml": ("100644", folder)})
    rows = _rows(repo)
    assert "is not a file" in rows[bad][4], rows[bad][4]
    assert all(rows[i][4] is None for i in shared)
