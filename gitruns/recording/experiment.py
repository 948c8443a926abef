"""Which experiment a new run joins.

An experiment is a name that groups runs (MLflow's experiments, W&B's projects). The
sources, first wins: ``start_run(experiment=...)``, the process-wide default set with
``gitruns.set_experiment()``, the ``GITRUNS_EXPERIMENT`` variable (which
``gitruns record --experiment`` sets for its command), else none.
"""

from __future__ import annotations

import os
import threading

from gitruns.format.validation import check_name_key

ENV_EXPERIMENT = "GITRUNS_EXPERIMENT"

_lock = threading.Lock()
_default: str | None = None


def check_experiment(name: object) -> str:
    """An experiment name is a non-empty one-line string, like a run name."""
    return check_name_key(name, "experiment name")


def set_experiment(name: str | None) -> None:
    """Make new runs of this process join experiment ``name`` (None: forget the default)."""
    global _default
    checked = check_experiment(name) if name is not None else None
    with _lock:
        _default = checked


def default_experiment() -> str | None:
    """What ``set_experiment`` chose, else ``GITRUNS_EXPERIMENT``, else None."""
    with _lock:
        chosen = _default
    if chosen is not None:
        return chosen
    from_env = os.environ.get(ENV_EXPERIMENT, "").strip()
    return check_experiment(from_env) if from_env else None


def chosen_explicitly(experiment: str | None) -> str | None:
    """The experiment this process asked for itself (an argument or ``set_experiment``),
    not one inherited through the environment: what a joined run adopts."""
    if experiment is not None:
        return check_experiment(experiment)
    with _lock:
        return _default
