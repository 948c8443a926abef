"""The filter language's syntax tree, and printing it back as text that parses to it."""

from __future__ import annotations

import re
from dataclasses import dataclass

Value = str | int | float | bool

NAMESPACES = ("params", "metrics", "tags", "resources")
AGGREGATES = ("last", "min", "max", "count")
ATTRIBUTES = (
    "id",
    "name",
    "status",
    "user",
    "email",
    "host",
    "branch",
    "commit",
    "start_time",
    "end_time",
    "duration",
    "origin",
    "experiment",
)
PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_/\-]+")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
ARITHMETIC = ("+", "-", "*", "/")
BASELINE = "baseline"


@dataclass(frozen=True)
class Field:
    """``status``, ``params.lr``, ``metrics.loss.min``, ``tags.team``.

    For metrics, ``exact`` False means the key was written plainly, so a trailing
    ``.min``/``.max``/``.last``/``.count`` is an aggregate unless the run has a metric of
    exactly that name. With backquotes (``exact``) the key is taken as written and ``agg``
    is the aggregate written after the closing backquote, if any.
    """

    namespace: str  # "attr", "params", "metrics", "tags" or "resources"
    key: str
    agg: str | None = None
    exact: bool = False

    def to_text(self) -> str:
        if self.namespace == "attr":
            return self.key
        if self.namespace == "metrics" and self.exact:
            return f"metrics.{quote_key(self.key)}" + (f".{self.agg}" if self.agg else "")
        if all(PLAIN_SEGMENT.fullmatch(part) for part in self.key.split(".")):
            return f"{self.namespace}.{self.key}"
        return f"{self.namespace}.{quote_key(self.key)}"


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str  # one of COMPARISONS
    value: Value


@dataclass(frozen=True)
class In:
    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    field: Field
    pattern: str
    ignore_case: bool = False
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    field: Field
    negated: bool = False


@dataclass(frozen=True)
class Ref:
    """A field as an operand: of the run judged, or of the baseline run (``baseline.``,
    only in ``gitruns check``)."""

    field: Field
    baseline: bool = False


@dataclass(frozen=True)
class Literal:
    value: Value


@dataclass(frozen=True)
class Arith:
    """``left + right`` (``-``, ``*``, ``/``): numbers, and durations such as ``"10m"``."""

    op: str  # one of ARITHMETIC
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Negate:
    operand: Operand


Operand = Ref | Literal | Arith | Negate


@dataclass(frozen=True)
class Calc:
    """A comparison that is not ``run field <op> literal``: arithmetic on either side, a
    field on the right (``metrics.acc >= baseline.metrics.acc - 0.01``), or a baseline
    field. ``field <op> literal`` stays a ``Compare``, which the SQL pre-filter can use."""

    left: Operand
    op: str  # one of COMPARISONS
    right: Operand


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Compare | Calc | In | Like | IsNull | And | Or | Not


def quote_key(key: str) -> str:
    return "`" + key.replace("`", "``") + "`"


def quote_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def value_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote_string(value)
    return repr(value)


def to_text(node: Node) -> str:
    """The canonical text of a tree; ``parse(to_text(t)) == t``."""
    if isinstance(node, Compare):
        return f"{node.field.to_text()} {node.op} {value_text(node.value)}"
    if isinstance(node, Calc):
        return f"{operand_text(node.left)} {node.op} {operand_text(node.right)}"
    if isinstance(node, In):
        values = ", ".join(value_text(v) for v in node.values)
        return f"{node.field.to_text()} {'not in' if node.negated else 'in'} ({values})"
    if isinstance(node, Like):
        op = ("not " if node.negated else "") + ("ilike" if node.ignore_case else "like")
        return f"{node.field.to_text()} {op} {quote_string(node.pattern)}"
    if isinstance(node, IsNull):
        return f"{node.field.to_text()} is {'not ' if node.negated else ''}null"
    if isinstance(node, Not):
        return f"not {_grouped(node.operand)}"
    word = "and" if isinstance(node, And) else "or"
    return f"{_grouped(node.left)} {word} {_grouped(node.right)}"


def operand_text(operand: Operand) -> str:
    """An operand's text, parenthesised only where precedence needs it."""
    if isinstance(operand, Ref):
        text = operand.field.to_text()
        return f"{BASELINE}.{text}" if operand.baseline else text
    if isinstance(operand, Literal):
        return value_text(operand.value)
    if isinstance(operand, Negate):
        inner = operand_text(operand.operand)
        # ``-(0.5)``, not ``-0.5``: that would read back as the literal -0.5
        return f"-{inner}" if isinstance(operand.operand, Ref) else f"-({inner})"
    rank = _RANK[operand.op]
    left, right = operand_text(operand.left), operand_text(operand.right)
    if isinstance(operand.left, Arith) and _RANK[operand.left.op] < rank:
        left = f"({left})"
    if isinstance(operand.right, Arith) and _RANK[operand.right.op] <= rank:
        right = f"({right})"  # a - (b - c): the right side groups first
    return f"{left} {operand.op} {right}"


_RANK = {"+": 1, "-": 1, "*": 2, "/": 2}


def refs_of(operand: Operand) -> list[Ref]:
    """The fields an operand reads, in order."""
    if isinstance(operand, Ref):
        return [operand]
    if isinstance(operand, Negate):
        return refs_of(operand.operand)
    if isinstance(operand, Arith):
        return refs_of(operand.left) + refs_of(operand.right)
    return []


def _grouped(node: Node) -> str:
    """Parenthesise nested boolean operators, so the tree's shape survives printing."""
    text = to_text(node)
    return f"({text})" if isinstance(node, And | Or) else text


def fields_of(node: Node) -> list[Field]:
    """The fields a filter mentions, in order of appearance, without repeats."""
    if isinstance(node, And | Or):
        found = fields_of(node.left)
        return found + [f for f in fields_of(node.right) if f not in found]
    if isinstance(node, Not):
        return fields_of(node.operand)
    if isinstance(node, Calc):
        found = []
        for ref in refs_of(node.left) + refs_of(node.right):
            if not ref.baseline and ref.field not in found:
                found.append(ref.field)
        return found
    return [node.field]
