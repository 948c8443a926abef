"""The filter language's syntax tree, and printing it back as text that parses to it."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar

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
    "entry_point",
    "command",
    "note",
    "remote_url",
    "dirty",
    "parent",
    "child",
    "children",
)
# Lineage: ``parent``/``child`` match a related run by id, id prefix or suffix, or name;
# ``children`` counts child runs.
RELATIVES = ("parent", "child")
PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_/\-]+")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
ARITHMETIC = ("+", "-", "*", "/")
BASELINE = "baseline"


class _Frozen:
    """What ``@dataclass(frozen=True)`` gave these classes, without building 13 dataclasses
    at import (12 ms of every command that parses a filter): fields in ``__slots__``
    (``_fields`` gives their order), set once by ``__init__``; equal when of the same class
    with equal fields (never across classes: ``Not(x) != Negate(x)``), hashed by the
    fields, shown as ``Name(f=v, ...)``, immutable (``FrozenInstanceError``), copied and
    pickled by their fields."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()  # in order: compared, hashed, shown

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return type(self), self._values()


_set = object.__setattr__


class Field(_Frozen):
    """``status``, ``params.lr``, ``metrics.loss.min``, ``tags.team``.

    For metrics, ``exact`` False means the key was written plainly, so a trailing
    ``.min``/``.max``/``.last``/``.count`` is an aggregate unless the run has a metric of
    exactly that name. With backquotes (``exact``) the key is taken as written and ``agg``
    is the aggregate written after the closing backquote, if any.
    """

    _fields = ("namespace", "key", "agg", "exact")
    __slots__ = _fields
    namespace: str  # "attr", "params", "metrics", "tags" or "resources"
    key: str
    agg: str | None
    exact: bool

    def __init__(
        self, namespace: str, key: str, agg: str | None = None, exact: bool = False
    ) -> None:
        _set(self, "namespace", namespace)
        _set(self, "key", key)
        _set(self, "agg", agg)
        _set(self, "exact", exact)

    def to_text(self) -> str:
        if self.namespace == "attr":
            return self.key
        if self.namespace == "metrics" and self.exact:
            return f"metrics.{quote_key(self.key)}" + (f".{self.agg}" if self.agg else "")
        if all(PLAIN_SEGMENT.fullmatch(part) for part in self.key.split(".")):
            return f"{self.namespace}.{self.key}"
        return f"{self.namespace}.{quote_key(self.key)}"


class Compare(_Frozen):
    _fields = ("field", "op", "value")
    __slots__ = _fields
    field: Field
    op: str  # one of COMPARISONS
    value: Value

    def __init__(self, field: Field, op: str, value: Value) -> None:
        _set(self, "field", field)
        _set(self, "op", op)
        _set(self, "value", value)


class In(_Frozen):
    _fields = ("field", "values", "negated")
    __slots__ = _fields
    field: Field
    values: tuple[Value, ...]
    negated: bool

    def __init__(self, field: Field, values: tuple[Value, ...], negated: bool = False) -> None:
        _set(self, "field", field)
        _set(self, "values", values)
        _set(self, "negated", negated)


class Like(_Frozen):
    _fields = ("field", "pattern", "ignore_case", "negated")
    __slots__ = _fields
    field: Field
    pattern: str
    ignore_case: bool
    negated: bool

    def __init__(
        self, field: Field, pattern: str, ignore_case: bool = False, negated: bool = False
    ) -> None:
        _set(self, "field", field)
        _set(self, "pattern", pattern)
        _set(self, "ignore_case", ignore_case)
        _set(self, "negated", negated)


class IsNull(_Frozen):
    _fields = ("field", "negated")
    __slots__ = _fields
    field: Field
    negated: bool

    def __init__(self, field: Field, negated: bool = False) -> None:
        _set(self, "field", field)
        _set(self, "negated", negated)


class Ref(_Frozen):
    """A field as an operand: of the run judged, or of the baseline run (``baseline.``,
    only in ``gitruns check``)."""

    _fields = ("field", "baseline")
    __slots__ = _fields
    field: Field
    baseline: bool

    def __init__(self, field: Field, baseline: bool = False) -> None:
        _set(self, "field", field)
        _set(self, "baseline", baseline)


class Literal(_Frozen):
    _fields = ("value",)
    __slots__ = _fields
    value: Value

    def __init__(self, value: Value) -> None:
        _set(self, "value", value)


class Arith(_Frozen):
    """``left + right`` (``-``, ``*``, ``/``): numbers, and durations such as ``"10m"``."""

    _fields = ("op", "left", "right")
    __slots__ = _fields
    op: str  # one of ARITHMETIC
    left: Operand
    right: Operand

    def __init__(self, op: str, left: Operand, right: Operand) -> None:
        _set(self, "op", op)
        _set(self, "left", left)
        _set(self, "right", right)


class Negate(_Frozen):
    _fields = ("operand",)
    __slots__ = _fields
    operand: Operand

    def __init__(self, operand: Operand) -> None:
        _set(self, "operand", operand)


Operand = Ref | Literal | Arith | Negate


class Calc(_Frozen):
    """A comparison that is not ``run field <op> literal``: arithmetic on either side, a
    field on the right (``metrics.acc >= baseline.metrics.acc - 0.01``), or a baseline
    field. ``field <op> literal`` stays a ``Compare``, which the SQL pre-filter can use."""

    _fields = ("left", "op", "right")
    __slots__ = _fields
    left: Operand
    op: str  # one of COMPARISONS
    right: Operand

    def __init__(self, left: Operand, op: str, right: Operand) -> None:
        _set(self, "left", left)
        _set(self, "op", op)
        _set(self, "right", right)


class And(_Frozen):
    _fields = ("left", "right")
    __slots__ = _fields
    left: Node
    right: Node

    def __init__(self, left: Node, right: Node) -> None:
        _set(self, "left", left)
        _set(self, "right", right)


class Or(_Frozen):
    _fields = ("left", "right")
    __slots__ = _fields
    left: Node
    right: Node

    def __init__(self, left: Node, right: Node) -> None:
        _set(self, "left", left)
        _set(self, "right", right)


class Not(_Frozen):
    _fields = ("operand",)
    __slots__ = _fields
    operand: Node

    def __init__(self, operand: Node) -> None:
        _set(self, "operand", operand)


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
