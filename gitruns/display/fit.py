"""Text that fits the terminal: the width to use, and cutting lines and columns to it.

Every text output of the CLI fits ``COLUMNS`` (the terminal's width; 80 when there is no
terminal and ``COLUMNS`` is unset). Long content is cut with an ellipsis, never wrapped:
a wrapped table is harder to read than a shortened one, and ``--format json``/``csv``
always hold everything. Widths are display widths: East Asian wide characters take two
columns, combining marks none.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Sequence

from gitruns.display.safe_text import printable

ELLIPSIS = "…"
DEFAULT_WIDTH = 80
MIN_COLUMN = 4
SOFT_COLUMN = 12
SOFT_PROTECTED = 24


def terminal_width() -> int:
    """``COLUMNS`` if set, else the terminal's width, else 80 (output piped to a file)."""
    return max(shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns, 20)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns: cut with '…' when longer."""
    if display_width(text) <= width:
        return text
    if width <= 0:
        return ""
    kept, used = [], 0
    for char in text:
        size = _char_width(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + ELLIPSIS


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` cut to ``width`` and padded with spaces to exactly that many columns."""
    shown = cut(text, width)
    space = " " * (width - display_width(shown))
    return space + shown if right else shown + space


def fit_lines(text: str, width: int) -> str:
    """Every line of ``text`` cut to ``width`` columns (a trailing newline is kept)."""
    ending = "\n" if text.endswith("\n") else ""
    lines = text[: len(text) - len(ending)].split("\n")
    return "\n".join(cut(line, width) for line in lines) + ending


def column_widths(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    gap: int = 2,
    indent: int = 0,
    protect: Sequence[int] = (),
) -> list[int]:
    """Widths for a table no wider than ``width``. Columns give way widest first, in
    three rounds: the others down to ``SOFT_COLUMN``, then the ``protect``ed ones (the
    names of the rows) down to ``SOFT_PROTECTED``, then any column down to
    ``MIN_COLUMN``. A table that cannot fit even then is cut line by line by the caller."""
    widths = [
        max([display_width(h), *(display_width(r[i]) for r in rows if i < len(r))])
        for i, h in enumerate(headers)
    ]
    budget = width - indent - gap * (len(widths) - 1)
    others = [i for i in range(len(widths)) if i not in protect]
    for columns, floor in (
        (others, SOFT_COLUMN),
        (list(protect), SOFT_PROTECTED),
        (list(range(len(widths))), MIN_COLUMN),
    ):
        while sum(widths) > budget:
            open_ = [i for i in columns if i < len(widths) and widths[i] > floor]
            if not open_:
                break
            widths[max(open_, key=lambda i: widths[i])] -= 1
    return widths


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    right: Sequence[bool] = (),
    rule: bool = True,
    indent: int = 0,
    gap: int = 2,
    protect: Sequence[int] = (),
    subheader: Sequence[str] | None = None,
) -> list[str]:
    """A plain table in ``width`` columns: header (and ``subheader``), a rule of dashes,
    rows; cells cut with '…' where a column had to give way. ``right`` marks
    right-aligned (numeric) columns; ``protect``ed columns give way last. Control
    characters in any cell are shown as escapes (run data may come from a hostile remote)."""
    headers = [printable(h) for h in headers]
    rows = [[printable(c) for c in row] for row in rows]
    if subheader is not None:
        subheader = [printable(c) for c in subheader]
    sized = [*rows, subheader] if subheader is not None else rows
    widths = column_widths(headers, sized, width, gap, indent, protect)
    align = [i < len(right) and right[i] for i in range(len(widths))]
    lead, sep = " " * indent, " " * gap

    def line(cells: Sequence[str]) -> str:
        parts = [pad(cells[i] if i < len(cells) else "", w, align[i]) for i, w in enumerate(widths)]
        return cut((lead + sep.join(parts)).rstrip(), width)

    lines = [line(headers)]
    if subheader is not None:
        lines.append(line(subheader))
    if rule:
        lines.append(cut(lead + sep.join("-" * w for w in widths), width))
    lines += [line(row) for row in rows]
    return lines
