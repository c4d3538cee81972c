"""Rewrite a copy of the contract's schemas so pydantic validates like the gateway.

The gateway validates with jsonschema-rs (Draft 2020-12, formats checked). Left to
its defaults, pydantic disagrees with it on exactly the inputs clients get wrong:
it accepts ``{"ok": 0}`` for ``const: false`` (``0 == False``), ``null`` for an
optional non-nullable field, UUIDs without dashes, date-times without an offset,
Unicode digits for ``\\d``, and it ignores ``uniqueItems`` and most formats. This
module marks the schemas that need help with ``x-python-type`` so that
datamodel-code-generator writes one of the helper types that ``models.py``
defines (see ``unispec.codegen.models``); the rest is done by generator options.

Pure: works on a deep copy and returns the names of the helper types it used.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from unispec.model import JSONDict

# Formats that jsonschema-rs checks with ``validate_formats=True``. Each becomes a
# ``str`` helper type whose check *is* the gateway's check, so the two cannot drift.
CHECKED_FORMATS: tuple[str, ...] = (
    "date",
    "date-time",
    "duration",
    "email",
    "hostname",
    "idn-email",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "iri",
    "iri-reference",
    "json-pointer",
    "regex",
    "relative-json-pointer",
    "time",
    "uri",
    "uri-reference",
    "uri-template",
    "uuid",
)

INT_TYPE = "_JsonInt"

_ANNOTATION_KEYS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "example",
        "deprecated",
        "readOnly",
        "writeOnly",
        "externalDocs",
        "xml",
        "$comment",
    }
)

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_SINGLE = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
)


def format_type_name(fmt: str) -> str:
    """``date-time`` -> ``_FormatDateTime`` (private: cannot clash with a component name)."""
    return "_Format" + "".join(p.capitalize() for p in re.split(r"[^0-9A-Za-z]+", fmt) if p)


def _literal_name(values: tuple[Any, ...]) -> str:
    parts = []
    for value in values:
        text = str(value) if not isinstance(value, str) else value
        parts.append(re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_") or "x")
    name = "_Literal_" + "_".join(parts)
    if len(name) > 48 or not name.isidentifier():
        digest = hashlib.sha1(repr(values).encode()).hexdigest()[:10]
        name = f"_Literal_{digest}"
    return name


@dataclass
class Prepared:
    """The rewritten document and the helper types ``models.py`` must define."""

    document: JSONDict
    formats: set[str] = field(default_factory=set)
    uses_int: bool = False
    literals: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Helper name -> the literal values (JSON scalars other than only strings)."""
    runtime_rules: bool = False
    """Whether a schema uses a rule only a runtime validator can check (``uniqueItems``...)."""


# --- ECMA-262 regex classes -> explicit ASCII classes -----------------------------

_OUTSIDE = {"\\d": "[0-9]", "\\D": "[^0-9]", "\\w": "[A-Za-z0-9_]", "\\W": "[^A-Za-z0-9_]"}
_INSIDE = {"\\d": "0-9", "\\w": "A-Za-z0-9_"}


def ecma_pattern(pattern: str) -> str:
    """Make ``\\d``/``\\w`` ASCII-only as in ECMA-262 (and jsonschema-rs).

    pydantic's regex engines treat them as Unicode classes, so ``"٢"`` would match
    ``^\\d$`` in the models but not at the gateway.
    """
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            if in_class and pair in _INSIDE:
                out.append(_INSIDE[pair])
            elif not in_class and pair in _OUTSIDE:
                out.append(_OUTSIDE[pair])
            else:
                out.append(pair)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


# --- the walk ---------------------------------------------------------------------


def _helper_for(schema: dict[str, Any], type_: Any, prepared: Prepared) -> str | None:
    """The helper type a schema of (single) JSON type ``type_`` needs, if any."""
    values: tuple[Any, ...] | None = None
    if "const" in schema:
        values = (schema["const"],)
    elif isinstance(schema.get("enum"), list):
        values = tuple(schema["enum"])
    if values is not None:
        scalars = all(v is None or isinstance(v, str | bool | int) for v in values)
        if scalars and not all(isinstance(v, str) for v in values) and values:
            name = _literal_name(values)
            if prepared.literals.get(name, values) != values:
                name = "_Literal_" + hashlib.sha1(repr(values).encode()).hexdigest()[:10]
            prepared.literals[name] = values
            return name
        return None
    fmt = schema.get("format")
    if type_ == "string" and isinstance(fmt, str) and fmt in CHECKED_FORMATS:
        prepared.formats.add(fmt)
        return format_type_name(fmt)
    if type_ == "integer":
        prepared.uses_int = True
        return INT_TYPE
    return None


def _split_nullable(schema: dict[str, Any]) -> None:
    """``{type: [T, "null"], ...}`` -> ``{anyOf: [{type: T, ...}, {type: "null"}]}``.

    A helper type replaces the whole annotation, so the ``| None`` must come from
    a separate branch rather than from the type list.
    """
    type_ = schema["type"]
    other = next(t for t in type_ if t != "null")
    branch: dict[str, Any] = {"type": other}
    for key in list(schema):
        if key == "type" or key in _ANNOTATION_KEYS or key.startswith("x-"):
            continue
        branch[key] = schema.pop(key)
    if "enum" in branch and isinstance(branch["enum"], list):
        branch["enum"] = [v for v in branch["enum"] if v is not None]
    del schema["type"]
    schema["anyOf"] = [branch, {"type": "null"}]


# Keywords that datamodel-code-generator's ``--generate-schema-validators`` turns into
# model validators. That option costs minutes on a Stripe-sized contract even when
# nothing needs it, so it is switched on only for contracts that use one of these.
RUNTIME_RULE_KEYWORDS = frozenset(
    {
        "uniqueItems",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "not",
        "if",
        "minProperties",
        "maxProperties",
    }
)
_SHAPE_KEYWORDS = frozenset(
    {"type", "$ref", "properties", "items", "enum", "const", "oneOf", "anyOf", "allOf"}
)
"""A composition branch with ``required`` and none of these is a "required group"."""


def _walk(schema: Any, prepared: Prepared) -> None:
    if not isinstance(schema, dict):
        return
    if not prepared.runtime_rules and (
        not RUNTIME_RULE_KEYWORDS.isdisjoint(schema)
        or any(
            isinstance(branch, dict) and "required" in branch and _SHAPE_KEYWORDS.isdisjoint(branch)
            for key in ("oneOf", "anyOf", "allOf")
            for branch in (schema.get(key) or [])
        )
    ):
        prepared.runtime_rules = True
    for key in _SCHEMA_MAPS:
        sub = schema.get(key)
        if isinstance(sub, dict):
            for child in sub.values():
                _walk(child, prepared)
    for key in _SCHEMA_LISTS:
        sub = schema.get(key)
        if isinstance(sub, list):
            for child in sub:
                _walk(child, prepared)
    for key in _SCHEMA_SINGLE:
        sub = schema.get(key)
        if isinstance(sub, dict):
            _walk(sub, prepared)
        elif isinstance(sub, list):
            for child in sub:
                _walk(child, prepared)
    if "$ref" in schema:
        return
    if isinstance(schema.get("pattern"), str):
        schema["pattern"] = ecma_pattern(schema["pattern"])
    type_ = schema.get("type")
    if (
        isinstance(type_, list)
        and "null" in type_
        and len(type_) == 2
        and _helper_for(schema, next(t for t in type_ if t != "null"), Prepared({})) is not None
    ):
        _split_nullable(schema)
        _walk(schema["anyOf"][0], prepared)
        return
    single = type_ if isinstance(type_, str) else None
    if single is None and ("const" in schema or "enum" in schema):
        single = "enum"
    helper = _helper_for(schema, single, prepared) if single else None
    if helper is not None:
        schema["x-python-type"] = helper
        schema.pop("const", None)
        schema.pop("enum", None)
    # Formats the gateway does not check (int64, password, binary...) must not turn
    # into bytes/SecretStr/constrained ints in the models either.
    schema.pop("format", None)


def prepare_document(document: JSONDict) -> Prepared:
    """A copy of ``document`` reduced to what the model generator reads, rewritten."""
    schemas = copy.deepcopy((document.get("components") or {}).get("schemas") or {})
    doc: JSONDict = {
        "openapi": document.get("openapi", "3.1.0"),
        "info": {"title": "models", "version": "0"},
        "paths": {},
        "components": {"schemas": schemas},
    }
    prepared = Prepared(doc)
    for schema in schemas.values():
        _walk(schema, prepared)
    return prepared
