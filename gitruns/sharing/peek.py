"""How many runs a remote holds, asked without fetching anything (``git ls-remote``).

Used for the first look in a fresh clone, where ``git clone`` brought no runs. It must
never hang a listing: no prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode unless the
user set an ssh command of their own), and a time limit.
"""

from __future__ import annotations

import os
import subprocess

from gitruns.format.layout import RUNS_PREFIX
from gitruns.storage import Store

PEEK_TIMEOUT_S = 10.0


def remote_run_count(store: Store, remote: str, timeout: float = PEEK_TIMEOUT_S) -> int | None:
    """The number of ``refs/runs/*`` on ``remote``; None when it cannot be asked."""
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if "GIT_SSH_COMMAND" not in env and store.config_value("core.sshCommand") is None:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    try:
        result = subprocess.run(
            ["git", f"--git-dir={store.git_dir}", "ls-remote", "--refs", remote, f"{RUNS_PREFIX}*"],
            cwd=store.workdir or store.git_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return sum(1 for line in result.stdout.splitlines() if line.strip())
