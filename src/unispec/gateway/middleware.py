"""Cross-cutting response decoration: request ids, CORS, security headers, error envelope.

These are plain functions over header lists rather than Starlette middleware
classes: every middleware layer costs a coroutine and a ``send`` wrapper per
request, and the gateway's throughput target leaves no room for that. The app
calls them at the one place where each response starts.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Sequence

from unispec.gateway.settings import CorsSettings

Headers = list[tuple[bytes, bytes]]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
NO_STORE = (b"cache-control", b"no-store")

MESSAGES = {
    "NOT_FOUND": "No operation matches this path",
    "METHOD_NOT_ALLOWED": "Method not allowed for this path",
    "PAYLOAD_TOO_LARGE": "Request body is too large",
    "UNSUPPORTED_MEDIA_TYPE": "Unsupported media type",
    "VALIDATION_ERROR": "Validation failed",
    "BAD_GATEWAY": "The upstream service could not be reached",
    "GATEWAY_TIMEOUT": "The upstream service did not answer in time",
    "SERVICE_UNAVAILABLE": "The upstream service is unavailable",
    "UPSTREAM_CONTRACT_VIOLATION": "The upstream response does not match the contract",
    "INTERNAL_ERROR": "Internal gateway error",
}


def request_id(incoming: str | None) -> str:
    """Keep a well-formed incoming X-Request-ID (tracing across hops), else a new one."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return _ID_FORMAT % next(_ID_COUNTER)


_ID_PREFIX = os.urandom(8).hex()
"""64 random bits per process (workers fork before serving, so re-drawn in each:
see ``reseed_request_ids``) + a 64-bit counter: unique like a uuid4, without a
``getrandom`` system call per request."""
_ID_COUNTER = itertools.count(int.from_bytes(os.urandom(4), "big"))
_ID_FORMAT = _ID_PREFIX + "%016x"


def reseed_request_ids() -> None:
    """Draw a new prefix (call in each forked worker, so ids never collide)."""
    global _ID_PREFIX, _ID_COUNTER, _ID_FORMAT
    _ID_PREFIX = os.urandom(8).hex()
    _ID_FORMAT = _ID_PREFIX + "%016x"
    _ID_COUNTER = itertools.count(int.from_bytes(os.urandom(4), "big"))


def envelope(
    code: str, message: str, request_id: str, details: Sequence[dict[str, str]] = ()
) -> bytes:
    """The error body of DESIGN.md."""
    error: dict[str, object] = {"code": code, "message": message}
    if details:
        error["details"] = list(details)
    error["requestId"] = request_id
    return json.dumps({"success": False, "error": error}, separators=(",", ":")).encode()


class Decorator:
    """Adds the configured CORS and security headers to every response."""

    def __init__(self, cors: CorsSettings, security_headers: bool) -> None:
        self.cors = cors
        self.security = SECURITY_HEADERS if security_headers else ()
        self.any_origin = "*" in cors.allow_origins
        self.origins = frozenset(cors.allow_origins)
        self.expose = ", ".join(cors.expose_headers).encode()
        self.allow_headers = ", ".join(cors.allow_headers)

    def origin_allowed(self, origin: str | None) -> bool:
        return bool(origin) and self.cors.enabled and (self.any_origin or origin in self.origins)

    def cors_headers(self, origin: str | None) -> Headers:
        if not origin or not self.origin_allowed(origin):
            return []
        out: Headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin"),
        ]
        if self.cors.allow_credentials:
            out.append((b"access-control-allow-credentials", b"true"))
        if self.expose:
            out.append((b"access-control-expose-headers", self.expose))
        return out

    def decorate(self, headers: Headers, rid: str, origin: str | None, api: bool = True) -> Headers:
        """Headers of a response the gateway sends: request id, security, CORS."""
        headers.append((b"x-request-id", rid.encode()))
        if self.security:
            if api:
                for k, _ in headers:
                    if k == b"cache-control":
                        break
                else:
                    headers.append(NO_STORE)
            headers.extend(self.security)
        if origin and self.cors.enabled:
            headers.extend(self.cors_headers(origin))
        return headers

    def preflight(
        self, origin: str, methods: Iterable[str], requested_headers: str | None
    ) -> Headers | None:
        """Headers answering a CORS preflight, or None when the origin is not allowed."""
        if not self.origin_allowed(origin):
            return None
        allow_headers = self.allow_headers
        if allow_headers == "*" and (self.cors.allow_credentials or requested_headers):
            allow_headers = requested_headers or ""
        out: Headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin"),
            (b"access-control-allow-methods", ", ".join(methods).encode()),
            (b"access-control-max-age", str(self.cors.max_age).encode()),
        ]
        if allow_headers:
            out.append((b"access-control-allow-headers", allow_headers.encode("latin-1")))
        if self.cors.allow_credentials:
            out.append((b"access-control-allow-credentials", b"true"))
        return out
