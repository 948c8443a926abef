"""``gitruns report``: markdown, json and one self-contained html file (no browser here;
tests/test_ui_browser.py opens the html from disk in Chromium)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from _ui_helpers import make_sweep
from conftest import gitruns_cli

import gitruns
from gitruns.ui import assets

STATIC = Path(assets.__file__).parent / "static"


def test_markdown_report_of_named_runs(repo: Path) -> None:
    make_sweep(repo, count=2, steps=30)
    result = gitruns_cli(repo, "report", "sweep-0", "sweep-1")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("# gitruns report: project\n")
    assert "## Runs" in text and "## What differs" in text
    assert "| params.lr | 0.1 | 0.3 |" in text
    assert "| tags.sweep" not in text  # the same in both: not a difference
    assert "## sweep-0 (`" in text and "| lr | 0.1 | api |" in text
    assert re.search(r"\| loss \| [0-9.]+ \| [0-9.]+ \| 1\.0\d* \| 30 \| [▁-█ ]+ \|", text)


def test_json_report_holds_downsampled_series(repo: Path) -> None:
    with gitruns.start_run("long", params={"lr": 0.1}) as run:
        for step in range(3000):
            run.log_metric("loss", 1 / (step + 1), step=step)
    result = gitruns_cli(repo, "report", "long", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["name"] for r in data["runs"]] == ["long"]
    series = data["series"][run.id]["loss"]
    assert series["total"] == 3000 and len(series["value"]) <= 602
    assert data["compare"]["metric_keys"] == ["loss"]
    assert data["runs"][0]["logs"] == [] and data["runs"][0]["has_patch"] is False


def test_html_report_is_one_self_contained_file(repo: Path, tmp_path: Path) -> None:
    make_sweep(repo, count=2, steps=10)
    gitruns.add_run_note("sweep-0", "watch out: </script><script>alert(1)</script>")
    out = tmp_path / "report.html"
    result = gitruns_cli(repo, "report", "--filter", 'tags.sweep = "lr"', "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out} (2 runs, html)" in result.stderr
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing remote
    assert "<link" not in page and "<script src" not in page
    assert "uPlot 1.6.32 (MIT licence" in page
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 3  # uPlot, the data, the views
    data = json.loads(re.search(r'id="gitruns-data">(.*?)</script>', page, re.DOTALL).group(1))
    assert sorted(r["name"] for r in data["runs"]) == ["sweep-0", "sweep-1"]
    notes = [n["text"] for r in data["runs"] for n in r["notes"]]
    assert "watch out: </script><script>alert(1)</script>" in notes  # escaped, intact
    assert "import {" not in scripts[2] and "export " not in scripts[2]


def test_the_output_suffix_picks_the_format(repo: Path, tmp_path: Path) -> None:
    make_sweep(repo, count=1, steps=3)
    for name, start in (("r.md", "# gitruns report"), ("r.json", "{"), ("r.htm", "<!doctype")):
        result = gitruns_cli(repo, "report", "sweep-0", "-o", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / name).read_text().startswith(start)
    forced = gitruns_cli(repo, "report", "sweep-0", "--format", "json", "-o", str(tmp_path / "x"))
    assert json.loads((tmp_path / "x").read_text())["runs"]
    assert forced.returncode == 0


def test_report_errors_are_one_line(repo: Path, tmp_path: Path) -> None:
    make_sweep(repo, count=1, steps=3)
    nothing = gitruns_cli(repo, "report")
    assert nothing.returncode == 1
    assert nothing.stderr == ("gitruns: error: no runs given; name runs, or pass --filter EXPR\n")
    bad = gitruns_cli(repo, "report", "--filter", "params.lr >")
    assert bad.returncode == 1 and "syntax error at column" in bad.stderr and "^" in bad.stderr
    none = gitruns_cli(repo, "report", "--filter", "params.lr > 100")
    assert none.returncode == 1 and "no runs match" in none.stderr
    missing = gitruns_cli(repo, "report", "sweep-0", "-o", str(tmp_path / "no" / "r.html"))
    assert missing.returncode == 1 and "no folder" in missing.stderr
    unknown = gitruns_cli(repo, "report", "nope")
    assert unknown.returncode == 1 and "no run matches 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr + bad.stderr


_TOP_LEVEL = re.compile(
    r"^(?:export )?(?:async )?(?:function|class|const|let) ([A-Za-z_$][\w$]*)", re.MULTILINE
)


def test_front_end_modules_can_be_inlined() -> None:
    modules = sorted(p.name for p in (STATIC / "js").glob("*.js"))
    dashboard_only = ["main.js", "table.js"]
    assert sorted([*assets.REPORT_MODULES, *dashboard_only]) == modules
    seen: dict[str, str] = {}
    for name in [*assets.REPORT_MODULES, *dashboard_only]:
        source = (STATIC / "js" / name).read_text()
        for line in source.splitlines():
            if line.startswith("import"):
                assert assets.module_imports(line + "\n"), f"{name}: {line} is not inlinable"
        for top in _TOP_LEVEL.findall(source):
            assert top not in seen, f"{top} is defined in both {seen.get(top)} and {name}"
            seen[top] = name
    assets.inline_modules(assets.REPORT_MODULES)  # raises on an import out of order


def test_the_vendored_uplot_is_the_pinned_release() -> None:
    vendor = STATIC / "vendor" / "uplot"
    assert "MIT License" in (vendor / "LICENSE").read_text()
    assert f"uPlot {assets.UPLOT_VERSION}" in (vendor / "README.md").read_text()
    assert (
        (vendor / "uPlot.iife.min.js")
        .read_text()
        .startswith(f"/*! https://github.com/leeoniya/uPlot (v{assets.UPLOT_VERSION}) */")
    )
