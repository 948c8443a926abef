"""Runs share blobs (the same params.yaml, the empty artifacts.yaml): a blob read before
comes from memory (gitruns.runs.model._PARSED) and reads exactly as from git, in fresh
containers; a shared blob that fails the schema fails for every run, every time."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml
from _trust_helpers import commit_tree, plumb, with_files

import gitruns
from gitruns.errors import InvalidRunError
from gitruns.recording.repository import open_store
from gitruns.runs import model


@pytest.fixture(autouse=True)
def forget() -> None:
    model._PARSED.clear()
    model._SEEN_ONCE.clear()


def two_runs_sharing_params() -> list[tuple[str, str]]:
    ids = []
    for name in ("a", "b"):
        with gitruns.start_run(name, params={"lr": 0.01, "model": {"layers": 12}}) as run:
            run.log_metric("acc", 0.5)
        ids.append(run.id)
    refs = open_store().run_refs()
    return [(run_id, refs[run_id]) for run_id in ids]


def test_shared_blobs_read_from_memory_as_from_git(repo: Path) -> None:
    runs = two_runs_sharing_params()
    store = open_store()
    blobs = {store.file_blob(c, "params.yaml", 1 << 20) for _, c in runs}
    assert len(blobs) == 1  # the two runs share params.yaml
    for _ in range(3):  # read, remembered, then served from memory
        for run_id, commit in runs:
            run = model.load_run(store, run_id, commit)
            for path, value in (("params.yaml", run.params), ("artifacts.yaml", run.artifacts)):
                raw = plumb(repo, "cat-file", "blob", f"{commit}:{path}")
                assert value == (yaml.safe_load(raw) or ({} if path == "params.yaml" else []))
            run.params["model"]["layers"] = 99  # a reader's change stays its own
            run.artifacts.append({"path": "x"})
    assert any(key[0] == "params.yaml" for key in model._PARSED)


def test_values_marshal_cannot_keep_are_read_each_time(repo: Path) -> None:
    (_, commit), _ = two_runs_sharing_params()
    tree = with_files(repo, commit, {"params.yaml": b"day: 2026-01-01\n"})
    dated = commit_tree(repo, tree, [commit], "a date")
    store = open_store()
    for _ in range(3):
        value = model._load_yaml(store, dated, "params.yaml", "here")
        assert value == {"day": datetime.date(2026, 1, 1)}


def test_a_shared_invalid_blob_fails_every_run_every_time(repo: Path) -> None:
    runs = two_runs_sharing_params()
    bad = [
        commit_tree(repo, with_files(repo, c, {"summary.yaml": b"acc: 5\n"}), [c], "bad")
        for _, c in runs
    ]
    store = open_store()
    for _ in range(3):
        for (run_id, _), commit in zip(runs, bad, strict=True):
            with pytest.raises(InvalidRunError, match="summary"):
                model.load_run(store, run_id, commit)
