"""The Optuna callback with real Optuna: the study is a run, each trial a child run."""

from __future__ import annotations

from pathlib import Path

import pytest
from _integration_helpers import no_autolog_left, read_runs, series  # noqa: F401  (autouse fixture)

import gitruns

optuna = pytest.importorskip("optuna")


def objective(trial: object) -> float:
    x = trial.suggest_float("x", -4.0, 4.0)  # type: ignore[attr-defined]
    kind = trial.suggest_categorical("kind", ["a", "b"])  # type: ignore[attr-defined]
    for step in range(3):
        trial.report((x - 1) ** 2 + step, step)  # type: ignore[attr-defined]
    if x > 3.5:
        raise ValueError("too far")
    return (x - 1) ** 2 + (0.5 if kind == "b" else 0.0)


def _study() -> object:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name="demo", sampler=optuna.samplers.TPESampler(seed=3))


def test_each_trial_is_a_child_run_of_the_study_run(repo: Path) -> None:
    from gitruns.integrations.optuna import GitrunsCallback

    study = _study()
    callback = GitrunsCallback()
    study.optimize(objective, n_trials=6, callbacks=[callback], catch=(ValueError,))
    callback.finish()
    study_run, *trials = read_runs()
    assert study_run.name == "demo" and study_run.params == {"optuna_directions": ["minimize"]}
    assert [t.name for t in trials] == [f"trial-{n}" for n in range(6)]
    for trial, frozen in zip(trials, study.trials, strict=True):
        assert trial.parents == [study_run.id]
        assert trial.params == frozen.params
        assert trial.tags["optuna.state"] == frozen.state.name
        assert trial.tags["optuna.study"] == "demo"
        assert [s for s, _ in series(trial, "intermediate_value")] == [0, 1, 2]
        if frozen.state.name == "COMPLETE":
            assert trial.status == "FINISHED"
            assert trial.metrics["value"]["last"] == pytest.approx(frozen.value)
        else:
            assert trial.status == "FAILED" and "value" not in trial.metrics
    found = gitruns.search_runs('tags.optuna.study = "demo" and tags.optuna.state = "COMPLETE"')
    assert sorted(r.id for r in found) == [t.id for t in trials if t.status == "FINISHED"]
    best = [v for _, v in series(study_run, "best_value")]
    assert best[-1] == pytest.approx(study.best_value)
    assert best == sorted(best, reverse=True)


def test_autolog_wraps_optimize_and_ends_the_study_run(repo: Path) -> None:
    gitruns.autolog(frameworks=["optuna"])
    study = _study()
    study.optimize(objective, n_trials=3, catch=(ValueError,))
    assert gitruns.active_run() is None
    study_run, *trials = read_runs()
    assert study_run.status == "FINISHED" and len(trials) == 3
    assert all(t.parents == [study_run.id] for t in trials)
