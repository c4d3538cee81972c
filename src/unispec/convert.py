"""OpenAPI 3.0 -> 3.1 conversion of one document.

The unified contract is 3.1 (JSON Schema 2020-12), so each 3.0 input is
converted before it is merged: ``nullable``, boolean ``exclusiveMinimum`` /
``exclusiveMaximum`` and schema-level ``example`` have 3.1 spellings. Only
schema objects are touched; ``example`` on media types and parameters is
still valid 3.1 and stays as written.
"""

from __future__ import annotations

import json
from typing import Any

from unispec.refs import iter_all_schemas

TARGET_VERSION = "3.1.0"


def major_minor(version: object) -> str:
    """ "3.0.3" -> "3.0"; anything unparseable comes back as a string for messages."""
    text = str(version)
    parts = text.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else text


def convert_schema_30(schema: dict[str, Any]) -> None:
    """Rewrite one 3.0 schema object in place to its 3.1 meaning (not its children)."""
    if schema.pop("nullable", False) is True:
        _add_null(schema)
    for bound, excl in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        flag = schema.get(excl)
        if isinstance(flag, bool):
            del schema[excl]
            if flag and bound in schema:
                schema[excl] = schema.pop(bound)
    if "example" in schema:
        schema["examples"] = [schema.pop("example")]
    # 3.0 `format: binary`/`byte` strings stay valid in 3.1; keep them for generators.


def _add_null(schema: dict[str, Any]) -> None:
    typ = schema.get("type")
    if isinstance(typ, str):
        schema["type"] = [typ, "null"]
    elif isinstance(typ, list):
        if "null" not in typ:
            typ.append("null")
    elif "$ref" in schema or any(k in schema for k in ("allOf", "anyOf", "oneOf")):
        # A composed or referenced schema: say "this, or null" without touching it.
        inner = {k: schema.pop(k) for k in list(schema) if k not in _ANNOTATIONS}
        schema["anyOf"] = [inner, {"type": "null"}]
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and None not in enum:
        enum.append(None)


_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "readOnly", "writeOnly", "deprecated"}
)


def to_31(document: dict[str, Any], *, copy: bool = True) -> dict[str, Any]:
    """A 3.1 copy of ``document`` (a deep copy even when it is already 3.1).

    ``copy=False`` converts ``document`` itself: for a caller that owns a
    tree-shaped document (parsed from JSON, no shared subtrees), where the copy
    would only double the memory of a big build.
    """
    # A JSON round trip copies a JSON-shaped tree several times faster than deepcopy.
    doc: dict[str, Any] = json.loads(json.dumps(document)) if copy else document
    if major_minor(doc.get("openapi")) == "3.0":
        for _ptr, schema in list(iter_all_schemas(doc)):
            convert_schema_30(schema)
    doc["openapi"] = TARGET_VERSION
    return doc
