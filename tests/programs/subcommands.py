"""argparse with subparsers: the chosen command's arguments join the top-level ones."""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _dump import dump


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-v", "--verbose", action="count", default=0)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train")
    train.add_argument("--lr", type=float, default=0.01)
    train.add_argument("-l", "--layers", type=int, nargs="*", default=[64])
    evaluate = commands.add_parser("eval")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--split", default="val")
    args = parser.parse_args()
    dump(vars(args))


if __name__ == "__main__":
    main()
