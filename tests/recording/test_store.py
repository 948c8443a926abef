"""The run store: what a run commit holds, round-trips, and what it leaves untouched."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from _store_helpers import git_bytes, repo_state, run_refs, same_value, staging_dirs
from conftest import fsck, git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gitruns
from gitruns.capture.secrets import redact_params
from gitruns.format import layout

FAST = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- strategies --------------------------------------------------------------------------
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    # NUL and lone surrogates (not encodable as UTF-8) are refused
    | st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=10), inner, max_size=4
        )
    ),
    max_leaves=12,
)
_param_keys = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30
).filter(lambda k: k.strip() != "")
_params = st.dictionaries(_param_keys, _values, max_size=6)
_segment = st.text(alphabet="abcxyz0123456789_-.", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..") and s.lower() != ".git"
)
_metric_keys = st.lists(_segment, min_size=1, max_size=3).map("/".join)
_metric_values = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**53), 2**53)


def tree_files(repo: Path, commit: str) -> list[str]:
    out = git(repo, "ls-tree", "-r", "--name-only", commit)
    return out.split()


def ref_of(run_id: str) -> str:
    return f"refs/runs/{run_id}"


# -- round trips ---------------------------------------------------------------------------
@FAST
@given(params=_params)
def test_params_round_trip(repo: Path, params: dict[str, Any]) -> None:
    with gitruns.start_run(params=params) as run:
        pass
    loaded = gitruns.get_run(run.id)
    # Values under secret-looking keys ("Token") are stored redacted: that is the contract.
    assert same_value(loaded.params, redact_params(params))


@FAST
@given(
    series=st.dictionaries(
        _metric_keys,
        st.lists(st.tuples(st.integers(0, 2**40), _metric_values), min_size=1, max_size=20),
        min_size=1,
        max_size=4,
    ).filter(
        # a key cannot be both a file and a folder prefix of another key once .csv is added
        lambda d: len({k.lower() for k in d}) == len(d)
    )
)
def test_metrics_round_trip(repo: Path, series: dict[str, list[tuple[int, float]]]) -> None:
    with gitruns.start_run() as run:
        for key, points in series.items():
            for step, value in points:
                run.log_metric(key, value, step=step, timestamp=1_700_000_000_000 + step)
    loaded = gitruns.get_run(run.id)
    assert set(loaded.metrics) == set(series)
    for key, points in series.items():
        history = loaded.metric_history(key)
        assert [(p.step, p.timestamp) for p in history] == [
            (s, 1_700_000_000_000 + s) for s, _ in points
        ]
        for point, (_, value) in zip(history, points, strict=True):
            assert same_value(point.value, float(value))
        finite = [float(v) for _, v in points if not math.isnan(v)]
        summary = loaded.metrics[key]
        assert summary["count"] == len(points)
        # "last" is MLflow's latest: the highest step; ties go to the later timestamp,
        # then to the point logged last (here a step's timestamp follows from the step)
        _, latest = max((step, index) for index, (step, _) in enumerate(points))
        assert same_value(summary["last"], float(points[latest][1]))
        assert summary["last_step"] == points[latest][0]
        if finite:
            assert summary["min"] == min(finite) and summary["max"] == max(finite)
        else:  # NaN never becomes min or max; with nothing else they stay NaN
            assert math.isnan(summary["min"]) and math.isnan(summary["max"])


def test_nan_and_infinity_round_trip(repo: Path) -> None:
    with gitruns.start_run(params={"p": [math.nan, math.inf, -math.inf]}) as run:
        for value in (math.nan, math.inf, -math.inf, 1.5):
            run.log_metric("v", value)
    loaded = gitruns.get_run(run.id)
    values = [p.value for p in loaded.metric_history("v")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 1.5]
    assert [p.step for p in loaded.metric_history("v")] == [0, 1, 2, 3]
    assert loaded.metrics["v"]["min"] == -math.inf and loaded.metrics["v"]["max"] == math.inf
    assert math.isnan(loaded.params["p"][0]) and loaded.params["p"][1:] == [math.inf, -math.inf]
    csv = loaded.file("metrics/v.csv")
    assert csv is not None
    assert [line.split(b",")[2] for line in csv.splitlines()[1:]] == [
        b"nan",
        b"inf",
        b"-inf",
        b"1.5",
    ]


# -- the tree and the commit -----------------------------------------------------------------
def test_run_commit_layout(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    with gitruns.start_run(name="layout", params={"lr": 0.01, "net": {"layers": 3}}) as run:
        run.log_metric("train/loss", 0.5, step=0)
        run.log_metric("train/loss", 0.25, step=1)
        run.log_metric("acc", 0.9)
        run.set_tag("model", "mlp")
        run.note("first try")
    commit = git(repo, "rev-parse", ref_of(run.id)).strip()
    assert tree_files(repo, commit) == [
        "artifacts.yaml",
        "env/packages.txt",  # the environment snapshot every API run gets (provenance.py)
        "env/platform.yaml",
        "env/variables.yaml",
        "metrics/acc.csv",
        "metrics/train/loss.csv",
        "params.yaml",
        "run.yaml",
        "summary.yaml",
    ]
    show = git_bytes(repo, "show", f"{commit}:metrics/train/loss.csv").decode()
    lines = show.splitlines()
    assert lines[0] == "step,timestamp,value"
    assert [line.split(",")[0::2] for line in lines[1:]] == [["0", "0.5"], ["1", "0.25"]]
    params_text = git(repo, "show", f"{commit}:params.yaml")
    assert params_text == "lr: 0.01\nnet:\n  layers: 3\n"
    document = yaml.safe_load(git(repo, "show", f"{commit}:run.yaml"))
    assert document["schema_version"] == layout.SCHEMA_VERSION
    assert document["id"] == run.id and document["name"] == "layout"
    assert document["status"] == "FINISHED"
    assert document["git"] == {
        "commit": head,
        "snapshot": None,
        "branch": "main",
        "remote_url": None,
        "dirty": False,
    }
    assert document["tags"] == {"model": "mlp"}
    assert document["notes"][0]["text"] == "first try"
    summary = yaml.safe_load(git(repo, "show", f"{commit}:summary.yaml"))
    assert summary["train/loss"]["count"] == 2 and summary["train/loss"]["min"] == 0.25
    # sorted keys, block style: the file is stable and diffs line by line
    run_yaml = git(repo, "show", f"{commit}:run.yaml")
    top_keys = [line.split(":")[0] for line in run_yaml.splitlines() if not line.startswith(" ")]
    top_keys = [k for k in top_keys if not k.startswith("-")]
    assert top_keys == sorted(top_keys)
    parents = git(repo, "rev-list", "--parents", "-n1", commit).split()[1:]
    assert parents == [head]
    message = git(repo, "log", "-1", "--format=%B", commit).strip()
    assert message == f"run layout ({run.id}): FINISHED"
    fsck(repo)


def test_parent_runs_become_commit_parents(repo: Path) -> None:
    with gitruns.start_run(name="base") as base:
        base.log_metric("loss", 1.0)
    with gitruns.start_run(name="tuned", parents=["base"]) as tuned:
        tuned.log_metric("loss", 0.5)
    base_commit = git(repo, "rev-parse", ref_of(base.id)).strip()
    tuned_commit = git(repo, "rev-parse", ref_of(tuned.id)).strip()
    head = git(repo, "rev-parse", "HEAD").strip()
    parents = git(repo, "rev-list", "--parents", "-n1", tuned_commit).split()[1:]
    assert parents == [head, base_commit]
    assert gitruns.get_run(tuned.id).parents == [base.id]


def test_git_diff_between_runs_reads_well(repo: Path) -> None:
    with gitruns.start_run(params={"lr": 0.1, "layers": 2}) as a:
        a.log_metric("loss", 1.0)
    with gitruns.start_run(params={"lr": 0.01, "layers": 2}) as b:
        b.log_metric("loss", 1.0)
    diff = git(repo, "diff", ref_of(a.id), ref_of(b.id), "--", "params.yaml")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == ["-lr: 0.1", "+lr: 0.01"]


def test_fsck_clean_after_many_runs(repo: Path) -> None:
    for index in range(5):
        with gitruns.start_run(params={"i": index}) as run:
            run.log_metric("a/b/c", index)
            run.log_artifact(repo / "train.py")
    (repo / "train.py").write_text("changed\n")
    with gitruns.start_run():
        pass
    assert len(run_refs(repo)) == 6
    fsck(repo)
    assert staging_dirs(repo) == []


def test_run_ids_are_time_ordered(repo: Path) -> None:
    ids = []
    for _ in range(5):
        with gitruns.start_run() as run:
            ids.append(run.id)
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [r.id for r in gitruns.list_runs()] == sorted(ids, reverse=True)


# -- nothing of the user's is touched ------------------------------------------------------
def test_clean_tree_status_head_index_unchanged(repo: Path) -> None:
    git(repo, "status")  # let git refresh the index once, as any user would
    before = repo_state(repo)
    with gitruns.start_run(params={"a": 1}) as run:
        run.log_metric("m", 1.0)
        run.log_artifact(repo / "train.py")
    assert repo_state(repo) == before
    assert not gitruns.get_run(run.id).git["dirty"]


def _make_dirty(repo: Path) -> None:
    (repo / "keep.txt").write_text("kept\n")
    (repo / "gone.txt").write_text("to delete\n")
    (repo / "removed.txt").write_text("to git rm\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "more files")
    (repo / "train.py").write_text("print('modified in worktree')\n")  # unstaged change
    (repo / "staged.txt").write_text("staged but not committed\n")
    git(repo, "add", "staged.txt")  # staged new file
    (repo / "keep.txt").write_text("kept, staged change\n")
    git(repo, "add", "keep.txt")
    (repo / "gone.txt").unlink()  # unstaged deletion
    git(repo, "rm", "-q", "removed.txt")  # staged deletion
    (repo / "untracked.txt").write_text("not part of the snapshot\n")
    git(repo, "status")


def test_dirty_tree_snapshot(repo: Path) -> None:
    _make_dirty(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    before = repo_state(repo)
    with gitruns.start_run(name="dirty") as run:
        run.log_metric("m", 1.0)
    assert repo_state(repo) == before
    loaded = gitruns.get_run(run.id)
    assert loaded.git["dirty"] is True and loaded.git["commit"] == head
    snapshot = loaded.git["snapshot"]
    commit = git(repo, "rev-parse", ref_of(run.id)).strip()
    assert git(repo, "rev-list", "--parents", "-n1", commit).split()[1:] == [snapshot]
    assert git(repo, "rev-list", "--parents", "-n1", snapshot).split()[1:] == [head]
    files = set(tree_files(repo, snapshot))
    assert {"train.py", "keep.txt", "staged.txt"} <= files
    assert "gone.txt" not in files and "removed.txt" not in files
    assert "untracked.txt" not in files
    assert git(repo, "show", f"{snapshot}:train.py") == "print('modified in worktree')\n"
    assert git(repo, "show", f"{snapshot}:keep.txt") == "kept, staged change\n"
    patch = loaded.file(layout.PATCH_FILE)
    assert patch is not None
    text = patch.decode()
    for name in ("train.py", "keep.txt", "staged.txt", "gone.txt", "removed.txt"):
        assert f"b/{name}" in text or f"a/{name}" in text
    assert "untracked.txt" not in text
    # the patch applies to HEAD and gives the snapshot's tree
    assert git(repo, "diff", head, snapshot) == text
    fsck(repo)


def test_clean_tree_has_no_patch(repo: Path) -> None:
    with gitruns.start_run() as run:
        pass
    assert gitruns.get_run(run.id).file(layout.PATCH_FILE) is None


# -- repository shapes ---------------------------------------------------------------------
def test_unborn_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fresh"
    path.mkdir()
    git(path, "init", "-q")
    monkeypatch.chdir(path)
    before = repo_state_unborn(path)
    with gitruns.start_run(params={"a": 1}) as run:
        run.log_metric("m", 2.0)
    loaded = gitruns.get_run(run.id)
    assert loaded.status == "FINISHED" and loaded.git["commit"] is None
    assert loaded.git["branch"] == "main"
    commit = git(path, "rev-parse", ref_of(run.id)).strip()
    assert git(path, "rev-list", "--parents", "-n1", commit).split() == [commit]
    assert repo_state_unborn(path) == before
    fsck(path)


def repo_state_unborn(path: Path) -> tuple[bytes, bytes]:
    return (
        git_bytes(path, "--no-optional-locks", "status", "--porcelain=v1", "-z"),
        (path / ".git" / "HEAD").read_bytes(),
    )


def test_detached_head(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach")
    with gitruns.start_run() as run:
        run.log_metric("m", 1.0)
    loaded = gitruns.get_run(run.id)
    assert loaded.git["commit"] == head and loaded.git["branch"] is None
    fsck(repo)


def test_linked_worktree(repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tree = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tree))
    (tree / "train.py").write_text("print('feature work')\n")
    git(tree, "commit", "-q", "-am", "feature")
    monkeypatch.chdir(tree)
    before = repo_state(tree)
    with gitruns.start_run(name="from-worktree") as run:
        run.log_metric("m", 1.0)
    assert repo_state(tree) == before
    loaded = gitruns.get_run(run.id)
    assert loaded.git["branch"] == "feature"
    assert loaded.git["commit"] == git(tree, "rev-parse", "HEAD").strip()
    # the run lives in the common repository: visible from the main worktree too
    assert ref_of(run.id) in run_refs(repo)
    assert gitruns.get_run("from-worktree", repo=repo).id == run.id
    assert (repo / ".git" / "gitruns").is_dir()
    fsck(repo)


def test_linked_worktree_dirty(repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tree = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tree))
    (tree / "train.py").write_text("print('dirty in worktree')\n")
    monkeypatch.chdir(tree)
    before = repo_state(tree)
    main_before = repo_state(repo)
    with gitruns.start_run() as run:
        pass
    assert repo_state(tree) == before and repo_state(repo) == main_before
    loaded = gitruns.get_run(run.id)
    assert loaded.git["dirty"] is True
    assert git(tree, "show", f"{loaded.git['snapshot']}:train.py") == "print('dirty in worktree')\n"


def test_bare_repository(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    head = git(bare, "rev-parse", "HEAD").strip()
    with gitruns.start_run(name="in-bare", repo=bare) as run:
        run.log_metric("m", 1.0)
    loaded = gitruns.get_run("in-bare", repo=bare)
    assert loaded.id == run.id and loaded.git["commit"] == head
    assert loaded.git["dirty"] is False
    assert run_refs(bare) == [ref_of(run.id)]
    assert run_refs(repo) == []  # cwd is the other repository: untouched
    fsck(bare)


def test_bare_unborn_repository(tmp_path: Path) -> None:
    bare = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with gitruns.start_run(repo=bare) as run:
        pass
    assert gitruns.get_run(run.id, repo=bare).git["commit"] is None
    fsck(bare)


# -- artifacts -----------------------------------------------------------------------------
def test_artifacts_outside_git_and_deduplicated(repo: Path) -> None:
    model = repo / "model.bin"
    model.write_bytes(b"weights " * 1000)
    copy = repo / "copy.bin"
    copy.write_bytes(model.read_bytes())
    folder = repo / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    (folder / "sub" / "b.txt").write_text("b\n")
    with gitruns.start_run() as run:
        run.log_artifact(model)
        run.log_artifact(copy, "models")
        gitruns.log_artifacts(folder)
    import hashlib

    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    loaded = gitruns.get_run(run.id)
    by_path = {a["path"]: a for a in loaded.artifacts}
    assert sorted(by_path) == ["model.bin", "models/copy.bin", "outputs/a.txt", "outputs/sub/b.txt"]
    pointer = by_path["model.bin"]
    assert pointer["sha256"] == sha and pointer["size"] == 8000
    assert pointer["uri"] == f"git-lfs:sha256/{sha}"
    assert by_path["models/copy.bin"]["sha256"] == sha
    store = repo / ".git" / "lfs" / "objects"  # git-lfs's own object store
    stored = store / sha[:2] / sha[2:4] / sha
    assert stored.read_bytes() == model.read_bytes()
    objects = sorted(p for p in store.rglob("*") if p.is_file())
    assert len(objects) == 3  # model (once, deduplicated), a.txt, b.txt
    # each artifact has a Git LFS pointer file in the run's tree, as git-lfs writes them
    pointer_file = git(repo, "show", f"{ref_of(run.id)}:artifacts/model.bin")
    assert pointer_file == (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize 8000\n"
    )
    if shutil.which("git-lfs"):
        assert git(repo, "lfs", "pointer", f"--file={model}") == pointer_file
    listed = git(repo, "ls-tree", "-r", "--name-only", ref_of(run.id), "artifacts/").split()
    assert listed == [f"artifacts/{p}" for p in sorted(by_path)]
    # the git object database never holds artifact content
    blob = git(repo, "hash-object", str(model)).strip()
    assert git(repo, "cat-file", "-e", blob, check=False) == ""
    result = git_bytes(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    assert blob.encode() not in result.split()
    assert b"weights weights" not in b"".join(
        git_bytes(repo, "cat-file", "-p", name.decode())
        for name in result.split()
        if git_bytes(repo, "cat-file", "-t", name.decode()).strip() == b"blob"
    )
    fsck(repo)


def test_artifact_store_follows_lfs_storage(repo: Path, tmp_path: Path) -> None:
    """The store is git-lfs's: git config lfs.storage moves both (relative to .git)."""
    elsewhere = tmp_path / "big-volume"
    git(repo, "config", "lfs.storage", str(elsewhere))
    with gitruns.start_run() as run:
        run.log_artifact(repo / "train.py")
    sha = gitruns.get_run(run.id).artifacts[0]["sha256"]
    assert (elsewhere / "objects" / sha[:2] / sha[2:4] / sha).is_file()
    git(repo, "config", "lfs.storage", "lfs-elsewhere")
    with gitruns.start_run() as run:
        run.log_artifact(repo / "train.py")
    assert (repo / ".git" / "lfs-elsewhere" / "objects" / sha[:2] / sha[2:4] / sha).is_file()
    assert gitruns.get_run(run.id).artifact_files[0].here


def test_missing_artifact_is_an_error(repo: Path) -> None:
    with gitruns.start_run() as run, pytest.raises(gitruns.InvalidInputError):
        run.log_artifact(repo / "nope.bin")
    assert gitruns.get_run(run.id).artifacts == []


# -- compatibility ---------------------------------------------------------------------------
def _rewrite_run_yaml(repo: Path, run_id: str, edit: Any) -> None:
    """Replace run.yaml in the run's commit with ``edit(document)``, using git plumbing."""
    commit = git(repo, "rev-parse", ref_of(run_id)).strip()
    document = yaml.safe_load(git(repo, "show", f"{commit}:run.yaml"))
    edit(document)
    index = repo / ".git" / "tmp-index"
    env_index = {"GIT_INDEX_FILE": str(index)}

    def plumb(*args: str, data: str | None = None) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=repo,
            env={**os.environ, **env_index},
            input=data,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    plumb("read-tree", commit)
    blob = plumb("hash-object", "-w", "--stdin", data=yaml.safe_dump(document))
    plumb("update-index", "--cacheinfo", f"100644,{blob},run.yaml")
    tree = plumb("write-tree")
    new = plumb("commit-tree", tree, "-p", commit, "-m", "edited")
    plumb("update-ref", ref_of(run_id), new, commit)
    index.unlink()


def test_newer_schema_version_is_refused(repo: Path) -> None:
    with gitruns.start_run(name="future") as future:
        pass
    with gitruns.start_run(name="present") as present:
        pass
    newer = layout.SCHEMA_VERSION + 1
    _rewrite_run_yaml(repo, future.id, lambda d: d.update(schema_version=newer, new_field="x"))
    with pytest.raises(gitruns.InvalidRunError, match=f"schema_version {newer}") as caught:
        gitruns.get_run(future.id)
    assert "upgrade gitruns" in caught.value.hint
    with pytest.warns(gitruns.SkippedRunsWarning, match=f"schema_version {newer}"):
        assert [r.id for r in gitruns.list_runs()] == [present.id]
    fsck(repo)


def test_unknown_fields_are_ignored(repo: Path) -> None:
    with gitruns.start_run(name="extra") as run:
        pass
    _rewrite_run_yaml(repo, run.id, lambda d: d.update(added_later={"a": 1}))
    assert gitruns.get_run(run.id).name == "extra"
