"""Schemathesis hooks loaded by the fuzz child process only (``SCHEMATHESIS_HOOKS``).

Gives each secured operation its own caller's bearer token. Why not
``[[operations]] headers`` in ``schemathesis.toml``: Schemathesis 4.32 caches
one HTTP session per worker built with the *first* operation's configured
headers, so that token leaks into every operation without headers of its own
(public ones included), and configured headers are re-added to cases that
deliberately drop ``Authorization`` (``missing_required_header``). An auth
provider is applied per case, skipped when a case negates the security
parameter, and marks the credentials as explicit for ``ignored_auth``.

The tokens come from the JSON file named by ``UNISPEC_FUZZ_AUTH_FILE``:
``{"tokens": {"POST /items": "<jwt>", ...}}`` (operation label -> token).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import schemathesis

AUTH_FILE_ENV = "UNISPEC_FUZZ_AUTH_FILE"


def _load_tokens() -> dict[str, str]:
    path = os.environ.get(AUTH_FILE_ENV)
    if not path:
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    tokens = data.get("tokens") or {}
    return {str(k): str(v) for k, v in tokens.items()}


TOKENS = _load_tokens()


@schemathesis.auth(refresh_interval=None)
class OperationTokens:
    """The token of the operation's planned caller; nothing for public operations."""

    def get(self, case: Any, ctx: Any) -> str | None:
        return TOKENS.get(str(case.operation.label))

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = f"Bearer {data}"
