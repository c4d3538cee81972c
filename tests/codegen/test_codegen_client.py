"""generated/client/: the typed client package, offline and against a served contract."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import BaseModel

from unispec.codegen.client import render_client, snake_case
from unispec.model import ErrorCode, UnifiedSpec

ERRORS = (
    ErrorCode("COURSE_NOT_FOUND", 404, "No such course.", origin="courses"),
    ErrorCode("UNAUTHORIZED", 401, "Missing or invalid token."),
    ErrorCode("VALIDATION_ERROR", 422, "Validation failed."),
)


@pytest.fixture(scope="module")
def fixture_spec(cg: ModuleType) -> UnifiedSpec:
    doc = cg.fixture_document()
    return UnifiedSpec(document=doc, operations=cg.operations_of(doc), errors=ERRORS, services=())


@pytest.fixture(scope="module")
def client_pkg(
    fixture_spec: UnifiedSpec, cg: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> ModuleType:
    files = render_client(fixture_spec)
    return cg.import_package(files, tmp_path_factory.mktemp("client"))  # type: ignore[no-any-return]


def test_snake_case_names() -> None:
    assert snake_case("listCourses") == "list_courses"
    assert snake_case("getHTTPStatus") == "get_http_status"
    assert snake_case("import") == "import_"
    assert snake_case("list-courses_v2") == "list_courses_v2"


def test_package_layout_and_determinism(fixture_spec: UnifiedSpec) -> None:
    first = render_client(fixture_spec)
    assert sorted(first) == [
        "client/__init__.py",
        "client/_core.py",
        "client/errors.py",
        "client/models.py",
        "client/operations.json",
        "client/py.typed",
        "client/services.py",
    ]
    assert render_client(fixture_spec) == first


def test_one_method_per_operation_grouped_by_service(client_pkg: ModuleType) -> None:
    api = client_pkg.Client("http://127.0.0.1:9")
    assert {m for m in vars(type(api.courses)) if not m.startswith("_")} == {
        "list_courses",
        "iter_list_courses",
        "create_course",
        "get_course",
        "delete_course",
    }
    assert hasattr(client_pkg.AsyncClient("http://127.0.0.1:9").courses, "iter_list_courses")
    api.close()


def _page(items: list[dict[str, Any]], cursor: str | None) -> dict[str, Any]:
    return {
        "success": True,
        "data": items,
        "meta": {"pagination": {"nextCursor": cursor, "limit": 2}},
    }


COURSE = {
    "id": "5f0c8a7e-1b2d-4c3e-9f4a-6b7c8d9e0f1a",
    "title": "Rust 101",
    "createdAt": "2026-11-20T09:15:00Z",
    "lessons": [],
}


def _handler(seen: list[httpx.Request]) -> Any:
    pages = {None: ("c1", 2), "c1": ("c2", 2), "c2": (None, 1)}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/courses" and request.method == "GET":
            cursor = request.url.params.get("cursor")
            nxt, count = pages[cursor]
            return httpx.Response(200, json=_page([COURSE] * count, nxt))
        if request.method == "POST":
            return httpx.Response(201, json={"success": True, "data": COURSE})
        if request.url.path.endswith("/missing"):
            return httpx.Response(
                404,
                json={
                    "success": False,
                    "error": {
                        "code": "COURSE_NOT_FOUND",
                        "message": "No such course",
                        "requestId": "r1",
                    },
                },
            )
        if request.method == "DELETE":
            return httpx.Response(502, text="<html>bad gateway</html>")
        return httpx.Response(200, json={"success": True, "data": COURSE})

    return handle


def test_sync_client_behaviour(client_pkg: ModuleType) -> None:
    seen: list[httpx.Request] = []
    api = client_pkg.Client(
        "http://api.test", token="tok-1", transport=httpx.MockTransport(_handler(seen))
    )
    created = api.courses.create_course(
        body=client_pkg.models.CreateCourseRequest(title="Rust 101", instructorEmail="a@b.co")
    )
    assert isinstance(created, client_pkg.models.CreateCourseResponse)
    assert created.data.title == "Rust 101"
    post = seen[-1]
    assert post.headers["authorization"] == "Bearer tok-1"
    assert post.headers["content-type"] == "application/json"
    assert json.loads(post.content) == {"title": "Rust 101", "instructorEmail": "a@b.co"}

    page = api.courses.list_courses(limit=2, level="beginner")
    assert page.meta.pagination.nextCursor == "c1"
    assert seen[-1].url.params.multi_items() == [("limit", "2"), ("level", "beginner")]

    items = list(api.courses.iter_list_courses(limit=2))
    assert len(items) == 5 and all(isinstance(i, client_pkg.models.Course) for i in items)
    assert [r.url.params.get("cursor") for r in seen[-3:]] == [None, "c1", "c2"]

    with pytest.raises(client_pkg.CourseNotFoundError) as err:
        api.courses.get_course("missing")
    assert err.value.code == "COURSE_NOT_FOUND" and err.value.status == 404
    assert err.value.request_id == "r1"
    assert isinstance(err.value, client_pkg.ApiError)

    api.courses.get_course("a/b c")
    assert seen[-1].url.raw_path == b"/api/v1/courses/a%2Fb%20c"

    with pytest.raises(client_pkg.UnexpectedResponseError) as unexpected:
        api.courses.delete_course("x")
    assert unexpected.value.status == 502

    calls = iter(["t1", "t2"])
    api.token = lambda: next(calls)
    api.courses.get_course("x")
    api.courses.get_course("x")
    assert [r.headers["authorization"] for r in seen[-2:]] == ["Bearer t1", "Bearer t2"]
    api.close()


def test_async_client_behaviour(client_pkg: ModuleType) -> None:
    seen: list[httpx.Request] = []

    async def run() -> list[Any]:
        async with client_pkg.AsyncClient(
            "http://api.test", token="tok-2", transport=httpx.MockTransport(_handler(seen))
        ) as api:
            course = await api.courses.get_course("x")
            items = [item async for item in api.courses.iter_list_courses()]
            with pytest.raises(client_pkg.ApiError) as err:
                await api.courses.get_course("missing")
            assert err.value.code == "COURSE_NOT_FOUND"
            return [course, *items]

    results = asyncio.run(asyncio.wait_for(run(), 10))
    assert len(results) == 6
    assert seen[0].headers["authorization"] == "Bearer tok-2"


# --- against a served contract --------------------------------------------------------


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port in a thread; always stop it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert server.started, "server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _arguments(method: Any) -> dict[str, Any]:
    import inspect

    args: dict[str, Any] = {}
    for name, param in inspect.signature(method).parameters.items():
        if param.default is inspect.Parameter.empty and param.kind != param.VAR_KEYWORD:
            args[name] = None
    return args


def test_every_fixture_operation_against_the_mock_upstream(
    client_pkg: ModuleType, fixture_spec: UnifiedSpec, tmp_path: Path
) -> None:
    """Each operation through the real HTTP stack; responses parse into their models."""
    from unispec.gateway.mock import build_mock_app

    app = build_mock_app(fixture_spec, "courses")
    body = {
        "title": "Rust 101",
        "instructorEmail": "ada@example.com",
    }
    with serve(app) as url, client_pkg.Client(url, token="t") as api:
        created = api.courses.create_course(body=body)
        course_id = created.data.id
        got = api.courses.get_course(course_id)
        assert got.data.id == course_id
        assert api.courses.list_courses(limit=5).success is True
        assert len(list(api.courses.iter_list_courses(max_pages=3))) >= 1
        assert api.courses.delete_course(course_id) is None
    with serve(app) as url, client_pkg.Client(url, headers={"Prefer": "code=404"}) as api:
        with pytest.raises(client_pkg.ApiError) as err:
            api.courses.get_course(course_id)
        assert err.value.status == 404 and err.value.code == "COURSE_NOT_FOUND"


def test_components_named_like_models_imports_are_returned_as_their_classes(
    cg: ModuleType, tmp_path: Path
) -> None:
    # Schemas called Field and Any (Jira, Airtable...) clash with models.py's imports:
    # datamodel-code-generator names the classes FieldModel/AnyModel, and the client's
    # models.Field.model_validate(...) was pydantic's Field: AttributeError on every call.
    # "@type" needs Field(alias=...) and "value" Any: both get imported into models.py.
    props = {"id": {"type": "string"}, "@type": {"type": "string"}, "value": {}}
    field = {"type": "object", "properties": props}
    holder = {"type": "object", "properties": {"field": {"$ref": "#/components/schemas/Field"}}}

    def get(op_id: str, schema: dict[str, Any]) -> dict[str, Any]:
        content = {"application/json": {"schema": schema}}
        response = {"description": "ok", "content": content}
        return {"get": {"operationId": op_id, "x-service": "jira", "responses": {"200": response}}}

    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/fields": get(
                "listFields", {"type": "array", "items": {"$ref": "#/components/schemas/Field"}}
            ),
            "/any": get("getAny", {"$ref": "#/components/schemas/Any"}),
        },
        "components": {"schemas": {"Field": field, "Any": holder}},
    }
    spec = UnifiedSpec(document=doc, operations=cg.operations_of(doc), errors=(), services=())
    pkg = cg.import_package(render_client(spec), tmp_path)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/fields":
            return httpx.Response(200, json=[{"id": "summary"}])
        return httpx.Response(200, json={"field": {"id": "due"}})

    api = pkg.Client(base_url="http://api.test", transport=httpx.MockTransport(handler))
    fields = api.jira.list_fields()
    assert [f.id for f in fields] == ["summary"]
    assert isinstance(fields[0], BaseModel)
    assert api.jira.get_any().field.id == "due"


def test_portal_sdk_samples_call_the_names_the_client_really_has(
    cg: ModuleType, tmp_path: Path
) -> None:
    """Snake-casing the operationId is not the client's whole naming rule: a service
    called ``token`` is ``api.token_service``, a second ``get_item`` is ``get_item_2``
    and a query parameter ``timeout`` (the client's own keyword) is ``timeout_2``. The
    client's operations.json tells the portal, whose samples must call what exists."""
    import inspect

    from unispec.build import load_unified
    from unispec.portal.site import render_for_project

    query = [{"name": "timeout", "in": "query", "required": True, "schema": {"type": "integer"}}]
    path = [{"name": "itemId", "in": "path", "required": True, "schema": {"type": "string"}}]
    ok = {"200": {"description": "ok"}}
    spec_doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/items": {"get": {"operationId": "get_item", "responses": ok}},
            "/items/{itemId}": {
                "get": {"operationId": "getItem", "parameters": path + query, "responses": ok}
            },
        },
    }
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    (project / "specs" / "token.json").write_text(json.dumps(spec_doc))
    (project / "unispec.yaml").write_text(
        "info: {title: T, version: '1'}\nservices:\n  token: {spec: specs/token.json}\n"
    )
    spec = load_unified(project)
    files = render_client(spec)
    calls = json.loads(files["client/operations.json"])
    assert calls["getItem"] == {
        "service": "token_service",
        "method": "get_item_2",
        "path": [["itemId", "item_id"]],
        "query": {"timeout": "timeout_2"},
    }
    for key, data in files.items():
        (project / "generated" / key).parent.mkdir(parents=True, exist_ok=True)
        (project / "generated" / key).write_bytes(data)
    blocks = render_for_project(spec, project).blocks["services/token/getItem.md.json"]
    assert "api.token_service.get_item_2(" in blocks.decode()
    assert "timeout_2=" in blocks.decode()
    # And those names exist in the client itself.
    pkg = cg.import_package(files, tmp_path / "pkg")
    method = pkg.Client(base_url="http://api.test").token_service.get_item_2
    assert {"item_id", "timeout_2"} <= set(inspect.signature(method).parameters)
