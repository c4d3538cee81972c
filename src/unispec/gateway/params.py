"""OpenAPI parameter deserialisation (``style``/``explode``) and string coercion.

Parameters arrive as strings; their schemas speak of integers, arrays and
objects. Each parameter is compiled once into a ``ParamReader`` that knows its
style, explode flag and the JSON types to coerce to, so that the per-request
work is a few splits and ``int()`` calls. A string that does not coerce is
left as a string: the schema validator then reports a precise type error
against the parameter's field path instead of this module guessing a message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = Any
Resolver = Callable[[Mapping[str, Any]], Mapping[str, Any]]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Sentinel: the parameter is absent from the request."""

_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}


@dataclass(frozen=True)
class Shape:
    """The JSON types a schema accepts, as far as coercion needs to know."""

    types: tuple[str, ...]
    items: tuple[str, ...] = ()
    properties: Mapping[str, tuple[str, ...]] | None = None
    additional: tuple[str, ...] = ("string",)


def schema_types(schema: Mapping[str, Any], resolve: Resolver, depth: int = 0) -> tuple[str, ...]:
    """JSON types named by a schema (through $ref, allOf/anyOf/oneOf); () = anything."""
    if depth > 16:
        return ()
    schema = resolve(schema)
    t = schema.get("type")
    if isinstance(t, str):
        return (t,)
    if isinstance(t, list):
        return tuple(x for x in t if isinstance(x, str))
    if "const" in schema:
        return (_json_type(schema["const"]),)
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return tuple(dict.fromkeys(_json_type(v) for v in schema["enum"]))
    found: list[str] = []
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or ():
            if isinstance(sub, Mapping):
                found.extend(schema_types(sub, resolve, depth + 1))
    if "properties" in schema and not found:
        found.append("object")
    if "items" in schema and not found:
        found.append("array")
    return tuple(dict.fromkeys(found))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _properties(schema: Mapping[str, Any], resolve: Resolver, depth: int = 0) -> dict[str, Any]:
    schema = resolve(schema)
    props: dict[str, Any] = {}
    if depth > 16:
        return props
    for sub in schema.get("allOf") or ():
        if isinstance(sub, Mapping):
            props.update(_properties(sub, resolve, depth + 1))
    raw = schema.get("properties")
    if isinstance(raw, Mapping):
        props.update(raw)
    return props


def shape_of(schema: Mapping[str, Any], resolve: Resolver) -> Shape:
    """Compile the coercion shape of a parameter (or form body) schema."""
    types = schema_types(schema, resolve)
    resolved = resolve(schema)
    items: tuple[str, ...] = ()
    if "array" in types:
        item_schema = resolved.get("items")
        if isinstance(item_schema, Mapping):
            items = schema_types(item_schema, resolve)
    properties: dict[str, tuple[str, ...]] | None = None
    additional: tuple[str, ...] = ("string",)
    if "object" in types:
        properties = {
            name: schema_types(sub, resolve) if isinstance(sub, Mapping) else ()
            for name, sub in _properties(resolved, resolve).items()
        }
        extra = resolved.get("additionalProperties")
        if isinstance(extra, Mapping):
            additional = schema_types(extra, resolve)
    return Shape(types, items, properties, additional)


def coerce(value: str, types: tuple[str, ...]) -> JSON:
    """Turn a string into the first JSON type it parses as; else keep the string."""
    if not types or "string" in types:
        if types and len(types) > 1 and value == "null" and "null" in types:
            return None
        return value
    for t in types:
        if t == "integer":
            try:
                return int(value)
            except ValueError:
                continue
        elif t == "number":
            try:
                number = float(value)
            except ValueError:
                continue
            if number != number or number in (float("inf"), float("-inf")):
                continue
            return int(number) if number.is_integer() and "." not in value else number
        elif t == "boolean":
            if value == "true":
                return True
            if value == "false":
                return False
        elif t == "null" and value in ("", "null"):
            return None
    return value


def _pairs(parts: list[str], shape: Shape) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for i in range(0, len(parts) - 1, 2):
        out[parts[i]] = _coerce_prop(parts[i + 1], parts[i], shape)
    return out


def _coerce_prop(value: str, name: str, shape: Shape) -> JSON:
    props = shape.properties or {}
    return coerce(value, props.get(name, shape.additional))


def _kv(parts: list[str], shape: Shape) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for part in parts:
        key, _, value = part.partition("=")
        out[key] = _coerce_prop(value, key, shape)
    return out


@dataclass(frozen=True)
class ParamReader:
    """Reads one parameter from a request location and returns a JSON value."""

    name: str
    location: str
    style: str
    explode: bool
    shape: Shape
    content_json: bool = False
    """The parameter uses ``content: {application/json: ...}`` instead of a schema."""

    @property
    def kind(self) -> str:
        types = self.shape.types
        if "array" in types and "object" not in types:
            return "array"
        if "object" in types and "array" not in types:
            return "object"
        return "primitive"

    def _split_primitive(self, raw: str) -> JSON:
        if self.content_json:
            try:
                return json.loads(raw)
            except ValueError:
                return raw
        kind = self.kind
        if kind == "array":
            sep = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(self.style, ",")
            parts = raw.split(sep) if raw != "" else []
            return [coerce(p, self.shape.items) for p in parts]
        if kind == "object":
            parts = raw.split(",") if raw != "" else []
            if self.explode and self.location in ("path", "header"):
                return _kv(parts, self.shape)
            return _pairs(parts, self.shape)
        return coerce(raw, self.shape.types)

    def read_path(self, raw: str) -> JSON:
        """Deserialise a path parameter's (already decoded) value."""
        if self.style == "label":
            if not raw.startswith("."):
                return raw
            body = raw[1:]
            kind = self.kind
            if kind == "array":
                parts = body.split("." if self.explode else ",") if body else []
                return [coerce(p, self.shape.items) for p in parts]
            if kind == "object":
                if self.explode:
                    return _kv(body.split(".") if body else [], self.shape)
                return _pairs(body.split(",") if body else [], self.shape)
            return coerce(body, self.shape.types)
        if self.style == "matrix":
            prefix = ";" + self.name
            kind = self.kind
            if kind == "array" and self.explode:
                items = [p.partition("=")[2] for p in raw.split(";") if p]
                return [coerce(p, self.shape.items) for p in items]
            if kind == "object" and self.explode:
                return _kv([p for p in raw.split(";") if p], self.shape)
            if not raw.startswith(prefix):
                return raw
            body = raw[len(prefix) :].lstrip("=")
            if kind == "array":
                return [coerce(p, self.shape.items) for p in body.split(",")] if body else []
            if kind == "object":
                return _pairs(body.split(",") if body else [], self.shape)
            return coerce(body, self.shape.types)
        return self._split_primitive(raw)

    def read_query(self, query: Mapping[str, list[str]]) -> JSON:
        """Deserialise from the parsed query string (name -> all values)."""
        kind = self.kind
        if self.content_json:
            values = query.get(self.name)
            return self._split_primitive(values[0]) if values else MISSING
        if kind == "object":
            if self.style == "deepObject":
                prefix = self.name + "["
                found = {
                    k[len(prefix) : -1]: _coerce_prop(v[0], k[len(prefix) : -1], self.shape)
                    for k, v in query.items()
                    if k.startswith(prefix) and k.endswith("]")
                }
                return found if found else MISSING
            if self.explode:
                props = self.shape.properties or {}
                found = {k: _coerce_prop(query[k][0], k, self.shape) for k in props if k in query}
                return found if found else MISSING
            values = query.get(self.name)
            return self._split_primitive(values[0]) if values else MISSING
        values = query.get(self.name)
        if not values:
            return MISSING
        if kind == "array":
            if self.explode and self.style == "form":
                return [coerce(v, self.shape.items) for v in values]
            return self._split_primitive(values[0])
        return coerce(values[0], self.shape.types) if not self.content_json else None

    def read_value(self, raw: str | None) -> JSON:
        """Deserialise a header or cookie value."""
        if raw is None:
            return MISSING
        return self._split_primitive(raw)


def compile_reader(
    param: Mapping[str, Any], resolve: Resolver
) -> tuple[ParamReader, Mapping[str, Any]]:
    """A reader for one (resolved) parameter object and the schema to validate its value."""
    location = str(param.get("in"))
    style = str(param.get("style") or _DEFAULT_STYLE.get(location, "simple"))
    explode_default = style == "form"
    explode = bool(param.get("explode", explode_default))
    schema: Mapping[str, Any] = param.get("schema") or {}
    content_json = False
    content = param.get("content")
    if not param.get("schema") and isinstance(content, Mapping) and content:
        media, media_obj = next(iter(content.items()))
        content_json = "json" in str(media)
        schema = (media_obj or {}).get("schema") or {}
    shape = shape_of(schema, resolve)
    reader = ParamReader(str(param.get("name")), location, style, explode, shape, content_json)
    return reader, schema
