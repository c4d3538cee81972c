"""A tiny, deliberately breakable API and its contract, for the fuzz tests.

``ShopServer`` is a well-behaved JSON API (auth, roles, validation, 404/405
with ``Allow``, stateful items) that passes every Schemathesis check; each
``Bugs`` flag breaks exactly one promise so that a test can show the matching
check catches it. It runs on 127.0.0.1 on a free port in a thread and is
always stopped.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

SECRET = "fuzz-test-secret-of-at-least-32-bytes"
JWT_SETTINGS: dict[str, Any] = {
    "algorithms": ["HS256"],
    "dev_secret": SECRET,
    "secret_env": "UNISPEC_FUZZ_TEST_NO_SUCH_ENV",
}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "requestId": "t"}}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"const": False},
        "error": {
            "type": "object",
            "required": ["code", "message", "requestId"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "requestId": {"type": "string"},
            },
        },
    },
}


def _err_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def shop_spec() -> dict[str, Any]:
    """The contract of the shop: public search, secured items, admin-only create/delete."""
    item = {
        "type": "object",
        "required": ["id", "name", "price"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "price": {"type": "integer"},
        },
    }
    new_item = {
        "type": "object",
        "required": ["name", "price"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 20},
            "price": {"type": "integer", "minimum": 0, "maximum": 1000},
        },
    }
    auth_errors = {"401": _err_response("no or bad token"), "403": _err_response("forbidden")}
    id_param = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,6}$"},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "shop", "version": "1"},
        "servers": [{"url": "http://127.0.0.1:1"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/search": {
                "get": {
                    "operationId": "searchItems",
                    "x-service": "catalog",
                    "security": [],
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "found",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Item"},
                                    }
                                }
                            },
                        },
                        "422": _err_response("bad query"),
                    },
                }
            },
            "/items": {
                "post": {
                    "operationId": "createItem",
                    "x-service": "orders",
                    "x-roles": ["admin"],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "created",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            },
                            "links": {
                                "GetItem": {
                                    "operationId": "getItem",
                                    "parameters": {"id": "$response.body#/id"},
                                },
                                "DeleteItem": {
                                    "operationId": "deleteItem",
                                    "parameters": {"id": "$response.body#/id"},
                                },
                            },
                        },
                        **auth_errors,
                        "415": _err_response("not json"),
                        "422": _err_response("invalid"),
                    },
                }
            },
            "/items/{id}": {
                "get": {
                    "operationId": "getItem",
                    "x-service": "orders",
                    "parameters": [id_param],
                    "responses": {
                        "200": {
                            "description": "the item",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            },
                        },
                        **auth_errors,
                        "404": _err_response("no such item"),
                        "422": _err_response("bad id"),
                    },
                },
                "delete": {
                    "operationId": "deleteItem",
                    "x-service": "orders",
                    "x-roles": ["admin"],
                    "parameters": [id_param],
                    "responses": {
                        "204": {"description": "deleted"},
                        **auth_errors,
                        "404": _err_response("no such item"),
                        "422": _err_response("bad id"),
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": {"Item": item, "NewItem": new_item, "Error": ERROR_SCHEMA},
        },
    }


def _is_integer(value: Any) -> bool:
    """JSON Schema's integer: 3 and 3.0 alike (Schemathesis does send 3.0)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


@dataclass
class Bugs:
    """Each flag breaks one promise of the contract."""

    wrong_type: bool = False
    """GET /items/{id} returns ``price`` as a string."""
    crash_on_edge: bool = False
    """GET /search answers 500 at the documented maximum ``limit=100``."""
    no_validation: bool = False
    """POST /items accepts any JSON body (validation switched off)."""
    ignore_roles: bool = False
    """Admin-only operations let any authenticated user through."""
    secret: str = SECRET
    """The secret the server verifies tokens with."""


_ROUTES: list[tuple[re.Pattern[str], dict[str, tuple[str, bool, tuple[str, ...]]]]] = [
    (re.compile(r"^/search$"), {"GET": ("search", False, ())}),
    (re.compile(r"^/items$"), {"POST": ("create", True, ("admin",))}),
    (
        re.compile(r"^/items/(?P<id>[^/]+)$"),
        {"GET": ("get", True, ()), "DELETE": ("delete", True, ("admin",))},
    ),
]


class ShopServer:
    def __init__(self, bugs: Bugs) -> None:
        self.bugs = bugs
        self.items: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.next_id = 1
        self.requests = 0
        shop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _dispatch(self) -> None:
                shop.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, headers = shop.handle(
                    self.command, self.path, dict(self.headers), body
                )
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch
            do_OPTIONS = do_TRACE = do_HEAD = do_QUERY = do_CONNECT = _dispatch

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ShopServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    # -- the API -----------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(raw_path)
        for pattern, methods in _ROUTES:
            match = pattern.match(url.path)
            if match is None:
                continue
            if method not in methods:
                allow = ", ".join(sorted(methods))
                return 405, _error("METHOD_NOT_ALLOWED", "method not allowed"), {"Allow": allow}
            name, secured, roles = methods[method]
            if secured:
                denied = self.authenticate(headers, roles)
                if denied is not None:
                    return denied
            return getattr(self, f"op_{name}")(
                match.groupdict(), parse_qs(url.query, keep_blank_values=True), headers, body
            )
        return 404, _error("NOT_FOUND", "no route"), {}

    def authenticate(
        self, headers: dict[str, str], roles: tuple[str, ...]
    ) -> tuple[int, Any, dict[str, str]] | None:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = auth.partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not token:
            return 401, _error("UNAUTHORIZED", "missing token"), challenge
        try:
            claims = jwt.decode(token, self.bugs.secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return 401, _error("UNAUTHORIZED", "bad token"), challenge
        if roles and not self.bugs.ignore_roles and not set(claims.get("roles") or ()) & set(roles):
            return 403, _error("FORBIDDEN", "missing role"), {}
        return None

    def op_search(
        self,
        params: dict[str, str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        values = query.get("limit") or []
        if len(values) != 1 or not re.fullmatch(r"-?[0-9]+", values[0]):
            return 422, _error("VALIDATION_ERROR", "limit must be one integer"), {}
        limit = int(values[0])
        if not 1 <= limit <= 100:
            return 422, _error("VALIDATION_ERROR", "limit out of range"), {}
        if self.bugs.crash_on_edge and limit == 100:
            return 500, _error("INTERNAL_ERROR", "off by one"), {}
        with self.lock:
            return 200, list(self.items.values())[:limit], {}

    def op_create(
        self,
        params: dict[str, str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if (
            not self.bugs.no_validation
            and ctype.split(";")[0].strip().lower() != "application/json"
        ):
            return 415, _error("UNSUPPORTED_MEDIA_TYPE", "send JSON"), {}
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not self.bugs.no_validation:
            ok = (
                isinstance(data, dict)
                and set(data) == {"name", "price"}
                and isinstance(data["name"], str)
                and 1 <= len(data["name"]) <= 20
                and _is_integer(data["price"])
                and 0 <= data["price"] <= 1000
            )
            if not ok:
                return 422, _error("VALIDATION_ERROR", "invalid item"), {}
        elif not isinstance(data, dict):
            data = {}
        with self.lock:
            item_id = str(self.next_id)
            self.next_id += 1
            name = data.get("name")
            price = data.get("price")
            item = {
                "id": item_id,
                "name": name if isinstance(name, str) else "x",
                "price": int(price) if _is_integer(price) else 0,
            }
            self.items[item_id] = item
        return 201, item, {}

    def op_get(
        self,
        params: dict[str, str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        item_id = params["id"]
        if not re.fullmatch(r"[0-9]{1,6}", item_id):
            return 422, _error("VALIDATION_ERROR", "bad id"), {}
        with self.lock:
            item = self.items.get(item_id)
        if item is None:
            return 404, _error("NOT_FOUND", "no such item"), {}
        if self.bugs.wrong_type:
            item = {**item, "price": str(item["price"])}
        return 200, item, {}

    def op_delete(
        self,
        params: dict[str, str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        item_id = params["id"]
        if not re.fullmatch(r"[0-9]{1,6}", item_id):
            return 422, _error("VALIDATION_ERROR", "bad id"), {}
        with self.lock:
            item = self.items.pop(item_id, None)
        if item is None:
            return 404, _error("NOT_FOUND", "no such item"), {}
        return 204, None, {}


@pytest.fixture
def start_shop() -> Iterator[Any]:
    """``start_shop(**bugs) -> ShopServer`` running on a free port; stopped after the test."""
    started: list[ShopServer] = []

    def start(**bugs: Any) -> ShopServer:
        server = ShopServer(Bugs(**bugs)).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture(name="shop_spec")
def shop_spec_fixture() -> dict[str, Any]:
    return shop_spec()


@pytest.fixture
def jwt_settings() -> dict[str, Any]:
    return dict(JWT_SETTINGS)
