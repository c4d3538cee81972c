"""``unispec diff | changelog | release``: breaking changes and human changelogs.

Thin: resolve both sides (``unispec.sides``), call the diff library, print,
exit 0 (nothing reaches ``--fail-on``), 1 (something does) or 2 (a side or an
option is invalid).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from unispec.cli._common import ProjectOption, guarded
from unispec.diff import (
    FORMATS,
    add_release,
    diff_documents,
    load_ignore,
    parse_level,
    render,
    render_changelog,
    render_history,
)
from unispec.diff.report import DiffReport
from unispec.errors import ConfigError, DiffInputError
from unispec.sides import resolve_side

HISTORY_FILE = "changelog/history.json"
CHANGELOG_FILE = "changelog/CHANGELOG.md"


class Format(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"
    markdown = "markdown"
    html = "html"
    junit = "junit"
    github = "github"


assert tuple(f.value for f in Format) == FORMATS

FailOnOption = Annotated[
    str,
    typer.Option("--fail-on", help="Exit 1 when a finding reaches this level: ERR, WARN, INFO."),
]
IgnoreOption = Annotated[
    Path | None,
    typer.Option(
        "--ignore",
        help="File of `rule-id METHOD /path reason` lines whose findings are dropped.",
        dir_okay=False,
    ),
]
MatchPathOption = Annotated[
    str | None, typer.Option("--match-path", help="Only report operations whose path matches.")
]
BetaDaysOption = Annotated[
    int,
    typer.Option(
        "--deprecation-days-beta", min=0, help="Minimum notice (days) to sunset a beta operation."
    ),
]
StableDaysOption = Annotated[
    int,
    typer.Option(
        "--deprecation-days-stable", min=0, help="Minimum notice (days) to sunset a stable one."
    ),
]
LevelOption = Annotated[
    str | None, typer.Option("--level", help="Only report findings at or above ERR, WARN or INFO.")
]


def _level(text: str, flag: str) -> str:
    try:
        return parse_level(text)
    except ValueError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def _compare(
    base: str,
    revision: str,
    project: Path | None,
    *,
    fail_on: str = "ERR",
    ignore: Path | None = None,
    match_path: str | None = None,
    level: str | None = None,
    days: tuple[int, int] = (0, 0),
) -> DiffReport:
    gate = _level(fail_on, "--fail-on")
    minimum = _level(level, "--level") if level else None
    entries = load_ignore(ignore) if ignore is not None else None
    b = resolve_side(base, project)
    r = resolve_side(revision, project)
    return diff_documents(
        b.document,
        r.document,
        revision_sources=r.sources,
        fail_on=gate,
        ignore=entries,
        match_path=match_path,
        level=minimum,
        deprecation_days_beta=days[0],
        deprecation_days_stable=days[1],
    )


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DiffInputError(f"{output}: cannot write ({exc.strerror})") from exc


def register(app: typer.Typer) -> None:
    @app.command("diff")
    @guarded
    def diff_cmd(
        base: Annotated[str, typer.Argument(help="File, project dir or git:REF[:path].")],
        revision: Annotated[str, typer.Argument(help="File, project dir or git:REF[:path].")],
        project: ProjectOption = None,
        fail_on: FailOnOption = "ERR",
        fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
        ignore: IgnoreOption = None,
        match_path: MatchPathOption = None,
        level: LevelOption = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
        ] = None,
        days_beta: BetaDaysOption = 0,
        days_stable: StableDaysOption = 0,
    ) -> None:
        """Compare two contracts; findings use oasdiff's rule IDs (exit 1 at --fail-on)."""
        report = _compare(
            base,
            revision,
            project,
            fail_on=fail_on,
            ignore=ignore,
            match_path=match_path,
            level=level,
            days=(days_beta, days_stable),
        )
        _write(render(report, fmt.value), output)
        raise typer.Exit(report.exit_code)

    @app.command("changelog")
    @guarded
    def changelog_cmd(
        base: Annotated[str, typer.Argument(help="File, project dir or git:REF[:path].")],
        revision: Annotated[str, typer.Argument(help="File, project dir or git:REF[:path].")],
        project: ProjectOption = None,
        level: Annotated[
            str, typer.Option("--level", help="Lowest level to include: ERR, WARN or INFO.")
        ] = "INFO",
        ignore: IgnoreOption = None,
        match_path: MatchPathOption = None,
        version: Annotated[
            str | None, typer.Option("--version", help="Heading (default: revision info.version).")
        ] = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write the markdown here.")
        ] = None,
    ) -> None:
        """Markdown changelog by service and operation (Breaking/Deprecated/Added/Changed)."""
        report = _compare(
            base, revision, project, ignore=ignore, match_path=match_path, level=level
        )
        heading = version or report.revision_version or "Unreleased"
        _write(render_changelog(report.findings, heading, _level(level, "--level")), output)  # type: ignore[arg-type]

    @app.command("release")
    @guarded
    def release_cmd(
        base: Annotated[
            str, typer.Option("--base", help="The previous release: file, dir or git:REF[:path].")
        ],
        project: ProjectOption = None,
        version: Annotated[
            str | None,
            typer.Option("--version", help="Version to record (default: info.version)."),
        ] = None,
        history: Annotated[
            Path | None,
            typer.Option("--history", help=f"History file (default: <project>/{HISTORY_FILE})."),
        ] = None,
        ignore: IgnoreOption = None,
        level: Annotated[str, typer.Option("--level", help="Lowest level recorded.")] = "INFO",
    ) -> None:
        """Record this version's changes (vs --base) in the changelog history the portal renders."""
        root = (project or Path.cwd()).resolve()
        report = _compare(base, str(root), project, ignore=ignore, level=level)
        release = version or report.revision_version or "Unreleased"
        path = history or root / HISTORY_FILE
        current: dict[str, Any] = {}
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise DiffInputError(f"{path}: unreadable changelog history ({exc})") from exc
            if isinstance(loaded, dict):
                current = loaded
        updated = add_release(current, release, report.findings, base=base)
        from unispec.diff.changelog import history_json

        _write(history_json(updated), path)
        _write(render_history(updated), path.with_name(Path(CHANGELOG_FILE).name))
        counts = report.counts()
        typer.echo(
            f"recorded {release}: {counts['ERR']} breaking, {counts['WARN']} warning(s), "
            f"{counts['INFO']} info -> {path}"
        )
