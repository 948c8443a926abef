"""The front end's files, and the one-file page a report is (every script inlined).

The dashboard loads its JavaScript as ES modules. A report must open from ``file://``,
where a browser refuses to load modules from other files, so the modules are joined into
one inline module: their ``import`` lines dropped and ``export`` words removed. That is
the whole "build": plain text, done when the report is written, never at install time.
Module files therefore use single-line ``import {...} from "./x.js";`` and top-level
names that are unique across files (a test checks both).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

# Dependencies first: each module appears after every module it imports.
REPORT_MODULES = [
    "dom.js",
    "source.js",
    "charts.js",
    "metricgrid.js",
    "parcoords.js",
    "runpage.js",
    "compare.js",
    "report.js",
]
_IMPORT = re.compile(r'^import \{[^}]*\} from "\./([a-z]+\.js)";\n', re.MULTILINE)
_EXPORT = re.compile(r"^export (?=(?:async )?function |class |const |let )", re.MULTILINE)


def static_text(path: str) -> str:
    return (resources.files("gitruns.ui") / "static" / path).read_text(encoding="utf-8")


def module_imports(source: str) -> list[str]:
    return _IMPORT.findall(source)


def inline_modules(names: list[str]) -> str:
    """The modules as one script, in the order given (which must satisfy their imports)."""
    seen: set[str] = set()
    parts = []
    for name in names:
        source = static_text(f"js/{name}")
        missing = [m for m in module_imports(source) if m not in seen]
        if missing:
            raise ValueError(f"{name} imports {missing} before they are inlined")
        body = _EXPORT.sub("", _IMPORT.sub("", source))
        if re.search(r"^\s*(import|export)\b", body, re.MULTILINE):
            raise ValueError(f"{name} has an import or export the inliner cannot handle")
        parts.append(f"// ---- {name}\n{body}")
        seen.add(name)
    return "\n".join(parts)


def _script_safe(text: str) -> str:
    """Text that cannot end the <script> element it sits in."""
    return text.replace("</", "<\\/")


def report_page(data: dict[str, Any], title: str) -> str:
    """A complete HTML page: styles, uPlot, the views and the data, all inline."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    payload = payload.replace("<", "\\u003c").replace("\u2028", "\\u2028")
    styles = static_text("vendor/uplot/uPlot.min.css") + "\n" + static_text("app.css")
    uplot = static_text("vendor/uplot/uPlot.iife.min.js")
    views = inline_modules(REPORT_MODULES)
    if "</script" in uplot.lower() or "</script" in views.lower():
        raise ValueError("a script holds '</script': it cannot be inlined")
    escaped_title = (
        title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gitruns report">
<title>{escaped_title}</title>
<style>
{styles}
</style>
<!-- uPlot {UPLOT_VERSION} (MIT licence, (c) Leon Sorokin): https://github.com/leeoniya/uPlot -->
<script>
{uplot}
</script>
</head>
<body>
<header id="top"><span class="brand">gitruns report</span></header>
<main id="app"><noscript>This report draws its charts with JavaScript.</noscript></main>
<script type="application/json" id="gitruns-data">{payload}</script>
<script type="module">
{views}
</script>
</body>
</html>
"""


UPLOT_VERSION = "1.6.32"
