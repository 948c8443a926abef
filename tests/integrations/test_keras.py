"""The Keras callback with real Keras 3 on the PyTorch backend (no TensorFlow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _integration_helpers import no_autolog_left, read_runs, series  # noqa: F401  (autouse fixture)

import gitruns

pytestmark = pytest.mark.slow

# Keras 3 on PyTorch: no TensorFlow needed (read when keras is first imported).
os.environ.setdefault("KERAS_BACKEND", "torch")

pytest.importorskip("torch")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")


def _model() -> object:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    return model


def _data() -> tuple[object, object]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_the_callback_records_fit_settings_epoch_metrics_and_the_model(repo: Path) -> None:
    from gitruns.integrations.keras import GitrunsCallback

    x, y = _data()
    model = _model()
    callback = GitrunsCallback("dense", log_model=True)
    model.fit(x, y, epochs=3, batch_size=5, validation_split=0.25, verbose=0, callbacks=[callback])
    assert gitruns.active_run() is None
    (run,) = read_runs()
    assert run.name == "dense" and run.status == "FINISHED"
    assert run.params["epochs"] == 3
    assert run.params["optimizer"]["learning_rate"] == pytest.approx(0.05)
    for key in ("loss", "mae", "val_loss", "val_mae"):
        assert [s for s, _ in series(run, key)] == [0, 1, 2]
    assert [a["path"] for a in run.artifacts] == ["model.keras"]


def test_autolog_adds_the_callback_to_fit(repo: Path) -> None:
    x, y = _data()
    gitruns.autolog(frameworks=["keras"])
    _model().fit(x, y, epochs=2, verbose=0)
    gitruns.autolog(disable=True)
    _model().fit(x, y, epochs=1, verbose=0)  # not recorded
    (run,) = read_runs()
    assert run.metrics["loss"]["count"] == 2
