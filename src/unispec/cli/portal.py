"""``unispec portal build | serve``: the docs site rendered from the unified contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unispec.build import load_unified
from unispec.cli._common import ProjectOption, err, escape, guarded, out
from unispec.config import find_project, load_config


def _root(project: Path | None) -> Path:
    return find_project(project).resolve()


def register(app: typer.Typer) -> None:
    portal = typer.Typer(
        help="The docs portal: build the static site or preview it with live reload.",
        no_args_is_help=True,
    )

    @portal.command("build")
    @guarded
    def build(
        project: ProjectOption = None,
        no_site: Annotated[
            bool, typer.Option("--no-site", help="Only render build/portal/docs (skip mkdocs).")
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    ) -> None:
        """Render the docs from the contract into build/portal/docs and build site/."""
        from unispec.portal.site import build_site

        root = _root(project)
        spec = load_unified(root, config=load_config(root))
        report = build_site(spec, root, site=not no_site)
        if quiet:
            return
        out.print(
            f"portal: {report.pages} pages, {len(report.written)} written, "
            f"{len(report.removed)} removed, {report.unchanged} unchanged "
            f"(render {report.render_seconds:.2f}s, mkdocs {report.mkdocs_seconds:.2f}s)"
        )
        for warning in report.warnings[:20]:
            err.print(f"[yellow]mkdocs:[/] {escape(warning)}")
        if report.site_dir is not None:
            out.print(f"site: {report.site_dir}")

    @portal.command("serve")
    @guarded
    def serve(
        project: ProjectOption = None,
        host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port")] = 8000,
    ) -> None:
        """Preview the portal; edits to specs/ or unispec.yaml re-render it live."""
        from unispec.portal.site import serve as serve_site

        root = _root(project)
        out.print(f"portal: serving on http://{host}:{port}/ (Ctrl+C to stop)")
        serve_site(
            root,
            lambda: load_unified(root, config=load_config(root)),
            host=host,
            port=port,
            log=lambda m: err.print(escape(m)),
        )

    app.add_typer(portal, name="portal")
