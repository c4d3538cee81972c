"""JSON pointers, ``$ref`` rewriting and a walker that knows where schemas live.

Every stage needs the same three things: turn pointers into strings and back,
rewrite references after something is renamed, and visit every schema object
of an OpenAPI document (3.0 or 3.1) without confusing a property called
``properties`` with the keyword. They live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from unispec.model import HTTP_METHODS

COMPONENT_KINDS: tuple[str, ...] = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def join(pointer: str, *tokens: str | int) -> str:
    parts = [pointer]
    for token in tokens:
        text = token if type(token) is str else str(token)
        parts.append(escape(text) if "~" in text or "/" in text else text)
    return "/".join(parts)


def split(pointer: str) -> list[str]:
    if pointer in ("", "#"):
        return []
    if pointer.startswith("#"):
        pointer = pointer[1:]
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [unescape(t) for t in pointer[1:].split("/")]


def resolve(document: Any, pointer: str) -> Any:
    """Follow ``pointer`` inside ``document``; KeyError/IndexError when absent."""
    node = document
    for token in split(pointer):
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict):
            node = node[token]
        else:
            raise KeyError(token)
    return node


def deref(document: Any, node: Any, *, max_hops: int = 32) -> Any:
    """Follow local ``$ref`` chains from ``node``; None when one dangles.

    An external ref (left by a document that was not bundled) is returned as is.
    """
    return follow(document, node, "", max_hops=max_hops)[0]


def follow(document: Any, node: Any, pointer: str, *, max_hops: int = 32) -> tuple[Any, str]:
    """``deref``, and the pointer of the last object reached (``pointer`` for ``node``
    itself): where a finding about the target, or about a dangling hop, belongs."""
    hops = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and hops < max_hops:
        ref = node["$ref"]
        if not ref.startswith("#"):
            return node, pointer
        try:
            node = resolve(document, ref)
        except (KeyError, IndexError, ValueError):
            return None, pointer
        pointer = ref[1:]
        hops += 1
    return node, pointer


def component_ref(kind: str, name: str) -> str:
    return f"#/components/{kind}/{escape(name)}"


def parse_component_ref(ref: str) -> tuple[str, str] | None:
    """``#/components/schemas/Foo`` -> ("schemas", "Foo"); anything deeper -> None."""
    if not ref.startswith("#/components/"):
        return None
    parts = split(ref)
    if len(parts) != 3:
        return None
    return parts[1], parts[2]


def rewrite_refs(node: Any, fn: Callable[[str], str]) -> Any:
    """A copy of ``node`` with every ``$ref`` string passed through ``fn``."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = fn(value)
            else:
                out[key] = rewrite_refs(value, fn)
        return out
    if isinstance(node, list):
        return [rewrite_refs(v, fn) for v in node]
    return node


def iter_refs(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """Yield (pointer of the object holding ``$ref``, ref string) everywhere in ``node``.

    Pointers are kept as (parent, key) chains and joined only for the objects
    that hold a ``$ref``: building a string for every node of a big document
    cost more than the walk itself.
    """
    for chain, ref in iter_ref_chains(node):
        yield chain_pointer(pointer, chain), ref


PointerChain = Any
"""(parent chain, key) pairs ending in None: a pointer not yet turned into a string."""


_NAME_MAPS = frozenset(
    {
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
        "paths",
        "webhooks",
        "callbacks",
        "responses",
        "content",
        "encoding",
        "headers",
        "links",
        "schemas",
        "parameters",
        "requestBodies",
        "securitySchemes",
        "pathItems",
        "variables",
    }
)
"""Keys whose object maps names chosen by the author (a property, a status code...) to
objects: there ``default`` or ``example`` is a name, not a keyword."""

_DATA_KEYS = frozenset({"example", "default", "enum", "const"})
"""Keywords whose value is a literal JSON value: a ``$ref`` in it is data, not a reference."""

_NODE, _NAMES, _EXAMPLES, _EXAMPLE, _EXTENSION = 0, 1, 2, 3, 4


def _is_literal(key: Any, kind: int) -> bool:
    """Whether the value under ``key`` of a keyword object (not a name map) is data."""
    if key in _DATA_KEYS:
        return True
    return kind == _EXAMPLE and key == "value"


def iter_ref_chains(node: Any) -> Iterator[tuple[PointerChain, str]]:
    """``iter_refs`` for callers that need the pointer only now and then (``chain_pointer``).

    Literal values are not searched: an ``example``, ``default``, ``enum`` or
    ``const``, the ``value`` of an Example Object and a JSON Schema ``examples``
    array may hold a ``{"$ref": ...}`` that is data (a JSON Schema in an example
    payload), which must neither be bundled nor be reported as dangling. Names in
    maps (a property called ``default``, the ``default`` response) are still
    searched. In ``x-`` extensions only local refs are references: Stripe's 310
    ``x-expansionResources`` point at its schemas (and are checked like any
    other), while Redocly's ``x-codeSamples`` point at code files, not JSON.
    """
    stack: list[tuple[Any, Any, int]] = [(node, None, _NODE)]
    while stack:
        cur, chain, kind = stack.pop()
        if isinstance(cur, dict):
            ref = cur.get("$ref")
            if (
                isinstance(ref, str)
                and kind != _NAMES
                and kind != _EXAMPLES
                and (kind != _EXTENSION or ref.startswith("#"))
            ):
                yield chain, ref
            for key, value in cur.items():
                if not isinstance(value, (dict, list)):
                    continue
                if kind == _EXTENSION:
                    stack.append((value, (chain, key), _EXTENSION))
                elif kind == _NAMES:
                    stack.append((value, (chain, key), _NODE))
                elif kind == _EXAMPLES:
                    stack.append((value, (chain, key), _EXAMPLE))
                elif type(key) is str and key.startswith("x-"):
                    stack.append((value, (chain, key), _EXTENSION))
                elif _is_literal(key, kind):
                    continue
                elif key == "examples":
                    if isinstance(value, dict):
                        stack.append((value, (chain, key), _EXAMPLES))
                elif key in _NAME_MAPS and isinstance(value, dict):
                    stack.append((value, (chain, key), _NAMES))
                else:
                    stack.append((value, (chain, key), _NODE))
        elif isinstance(cur, list):
            inner = _EXTENSION if kind == _EXTENSION else _NODE
            for i, value in enumerate(cur):
                if isinstance(value, (dict, list)):
                    stack.append((value, (chain, i), inner))


def chain_pointer(pointer: str, chain: PointerChain) -> str:
    """The JSON pointer (under ``pointer``) of a chain from ``iter_ref_chains``."""
    tokens: list[str | int] = []
    while chain is not None:
        chain, token = chain
        tokens.append(token)
    tokens.reverse()
    return join(pointer, *tokens)


# --- schema walking -------------------------------------------------------------

_SCHEMA_MAP_KEYWORDS = (
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
)
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE_KEYWORDS = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
    "contentSchema",
)


def iter_subschemas(schema: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``schema`` and every schema nested in it (not following ``$ref``)."""
    stack: list[tuple[str, Any]] = [(pointer, schema)]
    while stack:
        ptr, cur = stack.pop()
        if not isinstance(cur, dict):
            continue
        yield ptr, cur
        for kw in _SCHEMA_MAP_KEYWORDS:
            sub = cur.get(kw)
            if isinstance(sub, dict):
                for name, value in sub.items():
                    stack.append((join(ptr, kw, name), value))
        for kw in _SCHEMA_LIST_KEYWORDS:
            sub = cur.get(kw)
            if isinstance(sub, list):
                for i, value in enumerate(sub):
                    stack.append((join(ptr, kw, i), value))
        for kw in _SCHEMA_ONE_KEYWORDS:
            sub = cur.get(kw)
            if isinstance(sub, dict):
                stack.append((join(ptr, kw), sub))
            elif kw == "items" and isinstance(sub, list):  # draft-4 tuple form
                for i, value in enumerate(sub):
                    stack.append((join(ptr, kw, i), value))


def _media_schemas(content: Any, ptr: str) -> Iterator[tuple[str, Any]]:
    if isinstance(content, dict):
        for mt, media in content.items():
            if isinstance(media, dict):
                if "schema" in media:
                    yield join(ptr, mt, "schema"), media["schema"]
                enc = media.get("encoding")
                if isinstance(enc, dict):
                    for name, e in enc.items():
                        if isinstance(e, dict):
                            yield from _header_map_schemas(
                                e.get("headers"), join(ptr, mt, "encoding", name, "headers")
                            )


def _header_map_schemas(headers: Any, ptr: str) -> Iterator[tuple[str, Any]]:
    if isinstance(headers, dict):
        for name, header in headers.items():
            yield from _param_schemas(header, join(ptr, name))


def _param_schemas(param: Any, ptr: str) -> Iterator[tuple[str, Any]]:
    if isinstance(param, dict):
        if "schema" in param:
            yield join(ptr, "schema"), param["schema"]
        yield from _media_schemas(param.get("content"), join(ptr, "content"))


def _response_schemas(resp: Any, ptr: str) -> Iterator[tuple[str, Any]]:
    if isinstance(resp, dict):
        yield from _media_schemas(resp.get("content"), join(ptr, "content"))
        yield from _header_map_schemas(resp.get("headers"), join(ptr, "headers"))


def _path_item_schemas(item: Any, ptr: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    if not isinstance(item, dict) or depth > 8:
        return
    params = item.get("parameters")
    if isinstance(params, list):
        for i, p in enumerate(params):
            yield from _param_schemas(p, join(ptr, "parameters", i))
    for method in HTTP_METHODS:
        op = item.get(method)
        if isinstance(op, dict):
            yield from _operation_schemas(op, join(ptr, method), depth)


def _operation_schemas(op: dict[str, Any], ptr: str, depth: int) -> Iterator[tuple[str, Any]]:
    params = op.get("parameters")
    if isinstance(params, list):
        for i, p in enumerate(params):
            yield from _param_schemas(p, join(ptr, "parameters", i))
    body = op.get("requestBody")
    if isinstance(body, dict):
        yield from _media_schemas(body.get("content"), join(ptr, "requestBody", "content"))
    responses = op.get("responses")
    if isinstance(responses, dict):
        for status, resp in responses.items():
            yield from _response_schemas(resp, join(ptr, "responses", status))
    callbacks = op.get("callbacks")
    if isinstance(callbacks, dict):
        for cname, cb in callbacks.items():
            if isinstance(cb, dict):
                for expr, item in cb.items():
                    yield from _path_item_schemas(
                        item, join(ptr, "callbacks", cname, expr), depth + 1
                    )


def iter_root_schemas(document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every place an OpenAPI document puts a schema (the roots, not their insides)."""
    paths = document.get("paths")
    if isinstance(paths, dict):
        for path, item in paths.items():
            yield from _path_item_schemas(item, join("", "paths", path))
    hooks = document.get("webhooks")
    if isinstance(hooks, dict):
        for name, item in hooks.items():
            yield from _path_item_schemas(item, join("", "webhooks", name))
    comps = document.get("components")
    if isinstance(comps, dict):
        schemas = comps.get("schemas")
        if isinstance(schemas, dict):
            for name, s in schemas.items():
                yield join("/components/schemas", name), s
        for kind, fn in (
            ("parameters", _param_schemas),
            ("headers", _param_schemas),
            ("responses", _response_schemas),
        ):
            group = comps.get(kind)
            if isinstance(group, dict):
                for name, obj in group.items():
                    yield from fn(obj, join("/components", kind, name))
        bodies = comps.get("requestBodies")
        if isinstance(bodies, dict):
            for name, body in bodies.items():
                if isinstance(body, dict):
                    yield from _media_schemas(
                        body.get("content"), join("/components/requestBodies", name, "content")
                    )
        for kind in ("callbacks", "pathItems"):
            group = comps.get(kind)
            if isinstance(group, dict):
                for name, obj in group.items():
                    if kind == "pathItems":
                        yield from _path_item_schemas(obj, join("/components", kind, name))
                    elif isinstance(obj, dict):
                        for expr, item in obj.items():
                            yield from _path_item_schemas(
                                item, join("/components", kind, name, expr)
                            )


def iter_all_schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object of the document, nested ones included."""
    for ptr, schema in iter_root_schemas(document):
        yield from iter_subschemas(schema, ptr)


def iter_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation under ``paths``."""
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield path, method, op
