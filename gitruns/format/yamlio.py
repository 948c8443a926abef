"""Stable, diff-friendly YAML out; safe, bounded YAML in.

Output: sorted keys, block style, one value a line, no anchors, so that two runs diff
line by line. Input may come from someone else's remote: only plain data is built (safe
loader), the text size is capped, and shared nodes (aliases, the "billion laughs" trick)
and absurdly deep or large documents are refused.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from gitruns.errors import InvalidRunError
from gitruns.format import yaml_fast, yaml_write

if TYPE_CHECKING:
    from types import ModuleType

MAX_YAML_BYTES = 8 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64


@functools.cache
def _yaml() -> tuple[ModuleType, Any, Any]:
    """PyYAML, its safe loader and the stable dumper, loaded on first need: the documents
    gitruns writes and reads mostly go through ``yaml_write``/``yaml_fast``, and importing
    PyYAML costs about 15 ms (``gitruns record`` of a short command never needs it)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class _StableDumper(base):  # type: ignore[misc,valid-type]
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml, loader, _StableDumper


def __getattr__(name: str) -> Any:  # ``_Loader``, as tests read it
    if name == "_Loader":
        return _yaml()[1]
    raise AttributeError(name)


def dump(data: Any) -> bytes:
    """Serialise ``data`` as stable block-style YAML (UTF-8)."""
    fast = yaml_write.dump(data)  # the same bytes, 5-10x sooner, when it is sure of them
    if fast is not None:
        return fast
    by_key = yaml_write.dump_by_key(data, _pyyaml_entry)  # PyYAML for the unsure entries
    if by_key is not None:
        return by_key
    return pyyaml_dump(data)


_ENTRIES: dict[tuple[str, str], str] = {}  # (key, repr(value)) -> PyYAML's text of it
_ENTRIES_MAX = 64


def _pyyaml_entry(key: str, value: Any) -> str:
    """PyYAML's text of ``{key: value}``, remembered: a process writes the same command
    line into every run it records. ``repr`` tells plain values apart exactly (1, 1.0 and
    True, -0.0 and 0.0); anything else PyYAML's safe dumper refuses anyway."""
    known = (key, repr(value))
    text = _ENTRIES.get(known)
    if text is None:
        text = pyyaml_dump({key: value}).decode("utf-8")
        if len(_ENTRIES) >= _ENTRIES_MAX:
            _ENTRIES.clear()
        _ENTRIES[known] = text
    return text


def pyyaml_dump(data: Any) -> bytes:
    """``dump`` by PyYAML alone (what the fast writer is checked against)."""
    yaml, _loader, dumper = _yaml()
    text: str = yaml.dump(
        data,
        Dumper=dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
    return text.encode("utf-8")


def dump_ascii(data: Any) -> str:
    """``dump`` with every non-ASCII or control character written as a YAML escape."""
    yaml, _loader, dumper = _yaml()
    return str(
        yaml.dump(
            data,
            Dumper=dumper,
            sort_keys=True,
            default_flow_style=False,
            allow_unicode=False,
            width=1_000_000,
        )
    )


def load(
    raw: bytes, where: str, *, max_bytes: int = MAX_YAML_BYTES, max_nodes: int = MAX_NODES
) -> Any:
    """Parse untrusted YAML; raise InvalidRunError naming ``where`` when it is unsafe."""
    if len(raw) > max_bytes:
        raise InvalidRunError(
            f"{where} is {len(raw)} bytes, over the {max_bytes} byte limit",
            "the run is not valid; remove or repair it",
        )
    data = yaml_fast.parse(raw)  # the YAML gitruns writes, read 5-10x faster
    if data is not yaml_fast.UNSURE:
        # It builds fresh containers with string keys, nested at most yaml_fast.MAX_DEPTH
        # (< MAX_DEPTH); a line holds one scalar or "key:" and a container per "- ": only
        # a document that may pass the node budget needs the walk. That is at most
        # 2.5 nodes a byte, so short texts need no counting either.
        count = 3 * len(raw) + 3 > max_nodes
        if count and 2 * (raw.count(b"\n") + 1) + raw.count(b"- ") + 1 > max_nodes:
            _check_plain_tree(data, where, max_nodes)
        return data
    yaml, loader, _dumper = _yaml()
    try:
        data = yaml.load(raw, Loader=loader)
    except yaml.YAMLError as exc:
        raise InvalidRunError(
            f"{where} is not valid YAML ({exc})", "repair or remove the run"
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. an int of more digits than Python reads
        raise InvalidRunError(
            f"{where} cannot be read ({exc})", "repair or remove the run"
        ) from None
    _check_plain_tree(data, where, max_nodes)
    return data


def _check_plain_tree(data: Any, where: str, max_nodes: int) -> None:
    seen: set[int] = set()
    budget = max_nodes
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > MAX_DEPTH:
            raise InvalidRunError(
                f"{where} is too large or too deeply nested", "repair or remove the run"
            )
        if isinstance(node, dict | list):
            if id(node) in seen:
                raise InvalidRunError(
                    f"{where} uses YAML aliases (shared nodes)", "gitruns never writes them"
                )
            seen.add(id(node))
            children = node.values() if isinstance(node, dict) else node
            if isinstance(node, dict) and not all(isinstance(k, str) for k in node):
                raise InvalidRunError(f"{where} has a non-string key", "repair or remove the run")
            stack.extend((child, depth + 1) for child in children)


def parse_scalar(text: str) -> Any:
    """A command-line value typed as YAML would: ``0.01`` float, ``true`` bool, ``[1, 2]``
    list, anything unparsable or date-like stays the string it was."""
    value = _fast_scalar(text)
    if value is yaml_fast.UNSURE:
        return pyyaml_scalar(text)
    return _typed_scalar(text, value)


def _fast_scalar(text: str) -> Any:
    """``text`` as a one-line YAML value, read by ``yaml_fast`` (as the value of a one-key
    mapping: a plain or single-quoted scalar resolves the same there as alone), or UNSURE:
    ``gitruns record -p lr=0.01`` then needs no PyYAML."""
    if not text or text != text.strip() or not text.isprintable():
        return yaml_fast.UNSURE
    if text.startswith(("--- ", "... ")):  # alone, a document marker: "--- 1" is 1
        return yaml_fast.UNSURE
    try:
        found = yaml_fast.parse(b"v: " + text.encode("utf-8"))
    except UnicodeEncodeError:
        return yaml_fast.UNSURE
    if isinstance(found, dict) and list(found) == ["v"]:
        return found["v"]
    return yaml_fast.UNSURE


def pyyaml_scalar(text: str) -> Any:
    """``parse_scalar`` by PyYAML alone (what the fast reading is checked against)."""
    yaml, loader, _dumper = _yaml()
    try:
        value = yaml.load(text, Loader=loader)
    except yaml.YAMLError:
        return text
    return _typed_scalar(text, value)


def _typed_scalar(text: str, value: Any) -> Any:
    if value is None and text.strip() not in ("null", "~", "None", "none"):
        return text
    if isinstance(value, str | bool | int | float | list | dict) or value is None:
        return value
    return text  # dates and other YAML types stay text
