"""``gitruns show``: one run as a readable page (text only; JSON/YAML are in render.py)."""

from __future__ import annotations

import math
import shlex
from typing import Any

from gitruns.display.fit import display_width, fit_lines, pad
from gitruns.display.plot import sparkline
from gitruns.display.safe_text import printable
from gitruns.display.sampling import EvenSample
from gitruns.errors import GitrunsError
from gitruns.format import layout
from gitruns.format.ids import short_id
from gitruns.format.layout import flatten
from gitruns.format.text import format_duration, format_number
from gitruns.recording.artifacts import timeline
from gitruns.runs.envinfo import EnvSummary, read_env
from gitruns.runs.model import Run
from gitruns.runs.resources import resource_lines
from gitruns.storage import Store

SPARK_WIDTH = 20
MIN_SPARK = 8
MIN_KEY = 8
SYSTEM_PREFIX = "system/"
FAILURE_LINES = 12
_NUMS = ("last", "min", "max")


def run_page(run: Run, store: Store, width: int | None = None) -> str:
    """Everything about one run, in sections, for a terminal or a code review; every
    line cut to ``width`` columns when given (the metrics table narrows first)."""
    data = run.to_dict()
    lines = _identity(run, data)
    lines += _failure(run)
    lines += _code(data["git"])
    lines += _params(data)
    lines += _hydra(data.get("hydra"))
    own = [k for k in sorted(run.metrics) if not k.startswith(SYSTEM_PREFIX)]
    system = [k for k in sorted(run.metrics) if k.startswith(SYSTEM_PREFIX)]
    lines += _metrics(run, own, "metrics", width)
    lines += _metrics(run, system, "system metrics", width)
    lines += _mapping("tags", data["tags"])
    lines += _notes(data["notes"])
    lines += _environment(read_env(run))
    lines += resource_lines(data.get("resources"))
    lines += _artifacts(run, data["artifacts"])
    lines += _lineage(store, data)
    text = "\n".join(printable(line) for line in lines) + "\n"
    return fit_lines(text, width) if width is not None else text


def _identity(run: Run, data: dict[str, Any]) -> list[str]:
    status = run.status
    if data["exit_code"] is not None:
        status += f" (exit code {data['exit_code']})"
    if run.live:
        pid = getattr(run, "pid", None)
        status += f" (in progress{f', pid {pid}' if pid else ''})"
    user = data["user"]
    who = f"{user['name']} <{user['email']}>" if user["email"] else user["name"]
    if user.get("os_user"):
        who += f" ({user['os_user']})"
    so_far = " so far" if run.live else ""
    lines = [
        f"run       {run.id}",
        f"name      {run.name}",
        f"status    {status}",
    ]
    if run.experiment is not None:
        lines.insert(2, f"experiment {run.experiment}")
    if run.origin != "local":
        lines.append(f"origin    {run.origin} (fetched; annotating it makes it a local run)")
    lines += [
        f"user      {who}" + (f" on {data['host']}" if data["host"] else ""),
        f"start     {data['start_time']}",
        f"end       {data['end_time'] or '-'}  ({format_duration(data['duration_s'])}{so_far})",
    ]
    command = _command_line(data.get("command"))
    if command:
        lines.append(f"command   {command}")
    if data["error"]:
        lines.append(f"error     {data['error'].get('type')}: {data['error'].get('message')}")
    return lines


def _failure(run: Run) -> list[str]:
    """Why a FAILED, CRASHED or KILLED run stopped: the end of the error's traceback when
    the API recorded one, else the last lines the job wrote to stderr."""
    if run.status not in ("FAILED", "CRASHED", "KILLED"):
        return []
    error = run.document.get("error")
    traceback = error.get("traceback") if isinstance(error, dict) else None
    if isinstance(traceback, str) and traceback.strip():
        return ["", "traceback (last lines)", *_last_lines(traceback, FAILURE_LINES)]
    try:
        raw = run.file("logs/stderr.txt")
    except GitrunsError:
        raw = None
    text = (raw or b"").decode("utf-8", errors="replace")
    if text.strip():
        title = f"stderr (last lines; all of it: gitruns logs {short_id(run.id)} --stderr)"
        return ["", title, *_last_lines(text, FAILURE_LINES)]
    if run.status == "CRASHED":
        return ["", "the process died without reporting an error (killed? out of memory?)"]
    return []


def _last_lines(text: str, count: int) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r", "\n").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return [f"  {line}" for line in lines[-count:]]


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
        source = _leaf_source(key, sources)
        suffix = f"  ({source})" if source and source != "api" else ""
        lines.append(f"  {key:<{width}}  {format_number(value)}{suffix}")
    return lines


def _leaf_source(path: str, sources: dict[str, str]) -> str | None:
    """A leaf's source is that of its longest listed prefix (``db`` or ``db.user``)."""
    while path:
        if path in sources:
            return sources[path]
        path = path.rpartition(".")[0]
    return None


def _hydra(hydra: Any) -> list[str]:
    """How Hydra ran the job: the options chosen for its config groups, and overrides."""
    if not isinstance(hydra, dict):
        return []
    lines = ["", f"hydra     {hydra.get('mode') or ''}".rstrip()]
    choices = hydra.get("choices") or {}
    chosen = [f"{k}={v}" for k, v in sorted(choices.items()) if not str(k).startswith("hydra/")]
    if chosen:
        lines.append(f"  choices    {' '.join(chosen)}")
    if hydra.get("overrides"):
        lines.append(f"  overrides  {' '.join(str(o) for o in hydra['overrides'])}")
    if hydra.get("output_dir"):
        lines.append(f"  output     {hydra['output_dir']}")
    if hydra.get("jobs"):
        lines.append(f"  jobs       {len(hydra['jobs'])} child runs")
    return lines


def _metrics(run: Run, keys: list[str], title: str, width: int | None) -> list[str]:
    """A table of the metrics ``keys``: sparkline, last (the value at the highest step),
    min, max, points. On a narrow terminal the sparklines shorten, then the keys."""
    if not keys:
        return []
    summaries = [run.metrics[k] for k in keys]
    numbers = [[format_number(s[f]) for f in ("last", "min", "max")] for s in summaries]
    counts = [str(s["count"]) for s in summaries]
    widths = [max([len(name), *(len(n[i]) for n in numbers)]) for i, name in enumerate(_NUMS)]
    key_width = max(display_width(k) for k in keys)
    fixed = 2 + 2 + sum(w + 2 for w in widths) + 2 + max(len("points"), *map(len, counts))
    spark_width = SPARK_WIDTH
    if width is not None:
        spark_width = max(MIN_SPARK, min(SPARK_WIDTH, width - fixed - key_width))
        key_width = min(key_width, max(MIN_KEY, width - fixed - spark_width))
    header = f"  {'':<{key_width}}  {'':<{spark_width}}" + "".join(
        f"  {name:>{w}}" for name, w in zip(_NUMS, widths, strict=True)
    )
    lines = ["", title, f"{header}  points".rstrip()]
    for key, row, count in zip(keys, numbers, counts, strict=True):
        spark = sampled_sparkline(run, key, spark_width)
        cells = "".join(f"  {cell:>{w}}" for cell, w in zip(row, widths, strict=True))
        lines.append(f"  {pad(key, key_width)}  {spark:<{spark_width}}{cells}  {count}")
    return lines


def sampled_sparkline(run: Run, key: str, width: int = SPARK_WIDTH) -> str:
    """A sparkline from a few hundred evenly spaced lines of the series, streamed: memory
    stays flat, and parsing only the kept lines keeps ``show`` fast for millions of points."""
    sample: EvenSample[bytes] = EvenSample(width * 8)
    try:
        for lines in layout.iter_line_batches(run.metric_chunks(key), skip_header=True):
            sample.extend(lines)
    except GitrunsError:
        return ""
    values = []
    for line in sample.items:
        if not line:
            continue
        try:
            values.append(float(line.rsplit(b",", 1)[1]))
        except (IndexError, ValueError):
            values.append(math.nan)
    return sparkline(values, width)


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
        "conda": env.conda,
        "conda packages": f"{len(env.conda_packages)} (env/conda.yaml)"
        if env.has_conda_file
        else None,
    }
    kept = {k: v for k, v in rows.items() if v}  # in this order, not sorted
    width = max(len(k) for k in kept)
    return ["", "environment"] + [f"  {k:<{width}}  {v}" for k, v in kept.items()]


def _artifacts(run: Run, artifacts: list[dict[str, Any]]) -> list[str]:
    """Artifacts in the order they were logged, with their step (a checkpoint timeline),
    each marked when its content is not here (fetched runs, a teammate's)."""
    if not artifacts:
        return []
    absent_paths = {f.path for f in run.artifact_files if not f.here}
    rows = []
    for art in timeline(artifacts):
        when = str(art.get("time") or "")[:19].replace("T", " ")
        step = art.get("step")
        step_text = f"step {step}" if isinstance(step, int) and not isinstance(step, bool) else ""
        mark = "  (not here)" if art.get("path") in absent_paths else ""
        rows.append((when, step_text, human_size(art.get("size") or 0), f"{art['path']}{mark}"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["", "artifacts (in the order logged)" if widths[0] else "artifacts"]
    for when, step_text, size, path in rows:
        cells = [c.ljust(w) for c, w in ((when, widths[0]), (step_text, widths[1])) if w]
        lines.append("  " + "  ".join([*cells, size.rjust(widths[2]), path]))
    if absent_paths:
        lines.append(f"  {len(absent_paths)} not here: gitruns artifacts get {run.id[-8:]}")
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
    """``name (STATUS) id`` for a run named in another's lineage (local, fetched or in
    progress); it may be gone."""
    from gitruns.query.locate import all_locations, load_located

    location = all_locations(store).get(run_id)
    if location is None:
        return f"{run_id} (not in this repository)"
    try:
        parent = load_located(store, location)
    except (GitrunsError, OSError):
        return f"{run_id} (invalid run)"
    origin = "" if parent.origin == "local" else f", from {parent.origin}"
    return f"{parent.name} ({parent.status}{origin}) {run_id}"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
