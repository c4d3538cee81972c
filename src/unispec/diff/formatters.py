"""Render a report for people (text, markdown, html) and machines (json, yaml, junit, github).

Every format is a pure function of the report, deterministic (findings are
already sorted), and one finding never spans lines in the line-oriented
formats so that ``grep`` and CI annotations keep working.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import yaml

from unispec.diff.report import DiffFinding, DiffReport

FORMATS: tuple[str, ...] = ("text", "json", "yaml", "markdown", "html", "junit", "github")


def _summary(report: DiffReport) -> str:
    c = report.counts()
    total = len(report.findings)
    return f"{total} change(s): {c['ERR']} breaking (ERR), {c['WARN']} warning(s), {c['INFO']} info"


def render_text(report: DiffReport) -> str:
    if not report.findings:
        return "No changes found.\n"
    lines = []
    for f in report.findings:
        where = f.operation or "(document)"
        loc = f" [{f.source}]" if f.source else ""
        lines.append(f"{f.level:<4} {f.id}  {where}: {f.message}{loc}")
        lines.append(f"     at {f.pointer or '/'}")
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def render_json(report: DiffReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"


def render_yaml(report: DiffReport) -> str:
    return yaml.safe_dump(report.to_dict(), sort_keys=False, allow_unicode=True)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: DiffReport) -> str:
    out = ["# API changes", "", _summary(report), ""]
    if not report.findings:
        return "\n".join([*out, "No changes found.", ""])
    out += ["| Level | Rule | Operation | Change | Location |", "|---|---|---|---|---|"]
    for f in report.findings:
        loc = f.source or f.pointer or "/"
        out.append(
            f"| {f.level} | `{f.id}` | {_md(f.operation or '(document)')} | {_md(f.message)} "
            f"| `{_md(loc)}` |"
        )
    return "\n".join(out) + "\n"


def render_html(report: DiffReport) -> str:
    rows = []
    for f in report.findings:
        rows.append(
            "<tr class='level-{lvl}'><td>{lvl}</td><td><code>{id}</code></td><td>{op}</td>"
            "<td>{msg}</td><td><code>{loc}</code></td></tr>".format(
                lvl=html.escape(f.level),
                id=html.escape(f.id),
                op=html.escape(f.operation or "(document)"),
                msg=html.escape(f.message),
                loc=html.escape(f.source or f.pointer or "/"),
            )
        )
    body = "\n".join(rows) if rows else "<tr><td colspan='5'>No changes found.</td></tr>"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>API changes</title></head><body>\n"
        f"<h1>API changes</h1>\n<p>{html.escape(_summary(report))}</p>\n"
        "<table>\n<thead><tr><th>Level</th><th>Rule</th><th>Operation</th><th>Change</th>"
        f"<th>Location</th></tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n</body></html>\n"
    )


def render_junit(report: DiffReport) -> str:
    """One test case per finding; findings at or above ``fail_on`` are failures."""
    from unispec.diff.rules import LEVEL_RANK

    gate = LEVEL_RANK[report.fail_on]
    failures = sum(1 for f in report.findings if LEVEL_RANK[f.level] >= gate)
    cases = []
    for f in report.findings:
        name = quoteattr(f"{f.id} {f.operation}".strip())
        classname = quoteattr(f.operation or "document")
        if LEVEL_RANK[f.level] >= gate:
            cases.append(
                f"    <testcase name={name} classname={classname}>\n"
                f"      <failure message={quoteattr(f.message)} type={quoteattr(f.level)}>"
                f"{xml_escape(f.pointer)}</failure>\n    </testcase>"
            )
        else:
            cases.append(f"    <testcase name={name} classname={classname}/>")
    if not cases:
        cases.append("    <testcase name='no changes' classname='unispec.diff'/>")
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f"<testsuites>\n  <testsuite name='unispec diff' tests='{max(len(report.findings), 1)}' "
        f"failures='{failures}'>\n" + "\n".join(cases) + "\n  </testsuite>\n</testsuites>\n"
    )


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: DiffReport) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    kinds = {"ERR": "error", "WARN": "warning", "INFO": "notice"}
    lines = []
    for f in report.findings:
        props = [f"title={_gh_prop(f.id)}"]
        if f.source:
            file, _, line = f.source.rpartition(":")
            if file and line.isdigit():
                props = [f"file={_gh_prop(file)}", f"line={line}", *props]
            else:
                props = [f"file={_gh_prop(f.source)}", *props]
        where = f"{f.operation}: " if f.operation else ""
        lines.append(f"::{kinds[f.level]} {','.join(props)}::{_gh_escape(where + f.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


_RENDERERS: dict[str, Callable[[DiffReport], str]] = {
    "text": render_text,
    "json": render_json,
    "yaml": render_yaml,
    "markdown": render_markdown,
    "html": render_html,
    "junit": render_junit,
    "github": render_github,
}


def render(report: DiffReport, format: str = "text") -> str:
    """Render ``report`` in one of ``FORMATS`` (ValueError otherwise)."""
    try:
        fn = _RENDERERS[format]
    except KeyError:
        raise ValueError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}") from None
    return fn(report)


def finding_line(f: DiffFinding) -> str:
    return f"{f.level} {f.id} {f.operation}: {f.message}"
