"""The mock on real public documents (Adyen 3.1): every operation answers a 2xx whose body
validates against the documented schema, from examples or synthesized data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from unispec.gateway.mock import build_mock_app
from unispec.model import Operation, ServiceConfig, Source, UnifiedSpec
from unispec.synth import example_for, resolve_ref, synthesize

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")
METHODS = ("get", "put", "post", "delete", "patch")
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def as_unified(document: dict[str, Any], service: str) -> UnifiedSpec:
    ops = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                op["x-service"] = service
                pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
                ops.append(
                    Operation(method, path, op["operationId"], service, Source("x"), pointer)
                )
    return UnifiedSpec(document, tuple(ops), (), (ServiceConfig(service, "x.json"),))


def deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve_ref(doc, node["$ref"])
    return node


def request_for(doc: dict[str, Any], op: Operation) -> dict[str, Any]:
    item = doc["paths"][op.path]
    obj = item[op.method]
    url = op.path
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for raw in (item.get("parameters") or []) + (obj.get("parameters") or []):
        p = deref(doc, raw)
        if p["in"] != "path" and not p.get("required"):
            continue
        value = p.get("example")
        if value is None:
            value = synthesize(p.get("schema", {}), doc, direction="request", name=p["name"])
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", text)
        elif p["in"] == "query":
            query[p["name"]] = text
        elif p["in"] == "header":
            headers[p["name"]] = text
    kwargs: dict[str, Any] = {"params": query, "headers": headers}
    body = deref(doc, obj.get("requestBody"))
    if body:
        _, media = next(iter(body["content"].items()))
        kwargs["json"] = example_for(media, doc, direction="request")[0]
    return {"method": op.method.upper(), "url": url, **kwargs}


@pytest.mark.parametrize("name", ["TransferService-v4.json", "LegalEntityService-v4.json"])
def test_adyen_mock_answers_every_operation(name: str) -> None:
    doc = json.loads((CORPUS / "adyen" / "json" / name).read_text(encoding="utf-8"))
    spec = as_unified(doc, "adyen")
    problems: list[str] = []
    app = build_mock_app(spec, "adyen", on_problem=problems.append)
    requests = [(op, request_for(doc, op)) for op in spec.operations]

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
            return [await client.request(**req) for _, req in requests]

    failures = []
    for (op, _), response in zip(requests, asyncio.run(run()), strict=True):
        if not 200 <= response.status_code < 300:
            failures.append(f"{op.operation_id}: {response.status_code} {response.text[:200]}")
            continue
        ctype = response.headers.get("content-type", "").split(";")[0]
        documented = deref(
            doc,
            deref(doc, doc["paths"][op.path][op.method])["responses"][str(response.status_code)],
        )
        media = (documented.get("content") or {}).get(ctype)
        if response.content and media is None:
            failures.append(f"{op.operation_id}: undocumented content type {ctype!r}")
        elif media is not None and "json" in ctype and "schema" in media:
            root = {**media["schema"], "components": doc["components"]}
            errors = list(
                jsonschema.Draft202012Validator(root, format_checker=FORMATS).iter_errors(
                    response.json()
                )
            )
            failures.extend(f"{op.operation_id}: {e.message[:160]}" for e in errors[:1])
    assert len(spec.operations) >= 12
    assert failures == []
    assert problems == []
