"""Deterministic example synthesis: every value validates against its schema."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from unispec.synth import example_for, examples_of, synthesize, synthesize_string

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def valid(schema: Any, value: Any, document: dict[str, Any] | None = None) -> None:
    root = dict(schema) if isinstance(schema, dict) else schema
    if document is not None and isinstance(root, dict):
        root["components"] = document.get("components", {})
    jsonschema.Draft202012Validator(root, format_checker=FORMATS).validate(value)


@pytest.mark.parametrize(
    "fmt",
    [
        "email",
        "uuid",
        "date-time",
        "date",
        "time",
        "uri",
        "uri-reference",
        "hostname",
        "ipv4",
        "ipv6",
        "duration",
        "byte",
        "json-pointer",
        "regex",
        "idn-email",
        "iri",
    ],
)
def test_formats_are_valid(fmt: str) -> None:
    schema = {"type": "string", "format": fmt}
    value = synthesize(schema)
    assert isinstance(value, str) and value
    valid(schema, value)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Z]{2}-\d{4}$",
        r"^[a-z0-9_]{3,20}$",
        r"^(draft|published|archived)$",
        r"^\+?[1-9]\d{1,14}$",
        r"^#[0-9a-fA-F]{6}$",
        r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
        r"^v\d+(\.\d+){2}(-[a-z]+)?$",
        r"^(?:[a-z]+-)*[a-z]+$",
        r"^([a-z])\1$",
        r"^[A-Z][a-z]+(?: [A-Z][a-z]+)*$",
    ],
)
def test_patterns_generate_matching_strings(pattern: str) -> None:
    value = synthesize({"type": "string", "pattern": pattern})
    assert re.search(pattern, value), value


def test_pattern_respects_length_bounds() -> None:
    schema = {"type": "string", "pattern": "^[a-z]+$", "minLength": 12, "maxLength": 20}
    value = synthesize(schema)
    valid(schema, value)


def test_unsupported_pattern_falls_back_to_schema_example() -> None:
    schema = {"type": "string", "pattern": r"^\p{L}+$", "example": "Zoë"}
    assert synthesize(schema) == "Zoë"


def test_strings_respect_length_and_name() -> None:
    assert synthesize({"type": "string"}, name="title") == "title"
    assert synthesize({"type": "string", "minLength": 10}, name="abc") == "abcxxxxxxx"
    assert synthesize({"type": "string", "maxLength": 2}, name="title") == "ti"
    assert synthesize_string({"type": "string", "format": "email"}) == "user@example.com"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer"},
        {"type": "integer", "minimum": 10},
        {"type": "integer", "maximum": -5},
        {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
        {"type": "integer", "minimum": 3, "multipleOf": 5},
        {"type": "number", "minimum": 0.1, "maximum": 0.2},
        {"type": "number", "exclusiveMaximum": 0},
        {"type": "number", "multipleOf": 0.25, "minimum": 1},
        {"type": "integer", "format": "int64", "minimum": 1, "maximum": 1},
    ],
)
def test_numbers_respect_bounds(schema: dict[str, Any]) -> None:
    value = synthesize(schema)
    valid(schema, value)
    assert isinstance(value, int) if schema["type"] == "integer" else True


def test_openapi30_boolean_exclusive_bounds_and_nullable() -> None:
    doc = {"openapi": "3.0.3"}
    schema = {"type": "integer", "minimum": 1, "exclusiveMinimum": True, "nullable": True}
    assert synthesize(schema, doc) == 2


def test_enum_const_and_type_arrays() -> None:
    assert synthesize({"enum": [None, "b", "c"]}) == "b"
    assert synthesize({"const": {"a": 1}}) == {"a": 1}
    assert synthesize({"type": ["null", "integer"], "minimum": 4}) == 4
    assert synthesize({"type": "null"}) is None
    assert synthesize({"type": "boolean"}) is True


def test_objects_required_optional_and_direction() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "readOnly": True},
            "name": {"type": "string"},
            "secret": {"type": "string", "writeOnly": True},
            "stamp": {"type": "string", "format": "date-time", "readOnly": True},
        },
    }
    value = synthesize(schema)
    assert set(value) == {"id", "name", "secret", "stamp"}
    valid(schema, value)
    assert set(synthesize(schema, direction="request")) == {"id", "name", "secret"}
    assert set(synthesize(schema, direction="response")) == {"id", "name", "stamp"}


def test_min_max_properties_and_maps() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2}
    value = synthesize(schema)
    valid(schema, value)
    assert len(value) == 2
    names = {
        "type": "object",
        "propertyNames": {"pattern": "^x-[a-z]+$"},
        "additionalProperties": {"type": "string"},
    }
    value = synthesize(names)
    valid(names, value)
    assert value


def test_arrays_min_items_unique_and_prefix_items() -> None:
    schema = {"type": "array", "minItems": 3, "uniqueItems": True, "items": {"type": "string"}}
    value = synthesize(schema)
    valid(schema, value)
    assert len(value) == 3
    ints = {
        "type": "array",
        "minItems": 4,
        "uniqueItems": True,
        "items": {"type": "integer", "maximum": 10},
    }
    valid(ints, synthesize(ints))
    tup = {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "items": False,
    }
    assert synthesize(tup) == [1, "string"] or valid(tup, synthesize(tup)) is None
    valid(tup, synthesize(tup))
    contains = {"type": "array", "items": {"type": "integer"}, "contains": {"const": 7}}
    valid(contains, synthesize(contains))
    assert synthesize({"type": "array", "maxItems": 0, "items": {"type": "string"}}) == []


DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "components": {
        "schemas": {
            "Node": {
                "type": "object",
                "required": ["id", "children"],
                "properties": {
                    "id": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                    "parent": {"$ref": "#/components/schemas/Node"},
                },
            },
            "A": {
                "type": "object",
                "required": ["b"],
                "properties": {"b": {"$ref": "#/components/schemas/B"}},
            },
            "B": {
                "type": ["object", "null"],
                "required": ["a"],
                "properties": {"a": {"$ref": "#/components/schemas/A"}},
            },
            "Pet": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Cat"},
                    {"$ref": "#/components/schemas/Dog"},
                ],
                "discriminator": {
                    "propertyName": "kind",
                    "mapping": {
                        "cat": "#/components/schemas/Cat",
                        "dog": "#/components/schemas/Dog",
                    },
                },
            },
            "Cat": {
                "type": "object",
                "required": ["kind"],
                "additionalProperties": False,
                "properties": {"kind": {"type": "string"}, "lives": {"type": "integer"}},
            },
            "Dog": {
                "type": "object",
                "required": ["kind"],
                "additionalProperties": False,
                "properties": {"kind": {"type": "string"}, "bark": {"type": "boolean"}},
            },
            "Base": {
                "type": "object",
                "required": ["id", "type"],
                "properties": {"id": {"type": "integer"}, "type": {"type": "string"}},
                "discriminator": {"propertyName": "type"},
            },
            "Video": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {
                        "type": "object",
                        "required": ["seconds"],
                        "properties": {"seconds": {"type": "integer", "minimum": 1}},
                    },
                ]
            },
            "Shape": {
                "oneOf": [
                    {"type": "object", "required": ["r"], "properties": {"r": {"type": "number"}}},
                    {
                        "type": "object",
                        "required": ["w"],
                        "properties": {"w": {"type": "number"}},
                        "additionalProperties": False,
                    },
                ]
            },
            "Cycle": {"allOf": [{"$ref": "#/components/schemas/Cycle2"}]},
            "Cycle2": {"allOf": [{"$ref": "#/components/schemas/Cycle"}], "type": "object"},
        }
    },
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.mark.parametrize("name", [n for n in DOC["components"]["schemas"] if "Cycle" not in n])
def test_component_values_validate(name: str) -> None:
    value = synthesize(ref(name), DOC)
    valid(ref(name), value, DOC)


def test_pure_allof_cycle_terminates() -> None:
    # jsonschema itself cannot validate this (it recurses forever); we must not hang
    assert isinstance(synthesize(ref("Cycle"), DOC), dict)


def test_circular_schema_is_cut() -> None:
    node = synthesize(ref("Node"), DOC)
    assert node["children"][0]["children"] == []
    assert "parent" not in node["parent"]
    # required-only cycle ends at the nullable side
    a = synthesize(ref("A"), DOC)
    assert a == {"b": {"a": {"b": None}}}


def test_discriminator_mapping_and_allof_subtype() -> None:
    assert synthesize(ref("Pet"), DOC)["kind"] == "cat"
    video = synthesize(ref("Video"), DOC)
    assert video["type"] == "Video"
    assert video["seconds"] >= 1


def test_one_of_picks_a_branch_that_matches_exactly_one() -> None:
    value = synthesize(ref("Shape"), DOC)
    valid(ref("Shape"), value, DOC)


def test_schema_examples_are_used_when_valid() -> None:
    assert synthesize({"type": "string", "example": "hello"}) == "hello"
    assert synthesize({"type": "integer", "examples": [7]}) == 7
    assert synthesize({"type": "integer", "minimum": 10, "example": 3}) == 10
    assert synthesize({"type": "string", "default": "x"}) == "x"


def test_deterministic() -> None:
    schema = ref("Video")
    assert synthesize(schema, DOC) == synthesize(schema, DOC)
    assert synthesize({"type": "string", "format": "uuid"}, name="id") == synthesize(
        {"type": "string", "format": "uuid"}, name="id"
    )


def test_example_for_order() -> None:
    doc = {
        "openapi": "3.1.0",
        "components": {
            "examples": {"Shared": {"value": {"n": 2}}},
            "schemas": {"S": {"type": "object", "example": {"n": 3}}},
        },
    }
    assert example_for({"example": {"n": 1}, "examples": {"a": {"value": 0}}}, doc) == (
        {"n": 1},
        False,
    )
    media = {"examples": {"first": {"$ref": "#/components/examples/Shared"}, "b": {"value": 5}}}
    assert example_for(media, doc) == ({"n": 2}, False)
    assert example_for(media, doc, name="b") == (5, False)
    assert examples_of(media, doc) == {"first": {"n": 2}, "b": 5}
    assert example_for({"schema": {"$ref": "#/components/schemas/S"}}, doc) == ({"n": 3}, False)
    assert example_for({"schema": {"type": "object", "examples": [{"n": 4}]}}, doc) == (
        {"n": 4},
        False,
    )
    value, synthesized = example_for({"schema": {"type": "integer", "minimum": 5}}, doc)
    assert (value, synthesized) == (5, True)
    assert example_for({}, doc) == (None, True)


def test_ref_values_are_cached_per_document_and_copied() -> None:
    doc = {
        "openapi": "3.1.0",
        "components": {
            "schemas": {
                "S": {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
            }
        },
    }
    first = synthesize(ref("S"), doc)
    first["a"] = 99  # callers may mutate what they get
    assert synthesize(ref("S"), doc) == {"a": 1}
    other = {"openapi": "3.1.0", "components": {"schemas": {"S": {"type": "string"}}}}
    assert synthesize(ref("S"), other) == "string"
