"""A click group: options of the group, a subcommand with its own options, a multiple
option, a file and a hidden-input option."""

from __future__ import annotations

import os
import sys

import click

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _dump import dump

seen: dict[str, object] = {}


@click.group()
@click.option("--seed", type=int, default=0)
@click.option("-v", "--verbose", is_flag=True)
def cli(seed: int, verbose: bool) -> None:
    seen.update(seed=seed, verbose=verbose)


@cli.command()
@click.option("--lr", "--learning-rate", "lr", type=float, default=0.001)
@click.option("-l", "--layer", "layers", type=int, multiple=True)
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="adam")
@click.option("--token", hide_input=True, default=None)
@click.argument("data", type=click.Path())
def train(lr: float, layers: tuple[int, ...], optimizer: str, token: str | None, data: str) -> None:
    seen["train"] = {
        "lr": lr,
        "layers": list(layers),
        "optimizer": optimizer,
        "token": token,
        "data": data,
    }
    dump(seen)


if __name__ == "__main__":
    cli()
