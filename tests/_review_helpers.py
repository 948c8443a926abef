"""A repository with a main branch and a feature branch, and runs on both (issue 14).

History (commit dates fixed, so commit ids are the same on every machine)::

    main:     c1 --- c2 ----------- c4
                       \\
    feature:            f1 --- f2

Runs: ``main-old`` on c1 (acc 0.80), ``main-best`` on c2 (acc 0.90), ``main-new`` on c4
(acc 0.85), ``main-crashed`` on c4 (FAILED, acc 0.99); ``feat-a`` on f1 (acc 0.88),
``feat-b`` on f2 (acc 0.91, lr changed). Ids and times are pinned for golden files.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from _compare_helpers import BASE_TIME, make_run, pin_run

RUN_IDS = {
    "main-old": "01937f00-0000-7000-8000-0000000000a1",
    "main-best": "01937f00-0000-7000-8000-0000000000a2",
    "main-new": "01937f00-0000-7000-8000-0000000000a4",
    "main-crashed": "01937f00-0000-7000-8000-0000000000a5",
    "feat-a": "01937f00-0000-7000-8000-0000000000f1",
    "feat-b": "01937f00-0000-7000-8000-0000000000f2",
}


def git(repo: Path, *args: str, when: int | None = None) -> str:
    env = dict(os.environ)
    if when is not None:
        stamp = f"{1_795_000_000 + when} +0000"
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    result = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def commit(repo: Path, name: str, content: str, when: int) -> str:
    (repo / name).write_text(content)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"{name}: {content.strip()}", when=when)
    return git(repo, "rev-parse", "HEAD")


def record(
    repo: Path, name: str, order: int, acc: float, lr: float = 0.1, status: str = "FINISHED"
) -> None:
    run_id = make_run(
        name,
        params={"lr": lr, "layers": 2},
        metrics={"acc": [acc - 0.2, acc], "loss": [1.0, round(1 - acc, 4)]},
        status=status,
    )
    pin_run(repo, run_id, RUN_IDS[name], start=BASE_TIME + order * 600, duration=60.0 + order)


def build_branches(repo: Path) -> dict[str, str]:
    """Make the history above in ``repo`` (the ``repo`` fixture); return the commits."""
    git(repo, "commit", "-q", "--amend", "-m", "initial", "--reset-author", when=0)
    commits = {"c1": commit(repo, "model.py", "layers = 2\n", 10)}
    record(repo, "main-old", 1, 0.80)
    commits["c2"] = commit(repo, "data.py", "DATA = 'v1'\n", 20)
    record(repo, "main-best", 2, 0.90)
    git(repo, "checkout", "-q", "-b", "feature")
    commits["f1"] = commit(repo, "model.py", "layers = 3\n", 30)
    record(repo, "feat-a", 4, 0.88)
    commits["f2"] = commit(repo, "train.py", "lr = 0.05\n", 40)
    record(repo, "feat-b", 5, 0.91, lr=0.05)
    git(repo, "checkout", "-q", "main")
    commits["c4"] = commit(repo, "README", "main moves on\n", 50)
    record(repo, "main-new", 3, 0.85)
    record(repo, "main-crashed", 6, 0.99, status="FAILED")
    git(repo, "checkout", "-q", "feature")
    return commits
