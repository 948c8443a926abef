"""The Transformers callback with real Transformers on CPU: a 1-layer GPT-2 built from a
config (nothing downloaded) trained on 20 rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _integration_helpers import no_autolog_left, read_runs, series  # noqa: F401  (autouse fixture)

import gitruns

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


class Rows(torch.utils.data.Dataset):  # type: ignore[misc]
    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 16, (20, 6), generator=generator)

    def __len__(self) -> int:
        return 20

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"input_ids": self.ids[index], "labels": self.ids[index]}


def _trainer(output: Path, **kwargs: Any) -> Any:
    config = transformers.GPT2Config(vocab_size=16, n_positions=8, n_embd=8, n_layer=1, n_head=2)
    args = transformers.TrainingArguments(
        output_dir=str(output),
        num_train_epochs=2,
        per_device_train_batch_size=5,
        learning_rate=0.01,
        logging_steps=1,
        save_strategy="epoch",
        eval_strategy="epoch",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    return transformers.Trainer(
        model=transformers.GPT2LMHeadModel(config),
        args=args,
        train_dataset=Rows(),
        eval_dataset=Rows(),
        **kwargs,
    )


def test_the_callback_records_arguments_logs_at_global_steps_and_checkpoints(repo: Path) -> None:
    from gitruns.integrations.transformers import GitrunsCallback

    trainer = _trainer(repo / "out", callbacks=[GitrunsCallback("gpt", log_checkpoints=True)])
    trainer.train()
    trainer.evaluate()  # after training: still the same run
    (run,) = read_runs()
    assert run.name == "gpt" and run.status == "FINISHED"
    assert run.params["learning_rate"] == 0.01 and run.params["num_train_epochs"] == 2
    assert run.params["model_config"]["n_layer"] == 1
    assert [s for s, _ in series(run, "loss")] == list(range(1, 9))  # 4 steps x 2 epochs
    assert [s for s, _ in series(run, "eval_loss")] == [4, 8, 8]
    paths = {a["path"] for a in run.artifacts}
    assert "checkpoints/checkpoint-4/config.json" in paths
    assert "checkpoints/checkpoint-8/model.safetensors" in paths
    assert {a["step"] for a in run.artifacts} == {4, 8}


def test_autolog_adds_the_callback_to_every_trainer_once(repo: Path) -> None:
    from gitruns.integrations.transformers import GitrunsCallback

    gitruns.autolog(frameworks=["transformers"])
    trainer = _trainer(repo / "out")
    ours = [c for c in trainer.callback_handler.callbacks if isinstance(c, GitrunsCallback)]
    assert len(ours) == 1
    given = _trainer(repo / "out2", callbacks=[GitrunsCallback()])
    assert sum(isinstance(c, GitrunsCallback) for c in given.callback_handler.callbacks) == 1
    trainer.train()
    (run,) = read_runs()
    assert run.metrics["loss"]["count"] == 8 and run.metrics["train_loss"]["last_step"] == 8
