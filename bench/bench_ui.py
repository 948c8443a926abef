"""Benchmark: the dashboard (gitruns ui) in a real browser.

Two repositories, generated once under bench/.work/ through the gitruns API:
- 10,000 runs (the ones bench_query.py makes): the runs table's first paint and a filter
  round trip, measured in Chromium (Debian's, driven by Playwright) from performance
  marks the page sets when it has drawn the rows;
- one run with 100 metrics x 100,000 points: the run page, until its first screen of
  charts is drawn (series downsampled on the server), cold (first visit after the server
  started) and warm, and until all 100 charts are drawn when scrolled through.

    python bench/bench_ui.py                # generate if needed, measure, update docs
    python bench/bench_ui.py --no-docs --repeat 3

Figures go to docs/benchmarks.md between <!-- bench:ui --> markers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_query

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
DOCS = ROOT / "docs" / "benchmarks.md"
MARK_BEGIN, MARK_END = "<!-- bench:ui -->", "<!-- /bench:ui -->"
FILTERS = [
    bench_query.FILTER,
    'params.optimizer = "adam" and metrics.loss < 1',
    'tags.team = "nlp"',
]
BIG_METRICS, BIG_POINTS = 100, 100_000


def big_run_repo() -> Path:
    """A repository with one run of 100 metrics x 100,000 points each."""
    repo = WORK / "ui-big-run"
    done = repo / ".generated"
    if done.exists():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    bench_query.git(repo, "init", "-q", "-b", "main")
    os.environ.setdefault("GIT_AUTHOR_NAME", "Bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    import math

    import gitruns

    keys = [f"group{k // 10}/metric{k % 10}" for k in range(BIG_METRICS)]
    started = time.perf_counter()
    with gitruns.start_run("big", params={"metrics": BIG_METRICS}, repo=repo) as run:
        for step in range(BIG_POINTS):
            run.log_metrics(
                {key: math.sin(step / (500 + 37 * i)) + i for i, key in enumerate(keys)},
                step=step,
            )
            if step % 10_000 == 0:
                print(f"big run: step {step} ({time.perf_counter() - started:.0f} s)", flush=True)
    done.write_text(run.id)
    return repo


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used: steadier than wall time on a
    machine shared with other work."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVER_PID = [0]


@contextmanager
def ui_server(repo: Path) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gitruns", "ui", "--port", "0", "--no-browser"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    SERVER_PID[0] = process.pid
    url = ""
    for line in process.stdout:
        if " at http://" in line:
            url = line.split(" at ", 1)[1].split(" ", 1)[0]
            break
    try:
        if not url:
            raise RuntimeError("gitruns ui did not start")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def fetch_seconds(url: str, repeat: int) -> tuple[float, int]:
    """Median wall time of a request, and its size; ``CPU[url]`` gets the server's median
    CPU time for it."""
    times, cpus, size = [], [], 0
    for _ in range(repeat):
        before = process_cpu(SERVER_PID[0])
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as response:
            size = len(response.read())
        times.append(time.perf_counter() - started)
        cpus.append(process_cpu(SERVER_PID[0]) - before)
    CPU[url] = statistics.median(cpus)
    return statistics.median(times), size


CPU: dict[str, float] = {}


class BusyMeter:
    """Time a page's main thread has spent on tasks since the meter was made (Chromium's
    TaskDuration, through the DevTools protocol): make it before navigating."""

    def __init__(self, page: Any) -> None:
        self.session = page.context.new_cdp_session(page)
        self.session.send("Performance.enable", {"timeDomain": "threadTicks"})

    def seconds(self) -> float:
        metrics = self.session.send("Performance.getMetrics")["metrics"]
        return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("needs chromium: apt-get install chromium")


FIRST_PAINT = """() => new Promise(resolve => {
  const done = () => {
    const mark = performance.getEntriesByName("gitruns:table-painted")[0];
    if (mark) resolve(mark.startTime); else setTimeout(done, 5);
  };
  done();
})"""

FILTER_ROUND_TRIP = """async (text) => {
  const root = document.getElementById("app");
  const input = document.getElementById("filter");
  const before = root.dataset.renders;
  input.value = text;
  const started = performance.now();
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
  while (root.dataset.renders === before) await new Promise(r => setTimeout(r, 1));
  await new Promise(r => requestAnimationFrame(() => r()));
  return [performance.now() - started, document.getElementById("run-count").textContent];
}"""

CHARTS_DRAWN = """(wanted) => new Promise(resolve => {
  const check = () => {
    const marks = performance.getEntriesByName("gitruns:charts");
    const last = marks[marks.length - 1];
    if (last && last.detail >= wanted) resolve([last.startTime, last.detail]);
    else setTimeout(check, 5);
  };
  check();
})"""


def measure_table(repeat: int) -> dict[str, Any]:
    repo = bench_query.gitruns_repo(10_000)
    from playwright.sync_api import sync_playwright

    figures: dict[str, Any] = {}
    with ui_server(repo) as url, sync_playwright() as playwright:
        fetch_seconds(url + "api/runs", 1)  # builds the cache if it is cold
        figures["api_all_s"], figures["api_all_bytes"] = fetch_seconds(url + "api/runs", repeat)
        query = urllib.parse.urlencode({"filter": bench_query.FILTER})
        figures["api_filter_s"], _ = fetch_seconds(f"{url}api/runs?{query}", repeat)
        browser = playwright.chromium.launch(executable_path=chromium())
        paints, busy, served = [], [], []
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            meter = BusyMeter(page)
            before = process_cpu(SERVER_PID[0])
            page.goto(url)
            paints.append(page.evaluate(FIRST_PAINT))
            served.append(process_cpu(SERVER_PID[0]) - before)
            busy.append(meter.seconds())
            rows = page.eval_on_selector_all(".grid-row[data-id]", "ns => ns.length")
            page.close()
        figures["first_paint_ms"] = statistics.median(paints)
        figures["first_paint_browser_busy_ms"] = statistics.median(busy) * 1000
        figures["first_paint_server_cpu_ms"] = statistics.median(served) * 1000
        figures["api_all_cpu_s"] = CPU[url + "api/runs"]
        figures["api_filter_cpu_s"] = CPU[f"{url}api/runs?{query}"]
        figures["rows_in_dom"] = rows
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        meter = BusyMeter(page)
        page.goto(url)
        page.evaluate(FIRST_PAINT)
        trips: dict[str, list[float]] = {text: [] for text in FILTERS}
        trip_cpu: dict[str, list[float]] = {text: [] for text in FILTERS}
        counts: dict[str, str] = {}
        for _ in range(repeat):
            for text in FILTERS:
                busy_before = meter.seconds()
                before = process_cpu(SERVER_PID[0])
                elapsed, counts[text] = page.evaluate(FILTER_ROUND_TRIP, text)
                trips[text].append(elapsed)
                trip_cpu[text].append(
                    process_cpu(SERVER_PID[0]) - before + meter.seconds() - busy_before
                )
                page.evaluate(FILTER_ROUND_TRIP, "")
        figures["filter_ms"] = {t: statistics.median(v) for t, v in trips.items()}
        figures["filter_cpu_ms"] = {t: statistics.median(v) * 1000 for t, v in trip_cpu.items()}
        figures["filter_counts"] = counts
        browser.close()
    return figures


def measure_run_page(repeat: int) -> dict[str, Any]:
    repo = big_run_repo()
    run_id = (repo / ".generated").read_text().strip()
    from playwright.sync_api import sync_playwright

    figures: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium())
        with ui_server(repo) as url:
            before = process_cpu(SERVER_PID[0])
            figures["cold"] = _run_page_once(browser, url, run_id, scroll=True)
            figures["cold_all_server_cpu_s"] = process_cpu(SERVER_PID[0]) - before
            warm = [_run_page_once(browser, url, run_id) for _ in range(repeat)]
            figures["warm_first_screen_ms"] = statistics.median(w["first_ms"] for w in warm)
            figures["warm_first_cpu_ms"] = statistics.median(
                w["first_server_cpu_ms"] + w["first_browser_busy_ms"] for w in warm
            )
            keys = [f"group0/metric{i}" for i in range(10)]
            series = "&".join(f"key={urllib.parse.quote(k)}" for k in keys)
            figures["api_series_warm_s"], figures["api_series_bytes"] = fetch_seconds(
                f"{url}api/runs/{run_id}/series?{series}", repeat
            )
        browser.close()
    return figures


def _run_page_once(browser: Any, url: str, run_id: str, scroll: bool = False) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    meter = BusyMeter(page)
    before = process_cpu(SERVER_PID[0])
    page.goto(f"{url}run/{run_id}")
    first_ms, first_count = page.evaluate(CHARTS_DRAWN, 1)
    result: dict[str, Any] = {
        "first_ms": first_ms,
        "first_charts": first_count,
        "first_server_cpu_ms": (process_cpu(SERVER_PID[0]) - before) * 1000,
        "first_browser_busy_ms": meter.seconds() * 1000,
    }
    if scroll:
        started = time.perf_counter()
        while True:
            count = page.evaluate("() => document.querySelectorAll('.chart canvas').length")
            if count >= BIG_METRICS:
                break
            page.mouse.wheel(0, 1500)
            page.wait_for_timeout(50)
            if time.perf_counter() - started > 300:
                break
        result["all_charts"] = count
        result["all_ms"] = first_ms + (time.perf_counter() - started) * 1000
        points = page.eval_on_selector(".chart[data-key]", "n => n.dataset.points")
        result["points_per_chart"] = int(points)
    page.close()
    return result


# -- MLflow's UI on the same 10,000 runs (its sqlite store, made by bench_query.py) ---------
def newest_matching(n: int) -> str:
    """The name of the newest run that FILTER matches: MLflow lists newest first."""
    for i in reversed(range(n)):
        data = bench_query.run_data(i)
        if data["metrics"]["acc"][-1] > 0.9 and data["params"]["lr"] == 0.01:
            return str(data["name"])
    raise AssertionError("no run matches")


@contextmanager
def mlflow_server(uri: str) -> Iterator[str]:
    port = _free_port()
    python = bench_query.bench_python()
    process = subprocess.Popen(
        [
            str(python),
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=WORK,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("mlflow server did not start")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SHOWN_AT = """(text) => new Promise(resolve => {
  const check = () => {
    if (document.body && document.body.innerText.includes(text)) resolve(performance.now());
    else setTimeout(check, 5);
  };
  check();
})"""


def measure_mlflow(repeat: int) -> dict[str, Any]:
    """MLflow's runs table: navigation to the newest run's name drawn, and a search (type
    the filter, Enter) to the newest matching run's name drawn."""
    uri = bench_query.mlflow_store("sqlite", 10_000)
    from playwright.sync_api import sync_playwright

    figures: dict[str, Any] = {}
    with mlflow_server(uri) as url, sync_playwright() as playwright:
        query = urllib.parse.urlencode({"experiment_name": "bench"})
        with urllib.request.urlopen(f"{url}api/2.0/mlflow/experiments/get-by-name?{query}") as r:
            experiment = json.load(r)["experiment"]["experiment_id"]
        browser = playwright.chromium.launch(executable_path=chromium())
        page_url = f"{url}#/experiments/{experiment}/runs"  # the runs table, not the overview
        paints = []
        for _ in range(repeat + 1):  # the first visit warms the server up; not counted
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(page_url)
            paints.append(page.evaluate(SHOWN_AT, "run-9999"))
            page.close()
        figures["first_paint_ms"] = statistics.median(paints[1:])
        target = newest_matching(10_000)
        trips = []
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(page_url)
            page.evaluate(SHOWN_AT, "run-9999")
            box = page.locator("input[data-testid=search-box]")
            box.fill(bench_query.MLFLOW_FILTER)
            started = page.evaluate("() => performance.now()")
            box.press("Enter")
            page.wait_for_function(
                "t => document.body.innerText.includes(t) && "
                "!document.body.innerText.includes('run-9999')",
                arg=target,
                timeout=120_000,
            )
            trips.append(page.evaluate("() => performance.now()") - started)
            page.close()
        figures["filter_ms"] = statistics.median(trips)
        browser.close()
    return figures


def report(
    table: dict[str, Any], run_page: dict[str, Any], mlflow: dict[str, Any] | None = None
) -> str:
    load = os.getloadavg()[0]
    cold = run_page["cold"]
    paint_cpu = table["first_paint_server_cpu_ms"] + table["first_paint_browser_busy_ms"]
    cold_cpu = cold["first_server_cpu_ms"] + cold["first_browser_busy_ms"]
    lines = [
        "## Dashboard: gitruns ui in a browser",
        "",
        "Reproduce: `python bench/bench_ui.py` (generates the runs once under bench/.work/, "
        "then drives Debian's Chromium through Playwright; medians). Browser times run from "
        "the start of navigation (or the Enter key) to the page's own performance marks, set "
        "once the rows or charts are drawn. "
        f"Machine: {os.cpu_count()} CPUs, heavily shared with other work while measured "
        f"(load average {load:.1f} at the end): wall times are several times what an idle "
        "machine gives. The CPU column is steadier: the server process's CPU time plus the "
        "page's main-thread busy time (Chromium's TaskDuration), what the work costs "
        "without waiting for a core.",
        "",
        "| what | wall (loaded machine) | CPU: server + page | target |",
        "|---|---|---|---|",
        f"| runs table, 10,000 runs: first paint (navigation to rows drawn) | "
        f"{table['first_paint_ms']:.0f} ms | {paint_cpu:.0f} ms "
        f"({table['first_paint_server_cpu_ms']:.0f} + "
        f"{table['first_paint_browser_busy_ms']:.0f}) | < 1 s |",
    ]
    for text, ms in table["filter_ms"].items():
        lines.append(
            f"| filter round trip (Enter to rows drawn), `{text}` "
            f"({table['filter_counts'][text]}) | {ms:.0f} ms | "
            f"{table['filter_cpu_ms'][text]:.0f} ms | < 200 ms |"
        )
    lines += [
        f"| `GET /api/runs`, all 10,000 runs ({table['api_all_bytes'] / 1e6:.1f} MB of JSON) | "
        f"{table['api_all_s'] * 1000:.0f} ms | {table['api_all_cpu_s'] * 1000:.0f} ms | - |",
        f"| `GET /api/runs?filter={bench_query.FILTER}` | {table['api_filter_s'] * 1000:.0f} ms "
        f"| {table['api_filter_cpu_s'] * 1000:.0f} ms | - |",
        f"| run page, 100 metrics x 100,000 points, first visit: first screen of charts "
        f"({cold['first_charts']} charts) | {cold['first_ms']:.0f} ms | {cold_cpu:.0f} ms "
        f"({cold['first_server_cpu_ms']:.0f} + {cold['first_browser_busy_ms']:.0f}) | < 1 s |",
        f"| the same, later visits (series cached by the server) | "
        f"{run_page['warm_first_screen_ms']:.0f} ms | {run_page['warm_first_cpu_ms']:.0f} ms "
        "| - |",
        f"| the same, first visit: all {cold['all_charts']} charts drawn, scrolled through | "
        f"{cold['all_ms'] / 1000:.1f} s | {run_page['cold_all_server_cpu_s']:.1f} s (server) "
        "| - |",
        f"| `GET .../series` of 10 metrics, cached ({run_page['api_series_bytes'] / 1e3:.0f} kB)"
        f" | {run_page['api_series_warm_s'] * 1000:.0f} ms | - | - |",
    ]
    if mlflow:
        lines += [
            "| MLflow's UI (`mlflow server`, sqlite store, same 10,000 runs): runs table, "
            f"navigation to the newest run drawn | {mlflow['first_paint_ms']:.0f} ms | - | - |",
            f"| MLflow's UI: search `{bench_query.MLFLOW_FILTER}` (Enter to the newest match "
            f"drawn) | {mlflow['filter_ms']:.0f} ms | - | - |",
        ]
    lines += [
        "",
        f"The table keeps only the rows in view in the page ({table['rows_in_dom']} of 10,000) "
        "and gets the runs as columns of values spliced from the cache (the server decodes "
        "only what `gitruns ls`'s default columns need). Each chart gets "
        f"at most about 1,000 points of its 100,000 (here {cold['points_per_chart']}): the "
        "server keeps each bucket's lowest and highest value, so spikes survive. Charts load "
        "as they come into view, 6 series a request, two requests at a time; a first visit "
        "reads each metric's 100,000 rows (about 4 MB of CSV) from git and parses their "
        "values, about 0.1 s of CPU a metric, which is most of its time.",
    ]
    if mlflow:
        lines.append(
            "MLflow's UI is measured the same way, to the moment the newest run's name is on "
            "the page (it shows the first page of runs); its server ran on the same loaded "
            "machine, so only the ratio means much."
        )
    else:
        lines.append(
            "MLflow's UI was not measured in this run (`--mlflow` does: it installs MLflow in "
            "bench/.work/venv and fills its sqlite store with the same runs)."
        )
    return "\n".join(lines)


def write_docs(text: str) -> None:
    current = DOCS.read_text()
    block = f"{MARK_BEGIN}\n{text}\n{MARK_END}"
    if MARK_BEGIN in current and MARK_END in current:
        head, rest = current.split(MARK_BEGIN, 1)
        current = head + block + rest.split(MARK_END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--mlflow", action="store_true", help="also MLflow's UI (slow setup)")
    parser.add_argument("--only-mlflow", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only_mlflow:
        print(json.dumps(measure_mlflow(args.repeat), indent=2))
        return
    table = measure_table(args.repeat)
    run_page = measure_run_page(args.repeat)
    mlflow = measure_mlflow(args.repeat) if args.mlflow else None
    print(json.dumps({"table": table, "run_page": run_page, "mlflow": mlflow}, indent=2))
    text = report(table, run_page, mlflow)
    print(text)
    if not args.no_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
