"""``unispec mock``: serve services of the contract from their examples, on loopback.

Each service gets its own real HTTP server (one port per service, like real
upstreams), so a gateway or a frontend can be pointed at them unchanged.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from unispec.build import load_unified
from unispec.cli._common import ProjectOption, err, escape, guarded, out
from unispec.errors import ConfigError

if TYPE_CHECKING:  # the server stack loads only when a mock is served
    from unispec.gateway.mock import MockFleet

__all__ = ["register"]


def _serve(fleet: MockFleet) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, fleet.stop_soon)
        await fleet.serve()

    asyncio.run(main())


def register(app: typer.Typer) -> None:
    @app.command("mock")
    @guarded
    def mock_command(
        project: ProjectOption = None,
        service: Annotated[
            list[str] | None,
            typer.Option("--service", "-s", help="Serve only this service (repeatable)."),
        ] = None,
        host: Annotated[
            str, typer.Option("--host", help="Interface to listen on (loopback by default).")
        ] = "127.0.0.1",
        port: Annotated[
            int,
            typer.Option(
                "--port",
                help="Port of the first service; the next services take the following ports. "
                "0 picks free ports.",
                min=0,
                max=65535,
            ),
        ] = 9001,
        stateless: Annotated[
            bool,
            typer.Option("--stateless", help="Always answer the example (no stored resources)."),
        ] = False,
        no_validate: Annotated[
            bool, typer.Option("--no-validate", help="Do not validate requests.")
        ] = False,
    ) -> None:
        """Serve services from their examples (or synthesized data) as mock upstreams."""
        spec = load_unified(project)
        known = [s.name for s in spec.services]
        for name in service or []:
            if name not in known:
                raise ConfigError(
                    f"unispec.yaml: no service named {name!r} (services: {', '.join(known)})"
                )
        from unispec.gateway.mock import MockFleet

        fleet = MockFleet(
            spec,
            service or None,
            host=host,
            port=port,
            stateful=not stateless,
            validate=not no_validate,
            on_problem=lambda p: err.print(f"[yellow]warning:[/] {escape(p)}"),
        )
        table = Table(title="mock upstreams")
        table.add_column("service", style="cyan")
        table.add_column("operations", justify="right")
        table.add_column("url")
        for name, url in fleet.urls.items():
            count = sum(1 for op in spec.operations if op.service == name)
            table.add_row(name, str(count), url)
        out.print(table)
        out.print(
            "Prefer: code=404 | example=<name> | dynamic=true picks another answer; Ctrl-C stops."
        )
        _serve(fleet)
