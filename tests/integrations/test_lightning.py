"""The Lightning logger with real Lightning on CPU: a 2-layer net, a 20-row dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _integration_helpers import no_autolog_left, read_runs, series  # noqa: F401  (autouse fixture)

import gitruns
from tests._record_helpers import only_run, record

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning")

# An unmodified training script: no gitruns in it. Shared with the record --autolog test.
SCRIPT = """\
import sys
import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset


class Net(L.LightningModule):
    def __init__(self, lr=0.1, hidden=8):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def data():
    torch.manual_seed(0)
    x = torch.randn(20, 3)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=5)


def trainer(**kwargs):
    return L.Trainer(
        max_epochs=3, accelerator="cpu", log_every_n_steps=1, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir="out", **kwargs,
    )


if __name__ == "__main__":
    t = trainer()
    t.fit(Net(), data(), data())
    print("loggers:", [type(logger).__name__ for logger in t.loggers])
"""


@pytest.fixture
def script(repo: Path) -> object:
    (repo / "lit_script.py").write_text(SCRIPT)
    import importlib

    sys.path.insert(0, str(repo))
    try:
        yield importlib.import_module("lit_script")
    finally:
        sys.path.remove(str(repo))
        sys.modules.pop("lit_script", None)


def test_the_logger_records_hparams_metrics_at_steps_and_checkpoints(script: object) -> None:
    from gitruns.integrations.lightning import GitrunsLogger

    logger = GitrunsLogger(name="lit", log_model=True)
    trainer = script.trainer(logger=logger)  # type: ignore[attr-defined]
    trainer.fit(script.Net(lr=0.05), script.data(), script.data())  # type: ignore[attr-defined]
    assert (logger.name, logger.version) == ("lit", gitruns.active_run().id)  # type: ignore[union-attr]
    (run,) = read_runs()
    assert run.name == "lit" and run.status == "FINISHED"
    assert run.params == {"lr": 0.05, "hidden": 8}
    assert [s for s, _ in series(run, "train_loss")] == list(range(12))  # 4 batches x 3
    assert [s for s, _ in series(run, "val_loss")] == [3, 7, 11]
    (checkpoint,) = run.artifacts
    assert checkpoint["path"] == "checkpoints/epoch=2-step=12.ckpt" and checkpoint["step"] == 12
    assert (Path("gitruns_logs") / "lit" / run.id / "checkpoints" / "epoch=2-step=12.ckpt").exists()


def test_test_after_fit_logs_to_the_same_run_and_a_new_trainer_starts_a_new_one(
    script: object,
) -> None:
    from gitruns.integrations.lightning import GitrunsLogger

    model = script.Net()  # type: ignore[attr-defined]
    trainer = script.trainer(logger=GitrunsLogger())  # type: ignore[attr-defined]
    trainer.fit(model, script.data())  # type: ignore[attr-defined]
    trainer.validate(model, script.data())  # type: ignore[attr-defined]
    script.trainer(logger=GitrunsLogger()).validate(model, script.data())  # type: ignore[attr-defined]
    first, second = read_runs()
    assert "train_loss" in first.metrics and first.metrics["val_loss"]["count"] == 1
    assert set(second.metrics) == {"epoch", "val_loss"} and second.parents == []


def test_inside_a_users_run_the_logger_logs_to_it_and_leaves_it_open(script: object) -> None:
    from gitruns.integrations.lightning import GitrunsLogger

    with gitruns.start_run(name="outer") as outer:
        trainer = script.trainer(logger=GitrunsLogger(), max_steps=2)  # type: ignore[attr-defined]
        trainer.fit(script.Net(), script.data())  # type: ignore[attr-defined]
        assert gitruns.active_run() is outer
    (run,) = read_runs()
    assert run.name == "outer" and run.metrics["train_loss"]["count"] == 2


def test_a_failed_fit_ends_the_run_failed(script: object) -> None:
    from gitruns.integrations.lightning import GitrunsLogger

    class Broken(script.Net):  # type: ignore[name-defined,misc]
        def training_step(self, batch: object, index: int) -> object:
            self.log("train_loss", 1.0)
            if self.global_step == 2:
                raise RuntimeError("diverged")
            return super().training_step(batch, index)

    with pytest.raises(RuntimeError, match="diverged"):
        script.trainer(logger=GitrunsLogger()).fit(Broken(), script.data())  # type: ignore[attr-defined]
    assert gitruns.active_run() is None
    (run,) = read_runs()
    assert run.status == "FAILED" and run.metrics["train_loss"]["count"] == 2


def test_autolog_appends_the_logger_unless_logger_false_or_one_is_given(script: object) -> None:
    from gitruns.integrations.lightning import GitrunsLogger

    gitruns.autolog()
    gitruns.autolog()  # idempotent
    default = script.trainer()  # type: ignore[attr-defined]
    names = [type(logger).__name__ for logger in default.loggers]
    assert names[-1] == "GitrunsLogger" and len(names) == 2  # after Lightning's default
    assert script.trainer(logger=False).loggers == []  # type: ignore[attr-defined]
    given = GitrunsLogger()
    assert script.trainer(logger=given).loggers == [given]  # type: ignore[attr-defined]
    default.fit(script.Net(), script.data())  # type: ignore[attr-defined]
    (run,) = read_runs()
    assert run.metrics["train_loss"]["count"] == 12
    gitruns.autolog(disable=True)
    assert [type(x).__name__ for x in script.trainer().loggers] == names[:1]  # type: ignore[attr-defined]


def test_record_autolog_logs_an_unmodified_script_into_the_recorded_run(repo: Path) -> None:
    (repo / "train.py").write_text(SCRIPT)
    result = record(
        repo, "--autolog", "--no-system-metrics", "--", sys.executable, "train.py", timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "GitrunsLogger" in result.stdout.decode()
    assert b"autolog" not in result.stderr  # wired, with no error
    run = only_run(repo)
    assert run["params"]["lr"] == 0.1 and run["params"]["hidden"] == 8
    assert run["metrics"]["train_loss"]["count"] == 12
    assert run["metrics"]["val_loss"]["last_step"] == 11
    # logged by the logger, so not imported again from Lightning's TensorBoard files
    assert "train_loss" not in (run.get("metric_sources") or {})
    assert b"'train_loss' from out/lightning_logs" in result.stderr


def test_the_pytorch_lightning_package_has_its_own_logger(repo: Path) -> None:
    pl = pytest.importorskip("pytorch_lightning")
    from torch.utils.data import DataLoader, TensorDataset

    from gitruns.integrations.pytorch_lightning import GitrunsLogger

    class Net(pl.LightningModule):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch: object, _: int) -> object:
            x, y = batch  # type: ignore[misc]
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> object:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x = torch.randn(20, 3)
    data = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=5)
    trainer = pl.Trainer(
        max_steps=3,
        logger=GitrunsLogger("pl"),
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(Net(), data)
    (run,) = read_runs()
    assert run.name == "pl" and [s for s, _ in series(run, "train_loss")] == [0, 1, 2]
