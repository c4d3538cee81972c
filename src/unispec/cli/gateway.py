"""``unispec serve | up``: run the gateway (and the built-in mocks) from the contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unispec.build import load_unified
from unispec.cli._common import ProjectOption, guarded
from unispec.config import load_config
from unispec.model import ServiceConfig, UnifiedSpec

if TYPE_CHECKING:  # the server stack (uvicorn, prometheus) loads only for serve/up
    from unispec.gateway.settings import GatewaySettings


class ResponseValidation(StrEnum):
    off = "off"
    report = "report"
    enforce = "enforce"


def _load(
    project: Path | None,
    host: str | None,
    port: int | None,
    response_validation: ResponseValidation | None,
    workers: int | None,
) -> tuple[UnifiedSpec, GatewaySettings]:
    from unispec.gateway.settings import parse_settings

    config = load_config(project)
    spec = load_unified(project, config=config)
    settings = parse_settings(
        config.gateway,
        default_upstreams(config.services, spec),
        host=host,
        port=port,
        response_validation=response_validation.value if response_validation else None,
        workers=workers,
        root=str(config.root),
    )
    return spec, settings


def default_upstreams(
    services: Sequence[ServiceConfig], spec: UnifiedSpec
) -> tuple[ServiceConfig, ...]:
    """A service without `upstream:` goes to its spec's absolute http(s) `servers`, else the mock.

    `upstream: mock` keeps the mock even when the spec names servers.
    """
    out = []
    for svc in services:
        servers = [
            u
            for u in spec.service_servers.get(svc.name, ())
            if u.startswith(("http://", "https://"))
        ]
        if not svc.upstreams and not svc.force_mock and servers:
            svc = replace(svc, upstreams=tuple(servers))
        out.append(svc)
    return tuple(out)


HostOption = Annotated[
    str | None, typer.Option("--host", help="Address to listen on (default: gateway.host).")
]
PortOption = Annotated[
    int | None, typer.Option("--port", help="Port to listen on (default: gateway.port, 8080).")
]


def register(app: typer.Typer) -> None:
    @app.command()
    @guarded
    def serve(
        project: ProjectOption = None,
        host: HostOption = None,
        port: PortOption = None,
        response_validation: Annotated[
            ResponseValidation | None,
            typer.Option(
                "--response-validation",
                help="off | report (log + metric) | enforce (502 on contract violations).",
            ),
        ] = None,
        workers: Annotated[
            int | None, typer.Option("--workers", min=1, help="Gateway processes (default 1).")
        ] = None,
        no_mocks: Annotated[
            bool,
            typer.Option(
                "--no-mocks", help="Do not start mocks for services without an upstream (503)."
            ),
        ] = False,
    ) -> None:
        """Run the validating gateway; services without an upstream get a built-in mock."""
        spec, settings = _load(project, host, port, response_validation, workers)
        from unispec.gateway.server import serve as run_serve

        run_serve(spec, settings, mocks=not no_mocks)

    @app.command()
    @guarded
    def up(
        project: ProjectOption = None,
        host: HostOption = None,
        port: PortOption = None,
    ) -> None:
        """Gateway + mock upstreams + portal (/docs) on one port: what `make demo` runs."""
        spec, settings = _load(project, host, port, None, None)
        from unispec.gateway.server import up as run_up

        run_up(spec, settings)
