"""The XGBoost callback with real XGBoost: a 20-row regression, 5 boosting rounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from _integration_helpers import no_autolog_left, read_runs, series  # noqa: F401  (autouse fixture)

import gitruns

xgboost = pytest.importorskip("xgboost")
np = pytest.importorskip("numpy")


def _data() -> tuple[object, object]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    y = x @ np.array([1.0, -2.0, 0.5])
    return xgboost.DMatrix(x[:15], label=y[:15]), xgboost.DMatrix(x[15:], label=y[15:])


PARAMS = {"max_depth": 2, "eta": 0.3, "objective": "reg:squarederror"}


def test_the_callback_records_params_each_rounds_metrics_and_the_model(repo: Path) -> None:
    from gitruns.integrations.xgboost import GitrunsCallback

    train, valid = _data()
    callback = GitrunsCallback(params=PARAMS, name="xgb", log_model=True)
    xgboost.train(
        PARAMS, train, 5, evals=[(train, "train"), (valid, "valid")], callbacks=[callback]
    )
    (run,) = read_runs()
    assert run.name == "xgb" and run.status == "FINISHED"
    assert run.params == PARAMS
    assert [s for s, _ in series(run, "valid-rmse")] == [0, 1, 2, 3, 4]
    train_rmse = [v for _, v in series(run, "train-rmse")]
    assert train_rmse == sorted(train_rmse, reverse=True)  # boosting fits the train set
    assert [a["path"] for a in run.artifacts] == ["model.json"]


def test_early_stopping_records_the_best_round(repo: Path) -> None:
    from gitruns.integrations.xgboost import GitrunsCallback

    train, valid = _data()
    booster = xgboost.train(
        {**PARAMS, "eta": 1.0},
        train,
        50,
        evals=[(valid, "valid")],
        early_stopping_rounds=2,
        callbacks=[GitrunsCallback()],
        verbose_eval=False,
    )
    (run,) = read_runs()
    assert run.metrics["best_iteration"]["last"] == booster.best_iteration
    assert run.metrics["valid-rmse"]["count"] < 50


def test_autolog_records_train_and_a_given_callback_is_not_doubled(repo: Path) -> None:
    from gitruns.integrations.xgboost import GitrunsCallback

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    gitruns.autolog(frameworks=["xgboost"])
    data = xgboost.DMatrix(x, label=y)
    xgboost.train(PARAMS, data, 3, evals=[(data, "train")], verbose_eval=False)
    xgboost.train(PARAMS, data, 2, callbacks=[GitrunsCallback(name="own")])
    first, second = read_runs()
    assert first.params == PARAMS and first.metrics["train-rmse"]["count"] == 3
    assert second.name == "own" and second.params == {}  # the given callback, no second one
    gitruns.autolog(disable=True)
    assert not getattr(xgboost.train, "__gitruns_autolog__", False)
