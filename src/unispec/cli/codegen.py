"""``unispec codegen``: write only the models and the typed client.

``unispec build`` writes these too; this command exists for iterating on the
SDK (or writing it somewhere else with ``--out``) without touching the rest of
generated/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unispec.build import GENERATED, load_unified
from unispec.cli._common import ProjectOption, guarded, out
from unispec.codegen import generate_client, generate_models
from unispec.config import load_config


def register(app: typer.Typer) -> None:
    @app.command()
    @guarded
    def codegen(
        project: ProjectOption = None,
        out_dir: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Folder to write into (default: generated/)."),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    ) -> None:
        """Write generated/models.py and generated/client/ from the unified contract."""
        cfg = load_config(project)
        spec = load_unified(config=cfg)
        target = out_dir if out_dir is not None else cfg.root / GENERATED
        files = {**generate_models(spec), **generate_client(spec)}
        for rel, data in sorted(files.items()):
            path = target / rel
            if path.is_file() and path.read_bytes() == data:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if not quiet:
                out.print(f"[green]wrote[/] {path}")
        if not quiet:
            out.print(f"{len(files)} files for {len(spec.operations)} operations")
