"""gc never loses live work: runs being recorded or finalised while `git gc --prune=now`
(or `gitruns gc --now`) runs keep every object (issue 15, items 1 and 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pygit2
import pytest
from _store_helpers import child_script, run_refs, staging_dirs
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.format import packs
from gitruns.recording import spare
from gitruns.runs import gc
from gitruns.storage import Store


def test_objects_written_by_hand_are_those_libgit2_writes(repo: Path) -> None:
    """tree_bytes / commit_bytes give byte-identical objects (same ids) to libgit2's."""
    store = Store(repo)
    lg2 = store.repo
    blob = lg2.create_blob(b"x\n")
    builder = lg2.TreeBuilder()
    for name in ("b", "a.txt", "a-", "a0"):
        builder.insert(name, blob, pygit2.GIT_FILEMODE_BLOB)
    inner = builder.write()
    builder.insert("a", inner, pygit2.GIT_FILEMODE_TREE)
    expected_tree = str(builder.write())
    entries = {n: (packs.MODE_BLOB, str(blob)) for n in ("b", "a.txt", "a-", "a0")}
    inner_ours = packs.object_id("tree", packs.tree_bytes(entries))
    assert inner_ours == str(inner)
    entries["a"] = (packs.MODE_TREE, inner_ours)
    assert packs.object_id("tree", packs.tree_bytes(entries)) == expected_tree
    head = str(lg2.head.target)
    for offset in (0, 90, -330):
        sig = pygit2.Signature("Ann Other", "ann@example.com", 1_700_000_000, offset)
        expected = lg2.create_commit(None, sig, sig, "run x: FINISHED\n", inner, [lg2.head.target])
        line = packs.signature_line(sig.raw_name, sig.raw_email, sig.time, sig.offset)
        data = packs.commit_bytes(str(inner), [head], line, line, "run x: FINISHED\n")
        assert packs.object_id("commit", data) == str(expected)


def test_a_written_pack_is_valid_and_kept_until_released(repo: Path, tmp_path: Path) -> None:
    store = Store(repo)
    big = tmp_path / "big.csv"
    big.write_bytes(b"step,timestamp,value\n" + b"1,2,0.5\n" * 300_000)
    pack = packs.PackWriter(store.objects_dir, tmp_path / "t", "test")
    blob = pack.add_file(big)
    assert pack.add_file(big) == blob and len(pack) == 1  # the same content once
    small = pack.add("blob", b"hello\n")
    kept = pack.finish()
    assert kept is not None and kept.keep.exists()
    stem = str(kept.keep)[: -len(".keep")]
    git(repo, "verify-pack", stem + ".idx")
    assert git(repo, "cat-file", "-p", small) == "hello\n"
    assert git(repo, "cat-file", "-s", blob).strip() == str(big.stat().st_size)
    git(repo, "gc", "--prune=now", "-q")
    assert git(repo, "cat-file", "-t", blob).strip() == "blob"  # unreachable, yet kept
    kept.release()
    git(repo, "gc", "--prune=now", "-q")
    assert git(repo, "cat-file", "-e", blob, check=False) == ""
    assert subprocess.run(["git", "cat-file", "-e", blob], cwd=repo).returncode != 0
    assert list((tmp_path / "t").iterdir()) == []


def test_small_objects_packed_with_a_small_window_read_back_in_git(
    repo: Path, tmp_path: Path
) -> None:
    """Small objects are compressed with a 4 KiB zlib window and remembered by id for the
    next pack (a sweep repeats its environment files): git reads both packs, and an
    object around the size limit too."""
    store = Store(repo)
    contents = [b"", b"x\n", bytes(range(256)) * 16, bytes(range(256)) * 16 + b"!", b"y" * 9000]
    stems = []
    for _ in range(2):  # the second pack takes every entry from the first one's memory
        pack = packs.PackWriter(store.objects_dir, tmp_path / "t", "test")
        ids = [pack.add("blob", data) for data in contents]
        kept = pack.finish()
        assert kept is not None
        stems.append(str(kept.keep)[: -len(".keep")])
        kept.release()
    assert stems[0] == stems[1]  # byte for byte the same pack
    git(repo, "verify-pack", stems[0] + ".idx")
    for oid, data in zip(ids, contents, strict=True):
        shown = subprocess.run(["git", "cat-file", "blob", oid], cwd=repo, capture_output=True)
        assert shown.stdout == data
    fsck(repo)


def test_a_pack_built_in_memory_goes_on_in_its_file(repo: Path, tmp_path: Path) -> None:
    """Small objects are kept in memory; a streamed file, or more than a megabyte of small
    objects, moves the pack to its temporary file, and every object reads back."""
    store = Store(repo)
    big = tmp_path / "big.csv"
    big.write_bytes(b"step,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(90_000)))
    pack = packs.PackWriter(store.objects_dir, tmp_path / "t", "test")
    first = pack.add("blob", b"first\n")
    streamed = pack.add_file(big)
    last = pack.add("blob", b"last\n")
    many = [pack.add("blob", os.urandom(3000)) for _ in range(400)]  # 1.2 MB, incompressible
    kept = pack.finish()
    assert kept is not None
    git(repo, "verify-pack", str(kept.keep)[: -len(".keep")] + ".idx")
    assert git(repo, "cat-file", "-p", first) == "first\n"
    assert git(repo, "cat-file", "-p", last) == "last\n"
    assert git(repo, "cat-file", "-s", streamed).strip() == str(big.stat().st_size)
    assert all(git(repo, "cat-file", "-s", oid).strip() == "3000" for oid in many[::50])
    only_small = packs.PackWriter(store.objects_dir, tmp_path / "t", "test")
    for _ in range(400):
        only_small.add("blob", os.urandom(3000))
    small_kept = only_small.finish()
    assert small_kept is not None
    git(repo, "verify-pack", str(small_kept.keep)[: -len(".keep")] + ".idx")
    assert list((tmp_path / "t").iterdir()) == []


def test_pack_index_with_large_offsets_is_well_formed() -> None:
    """Offsets past 2 GiB go to the 8-byte table (packs of huge runs)."""
    entries = {bytes([i]) * 20: (offset, i) for i, offset in enumerate([12, 3 << 30, 5 << 30])}
    data = packs._index_bytes(entries, b"\0" * 20)
    count = 3
    start = 8 + 256 * 4 + 20 * count + 4 * count
    small = [int.from_bytes(data[start + 4 * i : start + 4 * i + 4], "big") for i in range(3)]
    assert small[0] == 12 and small[1] == 0x80000000 and small[2] == 0x80000001
    large = data[start + 12 : start + 28]
    assert int.from_bytes(large[:8], "big") == 3 << 30
    assert int.from_bytes(large[8:], "big") == 5 << 30


def test_git_gc_during_a_dirty_run_keeps_its_snapshot(repo: Path) -> None:
    """A --prune=now gc while a run on a dirty tree is in progress used to delete its
    snapshot commit: end() died with NotFoundError and the run stayed staged for ever."""
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "new_module.py").write_text("x = 1\n")
    git(repo, "add", "new_module.py")
    with gitruns.start_run(name="dirty") as run:
        run.log_metric("loss", 0.5)
        assert gitruns_cli(repo, "gc", "--now").returncode == 0
        git(repo, "gc", "--prune=now", "-q")
        git(repo, "reflog", "expire", "--expire=now", "--all")
        git(repo, "gc", "--prune=now", "-q")
    assert run.commit is not None
    loaded = gitruns.get_run(run.id)
    snapshot = loaded.git["snapshot"]
    assert snapshot and git(repo, "rev-parse", f"{run.commit}^1").strip() == snapshot
    assert "changed" in git(repo, "show", f"{snapshot}:train.py")
    assert git(repo, "show", f"{snapshot}:new_module.py") == "x = 1\n"
    assert staging_dirs(repo) == []
    assert packs.gitruns_keeps(Store(repo).objects_dir) == []  # released at the end
    fsck(repo)


def test_stale_keep_files_are_collected(repo: Path) -> None:
    """A process killed between writing a pack and moving its ref leaves a keep file;
    gitruns gc removes it once it is old and its run is not staged."""
    (repo / "train.py").write_text("print('changed')\n")
    run = gitruns.start_run(name="abandoned")
    store = Store(repo)
    [(keep, reason)] = packs.gitruns_keeps(store.objects_dir)
    assert run.id in reason
    old = time.time() - 7200
    os.utime(keep, (old, old))
    assert gitruns_cli(repo, "gc").returncode == 0
    assert keep.exists()  # its run is still staged (and alive)
    run.end()
    assert not keep.exists()
    stale = keep.with_name("pack-" + "0" * 40 + ".keep")
    stale.write_bytes(packs.KEEP_PREFIX + b"123 run 01a2165a-f06d-7402-86c0-3871664a9859 code\n")
    os.utime(stale, (old, old))
    assert gitruns_cli(repo, "gc").returncode == 0
    assert not stale.exists()


def test_a_brief_keep_is_a_second_name_of_its_index(repo: Path) -> None:
    """The keep file of a run's pack is a hard link of the pack's index (no new file):
    git honours it, gitruns knows it as its own, removing it leaves the index whole, and
    one left by a killed writer is collected by gitruns gc once old."""
    store = Store(repo)
    commit = store.create_run_commit({"run.yaml": b"a: 1\n"}, [], "run x\n", time.time())
    [(keep, reason)] = packs.gitruns_keeps(store.objects_dir)
    index = keep.with_suffix(".idx")
    assert reason == packs.LINKED_KEEP_REASON and os.path.samefile(keep, index)
    git(repo, "gc", "--prune=now", "-q")
    assert git(repo, "cat-file", "-t", commit).strip() == "commit"  # unreachable, yet kept
    old = time.time() - 7200  # as if its writer was killed two hours ago
    os.utime(keep, (old, old))
    assert gitruns_cli(repo, "gc").returncode == 0
    assert not keep.exists() and index.exists()
    git(repo, "verify-pack", str(index))
    git(repo, "gc", "--prune=now", "-q")
    assert subprocess.run(["git", "cat-file", "-e", commit], cwd=repo).returncode != 0
    with gitruns.start_run(name="linked") as run:
        run.log_metric("loss", 0.5)
    assert packs.gitruns_keeps(store.objects_dir) == []  # released once the ref exists
    assert run_refs(repo) == [f"refs/runs/{run.id}"]
    fsck(repo)


def _age_artifacts(repo: Path) -> list[Path]:
    """The artifact objects, made old enough for gc to remove any no run references."""
    files = sorted(p for p in (repo / ".git/lfs/objects").rglob("*") if p.is_file())
    for path in files:
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    return files


def test_gc_survives_a_run_ending_while_it_reads_the_run(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that ends between gc's listing of staging/ and its reading of that run's
    journal (its folder renamed away to be kept as a spare) crashed `gitruns gc` with
    FileNotFoundError; and its artifact, in neither the refs read before nor the journal,
    would have been removed. Made deterministic: the run ends inside gc, at that moment."""
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights that only this run references\n")
    run = gitruns.start_run(name="ends-during-gc")
    run.log_artifact(model)
    [artifact] = _age_artifacts(repo)
    staged = repo / ".git/gitruns/staging" / run.id
    assert staged.is_dir()
    real_writer_dirs = gc.writer_dirs

    def run_ends_first(run_dir: Path) -> list[Path]:
        if run_dir == staged and run.status == "RUNNING":
            run.end()  # listed a moment ago; gone (a spare in tmp/) by the time it is read
            assert not staged.exists()
        return real_writer_dirs(run_dir)

    monkeypatch.setattr(gc, "writer_dirs", run_ends_first)
    report = gc.collect_garbage(Store(repo), now=True)
    assert run.status == "FINISHED" and run.commit is not None
    assert report.artifacts_removed == 0 and artifact.exists()
    assert gitruns.get_run(run.id).artifacts[0]["path"] == "model.bin"
    fsck(repo)


def test_gc_leaves_alone_a_spare_taken_while_it_looks_at_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process's spare folder, listed in tmp/ by gc and then taken for its next run
    (renamed into staging/) before gc checks it: the new run keeps its folder and lock."""
    with gitruns.start_run(name="first") as first:
        first.log_metric("loss", 1.0)
    [kept] = [p for p in (repo / ".git/gitruns/tmp").iterdir() if p.name.startswith("spare-")]
    taken: list[gitruns.ActiveRun] = []
    real_is_dead_spare = spare.is_dead_spare

    def next_run_starts_first(folder: Path) -> bool:
        if folder == kept and not taken:
            taken.append(gitruns.start_run(name="second"))
            assert not kept.exists()  # the spare became the second run's folder
        return real_is_dead_spare(folder)

    monkeypatch.setattr(gc, "is_dead_spare", next_run_starts_first)
    gc.collect_garbage(Store(repo), now=True)
    [second] = taken
    staged = repo / ".git/gitruns/staging" / second.id
    assert (staged / "owner.lock").exists() and (staged / "start.json").exists()
    assert gitruns_cli(repo, "gc", "--now").returncode == 0  # another process: still alive
    assert staged.is_dir()
    second.log_metric("loss", 0.5)
    second.end()
    assert gitruns.get_run(second.id).metric_history("loss")
    assert len(run_refs(repo)) == 2
    fsck(repo)


WRITER = """
import sys
for i in range(int(sys.argv[1])):
    with gitruns.start_run(name=f"w{sys.argv[2]}-{i}") as run:
        run.log_param("i", i)
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric(f"key{i}", float(i))
    if i % 5 == 0:
        gitruns.set_run_tags(run.id, {"checked": str(i)})
print("done", flush=True)
"""


@pytest.mark.slow
def test_gc_racing_writers_loses_nothing(repo: Path) -> None:
    """Four writer loops (on a dirty tree, annotating as they go) against repeated
    `gitruns gc --now` and `git gc --prune=now`: every run is whole, fsck is clean.
    Before objects were written as kept packs, each race broke 5-12 runs."""
    (repo / "train.py").write_text("print('dirty')\n")
    per_writer = 25
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", child_script(WRITER), str(per_writer), str(n)],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    rounds = 0
    while any(w.poll() is None for w in writers) or rounds < 2:
        result = gitruns_cli(repo, "gc", "--now")
        assert result.returncode == 0, result.stderr
        git(repo, "gc", "--prune=now", "-q")
        rounds += 1
    for writer in writers:
        out, err = writer.communicate()
        assert writer.returncode == 0 and "done" in out, err
    fsck(repo)
    assert len(run_refs(repo)) == 4 * per_writer
    listed = gitruns_cli(repo, "ls", "--format", "json")
    assert listed.returncode == 0 and "skipping" not in listed.stderr, listed.stderr
    for run in gitruns.list_runs():
        assert run.git["snapshot"] and run.metric_history("loss")
