"""Metrics and artifacts from unmodified programs under a real ``gitruns record``:
TensorBoard event files, CSV loggers, --metric-regex, and only fresh --artifact files."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests._record_helpers import only_run, record, run_file

PY = sys.executable


def _series(repo: Path, run_id: str, key: str) -> list[tuple[int, float]]:
    lines = run_file(repo, run_id, f"metrics/{key}.csv").decode().splitlines()[1:]
    return [(int(line.split(",")[0]), float(line.split(",")[2])) for line in lines]


TB_SCRIPT = """\
import sys
from tensorboardX import SummaryWriter
writer = SummaryWriter(sys.argv[1])
for step in range(3):
    writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.add_scalar("acc", step / 4, step)
writer.close()
"""


def test_tensorboard_events_written_by_the_run_become_metrics(repo: Path) -> None:
    pytest.importorskip("tensorboardX")
    (repo / "tb.py").write_text(TB_SCRIPT)
    result = record(repo, "--no-system-metrics", "--", PY, "tb.py", "runs/exp1")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert _series(repo, run["id"], "loss") == [(0, 1.0), (1, 0.5), (2, 0.33333334)]
    assert run["metrics"]["acc"]["last"] == 0.5
    (event_file,) = (repo / "runs" / "exp1").glob("events.out.tfevents.*")
    assert run["metric_sources"] == {
        "acc": f"tensorboard:runs/exp1/{event_file.name}",
        "loss": f"tensorboard:runs/exp1/{event_file.name}",
    }


def test_no_import_metrics_and_stale_event_files_import_nothing(repo: Path) -> None:
    pytest.importorskip("tensorboardX")
    (repo / "tb.py").write_text(TB_SCRIPT)
    assert record(repo, "--no-system-metrics", "--", PY, "tb.py", "runs/a").returncode == 0
    old = only_run(repo)
    assert "loss" in old["metrics"]
    shutil.rmtree(repo / ".git" / "refs" / "runs")  # start over with the old files left behind
    result = record(repo, "--no-system-metrics", "--", PY, "-c", "pass")
    assert result.returncode == 0, result.stderr
    assert only_run(repo)["metrics"] == {}  # runs/a is an earlier run's
    shutil.rmtree(repo / ".git" / "refs" / "runs")
    result = record(repo, "--no-import-metrics", "--no-system-metrics", "--", PY, "tb.py", "runs/b")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["metrics"] == {} and run["metric_sources"] == {}


def test_same_tags_in_two_folders_are_told_apart_and_own_keys_win(repo: Path) -> None:
    pytest.importorskip("tensorboardX")
    (repo / "keras_like.py").write_text(
        "import gitruns\n"
        "from tensorboardX import SummaryWriter\n"
        "gitruns.start_run().log_metric('lr', 0.1)\n"  # the program logs this key itself
        "for folder, loss in (('logs/train', 0.5), ('logs/validation', 0.7)):\n"
        "    writer = SummaryWriter(folder)\n"
        "    writer.add_scalar('epoch_loss', loss, 0)\n"
        "    writer.add_scalar('lr', 0.2, 0)\n"
        "    writer.close()\n"
    )
    result = record(repo, "--no-system-metrics", "--", PY, "keras_like.py")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["metrics"]["logs/train/epoch_loss"]["last"] == 0.5
    assert run["metrics"]["logs/validation/epoch_loss"]["last"] == 0.7
    assert run["metrics"]["lr"]["last"] == 0.1 and "logs/train/lr" in run["metrics"]
    assert "lr" not in run["metric_sources"]


def test_metrics_csv_of_a_csv_logger_is_imported(repo: Path) -> None:
    (repo / "csv_logger.py").write_text(
        "import os\n"
        "os.makedirs('csv_logs/version_0')\n"
        "with open('csv_logs/version_0/metrics.csv', 'w') as f:\n"
        "    f.write('epoch,step,train_loss,val_loss\\n0,9,0.9,\\n0,9,,0.8\\n1,19,0.4,\\n')\n"
    )
    result = record(repo, "--no-system-metrics", "--", PY, "csv_logger.py")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert _series(repo, run["id"], "train_loss") == [(9, 0.9), (19, 0.4)]
    assert _series(repo, run["id"], "val_loss") == [(9, 0.8)]
    assert run["metric_sources"]["val_loss"] == "csv:csv_logs/version_0/metrics.csv"


def test_metric_regex_turns_printed_lines_into_metrics(repo: Path) -> None:
    # Printed as word_language_model's main.py prints its epochs, through stdout and stderr.
    (repo / "wlm.py").write_text(
        "import sys\n"
        "for epoch, loss in ((1, 5.55), (2, 5.12)):\n"
        "    print(f'| end of epoch {epoch:3d} | time: 20.1s | valid loss {loss:5.2f} | "
        "valid ppl {2.718 ** loss:8.2f}')\n"
        "print('\\x1b[32m| end of epoch   3 | valid loss  4.90 |\\x1b[0m', file=sys.stderr)\n"
        "print('| end of epoch   4 | valid loss  nan? |')\n"
    )
    result = record(
        repo,
        "--no-system-metrics",
        "--metric-regex",
        r"end of epoch +(?P<step>\d+) .*valid loss +(?P<val_loss>[0-9.]+)",
        "--metric-regex",
        r"valid ppl +(?P<val_ppl>[0-9.]+)",
        "--",
        PY,
        "wlm.py",
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    # stdout reaches the pipe at exit (block-buffered), stderr at once: sort by step
    assert sorted(_series(repo, run["id"], "val_loss")) == [(1, 5.55), (2, 5.12), (3, 4.9)]
    assert [step for step, _ in _series(repo, run["id"], "val_ppl")] == [0, 1]
    assert run["metric_sources"]["val_loss"].startswith("regex:end of epoch")


@pytest.mark.parametrize(
    ("pattern", "what"),
    [("valid loss ([0-9.]+)", "no named group"), ("(?P<x>[0-9", "not a valid regular")],
)
def test_bad_metric_regex_is_an_error_before_anything_runs(
    repo: Path, pattern: str, what: str
) -> None:
    result = record(repo, "--metric-regex", pattern, "--", PY, "-c", "print('ran')")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("gitruns: error: --metric-regex")
    assert what in result.stderr.decode() and b"Traceback" not in result.stderr
    assert b"ran" not in result.stdout


def test_artifact_globs_take_only_files_the_run_wrote(repo: Path) -> None:
    out = repo / "out"
    out.mkdir()
    (out / "stale.ckpt").write_text("an earlier run's checkpoint")
    (repo / "elsewhere.ckpt").write_text("kept with its old time by cp -p")
    past = time.time() - 3600
    os.utime(repo / "elsewhere.ckpt", (past, past))
    time.sleep(0.05)
    (repo / "job.py").write_text(
        "import shutil\n"
        "open('out/new.ckpt', 'w').write('this run')\n"
        "shutil.copy2('elsewhere.ckpt', 'out/copied.ckpt')\n"  # old mtime, new file
    )
    result = record(repo, "--no-system-metrics", "--artifact", "out/*", "--", PY, "job.py")
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert sorted(a["path"] for a in run["artifacts"]) == ["out/copied.ckpt", "out/new.ckpt"]
    assert (
        "gitruns: warning: --artifact 'out/*': left out 1 file(s) not written by this run"
        " (unchanged since before it started): out/stale.ckpt"
    ) in result.stderr.decode()


LIGHTNING_JOB = """\
import sys
import torch
import pytorch_lightning as pl
from torch.utils.data import DataLoader, TensorDataset


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


torch.manual_seed(0)
x = torch.randn(64, 4)
data = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
logger = pl.loggers.CSVLogger("csv_logs") if sys.argv[1:] == ["csv"] else None
trainer = pl.Trainer(
    max_epochs=3, accelerator="cpu", log_every_n_steps=2, logger=logger if logger else True,
    enable_progress_bar=False, enable_model_summary=False,
)
trainer.fit(Tiny(), data, data)
print("logger:", type(trainer.logger).__name__)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "logger", "source"),
    [((), "TensorBoardLogger", "tensorboard"), (("csv",), "CSVLogger", "csv")],
)
def test_a_lightning_job_with_its_logger_records_its_metrics(
    repo: Path, args: tuple[str, ...], logger: str, source: str
) -> None:
    pytest.importorskip("pytorch_lightning")
    (repo / "lit.py").write_text(LIGHTNING_JOB)
    result = record(repo, "--no-system-metrics", "--", PY, "lit.py", *args, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"logger: {logger}" in result.stdout.decode()
    run = only_run(repo)
    assert run["metrics"]["train_loss"]["count"] == 12  # 8 batches x 3 epochs, every 2nd step
    assert run["metrics"]["val_loss"]["count"] == 3
    assert run["metrics"]["val_loss"]["last"] < run["metrics"]["train_loss"]["max"]
    assert [step for step, _ in _series(repo, run["id"], "val_loss")] == [7, 15, 23]
    assert run["metric_sources"]["val_loss"].startswith(f"{source}:")
    assert "lightning_logs/version_0" in run["metric_sources"]["val_loss"] or source == "csv"
