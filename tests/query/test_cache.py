"""The sqlite run cache stays consistent with the refs: fetches, deletions, edits,
a deleted or corrupt cache file, another schema version, invalid runs, concurrency."""

from __future__ import annotations

import marshal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _query_helpers import write_invalid_run
from conftest import git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gitruns
from gitruns.format import schema, schema_fast
from gitruns.query import cache
from gitruns.recording.repository import open_store
from gitruns.runs.annotate import rename, set_tags


def record(name: str, **params: Any) -> str:
    with gitruns.start_run(name=name, params=params) as run:
        run.log_metric("acc", float(params.get("acc", 0.5)))
    return run.id


def names(snapshot: cache.Snapshot, **kwargs: Any) -> list[str]:
    return sorted(row.name for row in snapshot.runs(**kwargs))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The refs the cache reads from git, in order."""
    seen: list[str] = []
    original = cache._read_row

    def counting(store: Any, ref: str, *args: Any) -> cache.CachedRun:
        seen.append(ref)
        return original(store, ref, *args)

    monkeypatch.setattr(cache, "_read_row", counting)
    return seen


def cache_file(repo: Path) -> Path:
    return repo / ".git" / "gitruns" / "cache.sqlite"


def test_sync_reads_each_run_once(repo: Path, reads: list[str]) -> None:
    ids = [record(f"r{i}", lr=0.1 * i) for i in range(3)]
    store = open_store()
    assert names(cache.sync(store)) == ["r0", "r1", "r2"]
    assert sorted(reads) == sorted(f"refs/runs/{i}" for i in ids)
    assert cache_file(repo).exists()
    reads.clear()
    snapshot = cache.sync(store)
    assert names(snapshot) == ["r0", "r1", "r2"] and reads == []
    row = next(r for r in snapshot.rows if r.name == "r1")
    assert row.params == {"lr": 0.1} and row.metrics["acc"] == [0.5, 0.5, 0.5, 1]
    assert row.origin == "local" and row.user == "Test User" and row.status == "FINISHED"


def test_deleted_ref_is_dropped(repo: Path) -> None:
    keep, gone = record("keep"), record("gone")
    store = open_store()
    cache.sync(store)
    git(repo, "update-ref", "-d", f"refs/runs/{gone}")
    assert names(cache.sync(store)) == ["keep"]
    with sqlite3.connect(cache_file(repo)) as db:
        assert db.execute("SELECT run_id FROM runs").fetchall() == [(keep,)]


def test_changed_ref_is_read_again(repo: Path, reads: list[str]) -> None:
    run_id = record("before")
    store = open_store()
    cache.sync(store)
    rename(store, run_id, "after")
    set_tags(store, run_id, {"team": "vision"})
    reads.clear()
    snapshot = cache.sync(store)
    assert reads == [f"refs/runs/{run_id}"]
    assert snapshot.rows[0].name == "after" and snapshot.rows[0].tags == {"team": "vision"}


def tables(repo: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(cache_file(repo)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = ("runs", "metric_values", "param_values", "run_parents")
        found = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in names}
    record = cache._COLUMNS.index("record")
    for row in found["runs"]:
        assert row[record] is None or marshal.loads(row[record])  # a whole record
    return found


def test_rows_replaced_or_dropped_leave_what_a_cold_build_makes(repo: Path) -> None:
    """Index rows are deleted by their primary keys, read from the runs' own rows: a
    changed or deleted run leaves nothing of its old rows behind."""
    base = record("base", lr=0.1, layers=2)
    with gitruns.start_run("tuned", params={"lr": 0.2}, parents=["base"]) as tuned:
        tuned.log_metric("loss", 1.0)
    gone = record("gone", lr=0.3)
    bad = "01900000-0000-7000-8000-000000000001"
    write_invalid_run(repo, bad, b"id: [unclosed\n")
    store = open_store()
    cache.sync(store)
    assert len(tables(repo)["run_parents"]) == 1
    rename(store, tuned.id, "tuned-again")
    set_tags(store, base, {"team": "vision"})
    git(repo, "update-ref", "-d", f"refs/runs/{gone}")
    git(repo, "update-ref", "-d", f"refs/runs/{bad}")
    cache.sync(store)
    synced = tables(repo)
    assert [row[0] for row in synced["run_parents"]] == [base]
    kept = {f"refs/runs/{i}" for i in (base, tuned.id)}
    assert {row[1] for row in synced["param_values"]} == kept
    cache.discard(cache_file(repo))
    cache.sync(store)
    assert tables(repo) == synced


def test_invalid_rows_are_found_by_a_partial_index(repo: Path) -> None:
    record("good", lr=0.1)
    write_invalid_run(repo, "01900000-0000-7000-8000-000000000001", b"id: [unclosed\n")
    cache.sync(open_store())
    snapshot = cache.sync(open_store(), where=("name = ?", ["nothing"]))  # warm
    assert snapshot.rows == [] and len(snapshot.problems) == 1
    with sqlite3.connect(cache_file(repo)) as db:
        plan = db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM runs {cache._ERRORS}").fetchall()
    assert "USING INDEX runs_errors" in plan[0][-1]


def test_runs_arriving_by_git_fetch(repo: Path, tmp_path: Path) -> None:
    mine = record("mine")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    theirs = [record_in(other, f"theirs{i}") for i in range(2)]
    store = open_store()
    assert names(cache.sync(store)) == ["mine"]
    git(repo, "fetch", "-q", str(other), "refs/runs/*:refs/runs/*")
    assert names(cache.sync(store)) == ["mine", "theirs0", "theirs1"]
    # The same runs fetched into a remote's namespace: shown once, the local copy wins.
    git(repo, "push", "-q", str(other), f"refs/runs/{mine}:refs/runs/{mine}")
    git(repo, "fetch", "-q", str(other), "refs/runs/*:refs/remote-runs/team/*")
    snapshot = cache.sync(store)
    assert names(snapshot) == ["mine", "theirs0", "theirs1"]
    assert {r.origin for r in snapshot.runs()} == {"local"}
    assert len(snapshot.runs(all_copies=True)) == 6
    git(repo, "update-ref", "-d", f"refs/runs/{theirs[0]}")
    by_name = {r.name: r.origin for r in cache.sync(store).runs()}
    assert by_name == {"mine": "local", "theirs0": "team", "theirs1": "local"}


def record_in(path: Path, name: str) -> str:
    script = (
        "import gitruns\n"
        f"with gitruns.start_run(name={name!r}) as run: run.log_metric('acc', 0.7)\n"
        "print(run.id)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=path, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_deleting_the_cache_is_safe(repo: Path) -> None:
    record("a")
    record("b")
    store = open_store()
    first = cache.sync(store)
    cache.discard(cache_file(repo))
    assert not cache_file(repo).exists()
    second = cache.sync(store)
    assert [r.row for r in second.rows] == [r.row for r in first.rows]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "scribbled"])
def test_a_corrupt_cache_is_rebuilt(repo: Path, damage: str) -> None:
    for i in range(20):
        record(f"r{i}", note="x" * 500)
    store = open_store()
    cache.sync(store)
    path = cache_file(repo)
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        path.write_bytes(bytes(data[:1500]))
    else:
        data[4096:] = b"\xff" * (len(data) - 4096)
        path.write_bytes(bytes(data))
    snapshot = cache.sync(store)
    assert len(snapshot.rows) == 20 and snapshot.problems == []
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (20,)


def test_another_schema_version_is_rebuilt(repo: Path) -> None:
    record("a")
    path = cache_file(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (ref TEXT, something_else TEXT)")
        db.execute("CREATE TABLE old_stuff (x)")
        db.execute("PRAGMA user_version = 99")
    assert names(cache.sync(open_store())) == ["a"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (cache.CACHE_SCHEMA_VERSION,)
        tables = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        expected = ["metric_values", "param_values", "ref_state", "run_parents", "runs"]
        assert sorted(name for (name,) in tables) == expected
        indexes = db.execute("SELECT name FROM sqlite_master WHERE type='index'").fetchall()
        assert {name for (name,) in indexes} >= {"runs_run_id", "runs_errors"}


def test_a_cache_of_schema_8_is_rebuilt_without_its_ref_indexes(repo: Path) -> None:
    run_id = record("a", lr=0.1)
    cache.sync(open_store())
    path = cache_file(repo)
    with sqlite3.connect(path) as db:  # as schema 8 had it: JSON records, ref indexes
        db.execute("UPDATE runs SET record = '[{}, {}, {}, []]'")
        db.execute("CREATE INDEX metric_values_ref ON metric_values (ref)")
        db.execute("PRAGMA user_version = 8")
    assert names(cache.sync(open_store())) == ["a"]
    assert gitruns.get_run(run_id).params == {"lr": 0.1}  # served from the rebuilt row
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (cache.CACHE_SCHEMA_VERSION,)
        indexes = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "metric_values_ref" not in indexes and "runs_errors" in indexes
        (data,) = db.execute("SELECT record FROM runs").fetchone()
    assert marshal.loads(data)[1] == {"lr": 0.1}


def test_invalid_runs_are_reported_skipped_and_not_read_again(repo: Path, reads: list[str]) -> None:
    record("good")
    bad = "01900000-0000-7000-8000-000000000001"
    write_invalid_run(repo, bad, b"id: [unclosed\n")
    store = open_store()
    snapshot = cache.sync(store)
    assert names(snapshot) == ["good"]
    [(ref, why)] = snapshot.problems
    assert ref == f"refs/runs/{bad}" and "YAML" in why
    reads.clear()
    again = cache.sync(store)
    assert reads == [] and again.problems == snapshot.problems


def test_concurrent_processes_share_the_cache(repo: Path) -> None:
    for i in range(12):
        record(f"r{i}")
    command = [sys.executable, "-m", "gitruns", "ls", "--format", "csv", "-c", "name"]
    children = [
        subprocess.Popen(
            command, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [child.communicate() for child in children]
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert err == ""
        assert sorted(out.split()[1:]) == sorted(f"r{i}" for i in range(12))
    with sqlite3.connect(cache_file(repo)) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (12,)


def test_a_large_batch_is_read_by_worker_processes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "PARALLEL_MIN_RUNS", 2)
    for i in range(6):
        record(f"r{i}")
    write_invalid_run(repo, "01900000-0000-7000-8000-000000000002", b"{}\n")
    snapshot = cache.sync(open_store())
    assert names(snapshot) == [f"r{i}" for i in range(6)]
    assert len(snapshot.problems) == 1


def test_the_local_copy_hides_fetched_ones_even_when_only_they_match(repo: Path) -> None:
    from gitruns.query.search import select_runs

    run_id = record("mine", acc=0.5)
    store = open_store()
    commit = git(repo, "rev-parse", f"refs/runs/{run_id}").strip()
    git(repo, "update-ref", f"refs/remote-runs/team/{run_id}", commit)
    set_tags(store, run_id, {"local": "yes"})  # the local copy moves on
    assert [r.origin for r in select_runs(store, "tags.local is null").rows] == []
    assert [r.origin for r in select_runs(store, "metrics.acc = 0.5").rows] == ["local"]
    every = select_runs(store, "metrics.acc = 0.5", all_copies=True).rows
    assert sorted(r.origin for r in every) == ["local", "team"]


_json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=3)
    | st.dates()
    | st.binary(max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=10,
)
_summary_like = st.dictionaries(
    st.text(max_size=3),
    st.dictionaries(
        st.sampled_from(["count", "last", "min", "max", "last_step", "last_timestamp", "x"]),
        st.none() | st.booleans() | st.integers(-2, 5) | st.floats() | st.text(max_size=1),
        max_size=7,
    ),
    max_size=3,
)


_artifacts_like = st.lists(
    st.dictionaries(
        st.sampled_from(["path", "sha256", "size", "uri", "media_type", "time", "step", "x"]),
        st.none()
        | st.integers(-1, 5)
        | st.booleans()
        | st.sampled_from(["", "a.pt", "0" * 64, "0" * 63, "g" * 64, "gitruns-store:x"]),
        max_size=6,
    ),
    max_size=3,
)


@given(
    st.sampled_from(["params", "summary", "artifacts"]),
    _json_like | _summary_like | _artifacts_like,
)
def test_fast_schema_checks_accept_only_what_jsonschema_accepts(name: str, document: Any) -> None:
    if schema_fast.accepts(name, document):
        assert next(iter(schema._validator(name).iter_errors(document)), None) is None


def test_fast_schema_checks_accept_real_runs(repo: Path) -> None:
    run_id = record("r", lr=0.1, nested={"a": [1, "x", None, True]})
    (repo / "model.pt").write_bytes(b"weights")
    with gitruns.start_run(name="with-artifact") as with_artifact:
        with_artifact.log_artifact(repo / "model.pt")
    assert schema_fast.accepts("artifacts", gitruns.get_run(with_artifact.id).artifacts)
    run = gitruns.get_run(run_id)
    assert schema_fast.accepts("params", run.params)
    assert schema_fast.accepts("summary", run.metrics)


_RUN_FIELDS = [
    ("schema_version",),
    ("id",),
    ("name",),
    ("status",),
    ("start_time",),
    ("end_time",),
    ("duration_s",),
    ("exit_code",),
    ("error",),
    ("error", "type"),
    ("user",),
    ("user", "name"),
    ("user", "os_user"),
    ("host",),
    ("git",),
    ("git", "commit"),
    ("git", "snapshot"),
    ("git", "branch"),
    ("git", "dirty"),
    ("git", "remote_url"),
    ("tags",),
    ("tags", "k"),
    ("notes",),
    ("parents",),
    ("inputs",),
    ("param_sources",),
    ("command",),
    ("environment",),
    ("hydra",),
    ("resources",),
    ("resources", "cpu_s"),
    ("resources", "samples"),
    ("resources", "sample_interval_s"),
    ("resources", "gpu_attribution"),
    ("resources", "gpus"),
    ("resources", "cost"),
    ("resources", "cost", "total"),
    ("resources", "cost", "gpu_hour_rates"),
    ("resources", "future_total"),
    ("extra",),
]
_odd_values = st.sampled_from(
    [
        None,
        True,
        0,
        1,
        -1,
        1.0,
        0.5,
        "",
        "x",
        "a" * 40,
        "a" * 40 + "\n",
        "A" * 40,
        "b" * 64,
        "RUNNING",
        "running",
        "01900000-0000-7000-8000-000000000000",
        "x" * 251,
        [],
        ["x"],
        [1],
        {},
        {"text": "t"},
        {"path": "p", "size": -1},
        {"path": "p", "sha256": "c" * 64},
        [{}],
        [{"text": 1}],
        [{"path": "p"}],
        {"name": "n", "email": "e"},
        {"a": 1},
        [{"index": 0, "used": True}],
        [{"index": -1, "used": True}],
        [{"index": 0, "used": "yes"}],
        [{"model": "m", "rate": 1}],
        [{"model": "m"}],
        {"total": 1.5},
        {"total": -1},
        float("nan"),
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.sampled_from(_RUN_FIELDS), _odd_values | st.just("<drop>")), max_size=3)
)
def test_fast_run_check_accepts_only_what_jsonschema_accepts(
    valid_run_document: dict[str, Any], changes: list[tuple[tuple[str, ...], Any]]
) -> None:
    import copy

    document = copy.deepcopy(valid_run_document)
    for path, value in changes:
        target = document
        for key in path[:-1]:
            target = target.get(key) if isinstance(target.get(key), dict) else {}
        if value == "<drop>":
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    if schema_fast.accepts("run", document):
        assert next(iter(schema._validator("run").iter_errors(document)), None) is None


@pytest.fixture
def valid_run_document(tmp_path: Path) -> dict[str, Any]:
    """A real run.yaml (with inputs, an error and resource totals) as a dict."""
    import copy

    path = tmp_path / "doc"
    path.mkdir()
    git(path, "init", "-q")
    (path / "data.txt").write_text("data")
    with gitruns.start_run(name="doc", repo=path) as run:
        run.log_input(path / "data.txt")
    document = gitruns.get_run(run.id, repo=path).document
    document["error"] = {"type": "ValueError", "message": "m"}
    from _compare_helpers import RESOURCES_B

    document["resources"] = copy.deepcopy(RESOURCES_B)
    assert schema_fast.accepts("run", document)
    return document
