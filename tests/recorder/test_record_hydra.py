"""A real Hydra app under a real ``gitruns record``: the config Hydra composed for the job
this process ran, overrides merged per leaf, choices, a custom run dir, two runs at once in
one folder, and ``--multirun`` as one child run per job."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import pytest

from tests._record_helpers import GITRUNS, all_object_bytes, record
from tests.conftest import fsck

pytest.importorskip("hydra")

PY = sys.executable
APP_SOURCE = Path(__file__).resolve().parents[1] / "programs" / "hydra_app"
MYSQL = {"driver": "mysql", "user": "omry", "password": "[REDACTED]", "timeout": 10}


@pytest.fixture
def app(repo: Path) -> str:
    shutil.copytree(APP_SOURCE, repo / "app")
    return str(repo / "app" / "my_app.py")


def runs_by_name(repo: Path) -> dict[str, dict[str, Any]]:
    listing = subprocess.run(
        [*GITRUNS, "ls", "--format", "json"], cwd=repo, capture_output=True, text=True, check=True
    )
    runs = {}
    for entry in json.loads(listing.stdout):
        shown = subprocess.run(
            [*GITRUNS, "show", entry["id"], "--format", "json"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
        run = json.loads(shown.stdout)
        runs[run["name"]] = run
    return runs


def test_overrides_are_merged_per_leaf_and_hydra_settings_stay_out(repo: Path, app: str) -> None:
    result = record(
        repo,
        "--no-system-metrics",
        "--name",
        "tuned",
        "--",
        PY,
        app,
        "db.user=ann",
        "+db.port=5432",
        "trainer.lr=0.5",
        "hydra.run.dir=custom/out",
        "hydra.job.chdir=true",
    )
    assert result.returncode == 0, result.stderr
    run = runs_by_name(repo)["tuned"]
    assert run["params"] == {
        "db": {**MYSQL, "user": "ann", "port": 5432},
        "trainer": {"lr": 0.5, "epochs": 3, "name": "mysql-3"},
    }
    assert run["param_sources"] == {"db": "hydra", "trainer": "hydra"}
    hydra = run["hydra"]
    assert hydra["mode"] == "RUN"
    assert hydra["choices"]["db"] == "mysql"
    assert hydra["overrides"] == ["db.user=ann", "+db.port=5432", "trainer.lr=0.5"]
    assert {"hydra.run.dir=custom/out", "hydra.job.chdir=true"} <= set(hydra["hydra_overrides"])
    assert hydra["output_dir"] == str(repo / "custom" / "out")
    assert (repo / "custom" / "out" / ".hydra" / "config.yaml").is_file()
    assert run["metrics"]["score"]["count"] == 3  # logged from inside the job, chdir'd
    blob = all_object_bytes(repo)
    assert b"planted-hydra-mysql-pw" not in blob
    fsck(repo)


def test_a_group_choice_takes_the_whole_option(repo: Path, app: str) -> None:
    result = record(repo, "--no-system-metrics", "--", PY, app, "db=postgresql", "db.timeout=1")
    assert result.returncode == 0, result.stderr
    (run,) = runs_by_name(repo).values()
    assert run["params"]["db"] == {
        "driver": "postgresql",
        "user": "postgres_user",
        "password": "[REDACTED]",
        "timeout": 1,
    }
    assert run["hydra"]["choices"]["db"] == "postgresql"


def test_cli_params_and_config_files_merge_into_hydra_leaves(repo: Path, app: str) -> None:
    (repo / "extra.yaml").write_text("db:\n  pool: 4\n  timeout: 99\nteam: vision\n")
    result = record(
        repo,
        "--no-system-metrics",
        "-p",
        "db.user=from-cli",
        "--config",
        "extra.yaml",
        "--",
        PY,
        app,
    )
    assert result.returncode == 0, result.stderr
    (run,) = runs_by_name(repo).values()
    assert run["params"]["db"] == {**MYSQL, "user": "from-cli", "pool": 4}
    assert run["params"]["team"] == "vision"
    assert run["param_sources"] == {
        "db.driver": "hydra",
        "db.password": "hydra",
        "db.pool": "config:extra.yaml",
        "db.timeout": "hydra",
        "db.user": "cli",
        "team": "config:extra.yaml",
        "trainer": "hydra",
    }


def test_two_runs_at_once_in_one_folder_keep_their_own_config(repo: Path, app: str) -> None:
    barrier = repo / "go"
    env = {**os.environ, "APP_WAIT_FOR": str(barrier)}
    procs = [
        subprocess.Popen(
            [*GITRUNS, "record", "--no-system-metrics", "-n", f"lr{lr}", "--", PY, app,
             f"trainer.lr={lr}"],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for lr in (0.25, 0.75)
    ]  # fmt: skip
    deadline = time.time() + 60
    while not all(Path(f"{barrier}.{lr}").exists() for lr in (0.25, 0.75)):
        assert time.time() < deadline, "the two apps never ran together"
        time.sleep(0.05)
    barrier.touch()  # both are inside their job now; let them finish
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    runs = runs_by_name(repo)
    assert runs["lr0.25"]["params"]["trainer"]["lr"] == 0.25
    assert runs["lr0.75"]["params"]["trainer"]["lr"] == 0.75
    assert runs["lr0.25"]["hydra"]["overrides"] == ["trainer.lr=0.25"]


def test_multirun_gives_one_child_run_per_job(repo: Path, app: str) -> None:
    result = record(
        repo, "--no-system-metrics", "-n", "sweep", "--", PY, app, "--multirun",
        "db=mysql,postgresql", "trainer.lr=0.5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = runs_by_name(repo)
    assert sorted(runs) == ["db=mysql,trainer.lr=0.5", "db=postgresql,trainer.lr=0.5", "sweep"]
    sweep = runs.pop("sweep")
    assert sweep["params"] == {}  # Hydra's sweep syntax is not a param; each job has its own
    assert sweep["hydra"]["mode"] == "MULTIRUN"
    assert sweep["hydra"]["overrides"] == ["db=mysql,postgresql", "trainer.lr=0.5"]
    assert sorted(job["run"] for job in sweep["hydra"]["jobs"]) == sorted(
        run["id"] for run in runs.values()
    )
    assert not [k for k in sweep["metrics"] if not k.startswith("system/")]
    for driver in ("mysql", "postgresql"):
        job = runs[f"db={driver},trainer.lr=0.5"]
        assert job["parents"] == [sweep["id"]]
        assert job["status"] == "FINISHED"
        assert job["params"]["db"]["driver"] == driver
        assert job["params"]["trainer"]["lr"] == 0.5
        assert job["hydra"]["choices"]["db"] == driver
        assert job["metrics"]["score"]["count"] == 3  # its own metrics, from inside the job
    fsck(repo)


def test_a_failing_job_fails_its_own_run(repo: Path, app: str) -> None:
    result = record(repo, "--no-system-metrics", "-n", "sweep", "--", PY, app, "-m",
                    "trainer.lr=0.1,-1")  # fmt: skip
    assert result.returncode == 1
    runs = runs_by_name(repo)
    assert runs["trainer.lr=0.1"]["status"] == "FINISHED"
    failed = runs["trainer.lr=-1"]
    assert failed["status"] == "FAILED"
    assert failed["error"]["type"] == "ValueError"
    assert "negative learning rate" in failed["error"]["message"]


def _python_without_gitruns(tmp_path: Path) -> str:
    """A real virtual environment that sees this one's packages (Hydra) but not gitruns,
    which is installed in editable mode through a .pth file that it does not process."""
    venv = tmp_path / "plain-venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = subprocess.run([python, "-c", "import gitruns"], capture_output=True, cwd=tmp_path)
    if probe.returncode == 0:
        pytest.skip("gitruns is not an editable install here: every Python sees it")
    return python


def test_multirun_jobs_are_recorded_when_the_childs_python_has_no_gitruns(
    repo: Path, app: str, tmp_path: Path
) -> None:
    python = _python_without_gitruns(tmp_path)
    result = record(
        repo, "--no-system-metrics", "-n", "sweep", "--", python, app, "-m", "trainer.lr=0.1,0.2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = runs_by_name(repo)
    sweep = runs.pop("sweep")
    assert sorted(runs) == ["trainer.lr=0.1", "trainer.lr=0.2"]
    for name, lr in (("trainer.lr=0.1", 0.1), ("trainer.lr=0.2", 0.2)):
        job = runs[name]
        assert job["parents"] == [sweep["id"]] and job["status"] == "FINISHED"
        assert job["params"]["trainer"]["lr"] == lr
        assert job["params"]["db"] == MYSQL
        assert job["start_time"] >= sweep["start_time"]
        assert job["end_time"] <= sweep["end_time"]
    fsck(repo)
