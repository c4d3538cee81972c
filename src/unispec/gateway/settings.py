"""The ``gateway:`` section of unispec.yaml and the per-service settings, parsed once.

The gateway owns its own section (the core only hands over the raw mapping), so
every key is checked here and a mistake names ``unispec.yaml`` and the key
instead of surfacing later as a traceback on the request path. Policy sections
(``auth``, ``rate_limit``, ``breaker``, ``retries``) are kept as plain mappings:
the policy modules parse them, but a wrong *type* is still reported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from unispec.errors import GatewayConfigError
from unispec.model import ServiceConfig

ResponseValidation = Literal["off", "report", "enforce"]
RESPONSE_VALIDATION_MODES: tuple[str, ...] = ("off", "report", "enforce")

_FILE = "unispec.yaml"

_KNOWN_KEYS = frozenset(
    {
        "host",
        "port",
        "max_body_size",
        "response_validation",
        "request_validation",
        "upstream_pool",
        "health_interval",
        "cors",
        "security_headers",
        "auth",
        "rate_limit",
        "breaker",
        "retries",
        "access_log",
        "workers",
    }
)


@dataclass(frozen=True)
class CorsSettings:
    """Which browser origins may call the gateway; empty origins disables CORS."""

    allow_origins: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int = 600
    allow_headers: tuple[str, ...] = ("*",)
    expose_headers: tuple[str, ...] = (
        "X-Request-ID",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Retry-After",
    )

    @property
    def enabled(self) -> bool:
        return bool(self.allow_origins)


@dataclass(frozen=True)
class PoolSettings:
    """Upstream connection pool limits (per service)."""

    max_connections: int = 100
    keepalive: int = 100
    """Idle connections kept open. Below the concurrency the gateway sees, the pool
    churns (every request past it opens and closes a connection: measured at a
    tenth of the proxy's CPU at 64 concurrent requests), so it defaults to
    ``max_connections``."""


@dataclass(frozen=True)
class ServiceSettings:
    """What the proxy needs to know about one service."""

    name: str
    upstreams: tuple[str, ...] = ()
    """Base URLs; empty means the built-in mock (filled in by the server at start-up)."""
    connect_timeout: float = 2.0
    read_timeout: float = 30.0
    enabled: bool = True

    @property
    def uses_mock(self) -> bool:
        return not self.upstreams


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the gateway reads from unispec.yaml, validated and typed."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_size: int = 10 * 1024 * 1024
    response_validation: ResponseValidation = "report"
    request_validation: bool = True
    """False only to measure what validation costs (bench/); never in production."""
    upstream_pool: PoolSettings = field(default_factory=PoolSettings)
    health_interval: float = 10.0
    cors: CorsSettings = field(default_factory=CorsSettings)
    security_headers: bool = True
    access_log: bool = True
    workers: int = 1
    root: str = "."
    """Project directory: relative key files (JWT PEM/JWKS) and ``site/`` live there."""
    services: Mapping[str, ServiceSettings] = field(default_factory=dict)
    auth: Mapping[str, Any] = field(default_factory=dict)
    rate_limit: Mapping[str, Any] = field(default_factory=dict)
    breaker: Mapping[str, Any] = field(default_factory=dict)
    retries: Mapping[str, Any] = field(default_factory=dict)

    def with_upstreams(self, upstreams: Mapping[str, Sequence[str]]) -> GatewaySettings:
        """A copy where the given services point at these URLs (used for the mocks)."""
        services = dict(self.services)
        for name, urls in upstreams.items():
            base = services.get(name, ServiceSettings(name))
            services[name] = replace(base, upstreams=tuple(urls))
        return replace(self, services=services)


def _fail(key: str, message: str) -> GatewayConfigError:
    return GatewayConfigError(f"{_FILE}: {key}: {message}")


def _int(raw: Mapping[str, Any], key: str, path: str, default: int, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(f"{path}.{key}", f"must be an integer >= {minimum}, got {value!r}")
    return value


def _number(raw: Mapping[str, Any], key: str, path: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(f"{path}.{key}", f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _bool(raw: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise _fail(f"{path}.{key}", f"must be true or false, got {value!r}")
    return value


def _mapping(raw: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(f"{path}.{key}", f"must be a mapping, got {type(value).__name__}")
    return value


def _strings(
    raw: Mapping[str, Any], key: str, path: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"{path}.{key}", f"must be a list of strings, got {value!r}")
    return tuple(value)


def check_response_validation(value: object, key: str = "gateway.response_validation") -> str:
    """Validate an ``off|report|enforce`` value (also used for the CLI option)."""
    if value not in RESPONSE_VALIDATION_MODES:
        raise _fail(key, f"must be one of off, report, enforce, got {value!r}")
    return str(value)


def _check_url(url: object, key: str) -> str:
    if not isinstance(url, str):
        raise _fail(key, f"must be an http(s) URL, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(key, f"must be an http(s) URL with a host, got {url!r}")
    if parts.query or parts.fragment:
        raise _fail(key, f"must not carry a query or fragment, got {url!r}")
    return url.rstrip("/")


def service_settings(config: ServiceConfig) -> ServiceSettings:
    """Per-service proxy settings from the core's ``ServiceConfig``."""
    path = f"services.{config.name}"
    upstreams = tuple(
        _check_url(u, f"{path}.upstream[{i}]") for i, u in enumerate(config.upstreams)
    )
    timeouts = dict(config.timeouts or {})
    unknown = sorted(set(timeouts) - {"connect", "read"})
    if unknown:
        raise _fail(f"{path}.timeouts.{unknown[0]}", "unknown key (expected connect, read)")
    connect = _number(timeouts, "connect", f"{path}.timeouts", 2.0)
    read = _number(timeouts, "read", f"{path}.timeouts", 30.0)
    return ServiceSettings(
        name=config.name,
        upstreams=upstreams,
        connect_timeout=connect,
        read_timeout=read,
        enabled=bool(config.enabled),
    )


def parse_settings(
    raw: Mapping[str, Any] | None,
    services: Sequence[ServiceConfig] = (),
    *,
    host: str | None = None,
    port: int | None = None,
    response_validation: str | None = None,
    workers: int | None = None,
    root: str = ".",
) -> GatewaySettings:
    """Parse the raw ``gateway:`` mapping; keyword arguments are command-line overrides."""
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise _fail("gateway", f"must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise _fail(
            f"gateway.{unknown[0]}",
            "unknown key (expected one of " + ", ".join(sorted(_KNOWN_KEYS)) + ")",
        )
    g = "gateway"
    host_value = host if host is not None else raw.get("host", "127.0.0.1")
    if not isinstance(host_value, str) or not host_value:
        raise _fail("gateway.host", f"must be a host name or address, got {host_value!r}")
    port_value = port if port is not None else _int(raw, "port", g, 8080)
    if not 0 <= port_value <= 65535:
        raise _fail("gateway.port", f"must be between 0 and 65535, got {port_value!r}")
    rv = check_response_validation(
        response_validation
        if response_validation is not None
        else raw.get("response_validation", "report"),
        "--response-validation"
        if response_validation is not None
        else "gateway.response_validation",
    )
    pool_raw = _mapping(raw, "upstream_pool", g)
    max_connections = _int(pool_raw, "max_connections", "gateway.upstream_pool", 100, 1)
    pool = PoolSettings(
        max_connections=max_connections,
        keepalive=_int(pool_raw, "keepalive", "gateway.upstream_pool", max_connections, 0),
    )
    cors_raw = _mapping(raw, "cors", g)
    cors = CorsSettings(
        allow_origins=_strings(cors_raw, "allow_origins", "gateway.cors", ()),
        allow_credentials=_bool(cors_raw, "allow_credentials", "gateway.cors", False),
        max_age=_int(cors_raw, "max_age", "gateway.cors", 600),
        allow_headers=_strings(cors_raw, "allow_headers", "gateway.cors", ("*",)),
        expose_headers=_strings(
            cors_raw, "expose_headers", "gateway.cors", CorsSettings.expose_headers
        ),
    )
    if cors.allow_credentials and "*" in cors.allow_origins:
        raise _fail("gateway.cors.allow_origins", "'*' cannot be combined with allow_credentials")
    worker_count = workers if workers is not None else _int(raw, "workers", g, 1, 1)
    if worker_count < 1:
        raise _fail("--workers", f"must be >= 1, got {worker_count}")
    for key in ("auth", "rate_limit", "breaker", "retries"):
        _mapping(raw, key, g)
    return GatewaySettings(
        host=host_value,
        port=port_value,
        max_body_size=_int(raw, "max_body_size", g, 10 * 1024 * 1024, 1),
        response_validation=rv,  # type: ignore[arg-type]
        request_validation=_bool(raw, "request_validation", g, True),
        upstream_pool=pool,
        health_interval=_number(raw, "health_interval", g, 10.0),
        cors=cors,
        security_headers=_bool(raw, "security_headers", g, True),
        access_log=_bool(raw, "access_log", g, True),
        workers=worker_count,
        root=root,
        services={s.name: service_settings(s) for s in services},
        auth=_mapping(raw, "auth", g),
        rate_limit=_mapping(raw, "rate_limit", g),
        breaker=_mapping(raw, "breaker", g),
        retries=_mapping(raw, "retries", g),
    )
