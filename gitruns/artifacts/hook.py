"""The ``pre-push`` hook that makes plain ``git push`` upload the artifacts of pushed runs.

git-lfs uploads the objects of the pointer files in the commits being pushed from its own
``pre-push`` hook (``git lfs pre-push <remote> <url>``, fed the pushed refs on stdin). But
``git lfs install`` refuses to touch an existing ``pre-push`` hook (a pre-commit or husky
hook, the user's own), and it also installs smudge filters and three more hooks that runs do
not need. So ``gitruns remote setup`` writes one hook of its own:

- a hook that was there is kept as ``pre-push.before-gitruns`` and runs first, with the same
  arguments and stdin (what ``pre-commit install`` does with a legacy hook); git-lfs's own
  stock hook is kept aside too but not run, since this hook calls git-lfs itself;
- the ``refs/runs/*`` lines go to ``gitruns artifacts pre-push``, which uploads the
  artifacts of every pushed run in one ``git lfs push --object-id`` (or to the object store
  bound to the remote, ``gitruns.<remote>.artifacts``); the other lines (code) go to
  ``git lfs pre-push``. Measured: git-lfs's own hook scans each pushed run apart, 7.1 s for
  a push of 1,000 runs that takes 0.85 s without a hook, 1.2 s with this one
  (bench/bench_artifacts.py --scan-only);
- without git-lfs the push goes on with a note: runs travel as pointers, and
  ``gitruns artifacts push`` uploads their content later.

With ``core.hooksPath`` set (husky, a shared hooks folder) nothing is written: the hook
folder may be tracked by the project, so setup says what line to add instead.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from gitruns.sharing.gitcli import run_git
from gitruns.storage import Store

MARKER = "# gitruns pre-push hook"  # any version; the script's first comment line
KEPT_SUFFIX = ".before-gitruns"
LFS_STOCK_MARKER = "git lfs pre-push"

_SCRIPT = """#!/bin/sh
{marker} v2
# Written by 'gitruns remote setup'; 'gitruns remote setup --undo' removes it and puts back
# any hook that was here before (kept as pre-push.before-gitruns, run first).
refs=$(mktemp "${{TMPDIR:-/tmp}}/gitruns-pre-push.XXXXXX") || exit 1
trap 'rm -f "$refs" "$refs.runs" "$refs.code"' EXIT
cat > "$refs"
hooks=$(dirname "$0")
kept="$hooks/pre-push{kept}"
if [ -x "$kept" ] && [ "$(cat "$kept.lfs" 2>/dev/null)" != "stock" ]; then
    "$kept" "$@" < "$refs" || exit $?
fi
grep '^refs/runs/' "$refs" > "$refs.runs"
grep -v '^refs/runs/' "$refs" > "$refs.code"
if [ -s "$refs.runs" ]; then
    if [ -x {python} ]; then
        # gitruns uploads the artifacts of all pushed runs at once (git lfs pre-push would
        # scan each run apart: seconds for a thousand runs)
        {python} -m gitruns artifacts pre-push "$@" < "$refs.runs" || exit $?
    elif [ -n "$(git config --get "gitruns.$1.artifacts" 2>/dev/null)" ]; then
        echo >&2 "gitruns: {python} is gone: run artifacts were not uploaded;"
        echo >&2 "gitruns: run 'gitruns remote setup $1' again, then 'gitruns artifacts push'"
    else
        cat "$refs.runs" >> "$refs.code"
    fi
fi
[ -s "$refs.code" ] || exit 0
if command -v git-lfs >/dev/null 2>&1; then
    git lfs pre-push "$@" < "$refs.code" || exit $?
elif grep -q '^refs/runs/' "$refs.code"; then
    echo >&2 "gitruns: git-lfs is not installed: runs were pushed with pointers to their"
    echo >&2 "gitruns: artifacts, not the files. Install git-lfs (https://git-lfs.com), then"
    echo >&2 "gitruns: upload them with: gitruns artifacts push"
fi
exit 0
"""


@dataclass
class HookChange:
    added: list[str]
    removed: list[str]
    note: str = ""  # what the user must do by hand, if anything


def hooks_dir(store: Store) -> tuple[Path, bool]:
    """The hooks folder git uses, and whether it comes from ``core.hooksPath``."""
    configured = store.config_value("core.hookspath")
    result = run_git(store, ["rev-parse", "--git-path", "hooks"])
    path = Path(result.stdout.strip() or store.common_dir / "hooks")
    if not path.is_absolute():
        path = (store.workdir or store.git_dir) / path
    return path, bool(configured)


def install_hook(store: Store) -> HookChange:
    """Write the gitruns pre-push hook (idempotent: a current one is rewritten in place)."""
    folder, from_config = hooks_dir(store)
    if from_config:
        return HookChange(
            [],
            [],
            f"core.hooksPath is set ({folder}): gitruns does not write there. Add to its "
            'pre-push hook:  git lfs pre-push "$@"   (so that plain git push uploads artifacts)',
        )
    hook = folder / "pre-push"
    added = []
    if hook.exists() and MARKER not in _read(hook):
        kept = folder / ("pre-push" + KEPT_SUFFIX)
        if kept.exists():
            return HookChange(
                [], [], f"{hook} and {kept} both exist: merge them by hand, then run setup again"
            )
        hook.replace(kept)
        if _is_lfs_stock(kept):
            (folder / ("pre-push" + KEPT_SUFFIX + ".lfs")).write_text("stock\n")
        added.append(f"kept your pre-push hook as {kept.name}")
    folder.mkdir(parents=True, exist_ok=True)
    existed = hook.exists()
    tmp = folder / f".pre-push.gitruns-{os.getpid()}"
    tmp.write_text(
        _SCRIPT.format(marker=MARKER, kept=KEPT_SUFFIX, python=shlex.quote(sys.executable))
    )
    os.chmod(tmp, 0o755)
    tmp.replace(hook)
    if not existed:
        added.append(f"hook {hook} (plain git push uploads run artifacts)")
    return HookChange(added, [])


def remove_hook(store: Store) -> HookChange:
    """Remove the gitruns hook and put back the hook it replaced."""
    folder, _ = hooks_dir(store)
    hook = folder / "pre-push"
    if not hook.exists() or MARKER not in _read(hook):
        return HookChange([], [])
    hook.unlink()
    removed = [f"hook {hook}"]
    kept = folder / ("pre-push" + KEPT_SUFFIX)
    if kept.exists():
        kept.replace(hook)
        (folder / ("pre-push" + KEPT_SUFFIX + ".lfs")).unlink(missing_ok=True)
        removed.append(f"restored your pre-push hook from {kept.name}")
    return HookChange([], removed)


def hook_installed(store: Store) -> bool:
    folder, _ = hooks_dir(store)
    hook = folder / "pre-push"
    return hook.exists() and (MARKER in _read(hook) or _is_lfs_stock(hook))


def _is_lfs_stock(path: Path) -> bool:
    text = _read(path)
    return LFS_STOCK_MARKER in text and len(text.splitlines()) <= 4


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
