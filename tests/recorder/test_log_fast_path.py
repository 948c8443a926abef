"""``gitruns log-metric / log-param / set-tag`` join the recorded run without loading git.

The fast path (the CLI: the run's repository opened only if a call needs it) must write
exactly what the slow path (``attach_to_recorded_run()`` with the repository opened, the
API's way in) writes, and refuse the same bad input with the same message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests._record_helpers import record
from tests.conftest import fsck

PY = sys.executable

# The slow path, as `gitruns log-metric` and its siblings ran before the fast path: join
# with the repository opened (pygit2 loaded), make the same call, end the join.
SLOW = textwrap.dedent(
    """
    import sys
    from gitruns.cli.errors import fail
    from gitruns.errors import GitrunsError
    from gitruns.format.yamlio import parse_scalar
    from gitruns.recording.start import attach_to_recorded_run

    verb, key, value, *rest = sys.argv[1:]
    run = attach_to_recorded_run()
    assert run is not None and "pygit2" in sys.modules
    try:
        if verb == "log-metric":
            step = int(rest[1]) if rest else run.next_step(key)
            run.log_metric(key, float(value), step=step)
        elif verb == "log-param":
            run.log_param(key, parse_scalar(value), source="cli")
        else:
            run.set_tag(key, value)
    except GitrunsError as exc:
        fail(exc.message, exc.hint)
    finally:
        run.end()
    """
)

# The same calls through either path; the last three are refused.
CALLS = [
    ["log-metric", "loss", "1.0"],
    ["log-metric", "loss", "0.5"],
    ["log-metric", "acc", "0.25", "--step", "7"],
    ["log-metric", "acc", "nan"],
    ["log-metric", "loss", "1e-3"],
    ["log-param", "lr", "0.01"],
    ["log-param", "layers", "[1, 2]"],
    ["log-param", "api_key", "s3cr3t-value-1234"],
    ["set-tag", "stage", "pretrain"],
    ["set-tag", "stage", "finetune"],
]
REFUSED = [
    ["log-param", "lr", "0.02"],  # a param is fixed once logged (by another process)
    ["log-metric", "../escape", "1"],
    ["set-tag", "", "x"],
]


def _script(tmp_path: Path, caller: list[str]) -> Path:
    """A shell script making every call through ``caller``; each refused call's stderr and
    exit code go to a file of their own."""
    lines = ["set -e"]
    for call in CALLS:
        lines.append(" ".join([*caller, *(f"'{a}'" for a in call)]))
    for n, call in enumerate(REFUSED):
        args = " ".join(f"'{a}'" for a in call)
        lines.append(f"{' '.join(caller)} {args} 2> refused{n}.txt || echo $? >> refused{n}.txt")
    script = tmp_path / f"calls-{len(caller)}.sh"
    script.write_text("\n".join(lines) + "\n")
    return script


def _record_calls(repo: Path, script: Path) -> dict[str, Any]:
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = record(repo, "--no-system-metrics", "--", "sh", str(script), env=env)
    assert result.returncode == 0, result.stderr
    run_id = result.stderr.decode().split("recording run ")[1].split()[0]
    return _finished(repo, run_id)


def _finished(repo: Path, run_id: str) -> dict[str, Any]:
    """What the run stored, less what differs between any two runs (ids, times, logs)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return done.stdout

    ref = f"refs/runs/{run_id}"
    paths = git("ls-tree", "-r", "--name-only", ref).split()
    series = {}
    for path in paths:
        if path.startswith("metrics/"):
            rows = git("show", f"{ref}:{path}").splitlines()
            series[path] = [(r.split(",")[0], r.split(",")[2]) for r in rows]  # no timestamp
    shown = json.loads(
        subprocess.run(
            [PY, "-m", "gitruns", "show", run_id, "--format", "json"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    for summary in shown["metrics"].values():
        summary.pop("last_timestamp", None)
    return {
        "paths": [p for p in paths if not p.startswith(("logs/", "env/"))],
        "series": series,
        "params": shown["params"],
        "param_sources": shown.get("param_sources"),
        "metrics": shown["metrics"],
        "tags": {k: v for k, v in shown["tags"].items() if not k.startswith("gitruns.")},
    }


def test_fast_path_writes_what_the_slow_path_writes(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    work = tmp_path / "work"
    work.mkdir()
    fast = _record_calls(repo, _script(tmp_path, ["cd", str(work), "&&", "gitruns"]))
    fast_refusals = [(work / f"refused{n}.txt").read_text() for n in range(len(REFUSED))]
    slow_py = str(tmp_path / "slow.py")
    slow = _record_calls(repo, _script(tmp_path, ["cd", str(work), "&&", PY, slow_py]))
    slow_refusals = [(work / f"refused{n}.txt").read_text() for n in range(len(REFUSED))]
    assert fast == slow
    assert fast["params"]["api_key"] == "[REDACTED]"
    assert fast["series"]["metrics/loss.csv"][1:] == [("0", "1.0"), ("1", "0.5"), ("2", "0.001")]
    fsck(repo)
    assert fast_refusals == slow_refusals
    for text in fast_refusals:
        assert text.startswith("gitruns: error: ") and text.endswith("\n1\n"), text
    assert "is already 0.01" in fast_refusals[0]


def test_log_metric_loads_no_git(repo: Path, tmp_path: Path) -> None:
    """An import-graph check, not a timing: the fast path never imports pygit2 or yaml."""
    probe = textwrap.dedent(
        """
        import sys, runpy
        sys.argv = ["gitruns", *sys.argv[1:]]
        try:
            runpy.run_module("gitruns", run_name="__main__")
        except SystemExit as exc:
            assert not exc.code, exc.code
        finally:
            loaded = sorted(m for m in ("pygit2", "yaml", "jsonschema") if m in sys.modules)
            print("LOADED", loaded)
        """
    )
    (tmp_path / "probe.py").write_text(probe)
    script = tmp_path / "calls.sh"
    script.write_text(
        f"set -e\n{PY} {tmp_path / 'probe.py'} log-metric loss 0.5\n"
        f"{PY} {tmp_path / 'probe.py'} set-tag stage one\n"
    )
    result = record(repo, "--no-system-metrics", "--", "sh", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == ["LOADED []", "LOADED []"]
