"""Findings of a diff, the report around them, and the filters users apply.

A finding is a value with everything a consumer needs to act on it: the
oasdiff rule ID (so ignore lists carry over), the level, the operation, a
JSON pointer, a one-line message and, when known, the ``specs/`` file and
line it came from. Ignore files and path filters are applied here, after
the engine ran, so the engine stays a pure comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unispec.diff.rules import LEVEL_RANK, LevelName, all_rules
from unispec.errors import DiffInputError, Problem
from unispec.model import Locator, Source

SourceMap = Locator | Mapping[str, Source]
"""A revision source map: ``UnifiedSpec.sources`` or a plain pointer -> Source dict."""


@dataclass(frozen=True, order=True)
class DiffFinding:
    """One change between base and revision, named by an oasdiff rule ID."""

    operation: str
    """``METHOD /path`` ("" for document-wide changes)."""
    id: str
    level: LevelName
    pointer: str
    """JSON pointer in the revision document (in the base one for removals)."""
    message: str
    source: str | None = None
    """``specs/x.yaml:LINE`` when the revision's source map knows the pointer."""
    service: str = ""
    """``x-service`` of the operation, for grouping changelogs."""
    side: str = "revision"
    """Which document ``pointer`` is in: "revision" or "base"."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "level": self.level,
            "operation": self.operation,
            "pointer": self.pointer,
            "message": self.message,
        }
        if self.source:
            out["source"] = self.source
        if self.service:
            out["service"] = self.service
        return out

    @property
    def section(self) -> str:
        """Changelog section: Breaking, Deprecated, Added or Changed."""
        if self.level == "ERR":
            return "Breaking"
        if "deprecated" in self.id:
            return "Deprecated"
        if self.id.endswith("-added") or self.id.startswith("new-") or "added" in self.id:
            return "Added"
        return "Changed"


@dataclass
class DiffReport:
    """All findings of one comparison plus the gate that decides the exit code."""

    findings: list[DiffFinding] = field(default_factory=list)
    fail_on: LevelName = "ERR"
    ignored: list[DiffFinding] = field(default_factory=list)
    base_version: str = ""
    revision_version: str = ""

    @property
    def failed(self) -> bool:
        gate = LEVEL_RANK[self.fail_on]
        return any(LEVEL_RANK[f.level] >= gate for f in self.findings)

    @property
    def exit_code(self) -> int:
        """0 when nothing reaches ``fail_on``, 1 otherwise (2 is for bad input)."""
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        out = {"ERR": 0, "WARN": 0, "INFO": 0}
        for f in self.findings:
            out[f.level] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class IgnoreEntry:
    """One line of an ignore file: ``rule-id METHOD /path  reason``."""

    rule: str
    method: str
    path: str
    reason: str
    line: int


def parse_ignore(text: str, file: str = "<ignore>") -> list[IgnoreEntry]:
    """Parse an ignore file; every entry must say why (a reason), else it is rejected.

    Format, one entry a line (``#`` starts a comment)::

        request-property-removed  POST /users   # the web client never sent it
        api-removed-without-deprecation GET /legacy  removed with the v1 sunset

    The reason is everything after the path (a leading ``#`` or ``-`` is
    dropped). ``*`` as method or path matches anything. oasdiff's own
    ``GET /path message`` lines are accepted too when the first token is a
    method: the rule is then ``*``.
    """
    entries: list[IgnoreEntry] = []
    problems: list[Problem] = []
    methods = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "*"}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split(None, 3)
        if tokens[0].upper() in methods:
            tokens = ["*", *line.split(None, 2)]
        if len(tokens) < 3:
            problems.append(Problem(Source(file, "", n), "expected `rule-id METHOD /path reason`"))
            continue
        rule, method, path = tokens[0], tokens[1].upper(), tokens[2]
        reason = tokens[3].strip().lstrip("#-").strip() if len(tokens) > 3 else ""
        if not reason:
            problems.append(
                Problem(
                    Source(file, "", n), f"ignore entry for {rule} {method} {path} has no reason"
                )
            )
            continue
        if method not in methods:
            problems.append(Problem(Source(file, "", n), f"unknown HTTP method {tokens[1]!r}"))
            continue
        if rule != "*" and rule not in all_rules():
            problems.append(Problem(Source(file, "", n), f"unknown rule id {rule!r}"))
            continue
        entries.append(IgnoreEntry(rule, method, path, reason, n))
    if problems:
        raise DiffInputError(f"{file}: invalid ignore file", problems)
    return entries


def load_ignore(path: Path) -> list[IgnoreEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DiffInputError(f"{path}: cannot read ignore file ({exc.strerror})") from exc
    return parse_ignore(text, str(path))


def _normalise_path(path: str) -> str:
    return re.sub(r"\{[^}/]*\}", "{}", path)


def is_ignored(finding: DiffFinding, entries: Iterable[IgnoreEntry]) -> bool:
    method, _, path = finding.operation.partition(" ")
    for e in entries:
        if e.rule not in ("*", finding.id):
            continue
        if e.method != "*" and e.method != method:
            continue
        if e.path != "*" and _normalise_path(e.path) != _normalise_path(path):
            continue
        return True
    return False


def apply_filters(
    report: DiffReport,
    *,
    ignore: Iterable[IgnoreEntry] | None = None,
    match_path: str | None = None,
    min_level: LevelName | None = None,
) -> DiffReport:
    """Drop ignored findings, findings outside ``match_path`` and those below ``min_level``."""
    entries = list(ignore or ())
    pattern = None
    if match_path:
        try:
            pattern = re.compile(match_path)
        except re.error as exc:
            raise DiffInputError(f"--match-path: invalid regular expression ({exc})") from exc
    kept: list[DiffFinding] = []
    dropped: list[DiffFinding] = list(report.ignored)
    for f in report.findings:
        if entries and is_ignored(f, entries):
            dropped.append(f)
            continue
        if (
            pattern is not None
            and f.operation
            and not pattern.search(f.operation.partition(" ")[2])
        ):
            continue
        if min_level is not None and LEVEL_RANK[f.level] < LEVEL_RANK[min_level]:
            continue
        kept.append(f)
    return DiffReport(kept, report.fail_on, dropped, report.base_version, report.revision_version)


def source_string(sources: SourceMap | None, pointer: str) -> str | None:
    """``file:line`` of the nearest known ancestor of ``pointer``."""
    if not sources:
        return None
    p = pointer
    while True:
        hit = sources.get(p)
        if hit is not None:
            return hit.file if hit.line is None else f"{hit.file}:{hit.line}"
        if not p:
            return None
        p = p.rsplit("/", 1)[0]
