"""``mlflow.tracking``: ``from gitruns.mlflow.tracking import MlflowClient``."""

from __future__ import annotations

from typing import Any

__all__ = ["MlflowClient"]


def __getattr__(name: str) -> Any:
    if name == "MlflowClient":
        from gitruns.mlflow.client import MlflowClient

        return MlflowClient
    raise AttributeError(f"module 'gitruns.mlflow.tracking' has no attribute {name!r}")
