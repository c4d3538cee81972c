"""Request validation at the gateway: every rule answers with the right field path.

In-process (httpx ASGI transport): a rejected request never reaches an upstream,
so these need no network. The default upstream is a closed port: a request that
wrongly got through would surface as 502 instead of 422/415.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from gw_support import make_app

from unispec.gateway.app import GatewayApp
from unispec.gateway.validation import SchemaCompiler, compile_operation

HEADERS = {"X-Client-Version": "1.2"}


def call(app: GatewayApp, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            try:
                return await client.request(method, url, **kwargs)
            finally:
                await app.proxy.close()

    return asyncio.run(go())


@pytest.fixture
def app() -> GatewayApp:
    # Function-scoped: requests that pass validation fail upstream, and five of
    # those in a row would (rightly) open the circuit breaker for later tests.
    return make_app()


def details(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert body["success"] is False
    assert body["error"]["requestId"] == response.headers["x-request-id"]
    return {d["field"]: d["code"] for d in body["error"].get("details", [])}


def test_all_parameter_violations_reported_with_field_paths(app: GatewayApp) -> None:
    r = call(
        app,
        "GET",
        "/pets?limit=0&ids=1,x&filter[age]=abc",
        headers={"Cookie": "session=a"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert details(r) == {
        "query.limit": "minimum",
        "query.ids.1": "type",
        "query.filter.age": "type",
        "header.X-Client-Version": "required",
        "cookie.session": "minLength",
    }


def test_valid_parameters_pass_validation(app: GatewayApp) -> None:
    # Passes validation, then fails to reach the (closed) upstream: 502, not 422.
    r = call(
        app,
        "GET",
        "/pets?limit=5&ids=1,2&filter[age]=3&tags=a&tags=b",
        headers={**HEADERS, "Cookie": "session=abc"},
    )
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "BAD_GATEWAY"


def test_header_pattern_and_path_params(app: GatewayApp) -> None:
    r = call(app, "GET", "/pets", headers={"X-Client-Version": "v1"})
    assert details(r) == {"header.X-Client-Version": "pattern"}
    r = call(app, "GET", "/pets/0/photo.gif")
    assert details(r) == {"path.id": "minimum", "path.ext": "enum"}
    r = call(app, "GET", "/pets/abc")
    assert details(r) == {"path.id": "type"}
    r = call(app, "GET", "/labels/.1,2,x")
    assert details(r) == {"path.coords.2": "type"}
    r = call(app, "GET", "/labels/.1,2,3,4")
    assert details(r) == {"path.coords": "maxItems"}


def test_json_body_all_violations_nested_paths(app: GatewayApp) -> None:
    body = b'{"name":"","contact":{"email":"a@@b.com"},"id":"x","born":"2024-13-01","extra":1}'
    r = call(app, "POST", "/pets", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert details(r) == {
        "body.name": "minLength",
        "body.contact.email": "format",
        "body.id": "format",
        "body.born": "format",
        "body": "additionalProperties",
    }
    r = call(app, "POST", "/pets", json={"name": "rex", "contact": {}})
    assert details(r) == {"body.contact.email": "required"}


def test_format_violations_name_the_format_for_people(app: GatewayApp) -> None:
    body = b'{"name":"rex","contact":{"email":"a@@b.com"},"id":"x","born":"2024-13-01"}'
    r = call(app, "POST", "/pets", content=body, headers={"content-type": "application/json"})
    messages = {d["field"]: d["message"] for d in r.json()["error"]["details"]}
    assert messages == {
        "body.contact.email": '"a@@b.com" is not a valid email address',
        "body.id": '"x" is not a valid UUID',
        "body.born": '"2024-13-01" is not a valid date (YYYY-MM-DD)',
    }


def test_circular_schema_validates_deep(app: GatewayApp) -> None:
    r = call(
        app, "POST", "/trees", json={"name": "a", "children": [{"name": "b", "children": [{}]}]}
    )
    assert details(r) == {"body.children.0.children.0.name": "required"}
    r = call(app, "POST", "/trees", json={"name": "a", "children": [{"name": "b"}]})
    assert r.status_code == 502  # valid: forwarded to the closed upstream


def test_invalid_json_and_missing_body(app: GatewayApp) -> None:
    r = call(app, "POST", "/pets", content=b"{nope", headers={"content-type": "application/json"})
    assert details(r) == {"body": "invalid_json"}
    r = call(app, "POST", "/pets")
    assert r.status_code == 422
    assert details(r) == {"body": "required"}


def test_unknown_media_type_is_415(app: GatewayApp) -> None:
    r = call(app, "POST", "/pets", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    r = call(app, "POST", "/pets", content=b"x")  # a body without a content type
    assert r.status_code == 415


def test_form_body_coerced_and_validated(app: GatewayApp) -> None:
    r = call(app, "POST", "/pets", data={"name": "", "age": "-1"})
    assert details(r) == {"body.name": "minLength", "body.age": "minimum"}
    r = call(app, "POST", "/pets", data={"age": "x"})
    assert details(r) == {"body.name": "required", "body.age": "type"}
    r = call(app, "POST", "/pets", data={"name": "rex", "age": "3"})
    assert r.status_code == 502


def test_multipart_fields_validated(app: GatewayApp) -> None:
    files = {"file": ("a.bin", b"\x00" * 1000, "application/octet-stream")}
    r = call(app, "POST", "/uploads", data={"title": "a", "count": "x"}, files=files)
    assert details(r) == {"body.title": "minLength", "body.count": "type"}
    r = call(app, "POST", "/uploads", data={"title": "abc"})
    assert r.status_code == 415  # form-urlencoded is not documented for uploads
    r = call(
        app, "POST", "/uploads", data={"title": "abc", "count": "2"}, files={"other": ("x", b"1")}
    )
    assert details(r) == {"body.file": "required"}
    r = call(app, "POST", "/uploads", data={"title": "abc", "count": "2"}, files=files)
    assert r.status_code == 502


def test_not_found_and_method_not_allowed(app: GatewayApp) -> None:
    r = call(app, "GET", "/nothing/here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"
    r = call(app, "PATCH", "/pets/3")
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, HEAD"
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_static_segment_wins_over_template(app: GatewayApp) -> None:
    # /pets/mine is static: no path.id validation error for "mine".
    r = call(app, "GET", "/pets/mine")
    assert r.status_code == 502


def test_payload_too_large_by_content_length() -> None:
    app = make_app(max_body_size=100)
    r = call(app, "POST", "/pets", content=b"x" * 101, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_payload_too_large_streamed_without_length() -> None:
    app = make_app(max_body_size=100)

    async def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 50

    r = call(app, "POST", "/pets", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_unavailable_service_is_503(app: GatewayApp) -> None:
    r = call(app, "GET", "/off")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_request_id_kept_when_valid_else_generated(app: GatewayApp) -> None:
    r = call(app, "GET", "/nothing", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json()["error"]["requestId"] == "abc-123"
    r = call(app, "GET", "/nothing", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces"
    assert len(r.headers["x-request-id"]) == 32


def test_request_body_and_response_components_that_are_refs_themselves() -> None:
    # 1Password's Events API: requestBodies.AuditEventsRequest is {$ref: CursorRequest}
    # (a component that is a reference to another). The gateway and the mock used to
    # refuse to start: "Pointer .../AuditEventsRequest/content/... does not exist".
    counted = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/events": {
                "post": {
                    "operationId": "postEvents",
                    "requestBody": {"$ref": "#/components/requestBodies/Alias"},
                    "responses": {"200": {"$ref": "#/components/responses/AliasOk"}},
                }
            }
        },
        "components": {
            "schemas": {"Counted": counted},
            "requestBodies": {
                "Alias": {"$ref": "#/components/requestBodies/Real"},
                "Real": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Counted"}}
                    },
                },
            },
            "responses": {
                "AliasOk": {"$ref": "#/components/responses/Ok"},
                "Ok": {
                    "description": "ok",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Counted"}}
                    },
                },
            },
        },
    }
    ov = compile_operation(SchemaCompiler(document), "/events", "post", "postEvents")
    assert ov.body_required
    body = ov.media["application/json"].validator
    assert body.is_valid({"n": 1}) and not body.is_valid({"n": "one"})
    response = ov.responses["200"]["application/json"]
    assert response.is_valid({"n": 2}) and not response.is_valid({})
