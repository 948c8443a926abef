"""Scrub secrets out of a run's captured output before it is committed.

A script that prints its arguments (``print(args)``) or its config puts every secret it was
given into ``logs/stdout.txt``. Redacting names is not enough there: the values themselves
must go. So every value that gitruns redacts anywhere (a secret-named environment variable,
a secret flag on the command line, a secret key in a config file, a Hydra config or an API
param) is remembered, and at finalisation each of them, and every well-known token shape
(:func:`gitruns.capture.secrets.redact_value`), is replaced by ``[REDACTED]`` in the logs
and in the run's recorded error.

The values are remembered in ``redacted-values.jsonl`` (mode 0600) inside the writing
process's own staging folder, under the repository's ``.git``: a process that joins the run
(the script under ``gitruns record``) learns secrets the recorder never sees, and a recorder
killed mid-run still has its output scrubbed by whoever finalises the run. The staging
folder is removed once the run is committed; these files never enter the run's tree.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitruns.capture.secrets import (
    REDACTED,
    URL_PASSWORD_MASK,
    is_secret_name,
    redact_auth,
    redact_env,
    redact_tokens,
    redact_urls,
    redact_value,
)

SECRETS_FILE = "redacted-values.jsonl"
# Shorter values, booleans and small numbers would erase ordinary output ("1", "true",
# a port number) while protecting nothing that a guess would not find.
MIN_SCRUB_LENGTH = 4
_TOO_PLAIN = frozenset({"true", "false", "none", "null", "yes", "no", "on", "off"})
_PLAIN_WORD = re.compile(r"[a-z]{1,7}")
_MARKERS = re.compile(re.escape(REDACTED) + "|" + re.escape(URL_PASSWORD_MASK))


def worth_scrubbing(value: str) -> bool:
    """False for values too short or too plain to scrub from text without harm."""
    text = value.strip()
    if len(text) < MIN_SCRUB_LENGTH or text.lower() in _TOO_PLAIN:
        return False
    if text in (REDACTED, URL_PASSWORD_MASK):
        return False
    return not (text.isdigit() and len(text) < 6)


def secret_parts(original: str, redacted: str) -> list[str]:
    """The pieces of ``original`` that redaction replaced by a marker.

    ``("--api-key=abc", "--api-key=[REDACTED]")`` -> ``["abc"]``;
    ``("https://u:pw@h", "https://u:***@h")`` -> ``["pw"]``.
    """
    if original == redacted:
        return []
    pieces = _MARKERS.split(redacted)
    pattern = "(.+?)".join(re.escape(piece) for piece in pieces)
    match = re.fullmatch(pattern, original, re.S)
    if match is None:  # the redactor changed more than its markers: keep the whole value
        return [original]
    return [group for group in match.groups() if group]


def learn(original: Any, redacted: Any) -> list[str]:
    """Every secret string in ``original`` that ``redacted`` (its redacted copy) hides,
    walking mappings and lists in parallel."""
    if isinstance(original, Mapping) and isinstance(redacted, Mapping):
        found: list[str] = []
        for key, value in original.items():
            found += learn(value, redacted.get(key))
        return found
    if isinstance(original, list) and isinstance(redacted, list):
        return [s for pair in zip(original, redacted, strict=False) for s in learn(*pair)]
    if isinstance(original, str) and isinstance(redacted, str):
        return secret_parts(original, redacted)
    if redacted == REDACTED and original is not None and not isinstance(original, bool):
        return [str(original)]
    return []


def env_secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of every secret-named variable in ``env`` (all of it, not only the allow-list
    that is recorded: a script can print any of them), and credentials inside the others."""
    everything = redact_env(env, allow=("*",))
    found: list[str] = []
    for name, value in env.items():
        if is_secret_name(name):
            # A secret-named variable may hold a setting (AUTH_MODE=local): a short plain
            # word would erase that word from the whole log, so it is left alone.
            if not _PLAIN_WORD.fullmatch(value):
                found.append(value)
        else:
            found += secret_parts(value, everything.get(name, value))
    return found


def remember(folder: Path, values: Iterable[str]) -> None:
    """Append the secrets worth scrubbing to ``folder``'s private list (see module doc)."""
    kept = sorted({v for v in values if worth_scrubbing(v)})
    if not kept:
        return
    data = "".join(json.dumps(value) + "\n" for value in kept).encode("utf-8", "surrogatepass")
    fd = os.open(folder / SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def remember_recorded_secrets(
    folder: Path, command: list[str], argv: list[str], by_source: list[tuple[str, Any]]
) -> None:
    """What ``record`` must scrub the output of: secret env values, argv secrets (``argv``
    is ``command`` redacted), and the secrets of every param source, also those that lose
    to a higher-precedence one."""
    from gitruns.capture.secrets import redact_params

    found = env_secret_values(os.environ) + learn(command, argv)
    for _source, values in by_source:
        found += learn(values, redact_params(values))
    remember(folder, found)


def known_values(folders: Iterable[Path]) -> list[str]:
    """Every value remembered in any of ``folders`` (a half-written last line is skipped)."""
    values: set[str] = set()
    for folder in folders:
        try:
            raw = (folder / SECRETS_FILE).read_bytes()
        except OSError:
            continue
        for line in raw.decode("utf-8", "surrogatepass").splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, str) and worth_scrubbing(value):
                values.add(value)
    return sorted(values)


# For each part of redact_value, substrings without which it cannot match (with the case
# variants of case-insensitive ones). Python's regular expressions scan megabytes slowly
# (a second for 2 MiB of log), while str.find runs at memory speed: a line goes through an
# expression only when it holds one of that expression's triggers.
_TRIGGERS: tuple[tuple[Callable[[str], str], tuple[str, ...]], ...] = (
    (redact_auth, ("uthorization", "UTHORIZATION", "earer", "EARER")),
    (redact_urls, ("://", "?", "&", ";")),
    (redact_tokens, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "sk-", "hf_",
                     "AKIA", "ASIA", "xox", "glpat-", "eyJ")),
)  # fmt: skip


def redact_bulk(text: str) -> str:
    """:func:`redact_value` for long text such as a log, line by line where it can matter."""
    if "PRIVATE KEY-----" in text:
        return redact_value(text)  # a PEM block spans lines: the slow, whole-text way
    lines: dict[int, set[Callable[[str], str]]] = {}
    for redact, triggers in _TRIGGERS:
        for trigger in triggers:
            position = text.find(trigger)
            while position != -1:
                lines.setdefault(text.rfind("\n", 0, position) + 1, set()).add(redact)
                line_end = text.find("\n", position)
                position = -1 if line_end == -1 else text.find(trigger, line_end)
    pieces: list[str] = []
    done = 0
    for start in sorted(lines):
        end = text.find("\n", start)
        end = len(text) if end == -1 else end
        line = text[start:end]
        for redact, _triggers in _TRIGGERS:  # always in redact_value's order
            if redact in lines[start]:
                line = redact(line)
        pieces += [text[done:start], line]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


class Scrubber:
    """Replaces known secret values and token shapes in text."""

    def __init__(self, values: Sequence[str]) -> None:
        self._known = sorted({v for v in values if worth_scrubbing(v)}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self._known:  # longest first: a secret that contains another goes whole
            text = text.replace(value, REDACTED)
        return redact_bulk(text)

    def data(self, data: bytes) -> bytes:
        """Bytes as they were, but for the secrets (binary output survives untouched)."""
        text = data.decode("utf-8", "surrogateescape")
        return self.text(text).encode("utf-8", "surrogateescape")

    def file(self, path: Path) -> None:
        """Scrub ``path`` in place (through a temporary file and a rename)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        cleaned = self.data(data)
        if cleaned != data:
            tmp = path.with_name(path.name + ".scrub")
            tmp.write_bytes(cleaned)
            tmp.replace(path)

    def logs(self, folder: Path) -> None:
        """Scrub every ``*.txt`` log in ``folder`` (stdout.txt, stderr.txt)."""
        if folder.is_dir():
            for path in sorted(folder.glob("*.txt")):
                self.file(path)
