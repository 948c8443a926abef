"""An adversarial pass over the dashboard's fast metric reader (``ui.series.parse_columns``:
C-speed splitting) against the reference reader (``layout.parse_metric_csv``): on crafted
CSV both read the same rows or both refuse it. A short row next to a long one was read as
one row of three (the chart showed made-up points where the run's reader says malformed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import fsck, git
from hypothesis import given, settings
from hypothesis import strategies as st

import gitruns
from gitruns.errors import InvalidRunError
from gitruns.format.layout import parse_metric_csv
from gitruns.ui.series import parse_columns, read_series


def _reading(read: object, raw: bytes) -> object:
    try:
        if read is parse_columns:
            steps, times, values = parse_columns(raw)
            return [(int(s), int(t), repr(v)) for s, t, v in zip(steps, times, values, strict=True)]
        return [(s, t, repr(v)) for s, t, v in parse_metric_csv(raw)]
    except ValueError:
        return "malformed"


_FIELDS = [b"0", b"1", b"-2", b"10", b"1.5", b"nan", b"-inf", b"1_0", b"+3", b"x", b" ", b"\r"]
_pieces = st.sampled_from([*_FIELDS, b",", b",", b",", b"\n", b"\n"])


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from([b"step,timestamp,value\n", b"step,timestamp,value\r\n", b"", b"step"]),
    st.lists(_pieces, max_size=16).map(b"".join),
)
def test_crafted_csv_reads_as_the_reference_reads_it(header: bytes, body: bytes) -> None:
    raw = header + body
    assert _reading(parse_columns, raw) == _reading(parse_metric_csv, raw), raw


@pytest.mark.parametrize(
    "body",
    [b"0,1\n2,3,4,5\n", b"0\n1\n2\n", b"0,1,2,3\n4,5\n", b"0,1,2\r3,4,5\n"],
    ids=["short then long", "one field a line", "long then short", "a CR inside a row"],
)
def test_a_fetched_runs_malformed_csv_is_refused_by_the_chart_as_by_the_run(
    repo: Path, body: bytes
) -> None:
    with gitruns.start_run("crafted") as run:
        run.log_metric("loss", 0.5, step=0)
    ref = f"refs/runs/{run.id}"
    head = git(repo, "rev-parse", ref).strip()
    blob = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=repo,
            input=b"step,timestamp,value\n" + body,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    index = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "crafted-index")}
    for args in (
        ["read-tree", head],
        ["update-index", "--cacheinfo", f"100644,{blob},metrics/loss.csv"],
    ):
        subprocess.run(["git", *args], cwd=repo, env=index, check=True)
    tree = subprocess.run(
        ["git", "write-tree"], cwd=repo, env=index, capture_output=True, text=True, check=True
    ).stdout.strip()
    commit = git(repo, "commit-tree", tree, "-p", head, "-m", "crafted csv").strip()
    git(repo, "update-ref", ref, commit, head)
    stored = gitruns.get_run(run.id)
    with pytest.raises(InvalidRunError, match="malformed"):
        stored.metric_history("loss")  # the reference reader
    with pytest.raises(InvalidRunError, match="malformed"):
        read_series(stored, "loss")
    fsck(repo)
