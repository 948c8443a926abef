"""Runs served from the query cache: full ``Run`` objects without reading git.

A cache row holds the run's metadata exactly as ``load_run`` read it from git (run.yaml,
params, summary and artifacts, in marshal's binary form, which keeps NaN, infinities, ints
of any size and every key as it was), keyed by (ref, commit). A commit never changes, so
a row whose commit is the ref's target IS that run; fetched runs were checked as untrusted
input (``load_untrusted_run``) before their row was written, and a row with an error is
never served. What is heavy stays in git and is read when touched, as for a run read from
git: metric series (``metric_rows``), logs, the package list and any other file
(``Run.file``).
"""

from __future__ import annotations

import marshal
import re
from typing import TYPE_CHECKING, Any, cast

from gitruns.runs.model import Run

if TYPE_CHECKING:
    from gitruns.query.cache import CachedRun
    from gitruns.storage import Store


# marshal's format 2: pinned, so that every Python 3 reads what any wrote, and without the
# back-references of formats 3 and 4, which depend on reference counts: the same run always
# makes the same bytes. marshal, not JSON: a cold build encodes 10,000 records (2.4x sooner:
# 8 us a run against 19) and ``ls --format json`` decodes them (19 us against 43). The
# data is plain (what YAML and JSON readers make) and written by gitruns itself into its
# own file under .git, which whoever could alter could as well alter the repository's hooks.
RECORD_FORMAT = 2
# A NaN or an infinity is a float (marshal: "g" and 8 bytes, little-endian) whose two high
# bytes are 0x7ff?/0xfff?: records without such bytes (nearly all) need no JSON walk.
_MAYBE_NOT_FINITE = re.compile(rb"g.{6}[\xf0-\xff][\x7f\xff]", re.DOTALL)


def run_parts(run: Run) -> bytes:
    """What the ``record`` column holds: the run's metadata, exactly."""
    return marshal.dumps([run.document, run.params, run.metrics, run.artifacts], RECORD_FORMAT)


def run_from_row(store: Store, row: CachedRun) -> Run:
    """The ``Run`` a valid cache row stands for (equal to ``load_run`` of its commit)."""
    document, params, metrics, artifacts = marshal.loads(row.record_data)
    return Run(row.run_id, row.commit_id, document, params, metrics, artifacts, store, row.origin)


def plain_record_of(row: CachedRun) -> dict[str, Any]:
    """The row's run as ``Run.to_dict()`` has it (NaN as floats: ``show --format yaml``)."""
    return run_from_row(cast("Store", None), row).to_dict()  # to_dict reads no file


def record_of(row: CachedRun) -> dict[str, Any]:
    """The row's run as ``Run.to_dict()`` has it, made JSON-safe (``show --format json``)."""
    from gitruns.format.layout import json_safe

    record = plain_record_of(row)
    # Only a run that may hold NaN or an infinity needs the (slow) walk that spells them out.
    return json_safe(record) if _MAYBE_NOT_FINITE.search(row.record_data) else record
