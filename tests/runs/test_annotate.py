"""Tags, notes, renames and history: audited commits on top of a run's ref."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.errors import InvalidInputError
from gitruns.runs.annotate import TRAILER, annotation_kind, annotation_message


def _make_run(name: str = "base") -> str:
    with gitruns.start_run(name=name, params={"lr": 0.1}, tags={"model": "mlp"}) as run:
        run.log_metric("loss", 0.5, step=0)
    return run.id


def test_tag_note_rename_are_commits_on_top(repo: Path) -> None:
    run_id = _make_run()
    original = git(repo, "rev-parse", f"refs/runs/{run_id}").strip()
    gitruns.set_run_tags(run_id, {"dataset": "v2", "epochs": 3})
    gitruns.delete_run_tags(run_id, ["model"])
    gitruns.add_run_note(run_id, "first line\nsecond line")
    found = gitruns.rename_run(run_id, "better")
    assert found.name == "better"
    assert found.tags == {"dataset": "v2", "epochs": "3"}
    assert found.notes[0]["text"] == "first line\nsecond line"
    assert found.notes[0]["author"] == "Test User <test@example.com>"
    assert found.params == {"lr": 0.1} and found.metrics["loss"]["last"] == 0.5
    subjects = git(repo, "log", "--first-parent", "--format=%s", f"refs/runs/{run_id}").split("\n")
    assert subjects[:4] == [
        "rename: better",
        "note: first line",
        "untag: model",
        "tag: dataset=v2, epochs=3",
    ]
    first_parents = git(repo, "rev-list", "--first-parent", f"refs/runs/{run_id}").split()
    assert first_parents[4] == original
    body = git(repo, "log", "-1", "--format=%B", f"refs/runs/{run_id}")
    assert f"{TRAILER}: rename" in body
    fsck(repo)


def test_history_oldest_first(repo: Path) -> None:
    run_id = _make_run()
    gitruns.set_run_tags(run_id, {"dataset": "v2"})
    gitruns.set_run_tags(run_id, {"dataset": "v3"})
    gitruns.add_run_note(run_id, "looks good")
    entries = gitruns.run_history(run_id)
    assert [e.kind for e in entries] == ["recorded", "tag", "tag", "note"]
    assert entries[0].changes == ["recorded as base (FINISHED)"]
    assert entries[2].changes == ["tag dataset=v3 (was v2)"]
    assert entries[3].changes == ["note: looks good"]
    assert all(e.author == "Test User <test@example.com>" for e in entries)


def test_unchanged_annotation_makes_no_commit(repo: Path) -> None:
    run_id = _make_run()
    gitruns.set_run_tags(run_id, {"model": "mlp"})
    gitruns.delete_run_tags(run_id, ["absent"])
    gitruns.rename_run(run_id, "base")
    assert [e.kind for e in gitruns.run_history(run_id)] == ["recorded"]


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("set_run_tags", ({"": "x"},)),
        ("set_run_tags", ({"k\x01": "x"},)),
        ("set_run_tags", ({"k": object()},)),
        ("add_run_note", ("",)),
        ("rename_run", ("a\nb",)),
    ],
)
def test_bad_annotations_change_nothing(repo: Path, call: str, args: tuple[object]) -> None:
    run_id = _make_run()
    before = git(repo, "rev-parse", f"refs/runs/{run_id}")
    with pytest.raises(InvalidInputError):
        getattr(gitruns, call)(run_id, *args)
    assert git(repo, "rev-parse", f"refs/runs/{run_id}") == before


def test_trailer_parsing() -> None:
    assert annotation_kind(annotation_message("tag", "a=1")) == "tag"
    assert annotation_kind("run x (id): FINISHED\n") is None
    assert annotation_kind(f"{TRAILER}: tag\n") is None  # a subject line is not a trailer
    assert len(annotation_message("note", "x" * 200).splitlines()[0]) == 78


_WORKER = textwrap.dedent(
    """
    import sys
    import gitruns
    run_id, worker = sys.argv[1], sys.argv[2]
    for i in range(10):
        gitruns.set_run_tags(run_id, {f"w{worker}-{i}": str(i)})
        gitruns.add_run_note(run_id, f"note {worker}-{i}")
    """
)


def test_concurrent_annotators_lose_nothing(repo: Path) -> None:
    run_id = _make_run()
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, run_id, str(w)], cwd=repo)
        for w in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    found = gitruns.get_run(run_id)
    expected = {f"w{w}-{i}": str(i) for w in range(4) for i in range(10)}
    assert found.tags == {"model": "mlp", **expected}
    assert sorted(n["text"] for n in found.notes) == sorted(
        f"note {w}-{i}" for w in range(4) for i in range(10)
    )
    assert len(gitruns.run_history(run_id)) == 81
    fsck(repo)


def test_cli_tag_note_rename_history(repo: Path) -> None:
    run_id = _make_run()
    assert gitruns_cli(repo, "tag", "base", "dataset=v2", "owner=ana").returncode == 0
    assert gitruns_cli(repo, "tag", "--delete", "base", "owner").returncode == 0
    assert gitruns_cli(repo, "note", "base", "looks", "fine").returncode == 0
    assert gitruns_cli(repo, "note", "base", "-", input="from stdin\n").returncode == 0
    renamed = gitruns_cli(repo, "rename", "base", "final")
    assert renamed.stdout.strip() == f"{run_id}: now named final"
    result = gitruns_cli(repo, "history", "final")
    assert result.returncode == 0
    assert "recorded as base (FINISHED)" in result.stdout
    assert "tag owner removed (was ana)" in result.stdout
    assert "note: looks fine" in result.stdout
    assert "name: base -> final" in result.stdout
    entries = json.loads(gitruns_cli(repo, "history", "final", "--format", "json").stdout)
    assert [e["kind"] for e in entries] == ["recorded", "tag", "untag", "note", "note", "rename"]
    assert gitruns.get_run(run_id).notes[1]["text"] == "from stdin\n"


def test_cli_bad_tag_is_one_line_error(repo: Path) -> None:
    _make_run()
    result = gitruns_cli(repo, "tag", "base", "novalue")
    assert result.returncode == 1
    assert result.stderr.startswith("gitruns: error: 'novalue' is not KEY=VALUE")
    missing = gitruns_cli(repo, "tag", "nosuchrun", "a=b")
    assert missing.returncode == 1 and "no run matches" in missing.stderr
