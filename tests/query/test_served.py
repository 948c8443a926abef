"""Runs served from the query cache (issue 16, part 1): ``search_runs``, ``list_runs`` and
``get_run`` give the same ``Run`` as reading git, never a stale one, with series and files
read from git when touched; a cold build in batches still reports bad and hostile runs."""

from __future__ import annotations

import json
import marshal
import struct
import warnings
from pathlib import Path
from typing import Any

import pytest
from _query_helpers import write_invalid_run
from _trust_helpers import make_tree, plumb, tree_entries
from conftest import git, gitruns_cli

import gitruns
from gitruns.errors import GitrunsError
from gitruns.format.ids import new_run_id
from gitruns.query import cache, served
from gitruns.recording.repository import open_store
from gitruns.runs import model
from gitruns.runs.model import Run, load_run
from gitruns.runs.untrusted import load_untrusted_run

REMOTE = "refs/remote-runs/team/"


def same(a: Run, b: Run) -> None:
    """Equal as data (json keeps NaN comparable), and the same identity."""
    assert (a.id, a.commit, a.origin) == (b.id, b.commit, b.origin)
    parts = [(r.document, r.params, r.metrics, r.artifacts) for r in (a, b)]
    assert json.dumps(parts[0], sort_keys=True) == json.dumps(parts[1], sort_keys=True)
    assert a.to_dict().keys() == b.to_dict().keys()


def git_read(run: Run) -> Run:
    store = open_store()
    if run.origin == "local":
        return load_run(store, run.id, run.commit)
    found = load_untrusted_run(store, f"{REMOTE}{run.id}", run.id, run.commit)
    found.origin = run.origin
    return found


def varied_runs(repo: Path) -> list[str]:
    """Runs with nested params, NaN and infinite metrics, tags, notes, parents, an artifact."""
    ids = []
    with gitruns.start_run("plain") as run:
        run.log_metric("acc", 0.5)
    ids.append(run.id)
    params = {"lr": 0.001, "model": {"name": "résumé", "layers": [1, 2, {"x": None}]}}
    params |= {"big": 2**70, "flag": True, "text": "a: b # c", "quote": "it's", "empty": ""}
    with gitruns.start_run("rich", params=params, tags={"team": "nlp", "on": "yes"}) as run:
        for step, value in enumerate([0.1, float("nan"), float("inf"), -1e-300]):
            run.log_metric("loss", value, step=step)
        run.log_metric("system/cpu", 3.0)
        run.note("first note\nwith two lines")
        (repo / "model.pt").write_bytes(b"weights")
        run.log_artifact(repo / "model.pt")
    ids.append(run.id)
    with gitruns.start_run("child", parents=[ids[0]]) as run:
        run.set_tag("stage", "2026-01-01")
    ids.append(run.id)
    return ids


def fetched_copy(repo: Path, run_id: str) -> None:
    """Move a local run to refs/remote-runs/team/ (as a plain ``git fetch`` leaves it)."""
    commit = git(repo, "rev-parse", f"refs/runs/{run_id}").strip()
    git(repo, "update-ref", f"{REMOTE}{run_id}", commit)
    git(repo, "update-ref", "-d", f"refs/runs/{run_id}")


def test_cache_served_runs_equal_runs_read_from_git(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = varied_runs(repo)
    fetched_copy(repo, ids[2])
    gitruns.list_runs()  # builds the cache
    read_yaml = model._load_yaml  # every read of a run's metadata from git goes here
    calls: list[str] = []
    monkeypatch.setattr(
        model, "_load_yaml", lambda *a, **k: calls.append(a[2]) or read_yaml(*a, **k)
    )
    served_runs = {run.id: run for run in gitruns.list_runs()}
    assert sorted(served_runs) == sorted(ids)
    assert served_runs[ids[2]].origin == "team"
    for run in served_runs.values():
        same(gitruns.get_run(run.id), run)
    assert calls == []
    for run in served_runs.values():
        same(run, git_read(run))
    calls.clear()
    found = gitruns.search_runs("params.lr = 0.001")
    assert [run.id for run in found] == [ids[1]] and calls == []
    same(found[0], git_read(found[0]))
    assert calls  # the check above can see reads
    record = gitruns_cli(repo, "ls", "--format", "json")
    assert record.returncode == 0, record.stderr
    listed = {r["id"]: r for r in json.loads(record.stdout)}
    for run_id in ids:
        shown = gitruns_cli(repo, "show", run_id, "--format", "json")
        assert json.loads(shown.stdout) == listed[run_id]
    assert listed[ids[1]]["metrics"]["loss"]["max"] == "Infinity"
    listing = gitruns_cli(repo, "ls", "--format", "yaml")
    assert listing.returncode == 0, listing.stderr
    items = listing.stdout.split("\n- ")  # one item per run, as `show --format yaml` has it
    assert len(items) == len(ids)
    for run_id in ids:
        shown = gitruns_cli(repo, "show", run_id, "--format", "yaml").stdout
        item = next(i for i in items if f"\n  id: {run_id}\n" in i)
        assert item.removeprefix("- ").rstrip("\n") == _as_item(shown).rstrip("\n")


def _as_item(document: str) -> str:
    """A YAML mapping document as the item of a block sequence."""
    return "\n".join(("  " + line) if line else line for line in document.split("\n"))[2:]


def test_lazy_parts_load_from_git(repo: Path) -> None:
    ids = varied_runs(repo)
    gitruns.list_runs()
    run = gitruns.get_run(ids[1])
    direct = git_read(run)
    assert [p.value for p in run.metric_history("system/cpu")] == [3.0]
    assert str(run.metric_history("loss")) == str(direct.metric_history("loss"))
    assert run.file("env/packages.txt") == direct.file("env/packages.txt")
    assert run.file("no/such/file") is None
    with pytest.raises(GitrunsError, match="no metric 'nope'"):
        run.metric_history("nope")


def test_a_stale_row_is_never_served(repo: Path) -> None:
    ids = varied_runs(repo)
    gitruns.list_runs()
    store = open_store()
    before = cache.cached_run(store, f"refs/runs/{ids[0]}", store.run_commit(ids[0]) or "")
    assert before is not None and before.tags == {}
    # Annotations, renames and a ref moved behind gitruns' back (a fetch): no sync between.
    gitruns.set_run_tags(ids[0], {"k": "v"})
    assert gitruns.get_run(ids[0]).tags == {"k": "v"}
    gitruns.rename_run(ids[0], "renamed")
    assert gitruns.get_run(ids[0]).name == "renamed"
    old = git(repo, "rev-parse", f"refs/runs/{ids[0]}").strip()
    assert cache.cached_run(store, f"refs/runs/{ids[0]}", old) is None  # not cached yet
    git(repo, "update-ref", f"refs/runs/{ids[0]}", git(repo, "rev-parse", f"{old}~1").strip())
    assert gitruns.get_run(ids[0]).tags == {"k": "v"} and gitruns.get_run(ids[0]).name == "plain"
    assert {r.name for r in gitruns.list_runs()} == {"plain", "rich", "child"}
    assert gitruns.search_runs('tags.k = "v"')[0].name == "plain"
    removed = gitruns_cli(repo, "rm", "--yes", ids[1])
    assert removed.returncode == 0, removed.stderr
    assert ids[1] not in {r.id for r in gitruns.list_runs()}
    with pytest.raises(GitrunsError):
        gitruns.get_run(ids[1])


def test_rows_of_another_commit_are_not_served(repo: Path) -> None:
    """The lookup compares commits: a row of the same ref at another commit is ignored."""
    ids = varied_runs(repo)
    gitruns.list_runs()
    store = open_store()
    commit = store.run_commit(ids[0]) or ""
    assert cache.cached_run(store, f"refs/runs/{ids[0]}", commit) is not None
    assert cache.cached_run(store, f"refs/runs/{ids[0]}", "f" * 40) is None
    assert cache.cached_run(store, "refs/runs/nope", commit) is None


def _hostile_copy(repo: Path, run_id: str) -> str:
    """A fetched run whose tree holds a symlink: untrusted input the checks refuse."""
    commit = git(repo, "rev-parse", f"refs/runs/{run_id}").strip()
    link = plumb(repo, "hash-object", "-w", "--stdin", data=b"/etc/passwd")
    tree = make_tree(repo, [*tree_entries(repo, commit), ("120000", "blob", link, "evil")])
    bad = plumb(repo, "commit-tree", tree, "-p", commit, "-m", "hostile")
    hostile_id = new_run_id()
    run_yaml = git(repo, "show", f"{commit}:run.yaml").replace(run_id, hostile_id)
    blob = plumb(repo, "hash-object", "-w", "--stdin", data=run_yaml.encode())
    entries = [
        e if e[3] != "run.yaml" else (e[0], e[1], blob, e[3]) for e in tree_entries(repo, bad)
    ]
    bad = plumb(repo, "commit-tree", make_tree(repo, entries), "-m", "hostile")
    git(repo, "update-ref", f"{REMOTE}{hostile_id}", bad)
    return hostile_id


@pytest.mark.parametrize("batched", [False, True])
def test_cold_build_reports_broken_and_hostile_runs(
    repo: Path, monkeypatch: pytest.MonkeyPatch, batched: bool
) -> None:
    if batched:  # the path of a 100,000-run build: batches, workers, rows let go
        monkeypatch.setattr(cache, "BATCH_RUNS", 2)
        monkeypatch.setattr(cache, "PARALLEL_MIN_RUNS", 3)
    ids = varied_runs(repo)
    broken = new_run_id()
    write_invalid_run(repo, broken, b"id: [unclosed\n")
    hostile = _hostile_copy(repo, ids[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = gitruns.list_runs()
    assert sorted(run.id for run in runs) == sorted(ids)
    skipped = dict(runs.skipped)  # type: ignore[attr-defined]
    assert "not valid YAML" in skipped[f"refs/runs/{broken}"]
    assert "symlink" in skipped[f"{REMOTE}{hostile}"]
    assert any("skipped 2 run(s)" in str(w.message) for w in caught)
    for run in runs:
        same(run, git_read(run))
    store = open_store()
    hostile_commit = git(repo, "rev-parse", f"{REMOTE}{hostile}").strip()
    assert cache.cached_run(store, f"{REMOTE}{hostile}", hostile_commit) is None
    with pytest.raises(GitrunsError, match="symlink"):
        gitruns.get_run(f"{REMOTE}{hostile}")
    listed = gitruns_cli(repo, "ls", "--format", "csv", "-c", "id")
    assert listed.returncode == 0 and f"skipping {REMOTE}{hostile}" in listed.stderr


def test_the_record_column_round_trips_exotic_values(repo: Path) -> None:
    varied_runs(repo)
    for row in cache.sync(open_store()).runs():
        run = served.run_from_row(open_store(), row)
        assert served.run_parts(run) == row.record_data  # the same run, the same bytes
        record: dict[str, Any] = row.record()
        assert record["id"] == row.run_id and record["origin"] == row.origin
        json.dumps(record, allow_nan=False)  # JSON-safe: NaN and infinities spelled out


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        -float("nan"),
        float("inf"),
        -float("inf"),
        struct.unpack("<d", b"\1" * 6 + b"\xf4\x7f")[0],
    ],
)
def test_every_nan_or_infinity_in_a_record_is_spelled_out(value: float) -> None:
    """The bytes check that spares finite records the JSON walk never misses one."""
    for record in ([value], {"a": {"b": [1, "x", value, 2.5]}}, [2**70, value, "\u00ff"]):
        assert served._MAYBE_NOT_FINITE.search(marshal.dumps(record, served.RECORD_FORMAT))
    finite = [0.1, -1e-300, 1.7976931348623157e308, 2**70, "résumé", True, None]
    assert not served._MAYBE_NOT_FINITE.search(marshal.dumps(finite, served.RECORD_FORMAT))
