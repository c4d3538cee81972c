"""The ``unispec`` command: a thin typer layer over the library API.

Each area registers its own commands from ``unispec.cli.<area>`` so that the
command modules stay small; nothing imports this package.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="unispec",
    help="One OpenAPI contract from many services: build, check, gateway, portal, diff, fuzz.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Areas whose command module exists are registered; the list is explicit so the
# order of commands in --help is stable.
_AREAS = ("core", "gateway", "mock", "token", "portal", "diff", "fuzz", "codegen", "export")


def _register_all() -> None:
    for area in _AREAS:
        try:
            module = importlib.import_module(f"unispec.cli.{area}")
        except ModuleNotFoundError as exc:
            if exc.name == f"unispec.cli.{area}":
                continue
            raise
        module.register(app)


_register_all()


def main() -> None:
    app()
