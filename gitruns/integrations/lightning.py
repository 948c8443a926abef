"""PyTorch Lightning logger for the ``lightning`` package (``import lightning``)::

    from gitruns.integrations.lightning import GitrunsLogger
    trainer = lightning.Trainer(logger=GitrunsLogger(log_model=True))

For the older ``pytorch_lightning`` package, use ``gitruns.integrations.pytorch_lightning``.
"""

from __future__ import annotations

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

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
