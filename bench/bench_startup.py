"""Benchmark: start-up of `gitruns record`, of `gitruns log-metric` in a recorded shell
script, and the child-side hook's cost on a plain `python -c pass`; how long `record`
takes to start its command, and what it adds to a command that runs for half a second.

    python bench/bench_startup.py               # writes the `startup` section of docs/benchmarks.md
    python bench/bench_startup.py --repeat 5    # fewer rounds, still written
    python bench/bench_startup.py --no-regular  # without the regular (non-editable) install
    python bench/bench_startup.py --before main # also times main's gitruns, interleaved

When gitruns is installed editable (`pip install -e .`, as in development), every Python
of its venv loads setuptools' editable finder at start-up; a user's `pip install gitruns`
has none. So the script also installs the worktree as a user would (`pip install --no-deps
.`, a wheel, into a venv of its own under bench/.work/startup-regular/ whose dependencies
come from this venv through a `.pth` line) and times `record` there too, beside the
editable figures, each against `python -c pass` of its own venv.

With ``--before REV``, the gitruns of git revision REV (``git archive``, under
bench/.work/startup-before/) is timed in the same rounds as this worktree's, both put first
on ``PYTHONPATH`` in each venv, so that a change is measured against what it changes on the
same machine at the same moment.

Every kind of process is timed in interleaved rounds with the `python -c pass` baseline, on
this shared machine: the minimum of the rounds stands for an idle machine (other work can
only add time), the median for the machine as loaded while measured. CPU is user + system
time of the process and its children (steadier under load than wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    WORK,
    bench_env,
    compile_gitruns,
    gitruns_at,
    machine_line,
    make_repo,
    regular_install,
    write_section,
)

PY = sys.executable
GITRUNS = [PY, "-m", "gitruns"]
# A command that prints when it started (its first statement), and one that runs a while.
STAMP = "import time; print(repr(time.time()))"
SLEEP = "import time; time.sleep(0.5)"

# Runs under `gitruns record`: times `gitruns log-metric` calls the way a shell script
# makes them (one process a call), with `python -c pass` interleaved as the baseline.
DRIVER = textwrap.dedent(
    """
    import json, os, resource, subprocess, sys, time
    # The same log-metric call with the repository opened (pygit2 loaded): the way in
    # before the fast path, for comparison
    SLOW_JOIN = (
        "from gitruns.recording.start import attach_to_recorded_run\\n"
        "run = attach_to_recorded_run()\\n"
        "run.log_metric('loss', 0.5, step=run.next_step('loss'))\\n"
        "run.end()\\n"
    )
    rounds, out = int(sys.argv[1]), sys.argv[2]
    kinds = {
        "plain": [sys.executable, "-c", "pass"],
        "log-metric": [sys.executable, "-m", "gitruns", "log-metric", "loss", "0.5"],
        "set-tag": [sys.executable, "-m", "gitruns", "set-tag", "stage", "one"],
        "log-param": [sys.executable, "-m", "gitruns", "log-param", "lr", "0.01"],
        "slow join": [sys.executable, "-c", SLOW_JOIN],
    }
    times = {k: [] for k in kinds}
    for _ in range(rounds):
        for kind, cmd in kinds.items():
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
            times[kind].append((wall, cpu))
    json.dump(times, open(out, "w"))
    """
)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall and CPU time of ``cmd``, and how long after its launch a STAMP command in it
    started (0 for other commands)."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    launched = time.time()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stamp = done.stdout.split(b"\n", 1)[0]
    latency = float(stamp) - launched if STAMP in cmd else 0.0
    return wall, cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime, latency


def figures(samples: list[tuple[float, ...]]) -> dict[str, float]:
    walls, cpus = [s[0] for s in samples], [s[1] for s in samples]
    found = {
        "min": min(walls),
        "median": statistics.median(walls),
        "cpu": min(cpus),
        "cpu_median": statistics.median(cpus),
    }
    if len(samples[0]) > 2:
        latencies = [s[2] for s in samples]
        found.update(start=min(latencies), start_median=statistics.median(latencies))
    return found


def installed_editable() -> bool:
    """Whether the gitruns this Python imports is an editable install (PEP 660)."""
    try:
        text = metadata.distribution("gitruns").read_text("direct_url.json") or "{}"
    except metadata.PackageNotFoundError:
        return False
    return bool(json.loads(text).get("dir_info", {}).get("editable"))


def before_tree(rev: str) -> tuple[str, Path]:
    """gitruns as of git revision ``rev`` (its short hash, and a folder holding its
    ``gitruns/``, bytecode compiled), for the before/after rows."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    folder = gitruns_at(rev)
    subprocess.run(
        [PY, "-m", "compileall", "-q", str(folder / "gitruns")],
        check=True,
        capture_output=True,
        env=bench_env(),
    )
    return short, folder


def hooked_env(env: dict[str, str], scratch: Path) -> dict[str, str]:
    from gitruns.recorder.child_reports import hook_environment

    return hook_environment(scratch, env)


def measure(
    repeat: int, regular: str | None, before: tuple[str, Path] | None = None
) -> dict[str, dict[str, float]]:
    env = bench_env()
    with tempfile.TemporaryDirectory(prefix="gitruns-startup-") as tmp:
        repo = make_repo(Path(tmp) / "repo")
        dirty = make_repo(Path(tmp) / "dirty")
        (dirty / "train.py").write_text("changed = True\n")  # a snapshot before the command
        hook_dir = Path(tmp) / "hook"
        hook_dir.mkdir()
        kinds = {
            "plain": ([PY, "-c", "pass"], env, repo),
            "plain, hooked": ([PY, "-c", "pass"], hooked_env(env, hook_dir), repo),
            "gitruns --version": ([*GITRUNS, "--version"], env, repo),
            "record, no system metrics": (
                [*GITRUNS, "record", "--no-system-metrics", "--", PY, "-c", "pass"],
                env,
                repo,
            ),
            "record": ([*GITRUNS, "record", "--", PY, "-c", "pass"], env, repo),
            "record, no package cache": (
                [*GITRUNS, "record", "--", PY, "-c", "pass"],
                {**env, "GITRUNS_PACKAGE_CACHE": "0"},
                repo,
            ),
            "stamp": ([PY, "-c", STAMP], env, repo),
            "record, stamp": ([*GITRUNS, "record", "--", PY, "-c", STAMP], env, repo),
            "record, stamp, dirty": ([*GITRUNS, "record", "--", PY, "-c", STAMP], env, dirty),
            "sleep": ([PY, "-c", SLEEP], env, repo),
            "record, sleep": ([*GITRUNS, "record", "--", PY, "-c", SLEEP], env, repo),
        }
        if regular is not None:  # the same, installed as a user installs it
            kinds["regular: plain"] = ([regular, "-c", "pass"], env, repo)
            kinds["regular: record"] = (
                [regular, "-m", "gitruns", "record", "--", regular, "-c", "pass"],
                env,
                repo,
            )
            kinds["regular: stamp"] = ([regular, "-c", STAMP], env, repo)
            kinds["regular: record, stamp"] = (
                [regular, "-m", "gitruns", "record", "--", regular, "-c", STAMP],
                env,
                repo,
            )
        if before is not None:  # REV's gitruns and this tree's, each first on PYTHONPATH
            pythons = {"editable": PY, **({"regular": regular} if regular else {})}
            for install, python in pythons.items():
                for side, tree in (("before", before[1]), ("after", ROOT)):
                    side_env = {**env, "PYTHONPATH": str(tree)}
                    kinds[f"{side} {install}: plain"] = ([python, "-c", "pass"], side_env, repo)
                    kinds[f"{side} {install}: record"] = (
                        [python, "-m", "gitruns", "record", "--", python, "-c", "pass"],
                        side_env,
                        repo,
                    )
        samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in kinds}
        for cmd, kind_env, cwd in kinds.values():  # warm the page cache once
            subprocess.run(cmd, cwd=cwd, env=kind_env, capture_output=True, check=True)
        for _ in range(repeat):
            for kind, (cmd, kind_env, cwd) in kinds.items():
                samples[kind].append(timed(cmd, cwd, kind_env))
        driver = Path(tmp) / "driver.py"
        driver.write_text(DRIVER)
        out = Path(tmp) / "calls.json"
        subprocess.run(
            [
                *GITRUNS,
                "record",
                "--no-system-metrics",
                "--",
                PY,
                str(driver),
                str(repeat),
                str(out),
            ],
            cwd=repo,
            env=env,
            check=True,
            capture_output=True,
        )
        calls = json.loads(out.read_text())
    result = {kind: figures(s) for kind, s in samples.items()}
    for kind, s in calls.items():
        result[f"in run: {kind}"] = figures([tuple(x) for x in s])
    return result


def render(
    result: dict[str, dict[str, float]],
    repeat: int,
    load_before: float,
    editable: bool,
    before_rev: str | None = None,
) -> str:
    def ms(value: float) -> str:
        return f"{value * 1000:.0f} ms"

    base, inner = result["plain"], result["in run: plain"]
    stamp = result["stamp"]
    how = " (editable install)" if editable else ""
    regular = "regular: record" in result
    rows: list[tuple[str, dict[str, float], dict[str, float] | str | None]] = [
        ("`python -c pass` (the baseline)", result["plain"], None),
        ("`python -c pass` with record's child hook", result["plain, hooked"], base),
        ("`gitruns --version`", result["gitruns --version"], base),
        (
            "`gitruns record --no-system-metrics -- python -c pass`",
            result["record, no system metrics"],
            base,
        ),
        (f"`gitruns record -- python -c pass`{how}", result["record"], base),
        (
            "the same with the package cache off (`GITRUNS_PACKAGE_CACHE=0`)",
            result["record, no package cache"],
            base,
        ),
        *(
            [
                (
                    "`python -c pass` in the regular install's venv (baseline of the next row)",
                    result["regular: plain"],
                    None,
                ),
                (
                    "`gitruns record -- python -c pass`, regular install (`pip install .`)",
                    result["regular: record"],
                    "regular: plain",
                ),
            ]
            if regular
            else []
        ),
        ("`python -c 'time.sleep(0.5)'` (baseline of the next row)", result["sleep"], None),
        ("`gitruns record -- python -c 'time.sleep(0.5)'`", result["record, sleep"], "sleep"),
        ("`gitruns log-metric loss 0.5` in a recorded script", result["in run: log-metric"], inner),
        ("`gitruns set-tag stage one` in a recorded script", result["in run: set-tag"], inner),
        ("`gitruns log-param lr 0.01` in a recorded script", result["in run: log-param"], inner),
        (
            "the same `log-metric` call joining with git opened (the way before the fast path)",
            result["in run: slow join"],
            inner,
        ),
    ]
    lines = [
        "## Start-up: `gitruns record`, `gitruns log-metric`",
        "",
        "Reproduce: `python bench/bench_startup.py`",
        "",
        machine_line() + f" Load average at the start: {load_before:.1f}.",
        (
            "gitruns is installed editable here (`pip install -e .`): every Python of its"
            " venv, the baseline `python -c pass` too, first loads setuptools' editable"
            " finder, which a user's `pip install gitruns` does not have. The rows marked"
            " regular install time the same worktree installed as a user installs it"
            " (`pip install --no-deps .`, a wheel, in a venv of its own whose dependencies"
            " are this venv's), each against `python -c pass` of its own venv."
            if editable and regular
            else "gitruns is installed editable here (`pip install -e .`)."
            if editable
            else "gitruns is installed as a regular package here."
        ),
        f"Rounds: {repeat}, every command in turn each round, gitruns' bytecode compiled"
        " (`PYTHONDONTWRITEBYTECODE` unset, as in an installed package). The fastest round"
        " is the nearest this shared machine comes to idle (other work only adds time; with"
        " a load average far above the 2 cores it is not idle: compare `python -c pass`"
        " with the 15-20 ms it takes on an idle core); the median round is the machine as"
        " loaded. Overhead: minus `python -c pass` of the same rounds (inside the recorded"
        " script for the logging verbs). CPU: user + system time of the process tree, fastest"
        " and median rounds; it grows less with load than wall time does.",
        "",
        "| command | fastest round | overhead | median round | overhead | CPU, fastest | overhead"
        " | CPU, median | overhead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, fig, against_key in rows:
        against = result[against_key] if isinstance(against_key, str) else against_key
        if against is None:
            lines.append(
                f"| {label} | {ms(fig['min'])} | - | {ms(fig['median'])} | -"
                f" | {ms(fig['cpu'])} | - | {ms(fig['cpu_median'])} | - |"
            )
            continue
        lines.append(
            f"| {label} | {ms(fig['min'])} | {ms(fig['min'] - against['min'])} |"
            f" {ms(fig['median'])} | {ms(fig['median'] - against['median'])} | {ms(fig['cpu'])}"
            f" | {ms(fig['cpu'] - against['cpu'])} | {ms(fig['cpu_median'])}"
            f" | {ms(fig['cpu_median'] - against['cpu_median'])} |"
        )
    if before_rev is not None:
        lines += ["", *_before_after(result, before_rev, ms)]
    lines += [
        "",
        "Targets (issue 16): `record` overhead <= 100 ms and `log-metric` <= 50 ms a call, idle."
        " `gitruns log-metric`, `set-tag` and `log-param` take their plain forms"
        " (`KEY VALUE [--step N]`) without click (`gitruns/cli/log_argv.py`; help and errors"
        " stay click's, tests/test_cli_log_argv.py compares them) and join the run without"
        " loading git (pygit2): the journal alone takes the point, with the same checks and"
        " files as a joined API call (tests/recorder/test_log_fast_path.py compares the runs"
        " both write); `log-param` types its value with `yaml_fast` (PyYAML only for a value"
        " it is not sure of).",
        "",
        "`record` reads the package list from its cache in `.git/gitruns/packages/` (the"
        " warm-up round fills it; the row with `GITRUNS_PACKAGE_CACHE=0` lists the packages"
        " every round, as before the cache), and ends without the interpreter's teardown. In a"
        " clean worktree it loads neither pygit2, PyYAML, psutil nor click at all"
        " (`recording/git_probe.py` reads HEAD, branch, identity and cleanliness with a few"
        " short git processes; `cli/record_argv.py` reads its options without click;"
        " `runwrite.PlainRepo` finalises the run with the same write rules as `Store`, from"
        " plain files; `yaml_write` writes its YAML; psutil loads only when the first"
        " system-metrics sample is due, after one `--system-interval`). A dirty tree needs"
        " its snapshot commit (libgit2) before the command starts, as before; a crashed run"
        " of another process to recover, or anything the plain writer is not sure of,"
        " finalises through `Store` (pygit2).",
        "",
        "Round five (issue 16 part 6) cut the CPU of that path further: standard modules it"
        " does without (`socket`, `getpass`, `platform`, `importlib.resources`, `secrets`,"
        " `csv`; tests/recorder/test_plain_finalise.py checks), a higher threshold for the"
        " youngest GC generation in the record process (no collection during start-up), and"
        " NamedTuples or plain classes for seven of its 19 dataclasses (docs/design.md,"
        ' "Start-up of `record`, round five"). `--before REV` adds rows timing REV\'s'
        " gitruns and this tree's in the same rounds.",
        "",
        "How long after `gitruns record` is launched its command starts (the command's first"
        " statement prints `time.time()`), against a bare `python -c` started the same way:",
        "",
        "| command | fastest round | overhead | median round | overhead |",
        "|---|---|---|---|---|",
        *(
            f"| {label} | {ms(fig['start'])} | {ms(fig['start'] - stamp['start'])}"
            f" | {ms(fig['start_median'])} | {ms(fig['start_median'] - stamp['start_median'])} |"
            for label, fig in (
                ("`python -c 'print(time.time())'`", stamp),
                ("`gitruns record -- python -c ...`, clean tree", result["record, stamp"]),
                (
                    "the same in a dirty tree (snapshot first, with libgit2)",
                    result["record, stamp, dirty"],
                ),
            )
        ),
        *(
            f"| {label} | {ms(fig['start'])} | {ms(fig['start'] - against['start'])}"
            f" | {ms(fig['start_median'])}"
            f" | {ms(fig['start_median'] - against['start_median'])} |"
            for label, fig, against in (
                (
                    "`python -c 'print(time.time())'`, regular install's venv",
                    result["regular: stamp"],
                    result["regular: stamp"],
                ),
                (
                    "`gitruns record -- python -c ...`, clean tree, regular install",
                    result["regular: record, stamp"],
                    result["regular: stamp"],
                ),
            )
            if regular
        ),
        "",
        "The command runs beside the rest of the start, so for a command that runs a while"
        " (the `time.sleep(0.5)` row) `record` adds about its time to the command's start plus"
        " the run's finalising. For `python -c pass`, which ends in about 20 ms, what is left"
        " is Python's own start, gitruns' modules (about 60 ms of CPU with everything the"
        " record path imports, standard library included), the git probes, the capture of"
        " the environment and the finalising (a pack, its index and the ref file).",
        "",
        _verdict(f"`record` overhead{how}", result["record"]["min"] - base["min"], 0.100)
        + (
            "; "
            + _verdict(
                "regular install",
                result["regular: record"]["min"] - result["regular: plain"]["min"],
                0.100,
            )
            if regular
            else ""
        )
        + "; "
        + _verdict(
            "`log-metric` overhead", result["in run: log-metric"]["min"] - inner["min"], 0.050
        )
        + " (fastest rounds).",
    ]
    return "\n".join(lines)


def _before_after(
    result: dict[str, dict[str, float]], rev: str, ms: Callable[[float], str]
) -> list[str]:
    """Rows of `record` as of ``rev`` and as in this tree, timed in the same rounds."""
    lines = [
        f"Before and after: `gitruns record -- python -c pass` with the gitruns of {rev}"
        " (before) and of this tree (after), in the same rounds, each first on PYTHONPATH,"
        " against `python -c pass` with the same PYTHONPATH:",
        "",
        "| install | gitruns | fastest round | overhead | median round | overhead"
        " | CPU, fastest | overhead | CPU, median | overhead |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for install in ("editable", "regular"):
        for side in ("before", "after"):
            fig = result.get(f"{side} {install}: record")
            base = result.get(f"{side} {install}: plain")
            if fig is None or base is None:
                continue
            lines.append(
                f"| {install} | {side} ({rev if side == 'before' else 'this tree'})"
                f" | {ms(fig['min'])} | {ms(fig['min'] - base['min'])}"
                f" | {ms(fig['median'])} | {ms(fig['median'] - base['median'])}"
                f" | {ms(fig['cpu'])} | {ms(fig['cpu'] - base['cpu'])}"
                f" | {ms(fig['cpu_median'])} | {ms(fig['cpu_median'] - base['cpu_median'])} |"
            )
    return lines


def _verdict(what: str, seconds: float, target: float) -> str:
    met = "met" if seconds <= target else "NOT met"
    return f"{what} {seconds * 1000:.0f} ms against <= {target * 1000:.0f} ms: {met}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="print, do not write the docs")
    parser.add_argument(
        "--no-regular", action="store_true", help="do not time a regular (wheel) install"
    )
    parser.add_argument(
        "--before", metavar="REV", help="also time the gitruns of git revision REV, interleaved"
    )
    args = parser.parse_args()
    compile_gitruns()
    editable = installed_editable()
    regular = None if args.no_regular else regular_install(WORK / "startup-regular")
    before = before_tree(args.before) if args.before else None
    load_before = os.getloadavg()[0]
    result = measure(args.repeat, regular, before)
    text = render(result, args.repeat, load_before, editable, before[0] if before else None)
    print(text)
    if not args.no_write:
        write_section("startup", text)


if __name__ == "__main__":
    main()
