"""Parse filter expressions, sort keys and column names into syntax trees.

Grammar (keywords are case-insensitive)::

    expr      := and_expr ("or" and_expr)*
    and_expr  := unary ("and" unary)*
    unary     := "not" unary | "(" expr ")" | predicate
    predicate := field op value
               | field ["not"] "in" "(" value ("," value)* ")"
               | field ["not"] ("like" | "ilike") string
               | field "is" ["not"] "null"
"""

from __future__ import annotations

from gitruns.query.ast import (
    AGGREGATES,
    ATTRIBUTES,
    And,
    Compare,
    Field,
    In,
    IsNull,
    Like,
    Node,
    Not,
    Or,
    Value,
)
from gitruns.query.errors import QuerySyntaxError
from gitruns.query.lexer import Token, tokenize

_NAMESPACE_ALIASES = {
    "params": "params",
    "param": "params",
    "metrics": "metrics",
    "metric": "metrics",
    "tags": "tags",
    "tag": "tags",
    "resources": "resources",
    "resource": "resources",
    "attributes": "attr",
    "attribute": "attr",
    "attr": "attr",
}
# MLflow's attribute names, so that MLflow filters work unchanged.
_ATTRIBUTE_ALIASES = {
    "run_id": "id",
    "run_name": "name",
    "user_id": "user",
    "created": "start_time",
    "git_commit": "commit",
}
_OPERATOR_ALIASES = {"==": "=", "<>": "!="}
# Parentheses and ``not`` nest by recursion (here and wherever a tree is walked): a cap
# keeps a crafted filter from exhausting Python's stack. Flat chains of ``and``/``or``
# are not nesting: they become balanced trees, so 100,000 terms are only 17 deep.
MAX_NESTING = 100
KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"}


def parse(text: str) -> Node:
    """Parse a filter expression; raise QuerySyntaxError pointing at the problem."""
    parser = _Parser(text)
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
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
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
        if self.token.kind == "lparen" or self.token.word() == "not":
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
        field = self.field()
        token = self.token
        if token.kind == "op":
            self.advance()
            return Compare(field, _OPERATOR_ALIASES.get(token.text, token.text), self.value())
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

    def field(self) -> Field:
        token = self.token
        if token.kind != "path" or token.word() in KEYWORDS:
            raise self.error("expected a field")
        self.advance()
        return _field(token, self)


def _balanced(kind: type[And] | type[Or], terms: list[Node]) -> Node:
    """``a and b and c and d`` as ``(a and b) and (c and d)``: the same meaning (both
    operators are associative), at a depth of log2 of the number of terms."""
    if len(terms) == 1:
        return terms[0]
    middle = (len(terms) + 1) // 2
    return kind(_balanced(kind, terms[:middle]), _balanced(kind, terms[middle:]))


def _field(token: Token, parser: _Parser) -> Field:
    head, *rest = token.segments
    namespace = None if head.quoted else _NAMESPACE_ALIASES.get(head.text.lower())
    if namespace is None or (namespace == "attr" and not rest):
        return _attribute(head.text if not rest else token.text, token, parser)
    if not rest:
        raise parser.error(f"expected a key after '{head.text}.'", token)
    if namespace == "attr":
        if len(rest) != 1:
            raise parser.error(f"unknown attribute '{token.text}'", token)
        return _attribute(rest[0].text, token, parser)
    key = ".".join(s.text for s in rest)
    if namespace != "metrics" or not any(s.quoted for s in rest):
        return Field(namespace, key)
    last = rest[-1]
    if len(rest) > 1 and not last.quoted and last.text in AGGREGATES:
        return Field("metrics", ".".join(s.text for s in rest[:-1]), last.text, exact=True)
    return Field("metrics", key, None, exact=True)


def _attribute(name: str, token: Token, parser: _Parser) -> Field:
    canonical = _ATTRIBUTE_ALIASES.get(name.lower(), name.lower())
    if canonical not in ATTRIBUTES:
        raise parser.error(
            f"unknown field '{name}' (use params.<key>, metrics.<key>, tags.<key>, "
            "resources.<total>, "
            f"or one of: {', '.join(ATTRIBUTES)})",
            token,
        )
    return Field("attr", canonical)
