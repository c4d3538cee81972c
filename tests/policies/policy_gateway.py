"""Runs the real gateway on a small policy contract, as its own process.

Usage: ``python policy_gateway.py CONFIG.json``; the JSON holds ``gateway`` (the
raw unispec.yaml section) and ``upstreams`` (service name -> list of URLs).
Prints ``READY <url>`` once listening. Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from unispec.gateway.server import run
from unispec.gateway.settings import parse_settings
from unispec.model import ServiceConfig, UnifiedSpec

OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}}
BEARER = [{"bearerAuth": []}]


def op(op_id: str, service: str, security: Any, **extra: Any) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "x-service": service,
        "security": security,
        "responses": copy.deepcopy(OK),
        **extra,
    }


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "policies", "version": "1.0.0"},
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    },
    "paths": {
        "/echo": {"get": op("echo", "api", BEARER)},
        "/public-echo": {"get": op("publicEcho", "api", [])},
        "/admin": {"get": op("adminOnly", "api", BEARER, **{"x-roles": ["admin"]})},
        "/limited": {
            "get": op(
                "limited", "api", [], **{"x-rate-limit": {"limit": 5, "window": 3600, "per": "ip"}}
            )
        },
        "/tiered": {
            "get": op(
                "tiered",
                "api",
                BEARER,
                **{
                    "x-rate-limit": {"limit": 2, "window": 3600, "per": "user", "tiers": {"pro": 4}}
                },
            )
        },
        "/flaky": {"get": op("flaky", "flaky", [])},
        "/dead": {"get": op("dead", "dead", [])},
        "/items": {"get": op("items", "lb", [])},
        # One service each, so that their failures never add up in one breaker.
        "/retry-get": {"get": op("retryGet", "retry_get", [])},
        "/retry-post": {"post": op("retryPost", "retry_post", [])},
        "/retry-key": {"post": op("retryKey", "retry_key", [])},
    },
}


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    upstreams: dict[str, list[str]] = config["upstreams"]
    services = [
        ServiceConfig(
            name=name,
            spec=f"specs/{name}.yaml",
            upstreams=tuple(urls),
            timeouts={"connect": 1, "read": 10},
        )
        for name, urls in upstreams.items()
    ]
    spec = UnifiedSpec(
        document=copy.deepcopy(DOCUMENT), operations=(), errors=(), services=tuple(services)
    )
    settings = parse_settings(config["gateway"], services, root=config.get("root", "."))
    run(spec, settings, mocks=False, on_ready=lambda p: print(f"READY {p.gateway_url}", flush=True))


if __name__ == "__main__":
    main()
