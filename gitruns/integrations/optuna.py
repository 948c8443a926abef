"""Optuna study callback: the study is a run, each trial a child run of it::

    from gitruns.integrations.optuna import GitrunsCallback
    study.optimize(objective, n_trials=20, callbacks=[GitrunsCallback()])

A trial's run (named ``trial-<number>``) holds the trial's params, its value as the metric
``value`` (``value_0``, ``value_1`` ... with several objectives), its intermediate values
as the series ``intermediate_value`` and its state as the tag ``optuna.state``; a failed
trial's run is FAILED. The study's run holds ``best_value`` after each trial. It ends at
exit, at ``callback.finish()``, or (autolog) when ``optimize`` returns.
"""

from __future__ import annotations

import threading
from typing import Any

import optuna
from optuna.trial import TrialState

import gitruns
from gitruns.integrations._patching import Undo, with_callback, wrap
from gitruns.integrations._runs import IntegrationRun
from gitruns.integrations._values import metric_value, plain_params


class GitrunsCallback:
    """Records an Optuna study: a run for the study, a child run for each trial.

    Args:
        name: the study run's name (default: the study's name).
    """

    def __init__(self, name: str | None = None) -> None:
        self._name = name
        self._study: IntegrationRun | None = None
        self._lock = threading.Lock()  # trials of n_jobs > 1 finish in threads

    def begin(self, study: optuna.Study) -> None:
        """Start (or join) the study's run."""
        with self._lock:
            self._study_run(study)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        with self._lock:
            study_run = self._study_run(study)
            parent = study_run.run()
            study_run.guard(lambda: _record_trial(study, trial))
            best = _best_value(study)
            if best is not None:
                study_run.guard(lambda: parent.log_metric("best_value", best, step=trial.number))

    def finish(self, status: str = "FINISHED") -> None:
        """End the study's run, when this callback started it."""
        with self._lock:
            if self._study is not None:
                self._study.finish(status)
                self._study = None

    def _study_run(self, study: optuna.Study) -> IntegrationRun:
        if self._study is None:
            self._study = IntegrationRun("Optuna callback", self._name or study.study_name)
            run = self._study.run()
            directions = [d.name.lower() for d in study.directions]
            self._study.guard(lambda: run.log_params({"optuna_directions": directions}))
        return self._study


def _record_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    params = plain_params(trial.params)
    tags = {
        "optuna.study": study.study_name,
        "optuna.trial": trial.number,
        "optuna.state": trial.state.name,
    }
    run = gitruns.start_run(f"trial-{trial.number}", params=params, tags=tags, nested=True)
    try:
        values = trial.values or []
        names = ["value"] if len(values) == 1 else [f"value_{i}" for i in range(len(values))]
        run.log_metrics({n: v for n, v in zip(names, values, strict=True) if v is not None})
        for step, value in sorted(trial.intermediate_values.items()):
            number = metric_value(value)
            if number is not None:
                run.log_metric("intermediate_value", number, step=step)
    finally:
        run.end("FAILED" if trial.state == TrialState.FAIL else "FINISHED")


def _best_value(study: optuna.Study) -> float | None:
    if len(study.directions) != 1:
        return None
    try:
        return float(study.best_value)
    except ValueError:  # no trial completed yet
        return None


def wire() -> Undo:
    """Autolog: ``Study.optimize`` gets the callback, unless it was given one; the study's
    run ends when ``optimize`` returns."""

    def make(original: Any) -> Any:
        def optimize(self: Any, *args: Any, **kwargs: Any) -> Any:
            callback = GitrunsCallback()
            args, kwargs, added = with_callback(
                original, (self, *args), kwargs, callback, GitrunsCallback
            )
            if not added:
                return original(*args, **kwargs)
            callback.begin(self)
            try:
                result = original(*args, **kwargs)
            except BaseException:
                callback.finish("FAILED")
                raise
            callback.finish()
            return result

        return optimize

    return wrap(optuna.study.Study, "optimize", make)
