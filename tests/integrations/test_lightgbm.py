"""The LightGBM callback with real LightGBM: a 20-row regression."""

from __future__ import annotations

from pathlib import Path

import pytest
from _integration_helpers import no_autolog_left, read_runs, series  # noqa: F401  (autouse fixture)

import gitruns

lightgbm = pytest.importorskip("lightgbm")
np = pytest.importorskip("numpy")

PARAMS = {"objective": "regression", "num_leaves": 3, "min_data_in_leaf": 2, "verbose": -1}


def _sets() -> tuple[object, object]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    y = x @ np.array([1.0, -2.0, 0.5])
    train = lightgbm.Dataset(x[:15], label=y[:15])
    return train, lightgbm.Dataset(x[15:], label=y[15:], reference=train)


def test_the_callback_records_params_and_each_rounds_metrics(repo: Path) -> None:
    from gitruns.integrations.lightgbm import GitrunsCallback

    train, valid = _sets()
    lightgbm.train(
        PARAMS, train, 4, valid_sets=[train, valid], callbacks=[GitrunsCallback(name="gbm")]
    )
    assert gitruns.active_run() is None  # ended after the last round
    (run,) = read_runs()
    assert run.name == "gbm" and run.status == "FINISHED"
    assert run.params["num_leaves"] == 3 and run.params["objective"] == "regression"
    assert [s for s, _ in series(run, "valid_1-l2")] == [0, 1, 2, 3]
    assert run.metrics["training-l2"]["count"] == 4


def test_autolog_ends_the_run_when_training_stops_early(repo: Path) -> None:
    train, valid = _sets()
    gitruns.autolog(frameworks=["lightgbm"])
    lightgbm.train(
        {**PARAMS, "learning_rate": 1.0},
        train,
        100,
        valid_sets=[valid],
        callbacks=[lightgbm.early_stopping(2, verbose=False)],
    )
    assert gitruns.active_run() is None
    (run,) = read_runs()
    assert run.status == "FINISHED" and 1 <= run.metrics["valid_0-l2"]["count"] < 100


def test_a_run_the_user_started_gets_the_metrics_and_stays_open(repo: Path) -> None:
    from gitruns.integrations.lightgbm import GitrunsCallback

    train, _ = _sets()
    with gitruns.start_run(name="mine") as mine:
        lightgbm.train(PARAMS, train, 2, valid_sets=[train], callbacks=[GitrunsCallback()])
        assert gitruns.active_run() is mine
        mine.log_metric("after", 1.0)
    (run,) = read_runs()
    assert run.name == "mine" and set(run.metrics) == {"training-l2", "after"}
