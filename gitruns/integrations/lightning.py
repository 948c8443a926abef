"""PyTorch Lightning logger for the ``lightning`` package (``import lightning``)::

    from gitruns.integrations.lightning import GitrunsLogger
    trainer = lightning.Trainer(logger=GitrunsLogger(log_model=True))

For the older ``pytorch_lightning`` package, use ``gitruns.integrations.pytorch_lightning``.
"""

from __future__ import annotations

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from gitruns.integrations._lightning_logger import LightningLoggerBody


class GitrunsLogger(LightningLoggerBody, Logger):
    __doc__ = LightningLoggerBody.__doc__

    @staticmethod
    def _rank() -> int:
        return int(getattr(rank_zero_only, "rank", 0))
