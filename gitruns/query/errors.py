"""Errors of the filter language: they point at the column where parsing failed."""

from __future__ import annotations

from gitruns.errors import InvalidInputError


class QuerySyntaxError(InvalidInputError):
    """A filter, sort key or column that does not parse; ``column`` is 1-based."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text = text
        self.column = position + 1
        self.problem = problem
        caret = " " * position + "^"
        super().__init__(f"syntax error at column {self.column}: {problem}\n  {text}\n  {caret}")
