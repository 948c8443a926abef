"""Hugging Face Transformers ``TrainerCallback``::

    from gitruns.integrations.transformers import GitrunsCallback
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[GitrunsCallback()])

``TrainingArguments`` become params (the model's config under ``model_config``), every log
(loss, learning rate, eval metrics) a point at the trainer's global step; with
``log_checkpoints=True`` each saved checkpoint folder becomes artifacts under
``checkpoints/``. Only the main process (world rank 0) writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback

from gitruns.integrations._patching import Undo, wrap
from gitruns.integrations._runs import IntegrationRun
from gitruns.integrations._values import numeric_metrics, plain_params


class GitrunsCallback(TrainerCallback):
    """Records a Transformers ``Trainer``'s training into a gitruns run.

    Args:
        name: the run's name, when the callback starts the run.
        log_checkpoints: log each checkpoint folder ``Trainer`` saves as artifacts.
    """

    def __init__(self, name: str | None = None, *, log_checkpoints: bool = False) -> None:
        self._gitruns = IntegrationRun("Transformers callback", name)
        self._log_checkpoints = log_checkpoints
        self._params_logged = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        run = self._gitruns.run()
        if not self._params_logged:
            self._params_logged = True
            params = plain_params(args.to_dict())
            config = getattr(kwargs.get("model"), "config", None)
            if config is not None and hasattr(config, "to_dict"):
                params["model_config"] = plain_params(config.to_dict())
            self._gitruns.guard(lambda: run.log_params(params))

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        run = self._gitruns.run()
        metrics = numeric_metrics(logs)
        self._gitruns.guard(lambda: run.log_metrics(metrics, step=state.global_step))

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not (self._log_checkpoints and state.is_world_process_zero):
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            run = self._gitruns.run()
            target = f"checkpoints/{folder.name}"
            self._gitruns.guard(lambda: run.log_artifacts(folder, target, step=state.global_step))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            # open for trainer.evaluate() after training; it ends at exit or the next run
            self._gitruns.finish("FINISHED", keep_open=True)


def wire() -> Undo:
    """Autolog: every ``Trainer`` gets the callback, unless it was given one."""

    def make(original: Any) -> Any:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if not any(isinstance(c, GitrunsCallback) for c in self.callback_handler.callbacks):
                self.add_callback(GitrunsCallback())

        return __init__

    return wrap(Trainer, "__init__", make)
