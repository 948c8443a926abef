"""Runs served from the query cache: full ``Run`` objects without reading git.

A cache row holds the run's metadata exactly as ``load_run`` read it from git (run.yaml,
params, summary and artifacts, as JSON that keeps NaN, infinities and ints of any size),
keyed by (ref, commit). A commit never changes, so a row whose commit is the ref's
target IS that run; fetched runs were checked as untrusted input (``load_untrusted_run``)
before their row was written, and a row with an error is never served. What is heavy
stays in git and is read when touched, as for a run read from git: metric series
(``metric_rows``), logs, the package list and any other file (``Run.file``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from gitruns.format.json_fast import dumps
from gitruns.runs.model import Run

if TYPE_CHECKING:
    from gitruns.query.cache import CachedRun
    from gitruns.storage import Store


def run_parts(run: Run) -> str:
    """What the ``record`` column holds: the run's metadata, exactly (``allow_nan``:
    Python's json reads NaN and infinities back as floats, and ints of any size)."""
    return dumps([run.document, run.params, run.metrics, run.artifacts])  # as json.dumps


def run_from_row(store: Store, row: CachedRun) -> Run:
    """The ``Run`` a valid cache row stands for (equal to ``load_run`` of its commit)."""
    document, params, metrics, artifacts = json.loads(row.record_json)
    return Run(row.run_id, row.commit_id, document, params, metrics, artifacts, store, row.origin)


def plain_record_of(row: CachedRun) -> dict[str, Any]:
    """The row's run as ``Run.to_dict()`` has it (NaN as floats: ``show --format yaml``)."""
    return run_from_row(cast("Store", None), row).to_dict()  # to_dict reads no file


def record_of(row: CachedRun) -> dict[str, Any]:
    """The row's run as ``Run.to_dict()`` has it, made JSON-safe (``show --format json``)."""
    from gitruns.format.layout import json_safe

    text = row.record_json
    record = plain_record_of(row)
    # Only a run holding NaN or an infinity needs the (slow) walk that spells them out.
    return json_safe(record) if "NaN" in text or "Infinity" in text else record
