"""Loading: parse errors with lines, bundling of external refs, validation listing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from core_support import MakeProject, doc, op, write_yaml

from unispec.build import load_unified
from unispec.config import load_config
from unispec.errors import ConfigError, LoadError
from unispec.load import bundle
from unispec.refs import iter_refs, resolve


def test_yaml_syntax_error_names_file_and_line(make_project: MakeProject) -> None:
    root = make_project({"a": doc({"/a": {"get": op("getA")}})})
    (root / "specs" / "a.yaml").write_text("openapi: 3.1.0\ninfo: {title: x\npaths: {}\n")
    with pytest.raises(LoadError, match=r"specs/a\.yaml:\d+: not valid YAML"):
        load_unified(root)


def test_duplicate_yaml_keys_are_an_error_with_both_lines(make_project: MakeProject) -> None:
    """PyYAML keeps the last of two equal keys silently: a path written twice lost
    its first operations without a word."""
    root = make_project({"a": doc({"/a": {"get": op("getA")}})})
    (root / "specs" / "a.yaml").write_text(
        "openapi: 3.1.0\n"
        "info: {title: x, version: '1'}\n"
        "paths:\n"
        "  /a:\n"
        "    get: {operationId: getA, responses: {'200': {description: ok}}}\n"
        "  /a:\n"
        "    post: {operationId: postA, responses: {'200': {description: ok}}}\n"
    )
    with pytest.raises(LoadError) as info:
        load_unified(root)
    assert "specs/a.yaml:6: not valid YAML: duplicate key '/a' (first at line 4)" in str(info.value)


def test_duplicate_service_in_config_is_an_error(make_project: MakeProject) -> None:
    root = make_project({"a": doc({"/a": {"get": op("getA")}})})
    config = root / "unispec.yaml"
    text = config.read_text()
    config.write_text(text + "\nservices:\n  b: {spec: specs/a.yaml}\n")
    with pytest.raises(ConfigError, match=r"unispec\.yaml:\d+: not valid YAML: duplicate key"):
        load_config(root)


def test_every_validation_problem_with_file_line_pointer(make_project: MakeProject) -> None:
    bad = doc(
        {
            "/a/{id}": {"get": {"operationId": "getA", "responses": {"200": {"content": {}}}}},
            "/b": {"get": {"operationId": "getB", "responses": {"200": {"description": 5}}}},
        }
    )
    root = make_project({"a": bad})
    with pytest.raises(LoadError) as info:
        load_unified(root)
    problems = [str(p) for p in info.value.problems]
    assert len(problems) >= 3, problems
    assert all(p.startswith("specs/a.yaml:") for p in problems), problems
    text = "\n".join(problems)
    assert "/paths/~1a~1{id}/get" in text and "{id}" in text  # undeclared path parameter
    assert "/paths/~1b/get/responses/200/description" in text


def test_swagger_2_and_unknown_versions_are_clean_errors(make_project: MakeProject) -> None:
    root = make_project({"a": {"swagger": "2.0", "info": {"title": "x", "version": "1"}}})
    with pytest.raises(LoadError, match=r"2\.0 is not supported"):
        load_unified(root)
    root = make_project({"a": doc(version="3.2.0")})
    with pytest.raises(LoadError, match=r"OpenAPI 3\.2\.0 is not supported"):
        load_unified(root)


def test_config_problems_all_listed(tmp_path: Path) -> None:
    write_yaml(
        tmp_path / "unispec.yaml",
        {
            "services": {
                "Bad Name": {"spec": "x.yaml"},
                "ok": {"spec": "missing.yaml", "upstream": 5},
            },
            "typo": 1,
        },
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    text = str(info.value)
    assert "unispec.yaml: /typo" in text
    assert "/services/Bad Name" in text
    assert "/services/ok/spec: file not found: missing.yaml" in text
    assert "/services/ok/upstream" in text


def test_service_names_differing_only_in_separators_are_refused(
    make_project: MakeProject,
) -> None:
    # Both would namespace a clashing component as PetsApi_Thing (one definition was
    # silently lost) and both would be client.pets_api (one service's methods lost).
    thing_a = {"schemas": {"Thing": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    thing_b = {"schemas": {"Thing": {"type": "object", "properties": {"b": {"type": "integer"}}}}}
    root = make_project(
        {
            "pets-api": doc({"/a": {"get": op("getA")}}, components=thing_a),
            "pets_api": doc({"/b": {"get": op("getB")}}, components=thing_b),
            "petsapi": doc({"/c": {"get": op("getC")}}),
        }
    )
    with pytest.raises(ConfigError) as info:
        load_config(root)
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 1, problems
    assert "/services/pets_api" in problems[0] and "'pets-api'" in problems[0]


def _split_service(root: Path) -> Path:
    spec = root / "specs" / "split"
    write_yaml(
        spec / "openapi.yaml",
        doc(
            {
                "/things": {"$ref": "paths.yaml#/things"},
                "/tree": {"get": op("getTree", schema={"$ref": "schemas/tree.yaml"})},
            }
        ),
    )
    write_yaml(
        spec / "paths.yaml",
        {"things": {"get": op("listThings", schema={"$ref": "schemas/thing.yaml#/Thing"})}},
    )
    write_yaml(
        spec / "schemas" / "thing.yaml",
        {
            "Thing": {
                "type": "object",
                "properties": {"owner": {"$ref": "#/Owner"}, "tree": {"$ref": "tree.yaml"}},
            },
            "Owner": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    )
    write_yaml(  # circular through two files
        spec / "schemas" / "tree.yaml",
        {
            "type": "object",
            "properties": {
                "children": {"type": "array", "items": {"$ref": "tree.yaml"}},
                "thing": {"$ref": "thing.yaml#/Thing"},
            },
        },
    )
    return spec / "openapi.yaml"


def test_external_refs_bundled_nested_and_circular(tmp_path: Path) -> None:
    root = tmp_path / "p"
    entry = _split_service(root)
    document, _locator, problems = bundle(entry, root)
    assert problems == []
    schemas = document["components"]["schemas"]
    assert set(schemas) == {"Thing", "Owner", "tree"}
    for _ptr, ref in iter_refs(document):
        assert ref.startswith("#/components/"), ref
        resolve(document, ref)
    assert schemas["tree"]["properties"]["children"]["items"] == {
        "$ref": "#/components/schemas/tree"
    }
    assert "get" in document["paths"]["/things"]
    assert str(tmp_path) not in json.dumps(document)


def test_bundle_names_do_not_depend_on_traversal(tmp_path: Path) -> None:
    root = tmp_path / "p"
    entry = _split_service(root)
    first, _l, _p = bundle(entry, root)
    data = (entry).read_text()
    # Same document, paths in the other order: same component names.
    import yaml

    loaded = yaml.safe_load(data)
    loaded["paths"] = dict(reversed(list(loaded["paths"].items())))
    entry.write_text(yaml.safe_dump(loaded, sort_keys=False))
    second, _l, _p = bundle(entry, root)
    assert first["components"] == second["components"]


def test_missing_external_target_is_reported_with_line(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_yaml(
        root / "specs" / "a.yaml", doc({"/a": {"get": op("getA", schema={"$ref": "nope.yaml#/X"})}})
    )
    write_yaml(root / "unispec.yaml", {"services": {"a": {"spec": "specs/a.yaml"}}})
    with pytest.raises(LoadError) as info:
        load_unified(root)
    text = str(info.value)
    assert "specs/a.yaml:" in text and "nope.yaml: file not found" in text


def test_local_refs_in_extensions_follow_a_renamed_component(make_project: MakeProject) -> None:
    """Two services each with their own Pet: one is renamed, and the ref in its
    x-expansionResources (Stripe's style) must be renamed with it."""

    def service(kind: str) -> dict[str, Any]:
        pet = {"type": "object", "properties": {"kind": {"const": kind}}}
        expandable = {
            "type": "string",
            "x-expansionResources": {"oneOf": [{"$ref": "#/components/schemas/Pet"}]},
        }
        holder = {
            "type": "object",
            "properties": {"pet": expandable, "main": {"$ref": "#/components/schemas/Pet"}},
        }
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Holder"}}}
        get = {
            "operationId": f"get{kind}",
            "responses": {"200": {"description": "ok", "content": content}},
        }
        schemas = {"Pet": pet, "Holder": holder}
        return doc({f"/{kind}": {"get": get}}, components={"schemas": schemas})

    unified = load_unified(make_project({"a": service("a"), "b": service("b")})).document
    holders = [
        s for s in unified["components"]["schemas"].values() if "main" in s.get("properties", {})
    ]
    assert len(holders) == 2
    for holder in holders:
        props = holder["properties"]
        assert props["pet"]["x-expansionResources"]["oneOf"][0] == props["main"], holder
    assert holders[0]["properties"]["main"] != holders[1]["properties"]["main"]


def test_ref_shaped_data_is_not_followed(make_project: MakeProject) -> None:
    # Examples and defaults are literal data: a "$ref" in them (a JSON Schema in an
    # example payload) is neither bundled nor reported as dangling; nor is a file ref in
    # an x- extension (Redocly's x-codeSamples). Real refs under names like "default" are.
    thing = {
        "type": "object",
        "properties": {
            "schema": {"type": "object", "default": {"$ref": "#/nowhere"}},
            "default": {"$ref": "#/components/schemas/Pet"},
        },
        "example": {"schema": {"$ref": "#/definitions/Pet"}},
    }
    media = {
        "schema": {"$ref": "#/components/schemas/Thing"},
        "examples": {
            "inline": {"value": {"schema": {"$ref": "other.yaml#/Pet"}}},
            "shared": {"$ref": "#/components/examples/Shared"},
        },
    }
    operation = {
        "operationId": "getThing",
        "x-codeSamples": [{"lang": "C#", "source": {"$ref": "../code/post.cs"}}],
        "responses": {
            "200": {"description": "ok", "content": {"application/json": media}},
            "default": {"$ref": "#/components/responses/Oops"},
        },
    }
    components = {
        "schemas": {"Thing": thing, "Pet": {"type": "object"}},
        "examples": {"Shared": {"value": {"$ref": "#/nothing/either"}}},
        "responses": {"Oops": {"description": "oops"}},
    }
    root = make_project({"a": doc({"/thing": {"get": operation}}, components=components)})
    unified = load_unified(root).document
    schemas = unified["components"]["schemas"]
    assert schemas["Thing"]["example"] == {"schema": {"$ref": "#/definitions/Pet"}}
    assert unified["components"]["examples"]["Shared"]["value"] == {"$ref": "#/nothing/either"}
    op_out = unified["paths"]["/thing"]["get"]
    assert op_out["x-codeSamples"][0]["source"] == {"$ref": "../code/post.cs"}
    assert op_out["responses"]["default"] == {"$ref": "#/components/responses/Oops"}

    # A local ref in an x- extension is a reference (Stripe's x-expansionResources):
    # checked like any other.
    bad_ext = {"x-expansionResources": {"oneOf": [{"$ref": "#/components/schemas/Gone"}]}}
    root = make_project(
        {"a": doc({"/thing": {"get": {**operation, **bad_ext}}}, components=components)}
    )
    with pytest.raises(LoadError, match=r"x-expansionResources/oneOf/0/\$ref.*points to nothing"):
        load_unified(root)

    # A property that happens to be called "example" is a schema: its ref is checked.
    thing["properties"]["example"] = {"$ref": "#/components/schemas/Missing"}
    root = make_project({"a": doc({"/thing": {"get": operation}}, components=components)})
    with pytest.raises(LoadError, match=r"Thing/properties/example/\$ref.*points to nothing"):
        load_unified(root)


def test_schemas_in_the_openapi_dialect_are_checked_as_2020_12(make_project: MakeProject) -> None:
    # $schema: the OpenAPI 3.1 dialect used to fail with "cannot check schema: Resource
    # ... is not present in a registry and retrieving it failed" (after a download try).
    oas = "https://spec.openapis.org/oas/3.1/dialect/base"
    schemas: dict[str, Any] = {
        "Pet": {"$schema": oas, "type": "object", "discriminator": {"propertyName": "kind"}},
        "Custom": {"$schema": "https://example.com/my-dialect", "x-anything": True},
        "Old": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
    }
    paths = {"/pets": {"get": op("listPets", schema={"$ref": "#/components/schemas/Pet"})}}
    root = make_project({"a": doc(paths, components={"schemas": schemas})})
    assert load_unified(root).document["components"]["schemas"]["Pet"]["$schema"] == oas

    schemas["Pet"]["type"] = "animal"  # still checked against the 2020-12 meta-schema
    root = make_project({"a": doc(paths, components={"schemas": schemas})})
    with pytest.raises(LoadError, match=r"/components/schemas/Pet/type"):
        load_unified(root)


def test_30_constructs_converted(make_project: MakeProject) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "nullable": True, "example": "x"},
            "age": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
        },
    }
    root = make_project(
        {
            "a": doc(
                {"/a": {"get": op("getA", schema={"$ref": "#/components/schemas/P"})}},
                version="3.0.3",
                components={"schemas": {"P": schema}},
            )
        }
    )
    props = load_unified(root).document["components"]["schemas"]["P"]["properties"]
    assert props["name"] == {"type": ["string", "null"], "examples": ["x"]}
    assert props["age"] == {"type": "integer", "exclusiveMinimum": 0}
