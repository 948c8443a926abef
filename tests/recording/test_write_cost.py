"""What the write path of a small run skips since issue 16 part 3 (fifth round), and that the
runs it writes are the same: real repositories, the real git CLI, ``git fsck --strict``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _store_helpers import git_bytes, wait_for_compaction
from conftest import fsck, git

import gitruns
from gitruns import compaction
from gitruns.format import packcounts, packs
from gitruns.recording.staging import read_small_file


def small_run(index: int) -> str:
    with gitruns.start_run(name=f"run-{index}", params={"lr": 0.01}) as run:
        run.log_metric("loss", 0.5, step=0)
        run.set_tag("model", "mlp")
    return run.id


def test_a_secret_in_an_api_runs_error_is_still_scrubbed(repo: Path) -> None:
    """The scrubber is made only when a run needs it (an error, logs): a failed API run
    whose error repeats a secret param still has it redacted in git."""
    secret = "planted-api-pw-4471"
    with pytest.raises(ValueError), gitruns.start_run(params={"password": secret}) as run:
        raise ValueError(f"cannot log in with {secret}")
    loaded = gitruns.get_run(run.id)
    assert loaded.status == "FAILED"
    run_yaml = (loaded.file("run.yaml") or b"").decode()
    assert "cannot log in with [REDACTED]" in run_yaml and secret not in run_yaml
    assert secret.encode() not in git_bytes(repo, "cat-file", "--batch-all-objects", "--batch")
    fsck(repo)


def test_packs_are_counted_every_few_writes_and_rolled_up_when_past(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a limit of 16 a process lists objects/pack every 2 writes, or at once when its
    estimate passes the limit: 40 runs still get rolled up, fsck-clean. (How far depends
    on how long each background job takes: writes made while one runs start none.)"""
    monkeypatch.setattr(compaction, "PACK_LIMIT", 16)
    monkeypatch.setattr(compaction, "_counted", {})
    ids = [small_run(i) for i in range(40)]
    wait_for_compaction(repo)
    objects = repo / ".git" / "objects"
    assert packcounts.count_packs(objects) < 40  # one pack a run without any roll-up
    fsck(repo)
    listed = git(repo, "for-each-ref", "--format=%(refname)", "refs/runs/").split()
    assert sorted(listed) == sorted(f"refs/runs/{i}" for i in ids)


def test_other_writers_packs_are_noticed_within_a_few_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compaction, "PACK_LIMIT", 50)
    monkeypatch.setattr(compaction, "_counted", {})
    objects = tmp_path / "objects"
    (objects / "pack").mkdir(parents=True)

    def add_packs(count: int) -> None:
        for _ in range(count):
            (objects / "pack" / f"pack-{os.urandom(20).hex()}.pack").write_bytes(b"")

    add_packs(10)
    assert compaction._repack_due(objects, exact=False) is False  # the first call counts
    add_packs(45)  # another process's writes: 55 packs now, past the limit
    answers = [compaction._repack_due(objects, exact=False) for _ in range(50 // 8)]
    assert answers[-1] is True and answers.count(True) == 1
    assert compaction._repack_due(objects, exact=True) is True  # a fetch always counts


def test_a_process_counts_at_once_when_its_own_writes_pass_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compaction, "PACK_LIMIT", 50)
    monkeypatch.setattr(compaction, "_counted", {})
    objects = tmp_path / "objects"
    (objects / "pack").mkdir(parents=True)
    due = []
    for _ in range(60):  # one pack a write, as a run adds
        due.append(compaction._repack_due(objects, exact=False))
        (objects / "pack" / f"pack-{os.urandom(20).hex()}.pack").write_bytes(b"")
    assert due.index(True) == 51  # the first write that finds 51 packs


def test_read_small_file_reads_whole_files(tmp_path: Path) -> None:
    for size in (0, 1, 4095, 300_000):
        path = tmp_path / f"f{size}"
        data = os.urandom(size)
        path.write_bytes(data)
        assert read_small_file(path) == data
    with pytest.raises(FileNotFoundError):
        read_small_file(tmp_path / "missing")


def test_a_written_pack_leaves_no_temporary_file(repo: Path) -> None:
    small_run(0)
    tmp = repo / ".git" / "gitruns" / "tmp"
    assert [p.name for p in tmp.iterdir() if p.name.startswith("tmp-")] == []
    writer = packs.PackWriter(repo / ".git" / "objects", tmp, "test")
    writer.add("blob", b"never published\n")
    writer.discard()  # a pack given up: its temporary files go
    assert [p.name for p in tmp.iterdir() if p.name.startswith("tmp-")] == []


def test_head_read_once_through_packed_refs_and_slashed_branches(repo: Path) -> None:
    """The code state reads HEAD once: a branch with slashes whose ref is in packed-refs
    gives the same commit and branch name as before."""
    git(repo, "checkout", "-q", "-b", "team/feature-x")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "team" / "feature-x").exists()
    run_id = small_run(0)
    loaded = gitruns.get_run(run_id)
    assert loaded.git["branch"] == "team/feature-x"
    assert loaded.git["commit"] == git(repo, "rev-parse", "HEAD").strip()
    fsck(repo)


def test_the_command_is_made_again_when_the_directory_changes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process's command fields are remembered between its runs, but never stale: a
    run started from another directory records that directory."""
    first, second = small_run(0), small_run(1)
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    third = small_run(2)
    commands = [gitruns.get_run(i).to_dict()["command"] for i in (first, second, third)]
    assert commands[0] == commands[1]
    assert commands[0]["cwd"] == str(repo) and commands[2]["cwd"] == str(repo / "sub")
    assert commands[2]["argv"] == commands[0]["argv"]
    fsck(repo)


def test_loose_refs_are_counted_only_up_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is the same as a full count's at the boundaries, and the listing stops
    once past the limit: 5,000 loose refs cost what 101 do."""
    common = tmp_path
    runs = common / "refs" / "runs"
    runs.mkdir(parents=True)
    seen: list[int] = []
    scandir = os.scandir

    class Counting:
        def __init__(self, path: object) -> None:
            self._inner = scandir(path)  # type: ignore[call-overload]

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self._inner.close()

        def __iter__(self) -> Counting:
            return self

        def __next__(self) -> os.DirEntry[str]:
            entry = next(self._inner)
            seen.append(1)
            return entry

    def add_refs(count: int) -> None:
        start = len(list(runs.iterdir()))
        for index in range(start, start + count):
            (runs / f"{index:08d}").write_text("0" * 40 + "\n")

    add_refs(compaction.REF_LIMIT)
    assert compaction.loose_refs_past_limit(common) is False  # exactly the limit
    add_refs(1)
    assert compaction.loose_refs_past_limit(common) is True
    # An eighth of the packed refs raises the limit: 8,800 packed lines allow 1,100 loose.
    (common / "packed-refs").write_bytes(b"x" * (8800 * compaction.PACKED_REF_BYTES))
    assert compaction.loose_refs_past_limit(common) is False
    add_refs(1100 - 101)
    assert compaction.loose_refs_past_limit(common) is False
    add_refs(3900)  # 5,000 loose refs, past 1,100
    monkeypatch.setattr(compaction.os, "scandir", Counting)
    assert compaction.loose_refs_past_limit(common) is True
    assert len(seen) <= 1101 + 2  # stopped at the 1,101st file (and maybe a folder or two)


def test_writes_during_another_process_compaction_look_again_only_every_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds the repack lock (a long roll-up or pack-refs), a
    process past the pack limit tries the lock once every PACK_LIMIT // 8 writes, not at
    each write; once the lock is free, it starts the compaction."""
    import subprocess
    import sys
    from dataclasses import dataclass

    from gitruns.locks import LivenessLock

    monkeypatch.setattr(compaction, "PACK_LIMIT", 50)
    monkeypatch.setattr(compaction, "_counted", {})
    git_dir = tmp_path / ".git"
    (git_dir / "objects" / "pack").mkdir(parents=True)
    (git_dir / "gitruns").mkdir()
    for _ in range(60):
        (git_dir / "objects" / "pack" / f"pack-{os.urandom(20).hex()}.pack").write_bytes(b"")

    @dataclass
    class Repo:
        git_dir: Path
        common_dir: Path
        objects_dir: Path
        gitruns_dir: Path

        def promisor_remote(self) -> None:
            return None

    repo = Repo(git_dir, git_dir, git_dir / "objects", git_dir / "gitruns")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            "f = open(sys.argv[1], 'ab'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('held', flush=True); sys.stdin.read()",
            str(repo.gitruns_dir / "repack.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    tries: list[Path] = []
    acquire = LivenessLock.acquire

    def counted(path: Path, *, create: bool) -> LivenessLock | None:
        tries.append(path)
        return acquire(path, create=create)

    monkeypatch.setattr(LivenessLock, "acquire", staticmethod(counted))
    started: list[object] = []
    monkeypatch.setattr(compaction.subprocess, "run", lambda *a, **k: started.append(a))
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        for _ in range(30):
            compaction.compact_if_due(repo)
        assert 1 <= len(tries) <= 30 // (50 // 8) + 1  # not 30
        assert started == []
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    for _ in range(50 // 8):  # the lock is free again: started within a few writes
        compaction.compact_if_due(repo)
    assert started


def test_a_run_in_a_sweep_asks_for_no_folder(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once its folders exist, a run makes none and asks mkdir for none (each ask was a
    failing system call, a stat and an exception); folders removed meanwhile (`git
    pack-refs` removes an emptied refs/runs/) are made again, and the runs are whole."""
    small_run(0)
    asked: list[str] = []
    mkdir = os.mkdir

    def counting(path: object, *args: object, **kwargs: object) -> None:
        asked.append(os.fspath(path))  # type: ignore[arg-type]
        mkdir(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", counting)
    ids = [small_run(i) for i in range(1, 4)]
    assert asked == []
    git(repo, "pack-refs", "--all")
    runs = repo / ".git" / "refs" / "runs"
    if runs.exists():  # older gits keep the emptied folder: remove it as newer ones do
        runs.rmdir()
    ids.append(small_run(4))
    assert asked == [str(runs)]
    assert (runs / ids[-1]).is_file()
    listed = git(repo, "for-each-ref", "--format=%(refname)", "refs/runs/").split()
    assert set(listed) >= {f"refs/runs/{i}" for i in ids}
    fsck(repo)


def test_a_pack_is_written_into_folders_that_do_not_exist_yet(repo: Path) -> None:
    """The pack's temporary folder and objects/pack are made when missing, for a small
    pack built in memory and for one spilled to its temporary file."""
    objects = repo / ".git" / "objects"
    for big in (False, True):
        tmp = repo / ".git" / "gitruns" / f"tmp-new-{big}"
        saved = objects / "pack-saved"
        (objects / "pack").rename(saved)
        try:
            writer = packs.PackWriter(objects, tmp, "test", brief_keep=True)
            blob = writer.add("blob", os.urandom(2 << 20) if big else b"tiny\n")
            kept = writer.finish()
            assert kept is not None and kept.keep.exists()
            kept.release()
            assert git(repo, "cat-file", "-t", blob).strip() == "blob"
            for path in (objects / "pack").iterdir():
                path.rename(saved / path.name)
        finally:
            (objects / "pack").rmdir()
            saved.rename(objects / "pack")
        assert [p.name for p in tmp.iterdir()] == []
    fsck(repo)


def test_the_shell_count_of_loose_refs_is_the_files_count(tmp_path: Path) -> None:
    """What the background job counts (``ls -f``) is what ``loose_refs_past_limit``
    counts: files in refs/runs/ and in each refs/remote-runs/<remote>/, a lock included."""
    import subprocess

    refs = tmp_path / "refs"

    def count() -> int:
        command = compaction.loose_refs_shell_count(tmp_path)
        return int(subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout)

    assert count() == 0  # no folder at all
    (refs / "runs").mkdir(parents=True)
    assert count() == 0
    for index in range(7):
        (refs / "runs" / f"0190{index:04d}-aaaa-7bbb-8ccc-dddddddddddd").write_text("x\n")
    (refs / "runs" / "0190-lock.lock").write_text("x\n")
    assert count() == 8
    for remote, refs_there in (("origin", 3), ("team mate's", 2)):
        (refs / "remote-runs" / remote).mkdir(parents=True)
        for index in range(refs_there):
            (refs / "remote-runs" / remote / f"0191{index:04d}-r").write_text("x\n")
    assert count() == 13
    files = sum(1 for p in refs.rglob("*") if p.is_file())
    assert files == 13


def test_a_write_never_lists_the_loose_refs(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writing process lists objects/pack when a roll-up may be due, never refs/runs:
    the background job counts the refs after its roll-up and packs them when past."""
    monkeypatch.setattr(compaction, "PACK_LIMIT", 4)
    monkeypatch.setattr(compaction, "REF_LIMIT", 5)
    listed: list[str] = []
    scandir, listdir = os.scandir, os.listdir

    def seen(path: object) -> None:
        if isinstance(path, str | os.PathLike):  # not a descriptor (shutil.rmtree's)
            listed.append(os.fspath(path))

    def scandir_seen(path: object = ".") -> object:
        seen(path)
        return scandir(path)  # type: ignore[call-overload]

    def listdir_seen(path: object = ".") -> list[str]:
        seen(path)
        return listdir(path)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(os, "scandir", scandir_seen)
    monkeypatch.setattr(os, "listdir", listdir_seen)
    ids = [small_run(i) for i in range(12)]
    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    assert any(path.endswith(os.path.join("objects", "pack")) for path in listed)
    assert not [path for path in listed if os.sep + "refs" in path]
    wait_for_compaction(repo)
    small_run(12)  # starts what is due after jobs that ran while others wrote
    wait_for_compaction(repo)
    loose = [p for p in (repo / ".git" / "refs" / "runs").glob("*") if p.is_file()]
    assert len(loose) <= 10  # of 13: the background job packed them
    listed_refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/runs/").split()
    assert set(listed_refs) >= {f"refs/runs/{i}" for i in ids}
    fsck(repo)
