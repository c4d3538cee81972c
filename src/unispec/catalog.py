"""The error catalog: the gateway's own codes and the envelope they travel in.

These definitions are part of the contract, not of the gateway: merge writes
them into the unified document so clients, docs and fuzzers see every error a
request can meet, and the gateway reads the same table when it answers.
"""

from __future__ import annotations

import re
from typing import Any

from unispec import refs

# code -> (HTTP status, meaning, what the client should do)
GATEWAY_CODES: dict[str, tuple[int, str, str]] = {
    "UNAUTHORIZED": (
        401,
        "The request has no valid bearer token.",
        "Send `Authorization: Bearer <access token>`; log in again if the token was revoked.",
    ),
    "TOKEN_EXPIRED": (
        401,
        "The bearer token has expired.",
        "Get a new access token with the refresh token, then retry.",
    ),
    "FORBIDDEN": (
        403,
        "The token is valid but lacks a role or scope this operation requires.",
        "Check the operation's required roles; ask an administrator for access.",
    ),
    "NOT_FOUND": (
        404,
        "No operation matches this path.",
        "Check the path against the API reference (prefix /api/v1, plural nouns).",
    ),
    "METHOD_NOT_ALLOWED": (
        405,
        "The path exists but not with this HTTP method.",
        "Use one of the methods listed in the `Allow` response header.",
    ),
    "PAYLOAD_TOO_LARGE": (
        413,
        "The request body is larger than the gateway accepts.",
        "Send a smaller body; upload large files in parts.",
    ),
    "UNSUPPORTED_MEDIA_TYPE": (
        415,
        "The request body's Content-Type is not one the operation accepts.",
        "Send one of the media types listed for the operation's request body.",
    ),
    "VALIDATION_ERROR": (
        422,
        "The request does not match the contract; `details` lists every violation.",
        "Fix each field named in `details[].field` (e.g. body.email, query.limit) and retry.",
    ),
    "RATE_LIMIT_EXCEEDED": (
        429,
        "Too many requests for this operation in the current window.",
        "Wait for the number of seconds in `Retry-After`; watch `X-RateLimit-Remaining`.",
    ),
    "INTERNAL_ERROR": (
        500,
        "An unexpected error inside the gateway.",
        "Retry later and report the `requestId` if it persists.",
    ),
    "BAD_GATEWAY": (
        502,
        "The service behind this operation could not be reached.",
        "Retry with backoff; idempotent requests are safe to retry.",
    ),
    "UPSTREAM_CONTRACT_VIOLATION": (
        502,
        "The service answered something its contract does not allow.",
        "Report the `requestId`; the service team must fix the response.",
    ),
    "SERVICE_UNAVAILABLE": (
        503,
        "The service is unavailable (disabled, unhealthy or its circuit is open).",
        "Retry after the number of seconds in `Retry-After`.",
    ),
    "GATEWAY_TIMEOUT": (
        504,
        "The service did not answer in time.",
        "Retry with backoff; for non-idempotent requests check first whether it took effect.",
    ),
}

ERROR_SCHEMA_NAME = "Error"

# The envelope of DESIGN.md, written so that 3.0 and 3.1 service documents can
# declare it byte-for-byte identically (and so merge into this one).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message", "requestId"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "code", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
                "requestId": {"type": "string"},
            },
        },
    },
}

RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the current window for this client and operation.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "Seconds until the window resets.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    },
}

# Reusable response components the gateway can produce: name -> (status, codes).
GATEWAY_RESPONSES: dict[str, tuple[int, tuple[str, ...]]] = {
    "Unauthorized": (401, ("UNAUTHORIZED", "TOKEN_EXPIRED")),
    "Forbidden": (403, ("FORBIDDEN",)),
    "PayloadTooLarge": (413, ("PAYLOAD_TOO_LARGE",)),
    "UnsupportedMediaType": (415, ("UNSUPPORTED_MEDIA_TYPE",)),
    "ValidationFailed": (422, ("VALIDATION_ERROR",)),
    "RateLimited": (429, ("RATE_LIMIT_EXCEEDED",)),
    "BadGateway": (502, ("BAD_GATEWAY", "UPSTREAM_CONTRACT_VIOLATION")),
    "ServiceUnavailable": (503, ("SERVICE_UNAVAILABLE",)),
    "GatewayTimeout": (504, ("GATEWAY_TIMEOUT",)),
}

_EXAMPLE_REQUEST_ID = "req_3f0c9a2e7b1d4c58"


def error_example(code: str) -> dict[str, Any]:
    """An envelope example for ``code`` (used in docs and the mock)."""
    _status, meaning, _hint = GATEWAY_CODES[code]
    error: dict[str, Any] = {"code": code, "message": meaning, "requestId": _EXAMPLE_REQUEST_ID}
    if code == "VALIDATION_ERROR":
        error["details"] = [
            {"field": "body.email", "code": "format", "message": "'not-an-email' is not an email"}
        ]
    return {"success": False, "error": error}


def gateway_response(name: str) -> dict[str, Any]:
    """The response object for one of ``GATEWAY_RESPONSES``."""
    status, codes = GATEWAY_RESPONSES[name]
    described = "; ".join(f"`{c}`: {GATEWAY_CODES[c][1]}" for c in codes)
    response: dict[str, Any] = {
        "description": f"Returned by the gateway. {described}",
        "x-error-codes": {c: GATEWAY_CODES[c][1] for c in codes},
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"},
                "examples": {c: {"summary": c, "value": error_example(c)} for c in codes},
            }
        },
    }
    headers: dict[str, Any] = {}
    if status == 401:
        headers["WWW-Authenticate"] = {
            "description": "The authentication scheme to use (Bearer).",
            "schema": {"type": "string"},
        }
    if status in (429, 503):
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    if headers:
        response["headers"] = headers
    return response


# --- collecting the catalog from a unified document --------------------------------

_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _example_codes(document: dict[str, Any], response: dict[str, Any]) -> list[str]:
    """Error codes shown in a response's example bodies (``error.code``)."""
    codes: list[str] = []
    content = response.get("content")
    if not isinstance(content, dict):
        return codes
    for media in content.values():
        if not isinstance(media, dict):
            continue
        values = []
        if "example" in media:
            values.append(media["example"])
        examples = media.get("examples")
        if isinstance(examples, dict):
            for ex in examples.values():
                ex = refs.deref(document, ex)
                if isinstance(ex, dict) and "value" in ex:
                    values.append(ex["value"])
        for value in values:
            if isinstance(value, dict) and isinstance(value.get("error"), dict):
                code = value["error"].get("code")
                if isinstance(code, str) and _CODE_RE.match(code):
                    codes.append(code)
    return codes


def response_codes(document: dict[str, Any], response: Any) -> dict[str, str]:
    """code -> description declared by one response (x-error-codes, else examples)."""
    resp = refs.deref(document, response)
    if not isinstance(resp, dict):
        return {}
    out: dict[str, str] = {}
    declared = resp.get("x-error-codes")
    if isinstance(declared, dict):
        for code, desc in declared.items():
            if isinstance(desc, dict):
                desc = desc.get("description", "")
            out[str(code)] = str(desc or "")
    elif isinstance(declared, list):
        for code in declared:
            out[str(code)] = ""
    for code in _example_codes(document, resp):
        out.setdefault(code, str(resp.get("description", "")))
    return out
