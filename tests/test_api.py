"""The Python API: statuses, the active run, module-level functions, finding runs."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from _store_helpers import run_child, run_refs, staging_dirs

import gitruns
from gitruns.errors import AmbiguousRunError, RunNotFoundError, RunStateError


def test_readme_example(repo: Path) -> None:
    (repo / "model.pt").write_bytes(b"\x00model")
    with gitruns.start_run(name="baseline", params={"lr": 0.01}, tags={"model": "mlp"}) as run:
        for step in range(100):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_params({"layers": 3})
        run.set_tag("dataset", "v2")
        run.log_artifact("model.pt")
    assert run.status == "FINISHED"
    loaded = gitruns.get_run(run.id)
    assert loaded.name == "baseline" and loaded.status == "FINISHED"
    assert loaded.params == {"lr": 0.01, "layers": 3}
    assert loaded.tags == {"model": "mlp", "dataset": "v2"}
    assert loaded.metrics["loss"]["count"] == 100
    assert loaded.metrics["loss"]["last"] == pytest.approx(0.01)
    assert loaded.metrics["loss"]["min"] == pytest.approx(0.01)
    assert loaded.metrics["loss"]["max"] == 1.0
    assert loaded.metrics["loss"]["last_step"] == 99
    assert [p.step for p in loaded.metric_history("loss")] == list(range(100))
    assert loaded.artifacts[0]["path"] == "model.pt"
    assert loaded.git["branch"] == "main"
    assert loaded.user["name"] == "Test User" and loaded.user["email"] == "test@example.com"
    assert loaded.end_time is not None and loaded.duration is not None
    assert run.commit == loaded.commit


def test_exception_marks_failed(repo: Path) -> None:
    with pytest.raises(ValueError, match="bad batch"), gitruns.start_run(name="boom") as run:
        run.log_metric("loss", 1.0)
        raise ValueError("bad batch")
    loaded = gitruns.get_run(run.id)
    assert loaded.status == "FAILED"
    error = loaded.document["error"]
    assert error["type"] == "ValueError" and error["message"] == "bad batch"
    assert "Traceback" in error["traceback"]
    assert loaded.metrics["loss"]["count"] == 1
    assert gitruns.active_run() is None


def test_keyboard_interrupt_marks_killed(repo: Path) -> None:
    with pytest.raises(KeyboardInterrupt), gitruns.start_run() as run:
        raise KeyboardInterrupt
    assert gitruns.get_run(run.id).status == "KILLED"
    assert gitruns.get_run(run.id).document["error"]["type"] == "KeyboardInterrupt"


def test_system_exit_codes(repo: Path) -> None:
    with pytest.raises(SystemExit), gitruns.start_run() as ok:
        raise SystemExit(0)
    with pytest.raises(SystemExit), gitruns.start_run() as bad:
        raise SystemExit(3)
    assert gitruns.get_run(ok.id).status == "FINISHED"
    failed = gitruns.get_run(bad.id)
    assert failed.status == "FAILED" and failed.document["exit_code"] == 3


def test_module_functions_act_on_active_run(repo: Path) -> None:
    (repo / "out.txt").write_text("out\n")
    run = gitruns.start_run(name="fluent")
    assert gitruns.active_run() is run
    gitruns.log_metric("loss", 0.5, step=3)
    gitruns.log_metrics({"loss": 0.4, "acc": 0.8})
    gitruns.log_param("lr", 0.1)
    gitruns.log_params({"batch": 32, "opt": {"name": "adam"}})
    gitruns.set_tag("stage", "dev")
    gitruns.set_tags({"owner": "me", "round": 2})
    gitruns.log_artifact(repo / "out.txt")
    gitruns.note("looks fine")
    gitruns.end_run()
    assert gitruns.active_run() is None
    loaded = gitruns.get_run("fluent")
    assert loaded.params == {"lr": 0.1, "batch": 32, "opt": {"name": "adam"}}
    assert loaded.tags == {"stage": "dev", "owner": "me", "round": "2"}
    assert [(p.step, p.value) for p in loaded.metric_history("loss")] == [(3, 0.5), (4, 0.4)]
    assert loaded.metrics["acc"]["last"] == 0.8
    assert [n["text"] for n in loaded.notes] == ["looks fine"]
    assert loaded.notes[0]["author"] == "Test User <test@example.com>"
    assert [a["path"] for a in loaded.artifacts] == ["out.txt"]


def test_end_run_with_status(repo: Path) -> None:
    run = gitruns.start_run()
    gitruns.end_run("KILLED")
    assert gitruns.get_run(run.id).status == "KILLED"


@pytest.mark.parametrize(
    "call",
    [
        lambda: gitruns.log_metric("a", 1.0),
        lambda: gitruns.log_metrics({"a": 1.0}),
        lambda: gitruns.log_param("a", 1),
        lambda: gitruns.log_params({"a": 1}),
        lambda: gitruns.set_tag("a", "b"),
        lambda: gitruns.set_tags({"a": "b"}),
        lambda: gitruns.log_artifact("train.py"),
        lambda: gitruns.log_artifacts("."),
        lambda: gitruns.note("x"),
    ],
)
def test_module_functions_start_a_run_when_none_is_active(repo: Path, call: object) -> None:
    call()  # type: ignore[operator]
    started = gitruns.active_run()
    assert started is not None
    gitruns.end_run()
    assert run_refs(repo) == [f"refs/runs/{started.id}"] and staging_dirs(repo) == []


def test_end_run_needs_an_active_run(repo: Path) -> None:
    with pytest.raises(RunStateError, match="no active run"):
        gitruns.end_run()


def test_a_run_started_by_logging_ends_with_the_program(repo: Path) -> None:
    script = "import gitruns; gitruns.log_metric('x', 1.0); gitruns.log_param('p', 2)"
    done = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True)
    assert done.returncode == 0, done.stderr
    (only,) = gitruns.list_runs()
    assert only.status == "FINISHED"
    assert only.params == {"p": 2} and only.metrics["x"]["last"] == 1.0


def test_second_start_needs_nested(repo: Path) -> None:
    with gitruns.start_run(name="outer") as outer:
        with pytest.raises(RunStateError, match="already active"):
            gitruns.start_run()
        with gitruns.start_run(name="inner", nested=True) as inner:
            assert gitruns.active_run() is inner
            gitruns.log_metric("x", 1.0)
        assert gitruns.active_run() is outer
    assert gitruns.get_run(inner.id).parents == [outer.id]
    assert "x" in gitruns.get_run(inner.id).metrics
    assert "x" not in gitruns.get_run(outer.id).metrics


def test_ended_run_is_not_written_twice(repo: Path) -> None:
    with gitruns.start_run() as run:
        pass
    commit = run.commit
    run.end("FAILED")  # ending again does nothing
    assert gitruns.get_run(run.id).commit == commit
    assert gitruns.get_run(run.id).status == "FINISHED"


def test_invalid_end_status(repo: Path) -> None:
    run = gitruns.start_run()
    with pytest.raises(gitruns.InvalidInputError):
        run.end("DONE")
    run.end()
    gitruns.recording.stack.forget_run(run)
    assert gitruns.get_run(run.id).status == "FINISHED"


def test_default_steps_continue_per_key(repo: Path) -> None:
    with gitruns.start_run() as run:
        run.log_metric("a", 1.0)
        run.log_metric("a", 2.0)
        run.log_metric("b", 3.0, step=10)
        run.log_metric("b", 4.0)
        run.log_metric("a", 5.0, timestamp=1_700_000_000.5)
        run.log_metric("a", 6, timestamp=1_700_000_000_123)
    loaded = gitruns.get_run(run.id)
    assert [p.step for p in loaded.metric_history("a")] == [0, 1, 2, 3]
    assert [p.step for p in loaded.metric_history("b")] == [10, 11]
    stamps = [p.timestamp for p in loaded.metric_history("a")]
    assert stamps[2:] == [1_700_000_000_500, 1_700_000_000_123]
    assert loaded.metric_history("a")[3].value == 6.0
    with pytest.raises(RunNotFoundError, match="no metric 'c'"):
        loaded.metric_history("c")


def test_in_memory_view_of_active_run(repo: Path) -> None:
    with gitruns.start_run(params={"a": 1}, tags={"t": "x"}) as run:
        run.log_metric("m", math.nan)
        run.log_metric("m", 2.0)
        assert run.params == {"a": 1} and run.tags == {"t": "x"}
        assert run.metrics["m"]["count"] == 2 and run.metrics["m"]["min"] == 2.0
        run.delete_tag("t")
    assert gitruns.get_run(run.id).tags == {}


# -- finding runs --------------------------------------------------------------------------
def test_get_run_by_id_prefix_suffix_and_name(repo: Path) -> None:
    with gitruns.start_run(name="alpha") as a:
        pass
    with gitruns.start_run(name="beta") as b:
        pass
    assert gitruns.get_run(a.id).id == a.id
    assert gitruns.get_run(f"refs/runs/{a.id}").id == a.id
    assert gitruns.get_run(a.id[-8:]).id == a.id
    assert gitruns.get_run(a.id[-8:].upper()).id == a.id
    assert gitruns.get_run(b.id[-4:]).id == b.id
    assert gitruns.get_run("beta").id == b.id
    # the shortest unique prefix: the ids share their leading timestamp digits
    common = 0
    while a.id[common] == b.id[common]:
        common += 1
    assert gitruns.get_run(a.id[: common + 1]).id == a.id
    assert gitruns.get_run(b.id[: common + 1]).id == b.id


def test_name_means_newest_run_of_that_name(repo: Path) -> None:
    with gitruns.start_run(name="same"):
        pass
    with gitruns.start_run(name="same") as newer:
        pass
    assert gitruns.get_run("same").id == newer.id


def test_ambiguous_prefix_lists_candidates(repo: Path) -> None:
    ids = []
    for _ in range(3):
        with gitruns.start_run() as run:
            ids.append(run.id)
    prefix = ids[0][:4]
    with pytest.raises(AmbiguousRunError) as caught:
        gitruns.get_run(prefix)
    assert sorted(caught.value.candidates) == sorted(ids)
    for run_id in ids:
        assert run_id in str(caught.value)
    assert "matches 3 runs" in str(caught.value)


def test_unknown_run(repo: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no run matches 'nothing'"):
        gitruns.get_run("nothing")
    with pytest.raises(RunNotFoundError):
        gitruns.get_run("  ")


def test_list_runs_newest_first(repo: Path) -> None:
    names = ["one", "two", "three"]
    for name in names:
        with gitruns.start_run(name=name):
            pass
    assert [r.name for r in gitruns.list_runs()] == names[::-1]


def test_default_name_is_readable(repo: Path) -> None:
    with gitruns.start_run() as run:
        pass
    name = gitruns.get_run(run.id).name
    assert name.endswith(run.id[-4:]) and name.count("-") == 2


def test_unended_run_finishes_at_exit(repo: Path) -> None:
    result = run_child(
        repo,
        """
        run = gitruns.start_run(name="forgot")
        gitruns.log_metric("m", 1.0)
        print(run.id)
        """,
    )
    assert result.returncode == 0, result.stderr
    loaded = gitruns.get_run(result.stdout.strip())
    assert loaded.status == "FINISHED" and loaded.metrics["m"]["count"] == 1


def test_uncaught_exception_marks_failed(repo: Path) -> None:
    result = run_child(
        repo,
        """
        run = gitruns.start_run(name="crashy")
        print(run.id, flush=True)
        raise RuntimeError("out of memory")
        """,
    )
    assert result.returncode == 1 and "RuntimeError: out of memory" in result.stderr
    loaded = gitruns.get_run(result.stdout.strip())
    assert loaded.status == "FAILED"
    assert loaded.document["error"]["message"] == "out of memory"


def test_logging_to_an_ended_run(repo: Path) -> None:
    with gitruns.start_run() as run:
        run.log_metric("m", 1.0)
    for call in (
        lambda: run.log_metric("m", 2.0),
        lambda: run.log_metric("new", 2.0),
        lambda: run.log_param("p", 1),
        lambda: run.set_tag("t", "v"),
        lambda: run.note("late"),
    ):
        with pytest.raises(RunStateError, match="already ended"):
            call()
    assert run.params == {} and run.tags == {} and run.notes == []
    loaded = gitruns.get_run(run.id)
    assert loaded.metrics["m"]["count"] == 1 and loaded.params == {} and loaded.tags == {}
