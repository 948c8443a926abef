"""``gitruns record`` end to end: real subprocesses, real git."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests._record_helpers import GITRUNS, all_object_bytes, only_run, record, run_file
from tests.conftest import fsck

PY = sys.executable


@pytest.mark.parametrize("code", [0, 1, 3])
def test_exit_code_and_status_follow_the_child(repo: Path, code: int) -> None:
    result = record(repo, "--no-system-metrics", "--", PY, "-c", f"import sys; sys.exit({code})")
    assert result.returncode == code
    run = only_run(repo)
    assert run["status"] == ("FINISHED" if code == 0 else "FAILED")
    assert run["exit_code"] == code
    assert b"gitruns: recording run " + run["id"].encode() in result.stderr
    fsck(repo)


def test_output_is_shown_and_saved(repo: Path) -> None:
    script = "import sys; print('to stdout'); print('to stderr', file=sys.stderr)"
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script)
    assert result.stdout == b"to stdout\n"
    assert b"to stderr\n" in result.stderr
    run = only_run(repo)
    assert run_file(repo, run["id"], "logs/stdout.txt") == b"to stdout\n"
    assert run_file(repo, run["id"], "logs/stderr.txt") == b"to stderr\n"


def test_binary_output_is_kept_byte_for_byte(repo: Path) -> None:
    payload = bytes(range(256)) * 4
    script = "import sys; sys.stdout.buffer.write(bytes(range(256)) * 4)"
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script)
    assert result.stdout == payload
    assert run_file(repo, only_run(repo)["id"], "logs/stdout.txt") == payload


def test_huge_output_keeps_head_and_tail_with_a_marker(repo: Path) -> None:
    script = "import sys\nfor i in range(200000): sys.stdout.write(f'line {i}\\n')"
    result = record(repo, "--no-system-metrics", "--max-output", "20000", "--", PY, "-c", script)
    assert result.returncode == 0
    saved = run_file(repo, only_run(repo)["id"], "logs/stdout.txt")
    assert saved.startswith(b"line 0\nline 1\n")
    assert saved.endswith(b"line 199999\n")
    assert b"bytes of output omitted here" in saved
    assert len(saved) < 21000


def _recording_until_ready(repo: Path, script: str) -> subprocess.Popen[bytes]:
    """``gitruns record -- python -c script``, once the script has printed "ready".

    stdin is not a terminal: a SIGINT sent to the recorder is then one that did not come
    from a terminal, which it must forward (run from a terminal, the test's own stdin
    would make the recorder take it for a Ctrl-C that reached the child already)."""
    proc = subprocess.Popen(
        [*GITRUNS, "record", "--no-system-metrics", "--", PY, "-c", script],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    return proc


def test_sigint_is_forwarded_and_the_run_is_killed(repo: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        try:
            # "ready" from inside the try: a SIGINT that arrives as soon as it is read
            # must already land in this handler (printed before the try, it could stop
            # the child with Python's default KeyboardInterrupt exit instead)
            print("ready", flush=True)
            time.sleep(30)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
        """
    )
    proc = _recording_until_ready(repo, script)
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert b"interrupted" in out
    run = only_run(repo)
    assert run["status"] == "KILLED"
    assert run["exit_code"] == 130


def test_sigterm_is_forwarded(repo: Path) -> None:
    script = "import time; print('ready', flush=True); time.sleep(30)"
    proc = _recording_until_ready(repo, script)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert only_run(repo)["status"] == "KILLED"


def test_child_logging_through_the_api_joins_the_same_run(repo: Path) -> None:
    script = textwrap.dedent(
        """
        import gitruns
        with gitruns.start_run(name="inner", params={"lr": 0.1}) as run:
            for step in range(5):
                run.log_metric("acc", step / 10, step=step)
            run.set_tag("stage", "child")
        """
    )
    result = record(repo, "--no-system-metrics", "--tag", "who=recorder", "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["name"] == "inner"
    assert run["params"]["lr"] == 0.1
    assert run["tags"] == {"stage": "child", "who": "recorder"}
    assert run["metrics"]["acc"]["count"] == 5
    assert run["metrics"]["acc"]["last"] == 0.4


def test_record_name_wins_over_the_scripts_name(repo: Path) -> None:
    script = "import gitruns\nwith gitruns.start_run(name='inner'): pass"
    record(repo, "--no-system-metrics", "--name", "outer", "--", PY, "-c", script)
    assert only_run(repo)["name"] == "outer"


def test_child_exception_is_recorded(repo: Path) -> None:
    script = "import gitruns\nwith gitruns.start_run():\n    raise ValueError('bad batch')"
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script)
    assert result.returncode == 1
    run = only_run(repo)
    assert run["status"] == "FAILED"
    assert run["error"]["type"] == "ValueError"
    assert run["error"]["message"] == "bad batch"


def test_shell_script_logs_with_the_cli(repo: Path) -> None:
    script = (
        "gitruns log-metric loss 1.0 && gitruns log-metric loss 0.5"
        " && gitruns log-param opt adam && gitruns set-tag kind shell"
    )
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = record(repo, "--no-system-metrics", "--", "sh", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["metrics"]["loss"]["count"] == 2
    assert run["metrics"]["loss"]["last"] == 0.5
    assert run["metrics"]["loss"]["last_step"] == 1
    assert run["params"]["opt"] == "adam"
    assert run["tags"]["kind"] == "shell"


def test_log_metric_outside_a_recorded_run_is_a_clear_error(repo: Path) -> None:
    result = subprocess.run(
        [*GITRUNS, "log-metric", "loss", "1"], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.startswith("gitruns: error: not inside a recorded run;")
    assert "Traceback" not in result.stderr


def test_params_from_argv_param_flags_and_config_files(repo: Path) -> None:
    (repo / "conf.yaml").write_text("optimizer: adam\nmodel:\n  layers: 3\nlr: 0.5\n")
    (repo / "extra.json").write_text('{"batch": 32}')
    (repo / "more.toml").write_text('dropout = 0.1\n[data]\nname = "mnist"\n')
    result = record(
        repo,
        "--no-system-metrics",
        "--param",
        "seed=7",
        "--config",
        "conf.yaml",
        "--config",
        "extra.json",
        "--config",
        "more.toml",
        "--",
        PY,
        "-c",
        "pass",
        "--lr",
        "0.01",
        "--epochs=3",
        "--verbose",
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    params = run["params"]
    assert params["seed"] == 7
    assert params["lr"] == 0.01  # the program's own flag beats the config file
    assert params["epochs"] == 3
    assert params["optimizer"] == "adam"
    assert params["model"] == {"layers": 3}
    assert params["batch"] == 32
    assert params["data"] == {"name": "mnist"}
    sources = run["param_sources"]
    assert sources["seed"] == "cli"
    assert sources["lr"] == "argv"
    assert sources["optimizer"] == "config:conf.yaml"


def test_planted_secrets_never_reach_git(repo: Path) -> None:
    env = {
        "MY_SERVICE_TOKEN": "tok-planted-env-0123456789",
        "WANDB_API_KEY": "planted-wandb-9876543210",
        "CUDA_VISIBLE_DEVICES": "0",
    }
    result = record(
        repo,
        "--no-system-metrics",
        "--",
        PY,
        "-c",
        "pass",
        "--api-key",
        "planted-argv-secret-abcdef",
        "--password=planted-pw-123456",
        "--db",
        "https://user:planted-url-pass-777@db.example.com/x",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    blob = all_object_bytes(repo)
    for secret in (
        "tok-planted-env-0123456789",
        "planted-wandb-9876543210",
        "planted-argv-secret-abcdef",
        "planted-pw-123456",
        "planted-url-pass-777",
    ):
        assert secret.encode() not in blob, secret
    assert "[REDACTED]" in json.dumps(run["command"])
    variables = run_file(repo, run["id"], "env/variables.yaml").decode()
    assert "CUDA_VISIBLE_DEVICES" in variables


def test_provenance_and_environment_are_captured(repo: Path) -> None:
    result = record(repo, "--no-system-metrics", "--", PY, "-c", "pass")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["command"]["argv"][1:] == ["-c", "pass"]
    assert run["command"]["cwd"] == str(repo)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    assert run["git"]["commit"] == head
    assert run["git"]["branch"] == "main"
    packages = run_file(repo, run["id"], "env/packages.txt").decode()
    assert "pygit2==" in packages
    platform_yaml = run_file(repo, run["id"], "env/platform.yaml").decode()
    assert "python" in platform_yaml
    assert run["environment"]["python"]


def test_system_metrics_are_sampled(repo: Path) -> None:
    script = "import time; time.sleep(1.5)"
    result = record(repo, "--system-interval", "0.3", "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    metrics = only_run(repo)["metrics"]
    for key in ("system/cpu_percent", "system/rss_mb", "system/memory_percent"):
        assert key in metrics, sorted(metrics)
        assert metrics[key]["count"] >= 2
    assert not any(k.startswith("system/gpu/") for k in metrics)  # no driver here


def test_fake_nvml_values_are_recorded(repo: Path, tmp_path: Path) -> None:
    fake = tmp_path / "gpus.json"
    fake.write_text(
        json.dumps(
            {
                "driver_version": "550.54.15",
                "cuda_version": 12040,
                "gpus": [
                    {
                        "name": "NVIDIA H100 80GB HBM3",
                        "uuid": "GPU-fake-0",
                        "memory_total": 85899345920,
                        "memory_used": 1073741824,
                        "utilization_gpu": 87,
                        "power_mw": 312000,
                        "temperature_c": 61,
                    }
                ],
            }
        )
    )
    result = record(
        repo,
        "--system-interval",
        "0.3",
        "--",
        PY,
        "-c",
        "import time; time.sleep(1)",
        env={"GITRUNS_FAKE_NVML": str(fake)},
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    metrics = run["metrics"]
    assert metrics["system/gpu/0/utilization_percent"]["last"] == 87
    assert metrics["system/gpu/0/power_w"]["last"] == 312
    assert metrics["system/gpu/0/temperature_c"]["last"] == 61
    assert "H100" in run_file(repo, run["id"], "env/platform.yaml").decode()


def test_artifacts_and_inputs(repo: Path) -> None:
    (repo / "data.csv").write_text("x,y\n1,2\n")
    script = (
        "import pathlib; pathlib.Path('out').mkdir(); "
        "pathlib.Path('out/model.bin').write_bytes(b'w' * 100)"
    )
    result = record(
        repo,
        "--no-system-metrics",
        "--artifact",
        "out/*.bin",
        "--input",
        "data.csv",
        "--",
        PY,
        "-c",
        script,
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert [a["path"] for a in run["artifacts"]] == ["out/model.bin"]
    assert run["artifacts"][0]["size"] == 100
    assert run["inputs"][0]["path"] == "data.csv"
    assert len(run["inputs"][0]["sha256"]) == 64


def test_unknown_command_is_a_clear_error_and_records_nothing(repo: Path) -> None:
    result = record(repo, "--", "no-such-command-xyz")
    assert result.returncode == 1
    assert result.stderr.decode().startswith(
        "gitruns: error: command not found: no-such-command-xyz;"
    )
    listing = subprocess.run(
        [*GITRUNS, "ls", "--format", "json"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert json.loads(listing.stdout) == []


def test_kill_9_of_the_recorder_leaves_a_recoverable_crashed_run(repo: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys, time, pathlib
        import gitruns
        pathlib.Path("child.pid").write_text(str(os.getpid()))
        run = gitruns.start_run()
        for step in range(600):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
            print(f"step {step}", flush=True)
            time.sleep(0.05)
        """
    )
    proc = subprocess.Popen(
        [*GITRUNS, "record", "--system-interval", "0.2", "--", PY, "-c", script],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    while b"step 20" not in proc.stdout.readline():
        pass
    time.sleep(1.5)  # past a flush of the child's journal
    proc.kill()
    proc.wait()
    proc.stdout.close()
    child = int((repo / "child.pid").read_text())
    deadline = time.time() + 30
    while time.time() < deadline:  # the child dies on its next print to the dead pipe
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    run = only_run(repo)
    assert run["status"] == "CRASHED"
    assert run["metrics"]["loss"]["count"] >= 20
    saved = run_file(repo, run["id"], "logs/stdout.txt")
    assert b"step 0\n" in saved and b"step 20\n" in saved
    fsck(repo)


def test_example_training_script_recorded_end_to_end(repo: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "train.py"
    result = record(
        repo,
        "--artifact",
        "out/*.json",
        "--system-interval",
        "1",
        "--",
        PY,
        str(example),
        "--epochs",
        "15",
        "--lr",
        "0.5",
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["status"] == "FINISHED"
    assert run["params"]["epochs"] == 15
    history = subprocess.run(
        [*GITRUNS, "show", run["id"], "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(history.stdout)["metrics"]["train/loss"]["count"] == 15
    losses = run_file(repo, run["id"], "metrics/train/loss.csv").decode().splitlines()[1:]
    first, last = float(losses[0].split(",")[2]), float(losses[-1].split(",")[2])
    assert last < first * 0.8  # it really learns
    assert run["metrics"]["test/acc"]["last"] > 0.8
    assert "out/model.json" in [a["path"] for a in run["artifacts"]]
    fsck(repo)
