"""Runs started by the API in a plain ``python train.py`` (no ``record``) get provenance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gitruns
from tests._record_helpers import only_run, run_file
from tests.conftest import fsck, git

SCRIPT = """\
import gitruns
with gitruns.start_run(name="plain", params={"lr": 0.1}) as run:
    run.log_metric("loss", 0.5)
"""


def _python(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_plain_script_records_command_entry_point_and_environment(repo: Path) -> None:
    (repo / "train.py").write_text(SCRIPT)
    git(repo, "commit", "-qam", "train")
    _python(repo, "train.py", "--api-key", "planted-api-run-key-01", env={"CUDA_HOME": "/x"})
    run = only_run(repo)
    command = run["command"]
    assert command["argv"][1:] == ["train.py", "--api-key", "[REDACTED]"]
    assert command["entry_point"] == "train.py"
    assert command["cwd"] == str(repo) and command["executable"] == sys.executable
    assert run["environment"]["python"] == ".".join(map(str, sys.version_info[:3]))
    packages = run_file(repo, run["id"], "env/packages.txt").decode()
    assert "pygit2==" in packages
    platform = run_file(repo, run["id"], "env/platform.yaml").decode()
    assert sys.executable in platform
    assert "CUDA_HOME: /x" in run_file(repo, run["id"], "env/variables.yaml").decode()
    assert not any(k.startswith("system/") for k in run["metrics"])  # opt-in only
    assert run["git"]["dirty"] is False


def test_system_metrics_on_request(repo: Path) -> None:
    (repo / "sampled.py").write_text(
        "import time, gitruns\n"
        "with gitruns.start_run(log_system_metrics=True):\n"
        "    time.sleep(0.8)\n"
    )
    _python(repo, "sampled.py", env={"GITRUNS_SYSTEM_INTERVAL": "0.2"})
    run = only_run(repo)
    assert run["metrics"]["system/cpu_percent"]["count"] >= 2
    assert run["metrics"]["system/rss_mb"]["last"] > 1


def test_system_metrics_from_the_environment_variable_and_module_runs(repo: Path) -> None:
    package = repo / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text(SCRIPT)
    _python(repo, "-m", "pkg.train", env={"GITRUNS_SYSTEM_METRICS": "1"})
    run = only_run(repo)
    assert run["command"]["entry_point"] == "-m pkg.train"
    assert "system/memory_percent" in run["metrics"]


def test_an_untracked_entry_point_script_is_in_the_code_snapshot(repo: Path) -> None:
    (repo / "new_experiment.py").write_text(SCRIPT)
    (repo / "scratch.txt").write_text("an untracked file that is not the entry point")
    _python(repo, "new_experiment.py")
    run = only_run(repo)
    assert run["git"]["dirty"] is True
    snapshot = run["git"]["snapshot"]
    assert git(repo, "show", f"{snapshot}:new_experiment.py") == SCRIPT
    assert git(repo, "ls-tree", "--name-only", snapshot).split() == [
        "new_experiment.py",
        "train.py",
    ]
    patch = run_file(repo, run["id"], "code/uncommitted.patch").decode()
    assert "+++ b/new_experiment.py" in patch
    assert git(repo, "status", "--porcelain") == "?? new_experiment.py\n?? scratch.txt\n"
    fsck(repo)


def test_an_ignored_entry_point_script_is_left_out(repo: Path) -> None:
    (repo / ".gitignore").write_text("local_*.py\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    (repo / "local_try.py").write_text(SCRIPT)
    _python(repo, "local_try.py")
    run = only_run(repo)
    assert run["git"]["dirty"] is False and run["git"]["snapshot"] is None


def test_record_also_snapshots_its_untracked_script(repo: Path) -> None:
    (repo / "fresh.py").write_text("print('fresh')\n")
    result = subprocess.run(
        [sys.executable, "-m", "gitruns", "record", "--no-system-metrics", "--", sys.executable,
         "fresh.py"],
        cwd=repo, capture_output=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert git(repo, "show", f"{run['git']['snapshot']}:fresh.py") == "print('fresh')\n"


def test_variables_follow_the_environment_from_run_to_run(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep reuses variables.yaml while the environment is the same, and writes it anew
    when the program changed a variable between runs (or removed one)."""
    from gitruns.recording import provenance

    assert provenance._process_snapshot().ready.wait(60)
    monkeypatch.setenv("CUDA_HOME", "/first")
    with gitruns.start_run(name="one") as first:
        pass
    monkeypatch.setenv("CUDA_HOME", "/second")
    with gitruns.start_run(name="two") as second:
        pass
    monkeypatch.delenv("CUDA_HOME")
    with gitruns.start_run(name="three") as third:
        pass
    runs = (first, second, third)
    texts = [run_file(repo, run.id, "env/variables.yaml").decode() for run in runs]
    assert "CUDA_HOME: /first" in texts[0] and "CUDA_HOME: /second" in texts[1]
    assert "CUDA_HOME" not in texts[2]
