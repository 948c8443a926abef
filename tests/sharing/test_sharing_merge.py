"""Divergent annotations of one run on two clones are merged, nothing lost."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from _sharing_helpers import make_run, make_team, runs_of, store
from conftest import fsck, git, gitruns_cli
from hypothesis import given
from hypothesis import strategies as st

import gitruns
from gitruns.runs import annotate
from gitruns.runs.model import read_run_document
from gitruns.sharing import pull_runs, push_runs
from gitruns.sharing.merge import Side, merge_documents, merge_notes


def _document(repo: Path, run_id: str) -> dict:  # type: ignore[type-arg]
    return read_run_document(store(repo), run_id, runs_of(repo)[run_id])


def test_divergent_tags_notes_and_names_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice, "base", model="bert", stage="dev")
    push_runs(store(team.alice), "origin")
    pull_runs(store(team.bob), "origin")
    a, b = store(team.alice), store(team.bob)
    annotate.set_tags(a, run_id, {"reviewed": "alice", "model": "bert-large"})
    annotate.add_note(a, run_id, "alice: looks good")
    real_time = time.time
    # Commit times have one-second resolution: make bob's annotations clearly later.
    monkeypatch.setattr(time, "time", lambda: real_time() + 10)
    annotate.delete_tags(b, run_id, ["stage"])
    annotate.set_tags(b, run_id, {"model": "bert-base"})  # later: wins the conflict
    annotate.add_note(b, run_id, "bob: rerun with seed 2")
    annotate.rename(b, run_id, "baseline")
    monkeypatch.setattr(time, "time", real_time)
    push_runs(a, "origin")
    _fetched, merged = pull_runs(b, "origin")
    assert list(merged.merged) == [run_id]
    conflicts = merged.merged[run_id]
    assert [c.field for c in conflicts] == ["tags.model"]
    assert conflicts[0].kept == "bert-base" and conflicts[0].dropped == "bert-large"
    document = _document(team.bob, run_id)
    assert document["tags"] == {"model": "bert-base", "reviewed": "alice"}
    assert [n["text"] for n in document["notes"]] == ["alice: looks good", "bob: rerun with seed 2"]
    assert document["name"] == "baseline"
    tip = runs_of(team.bob)[run_id]
    message = git(team.bob, "log", "-1", "--format=%B", tip)
    assert "Gitruns-Annotation: merge" in message
    assert 'Gitruns-Conflict: tags.model: kept "bert-base"' in message
    parents = git(team.bob, "log", "-1", "--format=%P", tip).split()
    assert parents[1] == runs_of(team.alice)[run_id]
    history = gitruns_cli(team.bob, "history", run_id)
    assert history.returncode == 0 and "merge" in history.stdout
    assert 'conflict tags.model: kept "bert-base"' in history.stdout
    # The next push publishes the merge as a fast-forward; alice then fast-forwards too.
    push_runs(b, "origin")
    _fetched, again = pull_runs(a, "origin")
    assert again.fast_forwarded == [run_id]
    assert _document(team.alice, run_id) == document
    fsck(team.alice)


def test_local_ahead_and_fast_forward(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice)
    push_runs(store(team.alice), "origin")
    pull_runs(store(team.bob), "origin")
    annotate.add_note(store(team.bob), run_id, "only bob")
    _f, report = pull_runs(store(team.bob), "origin")
    assert report.local_ahead == [run_id] and not report.merged
    annotate.add_note(store(team.alice), run_id, "alice later")
    push_runs(store(team.alice), "origin")
    _f, report = pull_runs(store(team.bob), "origin")
    assert list(report.merged) == [run_id] and report.merged[run_id] == []


def test_concurrent_pushes_from_two_clones(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    alice_ids = [make_run(team.alice, f"a{i}") for i in range(5)]
    bob_ids = [make_run(team.bob, f"b{i}") for i in range(5)]
    errors: list[BaseException] = []

    def push(repo: Path) -> None:
        try:
            push_runs(store(repo), "origin")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(r,)) for r in (team.alice, team.bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(runs_of(team.remote)) == sorted(alice_ids + bob_ids)
    fsck(team.remote)


def test_two_merges_of_the_same_divergence_converge(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice, "x")
    push_runs(store(team.alice), "origin")
    pull_runs(store(team.bob), "origin")
    annotate.set_tags(store(team.alice), run_id, {"k": "a"})
    annotate.set_tags(store(team.bob), run_id, {"k": "b"})
    # Both merge each other's side without pushing the merge first (criss-cross).
    git(
        team.alice,
        "fetch",
        "-q",
        str(team.bob),
        f"refs/runs/{run_id}:refs/remote-runs/bob/{run_id}",
    )
    git(
        team.bob,
        "fetch",
        "-q",
        str(team.alice),
        f"refs/runs/{run_id}:refs/remote-runs/alice/{run_id}",
    )
    from gitruns.sharing import integrate

    integrate(store(team.alice), "bob")
    integrate(store(team.bob), "alice")
    assert _document(team.alice, run_id) == _document(team.bob, run_id)
    push_runs(store(team.alice), "origin")
    pull_runs(store(team.bob), "origin")
    push_runs(store(team.bob), "origin")
    assert _document(team.bob, run_id)["tags"] == _document(team.alice, run_id)["tags"]


_notes = st.lists(
    st.fixed_dictionaries({"text": st.sampled_from("abcd"), "time": st.sampled_from("123")}),
    max_size=5,
)


@given(_notes, _notes, _notes)
def test_note_merge_loses_nothing_either_side_kept(base: list, ours: list, theirs: list) -> None:  # type: ignore[type-arg]
    merged = merge_notes(base, ours, theirs)
    keys = [(n["time"], n["text"]) for n in merged]
    assert len(keys) == len(set(keys))
    assert keys == sorted(keys)
    for note in ours + theirs:
        if note not in base:
            assert note in merged


@given(
    st.dictionaries(st.sampled_from("xyz"), st.sampled_from("12"), max_size=3),
    st.dictionaries(st.sampled_from("xyz"), st.sampled_from("12"), max_size=3),
)
def test_tag_merge_is_the_same_from_both_sides(ours: dict, theirs: dict) -> None:  # type: ignore[type-arg]
    base = {"tags": {"x": "0"}}
    a = Side({"tags": ours}, "a" * 40, 1.0)
    b = Side({"tags": theirs}, "b" * 40, 2.0)
    one, _ = merge_documents(base, a, b)
    two, _ = merge_documents(base, b, a)
    assert one == two
    assert os.environ.get("GITRUNS_DEBUG") is None


def test_pull_does_not_bring_back_a_run_deleted_here(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice, "unwanted")
    push_runs(store(team.alice), "origin")
    pull_runs(store(team.bob), "origin")
    deleted = gitruns_cli(team.bob, "rm", "--yes", run_id)
    assert deleted.returncode == 0, deleted.stderr
    _fetched, report = pull_runs(store(team.bob), "origin")
    assert report.deleted_here == [run_id]
    assert run_id not in runs_of(team.bob)


def test_history_of_a_merge_shows_what_it_brought(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notes made on two clones: the merge adds Bob's (the earlier one), which sorts
    before Alice's own; history must name Bob's note, not compare notes by position."""
    team = make_team(tmp_path)
    run_id = make_run(team.alice, "base")
    push_runs(store(team.alice), "origin")
    pull_runs(store(team.bob), "origin")
    annotate.add_note(store(team.bob), run_id, "from bob: seed 2 diverges")
    annotate.set_tags(store(team.bob), run_id, {"seen": "bob"})
    push_runs(store(team.bob), "origin")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 10)  # alice's note is later
    annotate.add_note(store(team.alice), run_id, "from alice: lr too high")
    monkeypatch.setattr(time, "time", real_time)
    _fetched, report = pull_runs(store(team.alice), "origin")
    assert list(report.merged) == [run_id]
    document = _document(team.alice, run_id)
    assert [n["text"] for n in document["notes"]] == [
        "from bob: seed 2 diverges",
        "from alice: lr too high",
    ]
    entries = gitruns.run_history(run_id, repo=team.alice)
    assert [e.kind for e in entries] == ["recorded", "note", "merge"]
    assert entries[1].changes == ["note: from alice: lr too high"]
    assert entries[2].changes == ["tag seen=bob", "note: from bob: seed 2 diverges"]
    text = gitruns_cli(team.alice, "history", run_id).stdout
    merge_part = text[text.index("  merge  ") :]
    assert "note: from bob" in merge_part and "from alice" not in merge_part
