"""``gitruns bisect``: find the commit where a metric condition first failed, with
``git bisect run``.

At each commit git checks out, the step judges the condition on the runs recorded there
(finished runs of a clean tree, matching the filter); where there are none it records the
given command with ``gitruns record`` and judges that run. The step's exit status is what
``git bisect run`` expects: 0 good (the condition holds), 1 bad, 125 skip (no finished run
to judge: the command failed or none was given), 128 abort (an error).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitruns.errors import GitrunsError, InvalidInputError
from gitruns.query.cache import CachedRun
from gitruns.query.search import select_runs
from gitruns.review.check import Verdict, judge, needs_baseline, parse_expressions
from gitruns.review.sides import at_commit, resolve_revision
from gitruns.storage import Store

GOOD, BAD, SKIP, ABORT = 0, 1, 125, 128
RECORDED_TAG = "bisect"


@dataclass
class StepResult:
    commit: str
    status: int  # GOOD, BAD or SKIP
    recorded: bool  # the command was recorded at this commit
    verdicts: list[Verdict] = field(default_factory=list)
    why: str = ""


def parse_condition(expression: str) -> None:
    """Refuse a condition that cannot be judged, before git checks anything out."""
    trees = parse_expressions([expression])
    if needs_baseline(trees):
        raise InvalidInputError(
            "gitruns bisect has no baseline: a condition compares a commit's runs with numbers",
            "write the threshold itself, e.g. 'metrics.acc >= 0.9'",
        )


def finished_runs_at(store: Store, commit: str, filter: str | None) -> list[CachedRun]:
    """Finished runs of exactly ``commit`` with a clean tree (a dirty run ran other code)."""
    rows = at_commit(select_runs(store, filter).rows, commit)
    return [r for r in rows if r.status == "FINISHED" and not r.record()["git"].get("dirty")]


def step(store: Store, expression: str, filter: str | None, command: Sequence[str]) -> StepResult:
    """Judge the checked-out commit, recording ``command`` there if it has no runs."""
    commit = resolve_revision(store, "HEAD", "commit being tested")
    trees = parse_expressions([expression])
    rows = finished_runs_at(store, commit, filter)
    recorded = False
    if not rows and command and not at_commit(select_runs(store, filter).rows, commit):
        record_command(store, commit, command)
        recorded = True
        rows = finished_runs_at(store, commit, filter)
    if not rows:
        why = "the recorded command did not finish" if recorded else "no finished run here"
        return StepResult(commit, SKIP, recorded, why=why)
    verdicts = judge(rows, [expression], trees, None)
    status = GOOD if all(v.holds for v in verdicts) else BAD
    return StepResult(commit, status, recorded, verdicts)


def record_command(store: Store, commit: str, command: Sequence[str]) -> int:
    """``gitruns record`` the command in the work tree (its output goes to ours)."""
    argv = [sys.executable, "-m", "gitruns", "record", "--name", f"bisect-{commit[:8]}"]
    argv += ["--tag", f"{RECORDED_TAG}=yes", "--", *command]
    return subprocess.run(argv, cwd=_workdir(store), check=False).returncode


@dataclass
class BisectOutcome:
    first_bad: str | None  # None: git could not tell (only skipped commits left)
    log: str


def run_bisect(
    store: Store,
    good: str,
    bad: str,
    step_argv: Sequence[str],
    *,
    reset: bool = True,
    output: int | None = None,
) -> BisectOutcome:
    """``git bisect start BAD GOOD`` then ``git bisect run STEP``; reset afterwards.
    ``output``: a file descriptor for what git bisect and the steps print (the CLI gives
    its stderr, keeping stdout for the answer)."""
    workdir = _workdir(store)
    good_commit = resolve_revision(store, good, "good commit")
    bad_commit = resolve_revision(store, bad, "bad commit")
    if _git(workdir, "status", "--porcelain", "--untracked-files=no").strip():
        raise GitrunsError(
            "the work tree has uncommitted changes", "commit or stash them: git bisect checks out"
        )
    if _git(workdir, "bisect", "log", check=False):  # says something only while bisecting
        raise GitrunsError("a git bisect is already in progress", "end it with git bisect reset")
    _git(workdir, "bisect", "start", bad_commit, good_commit)
    try:
        subprocess.run(
            ["git", "bisect", "run", *step_argv], cwd=workdir, stdout=output, check=False
        )
        log = _git(workdir, "bisect", "log", check=False)
    finally:
        if reset:
            _git(workdir, "bisect", "reset", check=False)
    return BisectOutcome(_first_bad(log), log)


def _first_bad(log: str) -> str | None:
    for line in log.splitlines():
        if line.startswith("# first bad commit: ["):
            return line.split("[", 1)[1].split("]", 1)[0]
    return None


def _workdir(store: Store) -> Path:
    if store.workdir is None:
        raise GitrunsError(
            "gitruns bisect needs a work tree", "run it in a checkout, not a bare repository"
        )
    return Path(store.workdir)


def _git(workdir: Path, *args: str, check: bool = True) -> str:
    """The git CLI in the user's work tree, with the user's configuration (bisect checks
    out and runs their command there)."""
    result = subprocess.run(
        ["git", *args], cwd=workdir, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise GitrunsError(f"git {args[0]} failed: {result.stderr.strip()}", "see git's message")
    return result.stdout
