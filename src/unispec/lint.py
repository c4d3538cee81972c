"""Contract-convention rules: findings (values), never exceptions.

Lint runs on the unified document and reports each finding at the place in
``specs/`` where a service team can fix it. Levels: ``warning`` for things
that hurt clients (no examples, anonymous schemas that SDK generators name
badly), ``info`` for facts worth knowing (route resolution order).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from unispec import catalog, refs
from unispec.model import HTTP_METHODS, Finding, UnifiedSpec

_KEBAB = re.compile(r"^(v[0-9]+|[a-z0-9]+(-[a-z0-9]+)*)(\.[a-z0-9]+)?$")
_TEMPLATE = re.compile(r"^\{[^}]+\}$")
_GATEWAY_REF = "#/components/responses/"


def _has_example(media: dict[str, Any]) -> bool:
    if "example" in media or media.get("examples"):
        return True
    schema = media.get("schema")
    return isinstance(schema, dict) and ("examples" in schema or "example" in schema)


def _is_binary(media_type: str) -> bool:
    return media_type.startswith(("application/octet-stream", "image/", "video/", "audio/"))


def lint(spec: UnifiedSpec, *, ignore: Iterable[str] = ()) -> list[Finding]:
    """Every convention problem of the unified contract, located in specs/."""
    ignored = set(ignore)
    doc = spec.document
    out: list[Finding] = [f for f in spec.findings if f.rule not in ignored]

    def add(rule: str, level: str, message: str, pointer: str) -> None:
        if rule in ignored:
            return
        out.append(Finding(rule, level, message, spec.source_for(pointer)))  # type: ignore[arg-type]

    gateway_responses = set((doc.get("components") or {}).get("responses") or {})
    for path, method, op in refs.iter_operations(doc):
        ptr = refs.join("", "paths", path, method)
        key = f"{method.upper()} {path}"
        if not op.get("summary"):
            add("operation-summary", "warning", f"{key} has no summary", ptr)
        if not op.get("tags"):
            add("operation-tags", "warning", f"{key} has no tags (the portal groups by tag)", ptr)
        body = op.get("requestBody")
        if isinstance(body, dict):
            for mt, media in (body.get("content") or {}).items():
                if isinstance(media, dict) and not _has_example(media) and not _is_binary(mt):
                    add(
                        "request-example",
                        "warning",
                        f"{key} request body ({mt}) has no example",
                        refs.join(ptr, "requestBody", "content", mt),
                    )
                    if isinstance(media.get("schema"), dict):
                        _inline(
                            add,
                            key,
                            "request body",
                            media["schema"],
                            refs.join(ptr, "requestBody", "content", mt, "schema"),
                        )
        own_errors = False
        for status, resp in (op.get("responses") or {}).items():
            if isinstance(resp, dict) and "$ref" in resp:
                name = str(resp["$ref"]).rsplit("/", 1)[-1]
                if (
                    resp["$ref"].startswith(_GATEWAY_REF)
                    and name in gateway_responses
                    and name in _GATEWAY_NAMES
                ):
                    continue
            if status.startswith("4") or status == "default":
                own_errors = True
            if not isinstance(resp, dict) or "$ref" in resp:
                continue
            for mt, media in (resp.get("content") or {}).items():
                if not isinstance(media, dict):
                    continue
                mptr = refs.join(ptr, "responses", status, "content", mt)
                if not _has_example(media) and not _is_binary(mt) and mt != "text/event-stream":
                    add(
                        "response-example",
                        "warning",
                        f"{key} response {status} ({mt}) has no example",
                        mptr,
                    )
                if isinstance(media.get("schema"), dict):
                    _inline(
                        add, key, f"response {status}", media["schema"], refs.join(mptr, "schema")
                    )
        if not own_errors:
            add(
                "error-responses",
                "warning",
                f"{key} documents no 4xx response of its own (only the gateway's)",
                refs.join(ptr, "responses"),
            )
    for path in doc.get("paths") or {}:
        for segment in path.strip("/").split("/"):
            if segment and not _TEMPLATE.match(segment) and not _KEBAB.match(segment):
                add(
                    "path-kebab-case",
                    "warning",
                    f"path {path}: segment {segment!r} is not kebab-case",
                    refs.join("", "paths", path),
                )
                break
    if "example-invalid" not in ignored:
        out.extend(_invalid_examples(spec))
    out.extend(_ambiguous_routes(spec))
    return sorted(
        out,
        key=lambda f: (
            f.source.file if f.source else "",
            f.source.line or 0 if f.source else 0,
            f.rule,
            f.message,
        ),
    )


_GATEWAY_NAMES = frozenset(catalog.GATEWAY_RESPONSES)


def _inline(add: Any, key: str, where: str, schema: dict[str, Any], ptr: str) -> None:
    if "$ref" in schema:
        return
    if schema.get("type") == "object" and schema.get("properties"):
        add(
            "inline-schema",
            "warning",
            f"{key} {where} uses an inline object schema; name it in components/schemas so "
            "SDK generators produce a readable type",
            ptr,
        )


_DOC_URI = "urn:unispec:unified"
_JSON_TYPES = ("application/json", "application/problem+json")


def _media_examples(media: dict[str, Any], doc: dict[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if "example" in media:
        found.append(("example", media["example"]))
    examples = media.get("examples")
    if isinstance(examples, dict):
        for name, ex in examples.items():
            while isinstance(ex, dict) and isinstance(ex.get("$ref"), str):
                try:
                    ex = refs.resolve(doc, ex["$ref"])
                except (KeyError, IndexError, ValueError):
                    ex = None
            if isinstance(ex, dict) and "value" in ex:
                found.append((refs.join("examples", name, "value"), ex["value"]))
    return found


def _invalid_examples(spec: UnifiedSpec) -> list[Finding]:
    """JSON examples that contradict their own schema (clients copy them; mocks serve them)."""
    import jsonschema_rs

    doc = spec.document
    registry = jsonschema_rs.Registry([(_DOC_URI, doc)])

    def absolute(ref: str) -> str:
        return _DOC_URI + ref if ref.startswith("#") else ref

    findings: list[Finding] = []
    holders: list[tuple[str, dict[str, Any]]] = []
    for ptr, op in _message_nodes(doc):
        body = op.get("requestBody")
        if isinstance(body, dict):
            for mt, media in (body.get("content") or {}).items():
                holders.append((refs.join(ptr, "requestBody", "content", mt), media))
        for status, resp in (op.get("responses") or {}).items():
            if isinstance(resp, dict) and "$ref" not in resp:
                for mt, media in (resp.get("content") or {}).items():
                    holders.append((refs.join(ptr, "responses", status, "content", mt), media))
    for ptr, media in holders:
        mt = ptr.rsplit("/", 1)[-1].replace("~1", "/")
        if not isinstance(media, dict) or not isinstance(media.get("schema"), dict):
            continue
        if not (mt.startswith(_JSON_TYPES) or mt.endswith("+json")):
            continue
        examples = _media_examples(media, doc)
        if not examples:
            continue
        schema = refs.rewrite_refs(media["schema"], absolute)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        try:
            validator = jsonschema_rs.validator_for(
                schema, registry=registry, validate_formats=True
            )
        except Exception:  # an unresolvable schema is a load error, reported there
            continue
        for where, value in examples:
            errors = list(validator.iter_errors(value))
            if errors:
                first = errors[0]
                at = "/".join(str(p) for p in first.instance_path)
                findings.append(
                    Finding(
                        "example-invalid",
                        "warning",
                        f"{mt} {where} does not match its schema"
                        f"{' at ' + at if at else ''}: {first.message}",
                        spec.source_for(refs.join(ptr, *where.split("/"))),
                    )
                )
    return findings


def _message_nodes(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(pointer, operation) for every exchange the contract documents: operations,
    their callbacks and webhooks (whose examples receivers copy just the same)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path, method, op in refs.iter_operations(doc):
        found.append((refs.join("", "paths", path, method), op))
    for name, item in (doc.get("webhooks") or {}).items():
        found.extend(_item_operations(doc, item, refs.join("", "webhooks", name)))
    for ptr, op in list(found):
        callbacks = op.get("callbacks")
        for name, callback in callbacks.items() if isinstance(callbacks, dict) else ():
            cb_ptr = refs.join(ptr, "callbacks", name)
            callback, cb_ptr = refs.follow(doc, callback, cb_ptr)
            if isinstance(callback, dict):
                for expression, item in callback.items():
                    found.extend(_item_operations(doc, item, refs.join(cb_ptr, expression)))
    yield from found


def _item_operations(
    doc: dict[str, Any], item: Any, ptr: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    item, ptr = refs.follow(doc, item, ptr)
    if isinstance(item, dict):
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield refs.join(ptr, method), item[method]


def route_order(paths: Iterable[str]) -> list[str]:
    """The order in which the gateway tries routes: static segments before templated ones."""

    def key(path: str) -> tuple[Any, ...]:
        segs = path.strip("/").split("/")
        return tuple((1 if _TEMPLATE.match(s) else 0, s) for s in segs)

    return sorted(paths, key=key)


def _ambiguous_routes(spec: UnifiedSpec) -> list[Finding]:
    """``/users/me`` vs ``/users/{id}``: allowed, but say which wins."""
    paths = list(spec.document.get("paths") or {})
    by_shape: dict[tuple[int, str], list[str]] = {}
    for p in paths:
        segs = p.strip("/").split("/")
        by_shape.setdefault((len(segs), segs[0] if segs else ""), []).append(p)
    findings: list[Finding] = []
    for group in by_shape.values():
        for a in group:
            for b in group:
                if a >= b:
                    continue
                sa, sb = a.strip("/").split("/"), b.strip("/").split("/")
                overlap = all(
                    x == y or _TEMPLATE.match(x) or _TEMPLATE.match(y)
                    for x, y in zip(sa, sb, strict=True)
                )
                if overlap and any(
                    bool(_TEMPLATE.match(x)) != bool(_TEMPLATE.match(y))
                    for x, y in zip(sa, sb, strict=True)
                ):
                    first, second = route_order([a, b])
                    findings.append(
                        Finding(
                            "ambiguous-route",
                            "info",
                            f"{first} and {second} can match the same URL; the gateway tries "
                            f"{first} first (static segments win)",
                            spec.source_for(refs.join("", "paths", second)),
                        )
                    )
    return findings
