"""``gitruns fetch`` on the git CLI alone (issue 16 part 5): it refuses rewritten runs whatever
the user's git config says, packs the refs it brought without libgit2, and its fast tree
walk passes exactly the runs the exact walk passes. Real remotes, real git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _sharing_helpers import make_run, make_team, runs_of
from _store_helpers import wait_for_compaction
from conftest import git, gitruns_cli

from gitruns.format.ids import new_run_id
from gitruns.runs import treecheck
from gitruns.runs.catfile_session import CatFileSession
from gitruns.runs.untrusted import DEFAULT_LIMITS, _Rules
from gitruns.sharing.fetch import fetch_runs
from gitruns.sharing.lightrepo import LightRepo, open_for_transfer


def test_a_rewritten_run_is_refused_even_without_forced_update_checks(tmp_path: Path) -> None:
    """fetch.showForcedUpdates=false makes plain git take any update as a fast-forward;
    gitruns fetch still refuses a run the remote rewrote and keeps its own copy."""
    team = make_team(tmp_path)
    run_id = make_run(team.alice)
    assert gitruns_cli(team.alice, "push").returncode == 0
    assert gitruns_cli(team.bob, "fetch").returncode == 0
    ref = f"refs/remote-runs/origin/{run_id}"
    ours = git(team.bob, "rev-parse", ref).strip()
    tree = git(team.remote, "rev-parse", f"refs/runs/{run_id}^{{tree}}").strip()
    forged = git(team.remote, "commit-tree", tree, "-m", "rewritten").strip()
    git(team.remote, "update-ref", f"refs/runs/{run_id}", forged)
    git(team.bob, "config", "fetch.showForcedUpdates", "false")
    report = fetch_runs(open_for_transfer(team.bob), "origin")
    assert [r for r, _ in report.refused] == [ref]
    assert git(team.bob, "rev-parse", ref).strip() == ours
    done = gitruns_cli(team.bob, "fetch")
    assert "rewritten on the remote" in done.stderr
    assert git(team.bob, "rev-parse", ref).strip() == ours


def test_fetch_loads_no_libgit2(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    ids = {make_run(team.alice, f"r{i}") for i in range(3)}
    assert gitruns_cli(team.alice, "push").returncode == 0
    probe = (
        "import sys\n"
        "sys.argv = ['gitruns', 'fetch']\n"
        "from gitruns.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('pygit2', 'yaml', 'gitruns.storage', 'dataclasses', 'hashlib')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=team.bob, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "3 new" in done.stderr
    fetched = git(team.bob, "for-each-ref", "--format=%(refname:lstrip=3)", "refs/remote-runs/")
    assert set(fetched.split()) == ids


def test_refs_a_fetch_brought_are_packed_without_libgit2(tmp_path: Path) -> None:
    """Past the loose-ref limit, the light repository starts `git pack-refs` itself."""
    team = make_team(tmp_path)
    head = git(team.bob, "rev-parse", "HEAD").strip()
    names = [f"refs/remote-runs/origin/{new_run_id()}" for _ in range(150)]
    lines = "".join(f"create {name} {head}\n" for name in names)
    subprocess.run(
        ["git", "update-ref", "--stdin"], cwd=team.bob, input=lines, text=True, check=True
    )
    light = open_for_transfer(team.bob)
    assert isinstance(light, LightRepo)
    light.compact_in_background()
    wait_for_compaction(team.bob)
    assert "pygit2" not in sys.modules or light._store is None  # never opened the Store
    packed = (team.bob / ".git" / "packed-refs").read_text()
    assert all(f"{name}\n" in packed for name in names)
    loose = team.bob / ".git" / "refs" / "remote-runs" / "origin"
    assert not loose.exists() or not any(p.is_file() for p in loose.iterdir())


def test_the_fast_walk_passes_every_valid_run(tmp_path: Path) -> None:
    """Valid runs never need the exact walk (the fast one is not dead code), and the
    verdicts are the check's (tests/runs/test_treecheck.py compares crafted runs)."""
    team = make_team(tmp_path)
    for i in range(4):
        make_run(team.alice, f"r{i}", model="mlp")
    light = open_for_transfer(team.alice)
    runs = [(f"refs/runs/{i}", c) for i, c in runs_of(team.alice).items()]
    rules = _Rules(DEFAULT_LIMITS)
    with CatFileSession(light, without_ids=True) as reads:
        commits = reads.read_typed("".join(f"{c}\n" for _, c in runs).encode(), len(runs))
        roots = [treecheck._root_tree(found, 40) for found in commits]
        assert all(root is not None for root in roots)
        trees = treecheck._read_trees(reads, {r for r in roots if r}, rules.max_depth, 20)
        sizes = treecheck._blob_sizes(reads, trees, 20)
    walk = treecheck._FastWalk(trees, sizes, rules)
    assert all(walk.run(root) for root in roots if root)
    assert treecheck.check_trees_in_bulk(light, runs, rules) == {}
