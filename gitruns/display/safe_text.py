"""Text from run data made safe for a terminal: the one sanitiser of every text output.

Run data is untrusted (a fetched run can hold anything), and a terminal obeys what it is
sent: ``ESC ] 52`` writes the clipboard, ``ESC ] 8`` makes links, ``ESC ] 0`` sets the
title, ``ESC [ 2 J`` clears the screen, C1 controls (U+0080-U+009F) do the same on some
terminals, and bidi overrides (U+202E ...) make text read differently from what it is.

``printable`` shows each such character as a visible escape (``\\x1b``, ``\\u202e``) so a
reader sees that something odd is there. It is applied where values become text: to each
table cell and header (gitruns.render), to each line of a page (``show``, ``diff``), to
each line the CLI prints itself, and to error messages. JSON output needs none of it:
``json.dumps`` escapes every control and non-ASCII character.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL; the bidi embeddings, overrides, isolates and marks; the
# Unicode line and paragraph separators (some terminals and editors break lines there).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: object, keep: str = "") -> str:
    """``text`` (``str()`` of it) with every control and bidi character but those in
    ``keep`` (``"\\n"`` for a page whose lines are meant) written as a visible escape."""
    value = text if isinstance(text, str) else str(text)
    if _UNSAFE.search(value) is None:  # the common case: nothing to do
        return value
    return _UNSAFE.sub(lambda match: _escape(match.group(), keep), value)


def _escape(char: str, keep: str) -> str:
    if char in keep:
        return char
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def is_printable(text: str) -> bool:
    """True when ``printable`` would leave ``text`` as it is."""
    return _UNSAFE.search(text) is None
