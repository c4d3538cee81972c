"""``unispec build | check | lint``: the contract commands CI runs."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from unispec import build as pipeline
from unispec.cli._common import ProjectOption, err, escape, guarded, out
from unispec.config import load_config
from unispec.lint import lint as run_lint
from unispec.model import Finding, UnifiedSpec


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


def summary_table(spec: UnifiedSpec) -> Table:
    info = spec.document.get("info", {})
    table = Table(title=f"{info.get('title', 'API')} {info.get('version', '')}")
    table.add_column("service", style="cyan")
    table.add_column("operations", justify="right")
    table.add_column("error codes", justify="right")
    table.add_column("upstream")
    per_service: dict[str, int] = {}
    for op in spec.operations:
        per_service[op.service] = per_service.get(op.service, 0) + 1
    codes: dict[str, int] = {}
    for e in spec.errors:
        codes[e.origin] = codes.get(e.origin, 0) + 1
    for svc in spec.services:
        upstream = (
            ", ".join(svc.upstreams or spec.service_servers.get(svc.name, ())) or "built-in mock"
        )
        table.add_row(
            svc.name, str(per_service.get(svc.name, 0)), str(codes.get(svc.name, 0)), upstream
        )
    table.add_section()
    table.add_row(
        "[bold]total[/]",
        str(len(spec.operations)),
        f"{len(spec.errors)} (gateway {codes.get('gateway', 0)})",
        "",
    )
    return table


OnlyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        help="Limit to these outputs (repeatable): contract (openapi.yaml/json, errors.json), "
        "models, client. Other outputs are left as they are.",
    ),
]


def _targets(only: list[str] | None) -> list[str] | None:
    """``--only contract,models`` and ``--only contract --only models`` mean the same."""
    if not only:
        return None
    return [t.strip() for item in only for t in item.split(",") if t.strip()]


def register(app: typer.Typer) -> None:
    @app.command()
    @guarded
    def build(
        project: ProjectOption = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
        only: OnlyOption = None,
    ) -> None:
        """Merge specs/ into generated/ (openapi.yaml/json, errors.json, models, client)."""
        result = pipeline.build(project, targets=_targets(only))
        if not quiet:
            out.print(summary_table(result.spec))
            if result.written or result.removed:
                for rel in result.written:
                    out.print(f"[green]wrote[/] generated/{rel}")
                for rel in result.removed:
                    out.print(f"[yellow]removed[/] generated/{rel}")
            else:
                out.print("generated/ is up to date")

    @app.command()
    @guarded
    def check(
        project: ProjectOption = None,
        fmt: Annotated[
            CheckFormat, typer.Option("--format", help="text, json or github annotations")
        ] = CheckFormat.text,
        base: Annotated[
            str | None,
            typer.Option(
                "--base",
                help="Also fail on breaking changes against this base (e.g. git:origin/main).",
            ),
        ] = None,
        fail_on: Annotated[
            str, typer.Option("--fail-on", help="ERR, WARN or INFO (with --base)")
        ] = "ERR",
        only: OnlyOption = None,
    ) -> None:
        """Exit 1 when generated/ is stale or (with --base) the contract breaks clients."""
        result = pipeline.check(project, targets=_targets(only))
        code = 0 if result.ok else 1
        if fmt is CheckFormat.json:
            payload = {
                "ok": result.ok,
                "drift": [{"path": d.path, "state": d.state, "diff": d.diff} for d in result.drift],
            }
            print(json.dumps(payload, indent=2))
        elif fmt is CheckFormat.github:
            for d in result.drift:
                print(
                    f"::error file={d.path}{f',line={d.line}' if d.line else ''}::"
                    f"{d.path} is {d.state}; "
                    "run `unispec build` and commit the result"
                )
        else:
            if result.ok:
                out.print("[green]generated/ matches specs/[/]")
            else:
                err.print(
                    f"[bold red]generated/ is out of date[/] ({len(result.drift)} file(s)); "
                    "run `unispec build`:"
                )
                for d in result.drift:
                    err.print(f"  [yellow]{d.state}[/] {d.path}")
                    if d.diff:
                        err.print(escape(d.diff), style="dim")
        if base:
            code = max(code, _breaking(project, base, fail_on, fmt.value, result.spec))
        raise typer.Exit(code)

    @app.command("lint")
    @guarded
    def lint_cmd(
        project: ProjectOption = None,
        strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on warnings too.")] = False,
        fmt: Annotated[CheckFormat, typer.Option("--format")] = CheckFormat.text,
    ) -> None:
        """Report contract-convention problems with file:line (examples, errors, naming, routes)."""
        cfg = load_config(project)
        spec = pipeline.load_unified(config=cfg)
        ignore = cfg.lint.get("ignore") or []
        findings = run_lint(spec, ignore=[str(i) for i in ignore])
        _print_findings(findings, fmt)
        bad = any(f.level == "error" for f in findings) or (
            strict and any(f.level == "warning" for f in findings)
        )
        raise typer.Exit(1 if bad else 0)


def _print_findings(findings: list[Finding], fmt: CheckFormat) -> None:
    if fmt is CheckFormat.json:
        print(
            json.dumps(
                {
                    "findings": [
                        {
                            "rule": f.rule,
                            "level": f.level,
                            "message": f.message,
                            "file": f.source.file if f.source else None,
                            "line": f.source.line if f.source else None,
                            "pointer": f.source.pointer if f.source else None,
                        }
                        for f in findings
                    ]
                },
                indent=2,
            )
        )
        return
    if fmt is CheckFormat.github:
        for f in findings:
            kind = {"error": "error", "warning": "warning"}.get(f.level, "notice")
            loc = ""
            if f.source:
                loc = f" file={f.source.file}" + (f",line={f.source.line}" if f.source.line else "")
            print(f"::{kind}{loc}::[{f.rule}] {f.message}")
        return
    colours = {"error": "red", "warning": "yellow", "info": "blue"}
    for f in findings:
        where = str(f.source) if f.source else "-"
        out.print(
            f"{escape(where)}: [{colours.get(f.level, 'white')}]{f.level}[/] "
            f"{escape('[' + f.rule + ']')} {escape(f.message)}"
        )
    counts = {
        lvl: sum(1 for f in findings if f.level == lvl) for lvl in ("error", "warning", "info")
    }
    out.print(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info")


def _breaking(project: Path | None, base: str, fail_on: str, fmt: str, spec: UnifiedSpec) -> int:
    """Breaking-change half of ``check --base``; delegates to the diff package."""
    try:
        from unispec.sides import breaking_check_against
    except ImportError:
        err.print("[red]error:[/] breaking-change checks are not available in this build")
        return 2
    return breaking_check_against(project, base, spec, fail_on=fail_on, fmt=fmt)
