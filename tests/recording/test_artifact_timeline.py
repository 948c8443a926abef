"""Artifacts as a checkpoint timeline: when each was logged, and at which step."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import yaml
from _record_helpers import record, run_file
from conftest import fsck, gitruns_cli

import gitruns
from gitruns.errors import InvalidInputError
from gitruns.format import layout
from gitruns.recording.artifacts import step_in_name, timeline


def _checkpoint(folder: Path, name: str, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def test_api_artifacts_logged_at_steps(repo: Path) -> None:
    out = repo.parent / "out"
    with gitruns.start_run(name="ckpt") as run:
        # logged out of name order, so that the timeline is not just the path order
        for step, name in ((300, "c.pt"), (100, "b.pt"), (200, "a.pt")):
            run.log_artifact(_checkpoint(out, name, b"w" * step), "checkpoints", step=step)
            time.sleep(0.002)  # distinct millisecond times
        run.log_artifact(_checkpoint(out, "config.yaml", b"lr: 1\n"))  # no step
    found = gitruns.get_run(run.id)
    stored = yaml.safe_load(run_file(repo, run.id, "artifacts.yaml"))
    assert [a["path"] for a in stored] == sorted(a["path"] for a in stored)  # the file's order
    by_path = {a["path"]: a for a in found.artifacts}
    assert by_path["checkpoints/c.pt"]["step"] == 300
    assert by_path["config.yaml"]["step"] is None
    times = [by_path[f"checkpoints/{n}"]["time"] for n in ("c.pt", "b.pt", "a.pt")]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)
    assert [a["path"] for a in timeline(found.artifacts)] == [
        "checkpoints/c.pt",
        "checkpoints/b.pt",
        "checkpoints/a.pt",
        "config.yaml",
    ]

    listing = gitruns_cli(repo, "artifacts", "ls", "ckpt", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    assert [(a["path"], a["step"]) for a in json.loads(listing.stdout)] == [
        ("checkpoints/c.pt", 300),
        ("checkpoints/b.pt", 100),
        ("checkpoints/a.pt", 200),
        ("config.yaml", None),
    ]
    table = gitruns_cli(repo, "artifacts", "ls", "ckpt").stdout.splitlines()
    assert table[0].split() == ["logged", "step", "size", "state", "sha256", "path"]
    assert [line.split()[-1] for line in table[2:]][:3] == [
        "checkpoints/c.pt",
        "checkpoints/b.pt",
        "checkpoints/a.pt",
    ]
    shown = gitruns_cli(repo, "show", "ckpt").stdout
    section = shown[shown.index("artifacts (in the order logged)") :].splitlines()
    assert "step 300" in section[1] and section[1].endswith("checkpoints/c.pt")
    assert "step 100" in section[2] and "step 200" in section[3]
    assert section[4].endswith("config.yaml")
    fsck(repo)


def test_steps_in_names(repo: Path) -> None:
    out = repo.parent / "lightning"
    with gitruns.start_run(name="named") as run:
        run.log_artifact(_checkpoint(out, "epoch=3-step=500.ckpt", b"x"))
        _checkpoint(out / "checkpoint-1500", "model.safetensors", b"y")
        run.log_artifact(out / "checkpoint-1500")  # a Hugging Face Trainer checkpoint folder
        run.log_artifact(_checkpoint(out / "checkpoint-2000", "weights.bin", b"w"), "final")
        run.log_artifact(_checkpoint(out, "epoch=4-step=600.ckpt", b"z"), step=7)  # given wins
    steps = {a["path"]: a["step"] for a in gitruns.get_run(run.id).artifacts}
    assert steps == {
        "epoch=3-step=500.ckpt": 500,
        "checkpoint-1500/model.safetensors": 1500,
        "final/weights.bin": 2000,  # the step of the folder it was logged from
        "epoch=4-step=600.ckpt": 7,
    }
    assert step_in_name("model_step_1000.pt") == 1000
    assert step_in_name("iter_2000.pth") == 2000
    assert step_in_name("out/global_step300/mp_rank_00.pt") == 300
    assert step_in_name("steps.txt") is None and step_in_name("stepper_3.pt") is None
    assert step_in_name("resnet50.pt") is None and step_in_name("xcheckpoint-5/a") is None


@pytest.mark.parametrize("step", [-1, 1.5, True, "3"])
def test_a_bad_step_is_refused(repo: Path, step: object) -> None:
    path = _checkpoint(repo.parent / "bad", "m.pt", b"x")
    with gitruns.start_run(name="bad") as run, pytest.raises(InvalidInputError, match="step"):
        run.log_artifact(path, step=step)  # type: ignore[arg-type]


def test_record_artifacts_carry_their_modification_time(repo: Path) -> None:
    # The job writes checkpoints over its life; record stores them at the end, with the
    # time each was written, so the timeline is the job's and not the end of the run.
    job = repo.parent / "job.py"
    job.write_text(
        """
import json, os, time
os.makedirs("ckpt", exist_ok=True)
base = int(time.time()) + 1000  # later than the run's start, whatever the clock
stamps = {20: base + 300, 10: base + 100, 30: base + 200}
for step, stamp in stamps.items():
    path = f"ckpt/epoch=0-step={step}.ckpt"
    open(path, "w").write("w" * step)
    os.utime(path, (stamp, stamp))
json.dump(stamps, open("../stamps.json", "w"))
"""
    )
    (repo / ".gitignore").write_text("ckpt/\n")
    result = record(repo, "--artifact", "ckpt/*.ckpt", "--", sys.executable, str(job))
    assert result.returncode == 0, result.stderr
    stamps = {int(k): v for k, v in json.loads((repo.parent / "stamps.json").read_text()).items()}
    run_id = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)[0]["id"]
    listed = json.loads(gitruns_cli(repo, "artifacts", "ls", run_id, "--format", "json").stdout)
    assert [(a["step"], a["time"]) for a in listed] == [
        (step, layout.iso_time(stamps[step])) for step in (10, 30, 20)
    ]
    assert all(a["path"].startswith("ckpt/") for a in listed)


def test_runs_from_before_times_still_read_and_show(repo: Path) -> None:
    """artifacts.yaml without time or step (older runs) is valid and shown by path."""
    from _compare_helpers import make_run

    from gitruns.storage import Store

    run_id = make_run("old", artifacts={"b.pt": b"b", "a.pt": b"a"})
    store = Store(repo)
    commit = store.run_commit(run_id)
    assert commit is not None
    files = dict(store.iter_files(commit))
    pointers = yaml.safe_load(files["artifacts.yaml"])
    for pointer in pointers:
        del pointer["time"], pointer["step"]
    files["artifacts.yaml"] = yaml.safe_dump(pointers).encode()
    parents, _author, message, when = store.commit_info(commit)
    rewritten = store.create_run_commit(files, parents, message, when)
    assert store.delete_ref(run_id, commit) and store.create_ref(run_id, rewritten)
    shown = gitruns_cli(repo, "show", run_id)
    assert shown.returncode == 0, shown.stderr
    section = shown.stdout[shown.stdout.index("\nartifacts\n") :].splitlines()
    assert section[2].split() == ["1", "B", "a.pt"] and section[3].endswith("b.pt")
    listing = gitruns_cli(repo, "artifacts", "ls", run_id).stdout.splitlines()
    assert [line.split()[-1] for line in listing[2:]] == ["a.pt", "b.pt"]
