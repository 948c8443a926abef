"""Benchmark: what the Lightning logger (gitruns/integrations) adds to training.

A tiny model (3 -> 8 -> 1) trained for one epoch of STEPS steps, logging its loss on every
step (``log_every_n_steps=1``, the worst case), with no logger, with a logger that does
nothing (what Lightning itself spends on having a logger), with gitruns' logger and, for
reference, with Lightning's CSVLogger. Configurations alternate within each round; medians
of the rounds, wall and CPU time of ``trainer.fit``. Starting and ending the run (once a
run: provenance, then the commit) are timed on their own, outside ``fit``. The logger's
own cost per logged step is also timed directly: ``log_metrics`` of a step's values (a
tensor loss and the epoch), CALLS times, outside Lightning.

    python bench/bench_integrations.py           # writes its section of docs/benchmarks.md
    python bench/bench_integrations.py --quick   # fewer rounds, no file written

Needs the `frameworks` extra (lightning, torch CPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
STEPS = 400
CALLS = 20_000


def build() -> tuple[Any, Any, Any]:
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    class Net(L.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)
            )

        def training_step(self, batch: Any, _: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    torch.manual_seed(0)
    torch.set_num_threads(1)  # CPU time then measures work, not spinning worker threads
    x = torch.randn(STEPS * 4, 3)
    data = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)
    return L, Net, data


def null_logger(L: Any) -> Any:
    class NullLogger(L.pytorch.loggers.Logger):  # type: ignore[misc]
        name = "null"
        version = "0"

        def log_metrics(self, metrics: Any, step: Any = None) -> None:
            pass

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

    return NullLogger()


def fit_once(L: Any, Net: Any, data: Any, logger: Any) -> tuple[float, float]:
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=logger,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.fit(Net(), data)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(rounds: int) -> dict[str, Any]:
    import logging

    import gitruns
    from gitruns.integrations.lightning import GitrunsLogger

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    L, Net, data = build()
    work = Path(tempfile.mkdtemp(prefix="bench-integrations-"))
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    os.chdir(work)
    makers = {
        "no logger": lambda: False,
        "a logger that does nothing": lambda: null_logger(L),
        "gitruns logger": lambda: GitrunsLogger(),
        "CSVLogger": lambda: L.pytorch.loggers.CSVLogger(str(work / "csv")),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in makers}
    starts: list[float] = []
    ends: list[float] = []
    fit_once(L, Net, data, False)  # warm-up: first-call costs of torch and Lightning
    for index in range(rounds):
        names = list(makers)
        names = names[index % len(names) :] + names[: index % len(names)]
        for name in names:
            run = None
            if name == "gitruns logger":  # the run's start and end are timed apart from fit
                start = time.perf_counter()
                run = gitruns.start_run()
                starts.append(time.perf_counter() - start)
            times[name].append(fit_once(L, Net, data, makers[name]()))
            if run is not None:
                start = time.perf_counter()
                run.end()
                ends.append(time.perf_counter() - start)
    return {
        "log_call_us": log_call_us(GitrunsLogger),
        "times": {
            name: (statistics.median(w for w, _ in pairs), statistics.median(c for _, c in pairs))
            for name, pairs in times.items()
        },
        "start_ms": statistics.median(starts) * 1000,
        "end_ms": statistics.median(ends) * 1000,
        "rounds": rounds,
    }


def log_call_us(logger_class: Any) -> float:
    """Median µs of one ``log_metrics`` call of the logger, in 5 batches of CALLS / 5."""
    import torch

    import gitruns

    logger = logger_class()
    loss = torch.tensor(0.5)
    batches = []
    with gitruns.start_run():
        for batch in range(5):
            start = time.perf_counter()
            for step in range(batch * CALLS // 5, (batch + 1) * CALLS // 5):
                logger.log_metrics({"train_loss": loss, "epoch": 0}, step)
            batches.append((time.perf_counter() - start) / (CALLS // 5))
    return statistics.median(batches) * 1e6


def report(results: dict[str, Any], command: str) -> str:
    times = results["times"]
    base_cpu = times["no logger"][1]
    lines = [
        "<!-- bench:integrations -->",
        "## Framework integrations: the Lightning logger",
        "",
        f"Reproduce: `{command}` ({time.strftime('%Y-%m-%d')}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores shared with other work; one "
        f"epoch of {STEPS} steps of a 3-8-1 net on CPU, the loss logged at every step; "
        f"medians of {results['rounds']} rounds, configurations alternating).",
        "",
        "| logger | fit wall (s) | fit CPU (s) | CPU vs no logger | CPU per step vs no logger "
        "| vs a logger that does nothing |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    null_cpu = times["a logger that does nothing"][1]
    for name, (wall, cpu) in times.items():
        per_step = (cpu - base_cpu) / STEPS * 1e6
        per_step_null = (cpu - null_cpu) / STEPS * 1e6
        lines.append(
            f"| {name} | {wall:.2f} | {cpu:.2f} | {cpu / base_cpu:.3f} | "
            f"{per_step:+.0f} µs | {per_step_null:+.0f} µs |"
        )
    lines += [
        "",
        f"The logger's own cost, timed directly: {results['log_call_us']:.1f} µs per logged "
        f"step (`log_metrics` of a tensor loss and the epoch, {CALLS:,} calls, median of 5 "
        "batches).",
        "",
        f"Once a run, outside `fit`: starting it (provenance: git state, environment) "
        f"{results['start_ms']:.0f} ms; ending it (its commit) {results['end_ms']:.0f} ms. "
        "With no active run the logger starts one at the first logged value.",
        "<!-- /bench:integrations -->",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    doc = DOC.read_text()
    pattern = re.compile(r"<!-- bench:integrations -->.*?<!-- /bench:integrations -->\n", re.S)
    doc = pattern.sub(lambda _m: text, doc) if pattern.search(doc) else doc + "\n" + text
    DOC.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    results = measure(2 if args.quick else args.rounds)
    text = report(results, "python bench/bench_integrations.py")
    print(text)
    if not args.quick:
        write_section(text)


if __name__ == "__main__":
    main()
