"""Which run an integration logs to, and when that run ends: the rule every integration
shares, so that loggers, callbacks and a user's own ``start_run()`` agree.

- A run the user started (``with gitruns.start_run(): trainer.fit()``) is used and never
  ended by an integration.
- With no active run, the integration starts one (under ``gitruns record`` the first one
  joins the recorded run) and ends it when training ends; a FINISHED run may be left open
  for later logging (Lightning's ``test`` after ``fit``) and is ended at exit, or when the
  next integration needs a run.
- While another integration's run is in use (a LightGBM model trained inside an Optuna
  study), the new run is its child.

Logging never fails training: an error from gitruns becomes one warning per integration.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gitruns
from gitruns.errors import GitrunsError

if TYPE_CHECKING:
    from gitruns.recording.active import ActiveRun

_lock = threading.RLock()
# id -> "in use" or "left open", for the runs integrations started and have not ended
_started: dict[str, str] = {}


class IntegrationRun:
    """The run one logger or callback writes to (started lazily by ``run``)."""

    def __init__(self, integration: str, name: str | None = None) -> None:
        self.integration = integration
        self.name = name
        self.owned = False
        self._run: ActiveRun | None = None
        self._warned = False

    @property
    def started(self) -> bool:
        return self._run is not None

    def run(self) -> ActiveRun:
        """The run to log to, acquired on first use by the rule above."""
        if self._run is None:
            with _lock:
                self._run, self.owned = _acquire(self.name)
        return self._run

    def finish(self, status: str = "FINISHED", *, keep_open: bool = False) -> None:
        """Training ended. A run this integration started ends now (``keep_open``: a
        FINISHED one stays open for later logging, ending at exit or at the next run)."""
        run = self._run
        if run is None or not self.owned:
            self._run = None
            return
        with _lock:
            if keep_open and status == "FINISHED" and gitruns.active_run() is run:
                _started[run.id] = "left open"
                return
            self._run = None
            _started.pop(run.id, None)
            self.guard(lambda: _end(run, status))

    def guard(self, call: Callable[[], Any]) -> None:
        """Run ``call``; a gitruns error (a full disk, a param logged twice with different
        values) becomes a warning, once, instead of stopping training."""
        try:
            call()
        except (GitrunsError, OSError) as exc:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"gitruns {self.integration}: not recorded: {exc}", RuntimeWarning, stacklevel=3
                )


def _acquire(name: str | None) -> tuple[ActiveRun, bool]:
    while True:
        active = gitruns.active_run()
        state = _started.get(active.id) if active is not None else None
        if active is None:
            run = gitruns.start_run(name)
        elif state is None:
            return active, False  # the user's run
        elif state == "left open":
            _started.pop(active.id, None)
            _end(active, "FINISHED")
            continue
        else:
            run = gitruns.start_run(name, nested=True)
        _started[run.id] = "in use"
        return run, True


def _end(run: ActiveRun, status: str) -> None:
    if run.status == "RUNNING":
        run.end(status)
