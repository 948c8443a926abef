"""Benchmark: artifact transfers, gitruns against the raw transfer with the same library.

Measures, on this machine, with servers on 127.0.0.1:

* an S3 API server (moto, server mode): ``gitruns artifacts push`` / ``get`` of a run with
  N files (default 100 x 2 MiB) and of a run with one large file (default 200 MiB),
  against the same bytes sent with raw s3fs (``fs.put``/``fs.get``, the library gitruns
  uses) and raw boto3 (``upload_file``/``download_file`` on 10 threads, what ``aws s3 cp``
  does), and ``dvc push``/``dvc pull`` when DVC is installed in ``bench/.work/venv``;
* a Git LFS server (giftless): plain ``git push`` of the run (git-lfs's upload through the
  gitruns pre-push hook) and ``gitruns artifacts get``, against raw
  ``git lfs push --object-id`` and ``git lfs fetch`` of the same objects;
* peak memory (RSS of the process tree) of each transfer: flat for the large file means
  far below its size.

Every figure is a subprocess as a user runs it, Python start-up included. Sizes are modest
(the machine has 2 shared cores); scale them with --files/--file-mib/--large-mib.

    python bench/bench_artifacts.py                 # measure, update docs/benchmarks.md
    python bench/bench_artifacts.py --quick --no-docs

Figures go to docs/benchmarks.md between the ``<!-- bench:artifacts -->`` markers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
DOCS = ROOT / "docs" / "benchmarks.md"
BENCH_VENV = ROOT / "bench" / ".work" / "venv"
MARK_BEGIN, MARK_END = "<!-- bench:artifacts -->", "<!-- /bench:artifacts -->"
MIB = 1024 * 1024


def sh(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def timed(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time and peak RSS (the process and its children, polled) of one command."""
    start = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        assert process.stderr is not None
        raise RuntimeError(f"{' '.join(args)} failed: {process.stderr.read()[-2000:]!r}")
    return elapsed, peak


def make_files(folder: Path, count: int, size: int) -> None:
    folder.mkdir(parents=True)
    for index in range(count):
        with (folder / f"part-{index:03d}.bin").open("wb") as out:
            left = size
            while left:
                chunk = os.urandom(min(left, 4 * MIB))
                out.write(chunk)
                left -= len(chunk)


RECORD = """
import sys, gitruns
with gitruns.start_run(sys.argv[1]) as run:
    run.log_artifact(sys.argv[2])
print(run.id)
"""

S3_RAW = """
import sys, s3fs
fs = s3fs.S3FileSystem(endpoint_url=sys.argv[1])
if sys.argv[2] == "put":
    fs.put(sys.argv[3], sys.argv[4], recursive=True)
else:
    fs.get(sys.argv[3], sys.argv[4], recursive=True)
"""

BOTO_RAW = """
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
client = boto3.client("s3", endpoint_url=sys.argv[1])
action, local, bucket, prefix = sys.argv[2:6]
if action == "put":
    files = [os.path.join(r, n) for r, _, ns in os.walk(local) for n in ns]
    work = lambda p: client.upload_file(p, bucket, prefix + os.path.relpath(p, local))
    items = files
else:
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]
    def work(key):
        path = os.path.join(local, key[len(prefix):])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        client.download_file(bucket, key, path)
    items = keys
with ThreadPoolExecutor(10) as pool:
    list(pool.map(work, items))
"""


def start_moto(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    from _sharing_helpers import free_port, wait_for_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return process, f"http://127.0.0.1:{port}"


def empty_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    s3 = boto3.resource("s3", endpoint_url=endpoint)
    s3.Bucket(bucket).objects.all().delete()


def clear_store(clone: Path) -> None:
    shutil.rmtree(clone / ".git" / "lfs", ignore_errors=True)


def measure(args: argparse.Namespace) -> dict[str, tuple[float, int]]:
    """Every figure, ``args.rounds`` times, the rounds interleaved (the load of a shared
    machine drifts): the median time and the highest peak memory of each."""
    rounds: dict[str, list[tuple[float, int]]] = {}
    for index in range(args.rounds):
        print(f"round {index + 1} of {args.rounds}", file=sys.stderr)
        for key, value in measure_once(args).items():
            rounds.setdefault(key, []).append(value)
    return {
        key: (statistics.median(t for t, _ in values), max(m for _, m in values))
        for key, values in rounds.items()
    }


def measure_once(args: argparse.Namespace) -> dict[str, tuple[float, int]]:
    from _artifact_helpers import giftless_server, use_lfs_server

    for key, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        os.environ[key] = value
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # start-up as users have it: cached .pyc
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-artifacts-"))
    home = work / "home"
    home.mkdir()
    os.environ["HOME"] = str(home)
    (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n")
    results: dict[str, tuple[float, int]] = {}
    py = sys.executable
    gitruns = [py, "-m", "gitruns"]
    try:
        remote = work / "remote.git"
        sh(work, "git", "init", "-q", "--bare", str(remote))
        alice, bob = work / "alice", work / "bob"
        for clone in (alice, bob):
            sh(work, "git", "clone", "-q", str(remote), str(clone))
        (alice / "README").write_text("bench\n")
        sh(alice, "git", "add", "README")
        sh(alice, "git", "commit", "-q", "-m", "init")
        sh(alice, "git", "push", "-q", "origin", "HEAD:main")
        sh(bob, "git", "pull", "-q", "origin", "main")
        data = work / "data"
        make_files(data / "many", args.files, args.file_mib * MIB)
        make_files(data / "large", 1, args.large_mib * MIB)
        runs = {}
        for label in ("many", "large"):
            source = data / label if label == "many" else data / "large" / "part-000.bin"
            t0 = time.perf_counter()
            runs[label] = sh(alice, py, "-c", RECORD, label, str(source)).strip()
            results[f"record {label}"] = (time.perf_counter() - t0, 0)
        sh(alice, "git", "push", "-q", "--no-verify", "origin", "refs/runs/*:refs/runs/*")
        sh(bob, "git", "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")

        moto, endpoint = start_moto(work)
        try:
            import boto3

            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
            for clone in (alice, bob):
                sh(clone, *gitruns, "artifacts", "remote", "add", "s3", "s3://bench/gitruns",
                   "-o", f"endpoint_url={endpoint}")  # fmt: skip
            for label in ("many", "large"):
                run_id = runs[label]
                results[f"s3 gitruns push {label}"] = timed(
                    alice, *gitruns, "artifacts", "push", run_id, "--remote", "s3"
                )
                clear_store(bob)
                results[f"s3 gitruns get {label}"] = timed(
                    bob, *gitruns, "artifacts", "get", run_id, "--no-place", "--remote", "s3"
                )
                empty_bucket(endpoint, "bench")
                results[f"s3 s3fs put {label}"] = timed(
                    work, py, "-c", S3_RAW, endpoint, "put", str(data / label), f"bench/raw/{label}"
                )
                results[f"s3 s3fs get {label}"] = timed(
                    work, py, "-c", S3_RAW, endpoint, "get", f"bench/raw/{label}",
                    str(work / f"s3fs-{label}"),
                )  # fmt: skip
                empty_bucket(endpoint, "bench")
                results[f"s3 boto3 put {label}"] = timed(
                    work, py, "-c", BOTO_RAW, endpoint, "put", str(data / label), "bench",
                    f"boto/{label}/",
                )  # fmt: skip
                results[f"s3 boto3 get {label}"] = timed(
                    work, py, "-c", BOTO_RAW, endpoint, "get", str(work / f"boto-{label}"),
                    "bench", f"boto/{label}/",
                )  # fmt: skip
                empty_bucket(endpoint, "bench")
                if not args.no_dvc:
                    results.update(bench_dvc(work, data / label, label, endpoint))
                    empty_bucket(endpoint, "bench")
        finally:
            moto.terminate()
            moto.wait(timeout=10)

        with giftless_server(work) as server:
            for clone in (alice, bob):
                use_lfs_server(clone, server, home)
            sh(alice, *gitruns, "remote", "setup")
            for label in ("many", "large"):
                run_id = runs[label]
                # plain git push of the run: git-lfs uploads through the gitruns hook
                sh(alice, "git", "push", "-q", "origin", f":refs/runs/{run_id}")
                shutil.rmtree(server.storage, ignore_errors=True)
                results[f"lfs git push {label}"] = timed(
                    alice, "git", "push", "-q", "origin", f"refs/runs/{run_id}:refs/runs/{run_id}"
                )
                check_uploaded(server.storage, data / label)
                clear_store(bob)
                results[f"lfs gitruns get {label}"] = timed(
                    bob, *gitruns, "artifacts", "get", run_id, "--no-place"
                )
                shutil.rmtree(server.storage, ignore_errors=True)
                results[f"lfs raw push {label}"] = timed(
                    alice,
                    "git",
                    "lfs",
                    "push",
                    "--object-id",
                    "origin",
                    *_objects_of(alice, run_id),
                )
                clear_store(bob)
                results[f"lfs raw fetch {label}"] = timed(
                    bob, "git", "lfs", "fetch", "origin", f"refs/remote-runs/origin/{run_id}"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def check_uploaded(storage: Path, source: Path) -> None:
    """The server holds every byte sent (a figure of a transfer that did nothing is no
    figure)."""
    held = sum(p.stat().st_size for p in storage.rglob("*") if p.is_file())
    sent = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    if held != sent:
        raise RuntimeError(f"the LFS server holds {held} bytes, not the {sent} sent")


def _objects_of(clone: Path, run_id: str) -> list[str]:
    import yaml

    entries = yaml.safe_load(sh(clone, "git", "show", f"refs/runs/{run_id}:artifacts.yaml"))
    return sorted({entry["sha256"] for entry in entries})


def bench_dvc(work: Path, source: Path, label: str, endpoint: str) -> dict[str, tuple[float, int]]:
    dvc = BENCH_VENV / "bin" / "dvc"
    if not dvc.exists():
        return {}
    project = work / f"dvc-{label}"
    sh(work, "git", "init", "-q", str(project))
    sh(project, str(dvc), "init", "-q")
    shutil.copytree(source, project / "data")
    sh(project, str(dvc), "add", "-q", "data")
    sh(project, str(dvc), "remote", "add", "-d", "s3", f"s3://bench/dvc-{label}")
    sh(project, str(dvc), "remote", "modify", "s3", "endpointurl", endpoint)
    results = {f"s3 dvc push {label}": timed(project, str(dvc), "push", "-q")}
    shutil.rmtree(project / ".dvc" / "cache")
    shutil.rmtree(project / "data")
    results[f"s3 dvc pull {label}"] = timed(project, str(dvc), "pull", "-q")
    return results


def render(results: dict[str, tuple[float, int]], args: argparse.Namespace) -> str:
    many = f"{args.files} files x {args.file_mib} MiB"
    large = f"one {args.large_mib} MiB file"
    sizes = {"many": args.files * args.file_mib, "large": args.large_mib}

    def cell(key: str, label: str) -> str:
        if key not in results:
            return "-"
        seconds, peak = results[key]
        rate = sizes[label] / seconds
        memory = f", {peak / MIB:.0f} MiB RSS" if peak else ""
        return f"{seconds:.2f} s ({rate:.0f} MiB/s{memory})"

    lines = [
        "## Artifacts: upload and download",
        "",
        "Reproduce: `python bench/bench_artifacts.py "
        f"--files {args.files} --file-mib {args.file_mib} --large-mib {args.large_mib} "
        f"--rounds {args.rounds}` ({time.strftime('%Y-%m-%d')}, "
        f"{sh(ROOT, 'git', '--version').strip()}, {sh(ROOT, 'git', 'lfs', 'version').split()[0]}, "
        "2 shared cores, servers on 127.0.0.1; "
        f"median of {args.rounds} interleaved rounds; each figure is the command as a user "
        "runs it, Python start-up included, with the highest peak RSS of its process tree).",
        "",
        f"Storing the artifacts while recording (copy into the local store, hashing as it "
        f"copies): {many} {results['record many'][0]:.2f} s, {large} "
        f"{results['record large'][0]:.2f} s.",
        "",
    ]

    def row(what: str, up: str, down: str, label: str) -> str:
        return f"| {what} | {cell(f'{up} {label}', label)} | {cell(f'{down} {label}', label)} |"

    head = ["| | upload | download |", "|---|---|---|"]
    for label, title in (("many", many), ("large", large)):
        lines += [f"{title} to the S3 server (moto):", "", *head]
        lines += [
            row("gitruns artifacts push / get (s3fs)", "s3 gitruns push", "s3 gitruns get", label),
            row("raw s3fs put / get", "s3 s3fs put", "s3 s3fs get", label),
            row("raw boto3, 10 threads (aws s3 cp)", "s3 boto3 put", "s3 boto3 get", label),
            row("dvc push / pull", "s3 dvc push", "s3 dvc pull", label),
            "",
            f"{title} to the Git LFS server (giftless):",
            "",
            *head,
            row("plain git push (gitruns hook) / gitruns artifacts get", "lfs git push",
                "lfs gitruns get", label),
            row("raw git lfs push --object-id / git lfs fetch", "lfs raw push", "lfs raw fetch",
                label),
            "",
        ]  # fmt: skip
    return "\n".join(lines)


MAKE_RUNS = """
import sys, gitruns
for i in range(int(sys.argv[1])):
    with gitruns.start_run(f"run-{i}") as run:
        run.log_metric("loss", 0.5)
"""


def measure_scan(count: int) -> str:
    """What the pre-push hook adds to a plain ``git push`` of many runs (runs without
    artifacts here: reading them is all it does), and what git-lfs's own hook would."""
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-scan-"))
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        repo = work / "repo"
        sh(work, "git", "init", "-q", str(repo))
        (repo / "README").write_text("scan\n")
        sh(repo, "git", "add", "README")
        sh(repo, "git", "commit", "-q", "-m", "init")
        sh(repo, sys.executable, "-c", MAKE_RUNS, str(count))
        times = {}
        for hooked in (False, True, "lfs"):
            remote = work / f"remote-{hooked}.git"
            sh(work, "git", "init", "-q", "--bare", str(remote))
            if hooked:
                sh(repo, "git", "remote", "remove", "origin")
            sh(repo, "git", "remote", "add", "origin", str(remote))
            sh(repo, "git", "push", "-q", "--no-verify", "origin", "HEAD:main")
            sh(repo, "git", "fetch", "-q", "origin")
            if hooked is True:
                sh(repo, sys.executable, "-m", "gitruns", "remote", "setup")
            if hooked == "lfs":  # git-lfs's own hook instead
                (repo / ".git" / "hooks" / "pre-push").unlink()
                sh(repo, "git", "lfs", "install", "--local")
            flags = [] if hooked else ["--no-verify"]
            times[hooked] = timed(
                repo, "git", "push", "-q", *flags, "origin", "refs/runs/*:refs/runs/*"
            )[0]
        return (
            f"A plain `git push` of {count} new runs (no artifacts) to a local bare remote: "
            f"{times[False]:.2f} s without a hook, {times[True]:.2f} s with the gitruns hook "
            f"(one Python start, each run's artifacts.yaml read), {times['lfs']:.2f} s with "
            "git-lfs's own hook (which scans each pushed run apart). Reproduce: "
            "`python bench/bench_artifacts.py --scan-only 1000`."
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_docs(text: str, begin: str = MARK_BEGIN, end: str = MARK_END) -> None:
    docs = DOCS.read_text()
    block = f"{begin}\n{text}\n{end}"
    if begin in docs:
        head, _, rest = docs.partition(begin)
        _, _, tail = rest.partition(end)
        docs = head + block + tail
    else:
        docs = docs.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--file-mib", type=int, default=2)
    parser.add_argument("--large-mib", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10 x 1 MiB and 20 MiB, 1 round")
    parser.add_argument("--no-dvc", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--scan-only",
        type=int,
        metavar="RUNS",
        default=0,
        help="only measure the hook's scan of a push of RUNS runs",
    )
    args = parser.parse_args()
    if args.scan_only:
        text = measure_scan(args.scan_only)
        print(text)
        if not args.no_docs:
            write_docs(text, "<!-- bench:artifacts-scan -->", "<!-- /bench:artifacts-scan -->")
        return
    if args.quick:
        args.files, args.file_mib, args.large_mib, args.rounds = 10, 1, 20, 1
    text = render(measure(args), args)
    print(text)
    if not args.no_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
