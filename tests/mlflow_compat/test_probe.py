"""The same calls on real MLflow (a sqlite store in tmp_path) and on gitruns.mlflow give
the same shapes: .info/.data keys and types, coerced values, system tags, search_runs'
columns. Skipped where mlflow is not installed (the ``mlflow`` extra)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).resolve().parents[1] / "programs" / "mlflow" / "probe_shapes.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("mlflow") is None or importlib.util.find_spec("pandas") is None,
        reason="needs mlflow and pandas (pip install -e '.[mlflow]')",
    ),
]


def probe(mode: str, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(PROBE), mode],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shapes: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return shapes


def test_gitruns_mlflow_matches_mlflow(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "mlflow-store"
    store.mkdir()
    real = probe("real", store, {"MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"})
    ours = probe("gitruns", repo, {})
    # git provenance tags depend on where each one ran; the rest must agree exactly
    for shapes in (real, ours):
        shapes["columns"] = [c for c in shapes["columns"] if "mlflow.source.git" not in c]
    assert ours == real
    # and the values are MLflow's coercions, not just equal to each other
    assert ours["metrics"] == {"flag": 1.0, "np32": 0.5, "a": 1.0, "b": 2.5}
    assert ours["params"] == {
        "path": "/x/y",
        "lr": "0.01",
        "layers": "[1, 2]",
        "none": "None",
        "yes": "True",
    }
    assert ours["columns_head"] == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
