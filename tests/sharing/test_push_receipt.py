"""The pre-push hook's receipt: under ``gitruns push`` the hook says which run commits it
handled, and the push does not look for artifacts in them again; nothing else can make the
push skip that look, and the hook writes only to a receipt a live push of the same
repository made. Real git pushes with the real hook of ``gitruns remote setup``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _artifact_helpers import lfs_objects, record_with_artifacts, sha256
from _sharing_helpers import make_run, make_team, runs_of
from conftest import fsck, git, git_on_batch_command, gitruns_cli

import gitruns.artifacts.probe
from gitruns.cli import push_argv
from gitruns.sharing.push_receipt import ENV_RECEIPT, PushReceipt, record_handled

MODEL = b"weights " * 20_000


def _probed_commits(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Each list of commits ``gitruns push`` asks the artifacts probe about, in this process."""
    asked: list[list[str]] = []
    real = gitruns.artifacts.probe.with_artifacts

    def spy(store: object, commits: list[str], **kwargs: object) -> list[str]:
        asked.append(list(commits))
        return real(store, commits, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gitruns.artifacts.probe, "with_artifacts", spy)
    return asked


def _receipts(repo: Path) -> list[str]:
    tmp = repo / ".git" / "gitruns" / "tmp"
    return sorted(p.name for p in tmp.glob("push-receipt-*")) if tmp.exists() else []


def test_push_skips_the_probe_of_runs_the_hook_handled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team(tmp_path)
    assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    ids = {make_run(team.alice, f"r{i}") for i in range(3)}
    asked = _probed_commits(monkeypatch)
    monkeypatch.chdir(team.alice)
    push_argv.push("origin")  # in this process; git runs the real hook in its own
    assert set(runs_of(team.remote)) == ids
    assert all(commits == [] for commits in asked)  # the hook had looked at all three
    assert _receipts(team.alice) == []  # removed after the push
    fsck(team.remote)


def test_without_the_hook_the_push_probes_every_pushed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team(tmp_path)
    ids = {make_run(team.alice, f"r{i}") for i in range(3)}
    asked = _probed_commits(monkeypatch)
    monkeypatch.chdir(team.alice)
    push_argv.push("origin")
    commits = runs_of(team.alice)
    assert sorted(c for batch in asked for c in batch) == sorted(commits[i] for i in ids)
    assert _receipts(team.alice) == []


def test_a_hook_that_is_not_gitruns_leaves_the_push_probing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook of the user's that writes nothing: the receipt is empty, every run probed;
    the hook saw the push's own receipt, whatever the user's environment named."""
    team = make_team(tmp_path)
    seen = tmp_path / "seen"
    hook = team.alice / ".git" / "hooks" / "pre-push"
    hook.write_text(f'#!/bin/sh\ncat >/dev/null\necho "${ENV_RECEIPT}" > {seen}\n')
    hook.chmod(0o755)
    run_id = make_run(team.alice)
    stray = tmp_path / "stray"
    stray.write_text("")
    monkeypatch.setenv(ENV_RECEIPT, str(stray))
    asked = _probed_commits(monkeypatch)
    monkeypatch.chdir(team.alice)
    push_argv.push("origin")
    assert asked == [[runs_of(team.alice)[run_id]]]
    named = Path(seen.read_text().strip())
    assert named.parent == team.alice / ".git" / "gitruns" / "tmp"
    assert named.name.startswith(f"push-receipt-{os.getpid()}-")
    assert stray.read_text() == ""


def test_a_stray_variable_under_raw_git_push_writes_nowhere(tmp_path: Path) -> None:
    """A user's GITRUNS_PUSH_RECEIPT under a plain ``git push``: the hook writes to nothing
    that is not a live push's receipt of this repository."""
    team = make_team(tmp_path)
    assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    make_run(team.alice)
    tmp = team.alice / ".git" / "gitruns" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    dead = tmp / f"push-receipt-{_dead_pid()}-{'a' * 32}"
    dead.write_text("")
    env = {**os.environ, ENV_RECEIPT: str(dead)}
    done = subprocess.run(["git", "push"], cwd=team.alice, capture_output=True, env=env)
    assert done.returncode == 0, done.stderr
    assert dead.read_text() == ""
    assert len(runs_of(team.remote)) == 1


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_record_handled_writes_only_to_a_live_receipt_of_this_repository(
    tmp_path: Path,
) -> None:
    gitruns_dir = tmp_path / "repo" / ".git" / "gitruns"
    commit, other, third = "1" * 40, "2" * 64, "4" * 40
    with PushReceipt(gitruns_dir) as receipt:
        assert receipt.path is not None
        path = Path(receipt.path)
        assert path.parent == gitruns_dir / "tmp" and path.stat().st_mode & 0o777 == 0o600
        assert record_handled(gitruns_dir, "origin", [commit], {}) is False  # no variable
        assert record_handled(tmp_path / "elsewhere", "origin", [commit], receipt.env) is False
        assert receipt.handled("origin") == set()
        assert record_handled(gitruns_dir, "origin", [commit, "not-a-commit", other], receipt.env)
        assert receipt.handled("origin") == {commit, other}
        # a nested push's hook, for another remote: not what this push sent
        assert record_handled(gitruns_dir, "backup", [third], receipt.env)
        assert receipt.handled("origin") == {commit, other}
        assert receipt.handled("backup") == {third}
        assert receipt.handled("orig") == set()
        with open(path, "a") as handle:
            handle.write(f"{'3' * 40}\torigin")  # a line cut short names nothing
        assert receipt.handled("origin") == {commit, other}
    assert not path.exists()
    tmp = gitruns_dir / "tmp"
    env = {ENV_RECEIPT: str(tmp / f"push-receipt-{os.getpid()}-{'b' * 32}")}
    assert record_handled(gitruns_dir, "origin", [commit], env) is False
    assert not Path(env[ENV_RECEIPT]).exists()  # the hook never creates one
    target = tmp_path / "target"
    target.write_text("")
    link = tmp / f"push-receipt-{os.getpid()}-{'c' * 32}"
    link.symlink_to(target)
    assert record_handled(gitruns_dir, "origin", [commit], {ENV_RECEIPT: str(link)}) is False
    assert target.read_text() == ""
    odd = tmp / f"receipt-{os.getpid()}-{'d' * 32}"
    odd.write_text("")
    assert record_handled(gitruns_dir, "origin", [commit], {ENV_RECEIPT: str(odd)}) is False
    dead = tmp / f"push-receipt-{_dead_pid()}-{'e' * 32}"
    dead.write_text("")
    assert record_handled(gitruns_dir, "origin", [commit], {ENV_RECEIPT: str(dead)}) is False
    assert dead.read_text() == "" and odd.read_text() == ""


def test_no_receipt_where_none_can_be_made(tmp_path: Path) -> None:
    """Where the receipt cannot be created (here ``gitruns/tmp`` is a file; a read-only
    repository alike), the push goes on without one and probes every run."""
    gitruns_dir = tmp_path / "gitruns"
    gitruns_dir.mkdir()
    (gitruns_dir / "tmp").write_text("")
    with PushReceipt(gitruns_dir) as receipt:
        assert receipt.path is None and receipt.env == {ENV_RECEIPT: ""}
        assert receipt.handled("origin") == set()
        assert record_handled(gitruns_dir, "origin", ["1" * 40], receipt.env) is False


lfs = pytest.mark.skipif(
    shutil.which("git-lfs") is None and not os.environ.get("CI"),
    reason="git-lfs is not installed (.ci/run installs it)",
)


@lfs
def test_gitruns_push_with_the_hook_uploads_artifacts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hook uploads (its message goes to git's stderr, which the push keeps); the push
    neither probes nor uploads again."""
    team = make_team(tmp_path)
    assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    make_run(team.alice, "plain")
    record_with_artifacts(team.alice, "rich", {"model.npz": MODEL})
    asked = _probed_commits(monkeypatch)
    monkeypatch.chdir(team.alice)
    push_argv.push("origin")
    assert all(commits == [] for commits in asked)
    assert "uploaded" not in capsys.readouterr().err
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}
    assert _receipts(team.alice) == []


def _logging_cat_file(folder: Path, log: Path) -> str:
    """A PATH on which `git` is the real one, with what each `cat-file --batch-command`
    is asked copied to ``log`` on its way in."""
    return git_on_batch_command(folder, lambda real: f'{{ tee -a {log} | {real} "$@"; exit $?; }}')


@pytest.mark.parametrize("hooked", [True, False])
def test_the_cli_push_reads_artifacts_yaml_only_without_the_hook(
    tmp_path: Path, hooked: bool
) -> None:
    """The real CLI: what its `git cat-file` session is asked, with and without the hook."""
    team = make_team(tmp_path)
    if hooked:
        assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    ids = {make_run(team.alice, f"r{i}") for i in range(2)}
    log = tmp_path / "asked"
    path = _logging_cat_file(tmp_path / "bin", log)
    pushed = gitruns_cli(team.alice, "push", env={"PATH": path})
    assert pushed.returncode == 0, pushed.stderr
    assert set(runs_of(team.remote)) == ids
    asked = log.read_text()
    commits = runs_of(team.alice)
    assert all(f"contents {commits[i]}" in asked for i in ids)  # the code check, both ways
    # The push asks by root tree (the code check read them); the hook's own session, if
    # the shim saw it, would ask by commit: only the push's lines are counted.
    trees = {git(team.alice, "rev-parse", f"{commits[i]}^{{tree}}").strip() for i in ids}
    probed = {line[5:45] for line in asked.splitlines() if line.endswith(":artifacts.yaml")}
    assert probed & trees == (set() if hooked else trees)
