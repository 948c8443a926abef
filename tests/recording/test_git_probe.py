"""``recording.git_probe``: what the git CLI says about a clean worktree is what libgit2
(``Store``) says, every case it does not answer is left to ``Store``, and ``record``
writes the same run whichever way it started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gitruns.recording.git_probe import probe_clean_worktree
from gitruns.storage import Store
from tests.conftest import git, gitruns_cli

PY = sys.executable


def _as_store_says(path: Path, scripts: list[Path] | None = None) -> dict[str, object]:
    store = Store(path)
    identity = store.identity()
    code = store.code_state("probe", scripts or [])
    assert not code.dirty
    return {
        "common_dir": store.common_dir.resolve(),
        "workdir": store.workdir.resolve() if store.workdir else None,
        "user": (identity.name, identity.email, identity.os_user, identity.host),
        "code": (code.head, code.branch, code.remote_url),
    }


def _as_probe_says(path: Path, scripts: list[Path] | None = None) -> dict[str, object]:
    probed = probe_clean_worktree(str(path), scripts or [])
    assert probed is not None
    return {
        "common_dir": probed.common_dir.resolve(),
        "workdir": probed.workdir.resolve(),
        "user": (probed.user_name, probed.user_email, probed.os_user, probed.host),
        "code": (probed.head, probed.branch, probed.remote_url),
    }


def _with_remote(repo: Path) -> Path:
    git(repo, "remote", "add", "origin", "https://user:token@example.com/team/project.git")
    return repo


def _branch_remote(repo: Path) -> Path:
    git(repo, "remote", "add", "origin", "ssh://git:secret@example.com/o.git")
    git(repo, "remote", "add", "upstream", "git@example.com:team/Project.git")
    git(repo, "config", "branch.main.remote", "upstream")
    return repo


def _detached(repo: Path) -> Path:
    git(repo, "checkout", "-q", "--detach")
    return repo


def _subfolder(repo: Path) -> Path:
    (repo / "src" / "deep").mkdir(parents=True)
    return repo / "src" / "deep"


def _linked_worktree(repo: Path) -> Path:
    linked = repo.parent / "linked"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(linked))
    return linked


def _unborn(repo: Path) -> Path:
    fresh = repo.parent / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    (fresh / "staged.txt").write_text("x")
    git(fresh, "add", "staged.txt")  # staged but no commit: Store calls that clean
    return fresh


def _empty_identity(repo: Path) -> Path:
    git(repo, "config", "user.name", "")
    git(repo, "config", "user.email", "")
    return repo


def _ignored_untracked(repo: Path) -> Path:
    (repo / "notes.txt").write_text("untracked, not a script of the command\n")
    return repo


SETUPS: dict[str, Callable[[Path], Path]] = {
    "plain": lambda repo: repo,
    "remote with credentials": _with_remote,
    "branch remote": _branch_remote,
    "detached HEAD": _detached,
    "subfolder": _subfolder,
    "linked worktree": _linked_worktree,
    "unborn HEAD": _unborn,
    "empty identity": _empty_identity,
    "untracked file": _ignored_untracked,
}


@pytest.mark.parametrize("setup", SETUPS)
def test_the_probe_says_what_store_says(repo: Path, setup: str) -> None:
    path = SETUPS[setup](repo)
    assert _as_probe_says(path) == _as_store_says(path)


def test_author_variables_win_as_in_store(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Override Name")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "override@example.com")
    assert _as_probe_says(repo) == _as_store_says(repo)


def test_a_tracked_script_of_the_command_is_clean(repo: Path) -> None:
    scripts = [repo / "train.py"]
    assert _as_probe_says(repo, scripts) == _as_store_says(repo, scripts)


def _dirty(repo: Path) -> dict[str, object]:
    (repo / "train.py").write_text("print('changed')\n")
    return {}


def _untracked_script(repo: Path) -> dict[str, object]:
    (repo / "new_script.py").write_text("print('new')\n")
    return {"scripts": [repo / "new_script.py"]}


def _bare(repo: Path) -> dict[str, object]:
    bare = repo.parent / "bare.git"
    git(repo.parent, "clone", "-q", "--bare", str(repo), str(bare))
    return {"path": bare}


def _inside_git_dir(repo: Path) -> dict[str, object]:
    return {"path": repo / ".git"}


def _sha256(repo: Path) -> dict[str, object]:
    other = repo.parent / "sha256"
    git(repo.parent, "init", "-q", "--object-format=sha256", str(other))
    return {"path": other}


def _index_variable(repo: Path) -> dict[str, object]:
    return {"env": {"GIT_INDEX_FILE": str(repo / ".git" / "other-index")}}


def _not_a_repository(repo: Path) -> dict[str, object]:
    outside = repo.parent / "outside"
    outside.mkdir()
    return {"path": outside}


DECLINED: dict[str, Callable[[Path], dict[str, object]]] = {
    "dirty tree": _dirty,
    "untracked script": _untracked_script,
    "bare repository": _bare,
    "inside the git folder": _inside_git_dir,
    "sha256 repository": _sha256,
    "GIT_INDEX_FILE": _index_variable,
    "not a repository": _not_a_repository,
}


@pytest.mark.parametrize("case", DECLINED)
def test_other_cases_are_left_to_store(
    repo: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = DECLINED[case](repo)
    for name, value in found.get("env", {}).items():  # type: ignore[attr-defined]
        monkeypatch.setenv(name, value)
    path = found.get("path", repo)
    scripts = found.get("scripts", [])
    assert probe_clean_worktree(str(path), scripts) is None  # type: ignore[arg-type]


# `gitruns record` as the program, telling whether pygit2 was loaded when the command
# started: the way the run was started.
RECORD = """
import subprocess, sys
seen = []
original = subprocess.Popen.__init__

def spy(self, args, *rest, **kwargs):
    if list(args)[:2] == [sys.executable, "-c"] and not seen:
        seen.append("pygit2" in sys.modules)
    original(self, args, *rest, **kwargs)

subprocess.Popen.__init__ = spy
from gitruns.cli import record_argv

def report(code):
    print(f"pygit2 loaded at the start: {seen[0]}", flush=True)
    sys.exit(code)

record_argv.exit_at_once = report
from gitruns.cli.entry import main

sys.argv = ["gitruns", *sys.argv[1:]]
main()
"""


def _record(repo: Path, env: dict[str, str]) -> dict[str, object]:
    args = ["record", "-n", "same", "-e", "exp", "-t", "k=v", "-p", "lr=0.1", "--note", "a note"]
    done = subprocess.run(
        [PY, "-c", RECORD, *args, "--", PY, "-c", "import os; print(os.environ['GITRUNS_REPO'])"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    listing = gitruns_cli(repo, "ls", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    newest = max(json.loads(listing.stdout), key=lambda r: r["id"])
    shown = gitruns_cli(repo, "show", newest["id"], "--format", "json")
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    kept = ("name", "status", "exit_code", "params", "tags", "experiment", "git", "user")
    found: dict[str, object] = {key: run[key] for key in kept}
    found["host"] = run["host"]
    found["notes"] = [(n["text"], n["author"]) for n in run["notes"]]
    found["parents"] = git(repo, "log", "-1", "--format=%P", f"refs/runs/{run['id']}").split()
    found["environment"] = sorted(run["environment"])
    *command_output, found["started"] = done.stdout.splitlines()
    found["repo seen by the command"] = command_output
    return found


def test_record_writes_the_same_run_with_and_without_the_probe(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://user:token@example.com/team/project.git")
    quick = _record(repo, {})
    # A ceiling git honours and libgit2's discovery here does not: the probe declines
    # and the run is started by Store, as before the probe existed.
    standard = _record(repo, {"GIT_CEILING_DIRECTORIES": str(repo.parent.parent)})
    assert quick.pop("started") == "pygit2 loaded at the start: False"
    assert standard.pop("started") == "pygit2 loaded at the start: True"
    assert quick == standard
    assert quick["parents"] == [git(repo, "rev-parse", "HEAD").strip()]
    assert quick["git"] == {  # type: ignore[comparison-overlap]
        "branch": "main",
        "commit": git(repo, "rev-parse", "HEAD").strip(),
        "dirty": False,
        "remote_url": "https://example.com/team/project.git",
        "snapshot": None,
    }


def test_a_recorder_killed_as_its_command_starts_leaves_a_whole_crashed_run(repo: Path) -> None:
    """The run started from the probe is staged in full before its command starts: a
    recorder killed then (its repository perhaps not open yet) leaves a run recovery writes."""
    command = [PY, "-c", "import time; print('started', flush=True); time.sleep(0.5)"]
    recorder = subprocess.Popen(
        [PY, "-m", "gitruns", "record", "-n", "early", "-t", "k=v", "--", *command],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert recorder.stdout is not None
    assert recorder.stdout.readline() == b"started\n"
    recorder.kill()
    recorder.communicate()
    time.sleep(0.8)  # the command ends on its own (it was not killed)
    listing = gitruns_cli(repo, "ls", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    [run] = json.loads(listing.stdout)
    assert (run["name"], run["status"], run["tags"]) == ("early", "CRASHED", {"k": "v"})
    head = git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "log", "-1", "--format=%P", f"refs/runs/{run['id']}").split() == [head]
    assert git(repo, "fsck", "--strict", "--no-dangling") == ""
