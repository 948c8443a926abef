"""A Hydra app with config groups, in the shape of Hydra's tutorial app: a ``db`` group
(mysql, postgresql) and a trainer section. It logs a metric through gitruns when gitruns is
importable, may wait for a file (so that two runs overlap), and fails on request."""

from __future__ import annotations

import os
import time

import hydra
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base=None, config_path="conf", config_name="config")
def my_app(cfg: DictConfig) -> float:
    print(OmegaConf.to_yaml(cfg.trainer))  # not the db password: scrubbing logs is not tested here
    wait_for = os.environ.get("APP_WAIT_FOR")
    if wait_for:
        deadline = time.time() + 30
        open(f"{wait_for}.{cfg.trainer.lr}", "w").close()
        while not os.path.exists(wait_for) and time.time() < deadline:
            time.sleep(0.05)
    if cfg.trainer.lr < 0:
        raise ValueError(f"negative learning rate {cfg.trainer.lr}")
    score = float(cfg.trainer.lr) * cfg.trainer.epochs
    try:
        import gitruns
    except ImportError:
        return score
    for epoch in range(cfg.trainer.epochs):
        gitruns.log_metric("score", score * (epoch + 1), step=epoch)
    return score


if __name__ == "__main__":
    my_app()
