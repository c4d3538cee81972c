"""``unispec token``: mint a development JWT the configured gateway accepts.

Prints the token alone on stdout (so ``TOKEN=$(unispec token ...)`` works);
warnings such as "using dev_secret" go to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from unispec.cli._common import ProjectOption, report_error
from unispec.errors import ConfigError, UnispecError
from unispec.tokens import claim_names, mint_token, resolve_secret

__all__ = ["jwt_settings", "register"]


def jwt_settings(project: Path | None) -> Mapping[str, Any]:
    """``gateway.auth.jwt`` of the project's unispec.yaml (empty when absent)."""
    try:
        from unispec.config import load_config
    except ModuleNotFoundError as exc:  # the core's config module not there yet
        if exc.name != "unispec.config":
            raise
        gateway: Any = _read_gateway_section(project or Path("."))
    else:
        gateway = load_config(project).gateway
    auth = (gateway or {}).get("auth") or {}
    jwt = (auth.get("jwt") or {}) if isinstance(auth, Mapping) else {}
    if not isinstance(jwt, Mapping):
        raise ConfigError("unispec.yaml: /gateway/auth/jwt must be a mapping")
    return jwt


def _read_gateway_section(project: Path) -> Any:
    import yaml

    path = project / "unispec.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return (data or {}).get("gateway") if isinstance(data, Mapping) else {}


def token_command(
    sub: Annotated[str, typer.Option("--sub", help="Subject (user id) of the token.")],
    roles: Annotated[
        str, typer.Option("--roles", help="Comma-separated roles, e.g. instructor,admin.")
    ] = "",
    tier: Annotated[
        str | None, typer.Option("--tier", help="Rate-limit tier: free|basic|pro|enterprise.")
    ] = None,
    ttl: Annotated[int, typer.Option("--ttl", help="Lifetime in seconds.", min=1)] = 3600,
    scope: Annotated[
        str, typer.Option("--scope", help="Space-separated OAuth2 scopes to include.")
    ] = "",
    private_key: Annotated[
        Path | None,
        typer.Option("--private-key", help="PEM private key, for RS*/ES* configurations."),
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Mint a development JWT signed like the configured gateway expects."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    try:
        settings = jwt_settings(project)
        algorithms = settings.get("algorithms") or ["HS256"]
        algorithm = str(algorithms[0] if isinstance(algorithms, list) else algorithms)
        secret: str | bytes
        if algorithm.startswith("HS"):
            secret = resolve_secret(settings, os.environ)
        elif private_key is None:
            raise ConfigError(
                f"gateway.auth.jwt uses {algorithm}: pass --private-key FILE to sign tokens"
            )
        else:
            try:
                secret = private_key.read_bytes()
            except OSError as exc:
                raise ConfigError(f"{private_key}: cannot read: {exc.strerror}") from exc
        names = claim_names(settings)
        extra: dict[str, Any] = {}
        if scope.strip():
            extra[names["scopes"]] = " ".join(scope.split())
        for claim, key in (("iss", "issuer"), ("aud", "audience")):
            if settings.get(key):
                extra[claim] = settings[key]
        token = mint_token(
            secret,
            sub,
            [r.strip() for r in roles.split(",") if r.strip()],
            tier,
            ttl,
            algorithm,
            claim_names=names,
            **extra,
        )
    except UnispecError as exc:
        report_error(exc)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(token)


def register(app: typer.Typer) -> None:
    app.command("token")(token_command)
