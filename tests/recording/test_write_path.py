"""The write path of a small run (issue 16, flat write cost): what it puts on disk, and that
crashes and concurrent writers still lose nothing."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from _store_helpers import run_refs, staging_dirs, start_child
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.recording import provenance
from gitruns.recording.staging_files import EVENTS_FILE, EXTRA_FILES_DIR

ENV_FILES = ("env/packages.txt", "env/platform.yaml", "env/variables.yaml")


def _wait_for_environment() -> None:
    assert provenance._process_snapshot().ready.wait(60)


def test_environment_files_are_staged_in_the_journal(repo: Path) -> None:
    _wait_for_environment()
    with gitruns.start_run(name="inline") as run:
        run_dir = run.run_dir
        assert not (run_dir / EXTRA_FILES_DIR).exists()  # no folder, no file of their own
        events = [json.loads(line) for line in (run_dir / EVENTS_FILE).read_text().splitlines()]
        staged = {e["path"] for e in events if e["event"] == "file"}
        assert staged == set(ENV_FILES)
        live = gitruns.get_run(run.id)  # the run in progress reads them from the journal
        assert b"pygit2==" in (live.file("env/packages.txt") or b"")
    done = gitruns.get_run(run.id)
    assert b"pygit2==" in (done.file("env/packages.txt") or b"")
    assert all(done.file(path) for path in ENV_FILES)
    fsck(repo)


KILLED_WITH_ENVIRONMENT = """
from gitruns.recording import provenance
assert provenance._process_snapshot().ready.wait(60)
run = gitruns.start_run(name="victim", params={"lr": 0.1})
run.log_metric("loss", 0.5, step=0)
print("ready", run.id, flush=True)
time.sleep(120)
"""


def test_a_killed_run_keeps_its_environment_files(repo: Path) -> None:
    child = start_child(repo, KILLED_WITH_ENVIRONMENT)
    assert child.stdout is not None
    word, run_id = child.stdout.readline().split()
    assert word == "ready"
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert staging_dirs(repo) == [run_id] and run_refs(repo) == []
    assert gitruns_cli(repo, "ls").returncode == 0  # recovers it
    run = gitruns.get_run(run_id)
    assert run.status == "CRASHED" and run.params == {"lr": 0.1}
    assert b"pygit2==" in (run.file("env/packages.txt") or b"")
    assert all(run.file(path) for path in ENV_FILES)
    fsck(repo)


def _spares(repo: Path) -> list[str]:
    tmp = repo / ".git" / "gitruns" / "tmp"
    return sorted(p.name for p in tmp.glob("spare-*")) if tmp.is_dir() else []


SWEEP = """
import json
ids = []
for i in range(6):
    if i == 2:
        open("train.py", "a").write("# dirty\\n")  # run 2 has a patch, run 3 none
    if i == 3:
        import subprocess
        subprocess.run(["git", "commit", "-qam", "clean again"], check=True)
    with gitruns.start_run(name=f"sweep-{i}", params={"i": i}) as run:
        run.log_metric(f"only{i}", float(i))
        if i == 1:
            run.note("a note of run 1 only")
            os.environ["GITRUNS_TEST_MARK"] = "x"
    ids.append(run.id)
    spares = os.listdir(os.path.join(".git", "gitruns", "tmp"))
    assert [s for s in spares if s.startswith("spare-")], spares
print(json.dumps(ids))
"""


def test_a_sweep_reuses_one_staging_folder_and_leaves_nothing_behind(repo: Path) -> None:
    from _store_helpers import run_child

    result = run_child(repo, SWEEP)
    assert result.returncode == 0, result.stderr
    ids = json.loads(result.stdout)
    assert _spares(repo) == [] and staging_dirs(repo) == []  # removed at exit
    for i, run_id in enumerate(ids):  # nothing of one run leaks into the next
        run = gitruns.get_run(run_id)
        assert run.status == "FINISHED" and run.params == {"i": i}
        assert list(run.metrics) == [f"only{i}"]
        assert [n["text"] for n in run.notes] == (["a note of run 1 only"] if i == 1 else [])
        assert (run.file("code/uncommitted.patch") is not None) == (i == 2)
    fsck(repo)


def test_a_kept_folder_takes_the_next_start_document_in_place(repo: Path, tmp_path: Path) -> None:
    """The next run's start document is written over the last one's (no new file), and
    nothing of a longer one before it remains."""
    witness = tmp_path / "start-of-the-first.json"
    with gitruns.start_run(name="a-long-name-" + "x" * 200, params={"p": 1}) as first:
        os.link(first.run_dir / "start.json", witness)  # a second name of that file
    second = gitruns.start_run(name="b")
    staged = second.run_dir / "start.json"
    document = json.loads(staged.read_text())
    assert document["run"]["id"] == second.id and document["run"]["name"] == "b"
    assert os.path.samefile(staged, witness)
    second.end()
    assert gitruns.get_run(second.id).name == "b"
    assert gitruns.get_run(first.id).params == {"p": 1}
    fsck(repo)


def test_a_kept_folder_gives_its_last_journal_to_the_next_ref(repo: Path, tmp_path: Path) -> None:
    """The journal of a process's last run becomes its next run's ref file (no new file
    for the ref, none removed for the journal): the ref reads as git writes it."""
    witness = tmp_path / "journal-of-the-first"
    with gitruns.start_run(name="first", params={"p": 1}) as first:
        os.link(first.run_dir / "events.jsonl", witness)  # a second name of that file
    with gitruns.start_run(name="second") as second:
        second.log_metric("loss", 0.5)
    ref = repo / ".git" / "refs" / "runs" / second.id
    assert os.path.samefile(ref, witness)
    assert ref.read_bytes() == f"{second.commit}\n".encode()
    assert git(repo, "rev-parse", f"refs/runs/{second.id}").strip() == second.commit
    assert gitruns.get_run(first.id).params == {"p": 1}
    assert list(gitruns.get_run(second.id).metrics) == ["loss"]
    assert not (repo / ".git" / "refs" / "runs" / f"{second.id}.lock").exists()
    fsck(repo)


KILLED_IN_SECOND_RUN = """
with gitruns.start_run(name="first") as run:
    run.log_metric("a", 1.0)
second = gitruns.start_run(name="second", params={"p": 2})
second.log_metric("b", 2.0)
second.set_tag("t", "v")
print("ready", run.id, second.id, flush=True)
time.sleep(120)
"""


def test_a_run_started_in_a_kept_folder_survives_kill_9(repo: Path) -> None:
    child = start_child(repo, KILLED_IN_SECOND_RUN)
    assert child.stdout is not None
    word, first_id, second_id = child.stdout.readline().split()
    assert word == "ready"
    time.sleep(1.0)  # the flusher writes the buffered point
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert staging_dirs(repo) == [second_id]
    assert gitruns_cli(repo, "ls").returncode == 0
    second = gitruns.get_run(second_id)
    assert second.status == "CRASHED" and second.params == {"p": 2}
    assert second.tags == {"t": "v"} and list(second.metrics) == ["b"]
    assert list(gitruns.get_run(first_id).metrics) == ["a"]
    fsck(repo)


KILLED_WITH_A_SPARE = """
with gitruns.start_run(name="only") as run:
    run.log_metric("a", 1.0)
print("ready", run.id, flush=True)
time.sleep(120)
"""


def test_the_kept_folder_of_a_killed_process_is_removed(repo: Path) -> None:
    child = start_child(repo, KILLED_WITH_A_SPARE)
    assert child.stdout is not None
    assert child.stdout.readline().split()[0] == "ready"
    assert len(_spares(repo)) == 1
    live = start_child(repo, KILLED_WITH_A_SPARE)  # another live process keeps its own
    assert live.stdout is not None and live.stdout.readline().split()[0] == "ready"
    assert len(_spares(repo)) == 2
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert staging_dirs(repo) == []  # a spare is never taken for a run
    assert gitruns_cli(repo, "ls").returncode == 0
    assert len(_spares(repo)) == 2  # still there: only gc or a later run removes it
    assert gitruns_cli(repo, "gc").returncode == 0
    assert len(_spares(repo)) == 1  # the live process's spare is left alone
    live.send_signal(signal.SIGKILL)
    live.communicate()
    with gitruns.start_run(name="later"):  # this process's first retire looks for dead ones
        pass
    assert len(_spares(repo)) == 1  # only this process's own
    assert len(gitruns.list_runs()) == 3
    fsck(repo)


FORKED_WITH_A_SPARE = """
import json
with gitruns.start_run(name="before") as run:
    run.log_metric("a", 1.0)
pid = os.fork()
if pid == 0:
    with gitruns.start_run(name="child") as mine:  # never in the parent's kept folder
        mine.log_metric("c", 1.0)
    os._exit(0)
with gitruns.start_run(name="parent") as mine:
    mine.log_metric("p", 1.0)
os.waitpid(pid, 0)
print("ok")
"""


def test_a_forked_child_never_uses_its_parents_kept_folder(repo: Path) -> None:
    from _store_helpers import run_child

    result = run_child(repo, FORKED_WITH_A_SPARE)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    runs = {run.name: run for run in gitruns.list_runs()}
    assert set(runs) == {"before", "child", "parent"}
    assert list(runs["child"].metrics) == ["c"] and list(runs["parent"].metrics) == ["p"]
    # the parent removed its own at exit; the child's, left by os._exit, is a dead one
    assert len(_spares(repo)) == 1 and staging_dirs(repo) == []
    assert gitruns_cli(repo, "gc").returncode == 0
    assert _spares(repo) == []
    fsck(repo)


def test_killed_before_its_end_event_keeps_the_points_of_its_journal(repo: Path) -> None:
    """A run that ends before its first flush puts its points in its journal (no metric
    file); dying right before the end event, it is CRASHED with every point."""
    from _store_helpers import run_child

    result = run_child(
        repo,
        """
        import gitruns.recording.journal as journal
        real = journal.JournalWriter.append_event
        def append_event(self, kind, **fields):
            if kind == "end":
                os._exit(9)  # die between the points and the end event
            real(self, kind, **fields)
        journal.JournalWriter.append_event = append_event
        run = gitruns.start_run(name="short")
        for step in range(100):
            run.log_metric("m", float(step))
            run.log_metric("n/x", -float(step))
        print(run.id, flush=True)
        gitruns.end_run()
        """,
    )
    assert result.returncode == 9, result.stderr
    run_id = result.stdout.strip()
    assert staging_dirs(repo) == [run_id]
    loaded = gitruns.get_run(run_id)
    assert loaded.status == "CRASHED"
    assert loaded.metrics["m"]["count"] == 100 and loaded.metrics["n/x"]["min"] == -99.0
    assert list(loaded.metric_rows("m"))[-1][0] == 99
    fsck(repo)


def test_a_short_run_writes_no_metric_files(repo: Path) -> None:
    """Its points reach the run's tree through the journal: no m<N>.csv, no keys.jsonl."""
    made: list[str] = []
    from gitruns.recording import journal

    real = journal.JournalWriter._make_file

    def spy(self: journal.JournalWriter, stream: object) -> None:
        made.append(str(getattr(stream, "key", "")))
        real(self, stream)  # type: ignore[arg-type]

    journal.JournalWriter._make_file = spy  # type: ignore[method-assign]
    try:
        with gitruns.start_run(name="short") as run:
            run.log_metric("loss", 0.5, step=0)
            run.log_metric("loss", 0.25, step=1)
            time.sleep(0.6)  # one flush: "loss" gets its file
            run.log_metric("acc", 0.9, step=1)
    finally:
        journal.JournalWriter._make_file = real  # type: ignore[method-assign]
    assert made == ["loss"]  # "acc" went through the journal
    loaded = gitruns.get_run(run.id)
    assert loaded.metrics["loss"]["count"] == 2 and loaded.metrics["acc"]["last"] == 0.9
    assert list(loaded.metric_rows("acc")) == [(1, loaded.metrics["acc"]["last_timestamp"], 0.9)]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"a":1}\n{"b":"x\\ny","c":[1,2]}\n',
        b'{"a":1}\n{"b":2',  # a killed writer's half line
        b'{"a":1}\n{"b":2}',  # a whole last line without its newline
        b'{"a":1}\n\n{"b":NaN}\n',
        b'{"a":1}\n881aec48baa6b9a66cd89eacca2db80d\n',  # a ref line over an old journal
    ],
)
def test_journal_lines_read_in_one_parse_as_one_a_line(tmp_path: Path, raw: bytes) -> None:
    from gitruns.recording.staging import _read_json_lines

    expected = []
    for line in raw.split(b"\n"):
        try:
            expected.append(json.loads(line))
        except ValueError:
            continue
    (tmp_path / "events.jsonl").write_bytes(raw)
    assert repr(_read_json_lines(tmp_path / "events.jsonl")) == repr(expected)
