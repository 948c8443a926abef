"""Terminal safety: a hostile remote plants terminal control sequences in every field of a
run; after a real ``git fetch`` (and ``gitruns pull``), what each text command writes to a
real pseudo-terminal holds none of them (they are shown escaped), and JSON escapes them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _sharing_helpers import make_run, make_team, runs_of, store
from _trust_helpers import commit_tree, make_tree, plumb, pty_output, run_document, tree_entries
from conftest import git, gitruns_cli

from gitruns.display.safe_text import printable
from gitruns.format import yamlio
from gitruns.format.ids import new_run_id
from gitruns.sharing import push_runs

# One of each kind: OSC 52 (clipboard write), OSC 8 (hyperlink), window title, clear
# screen and terminal reset, C1 controls (CSI, OSC, ST, NEL), bidi overrides and isolates,
# other C0 controls (bell, backspace, carriage return, NUL, VT, FF), DEL, and a newline
# that would forge a line of output.
KINDS = {
    "osc52": "\x1b]52;c;ZXZpbA==\x07",
    "osc8": "\x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\",
    "title": "\x1b]0;owned\x07",
    "clear": "\x1b[2J\x1b[3J\x1bc",
    "c1": "\x9b31m\x9d0;t\x9c\x85",
    "bidi": "\u202e\u202d\u2066\u2067\u2068\u2069\u200f\u061c",
    "c0": "\x07\x08\r\x00\x0b\x0c\x7f",
    "newline": "\nstatus    FINISHED",
}
EVIL = "<" + "".join(KINDS.values()) + ">"
# In a metric key (a file name in the run's tree): C0 is refused by the fetch checks, so
# only what passes them.
EVIL_KEY = "loss\u202e\x9b2J\u2066"
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
COLOUR = re.compile(rb"\x1b\[[0-9;]*m")  # plot's own colours: SGR only


def _unsafe(output: bytes, *, colours: bool = False) -> list[str]:
    """The control characters in ``output`` (newlines aside), as a list of reprs."""
    if colours:
        output = COLOUR.sub(b"", output)
    text = output.decode("utf-8")
    return [
        repr(c)
        for c in text
        if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c in BIDI
    ]


def _hostile_run(remote: Path, model: str) -> str:
    """A run on ``remote`` with EVIL in every text field, a metric named EVIL_KEY and an
    annotation commit on top whose message and author carry EVIL too."""
    run_id = new_run_id()
    document = run_document(remote, model)
    document.update(
        id=run_id,
        name="evil" + EVIL,
        status="FAILED",
        host=EVIL,
        exit_code=3,
        error={"type": EVIL, "message": EVIL, "traceback": EVIL},
        user={"name": EVIL, "email": EVIL, "os_user": EVIL},
        tags={"t" + EVIL: EVIL},
        notes=[{"text": EVIL + "\nsecond line", "author": EVIL, "time": EVIL}],
        inputs=[{"path": EVIL, "uri": EVIL, "sha256": None, "size": None}],
        command={"line": EVIL},
        param_sources={"p" + EVIL: EVIL},
    )
    document["git"] = {**document["git"], "branch": EVIL, "remote_url": EVIL}
    summary = {EVIL_KEY: {"count": 2, "last": 0.5, "min": 0.5, "max": 1.0, "last_step": 1}}
    blobs = {
        "run.yaml": yamlio.dump(document),
        "params.yaml": yamlio.dump({"p" + EVIL: EVIL, "lr": 0.1}),
        "summary.yaml": yamlio.dump(summary),
    }
    entries = {e[3]: e for e in tree_entries(remote, model) if e[3] != "metrics"}
    for name, data in blobs.items():
        entries[name] = (
            "100644",
            "blob",
            plumb(remote, "hash-object", "-w", "--stdin", data=data),
            name,
        )
    csv = plumb(
        remote, "hash-object", "-w", "--stdin", data=b"step,timestamp,value\n0,1,1.0\n1,2,0.5\n"
    )
    metrics = make_tree(remote, [("100644", "blob", csv, EVIL_KEY + ".csv")])
    entries["metrics"] = ("040000", "tree", metrics, "metrics")
    code = plumb(remote, "rev-parse", f"{model}^")
    recorded = commit_tree(remote, make_tree(remote, list(entries.values())), [code], "run")
    no_nul = EVIL.replace("\x00", "")  # argv, environment and commit messages hold no NUL
    annotation = plumb(
        remote,
        "commit-tree",
        plumb(remote, "rev-parse", f"{recorded}^{{tree}}"),
        "-p",
        recorded,
        "-F",
        "-",
        data=f"tag: {no_nul}\n\nGitruns-Annotation: tag\n".encode(),
        env={"GIT_AUTHOR_NAME": no_nul.replace("\n", ""), "GIT_AUTHOR_EMAIL": "e@x"},
    )
    plumb(remote, "update-ref", f"refs/runs/{run_id}", annotation)
    return run_id


def _invalid_run(remote: Path, model: str) -> str:
    """A run whose status is EVIL: the schema error quoting it reaches a warning."""
    run_id = new_run_id()
    document = run_document(remote, model)
    document.update(id=run_id, status=EVIL)
    entries = {e[3]: e for e in tree_entries(remote, model)}
    blob = plumb(remote, "hash-object", "-w", "--stdin", data=yamlio.dump(document))
    entries["run.yaml"] = ("100644", "blob", blob, "run.yaml")
    code = plumb(remote, "rev-parse", f"{model}^")
    commit = commit_tree(remote, make_tree(remote, list(entries.values())), [code], "run")
    plumb(remote, "update-ref", f"refs/runs/{run_id}", commit)
    return run_id


@pytest.fixture
def fetched(tmp_path: Path) -> tuple[Path, str, str]:
    """Bob's clone after a plain ``git fetch`` of a hostile remote: (bob, evil, good)."""
    team = make_team(tmp_path)
    good = make_run(team.alice, "good")
    push_runs(store(team.alice), "origin", allow_unpublished_code=True)
    model = runs_of(team.remote)[good]
    evil = _hostile_run(team.remote, model)
    _invalid_run(team.remote, model)
    assert gitruns_cli(team.bob, "remote", "setup").returncode == 0
    git(team.bob, "fetch", "-q")
    assert evil in runs_of(team.bob, "refs/remote-runs/origin/")
    return team.bob, evil, good


def _check(repo: Path, *args: str, colours: bool = False) -> str:
    code, output = pty_output(repo, *args)
    assert code == 0, output.decode("utf-8", "replace")
    assert _unsafe(output, colours=colours) == [], args
    return output.decode("utf-8")


def test_printable_escapes_every_kind() -> None:
    for kind, text in KINDS.items():
        shown = printable(text)
        assert _unsafe(shown.encode()) == [] and "\n" not in shown, kind
    assert printable("a\tb\nc", keep="\n") == "a\\tb\nc"
    assert printable("\x1b]52;c;x\x07") == "\\x1b]52;c;x\\x07"
    assert printable("\u202eabc") == "\\u202eabc"
    assert printable("plain ünïcödé ▁▂█ 日本") == "plain ünïcödé ▁▂█ 日本"


def test_listing_fetched_runs(fetched: tuple[Path, str, str]) -> None:
    bob, evil, _good = fetched
    table = _check(bob, "ls")
    assert evil[-8:] in table and "\\x1b]52;c;ZXZpbA==\\x07" in table
    assert "skipping refs/remote-runs/origin/" in table  # the invalid run's warning
    for fmt in ("csv", "markdown"):
        assert "\\x1b" in _check(bob, "ls", "--all", "--format", fmt)
    assert "\\x1b" in _check(bob, "ls", "-c", "id,name,user,host,branch")


def test_json_escapes_control_characters(fetched: tuple[Path, str, str]) -> None:
    bob, evil, _good = fetched
    result = gitruns_cli(bob, "ls", "--format", "json")
    assert _unsafe(result.stdout.encode()) == []
    (run,) = [r for r in json.loads(result.stdout) if r["id"] == evil]
    assert run["name"] == "evil" + EVIL and run["host"] == EVIL  # escaped, not altered


def test_every_text_command_on_a_pulled_run(fetched: tuple[Path, str, str]) -> None:
    bob, evil, good = fetched
    _check(bob, "pull")
    page = _check(bob, "show", evil)
    assert "\\x1b]52" in page and "\\u202e" in page
    # the name's planted "\nstatus    FINISHED" stays on the name's line (cut to the width)
    assert page.count("\nstatus    ") == 1
    assert "second line" in page  # a note's own lines stay lines
    for fmt in ("json", "yaml"):
        _check(bob, "show", evil, "--format", fmt)
    for fmt in ("text", "markdown"):
        assert "\\x1b" in _check(bob, "diff", good, evil, "--format", fmt)
        assert "\\x1b" in _check(bob, "compare", good, evil, "--all", "--format", fmt)
    history = _check(bob, "history", evil)
    assert "\\x1b" in history
    _check(bob, "history", evil, "--format", "json")
    assert "\\u202e" in _check(bob, "metrics", evil)
    _check(bob, "metrics", evil, "--format", "csv")
    _check(bob, "metrics", evil, EVIL_KEY)
    assert "\\x1b" in _check(bob, "plot", EVIL_KEY, evil, colours=True)
    _check(bob, "plot", EVIL_KEY, evil, "--style", "ascii")
    _check(bob, "tag", evil, "reviewed=yes")
    _check(bob, "note", evil, "seen")
    _check(bob, "rm", "--yes", evil)
    assert "\\x1b" in _check(bob, "restore", "--list")
    _check(bob, "restore", evil)
    _check(bob, "rename", evil, "renamed")


def test_error_messages_quoting_run_data(fetched: tuple[Path, str, str]) -> None:
    bob, _evil, _good = fetched
    code, output = pty_output(bob, "show", "evil" + EVIL.replace("\x00", ""))
    assert code == 1 and output.startswith(b"gitruns: error: ")
    assert _unsafe(output) == []
