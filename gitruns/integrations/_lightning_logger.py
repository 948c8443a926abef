"""The body of the PyTorch Lightning logger, shared by the ``lightning`` and the
``pytorch_lightning`` packages (each has its own ``Logger`` base class: ``lightning.py`` and
``pytorch_lightning.py`` put this body on the right one). Imports no framework itself."""

from __future__ import annotations

import sys
from argparse import Namespace
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitruns.integrations._patching import Undo, wrap
from gitruns.integrations._runs import IntegrationRun
from gitruns.integrations._values import numeric_metrics, plain_params

if TYPE_CHECKING:
    from gitruns.recording.active import ActiveRun


class LightningLoggerBody:
    """Records a Lightning training run into gitruns: hyperparameters as params, logged
    metrics as series at the trainer's global step, checkpoints as artifacts.

    ``name`` and ``version`` are the run's name and id. Only the process of global rank 0
    writes (DDP's other ranks log nothing), as with Lightning's other loggers. With no
    active run the logger starts one (under ``gitruns record`` it joins the recorded run);
    inside ``with gitruns.start_run():`` it logs to that run and never ends it.

    Args:
        name: the run's name, when the logger starts the run.
        log_model: log checkpoints of ``ModelCheckpoint`` as artifacts under
            ``checkpoints/``: ``True`` at the end of training (every checkpoint as it is
            saved when ``save_top_k == -1``), ``"all"`` as each is saved, ``False`` never.
        save_dir: where Lightning puts this logger's checkpoints
            (``<save_dir>/<run name>/<run id>/checkpoints``).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        log_model: bool | str = False,
        save_dir: str = "gitruns_logs",
    ) -> None:
        super().__init__()
        if log_model not in (True, False, "all"):
            raise ValueError(f"log_model must be True, False or 'all', not {log_model!r}")
        self._gitruns = IntegrationRun("Lightning logger", name)
        self._log_model = log_model
        self._save_dir = save_dir
        self._checkpoint_callback: Any = None
        self._logged_checkpoints: dict[str, float] = {}  # path -> mtime when logged

    @staticmethod
    def _rank() -> int:
        """This process's global rank (the framework module supplies it)."""
        return 0

    @property
    def experiment(self) -> ActiveRun | None:
        """The gitruns run (``gitruns.ActiveRun``); None on ranks other than 0."""
        if self._rank() != 0:
            return None
        return self._gitruns.run()

    @property
    def name(self) -> str | None:
        run = self.experiment
        return run.name if run is not None else None

    @property
    def version(self) -> str | None:
        run = self.experiment
        return run.id if run is not None else None

    @property
    def save_dir(self) -> str | None:
        return self._save_dir

    def log_hyperparams(self, params: Mapping[str, Any] | Namespace, *args: Any, **kw: Any) -> None:
        if self._rank() != 0:
            return
        values = vars(params) if isinstance(params, Namespace) else dict(params)
        run = self._gitruns.run()
        self._gitruns.guard(lambda: run.log_params(plain_params(values)))

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if self._rank() != 0:
            return
        numbers = numeric_metrics(metrics)
        run = self._gitruns.run()
        self._gitruns.guard(lambda: run.log_metrics(numbers, step))

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Model graphs are not recorded."""

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._rank() != 0:
            return
        every_one = getattr(checkpoint_callback, "save_top_k", None) == -1
        if self._log_model == "all" or (self._log_model is True and every_one):
            self._log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    def finalize(self, status: str) -> None:
        """Lightning calls this after each ``fit``/``validate``/``test``: a run the logger
        started stays open after success (so ``test`` after ``fit`` logs to it) and ends at
        exit or when the next run starts; a failure ends it at once."""
        if self._rank() != 0 or not self._gitruns.started:
            return
        if self._checkpoint_callback is not None:
            self._log_checkpoints(self._checkpoint_callback)
        if status == "failed":
            error = sys.exc_info()[1]  # Lightning calls this in its `except` block
            failed = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
            self._gitruns.finish(failed)
        else:
            self._gitruns.finish("FINISHED", keep_open=True)

    def _log_checkpoints(self, callback: Any) -> None:
        """Log the checkpoint files that are new or changed since last logged."""
        paths = {getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")}
        paths.update(str(p) for p in (getattr(callback, "best_k_models", None) or {}))
        run = self._gitruns.run()
        for path in sorted(p for p in paths if p and Path(p).is_file()):
            mtime = Path(path).stat().st_mtime
            if self._logged_checkpoints.get(path) == mtime:
                continue
            self._gitruns.guard(partial(run.log_artifact, path, "checkpoints"))
            self._logged_checkpoints[path] = mtime


def wire_trainer(trainer_class: Any, logger_class: Any) -> Undo:
    """Autolog: a ``Trainer`` gets a gitruns logger after its own ones (the default
    TensorBoard/CSV logger stays), unless ``logger=False`` or a gitruns logger is given."""

    def make(original: Any) -> Any:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if kwargs.get("logger", True) is False:
                return
            if not any(isinstance(logger, logger_class) for logger in self.loggers):
                self.loggers = [*self.loggers, logger_class()]

        return __init__

    return wrap(trainer_class, "__init__", make)
