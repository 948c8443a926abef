"""``gitruns logs`` of finished runs, and ``show`` explaining why a run failed."""

from __future__ import annotations

from pathlib import Path

from _record_helpers import record
from conftest import gitruns_cli

import gitruns

SCRIPT = """
import sys
for i in range(30):
    print(f"line {i}")
print("warning: something odd", file=sys.stderr)
raise RuntimeError("the data loader broke")
"""


def test_logs_stdout_stderr_and_tail(repo: Path) -> None:
    (repo / "job.py").write_text(SCRIPT)
    result = record(repo, "--name", "broken", "--", "python", "job.py")
    assert result.returncode == 1
    out = gitruns_cli(repo, "logs", "broken")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "".join(f"line {i}\n" for i in range(30))
    assert gitruns_cli(repo, "logs", "broken", "--tail", "2").stdout == "line 28\nline 29\n"
    assert gitruns_cli(repo, "logs", "broken", "-n", "0").stdout == ""
    err = gitruns_cli(repo, "logs", "broken", "--stderr").stdout
    assert err.startswith("warning: something odd\nTraceback")
    assert err.rstrip().endswith("RuntimeError: the data loader broke")
    # --follow of a finished run prints it all and returns at once
    assert gitruns_cli(repo, "logs", "broken", "--follow").stdout == out.stdout
    shown = gitruns_cli(repo, "show", "broken").stdout
    assert "status    FAILED (exit code 1)" in shown
    assert "stderr (last lines; all of it: gitruns logs" in shown
    assert "  RuntimeError: the data loader broke" in shown


def test_logs_of_a_run_without_captured_output(repo: Path) -> None:
    with gitruns.start_run("api-run") as run:
        run.log_metric("loss", 1.0)
    result = gitruns_cli(repo, "logs", "api-run")
    assert result.returncode == 1
    assert result.stderr.startswith(f"gitruns: error: run {run.id} has no captured stdout")
    assert "gitruns record" in result.stderr
    missing = gitruns_cli(repo, "logs", "nope")
    assert missing.returncode == 1 and "no run matches 'nope'" in missing.stderr


def test_show_of_an_api_failure_prints_the_traceback(repo: Path) -> None:
    run = gitruns.start_run("api-failure")
    try:
        raise ValueError("learning rate must be positive")
    except ValueError as error:
        run.end("FAILED", error=error)
    gitruns.recording.stack.forget_run(run)
    shown = gitruns_cli(repo, "show", "api-failure").stdout
    assert "error     ValueError: learning rate must be positive" in shown
    assert "traceback (last lines)" in shown
    assert "  ValueError: learning rate must be positive" in shown
    finished = gitruns.start_run("fine")
    finished.end()
    assert "traceback" not in gitruns_cli(repo, "show", "fine").stdout
