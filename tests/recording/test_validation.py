"""Bad input gets a clear GitrunsError and changes nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from _store_helpers import repo_state, run_refs, staging_dirs
from conftest import fsck, git

import gitruns
from gitruns.errors import (
    GitrunsError,
    InvalidInputError,
    ParamConflictError,
    RepositoryError,
)
from gitruns.recording.repository import open_store


def listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# -- repositories gitruns cannot use ---------------------------------------------------------
def test_not_a_git_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(RepositoryError, match="not a git repository") as caught:
        gitruns.start_run()
    assert "git init" in caught.value.hint
    with pytest.raises(RepositoryError):
        gitruns.list_runs()
    with pytest.raises(RepositoryError):
        gitruns.get_run("x")
    assert listing(plain) == []
    assert gitruns.active_run() is None


def test_sha256_repository(tmp_path: Path) -> None:
    path = tmp_path / "sha256"
    git(tmp_path, "init", "-q", "--object-format=sha256", str(path))
    before = listing(path)
    with pytest.raises(RepositoryError, match="SHA-256") as caught:
        gitruns.start_run(repo=path)
    assert caught.value.hint
    assert listing(path) == before


def test_reftable_repository(tmp_path: Path) -> None:
    path = tmp_path / "reftable"
    git(tmp_path, "init", "-q", str(path))
    git(path, "config", "core.repositoryformatversion", "1")
    git(path, "config", "extensions.refstorage", "reftable")
    before = listing(path)
    with pytest.raises(RepositoryError, match="reftable") as caught:
        gitruns.start_run(repo=path)
    assert "refs migrate" in caught.value.hint
    with pytest.raises(RepositoryError):
        gitruns.list_runs(repo=path)
    assert listing(path) == before


# -- metric keys and values ------------------------------------------------------------------
BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "a/../b",
    "a/./b",
    "a//b",
    "trailing/",
    "tab\there",
    "new\nline",
    "nul\x00byte",
    "del\x7f",
    "back\\slash",
    "C:/windows",
    ".git/config",
    "a/.GIT/b",
    " padded",
    "x" * 300,
    "surrogate\udc80",
    5,
    None,
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=lambda k: repr(k)[:20])
def test_bad_metric_keys(repo: Path, key: Any) -> None:
    with gitruns.start_run() as run:
        run.log_metric("good", 1.0)
        with pytest.raises(InvalidInputError) as caught:
            run.log_metric(key, 1.0)
        assert caught.value.hint
        with pytest.raises(InvalidInputError):
            gitruns.log_metrics({key: 2.0})
        assert list(run.metrics) == ["good"]
    assert list(gitruns.get_run(run.id).metrics) == ["good"]
    assert git(repo, "ls-tree", "-r", "--name-only", run.commit or "", "metrics/").split() == [
        "metrics/good.csv"
    ]
    fsck(repo)


class NoFloat:
    pass


class BrokenFloat:
    def __float__(self) -> float:
        raise ValueError("nope")


BAD_VALUES = [
    "1.0",
    b"1",
    True,
    False,
    None,
    [1.0],
    {"a": 1},
    1 + 2j,
    NoFloat(),
    BrokenFloat(),
    10**400,  # too large for a float
]


@pytest.mark.parametrize("value", BAD_VALUES, ids=lambda v: type(v).__name__)
def test_non_number_metric_values(repo: Path, value: Any) -> None:
    with gitruns.start_run() as run:
        with pytest.raises(InvalidInputError, match="not a number"):
            run.log_metric("loss", value)
        run.log_metric("loss", 0.5)  # the refused point did not take step 0
        with pytest.raises(InvalidInputError, match="not a number"):
            run.log_metric("loss", value)
        with pytest.raises(InvalidInputError):
            run.log_metric("fresh", value)
        assert list(run.metrics) == ["loss"]
    loaded = gitruns.get_run(run.id)
    assert list(loaded.metrics) == ["loss"] and loaded.metrics["loss"]["count"] == 1
    assert [p.step for p in loaded.metric_history("loss")] == [0]


@pytest.mark.parametrize("step", [-1, 1.5, "3", True, None.__class__])
def test_bad_steps(repo: Path, step: Any) -> None:
    with gitruns.start_run() as run:
        with pytest.raises(InvalidInputError):
            run.log_metric("loss", 1.0, step=step)
        with pytest.raises(InvalidInputError):
            run.log_metric("loss", 1.0, timestamp="now")
        assert run.metrics == {}
    assert gitruns.get_run(run.id).metrics == {}


def test_numeric_like_values_are_accepted(repo: Path) -> None:
    from decimal import Decimal
    from fractions import Fraction

    with gitruns.start_run() as run:
        run.log_metric("a", Decimal("0.5"))
        run.log_metric("a", Fraction(1, 4))
        run.log_metric("a", 7)
    assert [p.value for p in gitruns.get_run(run.id).metric_history("a")] == [0.5, 0.25, 7.0]


# -- params, tags, notes ---------------------------------------------------------------------
BAD_PARAMS: list[Any] = [
    object(),
    {1, 2},
    b"bytes",
    {1: "int key"},
    {"nested": {"deep": object()}},
    [1, object()],
    "nul\x00",
    "surrogate\udc80",
    {"key\udc80": 1},
    Path("/tmp"),
]


@pytest.mark.parametrize("value", BAD_PARAMS, ids=lambda v: repr(v)[:20])
def test_unserialisable_params(repo: Path, value: Any) -> None:
    with gitruns.start_run() as run:
        with pytest.raises(InvalidInputError) as caught:
            run.log_param("p", value)
        assert caught.value.hint
        with pytest.raises(InvalidInputError):
            gitruns.log_params({"ok": 1, "q": value})
        assert "p" not in run.params and "q" not in run.params
    assert set(gitruns.get_run(run.id).params) <= {"ok"}
    assert staging_dirs(repo) == []


@pytest.mark.parametrize("value", BAD_PARAMS, ids=lambda v: repr(v)[:20])
def test_bad_params_at_start_create_no_run(repo: Path, value: Any) -> None:
    before = repo_state(repo)
    with pytest.raises(InvalidInputError):
        gitruns.start_run(params={"lr": 0.1, "bad": value})
    assert gitruns.active_run() is None
    assert staging_dirs(repo) == [] and run_refs(repo) == []
    assert gitruns.list_runs() == [] and staging_dirs(repo) == []
    assert repo_state(repo) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tags": {"t": object()}},
        {"tags": {"": "empty key"}},
        {"tags": {"t": "x" * 6000}},
        {"name": "bad\nname"},
        {"name": ""},
        {"params": {"": 1}},
        {"params": {"a\tb": 1}},
        {"notes": 5},
        {"parents": ["no-such-run"]},
    ],
    ids=lambda kwargs: repr(kwargs)[:30],
)
def test_bad_start_arguments_create_no_run(repo: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(GitrunsError):
        gitruns.start_run(**kwargs)
    assert gitruns.active_run() is None
    assert gitruns.list_runs() == [] and staging_dirs(repo) == [] and run_refs(repo) == []


@pytest.mark.parametrize("key", ["", "   ", "a\nb", "nul\x00", "x" * 300, 3, "s\udc80"], ids=repr)
def test_bad_param_and_tag_keys(repo: Path, key: Any) -> None:
    with gitruns.start_run() as run:
        with pytest.raises(InvalidInputError):
            run.log_param(key, 1)
        with pytest.raises(InvalidInputError):
            run.set_tag(key, "v")
    loaded = gitruns.get_run(run.id)
    assert loaded.params == {} and loaded.tags == {}


@pytest.mark.parametrize("text", [5, None, "nul\x00", "s\udc80"], ids=repr)
def test_bad_notes_and_tag_values(repo: Path, text: Any) -> None:
    with gitruns.start_run() as run:
        with pytest.raises(InvalidInputError):
            run.note(text)
        if not isinstance(text, int):
            with pytest.raises(InvalidInputError):
                run.set_tag("t", text)
    loaded = gitruns.get_run(run.id)
    assert loaded.notes == [] and loaded.tags == {}


def test_changing_a_logged_param(repo: Path) -> None:
    with gitruns.start_run(params={"lr": 0.1, "net": {"layers": [1, 2]}}) as run:
        run.log_param("lr", 0.1)  # the same value again is fine
        run.log_param("net", {"layers": [1, 2]})
        with pytest.raises(ParamConflictError, match=r"'lr' is already 0\.1") as caught:
            run.log_param("lr", 0.2)
        assert "new run" in caught.value.hint
        with pytest.raises(ParamConflictError):
            gitruns.log_params({"lr": 1})  # 1 is not 0.1
        with pytest.raises(ParamConflictError):
            run.log_param("net", {"layers": [1, 3]})
        run.log_param("nan", float("nan"))
        run.log_param("nan", float("nan"))  # NaN equals NaN here
        run.log_param("flag", 1)
        with pytest.raises(ParamConflictError):
            run.log_param("flag", True)  # True == 1 in Python, but not the same param
    loaded = gitruns.get_run(run.id)
    assert loaded.params["lr"] == 0.1 and loaded.params["net"] == {"layers": [1, 2]}
    assert loaded.params["flag"] == 1 and type(loaded.params["flag"]) is int


def test_invalid_artifact_path(repo: Path) -> None:
    with gitruns.start_run() as run, pytest.raises(InvalidInputError):
        run.log_artifact(repo / "train.py", "../outside")
    assert gitruns.get_run(run.id).artifacts == []


def test_broken_staging_does_not_block_other_runs(repo: Path) -> None:
    """A staged run that cannot be finalised must not make every later command fail."""
    staging = repo / ".git" / "gitruns" / "staging" / "01a2165f-0000-7000-8000-000000000000"
    staging.mkdir(parents=True)
    (staging / "owner.lock").write_text("")
    (staging / "start.json").write_text("{not json")
    with gitruns.start_run(name="after") as run:
        pass
    assert [r.name for r in gitruns.list_runs()] == ["after"]
    assert gitruns.get_run(run.id).status == "FINISHED"
    assert open_store() is not None
    assert os.path.isdir(repo / ".git" / "gitruns")
