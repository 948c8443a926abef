"""What is accepted is readable (issue 15, items 5 and 6): values the read path would
refuse are refused when logged, with a clear error, and a run may log any number of
metric keys (up to the documented maximum) under a small open-file limit."""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any

import pytest
from _store_helpers import run_child
from conftest import gitruns_cli

import gitruns
from gitruns.errors import InvalidInputError
from gitruns.format import budget


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


REFUSED_PARAMS = {
    "a 10 MB string": "x" * 10_000_000,
    "a list of 300k items": list(range(300_000)),
    "nesting 70 deep": _nested(70),
    "an int of 5,000 digits": 10**5000,
}


@pytest.mark.parametrize("what", sorted(REFUSED_PARAMS))
def test_params_no_reader_accepts_are_refused_when_logged(repo: Path, what: str) -> None:
    """They used to be accepted, the run reported FINISHED, then ls skipped it: lost."""
    with gitruns.start_run(name="kept") as run:
        with pytest.raises(InvalidInputError) as refused:
            run.log_param("p", REFUSED_PARAMS[what])
        assert "artifact" in refused.value.hint or "text" in refused.value.hint
        run.log_param("fine", 1)
    with pytest.raises(InvalidInputError):
        gitruns.start_run(name="refused", params={"p": REFUSED_PARAMS[what]})
    listed = gitruns_cli(repo, "ls", "--format", "csv")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert "kept" in listed.stdout and "refused" not in listed.stdout
    assert gitruns.get_run(run.id).params == {"fine": 1}


def test_params_at_the_limits_are_accepted_and_read_back(repo: Path) -> None:
    values = {
        "deep": _nested(62),
        "long": "y" * 3_000_000,
        "many": list(range(150_000)),
        "digits": 10**4000,
    }
    with gitruns.start_run(name="edge") as run:
        for key in ("deep", "digits", "many"):
            run.log_param(key, values[key])
    with gitruns.start_run(name="long") as other:
        other.log_param("long", values["long"])
    assert gitruns.get_run(run.id).params == {k: values[k] for k in ("deep", "digits", "many")}
    assert gitruns.get_run(other.id).params == {"long": values["long"]}


def test_params_add_up_to_the_file_limit(repo: Path) -> None:
    with gitruns.start_run(name="sum") as run:
        for index in range(3):
            run.log_param(f"p{index}", "z" * 1_200_000)
        with pytest.raises(InvalidInputError, match="over 4,194,304 bytes"):
            run.log_param("p3", "z" * 1_200_000)
    assert len(gitruns.get_run(run.id).params) == 3


@pytest.mark.parametrize("stamp", [1e30, float("nan"), float("inf"), -5.0, 10**20, -1])
def test_timestamps_that_are_no_date_are_refused(repo: Path, stamp: float) -> None:
    """timestamp=1e30 was accepted, then `gitruns metrics` died with OverflowError."""
    with gitruns.start_run(name="times") as run:
        with pytest.raises(InvalidInputError, match="not a date between 1970 and 9999"):
            run.log_metric("loss", 0.5, timestamp=stamp)
        run.log_metric("loss", 0.25, timestamp=1_700_000_000.5)
        run.log_metric("loss", 0.125, timestamp=1_700_000_001_000)
    shown = gitruns_cli(repo, "metrics", run.id, "loss")
    assert shown.returncode == 0 and "2023-11-14" in shown.stdout, shown.stderr


def test_steps_past_64_bits_are_refused(repo: Path) -> None:
    with gitruns.start_run(name="steps") as run:
        with pytest.raises(InvalidInputError, match="below 2"):
            run.log_metric("loss", 0.5, step=2**64)
        run.log_metric("loss", 0.5, step=2**63 - 1)
    assert gitruns.get_run(run.id).metrics["loss"]["last_step"] == 2**63 - 1


def test_tags_and_notes_stay_within_run_yaml(repo: Path) -> None:
    with gitruns.start_run(name="notes") as run:
        run.note("n" * 1_000_000)
        run.note("n" * 1_000_000)
        with pytest.raises(InvalidInputError, match="tags and notes"):
            run.note("n" * 200_000)
    assert len(gitruns.get_run(run.id).notes) == 2


def test_metric_keys_are_capped(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "MAX_METRIC_KEYS", 5)
    with gitruns.start_run(name="keys") as run:
        for index in range(5):
            run.log_metric(f"k{index}", 1.0)
        with pytest.raises(InvalidInputError, match="at most 5 metric keys"):
            run.log_metric("k5", 1.0)
        run.log_metric("k0", 2.0)  # an existing key is fine
    assert len(gitruns.get_run(run.id).metrics) == 5


MANY_KEYS = """
import resource
import sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
count = int(sys.argv[1])
with gitruns.start_run(name="wide") as run:
    for index in range(count):
        run.log_metric(f"layer{index % 100}/unit{index}", float(index), step=0)
        if index % 5000 == 0:
            run.log_metric("progress", float(index))
print(run.id, run.status)
"""


def test_a_run_logs_more_keys_than_open_files_allowed(repo: Path) -> None:
    """One open file per metric key: the run died at about `ulimit -n` keys, with a
    message about disk space, and ended CRASHED."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    result = run_child(repo, MANY_KEYS, "2000")
    assert result.returncode == 0, result.stderr
    run_id, status = result.stdout.split()
    assert status == "FINISHED"
    loaded = gitruns.get_run(run_id)
    assert len(loaded.metrics) == 2001
    assert loaded.metric_history("layer7/unit1907")[0].value == 1907.0
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft  # only the child was limited


@pytest.mark.slow
def test_100000_metric_keys_under_ulimit_256(repo: Path) -> None:
    result = run_child(repo, MANY_KEYS, "100000")
    assert result.returncode == 0, result.stderr
    run_id, status = result.stdout.split()
    assert status == "FINISHED"
    listed = gitruns_cli(repo, "ls", "--format", "csv")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert run_id in listed.stdout
    assert len(gitruns.get_run(run_id).metrics) == 100_001


JOINED = """
import subprocess, sys
import gitruns
with gitruns.start_run() as run:
    run.log_param("first", "a" * 3_000_000)
    # joins the recorded run itself (a later start_run() would start a child run)
    code = "from gitruns.recording.start import joined_recorded_run\\n"
    code += "with joined_recorded_run() as r:\\n"
    code += "    r.log_param('second', 'b' * 3_000_000)"
    subprocess.run([sys.executable, "-c", code], check=True)
"""


def test_params_of_several_processes_over_the_limit_are_set_aside(repo: Path) -> None:
    """Each process counts what it logs; two that join one run may add up to more than
    readers accept: the run is kept and listed, its params set aside in a file."""
    (repo / "job.py").write_text(JOINED)
    result = gitruns_cli(repo, "record", "--name", "joined", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    listed = gitruns_cli(repo, "ls", "--format", "csv")
    assert listed.returncode == 0 and "joined" in listed.stdout and listed.stderr == ""
    run = gitruns.get_run("joined")
    assert run.status == "FINISHED" and run.params == {}
    assert "oversized/params.yaml" in run.notes[-1]["text"]
    kept = run.file("oversized/params.yaml", max_bytes=2**30)
    assert kept is not None and b"first" in kept and b"second" in kept
