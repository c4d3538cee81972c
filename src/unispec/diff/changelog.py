"""Human changelogs and the release history the portal renders.

A changelog groups findings by service, then operation, then section
(Breaking / Deprecated / Added / Changed). The history file keeps every
released version's entries, newest first, as sorted JSON with no
timestamps, so that re-running a release with the same inputs gives the
same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from unispec.diff.report import DiffFinding
from unispec.diff.rules import LEVEL_RANK, LevelName

SECTIONS: tuple[str, ...] = ("Breaking", "Deprecated", "Added", "Changed")
HISTORY_FORMAT = 1


def select(findings: Iterable[DiffFinding], level: LevelName = "INFO") -> list[DiffFinding]:
    """Findings at or above ``level`` (the changelog's ``--level``)."""
    gate = LEVEL_RANK[level]
    return [f for f in findings if LEVEL_RANK[f.level] >= gate]


def entries(findings: Iterable[DiffFinding]) -> list[dict[str, Any]]:
    """Plain, sorted entries (what the history file stores)."""
    out = [
        {
            "service": f.service or "(general)",
            "operation": f.operation or "(document)",
            "section": f.section,
            "id": f.id,
            "level": f.level,
            "message": f.message,
        }
        for f in findings
    ]
    order = {s: i for i, s in enumerate(SECTIONS)}
    out.sort(
        key=lambda e: (e["service"], e["operation"], order[e["section"]], e["id"], e["message"])
    )
    return out


def render_entries(version: str, items: list[dict[str, Any]], heading: str = "##") -> str:
    """Markdown for one version: service -> operation -> section bullets."""
    lines = [f"{heading} {version}", ""]
    if not items:
        return "\n".join([*lines, "No API changes.", ""])
    breaking = sum(1 for e in items if e["section"] == "Breaking")
    if breaking:
        lines += [f"**{breaking} breaking change(s).**", ""]
    services: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    for e in items:
        ops = services.setdefault(e["service"], {})
        ops.setdefault(e["operation"], {}).setdefault(e["section"], []).append(e)
    for service in sorted(services):
        lines += [f"{heading}# {service}", ""]
        for op in sorted(services[service]):
            lines += [f"{heading}## `{op}`", ""]
            for section in SECTIONS:
                group = services[service][op].get(section)
                if not group:
                    continue
                lines.append(f"**{section}**")
                lines.append("")
                lines += [f"- {e['message']} (`{e['id']}`)" for e in group]
                lines.append("")
    return "\n".join(lines)


def render_changelog(
    findings: Iterable[DiffFinding], version: str = "Unreleased", level: LevelName = "INFO"
) -> str:
    body = render_entries(version, entries(select(findings, level)))
    return f"# Changelog\n\n{body}"


def add_release(
    history: dict[str, Any] | None, version: str, findings: Iterable[DiffFinding], base: str = ""
) -> dict[str, Any]:
    """History with ``version`` inserted newest-first (replacing an entry of the same version)."""
    releases = [
        r
        for r in (history or {}).get("releases", [])
        if isinstance(r, dict) and r.get("version") != version
    ]
    release = {"version": version, "base": base, "entries": entries(findings)}
    releases.insert(0, release)
    return {"format": HISTORY_FORMAT, "releases": releases}


def history_json(history: dict[str, Any]) -> str:
    return json.dumps(history, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_history(history: dict[str, Any]) -> str:
    """The whole history as markdown (what the portal's Changelog page shows)."""
    parts = ["# Changelog", ""]
    releases = history.get("releases", [])
    if not releases:
        parts.append("No releases yet.")
    for r in releases:
        parts.append(render_entries(str(r.get("version")), list(r.get("entries", []))))
    return "\n".join(parts).rstrip() + "\n"
