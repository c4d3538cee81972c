"""Breaking-change detection between two OpenAPI documents, in oasdiff's vocabulary.

Library API (the CLI and ``unispec check --base`` are thin layers over it)::

    report = breaking_check(base_doc, revision_doc, fail_on="ERR")
    print(render(report, "text")); raise SystemExit(report.exit_code)

Pure: documents (dicts) in, findings out. Reading a side (file, project
directory, ``git:REF``) lives in ``unispec.sides``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from unispec.diff.changelog import add_release, render_changelog, render_history
from unispec.diff.engine import DiffOptions, compare_documents, normalise_path
from unispec.diff.formatters import FORMATS, render
from unispec.diff.report import (
    DiffFinding,
    DiffReport,
    IgnoreEntry,
    SourceMap,
    apply_filters,
    load_ignore,
    parse_ignore,
)
from unispec.diff.rules import LevelName, all_rules, parse_level


def diff_documents(
    base_doc: dict[str, Any],
    revision_doc: dict[str, Any],
    *,
    revision_sources: SourceMap | None = None,
    fail_on: LevelName | str = "ERR",
    ignore: Iterable[IgnoreEntry] | None = None,
    match_path: str | None = None,
    level: LevelName | str | None = None,
    today: date | None = None,
    deprecation_days_beta: int = 0,
    deprecation_days_stable: int = 0,
) -> DiffReport:
    """Compare, then apply ignore entries, the path filter and the minimum level.

    ``deprecation_days_*`` is the minimum notice between deprecating and
    removing (oasdiff's ``--deprecation-days-*``; 0 = no policy, so a
    deprecation without ``x-sunset`` is fine).
    """
    gate = parse_level(fail_on)
    findings = compare_documents(
        base_doc,
        revision_doc,
        revision_sources=revision_sources,
        options=DiffOptions(
            today=today,
            sunset_days_beta=deprecation_days_beta,
            sunset_days_stable=deprecation_days_stable,
        ),
    )
    info_b = base_doc.get("info") if isinstance(base_doc.get("info"), dict) else {}
    info_r = revision_doc.get("info") if isinstance(revision_doc.get("info"), dict) else {}
    assert isinstance(info_b, dict) and isinstance(info_r, dict)
    report = DiffReport(
        findings,
        gate,
        base_version=str(info_b.get("version", "")),
        revision_version=str(info_r.get("version", "")),
    )
    return apply_filters(
        report,
        ignore=ignore,
        match_path=match_path,
        min_level=parse_level(level) if level else None,
    )


def breaking_check(
    base_doc: dict[str, Any],
    revision_doc: dict[str, Any],
    *,
    revision_sources: SourceMap | None = None,
    fail_on: LevelName | str = "ERR",
    ignore: Iterable[IgnoreEntry] | None = None,
) -> DiffReport:
    """The CI gate: every finding, exit code 1 when one reaches ``fail_on``."""
    return diff_documents(
        base_doc, revision_doc, revision_sources=revision_sources, fail_on=fail_on, ignore=ignore
    )


__all__ = [
    "FORMATS",
    "DiffFinding",
    "DiffOptions",
    "DiffReport",
    "IgnoreEntry",
    "SourceMap",
    "add_release",
    "all_rules",
    "apply_filters",
    "breaking_check",
    "compare_documents",
    "diff_documents",
    "load_ignore",
    "normalise_path",
    "parse_ignore",
    "parse_level",
    "render",
    "render_changelog",
    "render_history",
]
