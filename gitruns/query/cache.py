"""The run cache: one sqlite row per run ref, so that listing never has to read git.

Refs are the source of truth. Every query first syncs the cache with them: refs whose
commit changed (or that are new) are re-read and validated, rows whose ref is gone are
dropped, so runs that arrive by plain ``git fetch`` or vanish by ``git update-ref -d``
are seen without hooks. The file is ``<git common dir>/gitruns/cache.sqlite``; deleting
it is always safe, a corrupt one is deleted and rebuilt, and one of another schema
version is rebuilt inside a transaction. Concurrent gitruns processes share it through
WAL mode and a busy timeout; each writes what it read, keyed by (ref, commit), so
writers agree.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gitruns.errors import GitrunsError, InvalidRunError
from gitruns.format import layout
from gitruns.format.json_fast import dumps, dumps_sorted
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX
from gitruns.format.runrefs import NOT_A_RUN, NOT_A_RUN_HINT, parse_run_ref
from gitruns.query import refstate
from gitruns.query.build_file import BuildFile, connect_for_building
from gitruns.query.forked import BrokenWorkers, ForkedWorkers, Job, TokenLock
from gitruns.query.lineage import Family, LazyLineage, Lineage
from gitruns.query.served import record_of, run_from_row, run_parts
from gitruns.query.values import as_number, as_text
from gitruns.runs.model import Run, load_run
from gitruns.runs.resources import flat_resources
from gitruns.storage import (
    MISSING_OBJECT,
    Store,
    limit_mapped_packs,
    limit_object_cache,
    verify_object_hashes,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

CACHE_FILE = "cache.sqlite"
CACHE_SCHEMA_VERSION = 10  # 3: record; 4: resources; 5: experiment; 6: lineage; 7: exact record
# 8: ref_state; 9: no ref indexes (rows deleted by primary key), the errors' partial index,
# the record in marshal's form, no text for params that are finite numbers; 10: the same
# layout, every run read again under round 8's stricter reading (zero-padded and odd tree
# modes, YAML document markers): a row kept by (ref, commit) keeps the verdict it was given
LOCAL = "local"
PARALLEL_MIN_RUNS = 400  # below this, starting worker processes costs more than it saves
MAX_WORKERS = 8
BATCH_RUNS = 500  # runs read, written and let go at a time during a sync
WORKER_MAPPED_PACK_BYTES = 16 << 20
WORKER_OBJECT_CACHE_BYTES = 4 << 20  # each run's commit and tree are read once
PACKED_REF_BYTES = 60  # a line of packed-refs naming a run is 88 bytes or more
_COLUMNS = [
    "ref",
    "commit_id",
    "run_id",
    "origin",
    "error",
    "name",
    "status",
    "user",
    "email",
    "host",
    "start_time",
    "start_ts",
    "end_time",
    "end_ts",
    "duration",
    "branch",
    "code_commit",
    "params",
    "metrics",
    "tags",
    "resources",
    "record",
    "experiment",
    "extras",
]
# ``runs`` holds everything listing needs (params, metrics, tags as JSON, and the whole run
# in ``record``: its metadata exactly as read from git, see gitruns.query.served); the two
# key-value tables only index numbers and text so that a filter can skip most rows in SQL
# (gitruns.query.sql). Values are typed as gitruns.query.values compares them.
_TABLES = [
    """CREATE TABLE runs (
        ref TEXT PRIMARY KEY, commit_id TEXT NOT NULL, run_id TEXT NOT NULL,
        origin TEXT NOT NULL, error TEXT, name TEXT, status TEXT, user TEXT, email TEXT,
        host TEXT, start_time TEXT, start_ts REAL, end_time TEXT, end_ts REAL,
        duration REAL, branch TEXT, code_commit TEXT, params TEXT, metrics TEXT, tags TEXT,
        resources TEXT, record BLOB, experiment TEXT, extras TEXT
    ) WITHOUT ROWID""",
    """CREATE TABLE metric_values (
        key TEXT, ref TEXT, last REAL, min REAL, max REAL, count INTEGER,
        PRIMARY KEY (key, ref)
    ) WITHOUT ROWID""",
    """CREATE TABLE param_values (
        key TEXT, ref TEXT, num REAL, text TEXT, PRIMARY KEY (key, ref)
    ) WITHOUT ROWID""",
    # a run's parents, one row per (parent, child copy): children are the reverse relation.
    # The child's name and commit are repeated here so that finding every run's children
    # reads this small table only (gitruns.query.lineage).
    """CREATE TABLE run_parents (
        parent_id TEXT, ref TEXT, run_id TEXT, name TEXT, commit_id TEXT,
        PRIMARY KEY (parent_id, ref)
    ) WITHOUT ROWID""",
    # The three tables above have no index on ``ref``: a run's rows in them are deleted by
    # their primary keys, which its ``runs`` row lists (``_index_keys``). Such indexes cost
    # a sort of every row at the end of a cold build, on one CPU.
    "CREATE INDEX runs_run_id ON runs (run_id)",  # the names of parents, by id
    # Every query lists the invalid runs (to report them): few rows, found without a scan.
    "CREATE INDEX runs_errors ON runs (ref) WHERE error IS NOT NULL",
    # The fingerprint of the run refs (gitruns.query.refstate) the rows are exactly in
    # line with, if any: every write of rows deletes it in its transaction, and it is
    # written back only after checking, in one transaction, that the rows hold exactly
    # the refs listed after it was taken (see ``_remember``).
    "CREATE TABLE ref_state (id INTEGER PRIMARY KEY CHECK (id = 0), fingerprint TEXT)",
]
# A build file gets its tables first and its indexes once filled (faster, and denser).
_TABLES_ONLY = [statement for statement in _TABLES if not statement.startswith("CREATE INDEX")]
_INDEXES = [statement for statement in _TABLES if statement.startswith("CREATE INDEX")]
_ATTRIBUTE_COLUMNS = {
    "id": "run_id",
    "name": "name",
    "status": "status",
    "user": "user",
    "email": "email",
    "host": "host",
    "branch": "branch",
    "commit": "code_commit",
    "start_time": "start_ts",
    "end_time": "end_ts",
    "duration": "duration",
    "origin": "origin",
    "experiment": "experiment",
}
# Attributes read from the ``extras`` column (a JSON object; see ``_extras``).
_EXTRA_ATTRIBUTES = ("entry_point", "command", "note", "remote_url", "dirty")

META_FILES = (layout.RUN_FILE, layout.PARAMS_FILE, layout.SUMMARY_FILE, layout.ARTIFACTS_FILE)
Problem = tuple[str, str]  # (ref, why it was skipped)
# Errors a crafted or damaged run can raise in a reader beyond GitrunsError.
UNREADABLE = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError)
_SQL_INT = 2**63
# json.dumps(value, sort_keys=True), without building an encoder for each call.
_sorted_json = dumps_sorted
_json = dumps  # json.dumps(value)
Clause = tuple[str, list[Any]]  # SQL over the runs table, and its arguments
_ERRORS = "WHERE error IS NOT NULL"  # the invalid rows, by the partial index runs_errors


def _column(index: int) -> Any:
    return property(lambda self: self.row[index])


class CachedRun:
    """One run as the cache holds it (a row of the ``runs`` table).

    Built for 10,000 rows at a time: it wraps the row tuple, and params, metrics and tags
    are decoded from JSON on first use only.
    """

    __slots__ = (
        "_extras",
        "_family",
        "_metrics",
        "_params",
        "_resources",
        "_tags",
        "indexed",
        "lineage",
        "row",
    )

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.row = row
        # (flat params, metrics, parents) of a row just read from git, for ``_write`` to
        # index without decoding its JSON again (the columns hold them key-sorted).
        self.indexed: tuple[dict[str, Any], dict[str, list[Any]], list[str]] | None = None
        self._extras: dict[str, Any] | None = None
        self._family: Family | None = None
        # every run's parents and children, looked up on first use (search.select_runs)
        self.lineage: LazyLineage | None = None
        self._params: dict[str, Any] | None = None
        self._metrics: dict[str, list[float]] | None = None
        self._tags: dict[str, str] | None = None
        self._resources: dict[str, Any] | None = None

    ref = _column(0)
    commit_id = _column(1)
    run_id = _column(2)
    origin = _column(3)
    error = _column(4)
    name = _column(5)
    status = _column(6)
    user = _column(7)
    email = _column(8)
    host = _column(9)
    start_time = _column(10)
    start_ts = _column(11)
    end_time = _column(12)
    end_ts = _column(13)
    duration = _column(14)
    branch = _column(15)
    code_commit = _column(16)
    params_json = _column(17)
    metrics_json = _column(18)
    tags_json = _column(19)
    resources_json = _column(20)
    record_data = _column(21)  # bytes: see gitruns.query.served
    experiment = _column(22)

    @property
    def extras_json(self) -> str | None:
        return self.row[23] if len(self.row) > 23 else None

    @property
    def extras(self) -> dict[str, Any]:
        """Provenance and lineage the filter reads: ``parents``, ``entry_point`` ..."""
        if self._extras is None:
            self._extras = json.loads(self.extras_json or "{}")
        return self._extras

    @property
    def parents(self) -> list[str]:
        """Ids of the runs this one lists as its parents."""
        return list(self.extras.get("parents", []))

    @property
    def family(self) -> Family | None:
        """Its parents and children with their names; None when lineage was not looked up."""
        if self._family is None and self.lineage is not None:
            self._family = self.lineage.get().family(self.run_id, self.parents)
        return self._family

    @property
    def params(self) -> dict[str, Any]:
        """Flattened: ``{"model.layers": 12}``."""
        if self._params is None:
            self._params = json.loads(self.params_json)
        return self._params

    @property
    def metrics(self) -> dict[str, list[float]]:
        """Metric key -> [last, min, max, count]."""
        if self._metrics is None:
            self._metrics = json.loads(self.metrics_json)
        return self._metrics

    @property
    def tags(self) -> dict[str, str]:
        if self._tags is None:
            self._tags = json.loads(self.tags_json)
        return self._tags

    @property
    def resources(self) -> dict[str, Any]:
        """Flattened resource totals: ``{"gpu_hours": 0.5, "gpus.0.peak_memory_mb": 2048}``."""
        if self._resources is None:
            self._resources = json.loads(self.resources_json or "{}")
        return self._resources

    def record(self) -> dict[str, Any]:
        """The whole run as plain data (``Run.to_dict()``, JSON-safe) with its ``origin``."""
        return record_of(self)

    def attribute(self, name: str) -> Any:
        if name in _EXTRA_ATTRIBUTES:
            return self.extras.get(name)
        if name in ("parent", "child", "children"):
            return self._lineage_value(name)
        return getattr(self, _ATTRIBUTE_COLUMNS[name])

    def _lineage_value(self, name: str) -> Any:
        """``parent``/``child``: the related runs' ids, comma-separated (None when there is
        none); ``children``: how many child runs (None when lineage was not looked up)."""
        if name == "children":
            if self.lineage is None:
                return None
            return len(self.lineage.get().children.get(self.run_id, {}))
        family = self.family
        if name == "parent":
            ids = [p for p, _ in family.parents] if family is not None else self.parents
        else:
            ids = [c for c, _ in family.children] if family is not None else []
        return ", ".join(ids) if ids else None


@dataclass
class Snapshot:
    """The runs as of this sync: valid rows, the refs skipped as invalid, and for each run
    id the ref of the copy to show (the local one, else the first remote's by name)."""

    rows: list[CachedRun]
    problems: list[Problem]
    shown: set[str]
    fresh: list[CachedRun] = field(default_factory=list)  # valid runs read from git just now
    recorded: set[str] = field(default_factory=set)  # the run ids ``sync`` was asked about
    # that have a ref

    def runs(self, *, all_copies: bool = False) -> list[CachedRun]:
        """One row per run id, or every copy (local and fetched from each remote)."""
        if all_copies:
            return list(self.rows)
        return [row for row in self.rows if row.ref in self.shown]


def _shown_refs(refs: dict[str, tuple[str, str, str]]) -> set[str]:
    """The copy to show of each run id: the local ref, else the first remote's by name.
    Local refs (one per id) are shown as they are; only fetched ones are ranked."""
    shown = {ref for ref, (_, origin, _) in refs.items() if origin == LOCAL}
    if len(shown) == len(refs):
        return shown
    local_ids = {refs[ref][0] for ref in shown}
    chosen: dict[str, tuple[str, str]] = {}
    for ref, (run_id, origin, _) in refs.items():
        if origin == LOCAL or run_id in local_ids:
            continue
        rank = (origin, ref)
        if run_id not in chosen or rank < chosen[run_id]:
            chosen[run_id] = rank
    return shown | {rank[1] for rank in chosen.values()}


def current_refs(store: Store) -> dict[str, tuple[str, str, str]]:
    """Every run ref as ``{ref: (run id, origin, commit)}``, and every other ref under
    the run prefixes with its own name as run id (so it never stands for a real run):
    ``_read_row`` turns those into problems, reported and never listed."""
    local, fetched, odd = store.all_run_refs()
    refs = {RUNS_PREFIX + i: (i, LOCAL, c) for i, c in local.items()}
    for remote, runs in fetched.items():
        prefix = f"{REMOTE_RUNS_PREFIX}{remote}/"
        refs.update({prefix + i: (i, remote, c) for i, c in runs.items()})
    for ref, commit in odd.items():
        refs[ref] = (ref, LOCAL if ref.startswith(RUNS_PREFIX) else "?", commit)
    return refs


def sync(store: Store, where: Clause | None = None, asked: Iterable[str] = ()) -> Snapshot:
    """Bring the cache in line with the refs and return its runs: every one, or with
    ``where`` (gitruns.query.sql.prefilter) those that may match, plus runs just read;
    ``Snapshot.recorded`` says which of the ``asked`` run ids have a ref.

    When the refs stat the same as when the cache last matched them exactly
    (gitruns.query.refstate), the rows are served without listing the refs. A corrupt
    cache file is deleted and built again; when the file cannot be used at all (a
    read-only repository, a lock held too long) an in-memory cache stands in.
    """
    path = store.gitruns_dir / CACHE_FILE
    asked = list(asked)
    warm = _serve_unchanged(store, path, where, asked)
    if warm is not None:
        return warm
    workers = Workers.before_a_big_build(store, path)
    try:
        state = refstate.take(store.common_dir)  # before the listing: a change after it shows
        refs = current_refs(store)
        for attempt in range(2):
            try:
                return _sync_with(store, refs, path, where, state, asked, workers)
            except (sqlite3.OperationalError, OSError):
                break  # locked, or not writable: leave the file alone
            except sqlite3.DatabaseError:
                if attempt == 0 and not _try_discard(path):
                    break
        return _sync_with(store, refs, None, where, None, asked)
    finally:
        if workers is not None:
            workers.close()


def _sync_with(
    store: Store,
    refs: dict[str, tuple[str, str, str]],
    path: Path | None,
    where: Clause | None,
    state: str | None = None,
    asked: list[str] | None = None,
    workers: Workers | None = None,
) -> Snapshot:
    if path is not None and not path.exists():
        return _with_recorded(_build(store, refs, path, where, workers, state), refs, asked)
    db = _connect(path)
    try:
        if where is None:
            stored = _select(db, None)
            cached = {ref: row.commit_id for ref, row in stored.items()}
        else:
            cached = dict(db.execute("SELECT ref, commit_id FROM runs").fetchall())
        stale = [ref for ref, (_, _, commit) in refs.items() if cached.get(ref) != commit]
        gone = [ref for ref in cached if ref not in refs]
        fresh = _read_and_write(store, db, {ref: refs[ref] for ref in stale}, gone, cached, path)
        if where is not None or len(stale) > BATCH_RUNS:
            stored = _select(db, where)
        if path is not None and state is not None:
            _remember(db, state, refs)
    finally:
        db.close()
    snapshot = _snapshot(store, refs, cached, stored, fresh)
    snapshot.fresh = [row for row in fresh.values() if row.error is None]
    return _with_recorded(snapshot, refs, asked)


def _with_recorded(
    snapshot: Snapshot, refs: dict[str, tuple[str, str, str]], asked: list[str] | None
) -> Snapshot:
    """``snapshot`` with ``recorded``: which of the ``asked`` run ids have a ref."""
    if asked:
        ids = {run_id for ref, (run_id, _, _) in refs.items() if ref.endswith(run_id)}
        snapshot.recorded = ids.intersection(asked)
    return snapshot


def read_lineage(store: Store, also_named: Iterable[str] = ()) -> Lineage:
    """Every run's children, and the names of every parent (and of ``also_named``), as
    the cache file holds them; empty when it cannot be read. Runs the last sync read
    (``Snapshot.fresh``) may be missing from it: a cache that could not be written."""
    path = store.gitruns_dir / CACHE_FILE
    if not path.exists():
        return Lineage()
    try:
        db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            db.execute("BEGIN")  # one read transaction: the fingerprint and the rows agree
            if db.execute("PRAGMA user_version").fetchone()[0] != CACHE_SCHEMA_VERSION:
                return Lineage()
            refs = _refs_if_unchanged(store, db)
            return _lineage(db, refs or current_refs(store), {}, list(also_named))
        finally:
            db.close()
    except (sqlite3.Error, OSError):
        return Lineage()


def _refs_if_unchanged(
    store: Store, db: sqlite3.Connection
) -> dict[str, tuple[str, str, str]] | None:
    """The refs as the cache's rows hold them, when its fingerprint says they are the
    refs now (see ``_serve_unchanged``); None otherwise."""
    found = db.execute("SELECT fingerprint FROM ref_state").fetchone()
    if found is None or not refstate.unchanged(store.common_dir, found[0]):
        return None
    rows = db.execute("SELECT ref, run_id, origin, commit_id FROM runs")
    return {ref: (run_id, origin, commit) for ref, run_id, origin, commit in rows}


def _lineage(
    db: sqlite3.Connection,
    refs: dict[str, tuple[str, str, str]],
    fresh: dict[str, CachedRun],
    also_named: list[str],
) -> Lineage:
    """Every run's children, and the names of every parent, from the ``run_parents`` table.

    Only rows of the refs as they are now count (a cache that could not be written may
    hold older rows); the runs just read count even if writing them failed.
    """

    def current(ref: str, commit: str) -> bool:
        return ref in refs and refs[ref][2] == commit and ref not in fresh

    lineage = Lineage()
    children = db.execute("SELECT parent_id, run_id, name, ref, commit_id FROM run_parents")
    for parent, child, name, ref, commit in children:
        if current(ref, commit):
            lineage.add_run(child, name, [parent])
    named = "SELECT r.run_id, r.name, r.ref, r.commit_id FROM {} r WHERE r.error IS NULL"
    parents = "(SELECT DISTINCT parent_id FROM run_parents) p JOIN runs"
    queries: list[tuple[str, list[str]]] = [
        (named.format(parents) + " AND r.run_id = p.parent_id", [])
    ]
    for start in range(0, len(also_named), 500):
        chunk = also_named[start : start + 500]
        queries.append(
            (named.format("runs") + f" AND r.run_id IN ({', '.join('?' * len(chunk))})", chunk)
        )
    for sql, args in queries:
        for run_id, name, ref, commit in db.execute(sql, args):
            if current(ref, commit):
                lineage.names.setdefault(run_id, name)
    for row in fresh.values():
        if row.error is None:
            lineage.add_run(row.run_id, row.name, row.parents)
    return lineage


def _build(
    store: Store,
    refs: dict[str, tuple[str, str, str]],
    path: Path,
    where: Clause | None,
    workers: Workers | None = None,
    state: str | None = None,
) -> Snapshot:
    """A cold build: no cache file yet. Every run is read and written into a build file
    (gitruns.query.build_file) that becomes the cache only once it is whole; ``state``
    (the refs' fingerprint taken before they were listed) goes in with it if the rows
    hold exactly ``refs``."""
    build = BuildFile.create(path)
    db: sqlite3.Connection | None = None
    try:
        db = build.connect()
        db.executescript(";\n".join(_TABLES_ONLY) + ";")
        cached: dict[str, str] = {}
        errors: set[str] = set()
        fresh = _read_and_write(
            store, db, refs, [], cached, build.path, building=True, workers=workers, errors=errors
        )
        build.flush_early()  # the disk writes the rows while this CPU makes the indexes
        db.executescript(";\n".join(_INDEXES) + ";")
        db.execute(f"PRAGMA user_version = {CACHE_SCHEMA_VERSION}")
        db.execute("PRAGMA journal_mode = WAL")  # what every later user opens it with
        if state is not None:
            _remember(db, state, refs, written=cached)  # nobody else writes a build file
        stored: dict[str, CachedRun] = {}
        if where is not None:
            stored = _select_built(db, where, errors)
        elif len(refs) > BATCH_RUNS:
            stored = _select(db, None)
        db.close()
        db = None
        build.install(path)
    finally:
        if db is not None:
            db.close()
        build.abandon()
    snapshot = _snapshot(store, refs, cached, stored, fresh)
    snapshot.fresh = [row for row in fresh.values() if row.error is None]
    return snapshot


def _read_and_write(
    store: Store,
    db: sqlite3.Connection,
    refs: dict[str, tuple[str, str, str]],
    gone: list[str],
    cached: dict[str, str],
    path: Path | None = None,
    *,
    building: bool = False,
    workers: Workers | None = None,
    errors: set[str] | None = None,
) -> dict[str, CachedRun]:
    """Read ``refs`` from git and write them to the cache a batch at a time; return the
    rows the snapshot must take from memory: all of them for a small sync, only those not
    written (missing objects, a busy file) for a big one, whose written rows are let go
    (memory stays flat at 100,000 runs) and selected back. ``cached`` learns what was
    written.

    ``path`` is the file of ``db`` (None: a cache in memory). A big sync is read by worker
    processes that write their batches to that file themselves, one at a time, so the
    rows never travel back to this process; ``building``: it is a build file (no other
    writer, no rows to replace); ``workers``: forked already (``Workers``); ``errors``
    learns the refs of the rows written that hold an error."""
    kept: dict[str, CachedRun] = {}
    errors = set() if errors is None else errors
    if gone:
        _write(db, [], gone)
    keep_all = len(refs) <= BATCH_RUNS
    if path is None or not _parallel(len(refs)):
        for batch in read_row_batches(store, refs):
            written = _write(db, batch, [], replace=not building)
            for row in batch:
                if row.ref in written:
                    cached[row.ref] = row.commit_id
                    if row.error is not None:
                        errors.add(row.ref)
                if row.ref not in written or keep_all:
                    kept[row.ref] = row
        return kept
    batches = _written_batches(store, db, refs, path, building, keep_all, workers)
    for written_refs, rows, error_refs in batches:
        cached.update((ref, refs[ref][2]) for ref in written_refs)
        kept.update((row.ref, row) for row in rows)
        errors.update(error_refs)
    return kept


class Workers:
    """The worker processes of a big sync, and the lock they take turns writing under.

    Forked while this process is small when they can be: a child's allocations land in
    the free slots of pages it shares with its parent, copying them, so workers forked
    after 100,000 refs were listed grow by the size of that listing (about 60 MB each).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        # Their garbage collector would touch (and so copy) every object they inherit.
        gc.freeze()
        try:
            # os.fork and pipes (gitruns.query.forked), not concurrent.futures: its import
            # was 25 ms of a cold `ls` on one CPU.
            self.pool = ForkedWorkers(count, _read_and_write_chunk, _remember_lock)
        finally:
            gc.unfreeze()
        self.lock = self.pool.lock

    @classmethod
    def before_a_big_build(cls, store: Store, path: Path) -> Workers | None:
        """Workers forked now, before the refs are listed, when there is no cache file and
        the packed refs hold enough runs for a parallel build (a guess from their size; a
        wrong guess costs one idle fork). None otherwise: they are forked when needed."""
        if path.exists() or not _parallel(PARALLEL_MIN_RUNS):
            return None
        if not os.access(store.common_dir, os.W_OK):
            return None  # no cache can be written here: every query would fork in vain
        try:
            packed = (store.common_dir / "packed-refs").stat().st_size
        except OSError:
            return None
        if packed < PARALLEL_MIN_RUNS * PACKED_REF_BYTES:
            return None
        try:
            return cls(_workers() - 1)
        except OSError:  # cannot fork now (process limits): the build forks when it can
            return None

    def close(self) -> None:
        self.pool.close()


def _written_batches(
    store: Store,
    db: sqlite3.Connection,
    refs: dict[str, tuple[str, str, str]],
    path: Path,
    building: bool,
    keep_all: bool,
    workers: Workers | None = None,
) -> Iterator[tuple[list[str], list[CachedRun], list[str]]]:
    """Read ``refs`` a batch at a time and write each batch to the cache file ``path``
    (through ``db`` here), in worker processes and in this one: one process per CPU, so
    that on 2 CPUs one worker's memory is saved and this process is not left waiting.
    Writers take turns by a lock they share. Yield, per batch, the refs written, the
    rows this process must hold (see ``_read_and_write``) and the refs written with an
    error, as batches are done."""
    items = sorted(refs.items())
    store.fetch_run_files([commit for _, _, commit in refs.values()], META_FILES)
    own = workers is None
    if workers is None:
        workers = Workers(_workers() - 1)
    remaining = deque(_batches(items, workers.count))
    del items
    setup = (str(store.git_dir), str(path), building)
    mapped = limit_mapped_packs(WORKER_MAPPED_PACK_BYTES)
    cached = limit_object_cache(WORKER_OBJECT_CACHE_BYTES)
    verify_object_hashes(False)  # as the git CLI reads (see verify_object_hashes)
    here = {"store": store, "db": db, "building": building, "lock": workers.lock}
    try:
        # A few batches in flight, not all: the workers never wait for work, and this
        # process takes the next batch itself while they are busy.
        pending: deque[Job] = deque()

        def submit(chunk: list[tuple[str, tuple[str, str, str]]]) -> Job:
            return workers.pool.submit(setup, chunk, keep_all)

        while remaining or pending:
            for future in _collect_and_top_up(pending, remaining, 2 * workers.count, submit):
                written, rows, error_refs = future.result()
                yield written, [CachedRun(row) for row in rows], error_refs
            if remaining:
                written, rows, error_refs = _read_and_write_batch(
                    here, remaining.popleft(), keep_all
                )
                yield written, [CachedRun(row) for row in rows], error_refs
            elif pending:
                workers.pool.wait_first(pending)
    except BrokenWorkers as exc:  # a worker killed (out of memory?) mid-way
        raise GitrunsError(
            "a worker process reading runs into the cache died", "run the command again"
        ) from exc
    finally:
        limit_mapped_packs(mapped)
        limit_object_cache(cached)
        verify_object_hashes(True)
        if own:
            workers.close()


class _Running(Protocol):
    def done(self) -> bool: ...


_Sent = TypeVar("_Sent", bound=_Running)


def _collect_and_top_up(
    pending: deque[_Sent],
    remaining: deque[Any],
    depth: int,
    submit: Callable[[Any], _Sent],
) -> list[_Sent]:
    """Take the finished batches out of ``pending`` (returned, in the order sent), then
    send more of ``remaining`` until ``depth`` are in flight: before this process reads
    a batch of its own, so the workers have work queued for all of that time. (Topped up
    only before a batch was done, a worker that finished its two ran dry while this
    process read: a third of its time at 10,000 and 100,000 runs.)"""
    done = [future for future in pending if future.done()]
    for future in done:
        pending.remove(future)
    while remaining and len(pending) < depth:
        pending.append(submit(remaining.popleft()))
    return done


def _batches(
    items: list[tuple[str, tuple[str, str, str]]], workers: int
) -> Iterator[list[tuple[str, tuple[str, str, str]]]]:
    """``items`` in batches of ``BATCH_RUNS``, the last few cut in five, and the very
    last ones smaller and smaller (half of what is left per process, down to a twentieth
    of a batch). This process feeds the workers only between its own batches, so each
    worker has up to two queued; at the end, the process that finishes first waits for
    those queues, on one CPU: with batches of 100 runs there, up to about 0.1 s at 10,000
    runs. Not smaller: each batch costs about 12 M instructions of its own (its sqlite
    transaction; the other process then reads the pages it changed again)."""
    tail = max(len(items) - 2 * (workers + 1) * BATCH_RUNS, 0)
    tail -= tail % BATCH_RUNS
    for start in range(0, tail, BATCH_RUNS):
        yield items[start : start + BATCH_RUNS]
    most, least = max(BATCH_RUNS // 5, 1), max(BATCH_RUNS // 20, 1)
    start = tail
    while start < len(items):
        step = max(min(most, (len(items) - start) // (2 * (workers + 1))), least)
        yield items[start : start + step]
        start += step


# In a worker process of ``Workers``: the lock they write under, and for the file it
# writes to now, its repository and cache connection.
_WRITER: dict[str, Any] = {}


def _remember_lock(lock: TokenLock) -> None:
    _WRITER["lock"] = lock


def _start_writer(git_dir: str, path: str, building: bool) -> None:
    limit_mapped_packs(WORKER_MAPPED_PACK_BYTES)  # RSS stays flat however big the packs
    limit_object_cache(WORKER_OBJECT_CACHE_BYTES)
    verify_object_hashes(False)
    db = connect_for_building(Path(path)) if building else _connect_file(Path(path))
    _WRITER.update(store=Store(git_dir), db=db, building=building, setup=(git_dir, path, building))


def _read_and_write_chunk(
    setup: tuple[str, str, bool], items: list[tuple[str, tuple[str, str, str]]], keep_all: bool
) -> tuple[list[str], list[tuple[Any, ...]], list[str]]:
    """In a worker process: ``_read_and_write_batch`` with its own repository and file."""
    if _WRITER.get("setup") != setup:
        _start_writer(*setup)
    return _read_and_write_batch(_WRITER, items, keep_all)


def _read_and_write_batch(
    writer: dict[str, Any], items: list[tuple[str, tuple[str, str, str]]], keep_all: bool
) -> tuple[list[str], list[tuple[Any, ...]], list[str]]:
    """Read some runs and write them to the cache; return the refs written, the rows
    to hand back (all when ``keep_all``, else those not written) and the refs written
    with an error."""
    rows = [_read_row(writer["store"], ref, *info) for ref, info in items]
    written = _write(writer["db"], rows, [], replace=not writer["building"], lock=writer["lock"])
    kept = [row.row for row in rows if keep_all or row.ref not in written]
    errors = [row.ref for row in rows if row.error is not None and row.ref in written]
    return sorted(written), kept, errors


def read_rows(store: Store, refs: dict[str, tuple[str, str, str]]) -> dict[str, CachedRun]:
    """Read the runs of ``refs`` from git (all at once; see ``read_row_batches``)."""
    return {row.ref: row for batch in read_row_batches(store, refs) for row in batch}


def read_row_batches(
    store: Store, refs: dict[str, tuple[str, str, str]]
) -> Iterator[list[CachedRun]]:
    """Read the runs of ``refs`` from git in batches of ``BATCH_RUNS``, in ref order: the
    slow part of a sync (YAML and schema validation, about 1 ms a run), so a big sync is
    spread over worker processes, whose batches arrive as they are done."""
    items = sorted(refs.items())
    store.fetch_run_files([commit for _, _, commit in refs.values()], META_FILES)
    workers = _workers()
    chunks = [items[i : i + BATCH_RUNS] for i in range(0, len(items), BATCH_RUNS)]
    if not _parallel(len(items)):
        for chunk in chunks:
            yield [_read_row(store, ref, *info) for ref, info in chunk]
        return
    import multiprocessing  # an in-memory cache (the file cannot be written): rare
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        # A few batches in flight, not all: results waiting for the writer are held in memory.
        pending: deque[Future[list[tuple[Any, ...]]]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_read_chunk, (str(store.git_dir), chunk)))
            if len(pending) > 2 * workers:
                yield [CachedRun(row) for row in pending.popleft().result()]
        while pending:
            yield [CachedRun(row) for row in pending.popleft().result()]


def _read_chunk(job: tuple[str, list[tuple[str, tuple[str, str, str]]]]) -> list[tuple[Any, ...]]:
    """In a worker process: open the repository afresh and read some runs."""
    git_dir, items = job
    limit_mapped_packs(WORKER_MAPPED_PACK_BYTES)  # RSS stays flat however big the packs
    limit_object_cache(WORKER_OBJECT_CACHE_BYTES)
    store = Store(git_dir)
    return [_read_row(store, ref, *info).row for ref, info in items]


def _can_fork() -> bool:
    return hasattr(os, "fork")  # as multiprocessing's "fork" start method


def _workers() -> int:
    return min(os.cpu_count() or 1, MAX_WORKERS)


def _parallel(runs: int) -> bool:
    """Whether reading ``runs`` runs is worth worker processes."""
    return runs >= PARALLEL_MIN_RUNS and _workers() >= 2 and _can_fork()


def _try_discard(path: Path) -> bool:
    try:
        discard(path)
    except OSError:
        return False
    return True


def discard(path: Path) -> None:
    """Delete the cache file and its WAL companions (always safe: refs hold the truth)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _connect(path: Path | None) -> sqlite3.Connection:
    """Open the cache (or an in-memory one for None), creating or rebuilding its table."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    db = _connect_file(path)
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != CACHE_SCHEMA_VERSION:
            _rebuild(db)
    except BaseException:
        db.close()
        raise
    return db


def _connect_file(path: Path | None) -> sqlite3.Connection:
    """A connection to the cache file as every user shares it (WAL), or to one in memory."""
    db = sqlite3.connect(path or ":memory:", timeout=30.0, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        db.close()
        raise
    return db


def _rebuild(db: sqlite3.Connection) -> None:
    """Create the table, or drop one of another schema version, in one transaction so
    that a concurrent process sees either the old cache or the new one."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != CACHE_SCHEMA_VERSION:
            for (table,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ).fetchall():
                db.execute(f'DROP TABLE "{table}"')
            for statement in _TABLES:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {CACHE_SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _snapshot(
    store: Store,
    refs: dict[str, tuple[str, str, str]],
    cached: dict[str, str],
    stored: dict[str, CachedRun],
    fresh: dict[str, CachedRun],
) -> Snapshot:
    """Rows for the refs listed (those the pre-filter kept), whatever a concurrent
    writer left in the file."""
    valid: list[CachedRun] = []
    problems: list[Problem] = []
    # Only refs with a row at hand or not cached at this commit can be listed: a filtered
    # query at 10,000 runs then looks at its few candidates, not at every ref.
    candidates = {ref for ref in (*fresh, *stored) if ref in refs}
    candidates.update(ref for ref, (_, _, commit) in refs.items() if cached.get(ref) != commit)
    for ref in sorted(candidates):
        run_id, origin, commit = refs[ref]
        row = fresh.get(ref) or stored.get(ref)
        if row is None and cached.get(ref) == commit:
            continue  # in the cache, and the pre-filter ruled it out
        if row is None or row.commit_id != commit:
            row = _read_row(store, ref, run_id, origin, commit)
        if row.error is None:
            valid.append(row)
        else:
            problems.append((ref, row.error))
    return Snapshot(valid, problems, _shown_refs(refs))


def _read_row(store: Store, ref: str, run_id: str, origin: str, commit: str) -> CachedRun:
    """Read and validate one run; an invalid one becomes a row holding only its error.

    Fetched runs also get the tree checks for untrusted input (paths, symlinks,
    submodules, sizes), whether they came by ``gitruns fetch`` or plain ``git fetch``.
    A run that cannot be read for any reason (missing objects, absurd values) is one
    problem row: it never stops the others from being listed.
    """
    try:
        if parse_run_ref(ref) is None:
            raise InvalidRunError(NOT_A_RUN, NOT_A_RUN_HINT)
        if origin == LOCAL:
            run = load_run(store, run_id, commit)
        else:
            from gitruns.runs.untrusted import load_untrusted_run

            run = load_untrusted_run(store, ref, run_id, commit)
        row = _valid_row(run, ref, origin)
    except GitrunsError as exc:
        message = exc.message.replace(f"refs/runs/{run_id} ", "").replace("\n", " ")
        return CachedRun((ref, commit, run_id, origin, message, *[None] * (len(_COLUMNS) - 5)))
    except UNREADABLE as exc:  # what no schema foresaw: skip the run, name the cause
        message = f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})"
        return CachedRun((ref, commit, run_id, origin, message, *[None] * (len(_COLUMNS) - 5)))
    return row


def row_for(run: Run, ref: str, origin: str) -> CachedRun:
    """A row for a run that is not cached (a run in progress has no ref to key it by)."""
    return _valid_row(run, ref, origin)


def _valid_row(run: Run, ref: str, origin: str) -> CachedRun:
    """The row of a valid run, holding also the params, metrics and parents its JSON
    columns encode (``CachedRun.indexed``): writing the row indexes them."""
    params = layout.flatten(run.params)
    metrics = {k: [s["last"], s["min"], s["max"], s["count"]] for k, s in run.metrics.items()}
    extras = _extras(run)
    row = CachedRun(
        (ref, run.commit, run.id, origin, None, *_run_values(run, params, metrics, extras))
    )
    row.indexed = (params, metrics, extras.get("parents", []))
    return row


def _run_values(
    run: Run, params: dict[str, Any], metrics: dict[str, list[Any]], extras: dict[str, Any]
) -> list[Any]:
    doc = run.document
    git = doc["git"]
    end = doc.get("end_time")
    resources = flat_resources(doc.get("resources"))
    return [
        run.name,
        run.status,
        doc["user"].get("name"),
        doc["user"].get("email"),
        doc.get("host"),
        doc["start_time"],
        layout.parse_time(doc["start_time"]),
        end,
        layout.parse_time(end) if end else None,
        sql_number(doc.get("duration_s")),
        git.get("branch"),
        git.get("commit"),
        _sorted_json(params),
        _sorted_json(metrics),
        # "{}" without an encoder call: most runs have no tags, nearly all no resources
        _sorted_json(run.tags) if doc.get("tags") else "{}",
        _sorted_json(resources) if resources else "{}",
        run_parts(run),
        run.experiment,
        _json(extras),  # its keys are made in sorted order
    ]


def _extras(run: Run) -> dict[str, Any]:
    """What the filter language reads beyond the columns: lineage and provenance (the
    fields MLflow's system tags ``mlflow.parentRunId``, ``mlflow.source.name`` ... map to).
    Only the values a run has: a missing one reads as None (``parents``: as no parents),
    and each entry costs its JSON (most runs have no note, parents or remote)."""
    doc = run.document
    command = doc.get("command") or {}
    git = doc["git"]
    notes = doc.get("notes")
    # In sorted key order: its JSON is json.dumps(..., sort_keys=True) without the sort.
    values = {
        "command": command.get("line"),
        "dirty": git.get("dirty"),
        "entry_point": command.get("entry_point"),
        "note": "\n\n".join(note.get("text", "") for note in notes) if notes else None,
        "parents": run.parents or None,
        "remote_url": git.get("remote_url"),
    }
    return {key: value for key, value in values.items() if value is not None}


def sql_number(value: Any) -> Any:
    """sqlite holds 64-bit integers: a larger int (a param may be any size) is stored
    as a float, or an infinity; the exact value stays in the run's JSON columns."""
    if type(value) is int and not -_SQL_INT <= value < _SQL_INT:
        return as_number(value)
    return value


def cached_run(store: Store, ref: str, commit: str) -> Run | None:
    """The run at ``ref`` served from the cache file when it holds a valid row for exactly
    ``commit`` (gitruns.query.served); None otherwise (no cache yet, another version, a
    stale or invalid row, a busy or unreadable file): the caller then reads git. Never
    writes the cache, so looking up one run costs no sync."""
    path = store.gitruns_dir / CACHE_FILE
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return None
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != CACHE_SCHEMA_VERSION:
            return None
        sql = f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE ref = ?"
        found = db.execute(sql, (ref,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    row = CachedRun(found) if found is not None else None
    if row is None or row.commit_id != commit or row.error is not None:
        return None
    return run_from_row(store, row)


def _select(
    db: sqlite3.Connection, where: Clause | None, *, with_errors: bool = True
) -> dict[str, CachedRun]:
    """Rows passing the pre-filter ``where``, and every invalid row (to report it; not
    with ``with_errors=False``)."""
    sql = f"SELECT {', '.join(_COLUMNS)} FROM runs"
    if where is None:
        return {row[0]: CachedRun(row) for row in db.execute(sql)}
    stored = {row[0]: CachedRun(row) for row in db.execute(f"{sql} WHERE {where[0]}", where[1])}
    if with_errors:  # apart, so that the partial index ``runs_errors`` finds them
        stored.update((row[0], CachedRun(row)) for row in db.execute(f"{sql} {_ERRORS}"))
    return stored


def _select_built(db: sqlite3.Connection, where: Clause, errors: set[str]) -> dict[str, CachedRun]:
    """``_select(db, where)`` of a build file whose invalid rows are ``errors``: without
    reading every row of the table to find them (a tenth of a second at 100,000 runs)."""
    stored = _select(db, where, with_errors=False)
    wanted = sorted(errors)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        sql = f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE ref IN ({', '.join('?' * len(chunk))})"
        stored.update((row[0], CachedRun(row)) for row in db.execute(sql, chunk))
    return stored


def _write(
    db: sqlite3.Connection,
    rows: Iterable[CachedRun],
    gone: list[str],
    *,
    replace: bool = True,
    lock: Any = None,
) -> set[str]:
    """Best effort: a cache that cannot be written (read-only, busy) only costs speed.
    Return the refs of the rows written. ``replace=False``: the file holds none of these
    refs yet (a build file), so no old rows are looked for. ``lock``: held while writing
    (the workers of a build take turns), not while the rows are made ready."""
    _bind_none_and_bytes_directly()
    rows = list(rows)
    removed = [(ref,) for ref in gone] + ([(row.ref,) for row in rows] if replace else [])
    # A run whose objects are missing may be whole next time (a partial clone's objects
    # fetched, a repair): it is not cached, so every sync reads it again.
    rows = [row for row in rows if row.error is None or not MISSING_OBJECT.search(row.error)]
    valid = [(row, row.indexed or _indexed(row)) for row in rows if row.error is None]
    numbers, texts = _param_rows(valid)
    inserts = [
        (
            f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            [row.row for row in rows],
        ),
        ("INSERT INTO metric_values VALUES (?, ?, ?, ?, ?, ?)", _metric_rows(valid)),
        ("INSERT INTO param_values (key, ref, num) VALUES (?, ?, ?)", numbers),
        ("INSERT INTO param_values VALUES (?, ?, ?, ?)", texts),
        (
            "INSERT OR IGNORE INTO run_parents VALUES (?, ?, ?, ?, ?)",
            [
                (parent, row.ref, row.run_id, row.name, row.commit_id)
                for row, (_, _, parents) in valid
                for parent in parents
            ],
        ),
    ]
    with lock if lock is not None else contextlib.nullcontext():
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM ref_state")  # the rows may no longer match the refs
            if removed:
                for table, keys in _index_keys(db, [ref for (ref,) in removed]).items():
                    sql = f"DELETE FROM {table} WHERE {keys[0]} = ? AND ref = ?"
                    db.executemany(sql, keys[1])
                db.executemany("DELETE FROM runs WHERE ref = ?", removed)
            for sql, values in inserts:
                if values:
                    db.executemany(sql, values)
            db.execute("COMMIT")
        except sqlite3.OperationalError:
            if db.in_transaction:
                db.execute("ROLLBACK")
            return set()
    return {row.ref for row in rows}


# sqlite3 binds str, int, float and bytearray directly; None and bytes (a NULL, the record)
# go first through its adapter protocol, which looks for ``__adapt__`` on PrepareProtocol and
# ``__conform__`` on the value, formatting an AttributeError for each: about 4,000
# instructions a value, eight a run (a third of the cost of binding a run's rows). An adapter
# registered for those types is found first by one dict lookup. These return the value
# itself, so a binding is the same as without them, for gitruns and any other sqlite3 user
# of the process; one registered before (by anyone) is left as it is.
_PLAIN_ADAPTERS: dict[type, Callable[[Any], Any]] = {
    type(None): {}.get,  # a C call that returns None: no Python frame
    bytes: bytes.__bytes__,  # the bytes object itself
}


def _bind_none_and_bytes_directly() -> None:
    for kind, adapter in _PLAIN_ADAPTERS.items():
        if (kind, sqlite3.PrepareProtocol) not in sqlite3.adapters:
            sqlite3.register_adapter(kind, adapter)


Indexed = tuple[dict[str, Any], dict[str, list[Any]], list[str]]  # params, metrics, parents


def _metric_rows(valid: list[tuple[CachedRun, Indexed]]) -> list[tuple[Any, ...]]:
    """The ``metric_values`` rows of ``valid`` rows: ``(key, ref, last, min, max, count)``
    with each value through ``sql_number``, which changes only ints beyond 64 bits (a
    summary of floats and a count passes as it is, without four calls a metric)."""
    out: list[tuple[Any, ...]] = []
    append = out.append
    for row, (_, metrics, _) in valid:
        ref = row.ref
        for key, summary in metrics.items():
            last, low, high, count = summary
            if (
                type(last) is float
                and type(low) is float
                and type(high) is float
                and type(count) is int
                and -_SQL_INT <= count < _SQL_INT
            ):
                append((key, ref, last, low, high, count))
            else:
                append((key, ref, *map(sql_number, summary)))
    return out


def _param_rows(
    valid: list[tuple[CachedRun, Indexed]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ``param_values`` rows of ``valid`` rows, as ``_param_value`` makes them: those
    with no text as ``(key, ref, num)``, the others as ``(key, ref, num, text)``. Apart, so
    that a number's NULL text is the column's default, not a bound None. A finite float
    and an int a float holds are numbers without text, and a text's columns are remembered
    (a sweep's runs share their texts: the regular expression of ``as_number`` then runs
    once a text, not once a run)."""
    numbers: list[tuple[Any, ...]] = []
    others: list[tuple[Any, ...]] = []
    number, other = numbers.append, others.append
    texts = _TEXT_PARAMS
    for row, (params, _, _) in valid:
        ref = row.ref
        for key, value in params.items():
            kind = type(value)
            if kind is float and value - value == 0.0:  # finite: inf - inf and NaN are NaN
                number((key, ref, value))
                continue
            if kind is int and -_FLOAT_INT_LIMIT < value < _FLOAT_INT_LIMIT:
                number((key, ref, float(value)))
                continue
            if kind is str:
                columns = texts.get(value)
                if columns is None:
                    if len(texts) >= _TEXT_PARAMS_KEPT:
                        texts.clear()
                    columns = texts[value] = _param_value(value)
            else:
                columns = _param_value(value)
            if columns[1] is None:
                number((key, ref, columns[0]))
            else:
                other((key, ref, *columns))
    return numbers, others


# A text param's (num, text) columns by its text; emptied when full.
_TEXT_PARAMS: dict[str, tuple[float | None, str | None]] = {}
_TEXT_PARAMS_KEPT = 1024  # a few hundred kB at most: memory is counted at 100,000 runs
_FLOAT_INT_LIMIT = 2**1023  # as gitruns.query.values.as_number: below it, float(value)


def _param_value(value: Any) -> tuple[float | None, str | None]:
    """A param's ``num`` and ``text`` columns. A finite number has no text: only a literal
    that is not a number is compared as text (gitruns.query.sql), and none equals the text
    of a finite int or float, which is numeric (``0.01``, ``1e-05``, ``-3``)."""
    if type(value) is float:
        return value, None if math.isfinite(value) else as_text(value)
    number = as_number(value)
    if type(value) is int and number is not None and math.isfinite(number):
        return number, None
    return number, as_text(value)


def _indexed(row: CachedRun) -> Indexed:
    return row.params, row.metrics, row.parents


def _index_keys(db: sqlite3.Connection, refs: list[str]) -> dict[str, tuple[str, list[Any]]]:
    """The primary keys of the rows that index the cached runs of ``refs``, by table:
    ``{table: (its key column beside ref, [(key, ref), ...])}``, read from the runs' own
    rows (their params, metrics and parents), which were written in the same transaction."""
    params: list[Any] = []
    metrics: list[Any] = []
    parents: list[Any] = []
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        sql = (
            "SELECT ref, params, metrics, extras FROM runs WHERE error IS NULL"
            f" AND ref IN ({', '.join('?' * len(chunk))})"
        )
        for ref, params_json, metrics_json, extras_json in db.execute(sql, chunk):
            params.extend((key, ref) for key in json.loads(params_json))
            metrics.extend((key, ref) for key in json.loads(metrics_json))
            extras = json.loads(extras_json or "{}")
            parents.extend((parent, ref) for parent in extras.get("parents", []))
    return {
        "metric_values": ("key", metrics),
        "param_values": ("key", params),
        "run_parents": ("parent_id", parents),
    }


def _serve_unchanged(
    store: Store, path: Path, where: Clause | None, asked: list[str]
) -> Snapshot | None:
    """The snapshot from the cache file alone, when it holds the fingerprint of the refs
    as they stat now (its rows are then exactly the refs: see ``_remember``); None when
    it does not, or the file cannot be read (the caller then syncs)."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        db.execute("BEGIN")  # one read transaction: the fingerprint and the rows agree
        if db.execute("PRAGMA user_version").fetchone()[0] != CACHE_SCHEMA_VERSION:
            return None
        found = db.execute("SELECT fingerprint FROM ref_state").fetchone()
        if found is None or not refstate.unchanged(store.common_dir, found[0]):
            return None
        stored = _select(db, where)
        shown = _shown_among(db, list(stored.values()))
        recorded = _with_refs(db, asked)
        db.execute("COMMIT")
    except sqlite3.Error:
        return None
    finally:
        db.close()
    valid = [row for _, row in sorted(stored.items()) if row.error is None]
    problems = [(ref, row.error) for ref, row in sorted(stored.items()) if row.error is not None]
    return Snapshot(valid, problems, shown, recorded=recorded)


def _shown_among(db: sqlite3.Connection, rows: list[CachedRun]) -> set[str]:
    """Which of ``rows`` are the copies to show (``_shown_refs``), looking up the other
    copies of fetched runs only: a local ref is always the one shown."""
    shown = {row.ref for row in rows if row.origin == LOCAL}
    fetched = [row for row in rows if row.origin != LOCAL]
    ids = sorted({row.run_id for row in fetched})
    copies: dict[str, tuple[str, str, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = (
            f"SELECT ref, run_id, origin FROM runs WHERE run_id IN ({', '.join('?' * len(chunk))})"
        )
        copies.update({ref: (run_id, origin, "") for ref, run_id, origin in db.execute(sql, chunk)})
    return shown | (_shown_refs(copies) & {row.ref for row in fetched})


def _with_refs(db: sqlite3.Connection, run_ids: list[str]) -> set[str]:
    """Those of ``run_ids`` that a cached run ref has (local or fetched)."""
    found: set[str] = set()
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        sql = f"SELECT run_id FROM runs WHERE run_id IN ({', '.join('?' * len(chunk))})"
        found.update(run_id for (run_id,) in db.execute(sql, chunk))
    return found


def _remember(
    db: sqlite3.Connection,
    state: str,
    refs: dict[str, tuple[str, str, str]],
    written: dict[str, str] | None = None,
) -> None:
    """Record ``state`` (taken before ``refs`` were listed) as the refs the rows match, if
    in the same transaction the rows hold exactly ``refs``: any sync that wrote rows from an
    older listing meanwhile, or rows that could not be written (missing objects, a busy
    file), leave no fingerprint, and the next query lists the refs again. ``written``:
    every row of the file, ``{ref: commit}`` (a build file, which only its build writes),
    so they need not be read back."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT fingerprint FROM ref_state").fetchone() != (state,):
                rows = written
                if rows is None:
                    rows = dict(db.execute("SELECT ref, commit_id FROM runs").fetchall())
                if rows == {ref: commit for ref, (_, _, commit) in refs.items()}:
                    db.execute("INSERT OR REPLACE INTO ref_state VALUES (0, ?)", (state,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except sqlite3.OperationalError:
        pass  # busy: only the next query's speed is at stake
