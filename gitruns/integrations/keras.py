"""Keras 3 callback (any backend)::

    from gitruns.integrations.keras import GitrunsCallback
    model.fit(x, y, epochs=5, callbacks=[GitrunsCallback()])

``fit``'s settings (epochs, steps) and the optimizer's config become params, each epoch's
logs (loss, metrics, ``val_`` metrics) points at step = epoch; with ``log_model=True`` the
trained model is saved as ``model.keras`` and logged as an artifact.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import keras

from gitruns.integrations._patching import Undo, with_callback, wrap
from gitruns.integrations._runs import IntegrationRun
from gitruns.integrations._values import numeric_metrics, plain_params


class GitrunsCallback(keras.callbacks.Callback):
    """Records a Keras ``fit`` into a gitruns run.

    Args:
        name: the run's name, when the callback starts the run.
        log_model: save the trained model and log it as the artifact ``model.keras``.
    """

    def __init__(self, name: str | None = None, *, log_model: bool = False) -> None:
        super().__init__()
        self._gitruns = IntegrationRun("Keras callback", name)
        self._log_model = log_model

    def on_train_begin(self, logs: Any = None) -> None:
        run = self._gitruns.run()
        params = plain_params(self.params or {})
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "get_config"):
            params["optimizer"] = plain_params(optimizer.get_config())
        self._gitruns.guard(lambda: run.log_params(params))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        run = self._gitruns.run()
        metrics = numeric_metrics(logs or {})
        self._gitruns.guard(lambda: run.log_metrics(metrics, step=epoch))

    def on_train_end(self, logs: Any = None) -> None:
        if self._log_model and self._gitruns.started:
            run = self._gitruns.run()
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.keras"
                self.model.save(path)
                self._gitruns.guard(lambda: run.log_artifact(path))
        self._gitruns.finish("FINISHED")


def wire() -> Undo:
    """Autolog: every ``Model.fit`` gets the callback, unless it was given one."""

    def make(original: Any) -> Any:
        def fit(*args: Any, **kwargs: Any) -> Any:
            args, kwargs, _ = with_callback(
                original, args, kwargs, GitrunsCallback(), GitrunsCallback
            )
            return original(*args, **kwargs)

        return fit

    return wrap(keras.Model, "fit", make)
