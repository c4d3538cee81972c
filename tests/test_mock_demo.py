"""The mock upstreams on the embedded demo contract: every operation, every documented status.

What the fuzzer and the gateway's response validation rely on: whatever the
mock answers is documented (status, content type) and validates against the
response schema (Draft 2020-12 with format checks), and created resources can be
fetched and deleted through the operations their ``links`` name.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from unispec.build import load_unified
from unispec.gateway.mock import build_mock_app
from unispec.gateway.validation import SchemaCompiler
from unispec.model import Operation, UnifiedSpec
from unispec.synth import example_for, resolve_ref, synthesize

ROOT = Path(__file__).resolve().parents[1]
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER
_VALIDATORS: dict[int, tuple[Any, Any]] = {}
"""id(schema) -> (schema, validator); the schema is kept so the id stays its own."""


@pytest.fixture(scope="module")
def demo() -> UnifiedSpec:
    return load_unified(ROOT)


@pytest.fixture(scope="module")
def apps(demo: UnifiedSpec) -> dict[str, Any]:
    compiler = SchemaCompiler(demo.document)
    return {
        name: build_mock_app(demo, name, compiler=compiler)
        for name in sorted({op.service for op in demo.operations})
    }


def deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve_ref(doc, node["$ref"])
    return node


def operation_object(doc: dict[str, Any], op: Operation) -> dict[str, Any]:
    obj: dict[str, Any] = deref(doc, doc["paths"][op.path])[op.method]
    return obj


def parameters(doc: dict[str, Any], op: Operation) -> Iterator[dict[str, Any]]:
    item = deref(doc, doc["paths"][op.path])
    for raw in (item.get("parameters") or []) + (item[op.method].get("parameters") or []):
        yield deref(doc, raw)


def request_for(
    doc: dict[str, Any], op: Operation, ids: dict[str, str] | None = None
) -> dict[str, Any]:
    """A valid request built from the spec's examples (synthesized where there are none)."""
    path = op.path
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for p in parameters(doc, op):
        if p["in"] != "path" and not p.get("required"):
            continue
        if ids and p["name"] in ids:
            value: Any = ids[p["name"]]
        elif "example" in p:
            value = p["example"]
        else:
            value = synthesize(p.get("schema", {}), doc, direction="request", name=p["name"])
        if isinstance(value, bool):
            value = str(value).lower()
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", str(value))
        elif p["in"] == "query":
            query[p["name"]] = value
        elif p["in"] == "header":
            headers[p["name"]] = str(value)
    kwargs: dict[str, Any] = {"params": query, "headers": headers}
    body = deref(doc, operation_object(doc, op).get("requestBody"))
    if body:
        media_type, media = next(iter(body["content"].items()))
        value, _ = example_for(media, doc, direction="request")
        if "json" in media_type:
            kwargs["json"] = value
        elif media_type == "application/x-www-form-urlencoded":
            kwargs["data"] = value
        elif media_type.startswith("multipart/"):
            schema = deref(doc, media.get("schema", {}))
            files = {}
            data = {}
            for key, field in (value or {}).items():
                prop = deref(doc, schema.get("properties", {}).get(key, {}))
                if prop.get("format") == "binary" or prop.get("contentMediaType"):
                    files[key] = ("notes.txt", b"hello", "text/plain")
                else:
                    data[key] = field if isinstance(field, str) else json.dumps(field)
            kwargs["files"] = files
            kwargs["data"] = data
        else:
            kwargs["content"] = b"hello"
            headers["content-type"] = media_type
    return {"method": op.method.upper(), "url": path, **kwargs}


def call(app: Any, requests: list[dict[str, Any]]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
            return [await client.request(**r) for r in requests]

    return asyncio.run(go())


def conformance(doc: dict[str, Any], op: Operation, response: httpx.Response) -> list[str]:
    """What is wrong with a response against the contract (empty = conforms)."""
    responses = operation_object(doc, op)["responses"]
    status = str(response.status_code)
    documented = (
        responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
    )
    if documented is None:
        return [f"status {status} is not documented"]
    content = deref(doc, documented).get("content") or {}
    ctype = response.headers.get("content-type", "").split(";")[0].strip()
    if not content:
        return [] if not response.content else [f"unexpected body for {status}"]
    if ctype not in content:
        return [f"content type {ctype!r} not in {sorted(content)}"]
    schema = content[ctype].get("schema")
    if "json" not in ctype or schema is None:
        return []
    hit = _VALIDATORS.get(id(schema))
    if hit is not None and hit[0] is schema:
        validator = hit[1]
    else:
        root = {**schema, "components": doc["components"]}
        validator = jsonschema.Draft202012Validator(root, format_checker=FORMATS)
        _VALIDATORS[id(schema)] = (schema, validator)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:160]}"
        for e in validator.iter_errors(response.json())
    ]


def test_demo_is_large_enough(demo: UnifiedSpec) -> None:
    assert len(demo.operations) >= 42
    assert len({op.service for op in demo.operations}) >= 5


def test_every_operation_answers_its_success_example(
    demo: UnifiedSpec, apps: dict[str, Any]
) -> None:
    doc = demo.document
    problems: list[str] = []
    for op in demo.operations:
        app = apps[op.service]
        reset = {"method": "POST", "url": "/__mock__/reset"}
        _, response = call(app, [reset, request_for(doc, op)])
        if not 200 <= response.status_code < 300:
            problems.append(f"{op.operation_id}: {response.status_code} {response.text[:200]}")
            continue
        problems.extend(f"{op.operation_id}: {p}" for p in conformance(doc, op, response))
        assert not app.state.mock.problems, app.state.mock.problems
    assert problems == []


def test_every_documented_status_via_prefer(demo: UnifiedSpec, apps: dict[str, Any]) -> None:
    doc = demo.document
    problems: list[str] = []
    checked = 0
    for op in demo.operations:
        base = request_for(doc, op)
        requests = []
        statuses = []
        for status in operation_object(doc, op)["responses"]:
            if not str(status).isdigit():
                continue
            headers = {**base["headers"], "Prefer": f"code={status}", "X-Request-ID": "req-1"}
            requests.append({**base, "headers": headers})
            statuses.append(int(status))
        for status, response in zip(statuses, call(apps[op.service], requests), strict=True):
            checked += 1
            if response.status_code != status:
                problems.append(f"{op.operation_id} {status}: got {response.status_code}")
                continue
            problems.extend(
                f"{op.operation_id} {status}: {p}" for p in conformance(doc, op, response)
            )
            if status >= 400 and response.content:
                error = response.json().get("error", {})
                if error.get("requestId") != "req-1":
                    problems.append(f"{op.operation_id} {status}: requestId not echoed")
    assert checked > 200
    assert problems == []


def linked_families(
    doc: dict[str, Any], demo: UnifiedSpec
) -> list[tuple[Operation, dict[str, Any]]]:
    out = []
    for op in demo.operations:
        for status, resp in operation_object(doc, op)["responses"].items():
            resp = deref(doc, resp)
            if str(status).startswith("2") and resp.get("links"):
                out.append((op, resp["links"]))
    return out


def test_created_resources_live_until_deleted(demo: UnifiedSpec, apps: dict[str, Any]) -> None:
    doc = demo.document
    by_id = {op.operation_id: op for op in demo.operations}
    families = linked_families(doc, demo)
    lifecycles = 0
    for create, links in families:
        app = apps[create.service]
        targets = []
        for link in links.values():
            target = by_id.get(link.get("operationId", ""))
            params = link.get("parameters") or {}
            exprs = [str(v) for v in params.values() if str(v).startswith("$response.body#")]
            if target is not None and exprs:
                targets.append((target, params))
        if not targets:
            continue
        created = call(app, [request_for(doc, create)])[0]
        assert 200 <= created.status_code < 300, created.text
        assert conformance(doc, create, created) == []
        body = created.json()

        def ids_for(params: dict[str, Any], body: Any = body) -> dict[str, str]:
            out = {}
            for name, expr in params.items():
                node = body
                for token in str(expr).split("#", 1)[1].strip("/").split("/"):
                    node = node[token]
                out[name.split(".")[-1]] = str(node)
            return out

        reads = [(t, p) for t, p in targets if t.method == "get"]
        deletes = [(t, p) for t, p in targets if t.method == "delete"]
        for target, params in reads:
            r = call(app, [request_for(doc, target, ids_for(params))])[0]
            assert r.status_code == 200, (target.operation_id, r.text)
            assert conformance(doc, target, r) == []
        for target, params in deletes:
            r = call(app, [request_for(doc, target, ids_for(params))])[0]
            assert 200 <= r.status_code < 300, (target.operation_id, r.text)
            lifecycles += 1
            for read, read_params in reads:
                if read.path != target.path:
                    continue
                gone = call(app, [request_for(doc, read, ids_for(read_params))])[0]
                assert gone.status_code == 404, (read.operation_id, gone.text)
                assert conformance(doc, read, gone) == []
    assert lifecycles >= 2


def test_sub_resource_takes_its_parent_id_from_the_path(apps: dict[str, Any]) -> None:
    """Fuzz finding F2: a lesson created under /courses/{id}/lessons belongs to that course."""
    courses = apps["courses"]
    create = call(courses, [{"method": "POST", "url": "/api/v1/courses", "json": COURSE}])[0]
    assert create.status_code == 201, create.text
    course_id = create.json()["data"]["id"]
    lesson = call(
        apps["courses"],
        [{"method": "POST", "url": f"/api/v1/courses/{course_id}/lessons", "json": LESSON}],
    )[0]
    assert lesson.status_code == 201, lesson.text
    assert lesson.json()["data"]["courseId"] == course_id


COURSE = {
    "title": "Rust for Pythonistas",
    "description": "Ownership, borrowing and traits, explained from Python.",
    "level": "intermediate",
    "language": "en",
    "tags": ["rust"],
}
LESSON = {
    "title": "Ownership",
    "kind": "exercise",
    "position": 1,
    "durationMinutes": 15,
    "body": "Move a `String` into a function and use it again.",
    "exercise": {"language": "python", "starterCode": "def f():\n    ...\n", "testCount": 2},
}
