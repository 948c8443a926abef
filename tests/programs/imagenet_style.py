"""An ImageNet-style training entry point: the argparse surface of such scripts (short
flags, aliases with another dest, defaults, store_true before a positional, nargs, choices,
a type that is not a string) and nothing else. It stops after parsing."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _dump import dump

ARCHS = ["resnet18", "resnet50", "vit_b_16"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="ImageNet-style training")
    parser.add_argument("data", metavar="DIR", nargs="?", default="imagenet", help="dataset")
    parser.add_argument("-a", "--arch", default="resnet18", choices=ARCHS)
    parser.add_argument("-j", "--workers", default=4, type=int, metavar="N")
    parser.add_argument("--epochs", default=90, type=int)
    parser.add_argument("--start-epoch", default=0, type=int)
    parser.add_argument("-b", "--batch-size", default=256, type=int)
    parser.add_argument("--lr", "--learning-rate", default=0.1, type=float, dest="lr")
    parser.add_argument("--momentum", default=0.9, type=float)
    parser.add_argument("--wd", "--weight-decay", default=1e-4, type=float, dest="weight_decay")
    parser.add_argument("-p", "--print-freq", default=10, type=int)
    parser.add_argument("--resume", default="", type=str)
    parser.add_argument("-e", "--evaluate", dest="evaluate", action="store_true")
    parser.add_argument("--pretrained", action="store_true")
    parser.add_argument("--world-size", default=-1, type=int)
    parser.add_argument("--rank", default=-1, type=int)
    parser.add_argument("--dist-url", default="tcp://224.66.41.62:23456")
    parser.add_argument("--seed", default=None, type=int)
    parser.add_argument("--gpu", default=None, type=int)
    parser.add_argument("--no-accel", action="store_true")
    parser.add_argument("--dummy", action="store_true")
    parser.add_argument("--milestones", nargs="+", type=int, default=[30, 60])
    parser.add_argument("--out", type=Path, default=Path("checkpoints"))
    parser.add_argument("--api-key", default=None)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    dump(vars(args))
    print(f"would train {args.arch} for {args.epochs} epochs on {args.data}")


if __name__ == "__main__":
    main()
