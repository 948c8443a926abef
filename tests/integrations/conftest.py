"""Fixtures of the framework integration tests: each trains a tiny model built in the test,
on CPU, as a real run in a real repository, read back through gitruns' reader."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

import gitruns
from gitruns.integrations import autolog as autolog_module

# Keras 3 on PyTorch: no TensorFlow is needed (read when keras is first imported).
os.environ.setdefault("KERAS_BACKEND", "torch")


def end_active_runs() -> None:
    """End what integrations left open (they end at exit; the tests read them before)."""
    while (run := gitruns.active_run()) is not None:
        run.end()


@pytest.fixture
def read_runs(repo: object) -> Callable[[], list[gitruns.Run]]:
    """The repository's runs, oldest first, once every open run has ended."""

    def read() -> list[gitruns.Run]:
        end_active_runs()
        return sorted(gitruns.list_runs(), key=lambda r: r.id)

    return read


@pytest.fixture(autouse=True)
def no_autolog_left() -> Iterator[None]:
    """A test that turns autolog on never leaves it on for the next one."""
    yield
    autolog_module.autolog(disable=True)


def series(run: gitruns.Run, key: str) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in run.metric_history(key)]
