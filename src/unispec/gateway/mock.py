"""The built-in mock upstream: one service of the contract served from its examples.

With no upstream configured, a service is answered by this app, so the whole
platform (gateway, portal, fuzzer) runs on one machine with nothing else
installed. It behaves like a small real service, not a static file server:

- requests are validated with the gateway's own compiled validators (so a mock
  reached directly rejects what the gateway would, with the same envelope);
- the answer is the example of the first documented 2xx response, or a value
  synthesized from its schema (deterministic; checked against the schema at
  start-up, and a spec example that does not validate is replaced by a
  synthesized one so that the gateway never sees a contract violation);
- ``Prefer: code=404``, ``Prefer: example=name`` and ``Prefer: dynamic=true``
  pick another documented response, example or the synthesized value, as Prism does;
- resources created by an operation that declares OpenAPI ``links`` (create ->
  get/update/delete with ``$response.body#/...`` parameters) are kept in memory,
  so a created resource can be fetched, updated and deleted, and is gone (404)
  afterwards, together with everything under its path (``/courses/{id}/...``);
  the list at the creator's path shows stored resources first. That is what
  Schemathesis' stateful phase (and its use-after-free check) exercises. Every
  stored answer is re-validated against the response schema before it is sent,
  falling back to the plain example, so state never breaks the contract.

Everything about the spec is compiled once in ``build_mock_app``; a request only
matches a route, validates, and copies a prepared value.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from unispec.errors import GatewayConfigError
from unispec.gateway.routing import Router
from unispec.gateway.validation import (
    MultipartScanner,
    OperationValidator,
    SchemaCompiler,
    Violation,
    compile_operation,
    media_kind,
)
from unispec.model import Operation, UnifiedSpec
from unispec.synth import example_for, examples_of, resolve_ref, synthesize

__all__ = ["MockFleet", "MockState", "build_mock_app", "mock_operations", "parse_prefer"]

log = logging.getLogger("unispec.mock")

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]
RESET_PATH = "/__mock__/reset"
"""POST here empties the stored resources (per-scenario reset for stateful tests)."""

# Headers the gateway sets itself on every response; a mock must not send them
# too or the client would see them twice.
_GATEWAY_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "x-request-id",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "ratelimit",
        "ratelimit-policy",
        "transfer-encoding",
        "connection",
    }
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_BINARY = bytes(range(256)) * 4


# ------------------------------------------------------------------ compiled plan


@dataclass
class _Media:
    media_type: str
    kind: str
    """"json", "sse", "binary" or "text"."""
    value: Any
    synthesized: bool
    named: dict[str, Any]
    dynamic: Any
    validator: Any = None


@dataclass
class _Response:
    key: str
    status: int
    media: list[_Media]
    headers: list[tuple[str, str]]
    error_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Link:
    """How a linked operation finds its resource: which parameter holds the id."""

    group: str
    param: str
    location: str


@dataclass
class _Group:
    """One resource family: a create operation and the operations its links name."""

    name: str
    resource: tuple[str, ...]
    """Tokens of the resource object inside the create response body ("data")."""
    id_key: str
    known_ids: set[str] = field(default_factory=set)
    """Ids of the spec's own examples: answered with the example until deleted."""


@dataclass
class _Op:
    operation: Operation
    obj: Mapping[str, Any]
    validator: OperationValidator | None
    responses: dict[str, _Response]
    success: _Response | None
    creates: _Group | None = None
    created: _Response | None = None
    """The 2xx response carrying the links (what a create answers in stateful mode)."""
    link: _Link | None = None
    lists: _Group | None = None
    """For ``GET`` on a creator's path: the family whose stored resources it lists."""
    parents: tuple[_Link, ...] = ()
    """Resources whose path this operation lives under (``/courses/{courseId}/...``):
    when one of them is unknown or deleted, the operation answers 404 too."""
    role: str = ""
    """For link targets: "read", "update", "delete" or "action"."""
    props: frozenset[str] | None = None
    """Property names of the resource object in the success response, when known."""


def _status_of(key: str, success: bool) -> int:
    if key.isdigit():
        return int(key)
    if len(key) == 3 and key[0].isdigit() and key[1:].upper() == "XX":
        return int(key[0]) * 100
    return 200 if success else 500


def _kind(media_type: str, schema: Any) -> str:
    mt = media_type.split(";", 1)[0].strip().lower()
    if media_kind(mt) == "json":
        return "json"
    if mt in _JSON_RANGES and isinstance(schema, Mapping) and not _binary_string(schema):
        return "json"  # springdoc's "*/*" with an object schema: answer it as JSON
    if mt == "text/event-stream":
        return "sse"
    if mt.startswith("text/") or mt in ("application/xml", "application/yaml"):
        return "text"
    return "binary"


def _binary_string(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "string" and (
        schema.get("format") in ("binary", "byte") or "contentMediaType" in schema
    )


_JSON_RANGES = ("*/*", "application/*")
_CONCRETE = {"json": "application/json", "text": "text/plain", "sse": "text/event-stream"}
"""The Content-Type sent for a documented media range (``*/*``, ``text/*``): a response
cannot carry a range."""


def _pointer_tokens(expression: str) -> tuple[str, ...] | None:
    """``$response.body#/data/id`` -> ("data", "id"); None for other expressions."""
    expression = expression.strip()
    if expression.startswith("{") and expression.endswith("}"):
        expression = expression[1:-1]
    if not expression.startswith("$response.body#"):
        return None
    pointer = expression[len("$response.body#") :]
    if not pointer.startswith("/"):
        return None
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/"))


def _get(node: Any, tokens: Iterable[str]) -> Any:
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _props_at(document: Mapping[str, Any], schema: Any, tokens: tuple[str, ...]) -> set[str] | None:
    """Property names of the object schema found at ``tokens`` below ``schema``."""

    def props_of(node: Any, depth: int = 0) -> dict[str, Any] | None:
        for _ in range(16):
            if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
                node = resolve_ref(document, node["$ref"])
            else:
                break
        if not isinstance(node, Mapping) or depth > 12:
            return None
        out: dict[str, Any] = {}
        found = False
        if isinstance(node.get("properties"), Mapping):
            out.update(node["properties"])
            found = True
        for key in ("allOf", "oneOf", "anyOf"):
            for sub in node.get(key) or []:
                sub_props = props_of(sub, depth + 1)
                if sub_props is not None:
                    for name, value in sub_props.items():
                        out.setdefault(name, value)
                    found = True
        return out if found else None

    node: Any = schema
    for token in tokens:
        props = props_of(node)
        if props is None or token not in props:
            return None
        node = props[token]
    props = props_of(node)
    return set(props) if props is not None else None


def parse_prefer(header: str | None) -> dict[str, str]:
    """``Prefer: code=404, example=name`` -> {"code": "404", "example": "name"}."""
    out: dict[str, str] = {}
    if not header:
        return out
    for part in re.split(r"[;,]", header):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            out[key.strip().lower()] = value.strip().strip('"')
    return out


def mock_operations(spec: UnifiedSpec, service: str) -> list[Operation]:
    """The operations a service's mock serves (``x-service`` equal to its name)."""
    return [op for op in spec.operations if op.service == service]


class _Builder:
    """Compiles the per-operation plans; runs once, at start-up."""

    def __init__(self, spec: UnifiedSpec, compiler: SchemaCompiler | None) -> None:
        self.spec = spec
        self.doc = spec.document
        self.compiler = compiler
        self.problems: list[str] = []

    def operation_object(self, op: Operation) -> Mapping[str, Any]:
        item = self.doc.get("paths", {}).get(op.path)
        item = _deref(self.doc, item)
        obj = item.get(op.method) if isinstance(item, Mapping) else None
        if not isinstance(obj, Mapping):
            raise GatewayConfigError(f"mock: {op.key} ({op.operation_id}) is not in the document")
        return obj

    def build(self, op: Operation) -> _Op:
        obj = self.operation_object(op)
        validator = None
        if self.compiler is not None:
            validator = compile_operation(self.compiler, op.path, op.method, op.operation_id)
        responses: dict[str, _Response] = {}
        raw = obj.get("responses") or {}
        success_key = _success_key(raw)
        for key, resp in raw.items():
            key = str(key)
            responses[key.upper()] = self.response(
                op, obj, key, resp, key == success_key, validator
            )
        success = responses.get(success_key.upper()) if success_key else None
        return _Op(op, obj, validator, responses, success)

    def response(
        self,
        op: Operation,
        obj: Mapping[str, Any],
        key: str,
        resp: Any,
        is_success: bool,
        validator: OperationValidator | None,
    ) -> _Response:
        resp = _deref(self.doc, resp)
        if not isinstance(resp, Mapping):
            resp = {}
        validators = validator.responses.get(key.upper(), {}) if validator else {}
        media: list[_Media] = []
        for media_type, media_obj in (resp.get("content") or {}).items():
            media_obj = _deref(self.doc, media_obj) or {}
            schema = media_obj.get("schema")
            kind = _kind(str(media_type), schema)
            base = str(media_type).split(";", 1)[0].strip().lower()
            check = validators.get(base)
            value, synthesized = example_for(media_obj, self.doc, direction="response")
            dynamic = (
                synthesize(schema, self.doc, direction="response") if schema is not None else value
            )
            named = examples_of(media_obj, self.doc)
            if kind == "json" and check is not None:
                where = f"{op.operation_id} {key} {media_type}"
                if not synthesized and not _valid(check, value):
                    self.problems.append(f"{where}: example does not match its schema")
                    log.warning("mock: %s: example does not match its schema; synthesizing", where)
                    value, synthesized = dynamic, True
                if not _valid(check, dynamic):
                    self.problems.append(f"{where}: synthesized value does not match the schema")
                    dynamic = value
                named = {n: v for n, v in named.items() if _valid(check, v)}
            media.append(_Media(str(media_type), kind, value, synthesized, named, dynamic, check))
        headers: list[tuple[str, str]] = []
        for name, header in (resp.get("headers") or {}).items():
            header = _deref(self.doc, header)
            if not isinstance(header, Mapping):
                continue
            # required headers always; optional ones when the author gave an example
            if (
                not header.get("required")
                and "example" not in header
                and not header.get("examples")
            ):
                continue
            if str(name).lower() in _GATEWAY_HEADERS:
                continue
            headers.append((str(name), _header_value(header, self.doc)))
        codes = resp.get("x-error-codes")
        error_codes = tuple(str(c) for c in codes) if isinstance(codes, Mapping) else ()
        return _Response(key, _status_of(key, is_success), media, headers, error_codes)

    def link(self, ops: dict[str, _Op]) -> list[_Group]:
        """Find create -> get/update/delete families from the responses' ``links``.

        A creator is a POST whose 2xx response links to operations that take the
        new resource's id (``$response.body#/.../id``) as a parameter it does not
        itself have; PATCH/PUT responses linking back to their own resource
        create nothing.
        """
        groups: list[_Group] = []
        by_pointer = {op.operation.pointer: op for op in ops.values()}
        for op in ops.values():
            if op.operation.method != "post":
                continue
            responses = op.obj.get("responses") or {}
            for key in sorted(str(k) for k in responses if str(k).startswith("2")):
                resp = _deref(self.doc, responses.get(key))
                links = resp.get("links") if isinstance(resp, Mapping) else None
                if isinstance(links, Mapping):
                    self._link_family(op, key, links, ops, by_pointer, groups)
                if op.creates is not None:
                    break
        self._parents(ops)
        by_route = {(o.operation.method, o.operation.path): o for o in ops.values()}
        for op in ops.values():
            if op.creates is not None:
                lister = by_route.get(("get", op.operation.path))
                if lister is not None and lister.link is None and lister.lists is None:
                    lister.lists = op.creates
        return groups

    def _parents(self, ops: dict[str, _Op]) -> None:
        """Link every operation under a linked resource's path to that resource."""
        prefixes: list[tuple[str, _Link]] = []
        for op in ops.values():
            link = op.link
            path = op.operation.path
            if (
                link is not None
                and link.location == "path"
                and path.endswith("{" + link.param + "}")
            ):
                prefixes.append((path + "/", link))
        for op in ops.values():
            found = [
                link
                for prefix, link in prefixes
                if op.operation.path.startswith(prefix) and link != op.link
            ]
            op.parents = tuple(dict.fromkeys(found))

    def _link_family(
        self,
        op: _Op,
        key: str,
        links: Mapping[str, Any],
        ops: dict[str, _Op],
        by_pointer: dict[str, _Op],
        groups: list[_Group],
    ) -> None:
        own = {str(p.get("name")) for p in _params(op, self.doc) if p.get("in") == "path"}
        for link in links.values():
            link = _deref(self.doc, link)
            if not isinstance(link, Mapping):
                continue
            target = self._link_target(link, ops, by_pointer)
            if target is None or target is op:
                continue
            for pname, expression in (link.get("parameters") or {}).items():
                tokens = _pointer_tokens(str(expression))
                if not tokens:
                    continue
                location, name = _param_location(target, str(pname), self.doc)
                if location is None or name in own:
                    continue
                group = op.creates
                if group is None:
                    group = _Group(op.operation.operation_id, tokens[:-1], tokens[-1])
                    op.creates = group
                    op.created = op.responses.get(key.upper())
                    op.props = self._props(op, group, key)
                    groups.append(group)
                elif (*group.resource, group.id_key) != tokens:
                    continue  # another resource named in the same response
                if target.link is None:
                    target.link = _Link(group.name, name, location)
                    target.role = _role(target.operation.method)
                    if target.success is not None:
                        target.props = self._props(target, group, target.success.key)
                    self._known_ids(target, group, name, location)
                break

    def _link_target(
        self, link: Mapping[str, Any], ops: dict[str, _Op], by_pointer: dict[str, _Op]
    ) -> _Op | None:
        if isinstance(link.get("operationId"), str):
            return ops.get(link["operationId"])
        ref = link.get("operationRef")
        if isinstance(ref, str) and ref.startswith("#"):
            return by_pointer.get(ref[1:])
        return None

    def _props(self, op: _Op, group: _Group, key: str) -> frozenset[str] | None:
        resp = _deref(self.doc, (op.obj.get("responses") or {}).get(key))
        content = resp.get("content") if isinstance(resp, Mapping) else None
        if not isinstance(content, Mapping):
            return None
        for media_obj in content.values():
            media_obj = _deref(self.doc, media_obj)
            if isinstance(media_obj, Mapping) and "schema" in media_obj:
                props = _props_at(self.doc, media_obj["schema"], group.resource)
                return frozenset(props) if props is not None else None
        return None

    def _known_ids(self, target: _Op, group: _Group, name: str, location: str) -> None:
        for param in _params(target, self.doc):
            if param.get("name") == name and param.get("in") == location:
                if "example" in param:
                    group.known_ids.add(str(param["example"]))
                for ex in (param.get("examples") or {}).values():
                    ex = _deref(self.doc, ex)
                    if isinstance(ex, Mapping) and "value" in ex:
                        group.known_ids.add(str(ex["value"]))
        if target.role == "read" and target.success and target.success.media:
            resource = _get(target.success.media[0].value, group.resource)
            if isinstance(resource, dict) and group.id_key in resource:
                group.known_ids.add(str(resource[group.id_key]))


def _success_key(responses: Mapping[str, Any]) -> str:
    keys = [str(k) for k in responses]
    concrete = sorted(k for k in keys if k.isdigit() and k.startswith("2"))
    if concrete:
        return concrete[0]
    for k in keys:
        if k.upper() == "2XX":
            return k
    for k in keys:
        if k == "default":
            return k
    return ""


def _fallback(op: _Op) -> _Response | None:
    """What an operation without a 2xx or default response answers: its lowest
    declared status from 300 up (``302`` for a redirect, ``307`` for Twilio's
    FetchDay), never an undeclared ``204`` that the gateway would reject."""
    declared = [r for r in op.responses.values() if r.status >= 300]
    return min(declared, key=lambda r: (r.status, r.key)) if declared else None


def _role(method: str) -> str:
    return {"get": "read", "head": "read", "put": "update", "patch": "update"}.get(
        method, "delete" if method == "delete" else "action"
    )


def _params(op: _Op, document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    item = _deref(document, document.get("paths", {}).get(op.operation.path))
    out: list[Mapping[str, Any]] = []
    for source in ((item or {}).get("parameters") or [], op.obj.get("parameters") or []):
        for raw in source:
            param = _deref(document, raw)
            if isinstance(param, Mapping):
                out.append(param)
    return out


def _param_location(op: _Op, name: str, document: Mapping[str, Any]) -> tuple[str | None, str]:
    location = None
    if "." in name and name.split(".", 1)[0] in ("path", "query", "header", "cookie"):
        location, name = name.split(".", 1)
    for param in _params(op, document):
        if param.get("name") == name and (location is None or param.get("in") == location):
            where = str(param.get("in"))
            if where in ("path", "query"):
                return where, name
    return None, name


def _deref(document: Mapping[str, Any], node: Any) -> Any:
    for _ in range(16):
        if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            node = resolve_ref(document, node["$ref"])
        else:
            return node
    return None


def _valid(validator: Any, value: Any) -> bool:
    try:
        return bool(validator.is_valid(value))
    except (ValueError, TypeError, OverflowError):
        return False


def _header_value(header: Mapping[str, Any], document: Mapping[str, Any]) -> str:
    if "example" in header:
        value = header["example"]
    else:
        examples = examples_of(header, document)
        value = (
            next(iter(examples.values()))
            if examples
            else synthesize(header.get("schema", {}), document, direction="response")
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# ------------------------------------------------------------------- the runtime


class MockState:
    """Stored resources per resource family; reset between test scenarios."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.deleted: dict[str, set[str]] = {}
        self.counter = 0

    def reset(self) -> None:
        self.resources.clear()
        self.deleted.clear()
        self.counter = 0


class MockApp:
    """The request handler; one per service."""

    def __init__(
        self,
        service: str,
        ops: dict[str, _Op],
        groups: list[_Group],
        stateful: bool,
        problems: list[str],
    ) -> None:
        self.service = service
        self.ops = ops
        self.groups = {g.name: g for g in groups}
        self.stateful = stateful
        self.state = MockState()
        self.problems = problems
        self.router: Router[_Op] = Router()
        for op in ops.values():
            self.router.add(op.operation.method.upper(), op.operation.path, op)

    async def handle(self, request: Request) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        raw_path = request.scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else request.url.path
        path = path.split("?", 1)[0]
        method = request.method.upper()
        if path == RESET_PATH and method == "POST":
            self.state.reset()
            return Response(status_code=204)
        match = self.router.match(method, path)
        if match is None:
            return _error(404, "NOT_FOUND", "No operation matches this path", rid)
        if match.target is None:
            return _error(
                405,
                "METHOD_NOT_ALLOWED",
                "Method not allowed for this path",
                rid,
                headers={"Allow": ", ".join(match.allowed)},
            )
        op = match.target
        parsed, failure = await self._validate(op, request, match.params, rid)
        if failure is not None:
            return failure
        prefer = parse_prefer(request.headers.get("prefer"))
        accept = request.headers.get("accept", "")
        if "code" in prefer:
            chosen = op.responses.get(prefer["code"].upper()) or op.responses.get(
                f"{prefer['code'][:1]}XX"
            )
            if chosen is not None:
                return self._answer(op, chosen, prefer, accept, rid, request)
        if self.stateful and (op.creates or op.link or op.parents or op.lists):
            stateful = self._stateful(op, match.params, request, parsed, prefer, accept, rid)
            if stateful is not None:
                return stateful
        answer = op.success or _fallback(op)
        if answer is None:
            return Response(status_code=204)
        return self._answer(op, answer, prefer, accept, rid, request)

    # ---- validation
    async def _validate(
        self,
        op: _Op,
        request: Request,
        params: Mapping[str, str],
        rid: str,
    ) -> tuple[Any, Response | None]:
        """Read the body as a stream and validate the request like the gateway does.

        Only JSON and form bodies are kept (they are validated and merged into
        stored resources); multipart bodies go through the scanner chunk by chunk
        and other bodies are drained, so an upload never sits in memory whole.
        """
        ov = op.validator
        ctype = request.headers.get("content-type", "")
        base = ctype.split(";", 1)[0].strip().lower()
        media = ov.select_media(ctype) if ov is not None and ctype else None
        kind = media.kind if media is not None else media_kind(base)
        scanner = MultipartScanner(ctype) if kind == "multipart" and ov is not None else None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if scanner is not None:
                scanner.feed(chunk)
            elif kind in ("json", "form"):
                chunks.append(chunk)
        body = b"".join(chunks)
        parsed: Any = None
        if kind == "json" and body:
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                parsed = None
        if ov is None:
            return parsed, None
        problems: list[Violation] = list(
            ov.check_params(params, request.scope.get("query_string", b""), request.headers)
        )
        if ov.has_body and size == 0:
            if ov.body_required:
                problems.append(Violation("body", "required", "a request body is required"))
        elif ov.has_body:
            if media is None:
                return parsed, _error(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    f"content type {ctype or '(none)'!r} is not accepted here",
                    rid,
                )
            if media.kind == "json":
                problems.extend(ov.check_json(media, body))
            elif media.kind == "form":
                problems.extend(ov.check_form(media, body))
            elif scanner is not None:
                scanner.finish()
                if scanner.error:
                    problems.append(Violation("body", "invalid_multipart", scanner.error))
                else:
                    problems.extend(ov.check_fields(media, scanner.fields))
        if problems:
            details = [p.as_detail() for p in problems]
            return parsed, _error(422, "VALIDATION_ERROR", "Validation failed", rid, details)
        return parsed, None

    # ---- plain answers
    def _pick_media(self, resp: _Response, accept: str) -> _Media | None:
        if not resp.media:
            return None
        if accept:
            wanted = [a.split(";", 1)[0].strip().lower() for a in accept.split(",")]
            for want in wanted:
                for media in resp.media:
                    if media.media_type.split(";", 1)[0].strip().lower() == want:
                        return media
        return resp.media[0]

    def _answer(
        self,
        op: _Op,
        resp: _Response,
        prefer: Mapping[str, str],
        accept: str,
        rid: str,
        request: Request,
        value: Any = None,
        has_value: bool = False,
        rename: tuple[str, str] | None = None,
    ) -> Response:
        media = self._pick_media(resp, accept)
        headers = dict(resp.headers)
        if rename is not None:  # e.g. Location of a created resource: the new id
            headers = {k: v.replace(rename[0], rename[1]) for k, v in headers.items()}
        if media is None:
            return Response(status_code=resp.status, headers=headers)
        if not has_value:
            if prefer.get("example") in media.named:
                value = media.named[prefer["example"]]
            elif prefer.get("dynamic", "").lower() == "true":
                value = media.dynamic
            else:
                value = media.value
            if resp.status >= 400:
                value = _patched_error(value, media, resp.error_codes[:1], rid)
        return _render(media, value, resp.status, headers, request)

    # ---- stateful answers
    def _stateful(
        self,
        op: _Op,
        params: Mapping[str, str],
        request: Request,
        parsed: Any,
        prefer: Mapping[str, str],
        accept: str,
        rid: str,
    ) -> Response | None:
        for parent in op.parents:
            key = params.get(parent.param)
            group = self.groups[parent.group]
            if key is not None and not self._exists(group, key):
                missing = self._not_found(op, accept, rid, request, group, key)
                if missing is not None:
                    return missing
        if op.lists is not None and not prefer.keys() & {"example", "dynamic"}:
            return self._list(op, op.lists, accept, rid, request)
        if op.link is not None:
            done, answer = self._linked(op, op.link, params, request, parsed, prefer, accept, rid)
            if done:
                return answer
        if op.creates is not None:
            # also for sub-resources: POST /courses/{id}/lessons creates a lesson
            # once the course is known to exist
            return self._create(op, op.creates, parsed, prefer, accept, rid, request, params)
        return None

    def _list(
        self, op: _Op, group: _Group, accept: str, rid: str, request: Request
    ) -> Response | None:
        """The list example with stored resources first and deleted examples left out."""
        stored = self.state.resources.get(group.name) or {}
        deleted = self.state.deleted.get(group.name) or set()
        if (not stored and not deleted) or op.success is None:
            return None
        media = self._pick_media(op.success, accept)
        if media is None or media.kind != "json":
            return None
        body = copy.deepcopy(media.value)
        items = _get(body, group.resource)
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            return None
        template = items[0]
        fresh = []
        for resource in reversed(list(stored.values())):
            item = copy.deepcopy(template)
            item.update({k: copy.deepcopy(v) for k, v in resource.items() if k in template})
            fresh.append(item)
        kept = [
            i for i in items if not isinstance(i, dict) or str(i.get(group.id_key)) not in deleted
        ]
        size = len(items)
        for candidate in (fresh + kept, (fresh + kept)[: max(size, len(fresh))], fresh[:size]):
            items[:] = candidate
            if media.validator is None or _valid(media.validator, body):
                return self._answer(op, op.success, {}, accept, rid, request, body, True)
        return None

    def _exists(self, group: _Group, key: str) -> bool:
        if key in self.state.resources.get(group.name, {}):
            return True
        return key in group.known_ids and key not in self.state.deleted.get(group.name, set())

    def _linked(
        self,
        op: _Op,
        link: _Link,
        params: Mapping[str, str],
        request: Request,
        parsed: Any,
        prefer: Mapping[str, str],
        accept: str,
        rid: str,
    ) -> tuple[bool, Response | None]:
        """Answer an operation on a stored resource; (False, None) lets the caller go on."""
        group = self.groups[link.group]
        if link.location == "path":
            key = params.get(link.param)
        else:
            key = request.query_params.get(link.param)
        if key is None:
            return False, None
        store = self.state.resources.setdefault(group.name, {})
        deleted = self.state.deleted.setdefault(group.name, set())
        stored = store.get(key)
        if stored is None:
            if key in group.known_ids and key not in deleted:
                if op.role == "delete":
                    deleted.add(key)
                    return True, None
                # the spec's own example resource: answer with the example
                return op.role != "action", None
            missing = self._not_found(op, accept, rid, request, group, key)
            return missing is not None, missing
        if op.role == "action":
            return False, None
        if op.role == "delete":
            del store[key]
            deleted.add(key)
            return True, None
        if op.role == "update" and isinstance(parsed, dict):
            for name, value in parsed.items():
                known = name in stored or (op.props is not None and name in op.props)
                if name != group.id_key and known:
                    stored[name] = copy.deepcopy(value)
        if op.success is None:
            return True, None
        media = self._pick_media(op.success, accept)
        if media is None or media.kind != "json":
            return True, None
        body = copy.deepcopy(media.value)
        resource = _get(body, group.resource)
        if not isinstance(resource, dict):
            return True, None
        _overlay(resource, stored, op.props, media.validator, body)
        return True, self._answer(op, op.success, prefer, accept, rid, request, body, True)

    def _not_found(
        self,
        op: _Op,
        accept: str,
        rid: str,
        request: Request,
        group: _Group,
        missing: str,
    ) -> Response | None:
        resp = op.responses.get("404") or op.responses.get("4XX")
        if resp is None:
            return None
        media = self._pick_media(resp, accept)
        if media is None:
            return Response(status_code=404, headers=dict(resp.headers))
        value = _patched_error(media.value, media, resp.error_codes[:1], rid)
        error = value.get("error") if isinstance(value, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            # the example's message names the example's id; name the one asked for
            message = error["message"]
            for known in group.known_ids:
                message = message.replace(known, missing)
            if message != error["message"]:
                patched = copy.deepcopy(value)
                patched["error"]["message"] = message
                if media.validator is None or _valid(media.validator, patched):
                    value = patched
        return _render(media, value, resp.status, dict(resp.headers), request)

    def _create(
        self,
        op: _Op,
        group: _Group,
        parsed: Any,
        prefer: Mapping[str, str],
        accept: str,
        rid: str,
        request: Request,
        params: Mapping[str, str] | None = None,
    ) -> Response | None:
        created = op.created or op.success
        if created is None:
            return None
        media = self._pick_media(created, accept)
        if media is None or media.kind != "json":
            return None
        body = copy.deepcopy(media.value)
        resource = _get(body, group.resource)
        if not isinstance(resource, dict):
            return None
        self.state.counter += 1
        old = resource.get(group.id_key)
        for candidate in _new_ids(self.service, group.name, self.state.counter, old):
            resource[group.id_key] = candidate
            if media.validator is None or _valid(media.validator, body):
                break
        else:
            resource[group.id_key] = old
        if isinstance(parsed, dict):
            incoming = {k: v for k, v in parsed.items() if k != group.id_key}
            _overlay(resource, incoming, op.props, media.validator, body)
        # A sub-resource created under /courses/{courseId}/lessons belongs to that
        # course: its parent id comes from the path, not from the example.
        for name, value in (params or {}).items():
            if name != group.id_key and name in resource:
                before = resource[name]
                resource[name] = value
                if media.validator is not None and not _valid(media.validator, body):
                    resource[name] = before
        key = str(resource.get(group.id_key))
        self.state.resources.setdefault(group.name, {})[key] = copy.deepcopy(resource)
        self.state.deleted.setdefault(group.name, set()).discard(key)
        rename = (str(old), key) if old is not None and str(old) else None
        return self._answer(op, created, prefer, accept, rid, request, body, True, rename)


def _new_ids(service: str, group: str, counter: int, old: Any) -> list[Any]:
    """Fresh id candidates shaped like the example's id (the first valid one is used)."""
    seed = hashlib.sha1(f"{service}:{group}:{counter}".encode()).digest()[:16]
    fresh = str(uuid.UUID(bytes=seed, version=4))
    if isinstance(old, bool):
        return [old]
    if isinstance(old, int):
        return [old + counter, counter]
    if isinstance(old, str) and not _UUID.match(old):
        out: list[Any] = []
        m = re.match(r"^(.*?)(\d+)$", old)
        if m:
            digits = str(int(m.group(2)) + counter).rjust(len(m.group(2)), "0")
            out.append(m.group(1) + digits)
        return [*out, f"{old}-{counter}", fresh, f"{group}-{counter}"]
    return [fresh, f"{group}-{counter}"]


def _overlay(
    resource: dict[str, Any],
    fields: Mapping[str, Any],
    props: frozenset[str] | None,
    validator: Any,
    body: Any,
) -> None:
    """Copy ``fields`` into ``resource`` where the schema has them and stays valid."""
    wanted = {
        k: v for k, v in fields.items() if (k in props if props is not None else k in resource)
    }
    if not wanted:
        return
    saved = dict(resource)
    resource.update(copy.deepcopy(wanted))
    if validator is None or _valid(validator, body):
        return
    resource.clear()
    resource.update(saved)
    for key, value in wanted.items():
        had = key in resource
        previous = resource.get(key)
        resource[key] = copy.deepcopy(value)
        if not _valid(validator, body):
            if had:
                resource[key] = previous
            else:
                del resource[key]


def _patched_error(value: Any, media: _Media, codes: tuple[str, ...], rid: str) -> Any:
    """The error example with this request's id (and the documented code) filled in."""
    if not isinstance(value, dict) or not isinstance(value.get("error"), dict):
        return value
    patched = copy.deepcopy(value)
    error = patched["error"]
    error["requestId"] = rid
    if codes and error.get("code") not in codes:
        error["code"] = codes[0]
    if media.validator is not None and not _valid(media.validator, patched):
        return value
    return patched


def _error(
    status: int,
    code: str,
    message: str,
    rid: str,
    details: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    error["requestId"] = rid
    body = json.dumps({"success": False, "error": error}, separators=(",", ":")).encode()
    return Response(body, status, headers=dict(headers or {}), media_type="application/json")


def _render(
    media: _Media, value: Any, status: int, headers: dict[str, str], request: Request
) -> Response:
    mt = media.media_type
    if "*" in mt.split(";", 1)[0]:
        mt = _CONCRETE.get(media.kind, "application/octet-stream")
    if status in (204, 304) or (request.method == "HEAD" and status < 300):
        return Response(status_code=status, headers=headers)
    if media.kind == "json":
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return Response(data, status, headers=headers, media_type=mt)
    if media.kind == "sse":
        return StreamingResponse(_sse(value), status, headers=headers, media_type=mt)
    if media.kind == "text":
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return Response(text.encode(), status, headers=headers, media_type=mt)
    if isinstance(value, str) and not media.synthesized:
        payload = value.encode()
    elif isinstance(value, bytes):
        payload = value
    else:
        payload = _BINARY
    return Response(payload, status, headers=headers, media_type=mt)


async def _sse(value: Any) -> AsyncIterator[bytes]:
    """Stream an event-stream example event by event (a real stream, not one write)."""
    if isinstance(value, str):
        text = value if value.endswith("\n\n") else value.rstrip("\n") + "\n\n"
        for event in re.split(r"(?<=\n\n)", text):
            if event:
                yield event.encode()
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        data = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
        yield f"data: {data}\n\n".encode()


def build_mock_app(
    spec: UnifiedSpec,
    service: str,
    *,
    stateful: bool = True,
    validate: bool = True,
    compiler: SchemaCompiler | None = None,
    on_problem: Callable[[str], None] | None = None,
) -> Starlette:
    """An ASGI app answering every operation whose ``x-service`` is ``service``.

    ``validate`` checks requests with the gateway's compiled validators (pass a
    shared ``compiler`` when building several mocks from one document, so it is
    compiled once). The handler is ``app.state.mock`` (its ``state`` holds the
    stored resources; POST ``/__mock__/reset`` empties them).
    """
    operations = mock_operations(spec, service)
    known = {s.name for s in spec.services} | {op.service for op in spec.operations}
    if service not in known:
        raise GatewayConfigError(
            f"mock: no service {service!r} in the contract (services: {', '.join(sorted(known))})"
        )
    # a configured service without operations (webhooks only) gets a mock that
    # answers 404 to everything rather than failing the whole stack
    if validate and compiler is None:
        compiler = SchemaCompiler(spec.document)
    builder = _Builder(spec, compiler if validate else None)
    ops = {op.operation_id: builder.build(op) for op in operations}
    groups = builder.link(ops) if stateful else []
    for problem in builder.problems:
        if on_problem is not None:
            on_problem(problem)
    handler = MockApp(service, ops, groups, stateful, builder.problems)
    app = Starlette(routes=[Route("/{rest:path}", handler.handle, methods=_METHODS)])
    app.state.mock = handler
    return app


# ------------------------------------------------------------- real HTTP servers


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its fleet (one handler for all)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MockFleet:
    """Mock upstreams for several services, each a real HTTP server on its own loopback port.

    Sockets are bound in the constructor, so ``urls`` is known before serving
    (the gateway is configured with them) and port 0 picks free ports. Run it in
    the caller's event loop (``await fleet.serve()``, e.g. next to the gateway in
    ``unispec up``) or in a background thread (``start()``/``stop()``, for tests).
    """

    def __init__(
        self,
        spec: UnifiedSpec,
        services: Iterable[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stateful: bool = True,
        validate: bool = True,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        names = list(services) if services is not None else _served_services(spec)
        compiler = SchemaCompiler(spec.document) if validate else None
        self.apps: dict[str, Starlette] = {}
        self.urls: dict[str, str] = {}
        self._servers: list[tuple[_QuietServer, socket.socket]] = []
        self._thread: threading.Thread | None = None
        try:
            for i, name in enumerate(names):
                app = build_mock_app(
                    spec,
                    name,
                    stateful=stateful,
                    validate=validate,
                    compiler=compiler,
                    on_problem=on_problem,
                )
                sock = _bind(host, port + i if port else 0)
                bound_port = sock.getsockname()[1]
                config = uvicorn.Config(
                    app,
                    log_level="warning",
                    access_log=False,
                    lifespan="off",
                    timeout_keep_alive=30,
                )
                self._servers.append((_QuietServer(config), sock))
                self.apps[name] = app
                self.urls[name] = f"http://{_url_host(host)}:{bound_port}"
        except BaseException:
            self.close()
            raise

    async def serve(self) -> None:
        """Serve every mock until ``stop()`` (or cancellation)."""
        try:
            await asyncio.gather(*(srv.serve(sockets=[sock]) for srv, sock in self._servers))
        finally:
            self.close()

    @property
    def started(self) -> bool:
        return all(srv.started for srv, _ in self._servers)

    def start(self, timeout: float = 10.0) -> None:
        """Serve in a background thread; returns once every server accepts connections."""
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.serve()), name="unispec-mocks", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise GatewayConfigError("mock upstreams did not start")
            time.sleep(0.01)

    def stop_soon(self) -> None:
        """Ask every server to finish (safe from a signal handler or another thread)."""
        for srv, _ in self._servers:
            srv.should_exit = True

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.close()

    def close(self) -> None:
        for _, sock in self._servers:
            with contextlib.suppress(OSError):
                sock.close()


def _served_services(spec: UnifiedSpec) -> list[str]:
    """Configured services that have operations, in configuration order."""
    with_ops = {op.service for op in spec.operations}
    names = [s.name for s in spec.services if s.name in with_ops]
    names.extend(sorted(with_ops - set(names)))
    return names


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise GatewayConfigError(f"mock: cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
