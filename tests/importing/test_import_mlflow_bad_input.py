"""``gitruns import mlflow`` on stores that are not stores, or hold broken runs.

The stores are written by hand in MLflow's file-store layout (and a sqlite file by the
standard library), so these tests need no MLflow. A broken run is a failure line of the
report and leaves no ref and no object a ref reaches; the other runs are imported. An
import killed with SIGKILL leaves only whole runs, and the next import brings the rest.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import fsck, git, gitruns_cli

from gitruns.recording.repository import open_store
from gitruns.runs.model import load_run

RUN_A = "a" * 32
RUN_B = "b" * 32


def write_run(root: Path, run_id: str, *, status: int = 3, meta: str | None = None) -> Path:
    folder = root / "1" / run_id
    for sub in ("params", "tags", "metrics", "artifacts"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "meta.yaml").write_text(
        meta
        if meta is not None
        else f"run_id: {run_id}\nrun_name: run-{run_id[0]}\nexperiment_id: '1'\n"
        f"status: {status}\nstart_time: 1767225600000\nend_time: 1767225660000\n"
        f"lifecycle_stage: active\nuser_id: alice\n"
        f"artifact_uri: {(folder / 'artifacts').as_uri()}\n"
    )
    (folder / "params" / "lr").write_text("0.1")
    (folder / "metrics" / "loss").write_text("1767225600000 0.5 0\n1767225601000 0.25 1\n")
    return folder


@pytest.fixture
def mlruns(tmp_path: Path) -> Path:
    root = tmp_path / "mlruns"
    (root / "1").mkdir(parents=True)
    (root / "1" / "meta.yaml").write_text(
        "experiment_id: '1'\nname: exp\nlifecycle_stage: active\n"
    )
    write_run(root, RUN_A)
    write_run(root, RUN_B)
    return root


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "refs/runs/")


def assert_one_line_error(result: object, *words: str) -> None:
    assert result.returncode == 1  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert stderr.startswith("gitruns: error: ") and "Traceback" not in stderr, stderr
    assert "; " in stderr and len(stderr.strip().splitlines()) == 1, stderr
    for word in words:
        assert word in stderr, stderr


def test_a_hand_made_store_imports(repo: Path, mlruns: Path) -> None:
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("2 imported, 0 skipped, 0 changed, 0 failed")
    shown = json.loads(gitruns_cli(repo, "show", "run-a", "--format", "json").stdout)
    assert shown["params"] == {"lr": "0.1"}
    assert shown["start_time"] == "2026-01-01T00:00:00.000Z"
    assert shown["end_time"] == "2026-01-01T00:01:00.000Z"
    assert shown["user"]["name"] == "alice"
    assert shown["metrics"]["loss"]["count"] == 2
    fsck(repo)


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("http://127.0.0.1:5000", ["cannot import from http://127.0.0.1:5000", "copy the store"]),
        ("databricks://profile", ["cannot import from databricks://"]),
        ("sqlite://relative.db", ["is not a sqlite:/// URI"]),
        ("no/such/folder", ["does not exist"]),
    ],
)
def test_locations_that_are_not_stores(repo: Path, location: str, words: list[str]) -> None:
    assert_one_line_error(gitruns_cli(repo, "import", "mlflow", location), *words)
    assert refs(repo) == ""


def test_folders_and_files_that_are_not_stores(repo: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(gitruns_cli(repo, "import", "mlflow", str(empty)), "not an MLflow store")
    (empty / "mlruns").mkdir()
    result = gitruns_cli(repo, "import", "mlflow", str(empty))
    assert_one_line_error(result, f"did you mean {empty / 'mlruns'}?")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert_one_line_error(gitruns_cli(repo, "import", "mlflow", str(text)), "not a sqlite file")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    result = gitruns_cli(repo, "import", "mlflow", f"sqlite:///{other}")
    assert_one_line_error(result, "is not an MLflow store (no table experiments, metrics")
    assert refs(repo) == ""


def test_a_corrupt_meta_yaml_fails_that_run_only(repo: Path, mlruns: Path) -> None:
    write_run(mlruns, RUN_B, meta="run_id: [unclosed\n")
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert result.returncode == 1
    assert "failed" in result.stdout.splitlines()[-1]
    assert result.stdout.strip().endswith("1 imported, 0 skipped, 0 changed, 1 failed")
    assert f"failed: exp/{RUN_B} (MLflow {RUN_B}): " in result.stderr
    assert "is not valid YAML" in result.stderr and "Traceback" not in result.stderr
    assert len(refs(repo).splitlines()) == 1
    fsck(repo)


@pytest.mark.parametrize(
    ("breakage", "words"),
    [
        ("garbage", "line 2 is not '<timestamp> <value> <step>'"),
        ("negative step", "has step -1"),
        ("dangling link", "is a symbolic link"),
        ("bad key", "has a reserved or padded segment"),
    ],
)
def test_a_broken_metric_fails_that_run_and_writes_none_of_it(
    repo: Path, mlruns: Path, breakage: str, words: str
) -> None:
    metrics = mlruns / "1" / RUN_B / "metrics"
    if breakage == "garbage":
        (metrics / "loss").write_text("1767225600000 0.5 0\nnot a point\n")
    elif breakage == "negative step":
        (metrics / "loss").write_text("1767225600000 0.5 -1\n")
    elif breakage == "dangling link":
        (metrics / "acc").symlink_to(metrics / "missing")
    else:
        (metrics / "a").mkdir()
        (metrics / "a" / " padded ").write_text("1767225600000 0.5 0\n")
    objects_before = git(repo, "count-objects", "-v")
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns), "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["counts"]["failed"] == 1 and report["counts"]["imported"] == 1
    (failed,) = [r for r in report["runs"] if r["outcome"] == "failed"]
    assert failed["mlflow_run_id"] == RUN_B and failed["run_id"] is None
    assert words in failed["reason"], failed["reason"]
    assert len(refs(repo).splitlines()) == 1
    assert objects_before != git(repo, "count-objects", "-v")  # the good run was written
    fsck(repo)


def test_running_and_deleted_runs_are_skipped(repo: Path, mlruns: Path) -> None:
    write_run(mlruns, RUN_B, status=1)
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert result.returncode == 0
    assert "RUNNING in MLflow: import it once it has ended" in result.stdout
    # once it has ended, importing again brings it
    write_run(mlruns, RUN_B, status=4)
    again = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert again.stdout.strip().endswith("1 imported, 1 skipped, 0 changed, 0 failed")


def test_a_run_changed_since_import_is_reported_and_kept(repo: Path, mlruns: Path) -> None:
    assert gitruns_cli(repo, "import", "mlflow", str(mlruns)).returncode == 0
    before = refs(repo)
    (mlruns / "1" / RUN_A / "params" / "lr").write_text("0.2")
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert result.returncode == 0
    assert "changed: exp/run-a" in result.stdout
    assert "changed in MLflow since it was imported (params); kept as imported" in result.stdout
    assert refs(repo) == before
    # the documented way to take the new version: delete for good, import again
    assert gitruns_cli(repo, "rm", "--yes", "run-a").returncode == 0
    assert gitruns_cli(repo, "gc", "--older-than", "0").returncode == 0
    again = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert again.stdout.strip().endswith("1 imported, 1 skipped, 0 changed, 0 failed")
    shown = json.loads(gitruns_cli(repo, "show", "run-a", "--format", "json").stdout)
    assert shown["params"] == {"lr": "0.2"}
    fsck(repo)


def test_deleted_in_gitruns_is_not_imported_again(repo: Path, mlruns: Path) -> None:
    assert gitruns_cli(repo, "import", "mlflow", str(mlruns)).returncode == 0
    assert gitruns_cli(repo, "rm", "--yes", "run-a").returncode == 0
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert "imported before and deleted since ('gitruns restore' brings it back)" in result.stdout
    assert len(refs(repo).splitlines()) == 1


def test_a_moved_file_store_still_finds_its_artifacts(repo: Path, mlruns: Path) -> None:
    (mlruns / "1" / RUN_A / "artifacts" / "plots").mkdir()
    (mlruns / "1" / RUN_A / "artifacts" / "plots" / "roc.txt").write_text("curve")
    moved = mlruns.parent / "elsewhere"
    mlruns.rename(moved)  # meta.yaml still names the old artifact folder
    result = gitruns_cli(repo, "import", "mlflow", str(moved))
    assert result.returncode == 0, result.stderr
    shown = json.loads(gitruns_cli(repo, "show", "run-a", "--format", "json").stdout)
    assert [a["path"] for a in shown["artifacts"]] == ["plots/roc.txt"]


def test_artifacts_elsewhere_are_a_warning(repo: Path, mlruns: Path) -> None:
    meta = mlruns / "1" / RUN_A / "meta.yaml"
    meta.write_text(
        meta.read_text().replace(
            "artifact_uri: file://", "artifact_uri: s3://bucket/x\nold_uri: file://"
        )
    )
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert result.returncode == 0, result.stderr
    assert "warning: artifacts at s3://bucket/x are not local: not imported" in result.stdout


def make_sqlite_store(path: Path) -> None:
    """MLflow's tables (the columns the importer reads), two finished runs."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE experiments (experiment_id INTEGER, name TEXT, lifecycle_stage TEXT,
            artifact_location TEXT);
        CREATE TABLE runs (run_uuid TEXT, name TEXT, user_id TEXT, status TEXT,
            start_time INTEGER, end_time INTEGER, lifecycle_stage TEXT, artifact_uri TEXT,
            experiment_id INTEGER);
        CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);
        CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);
        CREATE TABLE metrics (key TEXT, value FLOAT, timestamp INTEGER, run_uuid TEXT,
            step INTEGER, is_nan BOOLEAN);
        INSERT INTO experiments VALUES (1, 'exp', 'active', '/nowhere');
        """
    )
    for run_id in (RUN_A, RUN_B):
        db.execute(
            "INSERT INTO runs VALUES (?, ?, 'bob', 'FINISHED', 1767225600000, 1767225660000,"
            " 'active', '/nowhere', 1)",
            (run_id, f"run-{run_id[0]}"),
        )
        db.execute("INSERT INTO metrics VALUES ('loss', 0, 1767225600000, ?, 0, 1)", (run_id,))
        db.execute("INSERT INTO metrics VALUES ('loss', 0.5, 1767225601000, ?, 1, 0)", (run_id,))
    db.commit()
    db.close()


def test_a_sqlite_row_without_a_value_fails_that_run_only(repo: Path, tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    make_sqlite_store(database)
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO metrics VALUES ('acc', NULL, 1767225600000, ?, 0, 0)", (RUN_B,))
    result = gitruns_cli(repo, "import", "mlflow", str(database), "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"] == {"imported": 1, "skipped": 0, "changed": 0, "failed": 1}
    (failed,) = [r for r in report["runs"] if r["outcome"] == "failed"]
    assert failed["mlflow_run_id"] == RUN_B
    assert "metric 'acc' of run" in failed["reason"]
    shown = json.loads(gitruns_cli(repo, "show", "run-a", "--format", "json").stdout)
    assert shown["metrics"]["loss"]["count"] == 2  # the NaN point is kept, as NaN
    assert gitruns_cli(repo, "metrics", "run-a", "loss").stdout.count("nan") == 1
    assert len(refs(repo).splitlines()) == 1
    fsck(repo)


def test_a_corrupt_experiment_meta_stops_the_import(repo: Path, mlruns: Path) -> None:
    (mlruns / "1" / "meta.yaml").write_text("name: [\n")
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert_one_line_error(result, "meta.yaml is not valid YAML", "move that experiment's folder")
    assert refs(repo) == ""


def test_an_import_killed_midway_leaves_whole_runs_and_resumes(repo: Path, tmp_path: Path) -> None:
    root = tmp_path / "big"
    (root / "1").mkdir(parents=True)
    (root / "1" / "meta.yaml").write_text("experiment_id: '1'\nname: exp\n")
    points = "".join(f"{1767225600000 + s} {1 / (s + 1)} {s}\n" for s in range(200))
    run_ids = [f"{n:032x}" for n in range(300)]
    for run_id in run_ids:
        folder = write_run(root, run_id)
        (folder / "metrics" / "loss").write_text(points)
    process = subprocess.Popen(
        [sys.executable, "-m", "gitruns", "import", "mlflow", str(root)],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    refs_dir = repo / ".git" / "refs" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(refs_dir.glob("*"))) < 20:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = len(refs(repo).splitlines())
    assert 20 <= written < 300
    listing = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)
    assert len(listing) == written
    assert {run["metrics"]["loss"]["count"] for run in listing} == {200}
    fsck(repo)
    again = gitruns_cli(repo, "import", "mlflow", str(root))
    assert again.returncode == 0, again.stderr
    counts = f"{300 - written} imported, {written} skipped, 0 changed, 0 failed"
    assert again.stdout.strip().endswith(counts)
    fsck(repo)


def test_a_long_series_is_streamed_whole(repo: Path, mlruns: Path) -> None:
    count = 250_000  # about 8 MiB of CSV: over the size kept in memory
    lines = "".join(f"{1767225600000 + s} {s * 0.5} {s}\n" for s in range(count))
    (mlruns / "1" / RUN_A / "metrics" / "loss").write_text(lines)
    result = gitruns_cli(repo, "import", "mlflow", str(mlruns))
    assert result.returncode == 0, result.stderr
    store = open_store(repo)
    run = next(
        load_run(store, run_id, commit)
        for run_id, commit in store.run_refs().items()
        if load_run(store, run_id, commit).tags["mlflow.run_id"] == RUN_A
    )
    rows = list(run.metric_rows("loss"))
    assert len(rows) == count == run.metrics["loss"]["count"]
    assert rows[0] == (0, 1767225600000, 0.0)
    assert rows[-1] == (count - 1, 1767225600000 + count - 1, (count - 1) * 0.5)
    assert run.metrics["loss"]["max"] == (count - 1) * 0.5
    assert list((repo / ".git" / "gitruns" / "tmp").glob("import-*")) == []
    fsck(repo)
