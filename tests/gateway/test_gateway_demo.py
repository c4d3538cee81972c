"""The embedded demo contract end to end: `unispec serve` with the built-in mocks.

Every operation of the unified demo contract gets a valid request (parameters
and body from the contract's examples or synthesized from its schemas, a dev
token with the roles it needs) through a real gateway process to the real mock
processes, and must come back with the first documented success status and,
where the contract has a JSON example for it, exactly that example.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from gw_support import start_process

from unispec.build import load_unified
from unispec.config import load_config
from unispec.synth import example_for, synthesize
from unispec.tokens import mint_token, resolve_secret

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo() -> Any:
    config = load_config(ROOT)
    spec = load_unified(ROOT, config=config)
    proc = start_process(
        [
            "-c",
            "from unispec.cli import main; main()",
            "serve",
            "--project",
            str(ROOT),
            "--port",
            "0",
        ],
        ready="unispec gateway on",
        cwd=ROOT,
        timeout=40,
    )
    yield spec, config, proc
    proc.stop()


def _deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for token in node["$ref"][2:].split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _value(param: dict[str, Any], doc: dict[str, Any]) -> Any:
    if "example" in param:
        return param["example"]
    examples = param.get("examples") or {}
    for ex in examples.values():
        ex = _deref(doc, ex)
        if "value" in ex:
            return ex["value"]
    return synthesize(param.get("schema") or {}, doc, direction="request", name=param["name"])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _request(
    doc: dict[str, Any], path: str, method: str, op: dict[str, Any], token: str
) -> dict[str, Any]:
    item = doc["paths"][path]
    params = [_deref(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
    url = path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for p in params:
        if p["in"] != "path" and not p.get("required"):
            continue
        value = _value(p, doc)
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", quote(_text(value), safe=""))
        elif p["in"] == "query":
            values = value if isinstance(value, list) and p.get("explode", True) else [value]
            query.extend((p["name"], _text(v)) for v in values)
        elif p["in"] == "header":
            headers[p["name"]] = _text(value)
    if op.get("security") != []:
        headers["Authorization"] = f"Bearer {token}"
    request: dict[str, Any] = {
        "method": method.upper(),
        "url": url,
        "params": query,
        "headers": headers,
    }
    body = _deref(doc, op.get("requestBody"))
    if body:
        content = body.get("content", {})
        media_type = next(iter(content))
        media = content[media_type]
        if "json" in media_type:
            value, _ = example_for(media, doc, direction="request")
            request["content"] = json.dumps(value).encode()
            headers["Content-Type"] = media_type
        elif media_type.startswith("multipart/"):
            value = synthesize(media.get("schema") or {}, doc, direction="request")
            schema = _deref(doc, media.get("schema") or {})
            files, data = {}, {}
            for key, field_value in value.items():
                prop = _deref(doc, schema.get("properties", {}).get(key, {}))
                if prop.get("format") == "binary" or "contentMediaType" in prop:
                    files[key] = ("demo.txt", b"hello", "text/plain")
                else:
                    data[key] = (
                        _text(field_value)
                        if not isinstance(field_value, dict)
                        else json.dumps(field_value)
                    )
            request["files"] = files or {"file": ("demo.txt", b"hello", "text/plain")}
            request["data"] = data
        else:
            request["content"] = b"hello"
            headers["Content-Type"] = media_type
    return request


def test_every_demo_operation_answers_with_the_mock_example(demo: Any) -> None:
    spec, config, proc = demo
    doc = spec.document
    jwt = dict(config.gateway.get("auth", {}).get("jwt", {}))
    secret = resolve_secret(jwt, {})
    failures: list[str] = []
    checked = 0
    # The mock keeps resources created/deleted through links in memory, and
    # created resources get fresh ids: bodies are compared for reads only.
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "delete", "patch") and "operationId" in op
    ]
    # Deletes last, nested resources before their parents.
    operations.sort(key=lambda e: (e[1] == "delete", -e[0].count("/") if e[1] == "delete" else 0))
    with httpx.Client(base_url=proc.url, timeout=15) as client:
        for path, method, op in operations:
            roles = op.get("x-roles") or ["admin", "instructor", "student"]
            token = mint_token(secret, "demo-user", roles=roles, tier="enterprise")
            r = client.request(**_request(doc, path, method, op, token))
            checked += 1
            success = sorted(s for s in op["responses"] if s.startswith("2"))
            if str(r.status_code) != success[0]:
                failures.append(f"{op['operationId']}: {r.status_code} {r.text[:300]}")
                continue
            response = _deref(doc, op["responses"][success[0]])
            media = (response.get("content") or {}).get("application/json")
            if (
                method == "get"
                and media is not None
                and ("example" in media or "examples" in media)
            ):
                expected, _ = example_for(media, doc, direction="response")
                if r.json() != expected:
                    failures.append(f"{op['operationId']}: body differs from the example")
    assert checked == len(spec.operations)
    assert not failures, "\n".join(failures)


def test_demo_services_and_contract_endpoints(demo: Any) -> None:
    spec, _config, proc = demo
    services = httpx.get(proc.url + "/services", timeout=15).json()
    assert services["status"] == "ok", services
    assert set(services["services"]) == {s.name for s in spec.services}
    assert httpx.get(proc.url + "/openapi.json", timeout=15).json() == json.loads(
        json.dumps(spec.document)
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
