"""Parameters from outside the program: its own command-line flags, and config files.

Rules for the command line (:func:`parse_argv`), chosen to guess as little as possible:

- The interpreter and script are skipped: ``python [opts] train.py ARGS``, ``python -m pkg
  ARGS``, ``bash run.sh ARGS``, and launchers before a ``*.py`` script (``torchrun ...
  train.py ARGS``); any other program's arguments start right after its name.
- ``--name value``, ``--name=value``, ``-x value``: ``{name: value}``. A flag followed by
  another flag (or nothing) is ``True``. Names are kept as written, without the leading
  dashes (``--learning-rate`` -> ``learning-rate``); ``--no-cuda`` stays ``no-cuda: True``
  (whether it negates ``cuda`` is the program's business).
- Only the next word is a flag's value: ``--layers 1 2 3`` gives ``layers: 1`` (2 and 3 are
  positional). A repeated flag gives a list of its values.
- ``key=value`` words (Hydra overrides; ``+key``/``++key`` too) are params; dots nest them:
  ``model.lr=0.1`` -> ``{model: {lr: 0.1}}``, as do dotted flags. Hydra's own settings
  (``hydra.run.dir=...``, ``hydra/launcher=...``) are not params. Other positional words
  and everything after ``--`` are ignored.
- Values are typed: ints, floats, ``true``/``false``, ``null``/``none``, ``[a, b]`` lists
  (of typed items); anything else, and a value in quotes, is a string.
- Secret-looking values are redacted first (:func:`gitruns.capture.secrets.redact_argv`):
  ``--password x`` gives ``password: "[REDACTED]"``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from gitruns.capture.secrets import REDACTED, redact_argv
from gitruns.errors import InvalidInputError
from gitruns.format.validation import check_name_key

MAX_CONFIG_BYTES = 8 * 1024 * 1024

_PYTHON = re.compile(r"^(?:python|pypy)[0-9.]*(?:w|\.exe)?$")
_SHELL = re.compile(r"^(?:ba|z|k|da)?sh$")
# Interpreter options that consume the next word.
_PYTHON_OPTS_WITH_VALUE = {"-W", "-X", "--check-hash-based-pycs"}
_SHELL_OPTS_WITH_VALUE = {"-o", "-O", "--rcfile", "--init-file"}
_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)"
)
_NUMBER = re.compile(r"-(?:[0-9]|\.[0-9])")
_OVERRIDE = re.compile(r"^(?:\+\+|\+)?(?P<key>[A-Za-z_][A-Za-z0-9_.\-/@]*)=(?P<value>.*)$", re.S)


def program_args(argv: list[str]) -> list[str]:
    """The words of ``argv`` that belong to the program itself (see the module docstring)."""
    if not argv:
        return []
    name = os.path.basename(argv[0])
    if _PYTHON.match(name):
        return _after_python(argv[1:])
    if _SHELL.match(name):
        return _after_script(argv[1:], _SHELL_OPTS_WITH_VALUE, stop={"-c"})
    for i, word in enumerate(argv[1:], start=1):
        if word.endswith(".py") and not word.startswith("-"):
            return argv[i + 1 :]
        if _PYTHON.match(os.path.basename(word)):  # uv run python ..., conda run python ...
            return _after_python(argv[i + 1 :])
    return argv[1:]


def _after_python(args: list[str]) -> list[str]:
    i = 0
    while i < len(args):
        word = args[i]
        if word in ("-m", "-c"):
            return args[i + 2 :]
        if word.startswith(("-m", "-c")) and not word.startswith("--"):
            return args[i + 1 :]
        if word == "-" or not word.startswith("-"):
            return args[i + 1 :]
        i += 2 if word in _PYTHON_OPTS_WITH_VALUE else 1
    return []


def _after_script(args: list[str], with_value: set[str], stop: set[str]) -> list[str]:
    i = 0
    while i < len(args):
        word = args[i]
        if word in stop:
            return []  # inline code: the words after it are $0, $1..., not flags
        if not word.startswith(("-", "+")):
            return args[i + 1 :]
        i += 2 if word in with_value else 1
    return []


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"1e-3"`` -> 0.001, ``"true"`` -> True, ``"null"`` -> None,
    ``"[1,a]"`` -> [1, "a"], ``"'3'"`` -> "3"; anything else stays a string."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none", "~"):
        return None
    if _INT.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        return float(stripped)
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        return stripped[1:-1]
    if stripped.startswith("[") and stripped.endswith("]") and stripped != REDACTED:
        return [parse_value(item.strip()) for item in _split_items(stripped[1:-1])]
    return text


def _split_items(body: str) -> list[str]:
    """Split a list body on top-level commas (not inside brackets or quotes)."""
    if not body.strip():
        return []
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(body):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    return items


def _is_flag(word: str) -> bool:
    return word.startswith("-") and len(word) > 1 and not _NUMBER.match(word)


def parse_argv(argv: list[str]) -> dict[str, Any]:
    """The program's own flags and ``key=value`` overrides as nested, typed params.

    ``argv`` is the full command (``["python", "train.py", "--lr", "0.01"]``).
    """
    found: dict[str, list[Any]] = {}
    # Redacted here too, not only by the caller: params are written to git.
    for name, value in _flag_values(redact_argv(program_args(argv))):
        found.setdefault(name, []).append(value)
    params: dict[str, Any] = {}
    for name, values in found.items():
        _store(params, name, values[0] if len(values) == 1 else values)
    return params


def _flag_values(args: list[str]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            break
        if _is_flag(word):
            name, eq, raw = word.lstrip("-").partition("=")
            if eq:
                pairs.append((name, parse_value(raw)))
            elif i < len(args) and not _is_flag(args[i]) and args[i] != "--":
                pairs.append((name, parse_value(args[i])))
                i += 1
            else:
                pairs.append((name, True))
        elif override := _OVERRIDE.match(word):
            pairs.append((override["key"], parse_value(override["value"])))
    return [
        (name, _printable(value))
        for name, value in pairs
        if _usable_name(name) and not name.startswith(("hydra.", "hydra/"))
    ]


def _usable_name(name: str) -> bool:
    """Names a param can have (the run store refuses the rest): a malformed argv word is
    skipped rather than allowed to fail the whole recording."""
    try:
        for part in name.split("."):
            if part:
                check_name_key(part, "param key")
    except InvalidInputError:
        return False
    return bool(name.strip(". "))


def _printable(value: Any) -> Any:
    """Strings as valid UTF-8 without NUL (argv may hold undecodable bytes)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


def _store(params: dict[str, Any], name: str, value: Any) -> None:
    """Put ``value`` at the dotted ``name``. A name that clashes with a value already on its
    path is kept flat (``"a.b"``) rather than dropped."""
    parts = [part for part in name.split(".") if part] or [name]
    target = params
    for part in parts[:-1]:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            params[name] = value
            return
        target = child
    if parts[-1] in target:
        params[name] = value
    else:
        target[parts[-1]] = value


def load_config_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML (safe loader), JSON or TOML file, chosen by its suffix (YAML
    when unknown). Dates become ISO strings; non-string keys become strings.

    Raises:
        InvalidInputError: the file is missing, unreadable, too large, malformed, or does not
            hold a mapping at the top.
    """
    raw = _read_config(path)
    kind = {".json": "JSON", ".toml": "TOML"}.get(path.suffix.lower(), "YAML")
    try:
        if kind == "JSON":
            data = json.loads(raw)
        elif kind == "TOML":
            import tomllib  # only for a TOML config

            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = _load_yaml(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_config(path, f"is not valid {kind} ({exc})") from exc
    if not isinstance(data, dict):
        raise _bad_config(path, f"holds a {type(data).__name__}, not a mapping of parameters")
    return {str(key): _plain(value) for key, value in data.items()}


def _read_config(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise _bad_config(path, f"is {size} bytes, over the {MAX_CONFIG_BYTES} byte limit")
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read config file {path} ({exc.strerror or exc})",
            "check the path given to --config",
        ) from exc


def _load_yaml(raw: bytes) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(raw, Loader=loader)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).replace("\n", " ")) from exc


def _bad_config(path: Path, what: str) -> InvalidInputError:
    return InvalidInputError(f"config file {path} {what}", "fix the file or pass another one")


def _plain(value: Any) -> Any:
    """Plain data only: dates as ISO strings, keys as strings (params are YAML and JSON)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    # a date comes from a module that made it (PyYAML, json hooks): not imported for it here,
    # as `record` imports this module before its command starts (1-1.5 ms)
    dates = sys.modules.get("datetime")
    if dates is not None and isinstance(value, dates.datetime | dates.date | dates.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
