"""Parse filter expressions, sort keys and column names into syntax trees.

Grammar (keywords are case-insensitive)::

    expr      := and_expr ("or" and_expr)*
    and_expr  := unary ("and" unary)*
    unary     := "not" unary | "(" expr ")" | predicate
    predicate := operand op operand
               | field ["not"] "in" "(" value ("," value)* ")"
               | field ["not"] ("like" | "ilike") string
               | field "is" ["not"] "null"
    operand   := term (("+" | "-") term)*
    term      := factor (("*" | "/") factor)*
    factor    := "-" factor | "(" operand ")" | value | field | "baseline." field

``field op value`` is a ``Compare``; any other comparison (arithmetic, a field on the
right, a ``baseline.`` field) is a ``Calc``. A predicate that starts with ``(`` is
arithmetic when the matching ``)`` is followed by an operator: ``(a - b) / b > 0.1``.
"""

from __future__ import annotations

from collections.abc import Callable

from gitruns.query.ast import (
    AGGREGATES,
    ATTRIBUTES,
    BASELINE,
    And,
    Arith,
    Calc,
    Compare,
    Field,
    In,
    IsNull,
    Like,
    Literal,
    Negate,
    Node,
    Not,
    Operand,
    Or,
    Ref,
    Value,
    refs_of,
    value_text,
)
from gitruns.query.errors import QuerySyntaxError
from gitruns.query.lexer import Segment, Token, tokenize
from gitruns.query.mlflow_names import UNSUPPORTED_ATTRIBUTES, mlflow_tag_field
from gitruns.query.values import as_number, parse_duration_literal

_NAMESPACE_ALIASES = {
    "params": "params",
    "param": "params",
    "parameters": "params",
    "parameter": "params",
    "metrics": "metrics",
    "metric": "metrics",
    "tags": "tags",
    "tag": "tags",
    "resources": "resources",
    "resource": "resources",
    "attributes": "attr",
    "attribute": "attr",
    "attr": "attr",
    "run": "attr",
}
# MLflow's dataset fields: gitruns records input files (ActiveRun.log_input), not datasets.
_DATASET_ENTITIES = ("dataset", "datasets")
# MLflow's attribute names, so that MLflow filters work unchanged.
_ATTRIBUTE_ALIASES = {
    "run_id": "id",
    "run_name": "name",
    "user_id": "user",
    "created": "start_time",
    "git_commit": "commit",
    "run name": "name",
    "source": "entry_point",
}
_OPERATOR_ALIASES = {"==": "=", "<>": "!="}
# Parentheses and ``not`` nest by recursion (here and wherever a tree is walked): a cap
# keeps a crafted filter from exhausting Python's stack. Flat chains of ``and``/``or``
# are not nesting: they become balanced trees, so 100,000 terms are only 17 deep.
MAX_NESTING = 100
KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"}
# Arithmetic nests by recursion too (parentheses, signs, chains of ``+``): a crafted
# expression must not exhaust Python's stack when parsed, printed or evaluated.
MAX_ARITHMETIC_DEPTH = 100


def parse(text: str, *, baseline: bool = False) -> Node:
    """Parse a filter expression; raise QuerySyntaxError pointing at the problem.

    ``baseline`` allows ``baseline.`` fields (the expressions of ``gitruns check``).
    """
    parser = _Parser(text, baseline)
    node = parser.expression()
    parser.expect_end()
    return node


def parse_field(text: str) -> Field:
    """Parse one field name (a column or a sort key) such as ``metrics.acc``."""
    parser = _Parser(text)
    field = parser.field()
    parser.expect_end()
    return field


class _Parser:
    def __init__(self, text: str, baseline: bool = False) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.baseline = baseline
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, problem: str, token: Token | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(self.text, (token or self.token).pos, problem)

    def accept(self, word: str) -> bool:
        if self.token.word() == word:
            self.index += 1
            return True
        return False

    def expect_end(self) -> None:
        if self.token.kind != "end":
            raise self.error(f"unexpected '{self.token.text}' after a complete expression")

    def expression(self) -> Node:
        terms = [self.conjunction()]
        while self.accept("or"):
            terms.append(self.conjunction())
        return _balanced(Or, terms)

    def conjunction(self) -> Node:
        terms = [self.unary()]
        while self.accept("and"):
            terms.append(self.unary())
        return _balanced(And, terms)

    def unary(self) -> Node:
        grouping = self.token.kind == "lparen" and not self._arithmetic_ahead()
        if grouping or self.token.word() == "not":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(f"parentheses and 'not' nested deeper than {MAX_NESTING}")
            try:
                return self._nested()
            finally:
                self.depth -= 1
        return self.predicate()

    def _nested(self) -> Node:
        if self.accept("not"):
            return Not(self.unary())
        self.advance()
        node = self.expression()
        if self.token.kind != "rparen":
            raise self.error("expected ')'")
        self.advance()
        return node

    def predicate(self) -> Node:
        start = self.token
        left = self.operand("a field")
        token = self.token
        if token.kind == "op":
            self.advance()
            op = _OPERATOR_ALIASES.get(token.text, token.text)
            return self._comparison(left, op, self.operand("a value"), start)
        if not isinstance(left, Ref) or left.baseline:
            if isinstance(left, Ref) and token.word() in ("is", "not", "in", "like", "ilike"):
                raise self.error(
                    "'in', 'like' and 'is' take a field of the run, not of the baseline", start
                )
            raise self.error("expected an operator")
        field = left.field
        if self.accept("is"):
            negated = self.accept("not")
            if not self.accept("null"):
                raise self.error("expected 'null'")
            return IsNull(field, negated)
        negated = self.accept("not")
        if self.accept("in"):
            return In(field, self.value_list(), negated)
        for word, ignore_case in (("like", False), ("ilike", True)):
            if self.accept(word):
                pattern = self.token
                if pattern.kind != "string":
                    raise self.error("expected a quoted pattern")
                self.advance()
                return Like(field, str(pattern.value), ignore_case, negated)
        expected = "'in', 'like' or 'ilike'" if negated else "an operator"
        raise self.error(f"expected {expected}")

    def value_list(self) -> tuple[Value, ...]:
        if self.token.kind != "lparen":
            raise self.error("expected '(' and a list of values")
        self.advance()
        values = [self.value()]
        while self.token.kind == "comma":
            self.advance()
            values.append(self.value())
        if self.token.kind != "rparen":
            raise self.error("expected ',' or ')'")
        self.advance()
        return tuple(values)

    def value(self) -> Value:
        token = self.token
        if token.kind in ("string", "number"):
            self.advance()
            assert token.value is not None
            return token.value
        if token.word() in ("true", "false"):
            self.advance()
            return token.word() == "true"
        if token.word() == "null":
            raise self.error("expected a value (test for a missing value with 'is null')")
        raise self.error("expected a value")

    def _comparison(self, left: Operand, op: str, right: Operand, start: Token) -> Node:
        if isinstance(left, Ref) and not left.baseline and isinstance(right, Literal):
            return Compare(left.field, op, right.value)
        if not refs_of(left) and not refs_of(right):
            raise self.error("expected a field: a comparison needs a field on one side", start)
        return Calc(left, op, right)

    def _arithmetic_ahead(self) -> bool:
        """At ``(``: is the matching ``)`` followed by an operator (``(a - b) / b > 0``)?"""
        depth = 0
        for index in range(self.index, len(self.tokens)):
            kind = self.tokens[index].kind
            depth += (kind == "lparen") - (kind == "rparen")
            if depth == 0:
                return self.tokens[index + 1].kind in ("op", "arith")
        return False

    def operand(self, expected: str, depth: int = 0) -> Operand:
        """``a + b * c``: ``+``/``-`` over ``*``/``/`` over signs and parentheses."""
        return self._chain("+-", lambda e, d: self.term(e, d), expected, depth)

    def term(self, expected: str, depth: int) -> Operand:
        return self._chain("*/", self.factor, expected, depth)

    def _chain(
        self, ops: str, parse_next: Callable[[str, int], Operand], expected: str, depth: int
    ) -> Operand:
        """Left-associative ``a op b op c``; each operand of arithmetic must be a number."""
        start = self.token
        node = parse_next(expected, depth)
        while self.token.kind == "arith" and self.token.text in ops:
            depth = self._deeper(depth)
            op = self.advance().text
            right_start = self.token
            right = self._number_operand(parse_next("a value", depth), right_start)
            node = Arith(op, self._number_operand(node, start), right)
        return node

    def factor(self, expected: str, depth: int) -> Operand:
        token = self.token
        if token.kind == "arith" and token.text == "-":
            self.advance()
            start = self.token
            inner = self.factor("a value", self._deeper(depth))
            return Negate(self._number_operand(inner, start))
        if token.kind == "lparen":
            self.advance()
            node = self.operand("a value", self._deeper(depth))
            if self.token.kind != "rparen":
                raise self.error("expected ')'")
            self.advance()
            return node
        if token.kind == "path" and token.word() not in KEYWORDS:
            return self.reference(expected)
        if expected == "a field" and token.kind not in ("string", "number"):
            raise self.error("expected a field")
        return Literal(self.value())

    def reference(self, expected: str) -> Ref:
        token = self.advance()
        head = token.segments[0]
        if not head.quoted and head.text.lower() == BASELINE and len(token.segments) > 1:
            if not self.baseline:
                raise self.error("baseline fields are only known to 'gitruns check'", token)
            rest = token.segments[1:]
            inner = Token(
                "path", token.pos + len(head.text) + 1, token.text[len(head.text) + 1 :], None, rest
            )
            return Ref(_field(inner, self), baseline=True)
        if expected == "a value" and _bare_word(token.segments):
            try:
                return Ref(_field(token, self))
            except QuerySyntaxError:
                raise self.error(f'expected a value (quote text: "{token.text}")', token) from None
        return Ref(_field(token, self))

    def _number_operand(self, operand: Operand, start: Token) -> Operand:
        """Arithmetic takes numbers, and text that reads as a number or a duration."""
        if isinstance(operand, Literal) and (
            isinstance(operand.value, bool)
            or (as_number(operand.value) is None and parse_duration_literal(operand.value) is None)
        ):
            text = value_text(operand.value)
            raise self.error(f'{text} is not a number or a duration like "5m"', start)
        return operand

    def _deeper(self, depth: int) -> int:
        if depth + 1 > MAX_ARITHMETIC_DEPTH:
            raise self.error(f"arithmetic nested deeper than {MAX_ARITHMETIC_DEPTH}")
        return depth + 1

    def field(self) -> Field:
        token = self.token
        if token.kind != "path" or token.word() in KEYWORDS:
            raise self.error("expected a field")
        self.advance()
        return _field(token, self)


def _bare_word(segments: tuple[Segment, ...]) -> bool:
    return len(segments) == 1 and not segments[0].quoted


def _balanced(kind: type[And] | type[Or], terms: list[Node]) -> Node:
    """``a and b and c and d`` as ``(a and b) and (c and d)``: the same meaning (both
    operators are associative), at a depth of log2 of the number of terms."""
    if len(terms) == 1:
        return terms[0]
    middle = (len(terms) + 1) // 2
    return kind(_balanced(kind, terms[:middle]), _balanced(kind, terms[middle:]))


def _field(token: Token, parser: _Parser) -> Field:
    head, *rest = token.segments
    # MLflow allows the entity in backquotes too: ```metric`.acc``
    namespace = None if head.quoted and not rest else _NAMESPACE_ALIASES.get(head.text.lower())
    if rest and head.text.lower() in _DATASET_ENTITIES:
        raise parser.error(
            f"gitruns has no datasets field '{token.text}' (it records input files, "
            "shown by 'gitruns show RUN')",
            token,
        )
    if namespace is None or (namespace == "attr" and not rest):
        return _attribute(head.text if not rest else token.text, token, parser)
    if not rest:
        raise parser.error(f"expected a key after '{head.text}.'", token)
    if namespace == "attr":
        if len(rest) != 1:
            raise parser.error(f"unknown attribute '{token.text}'", token)
        return _attribute(rest[0].text, token, parser)
    key = ".".join(s.text for s in rest)
    if namespace == "tags":
        return _tag(key, token, parser)
    if namespace != "metrics" or not any(s.quoted for s in rest):
        return Field(namespace, key)
    last = rest[-1]
    if len(rest) > 1 and not last.quoted and last.text in AGGREGATES:
        return Field("metrics", ".".join(s.text for s in rest[:-1]), last.text, exact=True)
    return Field("metrics", key, None, exact=True)


def _tag(key: str, token: Token, parser: _Parser) -> Field:
    """A tag, or the gitruns field an MLflow system tag stands for (``tags.mlflow.runName``
    is the run's name): a filter on it then matches what it matches in MLflow."""
    try:
        mapped = mlflow_tag_field(key)
    except KeyError as exc:
        problem = f"unknown MLflow system tag '{key}', which no run can have; {exc.args[0]}"
        raise parser.error(problem, token) from None
    return Field("tags", key) if mapped is None else Field("attr", mapped)


def _attribute(name: str, token: Token, parser: _Parser) -> Field:
    canonical = _ATTRIBUTE_ALIASES.get(name.lower(), name.lower())
    if canonical in UNSUPPORTED_ATTRIBUTES:
        what, instead = UNSUPPORTED_ATTRIBUTES[canonical]
        raise parser.error(f"'{name}' has no meaning here: {what}; {instead}", token)
    if canonical not in ATTRIBUTES:
        raise parser.error(
            f"unknown field '{name}' (use params.<key>, metrics.<key>, tags.<key>, "
            "resources.<total>, "
            f"or one of: {', '.join(ATTRIBUTES)})",
            token,
        )
    return Field("attr", canonical)
