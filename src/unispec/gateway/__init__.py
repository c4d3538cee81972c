"""The gateway: an ASGI app compiled from the unified spec (see DESIGN.md).

Library API (``unispec serve``/``up`` are thin wrappers around it)::

    from unispec.gateway import build_gateway_app, parse_settings, serve
    settings = parse_settings(config.gateway, config.services, root=str(config.root))
    app = build_gateway_app(spec, settings)      # any ASGI server can run it
    serve(spec, settings)                        # or: gateway (h1server) + built-in mocks

The names are resolved lazily so that importing a pure submodule (``routing``,
``validation``: the mock uses them) does not pull in the server stack and prometheus.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GatewayApp": "unispec.gateway.app",
    "build_gateway_app": "unispec.gateway.app",
    "GatewaySettings": "unispec.gateway.settings",
    "parse_settings": "unispec.gateway.settings",
    "serve": "unispec.gateway.server",
    "up": "unispec.gateway.server",
    "run": "unispec.gateway.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'unispec.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
