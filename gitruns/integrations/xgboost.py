"""XGBoost training callback::

    from gitruns.integrations.xgboost import GitrunsCallback
    booster = xgboost.train(params, dtrain, evals=[(dvalid, "valid")],
                            callbacks=[GitrunsCallback(params=params)])

Each evaluation result is a point ``<data>-<metric>`` (``valid-rmse``) at step = boosting
round; ``params`` given to the callback become the run's params; with early stopping the
best round and score are metrics ``best_iteration``/``best_score``; with
``log_model=True`` the booster is saved as the artifact ``model.json``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xgboost
import xgboost.sklearn
from xgboost.callback import TrainingCallback

from gitruns.integrations._patching import Undo, with_callback, wrap_function
from gitruns.integrations._runs import IntegrationRun
from gitruns.integrations._values import metric_value, plain_params


class GitrunsCallback(TrainingCallback):
    """Records an XGBoost training into a gitruns run.

    Args:
        params: the training params, logged as the run's params.
        name: the run's name, when the callback starts the run.
        log_model: save the trained booster as the artifact ``model.json``.
    """

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        log_model: bool = False,
    ) -> None:
        super().__init__()
        self._gitruns = IntegrationRun("XGBoost callback", name)
        self._params = plain_params(params or {})
        self._log_model = log_model

    def before_training(self, model: Any) -> Any:
        run = self._gitruns.run()
        if self._params:
            self._gitruns.guard(lambda: run.log_params(self._params))
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        metrics = {}
        for data, by_metric in evals_log.items():
            for metric, values in by_metric.items():
                last = values[-1] if values else None
                number = metric_value(last[0] if isinstance(last, tuple) else last)
                if number is not None:
                    metrics[f"{data}-{metric}"] = number
        run = self._gitruns.run()
        self._gitruns.guard(lambda: run.log_metrics(metrics, step=epoch))
        return False  # never stop training

    def after_training(self, model: Any) -> Any:
        run = self._gitruns.run()
        best = {k: metric_value(_attr(model, k)) for k in ("best_iteration", "best_score")}
        found = {k: v for k, v in best.items() if v is not None}
        self._gitruns.guard(lambda: run.log_metrics(found))
        if self._log_model and hasattr(model, "save_model"):
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.json"
                model.save_model(path)
                self._gitruns.guard(lambda: run.log_artifact(path))
        self._gitruns.finish("FINISHED")
        return model


def _attr(model: Any, key: str) -> Any:
    attr = getattr(model, "attr", None)
    value = attr(key) if callable(attr) else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def wire() -> Undo:
    """Autolog: ``xgboost.train`` (and the scikit-learn API, which calls it) gets the
    callback with the call's params, unless it was given one."""

    def make(original: Any) -> Any:
        def train(*args: Any, **kwargs: Any) -> Any:
            params = args[0] if args else kwargs.get("params") or {}
            callback = GitrunsCallback(params=params)
            args, kwargs, _ = with_callback(original, args, kwargs, callback, GitrunsCallback)
            return original(*args, **kwargs)

        return train

    return wrap_function([xgboost, xgboost.training, xgboost.sklearn], "train", make)
