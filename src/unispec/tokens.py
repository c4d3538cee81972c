"""Development JWTs: the secret the gateway verifies with, and tokens signed by it.

Public API (layer 2, no I/O besides reading ``env``):

- ``resolve_secret(jwt_settings, env) -> str``: the HS* secret named by
  ``gateway.auth.jwt`` — the value of the environment variable ``secret_env``
  (default ``UNISPEC_JWT_SECRET``) when set, else ``dev_secret`` (logged as a
  warning because a secret in a committed file protects nothing), else a
  ``ConfigError``.
- ``mint_token(secret, sub, roles, tier, ttl=3600, algorithm="HS256", **extra) -> str``:
  a signed token carrying ``sub``, ``roles``, ``tier``, ``iat``, ``exp`` (plus
  ``extra`` claims). ``claim_names`` renames the roles/tier/subject claims when
  the gateway is configured with other names, so ``unispec token`` always mints
  what the gateway expects. For RS*/ES* pass the PEM private key as ``secret``.

The gateway's verifier and the CLI both call ``resolve_secret`` so that the
token command and the running gateway can never disagree on the secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from unispec.errors import ConfigError

__all__ = [
    "DEFAULT_CLAIMS",
    "DEFAULT_SECRET_ENV",
    "claim_names",
    "mint_token",
    "resolve_secret",
]

log = logging.getLogger("unispec.tokens")

DEFAULT_SECRET_ENV = "UNISPEC_JWT_SECRET"
DEFAULT_CLAIMS: Mapping[str, str] = {
    "subject": "sub",
    "roles": "roles",
    "tier": "tier",
    "scopes": "scope",
}

_SUPPORTED = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}
)


def claim_names(jwt_settings: Mapping[str, Any] | None) -> dict[str, str]:
    """The effective claim names: defaults overridden by ``jwt.claims``.

    Shared by the verifier and the token command so a renamed claim is renamed
    on both sides.
    """
    names = dict(DEFAULT_CLAIMS)
    raw = (jwt_settings or {}).get("claims") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("unispec.yaml: /gateway/auth/jwt/claims must be a mapping")
    for key, value in raw.items():
        if key not in DEFAULT_CLAIMS:
            raise ConfigError(
                f"unispec.yaml: /gateway/auth/jwt/claims/{key}: unknown claim role "
                f"(expected one of {', '.join(DEFAULT_CLAIMS)})"
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(f"unispec.yaml: /gateway/auth/jwt/claims/{key} must be a string")
        names[str(key)] = value
    return names


def resolve_secret(jwt_settings: Mapping[str, Any] | None, env: Mapping[str, str]) -> str:
    """The HMAC secret: env var ``secret_env`` first, then ``dev_secret``.

    The dev fallback keeps ``make demo`` working with zero setup; the warning
    makes it visible in any log where it would matter.
    """
    settings = jwt_settings or {}
    env_name = settings.get("secret_env") or DEFAULT_SECRET_ENV
    if not isinstance(env_name, str):
        raise ConfigError("unispec.yaml: /gateway/auth/jwt/secret_env must be a string")
    value = env.get(env_name)
    if value:
        return value
    dev = settings.get("dev_secret")
    if dev is not None and not isinstance(dev, str):
        raise ConfigError("unispec.yaml: /gateway/auth/jwt/dev_secret must be a string")
    if dev:
        log.warning(
            "JWT secret: environment variable %s is not set; using gateway.auth.jwt.dev_secret "
            "from unispec.yaml (development only)",
            env_name,
        )
        return dev
    raise ConfigError(
        f"unispec.yaml: /gateway/auth/jwt: no HS256 secret: set the environment variable "
        f"{env_name} (or gateway.auth.jwt.dev_secret for local development)"
    )


def mint_token(
    secret: str | bytes,
    sub: str,
    roles: Sequence[str] = (),
    tier: str | None = None,
    ttl: float = 3600,
    algorithm: str = "HS256",
    *,
    claim_names: Mapping[str, str] | None = None,
    now: float | None = None,
    headers: Mapping[str, Any] | None = None,
    **extra: Any,
) -> str:
    """A signed JWT for ``sub`` valid for ``ttl`` seconds from ``now``.

    ``extra`` claims are added last and so can override anything (tests use this
    to build expired, premature or oddly-typed tokens).
    """
    if algorithm not in _SUPPORTED:
        raise ConfigError(
            f"unsupported JWT algorithm {algorithm!r} (use one of {', '.join(sorted(_SUPPORTED))})"
        )
    names = dict(DEFAULT_CLAIMS)
    if claim_names:
        names.update(claim_names)
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {names["subject"]: sub, "iat": issued, "exp": int(issued + ttl)}
    if roles:
        payload[names["roles"]] = list(roles)
    if tier:
        payload[names["tier"]] = tier
    payload.update(extra)
    return jwt.encode(payload, secret, algorithm=algorithm, headers=dict(headers or {}) or None)
