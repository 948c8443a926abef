"""``gitruns check`` results as a text table, GitHub Actions annotations, JUnit XML or JSON."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from gitruns.display.safe_text import printable
from gitruns.format.ids import short_id
from gitruns.format.text import format_number
from gitruns.query.cache import CachedRun
from gitruns.review.check import FAIL, NOTHING_TO_JUDGE, PASS, CheckResult, Verdict

FORMATS = ["text", "github", "junit", "json"]


def run_label(row: CachedRun | None) -> str:
    """``name (1a2b3c4d)``, safe to print (run data is untrusted: display.safe_text)."""
    return "(none)" if row is None else printable(f"{row.name} ({short_id(row.run_id)})")


def values_text(values: dict[str, Any]) -> str:
    return printable(", ".join(f"{k} = {_value(v)}" for k, v in values.items()))


def _value(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    return format_number(value)


def summary_line(result: CheckResult) -> str:
    runs = f"{len(result.runs)} run{'s' if len(result.runs) != 1 else ''}"
    if result.outcome == NOTHING_TO_JUDGE:
        return f"gitruns check: nothing to judge: {result.nothing_to_judge}"
    failed = len(result.failed)
    if result.outcome == PASS:
        return f"gitruns check: passed: {len(result.verdicts)} check(s) on {runs}"
    return f"gitruns check: FAILED: {failed} of {len(result.verdicts)} check(s) on {runs}"


def check_text(result: CheckResult) -> str:
    """The summary line; with failures, a table of what failed and the values read."""
    from tabulate import tabulate

    lines = [summary_line(result)]
    if result.baseline is not None:
        lines.append(f"baseline: {run_label(result.baseline)}")
    if result.outcome == FAIL:
        rows = [
            [printable(v.expression), run_label(v.run), v.run.status, values_text(v.values)]
            for v in result.failed
        ]
        table = tabulate(
            rows,
            headers=["failed", "run", "status", "values"],
            tablefmt="simple",
            disable_numparse=True,
        )
        lines += ["", table]
    return "\n".join(lines) + "\n"


def check_github(result: CheckResult) -> str:
    """Workflow commands GitHub Actions turns into annotations on the run's summary page."""
    lines = []
    if result.outcome == NOTHING_TO_JUDGE:
        lines.append(_command("warning", "gitruns check", result.nothing_to_judge or ""))
    for verdict in result.failed:
        message = f"{verdict.expression} failed for run {run_label(verdict.run)}: " + values_text(
            verdict.values
        )
        lines.append(_command("error", f"gitruns check: {verdict.expression}", message))
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def _command(level: str, title: str, message: str) -> str:
    return f"::{level} title={_escape_property(title)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text XML 1.0 can hold: run names and values from fetched runs may hold anything."""
    return _NOT_XML.sub("\ufffd", text)


def check_junit(result: CheckResult, hostname: str = "localhost") -> str:
    """JUnit XML (the Ant format that GitHub reporters, GitLab and Jenkins read): one
    testsuite per judged run, one testcase per expression; nothing to judge is one error."""
    root = ET.Element("testsuites")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if result.outcome == NOTHING_TO_JUDGE:
        suite = _suite(root, 0, "gitruns check", stamp, hostname, [])
        case = ET.SubElement(
            suite, "testcase", name="runs to judge", classname="gitruns.check", time="0"
        )
        error = ET.SubElement(
            case, "error", message=_xml(result.nothing_to_judge or ""), type="nothing"
        )
        error.text = _xml(result.nothing_to_judge or "")
        suite.set("errors", "1")
        suite.set("tests", "1")
        _outputs(suite)
    for index, row in enumerate(result.runs):
        verdicts = [v for v in result.verdicts if v.run is row]
        suite = _suite(root, index, _xml(run_label(row)), stamp, hostname, verdicts)
        for verdict in verdicts:
            case = ET.SubElement(
                suite,
                "testcase",
                name=_xml(verdict.expression),
                classname=f"gitruns.check.{row.run_id}",
                time="0",
            )
            if not verdict.holds:
                failure = ET.SubElement(
                    case, "failure", message=_xml(values_text(verdict.values)), type="check"
                )
                failure.text = _xml(_failure_text(verdict, result))
        _outputs(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(
    root: ET.Element, index: int, name: str, stamp: str, hostname: str, verdicts: list[Verdict]
) -> ET.Element:
    suite = ET.SubElement(
        root,
        "testsuite",
        name=name,
        package="gitruns.check",
        id=str(index),
        timestamp=stamp,
        hostname=hostname,
        tests=str(len(verdicts)),
        failures=str(sum(not v.holds for v in verdicts)),
        errors="0",
        time="0",
    )
    ET.SubElement(suite, "properties")
    return suite


def _outputs(suite: ET.Element) -> None:
    ET.SubElement(suite, "system-out")
    ET.SubElement(suite, "system-err")


def _failure_text(verdict: Verdict, result: CheckResult) -> str:
    lines = [
        f"expression: {verdict.expression}",
        f"run: {verdict.run.run_id} ({verdict.run.name}), status {verdict.run.status}",
    ]
    if result.baseline is not None:
        lines.append(f"baseline: {result.baseline.run_id} ({result.baseline.name})")
    lines += [f"{k} = {_value(v)}" for k, v in verdict.values.items()]
    return "\n".join(lines)


def check_json(result: CheckResult) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n"
