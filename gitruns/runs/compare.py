"""What differs between runs: params, metrics, tags, status, environment and code.

``diff_runs`` compares two runs in depth (including the commits between their code and a
``git diff --stat``); ``compare_runs`` lines up any number of runs field by field. Both
return plain data; render_diff.py turns it into text, markdown or JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitruns.errors import GitrunsError
from gitruns.format import layout
from gitruns.format.layout import flatten
from gitruns.format.text import format_duration
from gitruns.format.validation import same_param_value
from gitruns.runs.envinfo import EnvSummary, read_env, version_key
from gitruns.runs.model import Run
from gitruns.runs.resources import headline
from gitruns.storage import Store

MAX_COMMITS_LISTED = 50
SYSTEM_PREFIX = "system/"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass
class Change:
    """One field in two runs (``MISSING`` where a run lacks it)."""

    key: str
    a: Any
    b: Any

    @property
    def kind(self) -> str:
        if self.a is MISSING:
            return "added"
        if self.b is MISSING:
            return "removed"
        if self.key == "duration":  # runs never take exactly as long: compare as shown
            return "same" if format_duration(self.a) == format_duration(self.b) else "changed"
        return "same" if same_param_value(self.a, self.b) else "changed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "a": None if self.a is MISSING else self.a,
            "b": None if self.b is MISSING else self.b,
            "change": self.kind,
        }


@dataclass
class MetricChange(Change):
    """A metric's last value in two runs, with the difference."""

    @property
    def delta(self) -> float | None:
        if self.a is MISSING or self.b is MISSING:
            return None
        return float(self.b - self.a)

    @property
    def percent(self) -> float | None:
        """Change relative to ``a``; None where that means nothing (a = 0, NaN, inf)."""
        a, b = self.a, self.b
        if a is MISSING or b is MISSING or not (math.isfinite(a) and math.isfinite(b)):
            return None
        if a == 0:
            return 0.0 if b == 0 else None
        return float((b - a) / abs(a) * 100)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "delta": self.delta, "percent": self.percent}


@dataclass
class PackageChange(Change):
    @property
    def kind(self) -> str:
        base = super().kind
        if base != "changed":
            return base
        # conda pins are "version=build": a new build of the same version is just "changed"
        old, new = version_key(self.a.split("=")[0]), version_key(self.b.split("=")[0])
        return "upgraded" if new > old else "downgraded" if new < old else "changed"


@dataclass
class CodeChange:
    """The code two runs ran: the commits between them and the files that differ."""

    a: str | None  # the commit the run ran on; the snapshot commit when the tree was dirty
    b: str | None
    only_in_b: list[str] = field(default_factory=list)  # "<12 hex> subject", newest first
    only_in_a: list[str] = field(default_factory=list)
    count_only_in_b: int = 0
    count_only_in_a: int = 0
    stat: str = ""  # git diff --stat a b
    error: str | None = None

    @property
    def same(self) -> bool:
        return self.a == self.b

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "same": self.same,
            "commits_only_in_b": self.only_in_b,
            "commits_only_in_a": self.only_in_a,
            "count_only_in_b": self.count_only_in_b,
            "count_only_in_a": self.count_only_in_a,
            "diff_stat": self.stat,
            "error": self.error,
        }


@dataclass
class RunDiff:
    a: Run
    b: Run
    run: list[Change]
    params: list[Change]
    metrics: list[MetricChange]
    tags: list[Change]
    environment: list[Change]
    packages: list[PackageChange]
    code: CodeChange
    resources: list[MetricChange] = field(default_factory=list)
    conda: list[PackageChange] = field(default_factory=list)

    def sections(self) -> dict[str, list[Any]]:
        return {
            "run": self.run,
            "params": self.params,
            "metrics": self.metrics,
            "resources": self.resources,
            "tags": self.tags,
            "environment": self.environment,
            "packages": self.packages,
            "conda": self.conda,
        }

    def to_dict(self, only_changed: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"a": _identity(self.a), "b": _identity(self.b)}
        for name, changes in self.sections().items():
            data[name] = [c.to_dict() for c in changes if not only_changed or c.kind != "same"]
        data["code"] = self.code.to_dict()
        return data


def _identity(run: Run) -> dict[str, Any]:
    return {"id": run.id, "name": run.name, "commit": run.commit, "start_time": run.start_time}


def diff_runs(store: Store, a: Run, b: Run, *, system: bool = False) -> RunDiff:
    """Everything that differs between run ``a`` and run ``b`` (unchanged fields included,
    marked ``same``, so a renderer can show all or only the changes). System metrics
    (``system/...``: CPU, memory, disk and network of the machine) are left out unless
    ``system``: their changes say more about the machine than about the results."""
    env_a, env_b = read_env(a), read_env(b)
    return RunDiff(
        a=a,
        b=b,
        run=_pairs(run_fields(a), run_fields(b), Change, ordered=False),
        params=_pairs(flatten(a.params), flatten(b.params), Change),
        metrics=_pairs(
            last_values(a, system),
            last_values(b, system),
            MetricChange,
            sort_key=layout.metric_sort_key,
        ),
        tags=_pairs(a.tags, b.tags, Change),
        environment=_pairs(env_fields(env_a), env_fields(env_b), Change),
        packages=_package_changes(env_a, env_b),
        code=code_change(store, code_commit(a), code_commit(b)),
        resources=_pairs(
            headline(a.document.get("resources")),
            headline(b.document.get("resources")),
            MetricChange,
            ordered=False,
        ),
        conda=_conda_changes(env_a, env_b),
    )


def run_fields(run: Run) -> dict[str, Any]:
    """The lifecycle fields compared between runs (start time always differs: not here)."""
    doc = run.document
    fields = {
        "name": run.name,
        "status": run.status,
        "exit_code": doc.get("exit_code"),
        "duration": run.duration,
        "user": run.user.get("email"),
        "host": doc.get("host"),
        "branch": run.git.get("branch"),
        "dirty": run.git.get("dirty"),
    }
    return {k: v for k, v in fields.items() if v is not None}


def last_values(run: Run, system: bool = True) -> dict[str, float]:
    """Each metric's last value (at its highest step); ``system/...`` ones if ``system``."""
    return {
        key: float(summary["last"])
        for key, summary in run.metrics.items()
        if system or not key.startswith(SYSTEM_PREFIX)
    }


def env_fields(env: EnvSummary) -> dict[str, Any]:
    fields = {
        "python": env.python,
        "os": env.os,
        "cpu": env.cpu,
        "gpus": ", ".join(env.gpus) if env.gpus else None,
        "packages": len(env.packages) if env.has_packages_file else None,
        "conda": env.conda,
        "conda_packages": len(env.conda_packages) if env.has_conda_file else None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _pairs(
    a: dict[str, Any],
    b: dict[str, Any],
    kind: type[Any],
    ordered: bool = True,
    sort_key: Callable[[str], Any] | None = None,
) -> list[Any]:
    keys = list(dict.fromkeys([*a, *b]))
    if ordered:
        keys.sort(key=sort_key)
    return [kind(k, a.get(k, MISSING), b.get(k, MISSING)) for k in keys]


def _package_changes(a: EnvSummary, b: EnvSummary) -> list[PackageChange]:
    if not (a.has_packages_file and b.has_packages_file):
        return []  # one run recorded no packages: "everything added" would only be noise
    return _pairs(a.packages, b.packages, PackageChange)


def _conda_changes(a: EnvSummary, b: EnvSummary) -> list[PackageChange]:
    if not (a.has_conda_file and b.has_conda_file):
        return []
    return _pairs(a.conda_packages, b.conda_packages, PackageChange)


def code_commit(run: Run) -> str | None:
    git = run.git
    return git.get("snapshot") if git.get("dirty") and git.get("snapshot") else git.get("commit")


def code_change(store: Store, a: str | None, b: str | None) -> CodeChange:
    change = CodeChange(a, b)
    if a is None or b is None or a == b:
        return change
    try:
        change.only_in_b, change.count_only_in_b = _commits(store, f"{a}..{b}")
        change.only_in_a, change.count_only_in_a = _commits(store, f"{b}..{a}")
        change.stat = store.git("diff", "--stat=100", "--no-color", a, b, "--").rstrip("\n")
    except GitrunsError as exc:
        change.error = exc.message  # e.g. a fetched run whose code commit is not here
    return change


def _commits(store: Store, revisions: str) -> tuple[list[str], int]:
    count = int(store.git("rev-list", "--count", revisions).strip() or 0)
    listed = store.git(
        "log", f"--max-count={MAX_COMMITS_LISTED}", "--format=%H %s", revisions, "--"
    ).splitlines()
    return [f"{line[:12]} {line[41:]}" for line in listed], count


# -- many runs side by side --------------------------------------------------------------------
@dataclass
class CompareRow:
    section: str
    key: str
    values: list[Any]  # MISSING where a run lacks the field

    @property
    def changed(self) -> bool:
        present = [v for v in self.values if v is not MISSING]
        if len(present) != len(self.values):
            return True
        if self.key == "duration":
            return len({format_duration(v) for v in present}) > 1
        return any(not same_param_value(present[0], v) for v in present[1:])


def compare_runs(runs: list[Run], *, system: bool = False) -> list[CompareRow]:
    """One row per field of any of the runs, in sections run/params/metrics/tags/env/code
    (system metrics only if ``system``, after the job's own)."""
    envs = [read_env(run) for run in runs]
    rows: list[CompareRow] = []
    sources: list[tuple[str, list[dict[str, Any]]]] = [
        ("run", [run_fields(r) for r in runs]),
        ("params", [flatten(r.params) for r in runs]),
        ("metrics", [last_values(r, system) for r in runs]),
        ("resources", [headline(r.document.get("resources")) for r in runs]),
        ("tags", [r.tags for r in runs]),
        ("environment", [env_fields(e) for e in envs]),
        ("code", [_short_commit(r) for r in runs]),
    ]
    if all(e.has_packages_file for e in envs):
        sources.append(("packages", [e.packages for e in envs]))
    if all(e.has_conda_file for e in envs):
        sources.append(("conda", [e.conda_packages for e in envs]))
    for section, mappings in sources:
        keys = list(dict.fromkeys(k for m in mappings for k in m))
        if section not in ("run", "resources"):
            keys.sort(key=layout.metric_sort_key if section == "metrics" else None)
        rows += [CompareRow(section, k, [m.get(k, MISSING) for m in mappings]) for k in keys]
    return rows


def _short_commit(run: Run) -> dict[str, str]:
    commit = code_commit(run)
    return {"commit": commit[:12]} if commit else {}
