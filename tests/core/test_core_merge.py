"""The merge rules, one test (or more) per rule of the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from core_support import MakeProject, doc, op

from unispec.build import load_unified
from unispec.errors import MergeError
from unispec.refs import iter_refs, resolve

ERR_A = {"type": "object", "properties": {"code": {"type": "string"}}}
ERR_B = {"type": "object", "properties": {"reason": {"type": "integer"}}}


def _unified(root: Path) -> dict[str, Any]:
    return load_unified(root).document


def _deref(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Hoisting may have moved an inline schema into components: follow it."""
    while "$ref" in node:
        node = resolve(document, node["$ref"])
    return node


def _no_dangling(document: dict[str, Any]) -> None:
    for _ptr, ref in iter_refs(document):
        assert ref.startswith("#/"), ref
        resolve(document, ref)  # raises if dangling


def test_path_method_collision_names_both_files(make_project: MakeProject) -> None:
    root = make_project(
        {
            "a": doc({"/x": {"get": op("getA")}}),
            "b": doc({"/x": {"get": op("getB")}}),
        }
    )
    with pytest.raises(MergeError) as info:
        load_unified(root)
    text = info.value.render()
    assert "specs/a.yaml" in text and "specs/b.yaml" in text
    assert "GET /x" in text
    assert ":" in text.split("specs/b.yaml", 1)[1][:3]  # a line number follows the file


def test_templates_equal_up_to_names_collide(make_project: MakeProject) -> None:
    root = make_project(
        {
            "a": doc({"/x/{id}": {"get": op("getA", parameters=[_pp("id")])}}),
            "b": doc({"/x/{userId}": {"delete": op("delB", parameters=[_pp("userId")])}}),
        }
    )
    with pytest.raises(MergeError, match="same route up to parameter names") as info:
        load_unified(root)
    assert "path_prefix" in info.value.render()


def test_templates_equal_up_to_names_in_one_service_say_how_to_fix(
    make_project: MakeProject,
) -> None:
    """FastAPI emits /x/{id} and /x/{x_id} for two handlers: within one service the fix
    is renaming a parameter, not a path_prefix."""
    paths = {
        "/x/{id}": {"get": op("getX", parameters=[_pp("id")])},
        "/x/{x_id}": {"delete": op("deleteX", parameters=[_pp("x_id")])},
    }
    root = make_project({"a": doc(paths)})
    with pytest.raises(MergeError) as info:
        load_unified(root)
    text = info.value.render()
    assert "same route up to parameter names" in text and "specs/a.yaml" in text
    assert "so both read '/x/{id}'" in text and "path_prefix" not in text


def test_same_path_different_methods_share_an_item(make_project: MakeProject) -> None:
    root = make_project(
        {
            "a": doc({"/x/{id}": {"get": op("getX", parameters=[_pp("id")])}}),
            "b": doc({"/x/{id}": {"delete": op("deleteX", parameters=[_pp("id")])}}),
        }
    )
    item = _unified(root)["paths"]["/x/{id}"]
    assert item["get"]["x-service"] == "a" and item["delete"]["x-service"] == "b"


def test_duplicate_operation_id_and_prefix(make_project: MakeProject) -> None:
    specs = {"a": doc({"/a": {"get": op("list")}}), "b": doc({"/b": {"get": op("list")}})}
    root = make_project(specs)
    with pytest.raises(MergeError, match="operationId 'list'"):
        load_unified(root)
    root = make_project(specs, services_extra={"b": {"operation_id_prefix": "b_"}})
    paths = _unified(root)["paths"]
    assert paths["/b"]["get"]["operationId"] == "b_list"


def test_generated_operation_ids_never_clash_within_a_service(make_project: MakeProject) -> None:
    # No operationId on GET /users, /pets and /pets/: the generated getUsers must not
    # take the id the author gave GET /people, nor /pets/ the id generated for /pets.
    bare = {"responses": {"200": {"description": "ok"}}}
    paths = {
        "/users": {"get": dict(bare)},
        "/people": {"get": op("getUsers")},
        "/pets": {"get": dict(bare)},
        "/pets/": {"get": dict(bare)},
    }
    spec = load_unified(make_project({"a": doc(paths)}))
    ids = {(o.method, o.path): o.operation_id for o in spec.operations}
    assert ids == {
        ("get", "/people"): "getUsers",
        ("get", "/users"): "getUsers_2",
        ("get", "/pets"): "getPets",
        ("get", "/pets/"): "getPets_2",
    }


def test_path_items_referenced_from_components_keep_their_operations(
    make_project: MakeProject,
) -> None:
    # OpenAPI 3.1: a path item may be {$ref: '#/components/pathItems/...'}. Its
    # operations used to vanish (no route, no portal page, no client method).
    pets = {
        "summary": "Pets",
        "get": op("listPets"),
        "post": {"responses": {"201": {"description": "created"}}},
    }
    paths = {
        "/pets": {"$ref": "#/components/pathItems/Pets", "summary": "All pets"},
        "/ping": {"get": op("ping")},
    }
    root = make_project({"a": doc(paths, components={"pathItems": {"Pets": pets}})})
    spec = load_unified(root)
    assert sorted((o.method, o.path, o.operation_id) for o in spec.operations) == [
        ("get", "/pets", "listPets"),
        ("get", "/ping", "ping"),
        ("post", "/pets", "postPets"),
    ]
    item = spec.document["paths"]["/pets"]
    assert "$ref" not in item and item["summary"] == "All pets"
    assert item["get"]["x-service"] == "a" and "502" in item["post"]["responses"]
    listing = next(o for o in spec.operations if o.operation_id == "listPets")
    assert listing.source is not None and "/components/pathItems/Pets/get" in str(listing.source)
    _no_dangling(spec.document)


def test_path_prefix_mounts_a_service(make_project: MakeProject) -> None:
    root = make_project(
        {"a": doc({"/x": {"get": op("getA")}}), "b": doc({"/x": {"get": op("getB")}})},
        services_extra={"b": {"path_prefix": "/billing"}},
    )
    assert set(_unified(root)["paths"]) == {"/x", "/billing/x"}


def _pp(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _svc_with(name: str, component: dict[str, Any], path: str) -> dict[str, Any]:
    return doc(
        {path: {"get": op(f"get{name}", schema={"$ref": "#/components/schemas/Thing"})}},
        components={"schemas": {"Thing": component}},
    )


def test_identical_components_merge(make_project: MakeProject) -> None:
    root = make_project({"a": _svc_with("A", ERR_A, "/a"), "b": _svc_with("B", ERR_A, "/b")})
    schemas = _unified(root)["components"]["schemas"]
    assert "Thing" in schemas and "A_Thing" not in schemas and "B_Thing" not in schemas


def test_different_components_are_namespaced_order_independently(make_project: MakeProject) -> None:
    specs = {
        "a": _svc_with("A", ERR_A, "/a"),
        "b": _svc_with("B", ERR_B, "/b"),
        "c": _svc_with("C", ERR_A, "/c"),
    }
    first = _unified(make_project(specs, order=["a", "b", "c"]))
    second = _unified(make_project(specs, order=["c", "b", "a"]))
    assert first == second
    schemas = first["components"]["schemas"]
    # a and c agree (the majority): they keep the name; only b's is namespaced.
    assert schemas["Thing"] == ERR_A and schemas["B_Thing"] == ERR_B
    ref = first["paths"]["/b"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/B_Thing"}
    _no_dangling(first)


def test_tie_namespaces_every_variant(make_project: MakeProject) -> None:
    root = make_project({"a": _svc_with("A", ERR_A, "/a"), "b": _svc_with("B", ERR_B, "/b")})
    schemas = _unified(root)["components"]["schemas"]
    assert "Thing" not in schemas and {"A_Thing", "B_Thing"} <= set(schemas)


def test_identity_follows_references(make_project: MakeProject) -> None:
    """Same text, but the Detail each one points at differs: not the same schema."""

    def svc(n: str, detail: dict[str, Any]) -> dict[str, Any]:
        return doc(
            {f"/{n}": {"get": op(f"get{n}", schema={"$ref": "#/components/schemas/Wrapper"})}},
            components={
                "schemas": {
                    "Wrapper": {
                        "type": "object",
                        "properties": {"d": {"$ref": "#/components/schemas/Detail"}},
                    },
                    "Detail": detail,
                }
            },
        )

    schemas = _unified(make_project({"a": svc("a", ERR_A), "b": svc("b", ERR_B)}))["components"][
        "schemas"
    ]
    assert {"A_Wrapper", "B_Wrapper", "A_Detail", "B_Detail"} <= set(schemas)
    assert schemas["B_Wrapper"]["properties"]["d"] == {"$ref": "#/components/schemas/B_Detail"}


def test_discriminator_mapping_and_security_rewritten(make_project: MakeProject) -> None:
    def svc(n: str, scheme: dict[str, Any], cat: dict[str, Any]) -> dict[str, Any]:
        return doc(
            {
                f"/{n}": {
                    "get": op(
                        f"get{n}",
                        schema={
                            "oneOf": [{"$ref": "#/components/schemas/Cat"}],
                            "discriminator": {
                                "propertyName": "kind",
                                "mapping": {"cat": "#/components/schemas/Cat"},
                            },
                        },
                    )
                }
            },
            security=[{"auth": []}],
            components={"schemas": {"Cat": cat}, "securitySchemes": {"auth": scheme}},
        )

    cat_a = {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}}
    cat_b = {
        "type": "object",
        "required": ["kind", "x"],
        "properties": {"kind": {"type": "string"}},
    }
    bearer = {"type": "http", "scheme": "bearer"}
    basic = {"type": "http", "scheme": "basic"}
    unified = _unified(make_project({"a": svc("a", bearer, cat_a), "b": svc("b", basic, cat_b)}))
    b_op = unified["paths"]["/b"]["get"]
    schema = _deref(unified, b_op["responses"]["200"]["content"]["application/json"]["schema"])
    assert schema["discriminator"]["mapping"] == {"cat": "#/components/schemas/B_Cat"}
    assert b_op["security"] == [{"B_auth": []}]
    assert unified["paths"]["/a"]["get"]["security"] == [{"A_auth": []}]
    _no_dangling(unified)


def test_tags_union_and_conflict(make_project: MakeProject) -> None:
    tag = {"name": "Things", "description": "Things."}
    a = doc({"/a": {"get": op("getA", tags=["Things"])}}, tags=[tag])
    b = doc({"/b": {"get": op("getB", tags=["Things"])}}, tags=[tag])
    unified = _unified(make_project({"a": a, "b": b}))
    assert unified["tags"] == [tag]
    assert [g["tags"] for g in unified["x-tagGroups"]] == [["Things"], ["Things"]]
    b["tags"] = [{"name": "Things", "description": "Other things."}]
    with pytest.raises(MergeError, match="tag 'Things' is described differently"):
        load_unified(make_project({"a": a, "b": b}))
    root = make_project({"a": a, "b": b}, config_extra={"merge": {"allow_tag_conflicts": True}})
    assert _unified(root)["tags"] == [tag]


def test_security_pushed_down_servers_kept_out(make_project: MakeProject) -> None:
    a = doc(
        {"/a": {"get": op("getA")}, "/public": {"get": op("pub", security=[])}},
        security=[{"bearerAuth": []}],
        servers=[{"url": "http://10.1.2.3:9000"}],
        components={"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    )
    spec = load_unified(make_project({"a": a}))
    paths = spec.document["paths"]
    assert paths["/a"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/public"]["get"]["security"] == []
    assert "security" not in spec.document and "servers" not in spec.document
    assert spec.service_servers["a"] == ("http://10.1.2.3:9000",)
    assert (
        "401" in paths["/a"]["get"]["responses"]
        and "401" not in paths["/public"]["get"]["responses"]
    )


def test_webhooks_and_callbacks_survive(make_project: MakeProject) -> None:
    cb = {
        "onEvent": {"{$request.body#/url}": {"post": {"responses": {"200": {"description": "ok"}}}}}
    }
    a = doc(
        {"/a": {"post": op("subscribe", callbacks=cb)}}, webhooks={"ping": {"post": op("ping")}}
    )
    unified = _unified(make_project({"a": a}))
    assert unified["paths"]["/a"]["post"]["callbacks"] == cb
    assert unified["webhooks"]["ping"]["post"]["operationId"] == "ping"


def test_error_catalog_and_conflicts(make_project: MakeProject) -> None:
    def svc(n: str, status: str, desc: str) -> dict[str, Any]:
        responses = {
            "200": {"description": "ok"},
            status: {"description": "nope", "x-error-codes": {"THING_NOT_FOUND": desc}},
        }
        return doc({f"/{n}": {"get": {"operationId": f"get{n}", "responses": responses}}})

    spec = load_unified(
        make_project({"a": svc("a", "404", "No thing."), "b": svc("b", "404", "No thing.")})
    )
    entry = next(e for e in spec.errors if e.code == "THING_NOT_FOUND")
    assert (entry.status, entry.operations) == (404, ("geta", "getb"))
    gateway = {e.code: e for e in spec.errors if e.origin == "gateway"}
    assert gateway["BAD_GATEWAY"].status == 502 and "geta" in gateway["BAD_GATEWAY"].operations
    with pytest.raises(MergeError, match="THING_NOT_FOUND"):
        load_unified(
            make_project({"a": svc("a", "404", "No thing."), "b": svc("b", "410", "No thing.")})
        )


def test_gateway_responses_and_effective_rate_limit(make_project: MakeProject) -> None:
    body = {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}
    a = doc(
        {
            "/login": {
                "post": op(
                    "login",
                    requestBody=body,
                    security=[],
                    **{"x-rate-limit": {"limit": 5, "window": 60, "per": "ip"}},
                )
            },
            "/things": {"post": op("createThing", requestBody=body, **{"x-roles": ["admin"]})},
        },
        security=[{"bearerAuth": []}],
        components={"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    )
    default = {"window": 60, "per": "user", "tiers": {"free": 30, "pro": 120}}
    root = make_project({"a": a}, config_extra={"gateway": {"rate_limit": {"default": default}}})
    paths = _unified(root)["paths"]
    login, create = paths["/login"]["post"], paths["/things"]["post"]
    assert login["x-rate-limit"] == {"limit": 5, "window": 60, "per": "ip"}
    assert create["x-rate-limit"] == default
    assert {"413", "415", "422", "429", "502", "503", "504"} <= set(login["responses"])
    assert "401" not in login["responses"]
    assert {"401", "403"} <= set(create["responses"])
    assert create["responses"]["403"] == {"$ref": "#/components/responses/Forbidden"}
    assert create["x-service"] == "a"
