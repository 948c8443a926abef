"""LightGBM training callback::

    from gitruns.integrations.lightgbm import GitrunsCallback
    booster = lightgbm.train(params, train_set, valid_sets=[valid],
                             callbacks=[GitrunsCallback()])

LightGBM's params become the run's params, each evaluation result a point
``<data>-<metric>`` (``valid_0-l2``) at step = boosting round. The run ends after the last
round (after early stopping: at exit, or when the next run starts; autolog ends it when
``train`` returns).
"""

from __future__ import annotations

from typing import Any

import lightgbm
import lightgbm.engine
import lightgbm.sklearn

from gitruns.integrations._patching import Undo, with_callback, wrap_function
from gitruns.integrations._runs import IntegrationRun
from gitruns.integrations._values import metric_value, plain_params


class GitrunsCallback:
    """Records a LightGBM training into a gitruns run (a callable callback).

    Args:
        name: the run's name, when the callback starts the run.
    """

    # After LightGBM's log_evaluation (10) and record_evaluation (20), before
    # early_stopping (30), which ends training by raising.
    order = 25

    def __init__(self, name: str | None = None) -> None:
        self._gitruns = IntegrationRun("LightGBM callback", name)
        self._params_logged = False

    def __call__(self, env: Any) -> None:
        run = self._gitruns.run()
        if not self._params_logged:
            self._params_logged = True
            params = plain_params(env.params or {})
            self._gitruns.guard(lambda: run.log_params(params))
        metrics = {}
        for result in env.evaluation_result_list or []:
            number = metric_value(result[2])
            if number is not None:
                metrics[f"{result[0]}-{result[1]}"] = number
        self._gitruns.guard(lambda: run.log_metrics(metrics, step=env.iteration))
        if env.iteration + 1 >= env.end_iteration:
            self.finish()

    def finish(self, status: str = "FINISHED") -> None:
        """End the run this callback started (training stopped early, or failed)."""
        self._gitruns.finish(status)


def wire() -> Undo:
    """Autolog: ``lightgbm.train`` (and the scikit-learn API, which calls it) gets the
    callback, unless it was given one; its run ends when ``train`` returns."""

    def make(original: Any) -> Any:
        def train(*args: Any, **kwargs: Any) -> Any:
            callback = GitrunsCallback()
            args, kwargs, added = with_callback(original, args, kwargs, callback, GitrunsCallback)
            if not added:
                return original(*args, **kwargs)
            try:
                booster = original(*args, **kwargs)
            except BaseException:
                callback.finish("FAILED")
                raise
            callback.finish()
            return booster

        return train

    return wrap_function([lightgbm, lightgbm.engine, lightgbm.sklearn], "train", make)
