"""A fetch reads the refs under its prefix from git's files (``sharing.reffiles``): the same
refs ``git for-each-ref`` lists, loose and packed, or None (git lists them) whenever the files
hold anything but plain refs. Real repositories, real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from _sharing_helpers import create_refs, make_run, make_team, refs_by_git, runs_of
from conftest import git

from gitruns.format.ids import new_run_id
from gitruns.sharing.fetch import fetch_runs
from gitruns.sharing.lightrepo import open_for_transfer
from gitruns.sharing.reffiles import refs_under, refs_under_each

PREFIX = "refs/remote-runs/origin/"


def test_loose_packed_and_both_read_as_git_lists_them(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    repo, common = team.bob, team.bob / ".git"
    head = git(repo, "rev-parse", "HEAD").strip()
    assert refs_under(common, PREFIX) == {} == refs_by_git(repo, PREFIX)  # nothing yet
    packed = [f"{PREFIX}{new_run_id()}" for _ in range(5)]
    create_refs(repo, [*packed, f"{PREFIX}nested/{new_run_id()}", "refs/remote-runs/other/x"], head)
    git(repo, "pack-refs", "--all")
    loose = [f"{PREFIX}{new_run_id()}" for _ in range(3)]
    create_refs(repo, loose, head)
    # a packed ref rewritten loose (the loose file wins), and one deleted
    run_id = make_run(repo)
    git(repo, "update-ref", packed[0], runs_of(repo)[run_id])
    git(repo, "update-ref", "-d", packed[1])
    (common / "refs" / "remote-runs" / "origin" / f"{new_run_id()}.lock").write_text("x\n")
    found = refs_under(common, PREFIX)
    assert found == refs_by_git(repo, PREFIX)
    assert found is not None and found[packed[0]] == runs_of(repo)[run_id]
    assert packed[1] not in found and "refs/remote-runs/other/x" not in found
    other = "refs/remote-runs/other/"
    assert refs_under(common, other) == refs_by_git(repo, other)


def test_anything_but_plain_refs_is_left_to_git(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    repo, common = team.bob, team.bob / ".git"
    head = git(repo, "rev-parse", "HEAD").strip()
    name = f"{PREFIX}{new_run_id()}"
    create_refs(repo, [name], head)
    assert refs_under(common, PREFIX) == refs_by_git(repo, PREFIX)
    git(repo, "symbolic-ref", f"{PREFIX}link", name)
    assert refs_under(common, PREFIX) is None  # a symbolic ref: git resolves it
    git(repo, "symbolic-ref", "-d", f"{PREFIX}link")
    (common / "refs" / "remote-runs" / "origin" / "odd name").write_text(head + "\n")
    assert refs_under(common, PREFIX) is None
    (common / "refs" / "remote-runs" / "origin" / "odd name").unlink()
    git(repo, "pack-refs", "--all")
    packed = common / "packed-refs"
    text = packed.read_text()
    packed.write_text(text.replace(" sorted", ""))  # an old git's packed-refs
    assert refs_under(common, PREFIX) is None
    packed.write_text(text)
    assert refs_under(common, PREFIX) == refs_by_git(repo, PREFIX) == {name: head}
    assert refs_under(common, "refs/../") is None  # never a path outside refs/


def test_a_fetch_reads_its_refs_from_files_and_still_checks_every_new_run(
    tmp_path: Path,
) -> None:
    """With its refs read from files (no `git for-each-ref`, no root trees listed by git) a
    fetch still finds each new, updated and gone run, and drops a run that is not a run."""
    team = make_team(tmp_path)
    ids = {make_run(team.alice, f"r{i}") for i in range(3)}
    assert (
        subprocess.run(
            ["git", "push", "-q", "origin", "refs/runs/*:refs/runs/*"], cwd=team.alice
        ).returncode
        == 0
    )
    head = git(team.remote, "rev-parse", "main").strip()
    git(team.remote, "update-ref", f"refs/runs/evil/{new_run_id()}", head)  # not a run ref
    report = fetch_runs(open_for_transfer(team.bob), "origin")
    assert set(report.new) == ids
    assert len(report.invalid) == 1 and "/evil/" in report.invalid[0][0]
    assert set(refs_by_git(team.bob, PREFIX)) == {f"{PREFIX}{i}" for i in ids}
    gone = sorted(ids)[0]
    git(team.remote, "update-ref", "-d", f"refs/runs/{gone}")
    report = fetch_runs(open_for_transfer(team.bob), "origin")
    assert report.removed == [gone] and report.new == [] and report.invalid[0][0].count("/evil/")


def test_a_symbolic_ref_to_a_ref_under_the_prefix_reads_when_asked(tmp_path: Path) -> None:
    """A clone's refs/remotes/origin/HEAD names refs/remotes/origin/main: with ``symbolic``
    it lists as git lists it (main's commit); a link going elsewhere, or nowhere, is git's."""
    team = make_team(tmp_path)
    repo, common = team.bob, team.bob / ".git"
    prefix = "refs/remotes/origin/"
    assert (common / "refs" / "remotes" / "origin" / "HEAD").read_text().startswith("ref: ")
    assert refs_under(common, prefix) is None  # not asked: git lists it
    found = refs_under(common, prefix, symbolic=True)
    assert found == refs_by_git(repo, prefix) and set(found) == {f"{prefix}HEAD", f"{prefix}main"}
    git(repo, "pack-refs", "--all")  # the target packed, the link still a loose file
    assert refs_under(common, prefix, symbolic=True) == refs_by_git(repo, prefix)
    git(repo, "symbolic-ref", f"{prefix}HEAD", "refs/heads/main")  # outside the prefix
    assert refs_under(common, prefix, symbolic=True) is None
    git(repo, "symbolic-ref", f"{prefix}HEAD", f"{prefix}gone")  # dangling
    assert refs_under(common, prefix, symbolic=True) is None


def test_packed_refs_read_for_several_prefixes_at_once(tmp_path: Path) -> None:
    """``refs_under_each`` reads packed-refs once for all prefixes: the same refs as git
    lists, a tag's peeled line skipped, and None when a packed name is not plain."""
    team = make_team(tmp_path)
    repo, common = team.bob, team.bob / ".git"
    head = git(repo, "rev-parse", "HEAD").strip()
    names = [f"{PREFIX}{new_run_id()}" for _ in range(4)] + [f"{PREFIX}a.b/c-d_e.f"]
    create_refs(repo, [*names, f"refs/runs/{new_run_id()}"], head)
    git(repo, "tag", "-a", "-m", "a tag", "v1")  # packed with its peeled line
    tag = git(repo, "rev-parse", "v1").strip()
    create_refs(repo, [f"{PREFIX}tagged"], tag)
    git(repo, "pack-refs", "--all")
    assert "\n^" in (common / "packed-refs").read_text()
    prefixes = [PREFIX, "refs/runs/", "refs/remotes/origin/"]
    expected = {k: v for p in prefixes for k, v in refs_by_git(repo, p).items()}
    assert refs_under_each(common, prefixes, symbolic=["refs/remotes/origin/"]) == expected
    assert expected[f"{PREFIX}tagged"] == tag and len(expected) == 9
    assert refs_under_each(common, prefixes) is None  # origin/HEAD, not asked to read it
    create_refs(repo, [f"{PREFIX}odd+name"], head)
    git(repo, "pack-refs", "--all")
    assert refs_under(common, PREFIX) is None
    assert refs_under(common, "refs/runs/") == refs_by_git(repo, "refs/runs/")


def test_a_folder_read_whole_only_when_every_file_is_one_id(tmp_path: Path) -> None:
    """A folder of loose refs is checked at once (names joined, files joined): any file
    that is not exactly one id and a newline, whatever its neighbours hold, sends the read
    to git, and ids of both lengths read file by file."""
    team = make_team(tmp_path)
    repo, common = team.bob, team.bob / ".git"
    head = git(repo, "rev-parse", "HEAD").strip()
    names = [f"{PREFIX}{new_run_id()}" for _ in range(6)]
    create_refs(repo, names, head)
    folder = common / "refs" / "remote-runs" / "origin"
    assert refs_under(common, PREFIX) == refs_by_git(repo, PREFIX) == dict.fromkeys(names, head)
    odd = folder / new_run_id()
    for content in (
        "",  # empty: joined, the ids would shift by one
        head,  # no newline
        f"{head}\n{head[:38]}\n",  # 80 bytes: two lines
        f"{head}\n\n",
        f"{head[:20]}\n{head[:19]}\n",  # 41 bytes, not one id
        f"{head.upper()}\n",
        f"ref: {names[0]}\n",  # symbolic, not asked to read it
    ):
        odd.write_text(content)
        assert refs_under(common, PREFIX) is None, content
    odd.unlink()
    (folder / "two\nnames").write_text(f"{head}\n")  # a newline in a name
    assert refs_under(common, PREFIX) is None
    (folder / "two\nnames").unlink()
    sha256 = "ab" * 32
    (folder / "long").write_text(f"{sha256}\n")  # a SHA-256 id beside SHA-1 ones
    assert refs_under(common, PREFIX) == {**dict.fromkeys(names, head), f"{PREFIX}long": sha256}
    (folder / "long").unlink()
    (folder / "sub").mkdir()
    (folder / "sub" / "x.y").write_text(f"{head}\n")  # nested: read too, as git lists it
    assert (
        refs_under(common, PREFIX)
        == refs_by_git(repo, PREFIX)
        == {
            **dict.fromkeys(names, head),
            f"{PREFIX}sub/x.y": head,
        }
    )
