"""MLflow's value coercion: what ``mlflow.log_metric``/``log_param``/``set_tag`` accept,
turned into what gitruns stores."""

from __future__ import annotations

import math
import warnings
from typing import Any

from gitruns.mlflow.exceptions import MlflowException

_warned_steps: set[str] = set()


def metric_value(key: str, value: Any) -> float:
    """bool -> 1.0/0.0, numpy scalars and one-element arrays or tensors -> float."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, int | float) and hasattr(value, "item"):
        try:
            value = value.item()
        except (ValueError, RuntimeError, TypeError) as exc:
            raise MlflowException(
                f"metric '{key}' value is not a single number ({exc})", "log one number a step"
            ) from exc
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise MlflowException(
            f"metric '{key}' value {str(value)[:40]!r} is not a number", "log an int or a float"
        ) from exc


def metric_step(key: str, step: Any) -> int:
    """MLflow's default step is 0. MLflow also takes negative and fractional steps; gitruns
    stores whole steps >= 0, so such a step is stored at ``max(0, floor(step))`` and a
    warning says so once per key."""
    if step is None:
        return 0
    if not isinstance(step, int | float) and hasattr(step, "item"):
        step = step.item()
    if isinstance(step, bool) or not isinstance(step, int | float) or not math.isfinite(step):
        raise MlflowException(f"metric '{key}' step {step!r} is not a number", "pass step=N")
    whole = max(0, math.floor(step))
    if whole != step and key not in _warned_steps:
        _warned_steps.add(key)
        warnings.warn(
            f"gitruns stores whole steps >= 0: metric '{key}' step {step} is stored as "
            f"step {whole}",
            stacklevel=3,
        )
    return whole


def param_value(value: Any) -> Any:
    """Plain values keep their type (filters compare numbers as numbers); anything else
    (a Path, a torch.device, a list, a dict, None) is stored as MLflow stores it, str()."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # a numpy scalar: the number it holds
    if type(value) in (bool, int, float, str):
        return value
    return str(value)


def tag_value(value: Any) -> str:
    return str(value)
