"""PyYAML's implicit resolvers (``yaml.resolver.Resolver``): which plain scalars YAML reads
as something other than a string. A copy, in PyYAML's order, so that ``yaml_write`` and
``yaml_fast`` decide as PyYAML does without importing it (about 15 ms, which
``gitruns record`` of a short command would otherwise pay after it); a test compares the
copy with PyYAML's own table.
"""

from __future__ import annotations

import re

# (tag, pattern, first characters), in the order PyYAML registers them
_RESOLVERS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "tag:yaml.org,2002:bool",
        re.compile(
            r"""^(?:yes|Yes|YES|no|No|NO
                    |true|True|TRUE|false|False|FALSE
                    |on|On|ON|off|Off|OFF)$""",
            re.X,
        ),
        "yYnNtTfFoO",
    ),
    (
        "tag:yaml.org,2002:float",
        re.compile(
            r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        "-+0123456789.",
    ),
    (
        "tag:yaml.org,2002:int",
        re.compile(
            r"""^(?:[-+]?0b[0-1_]+
                    |[-+]?0[0-7_]+
                    |[-+]?(?:0|[1-9][0-9_]*)
                    |[-+]?0x[0-9a-fA-F_]+
                    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
            re.X,
        ),
        "-+0123456789",
    ),
    ("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), "<"),
    (
        "tag:yaml.org,2002:null",
        re.compile(
            r"""^(?: ~
                    |null|Null|NULL
                    | )$""",
            re.X,
        ),
        "~nN\0",  # \0 stands for the empty first character PyYAML lists
    ),
    (
        "tag:yaml.org,2002:timestamp",
        re.compile(
            r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
                    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
                     (?:[Tt]|[ \t]+)[0-9][0-9]?
                     :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
                     (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
            re.X,
        ),
        "0123456789",
    ),
    ("tag:yaml.org,2002:value", re.compile(r"^(?:=)$"), "="),
    ("tag:yaml.org,2002:yaml", re.compile(r"^(?:!|&|\*)$"), "!&*"),
]


def _table() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, firsts in _RESOLVERS:
        for first in firsts:
            table.setdefault("" if first == "\0" else first, []).append((tag, pattern))
    return table


# first character of a plain scalar -> [(tag, pattern)], as Resolver.yaml_implicit_resolvers
IMPLICIT_RESOLVERS = _table()
