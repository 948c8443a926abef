"""``gitruns lineage``: parents, inputs matched to other runs' artifacts by sha256, and the
runs downstream; text, dot and mermaid."""

from __future__ import annotations

from pathlib import Path

from conftest import gitruns_cli

import gitruns

DATA = b"x,y\n1,2\n"
WEIGHTS = b"weights v1"


def _pipeline(repo: Path) -> dict[str, str]:
    """prep -> (artifact) train -> (parent and artifact) finetune; unrelated alone."""
    (repo / "raw.csv").write_text("raw\n")
    (repo / "train.csv").write_bytes(DATA)
    with gitruns.start_run("prep") as prep:
        prep.log_input(repo / "raw.csv")
        prep.log_artifact(repo / "train.csv", "data")
    (repo / "data-copy.csv").write_bytes(DATA)  # same bytes, another path
    (repo / "model.pt").write_bytes(WEIGHTS)
    with gitruns.start_run("train") as train:
        train.log_input(repo / "data-copy.csv")
        train.log_artifact(repo / "model.pt")
    (repo / "start.pt").write_bytes(WEIGHTS)
    with gitruns.start_run("finetune", parents=[train.id]) as finetune:
        finetune.log_input(repo / "start.pt")
    with gitruns.start_run("unrelated"):
        pass
    return {"prep": prep.id, "train": train.id, "finetune": finetune.id}


def test_lineage_text_tree(repo: Path) -> None:
    ids = _pipeline(repo)
    result = gitruns_cli(repo, "lineage", "train")
    assert result.returncode == 0, result.stderr
    short = {name: run_id[-8:] for name, run_id in ids.items()}
    assert result.stdout.splitlines() == [
        "upstream",
        f"  prep ({short['prep']}, FINISHED)  [artifact data/train.csv -> "
        f"{repo / 'data-copy.csv'}]",
        f"run  train ({short['train']}, FINISHED)",
        "downstream",
        f"  finetune ({short['finetune']}, FINISHED)  [parent]",
        f"  finetune ({short['finetune']}, FINISHED)  [artifact model.pt -> "
        f"{repo / 'start.pt'}]  (shown above)",
    ]
    top = gitruns_cli(repo, "lineage", "finetune").stdout
    assert top.index("  train (") < top.index("    prep (")  # transitive, nested
    assert "unrelated" not in top


def test_lineage_dot_and_mermaid(repo: Path) -> None:
    ids = _pipeline(repo)
    dot = gitruns_cli(repo, "lineage", "finetune", "--format", "dot").stdout
    assert dot.startswith("digraph lineage {")
    assert f'"{ids["train"]}" -> "{ids["finetune"]}" [label="parent"];' in dot
    assert f'"{ids["prep"]}" -> "{ids["train"]}" [label="artifact data/train.csv' in dot
    assert (
        f'"{ids["finetune"]}" [label="finetune ({ids["finetune"][-8:]}, FINISHED)", style=bold];'
        in dot
    )
    mermaid = gitruns_cli(repo, "lineage", "finetune", "--format", "mermaid").stdout
    lines = mermaid.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum("-->" in line for line in lines) == 3
    assert any('-->|"parent"|' in line for line in lines)
    bad = gitruns_cli(repo, "lineage", "nope")
    assert bad.returncode == 1 and bad.stderr.startswith("gitruns: error: no run matches 'nope'")
