"""Split a filter expression into tokens, each with the position it starts at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitruns.query.errors import QuerySyntaxError

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_FIRST_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[A-Za-z0-9_/\-]+")
_OPERATORS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")
_PUNCTUATION = {"(": "lparen", ")": "rparen", ",": "comma"}
# After one of these a ``-`` is subtraction (``a - 1``, ``a -1``); elsewhere it starts a
# negative number (``= -1``, ``(-1, 2)``) or negates what follows (``-metrics.a``).
_OPERANDS = ("path", "number", "string", "rparen")


@dataclass(frozen=True)
class Segment:
    text: str
    quoted: bool


@dataclass(frozen=True)
class Token:
    kind: str  # path, string, number, op, arith, lparen, rparen, comma, end
    pos: int
    text: str = ""
    value: str | int | float | None = None
    segments: tuple[Segment, ...] = ()

    def word(self) -> str | None:
        """The lower-cased keyword this token could be (an unquoted one-segment path)."""
        if self.kind == "path" and len(self.segments) == 1 and not self.segments[0].quoted:
            return self.segments[0].text.lower()
        return None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[char], pos, char))
            pos += 1
        elif char in "\"'":
            value, end = _string(text, pos)
            tokens.append(Token("string", pos, text[pos:end], value))
            pos = end
        elif char in "0123456789" or (
            char in "-." and _NUMBER.match(text, pos) and not _after_operand(tokens, char)
        ):
            pos = _number(text, pos, tokens)
        elif char in "+-*/":
            tokens.append(Token("arith", pos, char))
            pos += 1
        elif char in "=!<>":
            op = next((o for o in _OPERATORS if text.startswith(o, pos)), None)
            if op is None:
                raise QuerySyntaxError(text, pos, f"unexpected '{char}'")
            tokens.append(Token("op", pos, op))
            pos += len(op)
        elif char == "`" or _FIRST_SEGMENT.match(text, pos):
            pos = _path(text, pos, tokens)
        else:
            raise QuerySyntaxError(text, pos, f"unexpected '{char}'")
    tokens.append(Token("end", len(text)))
    return tokens


def _after_operand(tokens: list[Token], char: str) -> bool:
    return char == "-" and bool(tokens) and tokens[-1].kind in _OPERANDS


def _number(text: str, pos: int, tokens: list[Token]) -> int:
    match = _NUMBER.match(text, pos)
    assert match is not None
    raw = match.group()
    is_float = any(c in raw for c in ".eE")
    tokens.append(Token("number", pos, raw, float(raw) if is_float else int(raw)))
    return match.end()


def _string(text: str, start: int) -> tuple[str, int]:
    """A quoted string; a backslash takes the next character literally."""
    quote = text[start]
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
        elif char == quote:
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise QuerySyntaxError(text, start, "unterminated string")


def _path(text: str, start: int, tokens: list[Token]) -> int:
    """``name``, ``params.a.b``, ``metrics.`odd key`.min``: dot-separated segments. After
    a dot a key may also be in single or double quotes (``params."a b"``), as in MLflow."""
    segments: list[Segment] = []
    pos = start
    pattern = _FIRST_SEGMENT
    while True:
        if pos < len(text) and text[pos] == "`":
            value, pos = _backquoted(text, pos)
            segments.append(Segment(value, True))
        elif segments and pos < len(text) and text[pos] in "\"'":
            # MLflow quotes odd keys after the dot: ``params."my param"``, ``metrics.'X-Y'``
            value, pos = _string(text, pos)
            segments.append(Segment(value, True))
        else:
            match = pattern.match(text, pos)
            if match is None:
                raise QuerySyntaxError(text, pos, "expected a key after '.'")
            segments.append(Segment(match.group(), False))
            pos = match.end()
        pattern = _SEGMENT
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        break
    tokens.append(Token("path", start, text[start:pos], None, tuple(segments)))
    return pos


def _backquoted(text: str, start: int) -> tuple[str, int]:
    """A backquoted key; a doubled backquote stands for one."""
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        if text[pos] == "`":
            if text.startswith("``", pos):
                out.append("`")
                pos += 2
                continue
            return "".join(out), pos + 1
        out.append(text[pos])
        pos += 1
    raise QuerySyntaxError(text, start, "unterminated backquoted key")
