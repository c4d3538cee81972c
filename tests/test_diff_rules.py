"""Table-driven rule tests: each base/revision pair asserts the EXACT set of (rule, level).

Documents are built from tiny fragments so a case shows only what changes.
Revisions get a major version bump by default so the semver policy stays
quiet except in the cases that are about it.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
import yaml

from unispec.diff import compare_documents, diff_documents
from unispec.diff.engine import DiffOptions
from unispec.diff.report import parse_ignore
from unispec.diff.rules import all_rules

TODAY = date(2026, 6, 1)
Doc = dict[str, Any]
Expect = set[tuple[str, str]]


def y(text: str) -> Any:
    return yaml.safe_load(text)


def doc(paths: dict[str, Any], version: str = "1.0.0", **extra: Any) -> Doc:
    d: Doc = {"openapi": "3.1.0", "info": {"title": "t", "version": version}, "paths": paths}
    d.update(extra)
    return d


OK = {"200": {"description": "ok"}}


def op(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": "op", "responses": copy.deepcopy(OK)}
    out.update(fields)
    return out


def req_body(schema: Any, required: bool = True, mt: str = "application/json") -> dict[str, Any]:
    return op(requestBody={"required": required, "content": {mt: {"schema": schema}}})


def resp_body(schema: Any, mt: str = "application/json") -> dict[str, Any]:
    return op(responses={"200": {"description": "ok", "content": {mt: {"schema": schema}}}})


def one(o: dict[str, Any], path: str = "/items", method: str = "post", **extra: Any) -> Doc:
    return doc({path: {method: o}}, **extra)


def ids(base: Doc, rev: Doc) -> Expect:
    found = compare_documents(base, rev, options=DiffOptions(today=TODAY))
    return {(f.id, f.level) for f in found}


def bump(d: Doc) -> Doc:
    d = copy.deepcopy(d)
    d["info"]["version"] = "2.0.0"
    return d


# --------------------------------------------------------------------------
# Schema keyword changes, each checked in several places of the contract.
# ctx: rb = request body root, rp = request property, sb = response body root,
# sp = response property, qp = query parameter, pp = query parameter property.


def wrap(ctx: str, schema: Any, required: bool = False) -> Doc:
    prop = {"type": "object", "properties": {"p": schema}}
    if required:
        prop["required"] = ["p"]
    if ctx == "rb":
        return one(req_body(schema))
    if ctx == "rp":
        return one(req_body(prop))
    if ctx == "sb":
        return one(resp_body(schema))
    if ctx == "sp":
        return one(resp_body(prop))
    if ctx == "qp":
        return one(op(parameters=[{"name": "q", "in": "query", "schema": schema}]))
    if ctx == "pp":
        return one(op(parameters=[{"name": "q", "in": "query", "schema": prop}]))
    raise AssertionError(ctx)


SCHEMA_CASES: list[tuple[str, Any, Any, dict[str, Expect]]] = [
    (
        "type string->integer",
        {"type": "string"},
        {"type": "integer"},
        {
            "rb": {("request-body-type-changed", "ERR")},
            "rp": {("request-property-type-changed", "ERR")},
            "sb": {("response-body-type-changed", "ERR")},
            "sp": {("response-property-type-changed", "ERR")},
            "qp": {("request-parameter-type-changed", "ERR")},
            "pp": {("request-parameter-property-type-specialized", "ERR")},
        },
    ),
    (
        "type integer->number",
        {"type": "integer"},
        {"type": "number"},
        {
            "rb": {("request-body-type-generalized", "INFO")},
            "rp": {("request-property-type-generalized", "INFO")},
            "sb": {("response-body-type-generalized", "ERR")},
            "sp": {("response-property-type-generalized", "ERR")},
            "qp": {("request-parameter-type-generalized", "INFO")},
            "pp": {("request-parameter-property-type-generalized", "INFO")},
        },
    ),
    (
        "type number->integer",
        {"type": "number"},
        {"type": "integer"},
        {
            "rb": {("request-body-type-changed", "ERR")},
            "sb": {("response-body-type-specialized", "INFO")},
            "sp": {("response-property-type-specialized", "INFO")},
        },
    ),
    (
        "type integer->string (loose in parameters)",
        {"type": "integer"},
        {"type": "string"},
        {
            "qp": {("request-parameter-type-generalized", "INFO")},
            "pp": {("request-parameter-property-type-changed", "WARN")},
        },
    ),
    (
        "format int32->int64",
        {"type": "integer", "format": "int32"},
        {"type": "integer", "format": "int64"},
        {
            "rp": {("request-property-type-generalized", "INFO")},
            "sp": {("response-property-type-generalized", "ERR")},
        },
    ),
    (
        "3.1 type array widened: a type generalisation",
        {"type": ["string", "integer"]},
        {"type": ["string", "integer", "boolean"]},
        {
            "rb": {("request-body-type-generalized", "INFO")},
            "rp": {("request-property-type-generalized", "INFO")},
            "sb": {("response-body-type-generalized", "ERR")},
            "sp": {("response-property-type-generalized", "ERR")},
            "qp": {("request-parameter-type-generalized", "INFO")},
            "pp": {("request-parameter-property-type-generalized", "INFO")},
        },
    ),
    (
        "3.1 type array narrowed",
        {"type": ["string", "integer", "boolean"]},
        {"type": ["string", "integer"]},
        {
            "rb": {("request-body-type-changed", "ERR")},
            "sp": {("response-property-type-specialized", "INFO")},
        },
    ),
    (
        "list of types (oneOf of scalar types) widened",
        {"type": "string"},
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {
            "rb": {("request-body-list-of-types-widened", "INFO")},
            "rp": {("request-property-list-of-types-widened", "INFO")},
            "sb": {("response-body-list-of-types-widened", "ERR")},
            "sp": {("response-property-list-of-types-widened", "ERR")},
            "qp": {("request-parameter-list-of-types-widened", "INFO")},
            "pp": {("request-parameter-property-list-of-types-widened", "INFO")},
        },
    ),
    (
        "list of types (anyOf of scalar types) narrowed",
        {"anyOf": [{"type": "string"}, {"type": "number"}]},
        {"type": "string"},
        {
            "rb": {("request-body-list-of-types-narrowed", "ERR")},
            "rp": {("request-property-list-of-types-narrowed", "ERR")},
            "sb": {("response-body-list-of-types-narrowed", "INFO")},
            "sp": {("response-property-list-of-types-narrowed", "INFO")},
            "qp": {("request-parameter-list-of-types-narrowed", "ERR")},
            "pp": {("request-parameter-property-list-of-types-narrowed", "ERR")},
        },
    ),
    (
        "became nullable (3.0 nullable and 3.1 null type are the same)",
        {"type": "string"},
        {"type": ["string", "null"]},
        {
            "rb": {("request-body-became-nullable", "INFO")},
            "rp": {("request-property-became-nullable", "INFO")},
            "sb": {("response-body-became-nullable", "ERR")},
            "sp": {("response-property-became-nullable", "ERR")},
            "qp": {("request-parameter-became-nullable", "INFO")},
            "pp": {("request-parameter-property-became-nullable", "INFO")},
        },
    ),
    (
        "became not nullable",
        {"type": "string", "nullable": True},
        {"type": "string"},
        {
            "rb": {("request-body-became-not-nullable", "ERR")},
            "rp": {("request-property-became-not-nullable", "ERR")},
            "sb": {("response-body-became-not-nullable", "INFO")},
            "sp": {("response-property-became-not-nullable", "INFO")},
            "qp": {("request-parameter-became-not-nullable", "ERR")},
            "pp": {("request-parameter-property-became-not-nullable", "ERR")},
        },
    ),
    (
        "enum value removed",
        {"type": "string", "enum": ["a", "b"]},
        {"type": "string", "enum": ["a"]},
        {
            "rb": {("request-body-enum-value-removed", "ERR")},
            "rp": {("request-property-enum-value-removed", "ERR")},
            "sb": {("response-mediatype-enum-value-removed", "INFO")},
            "sp": {("response-property-enum-value-removed", "INFO")},
            "qp": {("request-parameter-enum-value-removed", "ERR")},
            "pp": {("request-parameter-property-enum-value-removed", "ERR")},
        },
    ),
    (
        "enum value added",
        {"type": "string", "enum": ["a"]},
        {"type": "string", "enum": ["a", "b"]},
        {
            "rb": set(),
            "rp": {("request-property-enum-value-added", "INFO")},
            "sp": {("response-property-enum-value-added", "WARN")},
            "qp": {("request-parameter-enum-value-added", "INFO")},
            "pp": {("request-parameter-property-enum-value-added", "INFO")},
        },
    ),
    (
        "became enum",
        {"type": "string"},
        {"type": "string", "enum": ["a"]},
        {
            "rb": {("request-body-became-enum", "ERR")},
            "rp": {("request-property-became-enum", "ERR")},
            "sp": set(),
            "qp": {("request-parameter-became-enum", "ERR")},
        },
    ),
    (
        "x-extensible-enum value removed",
        {"type": "string", "x-extensible-enum": ["a", "b"]},
        {"type": "string", "x-extensible-enum": ["a"]},
        {
            "rp": {("request-property-x-extensible-enum-value-removed", "ERR")},
            "qp": {("request-parameter-x-extensible-enum-value-removed", "ERR")},
        },
    ),
    (
        "default added",
        {"type": "string"},
        {"type": "string", "default": "x"},
        {
            "rb": {("request-body-default-value-added", "INFO")},
            "rp": {("request-property-default-value-added", "INFO")},
            "sb": {("response-body-default-value-added", "INFO")},
            "sp": {("response-property-default-value-added", "INFO")},
            "qp": {("request-parameter-default-value-added", "ERR")},
        },
    ),
    (
        "default changed",
        {"type": "string", "default": "x"},
        {"type": "string", "default": "y"},
        {
            "rb": {("request-body-default-value-changed", "INFO")},
            "rp": {("request-property-default-value-changed", "INFO")},
            "sb": {("response-body-default-value-changed", "INFO")},
            "sp": {("response-property-default-value-changed", "INFO")},
            "qp": {("request-parameter-default-value-changed", "ERR")},
        },
    ),
    (
        "default removed",
        {"type": "string", "default": "x"},
        {"type": "string"},
        {
            "rb": {("request-body-default-value-removed", "INFO")},
            "rp": {("request-property-default-value-removed", "INFO")},
            "sb": {("response-body-default-value-removed", "INFO")},
            "sp": {("response-property-default-value-removed", "INFO")},
            "qp": {("request-parameter-default-value-removed", "ERR")},
        },
    ),
    (
        "const added",
        {"type": "string"},
        {"type": "string", "const": "x"},
        {
            "rb": {("request-body-const-added", "ERR")},
            "rp": {("request-property-const-added", "ERR")},
            "sb": {("response-body-const-added", "INFO")},
            "sp": {("response-property-const-added", "INFO")},
        },
    ),
    (
        "const changed",
        {"type": "string", "const": "x"},
        {"type": "string", "const": "y"},
        {
            "rb": {("request-body-const-changed", "ERR")},
            "rp": {("request-property-const-changed", "ERR")},
            "sb": {("response-body-const-changed", "ERR")},
            "sp": {("response-property-const-changed", "ERR")},
        },
    ),
    (
        "const removed",
        {"type": "string", "const": "x"},
        {"type": "string"},
        {
            "rb": {("request-body-const-removed", "INFO")},
            "rp": {("request-property-const-removed", "INFO")},
            "sb": {("response-body-const-removed", "ERR")},
            "sp": {("response-property-const-removed", "ERR")},
        },
    ),
    (
        "maximum decreased",
        {"type": "integer", "maximum": 10},
        {"type": "integer", "maximum": 5},
        {
            "rb": {("request-body-max-decreased", "ERR")},
            "rp": {("request-property-max-decreased", "ERR")},
            "sb": set(),
            "qp": {("request-parameter-max-decreased", "ERR")},
        },
    ),
    (
        "maximum increased",
        {"type": "integer", "maximum": 5},
        {"type": "integer", "maximum": 10},
        {
            "rb": {("request-body-max-increased", "INFO")},
            "rp": {("request-property-max-increased", "INFO")},
            "sb": {("response-body-max-increased", "ERR")},
            "sp": {("response-property-max-increased", "ERR")},
            "qp": {("request-parameter-max-increased", "INFO")},
        },
    ),
    (
        "maximum set",
        {"type": "integer"},
        {"type": "integer", "maximum": 10},
        {
            "rb": {("request-body-max-set", "WARN")},
            "rp": {("request-property-max-set", "WARN")},
            "sb": set(),
            "qp": {("request-parameter-max-set", "WARN")},
        },
    ),
    (
        "exclusiveMaximum decreased / set (3.1 numbers)",
        {"type": "number", "exclusiveMaximum": 10},
        {"type": "number", "exclusiveMaximum": 5},
        {
            "rb": {("request-body-exclusive-max-decreased", "ERR")},
            "rp": {("request-property-exclusive-max-decreased", "ERR")},
            "qp": {("request-parameter-exclusive-max-decreased", "ERR")},
        },
    ),
    (
        "exclusiveMaximum increased",
        {"type": "number", "exclusiveMaximum": 5},
        {"type": "number", "exclusiveMaximum": 10},
        {
            "rb": {("request-body-exclusive-max-increased", "INFO")},
            "rp": {("request-property-exclusive-max-increased", "INFO")},
            "sb": {("response-body-exclusive-max-increased", "ERR")},
            "sp": {("response-property-exclusive-max-increased", "ERR")},
            "qp": {("request-parameter-exclusive-max-increased", "INFO")},
        },
    ),
    (
        "exclusiveMaximum set",
        {"type": "number"},
        {"type": "number", "exclusiveMaximum": 5},
        {
            "rb": {("request-body-exclusive-max-set", "WARN")},
            "rp": {("request-property-exclusive-max-set", "WARN")},
            "qp": {("request-parameter-exclusive-max-set", "WARN")},
        },
    ),
    (
        "minimum increased",
        {"type": "integer", "minimum": 1},
        {"type": "integer", "minimum": 5},
        {
            "rb": {("request-body-min-increased", "ERR")},
            "rp": {("request-property-min-increased", "ERR")},
            "sb": set(),
            "qp": {("request-parameter-min-increased", "ERR")},
        },
    ),
    (
        "minimum decreased",
        {"type": "integer", "minimum": 5},
        {"type": "integer", "minimum": 1},
        {
            "rb": {("request-body-min-decreased", "INFO")},
            "rp": {("request-property-min-decreased", "INFO")},
            "sb": {("response-body-min-decreased", "ERR")},
            "sp": {("response-property-min-decreased", "ERR")},
            "qp": {("request-parameter-min-decreased", "INFO")},
        },
    ),
    (
        "minimum set",
        {"type": "integer"},
        {"type": "integer", "minimum": 1},
        {
            "rb": {("request-body-min-set", "WARN")},
            "rp": {("request-property-min-set", "WARN")},
            "qp": {("request-parameter-min-set", "WARN")},
        },
    ),
    (
        "exclusiveMinimum increased",
        {"type": "number", "exclusiveMinimum": 1},
        {"type": "number", "exclusiveMinimum": 5},
        {
            "rb": {("request-body-exclusive-min-increased", "ERR")},
            "rp": {("request-property-exclusive-min-increased", "ERR")},
            "qp": {("request-parameter-exclusive-min-increased", "ERR")},
        },
    ),
    (
        "exclusiveMinimum decreased",
        {"type": "number", "exclusiveMinimum": 5},
        {"type": "number", "exclusiveMinimum": 1},
        {
            "rb": {("request-body-exclusive-min-decreased", "INFO")},
            "rp": {("request-property-exclusive-min-decreased", "INFO")},
            "sb": {("response-body-exclusive-min-decreased", "ERR")},
            "sp": {("response-property-exclusive-min-decreased", "ERR")},
            "qp": {("request-parameter-exclusive-min-decreased", "INFO")},
        },
    ),
    (
        "exclusiveMinimum set",
        {"type": "number"},
        {"type": "number", "exclusiveMinimum": 1},
        {
            "rb": {("request-body-exclusive-min-set", "WARN")},
            "rp": {("request-property-exclusive-min-set", "WARN")},
            "qp": {("request-parameter-exclusive-min-set", "WARN")},
        },
    ),
    (
        "maxLength decreased",
        {"type": "string", "maxLength": 10},
        {"type": "string", "maxLength": 5},
        {
            "rb": {("request-body-max-length-decreased", "ERR")},
            "rp": {("request-property-max-length-decreased", "ERR")},
            "sb": set(),
            "qp": {("request-parameter-max-length-decreased", "ERR")},
        },
    ),
    (
        "maxLength increased",
        {"type": "string", "maxLength": 5},
        {"type": "string", "maxLength": 10},
        {
            "rb": {("request-body-max-length-increased", "INFO")},
            "rp": {("request-property-max-length-increased", "INFO")},
            "sb": {("response-body-max-length-increased", "ERR")},
            "sp": {("response-property-max-length-increased", "ERR")},
            "qp": {("request-parameter-max-length-increased", "INFO")},
        },
    ),
    (
        "maxLength set / unset",
        {"type": "string"},
        {"type": "string", "maxLength": 5},
        {
            "rb": {("request-body-max-length-set", "WARN")},
            "rp": {("request-property-max-length-set", "WARN")},
            "sb": set(),
            "qp": {("request-parameter-max-length-set", "WARN")},
        },
    ),
    (
        "maxLength unset",
        {"type": "string", "maxLength": 5},
        {"type": "string"},
        {
            "rb": set(),
            "sb": {("response-body-max-length-unset", "ERR")},
            "sp": {("response-property-max-length-unset", "ERR")},
        },
    ),
    (
        "minLength increased",
        {"type": "string", "minLength": 1},
        {"type": "string", "minLength": 3},
        {
            "rb": {("request-body-min-length-increased", "ERR")},
            "rp": {("request-property-min-length-increased", "ERR")},
            "sb": set(),
            "qp": {("request-parameter-min-length-increased", "ERR")},
        },
    ),
    (
        "minLength decreased",
        {"type": "string", "minLength": 3},
        {"type": "string", "minLength": 1},
        {
            "rb": {("request-body-min-length-decreased", "INFO")},
            "rp": {("request-property-min-length-decreased", "INFO")},
            "sb": {("response-body-min-length-decreased", "ERR")},
            "sp": {("response-property-min-length-decreased", "ERR")},
            "qp": {("request-parameter-min-length-decreased", "INFO")},
        },
    ),
    (
        "maxItems decreased / increased",
        {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        {"qp": {("request-parameter-max-items-decreased", "ERR")}},
    ),
    (
        "maxItems increased",
        {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        {"qp": {("request-parameter-max-items-increased", "INFO")}},
    ),
    (
        "minItems increased",
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {"type": "array", "items": {"type": "string"}, "minItems": 3},
        {
            "rb": {("request-body-min-items-increased", "ERR")},
            "rp": {("request-property-min-items-increased", "ERR")},
            "qp": {("request-parameter-min-items-increased", "ERR")},
        },
    ),
    (
        "minItems decreased",
        {"type": "array", "items": {"type": "string"}, "minItems": 3},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {
            "sb": {("response-body-min-items-decreased", "ERR")},
            "sp": {("response-property-min-items-decreased", "ERR")},
            "qp": {("request-parameter-min-items-decreased", "INFO")},
        },
    ),
    (
        "minItems set",
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {
            "rb": {("request-body-min-items-set", "WARN")},
            "rp": {("request-property-min-items-set", "WARN")},
            "qp": {("request-parameter-min-items-set", "WARN")},
        },
    ),
    (
        "minItems unset",
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {"type": "array", "items": {"type": "string"}},
        {
            "sb": {("response-body-min-items-unset", "ERR")},
            "sp": {("response-property-min-items-unset", "ERR")},
        },
    ),
    (
        "pattern added",
        {"type": "string"},
        {"type": "string", "pattern": "^[a-z]+$"},
        {
            "rp": {("request-property-pattern-added", "ERR")},
            "sp": {("response-property-pattern-added", "INFO")},
            "qp": {("request-parameter-pattern-added", "ERR")},
        },
    ),
    (
        "pattern changed",
        {"type": "string", "pattern": "^[a-z]+$"},
        {"type": "string", "pattern": "^[a-z0-9]+$"},
        {
            "rp": {("request-property-pattern-changed", "WARN")},
            "sp": {("response-property-pattern-changed", "INFO")},
            "qp": {("request-parameter-pattern-changed", "WARN")},
        },
    ),
    (
        "pattern generalized",
        {"type": "string", "pattern": "^[a-z]+$"},
        {"type": "string", "pattern": ".*"},
        {
            "rp": {("request-property-pattern-generalized", "INFO")},
            "qp": {("request-parameter-pattern-generalized", "INFO")},
        },
    ),
    (
        "pattern removed",
        {"type": "string", "pattern": "^[a-z]+$"},
        {"type": "string"},
        {
            "rp": {("request-property-pattern-removed", "INFO")},
            "sp": {("response-property-pattern-removed", "INFO")},
            "qp": {("request-parameter-pattern-removed", "INFO")},
        },
    ),
    (
        "prefixItems added",
        {"type": "array"},
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {
            "rb": {("request-body-prefix-items-added", "INFO")},
            "rp": {("request-property-prefix-items-added", "INFO")},
            "sb": {("response-body-prefix-items-added", "ERR")},
            "sp": {("response-property-prefix-items-added", "ERR")},
        },
    ),
    (
        "prefixItems removed",
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "array"},
        {
            "rb": {("request-body-prefix-items-removed", "ERR")},
            "sp": {("response-property-prefix-items-removed", "INFO")},
        },
    ),
    (
        "if/then/else added",
        {"type": "object"},
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {}},
        {
            "rb": {
                ("request-body-if-added", "ERR"),
                ("request-body-then-added", "ERR"),
                ("request-body-else-added", "ERR"),
            },
            "sp": {
                ("response-property-if-added", "INFO"),
                ("response-property-then-added", "INFO"),
                ("response-property-else-added", "INFO"),
            },
        },
    ),
    (
        "if/then/else removed",
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {}},
        {"type": "object"},
        {
            "rp": {
                ("request-property-if-removed", "INFO"),
                ("request-property-then-removed", "INFO"),
                ("request-property-else-removed", "INFO"),
            },
            "sb": {
                ("response-body-if-removed", "ERR"),
                ("response-body-then-removed", "ERR"),
                ("response-body-else-removed", "ERR"),
            },
        },
    ),
    (
        "contains added, minContains/maxContains",
        {"type": "array", "minContains": 1, "maxContains": 5},
        {"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxContains": 3},
        {
            "rb": {
                ("request-body-contains-added", "ERR"),
                ("request-body-min-contains-increased", "ERR"),
                ("request-body-max-contains-decreased", "ERR"),
            },
            "sp": {
                ("response-property-contains-added", "INFO"),
                ("response-property-min-contains-increased", "INFO"),
                ("response-property-max-contains-decreased", "INFO"),
            },
        },
    ),
    (
        "contains removed, minContains/maxContains relaxed",
        {"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxContains": 3},
        {"type": "array", "minContains": 1, "maxContains": 5},
        {
            "rp": {
                ("request-property-contains-removed", "INFO"),
                ("request-property-min-contains-decreased", "INFO"),
                ("request-property-max-contains-increased", "INFO"),
            },
            "sb": {
                ("response-body-contains-removed", "ERR"),
                ("response-body-min-contains-decreased", "ERR"),
                ("response-body-max-contains-increased", "ERR"),
            },
        },
    ),
    (
        "dependentRequired added / changed / removed",
        {"type": "object", "dependentRequired": {"a": ["b"], "c": ["d"]}},
        {"type": "object", "dependentRequired": {"a": ["b", "x"], "e": ["f"]}},
        {
            "rb": {
                ("request-body-dependent-required-added", "ERR"),
                ("request-body-dependent-required-changed", "ERR"),
                ("request-body-dependent-required-removed", "INFO"),
            },
            "sp": {
                ("response-property-dependent-required-added", "INFO"),
                ("response-property-dependent-required-changed", "ERR"),
                ("response-property-dependent-required-removed", "ERR"),
            },
        },
    ),
    (
        "dependentSchemas, patternProperties, propertyNames, unevaluated*",
        {
            "type": "object",
            "dependentSchemas": {"a": {"required": ["b"]}},
            "patternProperties": {"^x-": {"type": "string"}},
        },
        {
            "type": "object",
            "dependentSchemas": {"c": {"required": ["d"]}},
            "patternProperties": {"^y-": {"type": "string"}},
            "propertyNames": {"maxLength": 3},
            "unevaluatedProperties": False,
            "unevaluatedItems": False,
        },
        {
            "rb": {
                ("request-body-dependent-schema-added", "ERR"),
                ("request-body-dependent-schema-removed", "INFO"),
                ("request-body-pattern-property-added", "ERR"),
                ("request-body-pattern-property-removed", "INFO"),
                ("request-body-property-names-added", "ERR"),
                ("request-body-unevaluated-properties-added", "ERR"),
                ("request-body-unevaluated-items-added", "ERR"),
            },
            "rp": {
                ("request-property-dependent-schema-added", "ERR"),
                ("request-property-dependent-schema-removed", "INFO"),
                ("request-property-pattern-property-added", "ERR"),
                ("request-property-pattern-property-removed", "INFO"),
                ("request-property-property-names-added", "ERR"),
                ("request-property-unevaluated-properties-added", "ERR"),
                ("request-property-unevaluated-items-added", "ERR"),
            },
            "sb": {
                ("response-body-dependent-schema-added", "INFO"),
                ("response-body-dependent-schema-removed", "ERR"),
                ("response-body-pattern-property-added", "INFO"),
                ("response-body-pattern-property-removed", "ERR"),
                ("response-body-property-names-added", "INFO"),
                ("response-body-unevaluated-properties-added", "INFO"),
                ("response-body-unevaluated-items-added", "INFO"),
            },
        },
    ),
    (
        "propertyNames / unevaluated* removed",
        {
            "type": "object",
            "propertyNames": {"maxLength": 3},
            "unevaluatedProperties": False,
            "unevaluatedItems": False,
        },
        {"type": "object"},
        {
            "rb": {
                ("request-body-property-names-removed", "INFO"),
                ("request-body-unevaluated-properties-removed", "INFO"),
                ("request-body-unevaluated-items-removed", "INFO"),
            },
            "sp": {
                ("response-property-property-names-removed", "ERR"),
                ("response-property-unevaluated-properties-removed", "ERR"),
                ("response-property-unevaluated-items-removed", "ERR"),
            },
        },
    ),
    (
        "contentSchema / contentMediaType / contentEncoding",
        {"type": "string", "contentMediaType": "image/png", "contentEncoding": "base64"},
        {
            "type": "string",
            "contentMediaType": "image/jpeg",
            "contentEncoding": "base32",
            "contentSchema": {"type": "object"},
        },
        {
            "rb": {
                ("request-body-content-schema-added", "ERR"),
                ("request-body-content-media-type-changed", "ERR"),
                ("request-body-content-encoding-changed", "ERR"),
            },
            "rp": {
                ("request-property-content-schema-added", "ERR"),
                ("request-property-content-media-type-changed", "ERR"),
                ("request-property-content-encoding-changed", "ERR"),
            },
            "sb": {
                ("response-body-content-schema-added", "INFO"),
                ("response-body-content-media-type-changed", "ERR"),
                ("response-body-content-encoding-changed", "ERR"),
            },
            "sp": {
                ("response-property-content-schema-added", "INFO"),
                ("response-property-content-media-type-changed", "ERR"),
                ("response-property-content-encoding-changed", "ERR"),
            },
        },
    ),
    (
        "contentSchema removed",
        {"type": "string", "contentSchema": {"type": "object"}},
        {"type": "string"},
        {
            "rb": {("request-body-content-schema-removed", "INFO")},
            "rp": {("request-property-content-schema-removed", "INFO")},
            "sb": {("response-body-content-schema-removed", "ERR")},
            "sp": {("response-property-content-schema-removed", "ERR")},
        },
    ),
    (
        "discriminator added",
        {"oneOf": [{"$ref": "#/components/schemas/A"}]},
        {"oneOf": [{"$ref": "#/components/schemas/A"}], "discriminator": {"propertyName": "k"}},
        {
            "rb": {("request-body-discriminator-added", "INFO")},
            "rp": {("request-property-discriminator-added", "INFO")},
            "sb": {("response-body-discriminator-added", "INFO")},
            "sp": {("response-property-discriminator-added", "INFO")},
        },
    ),
    (
        "discriminator removed",
        {"oneOf": [{"$ref": "#/components/schemas/A"}], "discriminator": {"propertyName": "k"}},
        {"oneOf": [{"$ref": "#/components/schemas/A"}]},
        {
            "rb": {("request-body-discriminator-removed", "INFO")},
            "rp": {("request-property-discriminator-removed", "INFO")},
            "sb": {("response-body-discriminator-removed", "INFO")},
            "sp": {("response-property-discriminator-removed", "INFO")},
        },
    ),
    (
        "discriminator property name and mapping changed",
        {
            "oneOf": [{"$ref": "#/components/schemas/A"}],
            "discriminator": {"propertyName": "k", "mapping": {"a": "#/A", "b": "#/B"}},
        },
        {
            "oneOf": [{"$ref": "#/components/schemas/A"}],
            "discriminator": {"propertyName": "kind", "mapping": {"a": "#/A2", "c": "#/C"}},
        },
        {
            "rb": {
                ("request-body-discriminator-property-name-changed", "INFO"),
                ("request-body-discriminator-mapping-added", "INFO"),
                ("request-body-discriminator-mapping-deleted", "INFO"),
                ("request-body-discriminator-mapping-changed", "INFO"),
            },
            "rp": {
                ("request-property-discriminator-property-name-changed", "INFO"),
                ("request-property-discriminator-mapping-added", "INFO"),
                ("request-property-discriminator-mapping-deleted", "INFO"),
                ("request-property-discriminator-mapping-changed", "INFO"),
            },
            "sb": {
                ("response-body-discriminator-property-name-changed", "INFO"),
                ("response-body-discriminator-mapping-added", "INFO"),
                ("response-body-discriminator-mapping-deleted", "INFO"),
                ("response-body-discriminator-mapping-changed", "INFO"),
            },
            "sp": {
                ("response-property-discriminator-property-name-changed", "INFO"),
                ("response-property-discriminator-mapping-added", "INFO"),
                ("response-property-discriminator-mapping-deleted", "INFO"),
                ("response-property-discriminator-mapping-changed", "INFO"),
            },
        },
    ),
    (
        "oneOf subschema added",
        {"oneOf": [{"$ref": "#/components/schemas/A"}]},
        {"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
        {
            "rb": {("request-body-one-of-added", "INFO")},
            "rp": {("request-property-one-of-added", "INFO")},
            "sb": {("response-body-one-of-added", "ERR")},
            "sp": {("response-property-one-of-added", "ERR")},
        },
    ),
    (
        "oneOf subschema removed",
        {"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
        {"oneOf": [{"$ref": "#/components/schemas/A"}]},
        {
            "rb": {("request-body-one-of-removed", "ERR")},
            "rp": {("request-property-one-of-removed", "ERR")},
            "sb": {("response-body-one-of-removed", "INFO")},
            "sp": {("response-property-one-of-removed", "INFO")},
        },
    ),
    (
        "anyOf subschema added",
        {"anyOf": [{"$ref": "#/components/schemas/A"}]},
        {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "string"}]},
        {
            "rb": {("request-body-any-of-added", "INFO")},
            "rp": {("request-property-any-of-added", "INFO")},
            "sb": {("response-body-any-of-added", "INFO")},
            "sp": {("response-property-any-of-added", "INFO")},
        },
    ),
    (
        "anyOf subschema removed",
        {"anyOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
        {"anyOf": [{"$ref": "#/components/schemas/B"}]},
        {
            "rb": {("request-body-any-of-removed", "ERR")},
            "rp": {("request-property-any-of-removed", "ERR")},
            "sb": {("response-body-any-of-removed", "INFO")},
            "sp": {("response-property-any-of-removed", "INFO")},
        },
    ),
    (
        "allOf subschema added",
        {"allOf": [{"$ref": "#/components/schemas/A"}]},
        {"allOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
        {
            "rb": {("request-body-all-of-added", "ERR")},
            "rp": {("request-property-all-of-added", "ERR")},
            "sb": {("response-body-all-of-added", "INFO")},
            "sp": {("response-property-all-of-added", "INFO")},
        },
    ),
    (
        "allOf subschema removed",
        {"allOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
        {"allOf": [{"$ref": "#/components/schemas/A"}]},
        {
            "rb": {("request-body-all-of-removed", "WARN")},
            "rp": {("request-property-all-of-removed", "WARN")},
            "sb": {("response-body-all-of-removed", "INFO")},
            "sp": {("response-property-all-of-removed", "INFO")},
        },
    ),
    (
        "allOf annotation-only subschema added",
        {"allOf": [{"$ref": "#/components/schemas/A"}]},
        {"allOf": [{"$ref": "#/components/schemas/A"}, {"description": "docs only"}]},
        {
            "rb": {("request-body-all-of-added-annotation-only", "INFO")},
            "rp": {("request-property-all-of-added-annotation-only", "INFO")},
            "sb": {("response-body-all-of-added-annotation-only", "INFO")},
            "sp": {("response-property-all-of-added-annotation-only", "INFO")},
        },
    ),
    (
        "allOf annotation-only subschema removed",
        {"allOf": [{"$ref": "#/components/schemas/A"}, {"description": "docs only"}]},
        {"allOf": [{"$ref": "#/components/schemas/A"}]},
        {
            "rb": {("request-body-all-of-removed-annotation-only", "INFO")},
            "rp": {("request-property-all-of-removed-annotation-only", "INFO")},
            "sb": {("response-body-all-of-removed-annotation-only", "INFO")},
            "sp": {("response-property-all-of-removed-annotation-only", "INFO")},
        },
    ),
    (
        "object wrapped in oneOf (properties moved into the alternatives)",
        {
            "type": "object",
            "required": ["k"],
            "properties": {"k": {"type": "string"}, "x": {"type": "integer"}},
        },
        {"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
        {
            "rb": {("request-body-wrapped-in-one-of", "ERR")},
            "sb": {("response-body-wrapped-in-one-of", "ERR")},
            "rp": {("request-property-one-of-added", "INFO")},
            "sp": {("response-property-one-of-added", "ERR")},
        },
    ),
    (
        "oneOf added next to existing properties is not a wrapping",
        {"type": "object", "properties": {"k": {"type": "string"}}},
        {
            "type": "object",
            "properties": {"k": {"type": "string"}},
            "oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}],
        },
        {
            "rb": {("request-body-one-of-added", "INFO")},
            "sb": {("response-body-one-of-added", "ERR")},
        },
    ),
]


# More places for the same keyword changes (request property vs response body ...).
SCHEMA_CASES += [
    (
        "if/then/else removed (other places)",
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {}},
        {"type": "object"},
        {
            "rb": {
                ("request-body-if-removed", "INFO"),
                ("request-body-then-removed", "INFO"),
                ("request-body-else-removed", "INFO"),
            },
            "sp": {
                ("response-property-if-removed", "ERR"),
                ("response-property-then-removed", "ERR"),
                ("response-property-else-removed", "ERR"),
            },
        },
    ),
    (
        "if/then/else added (other places)",
        {"type": "object"},
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {}},
        {
            "rp": {
                ("request-property-if-added", "ERR"),
                ("request-property-then-added", "ERR"),
                ("request-property-else-added", "ERR"),
            },
            "sb": {
                ("response-body-if-added", "INFO"),
                ("response-body-then-added", "INFO"),
                ("response-body-else-added", "INFO"),
            },
        },
    ),
    (
        "contains added (other places)",
        {"type": "array", "minContains": 1, "maxContains": 5},
        {"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxContains": 3},
        {
            "rp": {
                ("request-property-contains-added", "ERR"),
                ("request-property-min-contains-increased", "ERR"),
                ("request-property-max-contains-decreased", "ERR"),
            },
            "sb": {
                ("response-body-contains-added", "INFO"),
                ("response-body-min-contains-increased", "INFO"),
                ("response-body-max-contains-decreased", "INFO"),
            },
        },
    ),
    (
        "contains removed (other places)",
        {"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxContains": 3},
        {"type": "array", "minContains": 1, "maxContains": 5},
        {
            "rb": {
                ("request-body-contains-removed", "INFO"),
                ("request-body-min-contains-decreased", "INFO"),
                ("request-body-max-contains-increased", "INFO"),
            },
            "sp": {
                ("response-property-contains-removed", "ERR"),
                ("response-property-min-contains-decreased", "ERR"),
                ("response-property-max-contains-increased", "ERR"),
            },
        },
    ),
    (
        "dependentRequired (other places)",
        {"type": "object", "dependentRequired": {"a": ["b"], "c": ["d"]}},
        {"type": "object", "dependentRequired": {"a": ["b", "x"], "e": ["f"]}},
        {
            "rp": {
                ("request-property-dependent-required-added", "ERR"),
                ("request-property-dependent-required-changed", "ERR"),
                ("request-property-dependent-required-removed", "INFO"),
            },
            "sb": {
                ("response-body-dependent-required-added", "INFO"),
                ("response-body-dependent-required-changed", "ERR"),
                ("response-body-dependent-required-removed", "ERR"),
            },
        },
    ),
    (
        "dependentSchemas, patternProperties, propertyNames, unevaluated* (response property)",
        {
            "type": "object",
            "dependentSchemas": {"a": {"required": ["b"]}},
            "patternProperties": {"^x-": {"type": "string"}},
        },
        {
            "type": "object",
            "dependentSchemas": {"c": {"required": ["d"]}},
            "patternProperties": {"^y-": {"type": "string"}},
            "propertyNames": {"maxLength": 3},
            "unevaluatedProperties": False,
            "unevaluatedItems": False,
        },
        {
            "sp": {
                ("response-property-dependent-schema-added", "INFO"),
                ("response-property-dependent-schema-removed", "ERR"),
                ("response-property-pattern-property-added", "INFO"),
                ("response-property-pattern-property-removed", "ERR"),
                ("response-property-property-names-added", "INFO"),
                ("response-property-unevaluated-properties-added", "INFO"),
                ("response-property-unevaluated-items-added", "INFO"),
            },
        },
    ),
    (
        "propertyNames / unevaluated* removed (other places)",
        {
            "type": "object",
            "propertyNames": {"maxLength": 3},
            "unevaluatedProperties": False,
            "unevaluatedItems": False,
        },
        {"type": "object"},
        {
            "rp": {
                ("request-property-property-names-removed", "INFO"),
                ("request-property-unevaluated-properties-removed", "INFO"),
                ("request-property-unevaluated-items-removed", "INFO"),
            },
            "sb": {
                ("response-body-property-names-removed", "ERR"),
                ("response-body-unevaluated-properties-removed", "ERR"),
                ("response-body-unevaluated-items-removed", "ERR"),
            },
        },
    ),
    (
        "prefixItems removed (other places)",
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "array"},
        {
            "rp": {("request-property-prefix-items-removed", "ERR")},
            "sb": {("response-body-prefix-items-removed", "INFO")},
        },
    ),
]


COMPONENTS = {
    "schemas": {
        "A": {"type": "object", "properties": {"k": {"type": "string"}}},
        "B": {"type": "object", "properties": {"k": {"type": "string"}}},
    }
}


def _schema_params() -> list[Any]:
    out = []
    for label, b, r, expected in SCHEMA_CASES:
        for ctx, want in expected.items():
            out.append(pytest.param(b, r, ctx, want, id=f"{label} [{ctx}]"))
    return out


@pytest.mark.parametrize(("b", "r", "ctx", "want"), _schema_params())
def test_schema_rules(b: Any, r: Any, ctx: str, want: Expect) -> None:
    base = wrap(ctx, b)
    rev = bump(wrap(ctx, r))
    base["components"] = copy.deepcopy(COMPONENTS)
    rev["components"] = copy.deepcopy(COMPONENTS)
    assert ids(base, rev) == want


# --------------------------------------------------------------------------
# Whole-document pairs: (name, base, revision, expected).

USER = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}


def with_user(o: dict[str, Any], user: dict[str, Any], **extra: Any) -> Doc:
    d = one(o, **extra)
    d["components"] = {"schemas": {"User": user}}
    return d


UREF = {"$ref": "#/components/schemas/User"}
SUNSET_PAST = "2026-01-01"
SUNSET_FUTURE = "2027-12-31"

PAIR_CASES: list[tuple[str, Doc, Doc, Expect]] = []


def case(name: str, base: Doc, rev: Doc, expected: Expect, *, bump_version: bool = True) -> None:
    PAIR_CASES.append((name, base, bump(rev) if bump_version else rev, expected))


# paths and operations
case("endpoint added", doc({}), one(op()), {("endpoint-added", "INFO")})
case(
    "method added to existing path",
    one(op()),
    doc({"/items": {"post": op(), "get": op(operationId="g")}}),
    {("endpoint-added", "INFO")},
)
case(
    "path removed without deprecation",
    one(op()),
    doc({}),
    {("api-path-removed-without-deprecation", "ERR")},
)
case(
    "path removed after deprecation",
    one(op(deprecated=True)),
    doc({}),
    {("api-path-removed-with-deprecation", "INFO")},
)
case(
    "path removed before its sunset",
    one(op(deprecated=True, **{"x-sunset": SUNSET_FUTURE})),
    doc({}),
    {("api-path-removed-before-sunset", "ERR")},
)
case(
    "path removed after its sunset: as announced, nothing to report",
    one(op(deprecated=True, **{"x-sunset": SUNSET_PAST})),
    doc({}),
    set(),
)
case(
    "path removed with unparsable sunset",
    one(op(deprecated=True, **{"x-sunset": "next spring"})),
    doc({}),
    {("api-path-sunset-parse", "ERR")},
)
case(
    "operation removed without deprecation",
    doc({"/items": {"post": op(), "get": op(operationId="g")}}),
    one(op()),
    {("api-removed-without-deprecation", "ERR")},
)
case(
    "operation removed after deprecation",
    doc({"/items": {"post": op(), "get": op(operationId="g", deprecated=True)}}),
    one(op()),
    {("api-removed-with-deprecation", "INFO")},
)
case(
    "operation removed before sunset",
    doc(
        {
            "/items": {
                "post": op(),
                "get": op(operationId="g", deprecated=True, **{"x-sunset": SUNSET_FUTURE}),
            }
        }
    ),
    one(op()),
    {("api-removed-before-sunset", "ERR")},
)
case(
    "draft operation removed: not breaking",
    doc({"/items": {"post": op(), "get": op(operationId="g", **{"x-stability-level": "draft"})}}),
    one(op()),
    set(),
)
case(
    "alpha operation changed: not breaking",
    one(op(**{"x-stability-level": "alpha"})),
    one(
        op(
            **{"x-stability-level": "alpha"},
            parameters=[
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
            ],
        )
    ),
    set(),
)
case(
    "path parameter renamed: nothing",
    doc(
        {
            "/items/{id}": {
                "get": op(
                    parameters=[
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ]
                )
            }
        }
    ),
    doc(
        {
            "/items/{itemId}": {
                "get": op(
                    parameters=[
                        {
                            "name": "itemId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ]
                )
            }
        }
    ),
    set(),
)
case(
    "endpoint deprecated",
    one(op()),
    one(op(deprecated=True)),
    {("endpoint-deprecated", "INFO")},
)
case(
    "endpoint deprecated with sunset",
    one(op()),
    one(op(deprecated=True, **{"x-sunset": SUNSET_FUTURE})),
    {("endpoint-deprecated-with-sunset", "INFO")},
)
case(
    "endpoint deprecated with a sunset already past",
    one(op()),
    one(op(deprecated=True, **{"x-sunset": SUNSET_PAST})),
    {("api-sunset-date-too-small", "ERR")},
)
case(
    "endpoint deprecated with unparsable sunset",
    one(op()),
    one(op(deprecated=True, **{"x-sunset": "soon"})),
    {("api-deprecated-sunset-parse", "ERR")},
)
case(
    "endpoint reactivated",
    one(op(deprecated=True)),
    one(op()),
    {("endpoint-reactivated", "INFO")},
)
case(
    "sunset deleted",
    one(op(deprecated=True, **{"x-sunset": SUNSET_FUTURE})),
    one(op(deprecated=True)),
    {("sunset-deleted", "ERR")},
)
case(
    "sunset moved earlier, into the past",
    one(op(deprecated=True, **{"x-sunset": SUNSET_FUTURE})),
    one(op(deprecated=True, **{"x-sunset": SUNSET_PAST})),
    {("api-sunset-date-changed-too-small", "ERR")},
)
case(
    "stability decreased",
    one(op(**{"x-stability-level": "stable"})),
    one(op(**{"x-stability-level": "beta"})),
    {("api-stability-decreased", "ERR")},
)
case(
    "stability increased",
    one(op(**{"x-stability-level": "beta"})),
    one(op(**{"x-stability-level": "stable"})),
    {("api-stability-increased", "INFO")},
)
case(
    "invalid stability level",
    one(op()),
    one(op(**{"x-stability-level": "experimental"})),
    {("api-invalid-stability-level", "ERR")},
)
case(
    "operationId changed",
    one(op(operationId="listItems")),
    one(op(operationId="getItems")),
    {("api-operation-id-removed", "INFO")},
)
case(
    "operationId added",
    one({"responses": OK}),
    one(op(operationId="listItems")),
    {("api-operation-id-added", "INFO")},
)
case(
    "tags added and removed",
    one(op(tags=["a"])),
    one(op(tags=["b"])),
    {("api-tag-added", "INFO"), ("api-tag-removed", "INFO")},
)

# parameters
Q_REQ = {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
Q_OPT = {"name": "q", "in": "query", "schema": {"type": "string"}}
case(
    "new required query parameter",
    one(op()),
    one(op(parameters=[Q_REQ])),
    {("new-required-request-parameter", "ERR")},
)
case(
    "new optional query parameter",
    one(op()),
    one(op(parameters=[Q_OPT])),
    {("new-optional-request-parameter", "INFO")},
)
case(
    "parameter moved from query to header",
    one(op(parameters=[Q_REQ])),
    one(op(parameters=[{**Q_REQ, "in": "header"}])),
    {("request-parameter-removed", "WARN"), ("new-required-request-parameter", "ERR")},
)
case(
    "path-level required parameter added",
    one(op()),
    doc({"/items": {"parameters": [Q_REQ], "post": op()}}),
    {("new-required-request-default-parameter-to-existing-path", "ERR")},
)
case(
    "path-level optional parameter added",
    one(op()),
    doc({"/items": {"parameters": [Q_OPT], "post": op()}}),
    {("new-optional-request-default-parameter-to-existing-path", "INFO")},
)
case(
    "new path parameter (template changed)",
    doc(
        {
            "/items/{a}": {
                "get": op(
                    parameters=[
                        {"name": "a", "in": "path", "required": True, "schema": {"type": "string"}}
                    ]
                )
            }
        }
    ),
    doc(
        {
            "/items/{a}": {
                "get": op(
                    parameters=[
                        {"name": "a", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "b", "in": "path", "required": True, "schema": {"type": "string"}},
                    ]
                )
            }
        }
    ),
    {("new-request-path-parameter", "ERR")},
)
case(
    "parameter removed",
    one(op(parameters=[Q_OPT])),
    one(op()),
    {("request-parameter-removed", "WARN")},
)
case(
    "deprecated parameter removed",
    one(op(parameters=[{**Q_OPT, "deprecated": True}])),
    one(op()),
    {("request-parameter-removed-with-deprecation", "INFO")},
)
case(
    "deprecated parameter removed before sunset",
    one(op(parameters=[{**Q_OPT, "deprecated": True, "x-sunset": SUNSET_FUTURE}])),
    one(op()),
    {("request-parameter-removed-before-sunset", "ERR")},
)
case(
    "deprecated parameter removed after its sunset",
    one(op(parameters=[{**Q_OPT, "deprecated": True, "x-sunset": SUNSET_PAST}])),
    one(op()),
    set(),
)
case(
    "deprecated parameter removed with unparsable sunset",
    one(op(parameters=[{**Q_OPT, "deprecated": True, "x-sunset": "later"}])),
    one(op()),
    {("request-parameter-sunset-parse", "ERR")},
)
case(
    "parameter became required",
    one(op(parameters=[Q_OPT])),
    one(op(parameters=[Q_REQ])),
    {("request-parameter-became-required", "ERR")},
)
case(
    "parameter became optional",
    one(op(parameters=[Q_REQ])),
    one(op(parameters=[Q_OPT])),
    {("request-parameter-became-optional", "INFO")},
)
case(
    "parameter deprecated",
    one(op(parameters=[Q_OPT])),
    one(op(parameters=[{**Q_OPT, "deprecated": True}])),
    {("request-parameter-deprecated", "INFO")},
)
case(
    "parameter deprecated with a past sunset",
    one(op(parameters=[Q_OPT])),
    one(op(parameters=[{**Q_OPT, "deprecated": True, "x-sunset": SUNSET_PAST}])),
    {("request-parameter-sunset-date-too-small", "ERR")},
)
case(
    "parameter reactivated",
    one(op(parameters=[{**Q_OPT, "deprecated": True}])),
    one(op(parameters=[Q_OPT])),
    {("request-parameter-reactivated", "INFO")},
)
case(
    "parameter sunset deleted",
    one(op(parameters=[{**Q_OPT, "deprecated": True, "x-sunset": SUNSET_FUTURE}])),
    one(op(parameters=[{**Q_OPT, "deprecated": True}])),
    {("request-parameter-sunset-deleted", "ERR")},
)
case(
    "parameter sunset moved into the past",
    one(op(parameters=[{**Q_OPT, "deprecated": True, "x-sunset": SUNSET_FUTURE}])),
    one(op(parameters=[{**Q_OPT, "deprecated": True, "x-sunset": SUNSET_PAST}])),
    {("request-parameter-sunset-date-changed-too-small", "ERR")},
)
HOBJ = {"type": "object", "properties": {"a": {"type": "string"}}}
case(
    "header object parameter: property became required, became enum, new required property",
    one(op(parameters=[{"name": "X-Obj", "in": "header", "schema": HOBJ}])),
    one(
        op(
            parameters=[
                {
                    "name": "X-Obj",
                    "in": "header",
                    "schema": {
                        "type": "object",
                        "required": ["a", "b"],
                        "properties": {
                            "a": {"type": "string", "enum": ["x"]},
                            "b": {"type": "string"},
                        },
                    },
                }
            ]
        )
    ),
    {
        ("request-header-property-became-required", "ERR"),
        ("request-header-property-became-enum", "ERR"),
        ("new-required-request-header-property", "ERR"),
    },
)

# request bodies
BODY = {"type": "object", "properties": {"a": {"type": "string"}}}
case(
    "required request body added",
    one(op()),
    one(req_body(BODY, required=True)),
    {("request-body-added-required", "ERR")},
)
case(
    "optional request body added",
    one(op()),
    one(req_body(BODY, required=False)),
    {("request-body-added-optional", "INFO")},
)
case("request body removed", one(req_body(BODY)), one(op()), {("request-body-removed", "ERR")})
case(
    "request body became required",
    one(req_body(BODY, required=False)),
    one(req_body(BODY, required=True)),
    {("request-body-became-required", "ERR")},
)
case(
    "request body became optional",
    one(req_body(BODY, required=True)),
    one(req_body(BODY, required=False)),
    {("request-body-became-optional", "INFO")},
)
case(
    "request media type added and removed",
    one(req_body(BODY)),
    one(req_body(BODY, mt="application/xml")),
    {("request-body-media-type-added", "INFO"), ("request-body-media-type-removed", "ERR")},
)
case(
    "request media type schema added",
    one(op(requestBody={"content": {"application/json": {}}})),
    one(req_body(BODY, required=False)),
    {("request-body-media-type-schema-added", "ERR")},
)
case(
    "request media type schema removed",
    one(req_body(BODY, required=False)),
    one(op(requestBody={"content": {"application/json": {}}})),
    {("request-body-media-type-schema-removed", "INFO")},
)
case(
    "new required request property (through $ref)",
    with_user(req_body(UREF), USER),
    with_user(req_body(UREF), {**USER, "required": ["id", "name"]}),
    {("request-property-became-required", "ERR")},
)
case(
    "property became required with a default",
    with_user(
        req_body(UREF),
        {**USER, "properties": {**USER["properties"], "n": {"type": "integer", "default": 1}}},
    ),
    with_user(
        req_body(UREF),
        {
            **USER,
            "required": ["id", "n"],
            "properties": {**USER["properties"], "n": {"type": "integer", "default": 1}},
        },
    ),
    {("request-property-became-required-with-default", "ERR")},
)
case(
    "request property became optional",
    with_user(req_body(UREF), USER),
    with_user(req_body(UREF), {**USER, "required": []}),
    {("request-property-became-optional", "INFO")},
)
case(
    "new required / optional / defaulted request properties",
    with_user(req_body(UREF), USER),
    with_user(
        req_body(UREF),
        {
            **USER,
            "required": ["id", "email", "tier"],
            "properties": {
                **USER["properties"],
                "email": {"type": "string"},
                "tier": {"type": "string", "default": "free"},
                "nick": {"type": "string"},
                "created": {"type": "string", "readOnly": True},
            },
        },
    ),
    {
        ("new-required-request-property", "ERR"),
        ("new-required-request-property-with-default", "ERR"),
        ("new-optional-request-property", "INFO"),
    },
)
case(
    "request property removed",
    with_user(req_body(UREF), USER),
    with_user(req_body(UREF), {**USER, "properties": {"id": {"type": "string"}}}),
    {("request-property-removed", "WARN")},
)
case(
    "read-only request property: enum value removed and max decreased are INFO",
    with_user(
        req_body(UREF),
        {
            "type": "object",
            "properties": {
                "s": {"type": "string", "readOnly": True, "enum": ["a", "b"]},
                "n": {"type": "integer", "readOnly": True, "maximum": 9, "minimum": 1},
                "l": {"type": "string", "readOnly": True, "maxLength": 9},
                "x": {
                    "type": "number",
                    "readOnly": True,
                    "exclusiveMaximum": 9,
                    "exclusiveMinimum": 1,
                },
            },
        },
    ),
    with_user(
        req_body(UREF),
        {
            "type": "object",
            "properties": {
                "s": {"type": "string", "readOnly": True, "enum": ["a"]},
                "n": {"type": "integer", "readOnly": True, "maximum": 5, "minimum": 2},
                "l": {"type": "string", "readOnly": True, "maxLength": 5},
                "x": {
                    "type": "number",
                    "readOnly": True,
                    "exclusiveMaximum": 5,
                    "exclusiveMinimum": 2,
                },
            },
        },
    ),
    {
        ("request-read-only-property-enum-value-removed", "INFO"),
        ("request-read-only-property-max-decreased", "INFO"),
        ("request-read-only-property-min-increased", "INFO"),
        ("request-read-only-property-max-length-decreased", "INFO"),
        ("request-read-only-property-exclusive-max-decreased", "INFO"),
        ("request-read-only-property-exclusive-min-increased", "INFO"),
    },
)
RW = {
    "type": "object",
    "required": ["r"],
    "properties": {"r": {"type": "string"}, "o": {"type": "string"}},
}
case(
    "request properties became read-only / write-only",
    with_user(req_body(UREF), RW),
    with_user(
        req_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "readOnly": True},
                "o": {"type": "string", "writeOnly": True},
            },
        },
    ),
    {
        ("request-required-property-became-read-only", "INFO"),
        ("request-optional-property-became-write-only", "INFO"),
    },
)
case(
    "request properties became not read-only / not write-only",
    with_user(
        req_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "writeOnly": True},
                "o": {"type": "string", "readOnly": True},
            },
        },
    ),
    with_user(req_body(UREF), RW),
    {
        ("request-required-property-became-not-write-only", "INFO"),
        ("request-optional-property-became-not-read-only", "INFO"),
    },
)
case(
    "request property deprecated / with sunset / stability",
    with_user(
        req_body(UREF),
        {
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "c": {"type": "string", "x-stability-level": "stable"},
                "d": {"type": "string", "deprecated": True},
            },
        },
    ),
    with_user(
        req_body(UREF),
        {
            "type": "object",
            "properties": {
                "a": {"type": "string", "deprecated": True},
                "b": {"type": "string", "deprecated": True, "x-sunset": SUNSET_FUTURE},
                "c": {"type": "string", "x-stability-level": "beta"},
                "d": {"type": "string"},
            },
        },
    ),
    {
        ("request-property-deprecated", "INFO"),
        ("request-property-deprecated-with-sunset", "INFO"),
        ("request-property-stability-decreased", "ERR"),
        ("request-property-reactivated", "INFO"),
    },
)
case(
    "response property deprecation edge cases",
    with_user(
        resp_body(UREF),
        {
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "c": {"type": "string", "x-stability-level": "beta"},
                "d": {"type": "string", "deprecated": True},
            },
        },
    ),
    with_user(
        resp_body(UREF),
        {
            "type": "object",
            "properties": {
                "a": {"type": "string", "deprecated": True, "x-sunset": "someday"},
                "b": {"type": "string", "deprecated": True, "x-sunset": SUNSET_PAST},
                "c": {"type": "string", "x-stability-level": "stable"},
                "d": {"type": "string"},
            },
        },
    ),
    {
        ("response-property-deprecated-sunset-invalid", "ERR"),
        ("response-property-sunset-date-too-small", "ERR"),
        ("response-property-stability-increased", "INFO"),
        ("response-property-reactivated", "INFO"),
    },
)

# responses
case(
    "response property removed (required and optional)",
    with_user(resp_body(UREF), USER),
    with_user(resp_body(UREF), {"type": "object", "properties": {}}),
    {("response-required-property-removed", "ERR"), ("response-optional-property-removed", "WARN")},
)
case(
    "response properties added (required and optional)",
    with_user(resp_body(UREF), USER),
    with_user(
        resp_body(UREF),
        {
            **USER,
            "required": ["id", "email"],
            "properties": {
                **USER["properties"],
                "email": {"type": "string"},
                "x": {"type": "string"},
            },
        },
    ),
    {("response-required-property-added", "INFO"), ("response-optional-property-added", "INFO")},
)
case(
    "response property became optional / required",
    with_user(resp_body(UREF), USER),
    with_user(resp_body(UREF), {**USER, "required": ["name"]}),
    {("response-property-became-optional", "ERR"), ("response-property-became-required", "INFO")},
)
WO = {
    "type": "object",
    "required": ["r"],
    "properties": {
        "r": {"type": "string", "writeOnly": True},
        "o": {"type": "string", "writeOnly": True},
        "e": {"type": "string", "writeOnly": True, "enum": ["a"]},
    },
}
case(
    "write-only response properties removed / enum grows",
    with_user(resp_body(UREF), WO),
    with_user(
        resp_body(UREF),
        {
            "type": "object",
            "properties": {"e": {"type": "string", "writeOnly": True, "enum": ["a", "b"]}},
        },
    ),
    {
        ("response-required-write-only-property-removed", "INFO"),
        ("response-optional-write-only-property-removed", "INFO"),
        ("response-write-only-property-enum-value-added", "INFO"),
    },
)
case(
    "write-only response properties added / requiredness flips",
    with_user(
        resp_body(UREF),
        {
            "type": "object",
            "required": ["a"],
            "properties": {
                "a": {"type": "string", "writeOnly": True},
                "b": {"type": "string", "writeOnly": True},
            },
        },
    ),
    with_user(
        resp_body(UREF),
        {
            "type": "object",
            "required": ["b", "n"],
            "properties": {
                "a": {"type": "string", "writeOnly": True},
                "b": {"type": "string", "writeOnly": True},
                "n": {"type": "string", "writeOnly": True},
                "m": {"type": "string", "writeOnly": True},
            },
        },
    ),
    {
        ("response-write-only-property-became-optional", "INFO"),
        ("response-write-only-property-became-required", "INFO"),
        ("response-required-write-only-property-added", "INFO"),
        ("response-optional-write-only-property-added", "INFO"),
    },
)
case(
    "response properties read-only / write-only flips",
    with_user(resp_body(UREF), RW),
    with_user(
        resp_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "writeOnly": True},
                "o": {"type": "string", "readOnly": True},
            },
        },
    ),
    {
        ("response-required-property-became-write-only", "INFO"),
        ("response-optional-property-became-read-only", "INFO"),
    },
)
case(
    "response properties: required became read-only, optional became write-only",
    with_user(resp_body(UREF), RW),
    with_user(
        resp_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "readOnly": True},
                "o": {"type": "string", "writeOnly": True},
            },
        },
    ),
    {
        ("response-required-property-became-read-only", "INFO"),
        ("response-optional-property-became-write-only", "INFO"),
    },
)
case(
    "response properties lose read-only / write-only",
    with_user(
        resp_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "writeOnly": True},
                "o": {"type": "string", "readOnly": True},
            },
        },
    ),
    with_user(resp_body(UREF), RW),
    {
        ("response-required-property-became-not-write-only", "WARN"),
        ("response-optional-property-became-not-read-only", "INFO"),
    },
)
case(
    "response property deprecated",
    with_user(resp_body(UREF), USER),
    with_user(
        resp_body(UREF),
        {
            **USER,
            "properties": {**USER["properties"], "name": {"type": "string", "deprecated": True}},
        },
    ),
    {("response-property-deprecated", "INFO")},
)
case(
    "response property deprecated with sunset",
    with_user(resp_body(UREF), USER),
    with_user(
        resp_body(UREF),
        {
            **USER,
            "properties": {
                **USER["properties"],
                "name": {"type": "string", "deprecated": True, "x-sunset": SUNSET_FUTURE},
            },
        },
    ),
    {("response-property-deprecated-with-sunset", "INFO")},
)
case(
    "request property deprecated with bad / past sunset",
    with_user(req_body(UREF), USER),
    with_user(
        req_body(UREF),
        {
            **USER,
            "properties": {
                "id": {"type": "string", "deprecated": True, "x-sunset": "nope"},
                "name": {"type": "string", "deprecated": True, "x-sunset": SUNSET_PAST},
            },
        },
    ),
    {
        ("request-property-deprecated-sunset-invalid", "ERR"),
        ("request-property-sunset-date-too-small", "ERR"),
    },
)
case(
    "success status removed / added",
    one(op(responses={"200": {"description": "ok"}})),
    one(op(responses={"201": {"description": "ok"}})),
    {("response-success-status-removed", "ERR"), ("response-success-status-added", "INFO")},
)
case(
    "non-success status removed / added",
    one(op(responses={"200": {"description": "ok"}, "404": {"description": "x"}})),
    one(op(responses={"200": {"description": "ok"}, "409": {"description": "x"}})),
    {
        ("response-non-success-status-removed", "INFO"),
        ("response-non-success-status-added", "INFO"),
    },
)
case(
    "response media type removed / added",
    one(resp_body(BODY)),
    one(resp_body(BODY, mt="application/xml")),
    {("response-media-type-removed", "ERR"), ("response-media-type-added", "INFO")},
)
case(
    "response media type schema added",
    one(op(responses={"200": {"description": "ok", "content": {"application/json": {}}}})),
    one(resp_body(BODY)),
    {("response-body-media-type-schema-added", "INFO")},
)
case(
    "response media type schema removed",
    one(resp_body(BODY)),
    one(op(responses={"200": {"description": "ok", "content": {"application/json": {}}}})),
    {("response-body-media-type-schema-removed", "WARN")},
)


def hdrs(headers: dict[str, Any]) -> dict[str, Any]:
    return op(responses={"200": {"description": "ok", "headers": headers}})


S = {"schema": {"type": "string"}}
case(
    "response headers removed (required and optional)",
    one(hdrs({"X-A": {**S, "required": True}, "X-B": S})),
    one(hdrs({})),
    {("required-response-header-removed", "ERR"), ("optional-response-header-removed", "WARN")},
)
case(
    "response header added",
    one(hdrs({})),
    one(hdrs({"X-A": S})),
    {("response-header-added", "INFO")},
)
case(
    "response header became optional",
    one(hdrs({"X-A": {**S, "required": True}})),
    one(hdrs({"X-A": S})),
    {("response-header-became-optional", "ERR")},
)
case(
    "response header type changed",
    one(hdrs({"X-A": {"schema": {"type": "integer"}}})),
    one(hdrs({"X-A": {"schema": {"type": "boolean"}}})),
    {("response-header-type-changed", "ERR")},
)
case(
    "response header type generalized",
    one(hdrs({"X-A": {"schema": {"type": "integer"}}})),
    one(hdrs({"X-A": {"schema": {"type": "number"}}})),
    {("response-header-type-generalized", "ERR")},
)
case(
    "response header type specialized",
    one(hdrs({"X-A": {"schema": {"type": "number"}}})),
    one(hdrs({"X-A": {"schema": {"type": "integer"}}})),
    {("response-header-type-specialized", "INFO")},
)
case(
    "response header type compatible (headers are text)",
    one(hdrs({"X-A": {"schema": {"type": "string"}}})),
    one(hdrs({"X-A": {"schema": {"type": "integer"}}})),
    {("response-header-type-compatible", "INFO")},
)
case(
    "response header nullability",
    one(
        hdrs(
            {"X-A": {"schema": {"type": "string"}}, "X-B": {"schema": {"type": ["string", "null"]}}}
        )
    ),
    one(
        hdrs(
            {"X-A": {"schema": {"type": ["string", "null"]}}, "X-B": {"schema": {"type": "string"}}}
        )
    ),
    {("response-header-became-nullable", "ERR"), ("response-header-became-not-nullable", "INFO")},
)
case(
    "request body type compatible (non-JSON media type)",
    one(req_body({"type": "integer"}, mt="text/plain")),
    one(req_body({"type": "string"}, mt="text/plain")),
    {("request-body-type-compatible", "INFO")},
)
case(
    "response body type compatible (non-JSON media type)",
    one(resp_body({"type": "string"}, mt="text/plain")),
    one(resp_body({"type": "integer"}, mt="text/plain")),
    {("response-body-type-compatible", "INFO")},
)
case(
    "request property type compatible (non-JSON)",
    one(req_body({"type": "object", "properties": {"p": {"type": "integer"}}}, mt="text/plain")),
    one(req_body({"type": "object", "properties": {"p": {"type": "string"}}}, mt="text/plain")),
    {("request-property-type-compatible", "INFO")},
)
case(
    "response property type compatible (non-JSON)",
    one(resp_body({"type": "object", "properties": {"p": {"type": "string"}}}, mt="text/plain")),
    one(resp_body({"type": "object", "properties": {"p": {"type": "integer"}}}, mt="text/plain")),
    {("response-property-type-compatible", "INFO")},
)

# security
BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
OAUTH = {
    "type": "oauth2",
    "flows": {
        "authorizationCode": {
            "authorizationUrl": "https://a/auth",
            "tokenUrl": "https://a/token",
            "scopes": {"read": "read", "write": "write"},
        }
    },
}
case(
    "operation security removed / added",
    one(op(security=[{"bearerAuth": []}])),
    one(op(security=[{"apiKey": []}])),
    {("api-security-removed", "INFO"), ("api-security-added", "INFO")},
)
case(
    "operation security scope added / removed",
    one(op(security=[{"oauth": ["read"]}])),
    one(op(security=[{"oauth": ["write"]}])),
    {("api-security-scope-added", "INFO"), ("api-security-scope-removed", "INFO")},
)
case(
    "global security removed / added / scopes",
    doc({}, security=[{"bearerAuth": []}, {"oauth": ["read"]}]),
    doc({}, security=[{"apiKey": []}, {"oauth": ["write"]}]),
    {
        ("api-global-security-removed", "INFO"),
        ("api-global-security-added", "INFO"),
        ("api-global-security-scope-added", "INFO"),
        ("api-global-security-scope-removed", "INFO"),
    },
)
case(
    "security schemes added / removed / type changed",
    doc(
        {},
        components={
            "securitySchemes": {**BEARER, "k": {"type": "apiKey", "in": "header", "name": "k"}}
        },
    ),
    doc({}, components={"securitySchemes": {"k": {"type": "http", "scheme": "basic"}, "o": OAUTH}}),
    {
        ("api-security-component-removed", "INFO"),
        ("api-security-component-added", "INFO"),
        ("api-security-component-type-changed", "INFO"),
    },
)
case(
    "oauth flow urls and scopes changed",
    doc({}, components={"securitySchemes": {"o": OAUTH}}),
    doc(
        {},
        components={
            "securitySchemes": {
                "o": {
                    "type": "oauth2",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": "https://b/auth",
                            "tokenUrl": "https://b/token",
                            "scopes": {"read": "read all", "admin": "admin"},
                        }
                    },
                }
            }
        },
    ),
    {
        ("api-security-component-oauth-url-changed", "INFO"),
        ("api-security-component-oauth-token-url-changed", "INFO"),
        ("api-security-component-oauth-scope-added", "INFO"),
        ("api-security-component-oauth-scope-removed", "INFO"),
        ("api-security-component-oauth-scope-changed", "INFO"),
    },
)


case(
    "request properties: the other read-only / write-only flips",
    with_user(
        req_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "readOnly": True},
                "o": {"type": "string", "writeOnly": True},
            },
        },
    ),
    with_user(
        req_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "writeOnly": True},
                "o": {"type": "string", "readOnly": True},
            },
        },
    ),
    {
        ("request-required-property-became-not-read-only", "INFO"),
        ("request-required-property-became-write-only", "INFO"),
        ("request-optional-property-became-not-write-only", "INFO"),
        ("request-optional-property-became-read-only", "INFO"),
    },
)
case(
    "response properties: the other read-only / write-only flips",
    with_user(
        resp_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "readOnly": True},
                "o": {"type": "string", "writeOnly": True},
            },
        },
    ),
    with_user(
        resp_body(UREF),
        {
            **RW,
            "properties": {
                "r": {"type": "string", "writeOnly": True},
                "o": {"type": "string", "readOnly": True},
            },
        },
    ),
    {
        ("response-required-property-became-not-read-only", "INFO"),
        ("response-required-property-became-write-only", "INFO"),
        ("response-optional-property-became-not-write-only", "INFO"),
        ("response-optional-property-became-read-only", "INFO"),
    },
)
case(
    "property stability: request increased, response decreased",
    one(
        op(
            requestBody={
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"a": {"type": "string", "x-stability-level": "beta"}},
                        }
                    }
                }
            },
            responses={
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"b": {"type": "string"}},
                            }
                        }
                    },
                }
            },
        )
    ),
    one(
        op(
            requestBody={
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"a": {"type": "string", "x-stability-level": "stable"}},
                        }
                    }
                }
            },
            responses={
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "b": {"type": "string", "x-stability-level": "alpha"}
                                },
                            }
                        }
                    },
                }
            },
        )
    ),
    {
        ("request-property-stability-increased", "INFO"),
        ("response-property-stability-decreased", "ERR"),
    },
)
case(
    "response media type renamed: parameters changed",
    one(resp_body(BODY, mt="application/json")),
    one(resp_body(BODY, mt="application/json; charset=utf-8")),
    {("response-media-type-name-changed", "INFO")},
)
case(
    "response media type generalized to a range",
    one(resp_body(BODY, mt="application/json")),
    one(resp_body(BODY, mt="application/*")),
    {("response-media-type-name-generalized", "ERR")},
)
case(
    "response media type specialized from a range",
    one(resp_body(BODY, mt="application/*")),
    one(resp_body(BODY, mt="application/json")),
    {("response-media-type-name-specialized", "INFO")},
)


def test_deprecation_policy_requires_a_sunset() -> None:
    """With a minimum deprecation period, deprecating without x-sunset is an error."""
    policy = DiffOptions(today=TODAY, sunset_days_stable=180, sunset_days_beta=31)

    def check(base: Doc, rev: Doc) -> Expect:
        return {(f.id, f.level) for f in compare_documents(base, bump(rev), options=policy)}

    assert check(one(op()), one(op(deprecated=True))) == {("api-deprecated-sunset-missing", "ERR")}
    # beta: 31 days are enough, 10 are not
    beta = {"x-stability-level": "beta"}
    soon = {"deprecated": True, "x-sunset": "2026-06-11", **beta}
    assert check(one(op(**beta)), one(op(**soon))) == {("api-sunset-date-too-small", "ERR")}
    later = {"deprecated": True, "x-sunset": "2026-08-01", **beta}
    assert check(one(op(**beta)), one(op(**later))) == {("endpoint-deprecated-with-sunset", "INFO")}
    assert check(
        one(op(parameters=[Q_OPT])), one(op(parameters=[{**Q_OPT, "deprecated": True}]))
    ) == {("request-parameter-deprecated-sunset-missing", "ERR")}
    props = {"type": "object", "properties": {"a": {"type": "string"}}}
    dep = {"type": "object", "properties": {"a": {"type": "string", "deprecated": True}}}
    assert check(one(req_body(props)), one(req_body(dep))) == {
        ("request-property-deprecated-sunset-missing", "ERR")
    }
    assert check(one(resp_body(props)), one(resp_body(dep))) == {
        ("response-property-deprecated-sunset-missing", "ERR")
    }


case(
    "array items are properties: request body items enum value removed",
    one(req_body({"type": "array", "items": {"type": "string", "enum": ["a", "b"]}})),
    one(req_body({"type": "array", "items": {"type": "string", "enum": ["a"]}})),
    {("request-property-enum-value-removed", "ERR")},
)
case(
    "array items are properties: response items type changed, nested property removed",
    one(
        resp_body(
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "integer"}, "n": {"type": "string"}},
                },
            }
        )
    ),
    one(
        resp_body(
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string"}},
                },
            }
        )
    ),
    {("response-property-type-changed", "ERR"), ("response-optional-property-removed", "WARN")},
)
case(
    "additionalProperties schema tightened in a request",
    one(req_body({"type": "object", "additionalProperties": {"type": "string"}})),
    one(req_body({"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}})),
    {("request-property-max-length-set", "WARN")},
)

# components and webhooks
case(
    "component schema removed",
    doc({}, components={"schemas": {"Old": {"type": "string"}}}),
    doc({}, components={"schemas": {}}),
    {("api-schema-removed", "INFO")},
)
case(
    "webhook added",
    doc({}, webhooks={}),
    doc({}, webhooks={"ping": {"post": op()}}),
    {("webhook-added", "INFO")},
)
case(
    "webhook removed",
    doc({}, webhooks={"ping": {"post": op()}}),
    doc({}, webhooks={}),
    {("webhook-removed", "ERR")},
)
_PAYLOAD = {
    "type": "object",
    "required": ["id", "amount"],
    "properties": {"id": {"type": "string"}, "amount": {"type": "integer"}},
}


def hook(payload: Any, mt: str = "application/json", **methods: Any) -> Doc:
    return doc({}, webhooks={"paid": {"post": req_body(payload, mt=mt), **methods}})


case(
    "webhook payload: a required property removed (receivers read it)",
    hook(_PAYLOAD),
    hook({**_PAYLOAD, "required": ["id"], "properties": {"id": {"type": "string"}}}),
    {("response-required-property-removed", "ERR")},
)
case(
    "webhook payload: a property's type changed",
    hook(_PAYLOAD),
    hook({**_PAYLOAD, "properties": {"id": {"type": "string"}, "amount": {"type": "string"}}}),
    {("response-property-type-changed", "ERR")},
)
case(
    "webhook payload: a property added is not breaking",
    hook(_PAYLOAD),
    hook({**_PAYLOAD, "properties": {**_PAYLOAD["properties"], "note": {"type": "string"}}}),
    {("response-optional-property-added", "INFO")},
)
case(
    "webhook payload media type removed; one method of a webhook removed",
    hook(_PAYLOAD, put=req_body(_PAYLOAD)),
    hook(_PAYLOAD, mt="application/xml"),
    {
        ("response-media-type-removed", "ERR"),
        ("response-media-type-added", "INFO"),
        ("webhook-removed", "ERR"),
    },
)


def test_webhook_findings_name_the_webhook_and_can_be_ignored() -> None:
    base = hook(_PAYLOAD)
    rev = bump(hook({**_PAYLOAD, "required": ["id"], "properties": {"id": {"type": "string"}}}))
    report = diff_documents(base, rev)
    (finding,) = report.findings
    assert finding.operation == "POST webhook:paid"
    assert finding.message == (
        "response required property removed `amount` (webhook payload application/json)"
    )
    assert finding.pointer == (
        "/webhooks/paid/post/requestBody/content/application~1json/schema/properties/amount"
    )
    ignore = parse_ignore("response-required-property-removed POST webhook:paid  receivers moved")
    assert diff_documents(base, rev, ignore=ignore).findings == []


# semantic versioning (no version bump applied for these)
case(
    "breaking change without a version bump",
    one(op()),
    doc({}),
    {("api-path-removed-without-deprecation", "ERR"), ("api-version-not-bumped", "INFO")},
    bump_version=False,
)
case(
    "breaking change with a minor bump only",
    one(op()),
    doc({}, version="1.1.0"),
    {("api-path-removed-without-deprecation", "ERR"), ("api-major-version-not-bumped", "INFO")},
    bump_version=False,
)
case(
    "breaking change with a decreased version",
    doc({"/items": {"post": op()}}, version="2.0.0"),
    doc({}, version="1.9.0"),
    {("api-path-removed-without-deprecation", "ERR"), ("api-version-decreased", "INFO")},
    bump_version=False,
)
case(
    "non-breaking change without a bump: no version finding",
    doc({}),
    one(op()),
    {("endpoint-added", "INFO")},
    bump_version=False,
)


@pytest.mark.parametrize(
    ("base", "rev", "want"), [pytest.param(b, r, w, id=n) for n, b, r, w in PAIR_CASES]
)
def test_pairs(base: Doc, rev: Doc, want: Expect) -> None:
    assert ids(base, rev) == want


# --------------------------------------------------------------------------
# Nothing-changed pairs and reference handling.


def _rich_doc() -> Doc:
    return y(
        """
openapi: 3.0.3
info: {title: shop, version: 1.0.0}
security: [{bearerAuth: []}]
paths:
  /orders/{orderId}:
    parameters:
      - {name: orderId, in: path, required: true, schema: {type: string}}
    get:
      operationId: getOrder
      tags: [orders, shop]
      parameters:
        - {name: expand, in: query, schema: {type: array, items: {type: string, enum: [a, b]}}}
        - {name: X-Trace, in: header, schema: {type: string}}
      responses:
        '200':
          description: ok
          headers: {X-Rate: {schema: {type: integer}}}
          content:
            application/json: {schema: {$ref: '#/components/schemas/Order'}}
        '404': {$ref: '#/components/responses/NotFound'}
    put:
      operationId: putOrder
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: '#/components/schemas/Order'}}
      responses: {'204': {description: done}}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
  responses:
    NotFound:
      description: missing
      content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
  schemas:
    Error:
      type: object
      required: [code, message]
      properties: {code: {type: string}, message: {type: string}}
    Order:
      type: object
      required: [id, items]
      properties:
        id: {type: string, readOnly: true}
        status: {type: string, enum: [new, paid, shipped]}
        items: {type: array, items: {$ref: '#/components/schemas/Line'}}
        parent: {$ref: '#/components/schemas/Order'}
        payment:
          oneOf:
            - {$ref: '#/components/schemas/Card'}
            - {$ref: '#/components/schemas/Bank'}
          discriminator: {propertyName: kind}
    Line:
      type: object
      properties: {sku: {type: string, maxLength: 12}, qty: {type: integer, minimum: 1}}
    Card: {type: object, properties: {kind: {type: string}, last4: {type: string}}}
    Bank: {type: object, properties: {kind: {type: string}, iban: {type: string}}}
"""
    )


def _reorder(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _reorder(node[k]) for k in reversed(list(node))}
    if isinstance(node, list):
        return [_reorder(v) for v in node]
    return node


def test_no_change_produces_nothing() -> None:
    d = _rich_doc()
    assert compare_documents(d, copy.deepcopy(d)) == []


def test_reorder_only_produces_nothing() -> None:
    d = _rich_doc()
    r = _reorder(d)
    # reorder lists whose order carries no meaning too
    r["paths"]["/orders/{orderId}"]["get"]["tags"] = ["shop", "orders"]
    r["components"]["schemas"]["Order"]["required"] = ["items", "id"]
    r["components"]["schemas"]["Order"]["properties"]["payment"]["oneOf"].reverse()
    r["components"]["schemas"]["Order"]["properties"]["status"]["enum"].reverse()
    assert compare_documents(d, r) == []


def test_shared_schema_change_reported_once_per_operation() -> None:
    d = _rich_doc()
    r = bump(d)
    r["components"]["schemas"]["Line"]["properties"]["sku"]["maxLength"] = 8
    found = compare_documents(d, r)
    got = sorted((f.id, f.operation) for f in found)
    assert got == [
        ("request-property-max-length-decreased", "PUT /orders/{orderId}"),
    ]
    r["components"]["schemas"]["Line"]["properties"]["sku"]["maxLength"] = 20
    found = compare_documents(d, r)
    got = sorted((f.id, f.level, f.operation) for f in found)
    assert got == [
        ("request-property-max-length-increased", "INFO", "PUT /orders/{orderId}"),
        ("response-property-max-length-increased", "ERR", "GET /orders/{orderId}"),
    ]


def test_circular_schema_terminates_and_reports_once() -> None:
    d = _rich_doc()
    r = bump(d)
    r["components"]["schemas"]["Order"]["properties"]["status"]["enum"] = ["new", "paid"]
    found = compare_documents(d, r)
    got = sorted((f.id, f.level, f.operation) for f in found)
    assert got == [
        ("request-property-enum-value-removed", "ERR", "PUT /orders/{orderId}"),
        ("response-property-enum-value-removed", "INFO", "GET /orders/{orderId}"),
    ]


def test_refs_followed_on_both_sides_and_inlining_is_not_a_change() -> None:
    d = _rich_doc()
    r = copy.deepcopy(d)
    get = r["paths"]["/orders/{orderId}"]["get"]
    get["responses"]["404"] = copy.deepcopy(r["components"]["responses"]["NotFound"])
    assert compare_documents(d, r) == []


def test_finding_fields_and_source_map() -> None:
    from unispec.model import Source

    d = _rich_doc()
    r = copy.deepcopy(d)
    r["paths"]["/orders/{orderId}"]["get"]["parameters"].append(
        {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}}
    )
    sources = {"/paths/~1orders~1{orderId}/get": Source("specs/shop.yaml", "/x", 42)}
    report = diff_documents(d, r, revision_sources=sources)
    assert [(f.id, f.level) for f in report.findings] == [
        ("new-required-request-parameter", "ERR"),
        ("api-version-not-bumped", "INFO"),
    ] or sorted((f.id, f.level) for f in report.findings) == sorted(
        [("new-required-request-parameter", "ERR"), ("api-version-not-bumped", "INFO")]
    )
    f = next(f for f in report.findings if f.id == "new-required-request-parameter")
    assert f.operation == "GET /orders/{orderId}"
    assert f.pointer == "/paths/~1orders~1{orderId}/get/parameters/2"
    assert f.source == "specs/shop.yaml:42"
    assert "region" in f.message and "\n" not in f.message
    assert report.exit_code == 1


def test_every_asserted_rule_exists_in_the_vocabulary() -> None:
    rules = all_rules()
    asserted = {rid for _, _, _, w in PAIR_CASES for rid, _ in w}
    for _, _, _, per_ctx in SCHEMA_CASES:
        for want in per_ctx.values():
            asserted |= {rid for rid, _ in want}
    unknown = asserted - set(rules)
    assert not unknown
    for rid, level in [(rid, lvl) for _, _, _, w in PAIR_CASES for rid, lvl in w]:
        assert rules[rid].level == level
    assert len(asserted) >= 400


def test_openapi_30_and_31_spellings_are_the_same() -> None:
    """A 3.0 base against its 3.1 conversion (what merge emits) reports nothing."""
    base = one(
        req_body(
            {
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "maximum": 5, "exclusiveMaximum": True},
                    "s": {"type": "string", "nullable": True},
                },
            }
        )
    )
    base["openapi"] = "3.0.3"
    rev = one(
        req_body(
            {
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "exclusiveMaximum": 5},
                    "s": {"type": ["string", "null"]},
                },
            }
        )
    )
    assert compare_documents(base, rev) == []
