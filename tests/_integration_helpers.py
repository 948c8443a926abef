"""Helpers of the framework integration tests (tests/integrations): each trains a tiny model
built in the test, on CPU, as a real run in a real repository, read back through gitruns'
reader. A test module imports the fixtures it uses from here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gitruns
from gitruns.integrations import autolog as autolog_module


def end_active_runs() -> None:
    """End what integrations left open (they end at exit; the tests read them before)."""
    while (run := gitruns.active_run()) is not None:
        run.end()


def read_runs() -> list[gitruns.Run]:
    """The runs of the repository in the working directory, oldest first, once every open
    run has ended."""
    end_active_runs()
    return sorted(gitruns.list_runs(), key=lambda r: r.id)


@pytest.fixture(autouse=True)
def no_autolog_left() -> Iterator[None]:
    """A test that turns autolog on never leaves it on for the next one."""
    yield
    autolog_module.autolog(disable=True)


def series(run: gitruns.Run, key: str) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in run.metric_history(key)]
