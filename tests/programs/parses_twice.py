"""Two parses of the command line, as timm-style scripts do: a first parser takes --config
and leaves the rest to the full parser; then the script parses again for good measure.
A library-style parse of a list of its own is not the program's command line."""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _dump import dump


def main() -> None:
    config_parser = argparse.ArgumentParser(add_help=False)
    config_parser.add_argument("-c", "--config", default="")
    known, remaining = config_parser.parse_known_args()
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--model", default="mlp")
    args = parser.parse_args(remaining)
    args = parser.parse_args(remaining)  # parsed twice: still one report
    internal = argparse.ArgumentParser()
    internal.add_argument("--tokenizer-threads", type=int, default=1)
    internal.parse_args(["--tokenizer-threads", "8"])  # not from the command line
    dump({**vars(known), **vars(args)})
    print(json.dumps(vars(args)))


if __name__ == "__main__":
    main()
