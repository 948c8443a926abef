"""PyTorch Lightning logger for the ``pytorch_lightning`` package (``import pytorch_lightning``)::

    from gitruns.integrations.pytorch_lightning import GitrunsLogger
    trainer = pytorch_lightning.Trainer(logger=GitrunsLogger(log_model=True))

For the ``lightning`` package, use ``gitruns.integrations.lightning``.
"""

from __future__ import annotations

from pytorch_lightning import Trainer
from pytorch_lightning.loggers import Logger
from pytorch_lightning.utilities import rank_zero_only

from gitruns.integrations._lightning_logger import LightningLoggerBody, wire_trainer
from gitruns.integrations._patching import Undo


class GitrunsLogger(LightningLoggerBody, Logger):
    __doc__ = LightningLoggerBody.__doc__

    @staticmethod
    def _rank() -> int:
        return int(getattr(rank_zero_only, "rank", 0))


def wire() -> Undo:
    """Autolog: see ``wire_trainer``."""
    return wire_trainer(Trainer, GitrunsLogger)
