"""Property test: the direct reading of ref files (gitruns.sharing.reffiles) against
``git for-each-ref`` on random layouts git itself writes: refs loose, packed, or both
with other values, nested names, tags with peeled lines, other prefixes sorted between."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _sharing_helpers import refs_by_git
from conftest import git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitruns.sharing.reffiles import refs_under_each

PREFIXES = ["refs/runs/", "refs/remote-runs/origin/", "refs/remote-runs/origin-2/"]
_names = st.sampled_from(["a", "b", "a-b", "a.b", "ab", "A", "0", "a/b", "a/c", "b/a/c", "z_"])
_places = st.sampled_from(["loose", "packed", "both"])
_layouts = st.dictionaries(
    st.tuples(st.sampled_from([*PREFIXES, "refs/remote-runs/origin.x/", "refs/tags/"]), _names),
    st.tuples(_places, st.integers(0, 2), st.integers(0, 2)),
    max_size=12,
)


def _fresh_repo(root: Path) -> tuple[Path, list[str]]:
    repo = root / "repo"
    if repo.exists():
        subprocess.run(["rm", "-rf", str(repo)], check=True)
    git(root, "init", "-q", str(repo))
    commits = []
    for n in range(3):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"c{n}")
        commits.append(git(repo, "rev-parse", "HEAD").strip())
    git(repo, "tag", "-a", "-m", "annotated", "t0", commits[0])  # a peeled line when packed
    commits.append(git(repo, "rev-parse", "refs/tags/t0").strip())
    return repo, commits


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(_layouts)
def test_random_layouts_read_as_git_lists_them(tmp_path: Path, layout: dict) -> None:  # type: ignore[type-arg]
    repo, commits = _fresh_repo(tmp_path)
    packed, loose = [], []
    for (prefix, name), (place, first, second) in sorted(layout.items()):
        ref = prefix + name
        target = commits[3] if first == 0 and prefix == "refs/tags/" else commits[first]
        (packed if place in ("packed", "both") else loose).append((ref, target))
        if place == "both":
            loose.append((ref, commits[second]))
    for batch in (packed, loose):
        lines = "".join(f"update {ref} {target}\n" for ref, target in batch)
        done = subprocess.run(
            ["git", "update-ref", "--stdin"], cwd=repo, input=lines, text=True, check=False
        )
        if done.returncode != 0:
            return  # a name clash git refuses (a and a/b): nothing to compare
        if batch is packed:
            git(repo, "pack-refs", "--all")
    found = refs_under_each(repo / ".git", PREFIXES, symbolic=[])
    expected = {ref: oid for prefix in PREFIXES for ref, oid in refs_by_git(repo, prefix).items()}
    assert found is None or found == expected
