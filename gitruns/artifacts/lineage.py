"""Lineage: how runs build on each other, by declared parents and by content.

An edge ``A -> B`` means B builds on A: A is one of B's ``parents``, or one of B's
``inputs`` (recorded with ``log_input``) has the sha256 of one of A's artifacts (a dataset
made by a preprocessing run, a checkpoint fine-tuned further). Every run the cache knows
(local and fetched) takes part; the graph is read from the cache, not from git, so it stays
fast with many runs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gitruns.artifacts.located import locate_run
from gitruns.query import cache
from gitruns.storage import Store

MAX_DEPTH = 50


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    status: str
    origin: str  # "local" or the remote it was fetched from


@dataclass(frozen=True)
class Edge:
    upstream: str
    downstream: str
    kind: str  # "parent" or "artifact"
    label: str  # for "artifact": "<artifact path> -> <input path>"


@dataclass
class Lineage:
    root: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)  # every edge among the nodes
    missing_parents: list[str] = field(default_factory=list)  # parents not known here

    def upstream_of(self, run_id: str) -> list[Edge]:
        return [e for e in self.edges if e.downstream == run_id]

    def downstream_of(self, run_id: str) -> list[Edge]:
        return [e for e in self.edges if e.upstream == run_id]


def lineage(store: Store, ref: str, depth: int = MAX_DEPTH) -> Lineage:
    """The runs upstream and downstream of a run, ``depth`` steps each way at most."""
    root = locate_run(store, ref).run.id
    records = {row.run_id: row.record() for row in cache.sync(store).runs()}
    all_edges = _edges(records)
    result = Lineage(root)
    for direction in ("up", "down"):
        queue = deque([(root, 0)])
        seen = {root}
        while queue:
            current, level = queue.popleft()
            if level >= depth:
                continue
            for edge in all_edges:
                near, far = (
                    (edge.downstream, edge.upstream)
                    if direction == "up"
                    else (edge.upstream, edge.downstream)
                )
                if near != current:
                    continue
                if edge not in result.edges:
                    result.edges.append(edge)
                if far not in seen:
                    seen.add(far)
                    queue.append((far, level + 1))
    ids = {root} | {e.upstream for e in result.edges} | {e.downstream for e in result.edges}
    for run_id in sorted(ids):
        record = records.get(run_id)
        if record is None:
            result.missing_parents.append(run_id)
            result.nodes[run_id] = Node(run_id, "(not here)", "?", "?")
        else:
            result.nodes[run_id] = Node(
                run_id, str(record["name"]), str(record["status"]), str(record["origin"])
            )
    return result


def _edges(records: dict[str, dict[str, Any]]) -> list[Edge]:
    producers: dict[str, list[tuple[str, str]]] = {}
    for run_id, record in records.items():
        for artifact in record.get("artifacts") or []:
            producers.setdefault(str(artifact.get("sha256")), []).append((run_id, artifact["path"]))
    edges: list[Edge] = []
    for run_id, record in sorted(records.items()):
        for parent in record.get("parents") or []:
            edges.append(Edge(str(parent), run_id, "parent", ""))
        for item in record.get("inputs") or []:
            for producer, path in producers.get(str(item.get("sha256")), []):
                if producer != run_id:
                    edges.append(Edge(producer, run_id, "artifact", f"{path} -> {item['path']}"))
    return edges
