"""Exact argument capture: real Python programs under a real ``gitruns record`` report what
they parsed (argparse, click), compared with the program's own ``vars(args)``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests._record_helpers import only_run, record
from tests.conftest import fsck

PY = sys.executable
PROGRAMS = Path(__file__).resolve().parents[1] / "programs"


def recorded_with_own_view(
    repo: Path, program: str, *args: str, options: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Record ``python PROGRAM ARGS``; return the run and what the program itself parsed."""
    own = repo.parent / "own-args.json"
    result = record(
        repo,
        "--no-system-metrics",
        *options,
        "--",
        PY,
        str(PROGRAMS / program),
        *args,
        env={"DUMP_ARGS": str(own)},
    )
    assert result.returncode == 0, result.stderr
    assert b"warning" not in result.stderr, result.stderr
    return only_run(repo), json.loads(own.read_text())


def test_imagenet_style_flags_are_recorded_as_the_program_parsed_them(repo: Path) -> None:
    run, own = recorded_with_own_view(
        repo,
        "imagenet_style.py",
        "-b",
        "8",
        "-j0",
        "--wd",
        "0.01",
        "--lr",
        "5",
        "--seed",
        "007",
        "-a",
        "resnet50",
        "--milestones",
        "10",
        "20",
        "30",
        "--no-accel",
        "mydata",
        "--api-key",
        "planted-key-0123456789",
    )
    params = run["params"]
    assert own["api_key"] == "planted-key-0123456789"
    own["api_key"] = "[REDACTED]"
    assert params == own  # every dest, defaults included, nothing else
    assert len(params) == 23
    # the spellings and types argparse gave, not the ones typed
    assert params["batch_size"] == 8 and params["workers"] == 0
    assert params["weight_decay"] == 0.01 and params["lr"] == 5.0
    assert isinstance(params["lr"], float) and params["seed"] == 7
    assert params["no_accel"] is True and params["data"] == "mydata"
    assert params["milestones"] == [10, 20, 30]
    assert params["momentum"] == 0.9 and params["resume"] == "" and params["gpu"] is None
    assert params["out"] == "checkpoints"  # a Path, recorded as its text
    assert set(run["param_sources"].values()) == {"argparse"}
    fsck(repo)


def test_subcommand_arguments_join_the_top_level_ones(repo: Path) -> None:
    run, own = recorded_with_own_view(
        repo, "subcommands.py", "-vv", "train", "--lr", "0.5", "-l", "128", "64"
    )
    assert (
        run["params"] == own == {"verbose": 2, "command": "train", "lr": 0.5, "layers": [128, 64]}
    )
    run_eval, own_eval = recorded_with_own_view(
        _fresh_repo(repo), "subcommands.py", "eval", "ckpt.pt"
    )
    assert run_eval["params"] == own_eval
    assert run_eval["params"]["checkpoint"] == "ckpt.pt" and "lr" not in run_eval["params"]


def _fresh_repo(repo: Path) -> Path:
    other = repo.parent / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=other, check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "init"], cwd=other, check=True)
    return other


def test_a_script_that_parses_twice_records_once(repo: Path) -> None:
    run, own = recorded_with_own_view(repo, "parses_twice.py", "-c", "conf.yaml", "--lr", "0.3")
    assert run["params"] == own == {"config": "conf.yaml", "lr": 0.3, "model": "mlp"}
    assert "tokenizer_threads" not in run["params"]  # not the program's command line


def test_click_parameters_are_recorded_per_command(repo: Path) -> None:
    run, own = recorded_with_own_view(
        repo,
        "click_app.py",
        "--seed",
        "3",
        "train",
        "--learning-rate",
        "0.5",
        "-l",
        "1",
        "-l",
        "2",
        "--token",
        "planted-click-token-42",
        "data/",
    )
    assert own["train"]["token"] == "planted-click-token-42"
    own["train"]["token"] = "[REDACTED]"
    assert run["params"] == own
    assert run["params"]["train"]["layers"] == [1, 2]
    assert set(run["param_sources"].values()) == {"click"}


def test_no_arg_capture_reads_argv_instead(repo: Path) -> None:
    result = record(
        repo,
        "--no-system-metrics",
        "--no-arg-capture",
        "--",
        PY,
        str(PROGRAMS / "imagenet_style.py"),
        "-b",
        "8",
        "--wd",
        "0.01",
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["params"] == {"b": 8, "wd": 0.01}
    assert set(run["param_sources"].values()) == {"argv"}


def test_a_python_program_without_argparse_falls_back_to_argv(repo: Path) -> None:
    script = "import sys; print(sys.argv[1:])"
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script, "--lr", "0.1", "x=1")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["params"] == {"lr": 0.1, "x": 1}
    assert run["param_sources"] == {"lr": "argv", "x": "argv"}


def test_isolated_python_gets_no_hook_and_argv_is_read(repo: Path) -> None:
    program = str(PROGRAMS / "subcommands.py")
    result = record(repo, "--no-system-metrics", "--", PY, "-I", program, "train", "--lr", "2")
    assert result.returncode == 0, result.stderr
    assert only_run(repo)["params"] == {"lr": 2}


def test_non_python_commands_keep_argv_parsing_and_never_see_the_hook(repo: Path) -> None:
    script = 'printf "%s" "${PYTHONPATH-unset}" > pythonpath.txt'
    result = record(repo, "--no-system-metrics", "--", "sh", "-c", script, "sh", "--lr", "3")
    assert result.returncode == 0, result.stderr
    assert (repo / "pythonpath.txt").read_text() == "unset"


def test_the_child_sees_the_same_path_environment_and_sitecustomize(
    repo: Path, tmp_path: Path
) -> None:
    """sys.path, PYTHONPATH and an existing sitecustomize are as without gitruns, and so
    are the grandchildren's."""
    user_site = tmp_path / "user-site"
    user_site.mkdir()
    (user_site / "sitecustomize.py").write_text(
        "import os\nos.environ['USER_SITECUSTOMIZE_RAN'] = 'yes'\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, os, subprocess, sys\n"
        "grandchild = subprocess.run([sys.executable, '-c', 'import os, sys; "
        'print(os.environ.get("PYTHONPATH")); print(sys.path)\'], capture_output=True, '
        "text=True).stdout\n"
        "print(json.dumps({'path': sys.path, 'pythonpath': os.environ.get('PYTHONPATH'),"
        " 'user': os.environ.get('USER_SITECUSTOMIZE_RAN'), 'grandchild': grandchild,"
        " 'hook_vars': sorted(k for k in os.environ if k.startswith('GITRUNS_')"
        " and k not in ('GITRUNS_RUN_ID', 'GITRUNS_RUN_DIR', 'GITRUNS_REPO'))}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(user_site)}
    plain = subprocess.run([PY, str(probe)], cwd=repo, env=env, capture_output=True, text=True)
    recorded = record(
        repo, "--no-system-metrics", "--", PY, str(probe), env={"PYTHONPATH": str(user_site)}
    )
    assert recorded.returncode == 0, recorded.stderr
    seen = json.loads(recorded.stdout)
    assert seen == {**json.loads(plain.stdout), "hook_vars": []}
    assert seen["user"] == "yes" and seen["pythonpath"] == str(user_site)


def test_the_program_logging_its_own_args_stores_one_spelling(repo: Path) -> None:
    script = (
        "import argparse, gitruns\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('--log-interval', type=int, default=10)\n"
        "p.add_argument('--lr', type=float, default=0.1)\n"
        "args = p.parse_args()\n"
        "with gitruns.start_run(params=vars(args)) as run:\n"
        "    run.log_metric('loss', 1.0)\n"
    )
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script, "--log-interval", "5")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["params"] == {"log_interval": 5, "lr": 0.1}


@pytest.mark.parametrize("ignored", ["hydra._internal.utils", "torch.distributed.run"])
def test_parsers_of_frameworks_and_launchers_are_not_the_program(
    repo: Path, tmp_path: Path, ignored: str
) -> None:
    package = tmp_path / "pkgs"
    module_path = package.joinpath(*ignored.split("."))
    module_path.parent.mkdir(parents=True)
    for parent in [module_path.parent, *module_path.parent.parents]:
        if parent == package:
            break
        (parent / "__init__.py").touch()
    module_path.with_suffix(".py").write_text(
        "import argparse\n"
        "def parse():\n"
        "    p = argparse.ArgumentParser()\n"
        "    p.add_argument('--nproc', type=int, default=1)\n"
        "    p.add_argument('rest', nargs='*')\n"
        "    return p.parse_known_args()\n"
    )
    script = f"import sys; sys.path.insert(0, {str(package)!r}); import {ignored} as m; m.parse()"
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script, "--nproc", "4")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["param_sources"] == {"nproc": "argv"}  # the launcher's parse was not taken


def test_argv_overrides_and_config_files_merge_per_leaf(repo: Path) -> None:
    (repo / "conf.yaml").write_text("model:\n  width: 128\n  depth: 4\nseed: 1\n")
    (repo / "train.sh").write_text("exit 0\n")
    result = record(
        repo,
        "--no-system-metrics",
        "--config",
        "conf.yaml",
        "-p",
        "model.act=relu",
        "--",
        "sh",
        "train.sh",
        "model.width=256",
        "--seed",
        "2",
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["params"] == {"model": {"width": 256, "depth": 4, "act": "relu"}, "seed": 2}
    assert run["param_sources"] == {
        "model.act": "cli",
        "model.depth": "config:conf.yaml",
        "model.width": "argv",
        "seed": "argv",
    }
