"""hoist_inline_schemas: stable names from the operationId, no clashes, pure."""

from __future__ import annotations

import copy
from typing import Any

from unispec.hoist import hoist_inline_schemas, pascal_case

OBJ = {"type": "object", "properties": {"a": {"type": "string"}}}


def _doc(**components: Any) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/courses": {
                "post": {
                    "operationId": "createCourse",
                    "requestBody": {"content": {"application/json": {"schema": dict(OBJ)}}},
                    "responses": {
                        "404": {
                            "description": "x",
                            "content": {"application/json": {"schema": dict(OBJ)}},
                        },
                        "201": {
                            "description": "x",
                            "content": {"application/json": {"schema": dict(OBJ)}},
                        },
                        "200": {
                            "description": "x",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "default": {
                            "description": "x",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/E"}}
                            },
                        },
                    },
                },
                "get": {
                    "operationId": "list-courses",
                    "responses": {
                        "200": {
                            "description": "x",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": dict(OBJ)}
                                }
                            },
                        },
                        "4XX": {
                            "description": "x",
                            "content": {"application/json": {"schema": dict(OBJ)}},
                        },
                    },
                },
            }
        },
        "components": {"schemas": {"E": dict(OBJ), **components}},
    }


def _ref(doc: dict[str, Any], *path: str) -> Any:
    node: Any = doc["paths"]["/courses"]
    for part in path:
        node = node[part]
    return node["content"]["application/json"]["schema"]


def test_names_follow_the_operation_id() -> None:
    doc, findings = hoist_inline_schemas(_doc())
    schemas = doc["components"]["schemas"]
    assert _ref(doc, "post", "requestBody") == {"$ref": "#/components/schemas/CreateCourseRequest"}
    # 200 is text/plain (not an object): the first 2xx is still 200, so 201 is named by status.
    assert _ref(doc, "post", "responses", "201") == {
        "$ref": "#/components/schemas/CreateCourse201Response"
    }
    assert _ref(doc, "post", "responses", "404") == {
        "$ref": "#/components/schemas/CreateCourse404Response"
    }
    assert _ref(doc, "get", "responses", "200") == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ListCoursesResponseItem"},
    }
    assert _ref(doc, "get", "responses", "4XX") == {
        "$ref": "#/components/schemas/ListCourses4XXResponse"
    }
    for name in ("CreateCourseRequest", "CreateCourse201Response", "ListCoursesResponseItem"):
        assert schemas[name] == OBJ
    assert findings == []


def test_first_success_gets_the_plain_response_name() -> None:
    raw = _doc()
    del raw["paths"]["/courses"]["post"]["responses"]["200"]
    doc, _ = hoist_inline_schemas(raw)
    assert _ref(doc, "post", "responses", "201") == {
        "$ref": "#/components/schemas/CreateCourseResponse"
    }


def test_existing_names_are_never_reused() -> None:
    raw = _doc(CreateCourseRequest={"type": "string"}, CreateCourseRequest2={"type": "integer"})
    doc, findings = hoist_inline_schemas(raw)
    assert doc["components"]["schemas"]["CreateCourseRequest"] == {"type": "string"}
    assert _ref(doc, "post", "requestBody") == {"$ref": "#/components/schemas/CreateCourseRequest3"}
    assert [f.rule for f in findings] == ["hoist-name-taken"]
    assert "CreateCourseRequest3" in findings[0].message


def test_pure_deterministic_and_idempotent() -> None:
    raw = _doc()
    before = copy.deepcopy(raw)
    first, _ = hoist_inline_schemas(raw)
    assert raw == before
    assert hoist_inline_schemas(copy.deepcopy(raw))[0] == first
    again, findings = hoist_inline_schemas(first)
    assert again == first and findings == []


def test_refs_and_scalars_stay_put() -> None:
    doc, _ = hoist_inline_schemas(_doc())
    assert _ref(doc, "post", "responses", "default") == {"$ref": "#/components/schemas/E"}
    assert doc["paths"]["/courses"]["post"]["responses"]["200"]["content"]["text/plain"] == {
        "schema": {"type": "string"}
    }


def test_pascal_case() -> None:
    assert pascal_case("createCourse") == "CreateCourse"
    assert pascal_case("list_courses") == "ListCourses"
    assert pascal_case("getHTTPStatus") == "GetHTTPStatus"
    assert pascal_case("2fa-verify") == "Op2faVerify"
