"""The generated client against the live demo gateway: every operation of the demo."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import pytest

from unispec.codegen.client import collect, render_client
from unispec.model import UnifiedSpec
from unispec.synth import example_for, synthesize


@pytest.fixture(scope="module")
def demo_spec(cg: ModuleType) -> UnifiedSpec:
    from unispec.build import load_unified

    return load_unified(cg.ROOT)


@pytest.fixture(scope="module")
def demo_client(
    demo_spec: UnifiedSpec, cg: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> ModuleType:
    return cg.import_package(render_client(demo_spec), tmp_path_factory.mktemp("democlient"))  # type: ignore[no-any-return]


def _deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _param_value(doc: dict[str, Any], param: dict[str, Any]) -> Any:
    if "example" in param:
        return param["example"]
    schema = _deref(doc, param.get("schema") or {})
    if isinstance(schema, dict) and "example" in schema:
        return schema["example"]
    return synthesize(schema, doc, name=param["name"])


def _call_arguments(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """Arguments for the client method: path/required params from examples, the body example."""
    item = doc["paths"][path]
    op = item[method]
    params = [
        _deref(doc, p) for p in [*(item.get("parameters") or []), *(op.get("parameters") or [])]
    ]
    by_wire = {(p["in"], p["name"]): p for p in params}
    args: dict[str, Any] = {}
    for (location, wire), param in by_wire.items():
        if location == "path" or param.get("required"):
            args[(location, wire)] = _param_value(doc, param)  # type: ignore[index]
    body = _deref(doc, op.get("requestBody"))
    if isinstance(body, dict):
        content = body.get("content") or {}
        if "application/json" in content:
            args["body"], _ = example_for(content["application/json"], doc, direction="request")
        elif "multipart/form-data" in content:
            value, _ = example_for(content["multipart/form-data"], doc, direction="request")
            form = dict(value) if isinstance(value, dict) else {}
            form["file"] = ("notes.txt", b"hello from the generated client\n", "text/plain")
            args["body"] = form
        elif content:
            args["body"] = b"payload"
    return args


def test_every_demo_operation_through_the_live_gateway(
    demo_spec: UnifiedSpec, demo_client: ModuleType, live_gateway: Any
) -> None:
    doc = demo_spec.document
    services = {s.attribute: s for s in collect(doc)}
    called: list[str] = []
    failures: list[str] = []
    # The mock upstreams keep created/deleted resources: deletes go last, deepest first.
    plan = [(a, m) for a, s in sorted(services.items()) for m in s.methods]
    plan.sort(key=lambda am: (am[1].http_method == "DELETE") * (1000 - am[1].path.count("/")))
    with demo_client.Client(live_gateway.url, token=live_gateway.token, timeout=20) as api:
        for attribute, method in plan:
            group = getattr(api, attribute)
            raw = _call_arguments(doc, method.path, method.http_method.lower())
            kwargs: dict[str, Any] = {}
            positional: list[Any] = []
            for p in method.params:
                key = (p.location, p.wire)
                if key in raw:
                    if p.location == "path":
                        positional.append(raw[key])
                    else:
                        kwargs[p.name] = raw[key]
            if "body" in raw and method.body:
                kwargs["body"] = raw["body"]
            fn = getattr(group, method.name)
            inspect.signature(fn).bind(*positional, **kwargs)
            try:
                result = fn(*positional, **kwargs)
            except Exception as exc:  # collect every failure, report them together
                failures.append(f"{method.operation_id}: {type(exc).__name__}: {exc}"[:300])
                continue
            if method.parse == "model":
                assert type(result).__name__ == method.model, method.operation_id
            elif method.parse == "none":
                assert result is None
            called.append(method.operation_id)
    assert not failures, "\n".join(failures)
    assert len(called) == len(demo_spec.operations)


def test_errors_arrive_as_typed_exceptions(demo_client: ModuleType, live_gateway: Any) -> None:
    with demo_client.Client(live_gateway.url) as api, pytest.raises(demo_client.ApiError) as err:
        api.courses.list_courses()  # no token
    assert err.value.status == 401
    assert err.value.code == "UNAUTHORIZED"
    assert type(err.value).__name__ == "UnauthorizedError"
    assert err.value.request_id


def test_pagination_helper_follows_next_cursor(demo_client: ModuleType, live_gateway: Any) -> None:
    with demo_client.Client(live_gateway.url, token=live_gateway.token) as api:
        items = list(api.courses.iter_list_courses(max_pages=3))
    # The mock answers every page with the example (which has a nextCursor), so the
    # helper stops at max_pages: three pages of the example's items.
    assert items and len(items) % 3 == 0
    assert all(type(i).__name__ == "Course" for i in items)
