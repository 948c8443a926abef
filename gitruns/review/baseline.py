"""The baseline a branch's runs are compared with: ``latest``, ``best FIELD``, ``min FIELD``
or a run named by id, prefix, suffix or name.

``latest`` and ``best``/``min`` choose among the base side's FINISHED runs (a failed or
crashed run's metrics stop where it stopped); a named run is taken wherever it is, local or
fetched, since the user chose it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gitruns.errors import AmbiguousRunError, InvalidInputError, RunNotFoundError
from gitruns.query import Field, getter, parse_field
from gitruns.query.cache import CachedRun
from gitruns.query.values import as_number

DEFAULT_RULE = "latest"
_HIGHEST = {"best": True, "max": True, "min": False}


@dataclass(frozen=True)
class BaselineRule:
    """How to choose the baseline: ``kind`` is ``latest``, ``extreme`` or ``run``."""

    text: str
    kind: str
    field: Field | None = None
    highest: bool = True

    def describe(self) -> str:
        if self.kind == "latest":
            return "the latest finished run on the base"
        if self.kind == "extreme":
            assert self.field is not None
            which = "highest" if self.highest else "lowest"
            return f"the finished run on the base with the {which} {self.field.to_text()}"
        return f"run {self.text}"


def parse_baseline(text: str | None) -> BaselineRule:
    """``latest``; ``best metrics.acc`` or ``max metrics.acc`` (highest); ``min
    metrics.loss`` (lowest); anything else names a run."""
    body = (text or DEFAULT_RULE).strip()
    if not body:
        raise InvalidInputError("an empty --baseline", "give latest, 'best FIELD' or a run")
    if body.lower() == "latest":
        return BaselineRule(body, "latest")
    word, _, rest = body.partition(" ")
    if word.lower() in _HIGHEST and rest.strip():
        return BaselineRule(body, "extreme", parse_field(rest.strip()), _HIGHEST[word.lower()])
    return BaselineRule(body, "run")


def choose_baseline(
    rule: BaselineRule, base_rows: Sequence[CachedRun], all_rows: Sequence[CachedRun]
) -> CachedRun | None:
    """The baseline run under ``rule``, or None when the base side has none to offer."""
    if rule.kind == "run":
        return find_row(all_rows, rule.text)
    finished = [row for row in base_rows if row.status == "FINISHED"]
    if rule.kind == "latest":
        return max(finished, key=_newest, default=None)
    assert rule.field is not None
    get = getter(rule.field)
    scored = []
    for row in finished:
        number = as_number(get(row))
        if number is not None and not math.isnan(number):
            scored.append((number if rule.highest else -number, _newest(row), row))
    return max(scored, key=lambda item: item[:2], default=(0, (), None))[2]


def _newest(row: CachedRun) -> tuple[float, str]:
    return (row.start_ts or 0.0, row.run_id)


def find_row(rows: Sequence[CachedRun], ref: str) -> CachedRun:
    """A run among ``rows`` (local and fetched) by full id, unique id prefix, unique
    suffix of 4+ hex digits, or name (the newest of that name): the rules of every
    command that names a run."""
    text = ref.strip().lower()
    by_id = {row.run_id: row for row in rows}
    if text in by_id:
        return by_id[text]
    matches = sorted(
        i for i in by_id if i.startswith(text) or (len(text) >= 4 and i.endswith(text))
    )
    if len(matches) > 1:
        raise AmbiguousRunError(ref, matches)
    if matches:
        return by_id[matches[0]]
    named = [row for row in rows if row.name == ref.strip()]
    if named:
        return max(named, key=_newest)
    raise RunNotFoundError(
        f"no run matches the baseline '{ref}'",
        "give latest, 'best FIELD', 'min FIELD', or a run id or name from gitruns ls",
    )
