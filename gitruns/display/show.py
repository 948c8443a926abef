"""``gitruns show``: one run as a readable page (text only; JSON/YAML are in render.py)."""

from __future__ import annotations

import math
import shlex
from typing import Any

from gitruns.display.plot import sparkline
from gitruns.errors import GitrunsError
from gitruns.format import layout
from gitruns.format.layout import MAX_METRIC_BYTES, flatten
from gitruns.format.text import format_duration, format_number
from gitruns.runs.envinfo import EnvSummary, read_env
from gitruns.runs.model import Run, load_run
from gitruns.storage import Store

SPARK_WIDTH = 20
_SAMPLE = SPARK_WIDTH * 8


def run_page(run: Run, store: Store) -> str:
    """Everything about one run, in sections, for a terminal or a code review."""
    data = run.to_dict()
    lines = _identity(run, data)
    lines += _code(data["git"])
    lines += _params(data)
    lines += _metrics(run)
    lines += _mapping("tags", data["tags"])
    lines += _notes(data["notes"])
    lines += _environment(read_env(run))
    lines += _artifacts(run)
    lines += _lineage(store, data)
    return "\n".join(lines) + "\n"


def _identity(run: Run, data: dict[str, Any]) -> list[str]:
    status = run.status
    if data["exit_code"] is not None:
        status += f" (exit code {data['exit_code']})"
    user = data["user"]
    who = f"{user['name']} <{user['email']}>"
    if user.get("os_user"):
        who += f" ({user['os_user']})"
    lines = [
        f"run       {run.id}",
        f"name      {run.name}",
        f"status    {status}",
        f"user      {who} on {data['host']}",
        f"start     {data['start_time']}",
        f"end       {data['end_time'] or '-'}  ({format_duration(data['duration_s'])})",
    ]
    command = _command_line(data.get("command"))
    if command:
        lines.append(f"command   {command}")
    if data["error"]:
        lines.append(f"error     {data['error'].get('type')}: {data['error'].get('message')}")
    return lines


def _command_line(command: Any) -> str | None:
    if not isinstance(command, dict):
        return None
    if isinstance(command.get("line"), str):
        return str(command["line"])
    argv = command.get("argv")
    if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
        return shlex.join(argv)
    return None


def _code(git: dict[str, Any]) -> list[str]:
    lines = ["", "code"]
    commit = git.get("commit") or "(no commit: the repository had none yet)"
    where = f" on {git['branch']}" if git.get("branch") else " (detached HEAD)"
    lines.append(f"  commit    {commit}{where if git.get('commit') else ''}")
    if git.get("dirty"):
        lines.append(f"  dirty     yes: snapshot {git.get('snapshot')}, code/uncommitted.patch")
    if git.get("remote_url"):
        lines.append(f"  remote    {git['remote_url']}")
    return lines


def _params(data: dict[str, Any]) -> list[str]:
    flat = flatten(data["params"])
    if not flat:
        return []
    sources = data.get("param_sources") or {}
    width = max(len(k) for k in flat)
    lines = ["", "params"]
    for key, value in sorted(flat.items()):
        source = sources.get(key.split(".")[0])
        suffix = f"  ({source})" if source and source != "api" else ""
        lines.append(f"  {key:<{width}}  {format_number(value)}{suffix}")
    return lines


def _metrics(run: Run) -> list[str]:
    if not run.metrics:
        return []
    keys = sorted(run.metrics, key=layout.metric_sort_key)
    width = max(len(k) for k in keys)
    rows = []
    for key in keys:
        s = run.metrics[key]
        numbers = [format_number(s[f]) for f in ("last", "min", "max")]
        rows.append((key, sampled_sparkline(run, key), *numbers, str(s["count"])))
    widths = [max(len(r[i]) for r in rows) for i in range(2, 5)]
    header = (
        f"  {'':<{width}}  {'':<{SPARK_WIDTH}}  {'last':>{widths[0]}}  {'min':>{widths[1]}}"
        f"  {'max':>{widths[2]}}  points"
    )
    lines = ["", "metrics", header.rstrip()]
    for key, spark, last, low, high, count in rows:
        lines.append(
            f"  {key:<{width}}  {spark:<{SPARK_WIDTH}}  {last:>{widths[0]}}  {low:>{widths[1]}}"
            f"  {high:>{widths[2]}}  {count}"
        )
    return lines


def sampled_sparkline(run: Run, key: str) -> str:
    """A sparkline from at most a few hundred evenly spaced points of the series (parsing
    only those lines keeps ``show`` fast for a metric with millions of points)."""
    try:
        raw = run.file(layout.metric_path(key), MAX_METRIC_BYTES)
    except GitrunsError:
        return ""
    if raw is None:
        return ""
    lines = raw.split(b"\n")[1:]
    if lines and not lines[-1]:
        lines.pop()
    if len(lines) > _SAMPLE:
        lines = [lines[i * len(lines) // _SAMPLE] for i in range(_SAMPLE)]
    values = []
    for line in lines:
        try:
            values.append(float(line.rsplit(b",", 1)[1]))
        except (IndexError, ValueError):
            values.append(math.nan)
    return sparkline(values, SPARK_WIDTH)


def _mapping(title: str, mapping: dict[str, Any]) -> list[str]:
    if not mapping:
        return []
    width = max(len(k) for k in mapping)
    return ["", title] + [f"  {k:<{width}}  {v}" for k, v in sorted(mapping.items())]


def _notes(notes: list[dict[str, Any]]) -> list[str]:
    if not notes:
        return []
    lines = ["", "notes"]
    for note in notes:
        lines.append(f"  {note.get('time', '')}  {note.get('author', '')}".rstrip())
        lines += [f"    {line}" for line in str(note.get("text", "")).splitlines()]
    return lines


def _environment(env: EnvSummary) -> list[str]:
    if env.is_empty():
        return []
    rows = {
        "python": env.python,
        "os": env.os,
        "cpu": env.cpu,
        "memory": env.memory,
        "gpus": ", ".join(env.gpus) if env.gpus else None,
        "packages": f"{len(env.packages)} (env/packages.txt)" if env.has_packages_file else None,
    }
    kept = {k: v for k, v in rows.items() if v}  # in this order, not sorted
    width = max(len(k) for k in kept)
    return ["", "environment"] + [f"  {k:<{width}}  {v}" for k, v in kept.items()]


def _artifacts(run: Run) -> list[str]:
    """Each artifact, marked when its content is not here (fetched runs, a teammate's)."""
    files = run.artifact_files
    if not files:
        return []
    width = max(len(f.path) for f in files)
    lines = ["", "artifacts"]
    for f in files:
        mark = "" if f.here else "  (not here)"
        lines.append(f"  {f.path:<{width}}  {human_size(f.size):>9}  sha256:{f.sha256[:12]}{mark}")
    absent = sum(not f.here for f in files)
    if absent:
        lines.append(f"  {absent} not here: gitruns artifacts get {run.id[-8:]}")
    return lines


def _lineage(store: Store, data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for parent_id in data["parents"]:
        lines.append(f"  parent  {describe_run(store, parent_id)}")
    for item in data.get("inputs") or []:
        digest = f"  sha256:{item['sha256'][:12]}" if item.get("sha256") else ""
        size = f"  {human_size(item['size'])}" if item.get("size") is not None else ""
        lines.append(f"  input   {item.get('uri') or item['path']}{size}{digest}")
    return ["", "lineage", *lines] if lines else []


def describe_run(store: Store, run_id: str) -> str:
    """``name (STATUS) id`` for a run named in another's lineage; it may be gone."""
    commit = store.run_commit(run_id)
    if commit is None:
        return f"{run_id} (not in this repository)"
    try:
        parent = load_run(store, run_id, commit)
    except GitrunsError:
        return f"{run_id} (invalid run)"
    return f"{parent.name} ({parent.status}) {run_id}"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
