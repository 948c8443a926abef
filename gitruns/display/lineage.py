"""``gitruns lineage`` as a text tree, Graphviz dot, or a Mermaid flowchart."""

from __future__ import annotations

from gitruns.artifacts.lineage import Edge, Lineage, Node


def _label(node: Node) -> str:
    where = "" if node.origin in ("local", "?") else f", from {node.origin}"
    return f"{node.name} ({node.id[-8:]}, {node.status}{where})"


def _why(edge: Edge) -> str:
    return "parent" if edge.kind == "parent" else f"artifact {edge.label}"


def as_text(graph: Lineage) -> str:
    """Upstream runs above the run (each under the run that builds on it), downstream below."""
    root = graph.nodes[graph.root]
    lines = ["upstream"]
    lines += _tree(graph, graph.root, up=True, indent="  ", seen={graph.root}) or ["  (none)"]
    lines += [f"run  {_label(root)}", "downstream"]
    lines += _tree(graph, graph.root, up=False, indent="  ", seen={graph.root}) or ["  (none)"]
    return "\n".join(lines) + "\n"


def _tree(graph: Lineage, run_id: str, *, up: bool, indent: str, seen: set[str]) -> list[str]:
    edges = graph.upstream_of(run_id) if up else graph.downstream_of(run_id)
    lines = []
    for edge in sorted(edges, key=lambda e: (e.upstream, e.downstream, e.label)):
        other = edge.upstream if up else edge.downstream
        again = other in seen
        seen_note = "  (shown above)" if again else ""
        lines.append(f"{indent}{_label(graph.nodes[other])}  [{_why(edge)}]{seen_note}")
        if not again:
            seen.add(other)
            lines += _tree(graph, other, up=up, indent=indent + "  ", seen=seen)
    return lines


def as_dot(graph: Lineage) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for run_id, node in sorted(graph.nodes.items()):
        style = ", style=bold" if run_id == graph.root else ""
        lines.append(f'  "{run_id}" [label="{_escape(_label(node))}"{style}];')
    for edge in graph.edges:
        lines.append(f'  "{edge.upstream}" -> "{edge.downstream}" [label="{_escape(_why(edge))}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def as_mermaid(graph: Lineage) -> str:
    names = {run_id: f"r{index}" for index, run_id in enumerate(sorted(graph.nodes))}
    lines = ["flowchart LR"]
    for run_id, node in sorted(graph.nodes.items()):
        lines.append(f'  {names[run_id]}["{_mermaid(_label(node))}"]')
    for edge in graph.edges:
        lines.append(
            f'  {names[edge.upstream]} -->|"{_mermaid(_why(edge))}"| {names[edge.downstream]}'
        )
    lines.append(f"  style {names[graph.root]} stroke-width:3px")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _mermaid(text: str) -> str:
    return text.replace('"', "#quot;")
