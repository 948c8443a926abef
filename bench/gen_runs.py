"""Generate many runs fast, for benchmarks at 10k and 100k runs.

Writing 100,000 runs through the API takes about an hour on a loaded 2-core machine (each
run is a process-level life cycle: staging, journal, finalising). The benchmarks only need
the runs as they are stored, so this records ONE real run through the API (the template:
its run.yaml, environment files and commit message are what gitruns writes), then streams
every other run into ``git fast-import`` with the template's environment blobs and fresh
run.yaml, params.yaml, summary.yaml and metric CSVs made with gitruns' own YAML writer:
the params, metrics and tags of run ``i`` are ``bench_query.run_data(i)``, the same runs
MLflow gets. The result is one pack and packed refs (what ``gitruns gc`` leaves); the
first and last runs are read back with ``load_run`` as a check.

    python bench/gen_runs.py 100000          # -> bench/.work/fast-repo-100000
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query import WORK, git, run_data

_BASE_MS = 1_790_000_000_000  # 2026-09-21: ids and times are spread from here


def run_id_at(ms: int, i: int) -> str:
    """A UUIDv7 for millisecond ``ms`` whose random part is derived from ``i``."""
    rand = (i * 0x9E3779B97F4A7C15) & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | ((i & 0xFFF) << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _iso(ms: int) -> str:
    seconds, rest = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest:03d}Z"


def _template(repo: Path) -> tuple[dict[str, Any], dict[str, str], str]:
    """Record one real run; return its run.yaml, its shared files' blob ids and code commit."""
    os.environ.setdefault("GIT_AUTHOR_NAME", "Bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    import gitruns
    from gitruns.recording.repository import open_store
    from gitruns.runs.model import load_run

    with gitruns.start_run("template", params={"lr": 0.1}, repo=repo) as active:
        active.log_metric("acc", 0.5, step=0)
    store = open_store(repo)
    (run_id, commit), *_ = store.run_refs().items()
    run = load_run(store, run_id, commit)
    shared = {p: b for p, b in store.file_ids(commit).items() if p.startswith(("env/", "art"))}
    git(repo, "update-ref", "-d", f"refs/runs/{run_id}")
    return run.document, shared, run.git["commit"]


def _run_files(i: int, template: dict[str, Any]) -> tuple[str, dict[str, bytes]]:
    from gitruns.format import yamlio

    data = run_data(i)
    ms = _BASE_MS + i * 1000
    run_id = run_id_at(ms, i)
    document = copy.deepcopy(template)
    document.update(
        id=run_id,
        name=data["name"],
        start_time=_iso(ms),
        end_time=_iso(ms + 800),
        duration_s=0.8,
        tags=data["tags"],
        param_sources={key: "api" for key in data["params"]},
    )
    files = {"run.yaml": yamlio.dump(document), "params.yaml": yamlio.dump(data["params"])}
    summary = {}
    for key, values in data["metrics"].items():
        lines = ["step,timestamp,value"]
        lines += [f"{step},{ms + step},{value!r}" for step, value in enumerate(values)]
        files[f"metrics/{key}.csv"] = ("\n".join(lines) + "\n").encode()
        summary[key] = {
            "count": len(values),
            "last": values[-1],
            "last_step": len(values) - 1,
            "last_timestamp": ms + len(values) - 1,
            "max": max(values),
            "min": min(values),
        }
    files["summary.yaml"] = yamlio.dump(summary)
    return run_id, files


def generate(n: int, repo: Path | None = None) -> Path:
    """A repository of ``n`` runs under bench/.work/fast-repo-<n> (made once)."""
    repo = repo or WORK / f"fast-repo-{n}"
    if (repo / ".generated").exists():
        return repo
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('train')\n")
    git(repo, "add", "train.py")
    ident = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    git(repo, *ident, "commit", "-q", "-m", "initial")
    template, shared, code = _template(repo)
    started = time.perf_counter()
    importer = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"], cwd=repo, stdin=subprocess.PIPE
    )
    assert importer.stdin is not None
    out = importer.stdin
    for i in range(n):
        run_id, files = _run_files(i, template)
        when = (_BASE_MS + i * 1000) // 1000 + 1
        message = f"run run-{i} ({run_id}): FINISHED\n".encode()
        out.write(f"commit refs/runs/{run_id}\n".encode())
        out.write(f"author Bench <bench@example.com> {when} +0000\n".encode())
        out.write(f"committer Bench <bench@example.com> {when} +0000\n".encode())
        out.write(b"data %d\n%s\n" % (len(message), message))
        out.write(f"from {code}\ndeleteall\n".encode())
        for path, blob in shared.items():
            out.write(f"M 100644 {blob} {path}\n".encode())
        for path, content in files.items():
            out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(content), content))
        if i and i % 10_000 == 0:
            print(f"generated {i}/{n} runs ({time.perf_counter() - started:.0f} s)", flush=True)
    out.write(b"done\n")
    out.close()
    if importer.wait():
        raise RuntimeError("git fast-import failed")
    git(repo, "pack-refs", "--all")
    _check(repo, n)
    seconds = time.perf_counter() - started
    (repo / ".generated").write_text(f"{n} runs in {seconds:.1f} s\n")
    print(f"{n} runs in {seconds:.1f} s: {repo}")
    return repo


def _check(repo: Path, n: int) -> None:
    from gitruns.recording.repository import open_store
    from gitruns.runs.model import load_run

    store = open_store(repo)
    refs = store.run_refs()
    if len(refs) != n:
        raise RuntimeError(f"expected {n} runs, found {len(refs)}")
    for run_id in (min(refs), max(refs)) if refs else ():
        load_run(store, run_id, refs[run_id])  # raises when not a valid run


if __name__ == "__main__":
    generate(int(sys.argv[1]))
