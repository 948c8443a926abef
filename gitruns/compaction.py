"""Keeping the repository compact in the background, as ``git gc --auto`` would, with plain
file-system counts and the git CLI: no libgit2.

Every write adds a small pack; past PACK_LIMIT packs (or past git's 6,700 loose objects,
estimated from one fan-out folder as git does), the small ones are rolled up with ``git
repack --geometric`` (kept packs, those of runs in progress, are left alone, and so are the
big ones). Loose run refs (a file, so a disk block, each) are counted then too, by the
background job after its roll-up (or by the caller, when asked after a fetch), and packed
with ``git pack-refs`` once there are more than REF_LIMIT and an eighth of those packed, so
the rewrite of ``packed-refs`` costs a constant amount a run at any size and no write lists
the loose refs. The background git inherits the repack lock, so no other writer starts one
meanwhile. ``gitruns.storage.Store`` runs this after its writes; ``gitruns fetch`` runs it
from the light repository of a transfer (``sharing.lightrepo``), without loading pygit2.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Protocol

from gitruns.format import packcounts
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX

PACK_LIMIT = 50  # small packs (one a run or annotation) before they are rolled up
LOOSE_OBJECT_LIMIT = 6700  # loose objects before they are packed (git's gc.auto)
REF_LIMIT = 100  # loose run refs before they are packed (and an eighth of those packed)
# What the background compaction runs. -n: no `git update-server-info`, whose info/refs
# lists every ref (8.8 MB rewritten at each compaction at 100,000 runs) for dumb HTTP
# servers, which a working repository is not.
REPACK_COMMAND = "git repack -d -l -n -q --geometric=2"
PACK_REFS_COMMAND = "git pack-refs --all"
PACKED_REF_BYTES = 88  # a run's line in packed-refs: "<40 hex> refs/runs/<36>\n"
_QUIET = "</dev/null >/dev/null 2>&1"


class Compactable(Protocol):
    """What compaction needs of a repository (``Store`` and ``LightRepo`` have it)."""

    @property
    def git_dir(self) -> Path: ...

    @property
    def common_dir(self) -> Path: ...

    @property
    def objects_dir(self) -> Path: ...

    @property
    def gitruns_dir(self) -> Path: ...

    def promisor_remote(self) -> str | None: ...


def compact_if_due(repo: Compactable, *, check_refs: bool = False) -> None:
    """Start ``git repack`` and/or ``git pack-refs`` in the background when due (see the
    module's text); return at once. ``check_refs``: count loose run refs even when no
    repack is due (after refs were added in bulk, by a fetch)."""
    repack = _repack_due(repo.objects_dir, exact=check_refs)
    if (not repack and not check_refs) or repo.promisor_remote():
        return
    from gitruns.locks import LivenessLock

    try:
        # A clone that gitruns never wrote to has no folder yet: a fetch into it must
        # still pack the refs it brought.
        repo.gitruns_dir.mkdir(exist_ok=True)
        lock = LivenessLock.acquire(repo.gitruns_dir / "repack.lock", create=True)
    except OSError:
        return  # a read-only repository: nothing to do
    if lock is None:
        # Another process is at it (a roll-up or a pack-refs at 100,000 refs takes
        # seconds): look again only after a few more writes, not at each one meanwhile.
        # Refs are counted only by the lock's holder.
        _defer(repo.objects_dir)
        return
    if repack:
        # The loose refs are counted by the background job, after its roll-up: listing
        # refs/runs (up to 12,500 names between two pack-refs at 100,000 runs) is then
        # no part of a write, whatever the repository's size.
        steps = [f"{REPACK_COMMAND} {_QUIET}", _pack_refs_if_past(repo.common_dir)]
    elif loose_refs_past_limit(repo.common_dir):
        steps = [f"{PACK_REFS_COMMAND} {_QUIET}"]
    else:
        lock.release()
        return
    try:
        subprocess.run(
            ["sh", "-c", f"({'; '.join(steps)}) &"],
            cwd=repo.git_dir,
            env=_git_env(),
            pass_fds=(lock.fileno(),),
            check=False,
        )
    except OSError:
        pass  # no shell: the packs wait for the next write, or for git gc
    finally:
        lock.release()


# objects folder -> (packs counted there, writes since): a process that writes run after
# run lists ``objects/pack`` (up to 150 names) every few writes, not at every one
_counted: dict[str, tuple[int, int]] = {}


def _repack_due(objects_dir: Path, *, exact: bool) -> bool:
    """More than PACK_LIMIT packs, or git's estimate of loose objects past its limit.

    Between two counts a process adds its own writes (one pack each) to the last count and
    counts again after PACK_LIMIT // 8 writes, or at once when the estimate passes the
    limit: a roll-up due because of other writers' packs starts at most a few writes later.
    """
    key = os.fspath(objects_dir)
    counted, since = _counted.get(key, (0, PACK_LIMIT))
    since += 1
    if not exact and since < max(PACK_LIMIT // 8, 1) and counted + since <= PACK_LIMIT:
        _counted[key] = (counted, since)
        return False
    count = packcounts.count_packs(objects_dir)
    _counted[key] = (count, 0)
    return count > PACK_LIMIT or packcounts.loose_objects_past(objects_dir, LOOSE_OBJECT_LIMIT)


def loose_refs_shell_count(common_dir: Path) -> str:
    """A shell command printing how many loose run refs there are: the names ``ls -f``
    lists (unsorted) in ``refs/runs/`` and each ``refs/remote-runs/<remote>/``, less
    ``.``, ``..``, the blank lines and ``<folder>:`` headers between folders (a ref name
    never holds a colon)."""
    import shlex  # (only when a roll-up starts: a fetch's check of its refs does not)

    refs = common_dir / "refs"
    runs = shlex.quote(os.fspath(refs / RUNS_PREFIX.removeprefix("refs/")))
    remotes = shlex.quote(os.fspath(refs / REMOTE_RUNS_PREFIX.removeprefix("refs/")))
    return (
        f"ls -f {runs} {remotes}/*/ 2>/dev/null"
        " | grep -c -v -e '^\\.$' -e '^\\.\\.$' -e '^$' -e ':$'"
    )


def _pack_refs_if_past(common_dir: Path) -> str:
    """The background job's step: ``git pack-refs --all`` when past ``ref_limit``."""
    count = loose_refs_shell_count(common_dir)
    return f'[ "$({count})" -gt {ref_limit(common_dir)} ] && {PACK_REFS_COMMAND} {_QUIET}'


def ref_limit(common_dir: Path) -> int:
    """How many loose run refs may wait: REF_LIMIT, or an eighth of those packed."""
    try:
        packed = (common_dir / "packed-refs").stat().st_size // PACKED_REF_BYTES
    except OSError:
        packed = 0
    return max(REF_LIMIT, packed // 8)


def _defer(objects_dir: Path) -> None:
    """Count again only after PACK_LIMIT // 8 more writes of this process."""
    _counted[os.fspath(objects_dir)] = (0, 0)


def loose_refs_past_limit(common_dir: Path) -> bool:
    """More loose run refs (``refs/runs/``, ``refs/remote-runs/<remote>/``) than
    REF_LIMIT and than an eighth of the refs already packed.

    The count stops as soon as it passes that limit: 100,000 loose refs (a repository
    that git or an older gitruns filled) cost the same as 101 to decide on."""
    limit = ref_limit(common_dir)
    refs = common_dir / "refs"
    folders = [refs / RUNS_PREFIX.removeprefix("refs/")]
    try:
        remotes = os.scandir(refs / REMOTE_RUNS_PREFIX.removeprefix("refs/"))
        folders += [Path(e.path) for e in remotes if e.is_dir(follow_symlinks=False)]
    except OSError:
        pass
    loose = 0
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        loose += 1
                        if loose > limit:
                            return True
        except OSError:
            continue
    return False


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env
