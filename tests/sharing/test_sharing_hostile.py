"""A hostile remote serving crafted runs: each is reported with its ref and skipped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from _sharing_helpers import make_run, make_team, runs_of, store
from conftest import fsck, git, gitruns_cli

from gitruns.errors import InvalidRunError
from gitruns.format import yamlio
from gitruns.format.ids import new_run_id
from gitruns.runs.model import load_run
from gitruns.runs.untrusted import Limits, load_untrusted_run
from gitruns.sharing import fetch_runs, pull_runs, push_runs

BILLION_LAUGHS = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def _plumb(remote: Path, *args: str, data: bytes | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=remote, input=data, capture_output=True, check=True)
    return result.stdout.decode().strip()


def _blob(remote: Path, data: bytes) -> str:
    return _plumb(remote, "hash-object", "-w", "--stdin", data=data)


def _tree(remote: Path, entries: list[tuple[str, str, str, str]]) -> str:
    text = "".join(f"{mode} {kind} {oid}\t{name}\n" for mode, kind, oid, name in entries)
    return _plumb(remote, "mktree", "--missing", data=text.encode())


def _crafted_run(
    remote: Path,
    valid_tip: str,
    extra: list[tuple[str, str, str, str]],
    run_yaml: bytes | None = None,
    tree: str | None = None,
) -> str:
    """A run whose tree is the valid run's tree (run.yaml renamed to a fresh id) + ``extra``."""
    run_id = new_run_id()
    if tree is None:
        document = yamlio.load(
            _plumb(remote, "cat-file", "blob", f"{valid_tip}:run.yaml").encode(), "x"
        )
        document["id"] = run_id
        yaml_blob = _blob(remote, run_yaml if run_yaml is not None else yamlio.dump(document))
        listing = _plumb(remote, "ls-tree", valid_tip).splitlines()
        entries = []
        for line in listing:
            meta, name = line.split("\t")
            mode, kind, oid = meta.split()
            entries.append((mode, kind, yaml_blob if name == "run.yaml" else oid, name))
        tree = _tree(remote, entries + extra)
    commit = _plumb(remote, "commit-tree", tree, "-p", valid_tip, "-m", "crafted", data=b"")
    _plumb(remote, "update-ref", f"refs/runs/{run_id}", commit)
    return run_id


def _literal_tree(remote: Path, name: bytes, blob: str) -> str:
    raw = b"100644 " + name + b"\x00" + bytes.fromhex(blob)
    return _plumb(remote, "hash-object", "--literally", "-t", "tree", "-w", "--stdin", data=raw)


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    team = make_team(tmp_path)
    good = make_run(team.alice, "good")
    push_runs(store(team.alice), "origin", allow_unpublished_code=True)
    remote = team.remote
    tip = runs_of(remote)[good]
    secret = _blob(remote, b"/etc/passwd")
    text = _blob(remote, b"x\n")
    cases = {
        "symlink": _crafted_run(remote, tip, [("120000", "blob", secret, "evil-link")]),
        "dotdot": _crafted_run(remote, tip, [("100644", "blob", text, "..")]),
        "dotgit": _crafted_run(
            remote,
            tip,
            [("040000", "tree", _tree(remote, [("100644", "blob", text, "config")]), ".git")],
        ),
        "submodule": _crafted_run(remote, tip, [("160000", "commit", "1" * 40, "sub")]),
        "yaml_bomb": _crafted_run(remote, tip, [], run_yaml=BILLION_LAUGHS),
        "bad_schema": _crafted_run(remote, tip, [], run_yaml=b"id: 1\nstatus: WEIRD\n"),
        "huge_yaml": _crafted_run(remote, tip, [], run_yaml=b"#" * (9 * 1024 * 1024)),
        "big_metric": _crafted_run(
            remote,
            tip,
            [
                (
                    "100644",
                    "blob",
                    _blob(remote, b"step,timestamp,value\n" + b"1,1,1\n" * 500),
                    "big.csv",
                )
            ],
        ),
        "slash_path": _crafted_run(remote, tip, [], tree=_literal_tree(remote, b"../evil", text)),
    }
    _plumb(remote, "update-ref", "refs/runs/not-a-run-id", tip)
    cases["bad_name"] = "not-a-run-id"
    return team.bob, tmp_path, {**cases, "good": good}


# Caught by fetch's tree check; the others (bad YAML or schema) when a run is read or merged.
TREE_CASES = ("symlink", "dotdot", "dotgit", "submodule", "huge_yaml", "big_metric", "slash_path")
METADATA_CASES = ("yaml_bomb", "bad_schema")


def test_fetch_reports_and_skips_unsafe_trees(hostile: tuple[Path, Path, dict[str, str]]) -> None:
    bob, tmp_path, cases = hostile
    report = fetch_runs(store(bob), "origin", limits=Limits(max_metric_bytes=1000))
    invalid = dict(report.invalid)
    for case in (*TREE_CASES, "bad_name"):
        assert f"refs/remote-runs/origin/{cases[case]}" in invalid, f"{case} was not refused"
    assert "symlink" in invalid[f"refs/remote-runs/origin/{cases['symlink']}"]
    assert "submodule" in invalid[f"refs/remote-runs/origin/{cases['submodule']}"]
    assert "unsafe path" in invalid[f"refs/remote-runs/origin/{cases['slash_path']}"]
    kept = set(runs_of(bob, "refs/remote-runs/origin/"))
    assert kept == {cases["good"], *(cases[c] for c in METADATA_CASES)}
    fetched = store(bob)
    for case in METADATA_CASES:
        run_id = cases[case]
        ref = f"refs/remote-runs/origin/{run_id}"
        with pytest.raises(InvalidRunError, match=ref):
            load_untrusted_run(
                fetched, ref, run_id, runs_of(bob, "refs/remote-runs/origin/")[run_id]
            )
        with pytest.raises(InvalidRunError):  # what `ls` and `show` read runs with
            load_run(fetched, run_id, runs_of(bob, "refs/remote-runs/origin/")[run_id])
    assert not any(p.name in ("evil", "evil-link", "passwd") for p in tmp_path.rglob("*"))


def test_pull_brings_only_the_valid_run(hostile: tuple[Path, Path, dict[str, str]]) -> None:
    bob, _tmp, cases = hostile
    result = gitruns_cli(bob, "pull")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("skipped") == len(cases) - 2  # all but good and big_metric
    assert "alias" in result.stderr  # the YAML bomb, refused by pull's metadata check
    assert "big.csv" not in result.stderr  # within the default metric limit
    assert cases["good"] in runs_of(bob)
    assert cases["symlink"] not in runs_of(bob)
    listing = gitruns_cli(bob, "ls")
    assert listing.returncode == 0, listing.stderr
    fsck_ok = subprocess.run(["git", "fsck", "--no-dangling"], cwd=bob, capture_output=True)
    assert fsck_ok.returncode in (0, 1)  # crafted objects may upset fsck; gitruns must not


def test_plain_git_fetch_of_crafted_runs_is_checked_on_pull(
    hostile: tuple[Path, Path, dict[str, str]],
) -> None:
    bob, _tmp, cases = hostile
    gitruns_cli(bob, "remote", "setup")
    git(bob, "fetch", "-q")  # git itself brings everything into refs/remote-runs/origin/
    assert len(runs_of(bob, "refs/remote-runs/origin/")) == len(cases)
    _fetched, report = pull_runs(store(bob), "origin")
    assert report.added == [cases["good"]] or cases["good"] in report.added
    assert len(report.invalid) >= len(cases) - 2


def test_ls_after_plain_git_fetch_checks_fetched_trees(
    hostile: tuple[Path, Path, dict[str, str]],
) -> None:
    bob, _tmp, cases = hostile
    gitruns_cli(bob, "remote", "setup")
    git(bob, "fetch", "-q")  # no gitruns fetch: only `ls` sees these runs
    listing = gitruns_cli(bob, "ls", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    shown = {run["id"] for run in json.loads(listing.stdout)}
    assert cases["good"] in shown
    for case in ("symlink", "dotgit", "submodule", "slash_path", "yaml_bomb", "bad_schema"):
        assert cases[case] not in shown, case
        assert f"refs/remote-runs/origin/{cases[case]}" in listing.stderr, case


def test_valid_runs_pass_fsck(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    make_run(team.alice)
    push_runs(store(team.alice), "origin", allow_unpublished_code=True)
    pull_runs(store(team.bob), "origin")
    fsck(team.bob)


def test_a_bad_folder_shared_by_many_runs_fails_each_of_them(tmp_path: Path) -> None:
    """Fetch checks runs in one pass that reads each folder once (issue 16): a folder with
    a symlink shared by three runs still makes each of the three fail, and the valid run
    beside them, which shares its other folders, still passes."""
    team = make_team(tmp_path)
    good = make_run(team.alice, "good")
    push_runs(store(team.alice), "origin", allow_unpublished_code=True)
    remote = team.remote
    tip = runs_of(remote)[good]
    link = _blob(remote, b"/etc/passwd")
    shared = _tree(remote, [("120000", "blob", link, "evil-link")])
    bad = [_crafted_run(remote, tip, [("040000", "tree", shared, "shared")]) for _ in range(3)]
    report = fetch_runs(store(team.bob), "origin")
    failed = {ref.rsplit("/", 1)[-1]: why for ref, why in report.invalid}
    assert set(failed) == set(bad)
    assert all("symlink" in why and "shared/evil-link" in why for why in failed.values())
    assert report.new == [good]
    fsck(team.bob)
