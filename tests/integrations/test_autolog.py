"""gitruns.autolog() itself: light (no framework imported until the program imports it),
idempotent, undone by disable=True, and wired into `gitruns record --autolog`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import gitruns
from gitruns.errors import InvalidInputError
from gitruns.integrations.autolog import FRAMEWORKS, wired
from tests._record_helpers import only_run, record

HEAVY = ("pygit2", *FRAMEWORKS, "torch", "numpy")


def _python(repo: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=False
    )


def test_autolog_imports_no_framework_and_not_the_storage_layer(repo: Path) -> None:
    result = _python(
        repo,
        "import sys, json, gitruns\n"
        "gitruns.autolog(); gitruns.autolog()\n"
        f"print(json.dumps([m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]))",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_unknown_frameworks_are_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="no integration for sklearn"):
        gitruns.autolog(frameworks=["sklearn", "xgboost"])


def test_a_framework_is_wired_when_first_imported_and_unwired_on_disable(repo: Path) -> None:
    pytest.importorskip("xgboost")
    result = _python(
        repo,
        "import gitruns, sys\n"
        "from gitruns.integrations.autolog import wired\n"
        "gitruns.autolog()\n"
        "assert 'xgboost' not in sys.modules and wired() == []\n"
        "import numpy, xgboost\n"
        "assert wired() == ['xgboost'], wired()\n"
        "x = numpy.arange(40.0).reshape(20, 2)\n"
        "xgboost.train({'max_depth': 2}, xgboost.DMatrix(x, label=x[:, 0]), 3,\n"
        "              evals=[(xgboost.DMatrix(x, label=x[:, 0]), 'train')], verbose_eval=False)\n"
        "gitruns.autolog(disable=True)\n"
        "assert wired() == [] and not hasattr(xgboost.train, '__gitruns_autolog__')\n",
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["params"] == {"max_depth": 2}
    assert run["metrics"]["train-rmse"]["count"] == 3


def test_disable_before_any_import_leaves_nothing_behind() -> None:
    gitruns.autolog()
    gitruns.autolog(disable=True)
    assert wired() == []
    assert not any(type(f).__name__ == "ImportWatcher" for f in sys.meta_path)


def test_record_autolog_of_a_command_that_is_not_python_says_so(repo: Path) -> None:
    result = record(repo, "--autolog", "--no-system-metrics", "--", "true")
    assert result.returncode == 0
    assert b"--autolog: the command is not a Python program; nothing wired" in result.stderr


def test_record_autolog_without_argument_capture_still_wires(repo: Path) -> None:
    pytest.importorskip("xgboost")
    (repo / "fit.py").write_text(
        "import numpy, xgboost\n"
        "x = numpy.arange(40.0).reshape(20, 2)\n"
        "d = xgboost.DMatrix(x, label=x[:, 0])\n"
        "xgboost.train({'max_depth': 2}, d, 2, evals=[(d, 'train')], verbose_eval=False)\n"
    )
    result = record(
        repo,
        "--autolog",
        "--no-arg-capture",
        "--no-system-metrics",
        "--",
        sys.executable,
        "fit.py",
        "--depth",
        "2",
    )
    assert result.returncode == 0, result.stderr
    run = only_run(repo)
    assert run["params"]["max_depth"] == 2  # from the callback, in the recorded run
    assert run["params"]["depth"] == 2  # read from argv, as --no-arg-capture says
    assert run["metrics"]["train-rmse"]["count"] == 2
