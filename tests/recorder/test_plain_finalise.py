"""`gitruns record` in a clean worktree finalises its run without pygit2
(``runwrite.PlainRepo``): the same run, byte for byte, as through ``Store``; never raced by
gc; recoverable after a kill at any step; and nothing heavy imported on the way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import gitruns.recording.finalize as finalize_module
from gitruns.recording.git_probe import probe_clean_worktree
from gitruns.recording.quick_start import create_run_from_probe, plain_repo
from gitruns.runwrite import PlainRepo
from gitruns.storage import Store
from tests._record_helpers import GITRUNS, record
from tests.conftest import fsck, git

HEAVY = ("pygit2", "yaml", "psutil", "click", "jsonschema")
# Standard modules the clean-tree record path does without, once its package cache is
# warm (each cost it 1-13 ms of CPU; bench/bench_startup.py): who.py reads user and host
# without getpass and socket, platform_info reads uname without platform, schema.py loads
# importlib.resources only with jsonschema, packs.py names its files without secrets,
# metric_files.py loads csv only for a run that wrote a metrics.csv, digests.py hashes a
# small run's pack without OpenSSL (hashlib).
LIGHT = (
    "socket", "getpass", "platform", "importlib.resources", "importlib.metadata", "secrets",
    "csv", "tempfile", "email", "zipfile", "hashlib",
)  # fmt: skip
# What `import dataclasses` brings (`inspect` and what it imports: about 8 ms of CPU, and
# each class it defines about 0.4-1.5 ms more): record's path defines its records as plain
# classes and NamedTuples instead, from the first record on.
INTROSPECTION = ("dataclasses", "inspect", "ast", "dis", "tokenize")

# `gitruns record ARGS`, run as the console script does, printing at exit which of the
# watched modules (and their submodules) the process loaded (as JSON, on stderr's last line).
MODULES_AT_EXIT = textwrap.dedent(
    """
    import atexit, json, sys
    watched = set(sys.argv.pop(1).split(","))
    atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules if any(
        m == w or m.startswith(w + ".") for w in watched))), file=sys.stderr))
    sys.argv = ["gitruns", "record", *sys.argv[1:]]
    from gitruns.cli.entry import main
    main()
    """
)


def _record_listing_modules(
    cwd: Path, *args: str, watched: tuple[str, ...] = HEAVY
) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", MODULES_AT_EXIT, ",".join(watched), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stderr.strip().splitlines()[-1])


# `gitruns record ARGS` printing at exit what it compiled other than a module's source:
# typing.NamedTuple compiles each field's annotation (a string, with `from __future__
# import annotations`), and the first compile() of a process creates the 119 classes of
# `ast` (about 1.5 ms); record's path defines plain classes instead.
RUNTIME_COMPILES = textwrap.dedent(
    """
    import atexit, builtins, json, sys
    compiled = []
    real_compile = builtins.compile
    def compile(source, filename, *args, **kwargs):
        if not str(filename).endswith(".py"):  # a stale .pyc's module is compiled: fine
            compiled.append(str(source)[:60])
        return real_compile(source, filename, *args, **kwargs)
    builtins.compile = compile
    atexit.register(lambda: print(json.dumps(compiled), file=sys.stderr))
    sys.argv = ["gitruns", "record", *sys.argv[1:]]
    from gitruns.cli.entry import main
    main()
    """
)


def _cli_json(cwd: Path, *args: str) -> Any:
    """What ``gitruns ARGS --format json`` prints, read (the command must succeed)."""
    done = subprocess.run(
        [*GITRUNS, *args, "--format", "json"], cwd=cwd, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def _runs(cwd: Path) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = _cli_json(cwd, "ls")
    return runs


@pytest.mark.parametrize("options", [[], ["--no-system-metrics"], ["-p", "lr=0.1", "-t", "a=b"]])
def test_a_short_record_in_a_clean_tree_loads_nothing_heavy(repo: Path, options: list[str]) -> None:
    code, heavy = _record_listing_modules(
        repo, *options, "--", sys.executable, "-c", "pass", watched=HEAVY + INTROSPECTION
    )
    assert code == 0
    assert heavy == []
    (run,) = _runs(repo)
    assert run["status"] == "FINISHED"
    fsck(repo)
    assert git(repo, "for-each-ref", "--format=%(objectname)", "refs/runs/").strip()


def test_a_second_record_loads_no_standard_module_it_can_do_without(repo: Path) -> None:
    """With the package cache filled by a first record, the second loads none of LIGHT
    (the first lists the packages in-process, with importlib.metadata and platform)."""
    first, _ = _record_listing_modules(repo, "--", sys.executable, "-c", "pass")
    code, loaded = _record_listing_modules(
        repo, "--", sys.executable, "-c", "pass", watched=HEAVY + LIGHT
    )
    assert (first, code) == (0, 0)
    assert loaded == []
    runs = _runs(repo)
    assert [run["status"] for run in runs] == ["FINISHED", "FINISHED"]
    # the same platform facts (os, hostname, python), read with and without platform
    platforms = {git(repo, "show", f"refs/runs/{run['id']}:env/platform.yaml") for run in runs}
    assert len(platforms) == 1 and "hostname: " in platforms.pop()
    fsck(repo)


def test_a_short_record_compiles_nothing_at_run_time(repo: Path) -> None:
    """Once the package cache is filled (the first record lists the packages in-process,
    and importlib.metadata's annotations are compiled), nothing is."""
    first, _ = _record_listing_modules(repo, "--", sys.executable, "-c", "pass")
    assert first == 0
    done = subprocess.run(
        [sys.executable, "-c", RUNTIME_COMPILES, "--", sys.executable, "-c", "pass"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
    assert [run["status"] for run in _runs(repo)] == ["FINISHED", "FINISHED"]


def test_a_dirty_tree_still_records_through_the_repository(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    code, heavy = _record_listing_modules(repo, "--", sys.executable, "-c", "pass")
    assert code == 0
    assert "pygit2" in heavy  # the snapshot commit is libgit2's, as before
    (run,) = _runs(repo)
    assert run["git"]["dirty"] is True
    fsck(repo)


def test_a_crashed_run_of_another_process_is_recovered_through_the_repository(
    repo: Path,
) -> None:
    """A staged run whose owner died is recovered (open_store's recovery) before the
    record's own run is finalised; the record then writes through Store."""
    killed = subprocess.Popen(
        [*GITRUNS, "record", "--", sys.executable, "-c", "import time; time.sleep(60)"],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its command is killed with it
    )
    assert killed.stderr is not None
    killed.stderr.readline()  # "gitruns: recording run ..."
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    code, heavy = _record_listing_modules(repo, "--", sys.executable, "-c", "pass")
    assert code == 0
    assert "pygit2" in heavy
    statuses = sorted(run["status"] for run in _runs(repo))
    assert statuses == ["CRASHED", "FINISHED"]
    fsck(repo)


def _stage_a_run(repo: Path) -> tuple[Any, str]:
    """A run staged as `record` stages it in a clean tree, with params, metrics (one in a
    folder), tags, a note, a small file and a parent run whose ref is packed."""
    import gitruns

    with gitruns.start_run(name="parent") as parent:
        parent.log_metric("loss", 1.0)
    git(repo, "pack-refs", "--all")  # the parent is then found in packed-refs
    probed = probe_clean_worktree(str(repo))
    assert probed is not None
    run = create_run_from_probe(probed, "same-run")
    plain = plain_repo(probed)
    assert plain is not None
    run.use_plain_repo(plain)
    run.log_params({"lr": 0.01, "model": {"layers": 3, "act": "relu"}, "note": "x: y"})
    for step in range(5):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("eval/acc", step / 10, step=step)
    run.set_tag("team", "nlp")
    run.note("a note")
    run.stage_file("env/platform.yaml", b"os: '#1 SMP'\n")
    run.add_parent(parent.id)
    assert parent.commit is not None
    return run, parent.commit


def test_the_plain_finalise_writes_what_store_writes(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same staged run finalised without pygit2 and through Store: the same commit id
    (so the same tree, files, parents, author and time), refs as git writes them."""
    run, parent_commit = _stage_a_run(repo)
    twin = tmp_path / "twin"
    shutil.copytree(repo, twin, symlinks=True)  # the repository with the run staged
    used: list[str] = []
    real = finalize_module.finalize
    staged_copy = tmp_path / "staged"
    summaries: dict[str, Any] = {}

    def spy(store: Any, run_dir: Path, **options: Any) -> str | None:
        used.append(type(store).__name__)
        summaries.update(options.get("owner_summaries") or {})
        dispose = options["dispose"]

        def copy_then_dispose(folder: Path) -> None:
            shutil.copytree(folder, staged_copy, symlinks=True)
            dispose(folder)

        return real(store, run_dir, **{**options, "dispose": copy_then_dispose})

    monkeypatch.setattr(finalize_module, "finalize", spy)
    run.end("FINISHED")
    assert used == ["PlainRepo"]
    # the twin's staging folder, as it was when the plain writer was done with it
    twin_dir = twin / ".git" / "gitruns" / "staging" / run.id
    shutil.rmtree(twin_dir)
    shutil.copytree(staged_copy, twin_dir, symlinks=True)
    (twin_dir / "ref.spare").unlink(missing_ok=True)
    through_store = real(Store(twin), twin_dir, owner_summaries=summaries)
    assert through_store == run.commit
    ref = f"refs/runs/{run.id}"
    assert git(repo, "rev-parse", ref) == git(twin, "rev-parse", ref)
    loose = (repo / ".git" / ref).read_text()
    assert loose == (twin / ".git" / ref).read_text() == run.commit + "\n"
    parents = git(repo, "log", "-1", "--format=%P", ref).split()
    assert parents == [git(repo, "rev-parse", "HEAD").strip(), parent_commit]
    assert run.written["name"] == "same-run" and "eval/acc" in run.written["summaries"]
    for path in (repo, twin):
        fsck(path)
        assert not list((path / ".git" / "objects" / "pack").glob("*.keep"))
        assert not list((path / ".git" / "refs" / "runs").glob("*.lock"))


def test_the_plain_writer_declines_what_it_cannot_be_sure_of(repo: Path) -> None:
    for key, value in (("core.logAllRefUpdates", "always"), ("core.sharedRepository", "group")):
        git(repo, "config", key, value)
        probed = probe_clean_worktree(str(repo))
        assert probed is not None and plain_repo(probed) is None
        git(repo, "config", "--unset", key)
    probed = probe_clean_worktree(str(repo))
    assert probed is not None
    plain = plain_repo(probed)
    assert isinstance(plain, PlainRepo)
    from gitruns.runwrite import NeedsStore

    with pytest.raises(NeedsStore):
        plain.has_commit("0" * 40)  # not here: Store decides (an alternate may have it)
    assert plain.has_commit(git(repo, "rev-parse", "HEAD").strip())


def test_gc_racing_plain_finalises_loses_nothing(repo: Path) -> None:
    """`git gc --prune=now` in a loop while records finalise without pygit2: every run is
    whole and fsck is clean."""
    stop = repo / ".stop-gc"
    gc_loop = subprocess.Popen(
        ["sh", "-c", f"while [ ! -e {stop} ]; do git gc --prune=now -q; done"], cwd=repo
    )
    try:
        for _ in range(8):
            done = record(repo, "--", sys.executable, "-c", "print('hi')")
            assert done.returncode == 0, done.stderr
    finally:
        stop.touch()
        gc_loop.wait(timeout=120)
    git(repo, "gc", "--prune=now", "-q")
    runs = _runs(repo)
    assert len(runs) == 8 and {r["status"] for r in runs} == {"FINISHED"}
    for found in runs:
        assert _cli_json(repo, "show", found["id"])["id"] == found["id"]
    fsck(repo)


# A process that stages a run as `record` does and is killed (SIGKILL, by itself) at one
# step of the plain finalise.
KILLED_AT = textwrap.dedent(
    """
    import os, signal, sys
    from gitruns import compaction, runwrite
    from gitruns.format import packs
    from gitruns.recording.git_probe import probe_clean_worktree
    from gitruns.recording.quick_start import create_run_from_probe, plain_repo

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    step = sys.argv[1]
    probed = probe_clean_worktree(os.getcwd())
    run = create_run_from_probe(probed, "killed")
    run.use_plain_repo(plain_repo(probed))
    run.log_param("lr", 0.1)
    run.log_metric("loss", 0.5)
    print(run.id, flush=True)
    if step == "pack":
        packs.PackWriter.finish = die
    elif step == "ref":
        runwrite.create_run_ref = die
    elif step == "lock":
        real_rename = os.rename
        os.rename = lambda a, b: die() if str(b).endswith(run.id) else real_rename(a, b)
    elif step == "keep":
        packs.KeptPack.release = die
    elif step == "compaction":
        compaction.compact_if_due = die
    run.end("FINISHED")
    """
)


@pytest.mark.parametrize("step", ["pack", "ref", "lock", "keep", "compaction"])
def test_a_kill_at_any_step_of_the_plain_finalise_leaves_a_recoverable_run(
    repo: Path, step: str
) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT, step], cwd=repo, capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr
    run_id = killed.stdout.strip()
    (run,) = _runs(repo)  # any command recovers it
    assert run["id"] == run_id and run["status"] == "FINISHED"
    document = _cli_json(repo, "show", run_id)
    assert document["params"] == {"lr": 0.1}
    assert document["metrics"]["loss"]["last"] == 0.5
    assert not list((repo / ".git" / "refs" / "runs").glob("*.lock"))
    git(repo, "gc", "--prune=now", "-q")
    fsck(repo)
    assert git(repo, "rev-parse", f"refs/runs/{run_id}^{{tree}}")
    assert not (repo / ".git" / "gitruns" / "staging" / run_id).exists()
    assert os.listdir(repo / ".git" / "gitruns" / "staging") == []


def test_concurrent_records_each_finalise_their_own_run(repo: Path) -> None:
    """Four records at once: each sees the others' live runs (not crashed), finalises its
    own without pygit2, and every run is there."""
    script = "import time; time.sleep(0.3)"
    started = [
        subprocess.Popen(
            [sys.executable, "-c", MODULES_AT_EXIT, "--", sys.executable, "-c", script],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in started:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert "pygit2" not in json.loads(err.strip().splitlines()[-1])
    runs = _runs(repo)
    assert len(runs) == 4 and {r["status"] for r in runs} == {"FINISHED"}
    assert os.listdir(repo / ".git" / "gitruns" / "staging") == []
    fsck(repo)


def test_the_plain_finalise_starts_the_background_compaction(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limits (lowered here), the plain writer starts the same background
    `git repack`/`git pack-refs` as Store: packs rolled up, run refs packed."""
    from gitruns import compaction
    from tests._store_helpers import wait_for_compaction

    monkeypatch.setattr(compaction, "PACK_LIMIT", 2)
    monkeypatch.setattr(compaction, "REF_LIMIT", 2)
    for n in range(4):
        probed = probe_clean_worktree(str(repo))
        assert probed is not None
        run = create_run_from_probe(probed, f"run-{n}")
        plain = plain_repo(probed)
        assert plain is not None
        run.use_plain_repo(plain)
        run.log_metric("loss", float(n))
        run.end("FINISHED")
        assert run.commit is not None and not run.store_is_open
        wait_for_compaction(repo)
    packs = list((repo / ".git" / "objects" / "pack").glob("*.pack"))
    assert len(packs) <= 2
    assert len(list((repo / ".git" / "refs" / "runs").iterdir())) <= 2  # the rest packed
    assert len(_runs(repo)) == 4
    fsck(repo)


def test_refs_are_read_from_packed_refs_as_git_wrote_them(repo: Path) -> None:
    """ref_target (a binary search of git's sorted packed-refs, peeled lines of annotated
    tags in between) finds every packed ref git lists, and nothing else."""
    from gitruns.runwrite import ref_target

    head = git(repo, "rev-parse", "HEAD").strip()
    names = [f"refs/runs/{n:04d}-{n * 7919 % 1000:03d}" for n in range(300)]
    commands = "".join(f"create {name} {head}\n" for name in names)
    subprocess.run(["git", "update-ref", "--stdin"], cwd=repo, input=commands.encode(), check=True)
    for n in range(0, 300, 37):  # annotated tags: their peeled lines sit between records
        git(repo, "tag", "-a", "-m", "t", f"t{n:04d}")
    git(repo, "pack-refs", "--all")
    assert b" sorted" in (repo / ".git" / "packed-refs").read_bytes().split(b"\n")[0]
    listed = git(repo, "for-each-ref", "--format=%(objectname) %(refname)").split("\n")
    common = repo / ".git"
    for line in filter(None, listed):
        oid, name = line.split(" ")
        assert ref_target(common, name) == oid, name
    for missing in ("refs/runs/0000", "refs/runs/9999-999", "refs/runs/", "refs/tags/t0001"):
        assert ref_target(common, missing) is None
