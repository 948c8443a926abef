"""``gitruns push`` (and the pre-push hook's ``gitruns artifacts pre-push``) run on the git
CLI without loading libgit2 or YAML; the light repository answers as the full Store does,
and gives way to it where a transfer needs more. Import-graph checks, not timings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _sharing_helpers import make_run, make_team, runs_of
from conftest import git

from gitruns.recording.repository import open_store
from gitruns.sharing.lightrepo import LightRepo, open_for_transfer
from gitruns.storage import Store

# dataclasses and hashlib: about 17 ms of imports a transfer, kept off the path (issue 16)
HEAVY = (
    "pygit2",
    "yaml",
    "jsonschema",
    "gitruns.storage",
    "gitruns.runs.model",
    "dataclasses",
    "hashlib",
)


def _heavy_loaded(cwd: Path, argv: list[str], stdin: str = "") -> list[str]:
    probe = (
        "import sys\n"
        f"sys.argv = ['gitruns', *{argv!r}]\n"
        "from gitruns.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, input=stdin, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return eval(done.stderr.strip().splitlines()[-1])  # a printed list of names


def test_push_loads_no_libgit2_and_pushes_every_run(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    ids = {make_run(team.alice, f"r{i}") for i in range(3)}
    assert _heavy_loaded(team.alice, ["push"]) == []
    assert set(runs_of(team.remote)) == ids
    assert _heavy_loaded(team.alice, ["push"]) == []  # nothing to push


def test_pre_push_hook_without_artifacts_loads_no_libgit2(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice)
    commit = runs_of(team.alice)[run_id]
    line = f"refs/runs/{run_id} {commit} refs/runs/{run_id} {'0' * 40}\n"
    assert _heavy_loaded(team.alice, ["artifacts", "pre-push", "origin"], line) == []


def test_light_repository_answers_as_the_store(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    make_run(team.alice)
    worktree = tmp_path / "linked"
    git(team.alice, "worktree", "add", "-q", str(worktree))
    partial = tmp_path / "partial"
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{team.remote}", str(partial))
    git(team.alice, "remote", "add", "upstream", str(team.remote))
    for where in (team.alice, team.alice / "sub", worktree, partial):
        where.mkdir(exist_ok=True)
        light, full = open_for_transfer(where), open_store(where)
        assert isinstance(light, LightRepo)
        for name in ("git_dir", "common_dir", "workdir", "gitruns_dir", "objects_dir"):
            assert Path(getattr(light, name)).resolve() == Path(getattr(full, name)).resolve()
        assert sorted(light.remote_names()) == sorted(full.remote_names())
        assert light.promisor_remote() == full.promisor_remote()
        # what it does not answer itself is the full Store's
        assert light.run_refs() == full.run_refs()


def test_bare_or_staged_repositories_open_the_full_store(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    assert isinstance(open_for_transfer(team.remote), Store)
    staged = team.alice / ".git" / "gitruns" / "staging" / "some-run"
    staged.mkdir(parents=True)
    assert isinstance(open_for_transfer(team.alice), Store)


def test_light_config_values_are_gits(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    git(team.alice, "config", "gitruns.allowUnpublishedCode", "true")
    git(team.alice, "config", "core.hooksPath", "")
    light, full = open_for_transfer(team.alice), open_store(team.alice)
    for key in ("gitruns.allowUnpublishedCode", "user.name", "core.hooksPath", "no.such"):
        assert light.config_value(key) == full.config_value(key), key


def test_light_remote_names_are_git_remotes(tmp_path: Path) -> None:
    """One `git config` listing answers both the remote names (as `git remote` lists them:
    any `remote.<name>.<key>`, dots and case kept) and whether this is a partial clone."""
    team = make_team(tmp_path)
    git(team.alice, "config", "remote.a.b.url", str(team.remote))
    git(team.alice, "config", "remote.Up.url", str(team.remote))
    git(team.alice, "config", "remote.fetch-only.fetch", "+refs/heads/*:refs/x/*")
    git(team.alice, "config", "remote.pushDefault", "origin")  # no remote of that name
    light = open_for_transfer(team.alice)
    assert isinstance(light, LightRepo)
    assert light.remote_names() == sorted(git(team.alice, "remote").split("\n")[:-1])
    assert {"a.b", "Up", "fetch-only", "origin"} <= set(light.remote_names())
    assert light.promisor_remote() is None
    git(team.alice, "config", "remote.Up.promisor", "true")
    assert open_for_transfer(team.alice).promisor_remote() == "Up"
    git(team.alice, "config", "extensions.partialClone", "a.b")
    assert open_for_transfer(team.alice).promisor_remote() == "a.b"
