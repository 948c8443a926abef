"""One run per ``start_run`` under ``gitruns record``, the same ``ParamConflictError``
rules as without it, and module-level logging that starts (or joins) a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests._record_helpers import GITRUNS, record
from tests.conftest import fsck

PY = sys.executable

SWEEP = textwrap.dedent(
    """
    import gitruns
    for lr in (0.1, 0.2, 0.3):
        with gitruns.start_run(name=f"lr-{lr}", params={"lr": lr}) as run:
            for step in range(3):
                run.log_metric("loss", lr * (3 - step), step=step)
    """
)
KFOLD = textwrap.dedent(
    """
    import gitruns
    with gitruns.start_run(name="cv", params={"folds": 3}) as cv:
        scores = []
        for fold in range(3):
            with gitruns.start_run(name=f"fold-{fold}", nested=True) as run:
                run.log_param("fold", fold)
                run.log_metric("acc", 0.8 + fold / 100)
                scores.append(0.8 + fold / 100)
        cv.log_metric("mean_acc", sum(scores) / len(scores))
    """
)


def all_runs(repo: Path) -> dict[str, dict[str, Any]]:
    """Every run by name."""
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


def test_a_sweep_loop_under_record_makes_one_run_per_start_run(repo: Path) -> None:
    result = record(repo, "--no-system-metrics", "--", PY, "-c", SWEEP)
    assert result.returncode == 0, result.stderr
    runs = all_runs(repo)
    assert sorted(runs) == ["lr-0.1", "lr-0.2", "lr-0.3"]
    recorded = runs["lr-0.1"]  # the first start_run joined the recorded run
    assert recorded["command"] is not None and recorded["parents"] == []
    for name, lr in (("lr-0.2", 0.2), ("lr-0.3", 0.3)):
        assert runs[name]["parents"] == [recorded["id"]]
        assert runs[name]["params"] == {"lr": lr}
        assert runs[name]["metrics"]["loss"]["count"] == 3
        assert runs[name]["metrics"]["loss"]["last_step"] == 2
    assert recorded["params"] == {"lr": 0.1}
    assert recorded["metrics"]["loss"]["count"] == 3
    fsck(repo)


def test_the_same_sweep_without_record_makes_the_same_runs(repo: Path) -> None:
    done = subprocess.run([PY, "-c", SWEEP], cwd=repo, capture_output=True)
    assert done.returncode == 0, done.stderr
    runs = all_runs(repo)
    assert sorted(runs) == ["lr-0.1", "lr-0.2", "lr-0.3"]
    assert [runs[n]["params"]["lr"] for n in sorted(runs)] == [0.1, 0.2, 0.3]


def test_k_fold_under_record_nests_folds_under_the_recorded_run(repo: Path) -> None:
    result = record(repo, "--no-system-metrics", "--", PY, "-c", KFOLD)
    assert result.returncode == 0, result.stderr
    runs = all_runs(repo)
    assert sorted(runs) == ["cv", "fold-0", "fold-1", "fold-2"]
    cv = runs["cv"]
    assert cv["command"] is not None  # the recorded run
    assert cv["params"] == {"folds": 3}
    assert cv["metrics"]["mean_acc"]["count"] == 1
    for fold in range(3):
        run = runs[f"fold-{fold}"]
        assert run["parents"] == [cv["id"]]
        assert run["params"] == {"fold": fold}
        assert run["status"] == "FINISHED"


def test_module_level_logging_joins_the_recorded_run(repo: Path) -> None:
    script = "import gitruns; gitruns.log_metric('x', 1.0); gitruns.set_tag('t', 'v')"
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    (run,) = all_runs(repo).values()
    assert run["metrics"]["x"]["last"] == 1.0 and run["tags"] == {"t": "v"}


def test_module_level_logging_after_a_run_ended_starts_a_child_run(repo: Path) -> None:
    script = textwrap.dedent(
        """
        import gitruns
        with gitruns.start_run(name="first"):
            gitruns.log_metric("x", 1.0)
        gitruns.log_metric("y", 2.0)
        """
    )
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    runs = all_runs(repo)
    (later,) = [r for name, r in runs.items() if name != "first"]
    assert later["parents"] == [runs["first"]["id"]]
    assert list(later["metrics"]) == ["y"] and list(runs["first"]["metrics"]) == ["x"]


def test_two_processes_of_one_command_join_once(repo: Path) -> None:
    child = "import gitruns; gitruns.start_run(name='{}').log_metric('m', 1.0)"
    script = (
        f"import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {child.format('one')!r}], check=True)\n"
        f"subprocess.run([sys.executable, '-c', {child.format('two')!r}], check=True)\n"
    )
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    runs = all_runs(repo)
    assert sorted(runs) == ["one", "two"]
    assert runs["two"]["parents"] == [runs["one"]["id"]]


def test_a_script_contradicting_a_cli_param_fails_as_it_would_alone(repo: Path) -> None:
    script = "import gitruns\nwith gitruns.start_run() as run:\n    run.log_param('opt', 'sgd')\n"
    result = record(repo, "--no-system-metrics", "-p", "opt=adam", "--", PY, "-c", script)
    assert result.returncode == 1
    assert b"ParamConflictError: param 'opt' is already 'adam'" in result.stderr
    (run,) = all_runs(repo).values()
    assert run["status"] == "FAILED"
    assert run["params"] == {"opt": "adam"} and run["param_sources"] == {"opt": "cli"}


def test_a_script_agreeing_with_a_cli_param_is_fine(repo: Path) -> None:
    script = "import gitruns\ngitruns.log_params({'opt': 'adam', 'model': {'width': 8}})\n"
    result = record(
        repo, "--no-system-metrics", "-p", "opt=adam", "-p", "model.width=8", "--", PY, "-c", script
    )
    assert result.returncode == 0, result.stderr
    (run,) = all_runs(repo).values()
    assert run["params"] == {"opt": "adam", "model": {"width": 8}}


def test_a_conflict_within_a_nested_cli_param_is_caught_per_leaf(repo: Path) -> None:
    script = "import gitruns\ngitruns.log_param('model', {'width': 16, 'depth': 2})\n"
    result = record(repo, "--no-system-metrics", "-p", "model.width=8", "--", PY, "-c", script)
    assert result.returncode == 1
    assert b"ParamConflictError" in result.stderr


def test_shell_log_param_cannot_overwrite_a_cli_param(repo: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = record(
        repo,
        "--no-system-metrics",
        "-p",
        "opt=adam",
        "--",
        "sh",
        "-c",
        "gitruns log-param opt sgd",
        env=env,
    )
    assert result.returncode == 1
    assert b"gitruns: error: param 'opt' is already 'adam'; cannot change it to 'sgd'" in (
        result.stderr
    )
    (run,) = all_runs(repo).values()
    assert run["params"] == {"opt": "adam"}


def test_two_scripts_logging_different_values_conflict_across_processes(repo: Path) -> None:
    child = "import gitruns; gitruns.log_param('seed', {})"
    script = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {child.format(1)!r}], check=True)\n"
        "import gitruns\n"
        "with gitruns.start_run(nested=False) as run:\n"
        "    pass\n"
    )
    # the first process joins and logs seed=1; the second start_run is a child run: no clash
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    runs = all_runs(repo)
    assert len(runs) == 2
    shell = "gitruns log-param seed 1 && gitruns log-param seed 2"
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    other = record(repo, "--no-system-metrics", "--", "sh", "-c", shell, env=env)
    assert other.returncode == 1
    assert b"param 'seed' is already 1; cannot change it to 2" in other.stderr
