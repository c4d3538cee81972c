"""Per-operation request and response validators, compiled once from the contract.

All ``$ref`` resolution happens here, at start-up: the unified document is
registered once with jsonschema-rs under a private URI, and every validator is
a ``$ref`` into it, so shared and circular components are compiled by the
library, not walked by us. Two copies of the document are registered: one where
``readOnly`` properties are not required (requests) and one where
``writeOnly`` properties are not required (responses), as OpenAPI specifies.

On the request path a validator does: read parameters (see ``params``), one
schema call for all of them, one for the body; every violation is reported with
a field path (``query.limit``, ``body.contact.email``), not only the first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote_plus

import jsonschema_rs

from unispec.errors import GatewayConfigError
from unispec.gateway.params import MISSING, ParamReader, Shape, coerce, compile_reader, shape_of

try:  # orjson parses a request body ~4x faster; optional, json is the reference
    import orjson

    def _loads(data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # e.g. integers past 64 bits: let json decide
            return json.loads(data)

except ImportError:  # pragma: no cover - depends on the environment

    def _loads(data: bytes) -> Any:
        return json.loads(data)


REQUEST_URI = "urn:unispec:request"
RESPONSE_URI = "urn:unispec:response"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

JSON_KINDS = ("json",)


@dataclass(frozen=True)
class Violation:
    """One problem with a request or response, in the error envelope's terms."""

    field: str
    code: str
    message: str

    def as_detail(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class ValidationFailure(Exception):
    """Raised on the request path; carries the status and code of the answer."""

    def __init__(self, status: int, code: str, message: str, details: list[Violation]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


class Document:
    """The unified document with pointer resolution, used only at compile time."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def at(self, pointer: str) -> Any:
        node: Any = self.document
        if pointer in ("", "#"):
            return node
        for token in pointer.lstrip("#").lstrip("/").split("/"):
            key = _unescape(token)
            if isinstance(node, list):
                node = node[int(key)]
            elif isinstance(node, Mapping) and key in node:
                node = node[key]
            else:
                raise KeyError(pointer)
        return node

    def resolve(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow local ``$ref``s (with a hop limit: cycles of pure refs are invalid)."""
        return self.resolve_with_pointer(obj, "")[0]

    def resolve_with_pointer(
        self, obj: Mapping[str, Any], pointer: str
    ) -> tuple[Mapping[str, Any], str]:
        """``resolve``, and the pointer of the object finally reached (``pointer`` if
        ``obj`` is no reference): a component may itself be a ``$ref`` to another."""
        seen = 0
        while isinstance(obj, Mapping) and isinstance(obj.get("$ref"), str) and seen < 32:
            ref = obj["$ref"]
            if not ref.startswith("#"):
                raise GatewayConfigError(f"unsupported external $ref {ref!r} in the unified spec")
            try:
                obj = self.at(ref)
            except (KeyError, ValueError, IndexError) as exc:
                raise GatewayConfigError(f"unresolvable $ref {ref!r} in the unified spec") from exc
            pointer = ref.lstrip("#")
            seen += 1
        return obj, pointer


def _relax(document: Mapping[str, Any], drop: str) -> dict[str, Any]:
    """A copy where properties flagged ``drop`` (readOnly/writeOnly) are not required."""
    doc = Document(document)
    out: dict[str, Any] = json.loads(json.dumps(document))  # a deep copy, faster

    def flagged(prop: Any) -> bool:
        if not isinstance(prop, Mapping):
            return False
        try:
            target = doc.resolve(prop) if "$ref" in prop else prop
        except GatewayConfigError:
            return False
        return bool(prop.get(drop) or (isinstance(target, Mapping) and target.get(drop)))

    stack: list[Any] = [out]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("properties")
            required = node.get("required")
            if isinstance(props, Mapping) and isinstance(required, list):
                node["required"] = [r for r in required if not flagged(props.get(r))]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


class SchemaCompiler:
    """Builds jsonschema-rs validators that ``$ref`` into the registered documents."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.doc = Document(document)
        self._by_pointer: dict[tuple[str, bool], Any] = {}
        self.registry = jsonschema_rs.Registry(
            [
                (REQUEST_URI, _relax(document, "readOnly")),
                (RESPONSE_URI, _relax(document, "writeOnly")),
            ]
        )

    def _absolute(self, schema: Any, base: str) -> Any:
        if isinstance(schema, dict):
            out = {}
            for k, v in schema.items():
                if k == "$ref" and isinstance(v, str) and v.startswith("#"):
                    out[k] = base + v
                else:
                    out[k] = self._absolute(v, base)
            return out
        if isinstance(schema, list):
            return [self._absolute(v, base) for v in schema]
        return schema

    def at_pointer(self, pointer: str, *, response: bool = False) -> Any:
        key = (pointer, response)
        cached = self._by_pointer.get(key)
        if cached is None:  # shared components (error responses) compile once
            base = RESPONSE_URI if response else REQUEST_URI
            fragment = quote(pointer, safe="/~!$&'()*+,;=:@-._")
            cached = self.compile({"$ref": f"{base}#{fragment}"}, where=pointer)
            self._by_pointer[key] = cached
        return cached

    def inline(self, schema: Mapping[str, Any], *, response: bool = False) -> dict[str, Any]:
        """An inline schema whose local refs point into the registered document."""
        base = RESPONSE_URI if response else REQUEST_URI
        result: dict[str, Any] = self._absolute(dict(schema), base)
        return result

    def compile(self, schema: Mapping[str, Any], where: str) -> Any:
        wrapped = {"$schema": DRAFT, **schema}
        try:
            return jsonschema_rs.validator_for(
                wrapped, registry=self.registry, validate_formats=True
            )
        except (ValueError, jsonschema_rs.ReferencingError) as exc:
            raise GatewayConfigError(
                f"cannot compile the schema at {where or '/'} of the unified spec: {exc}"
            ) from exc


def _field(prefix: str, path: list[str | int]) -> str:
    if not path:
        return prefix
    return prefix + "." + ".".join(str(p) for p in path)


FORMAT_NAMES = {
    "email": "email address",
    "idn-email": "email address",
    "uuid": "UUID",
    "date-time": "date-time (RFC 3339, like 2024-05-01T12:00:00Z)",
    "date": "date (YYYY-MM-DD)",
    "time": "time (RFC 3339, like 12:00:00Z)",
    "uri": "absolute URI",
    "uri-reference": "URI reference",
    "ipv4": "IPv4 address",
    "ipv6": "IPv6 address",
    "hostname": "hostname",
}
"""How a format is named to the client: jsonschema-rs says '"x" is not a "email"'."""


def _message(err: Any, code: str) -> str:
    if code == "format":
        fmt = str(err.kind.format)
        shown = json.dumps(err.instance, ensure_ascii=False)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{shown} is not a valid {FORMAT_NAMES.get(fmt, repr(fmt) + ' value')}"
    return str(err.message)


def violations(validator: Any, instance: Any, prefix: str) -> list[Violation]:
    """Every violation of ``instance`` as field-path details."""
    out: list[Violation] = []
    for err in validator.iter_errors(instance):
        kind = err.kind
        code = str(kind.name)
        path = list(err.instance_path)
        if code == "required":
            path.append(kind.property)
        out.append(Violation(_field(prefix, path), code, _message(err, code)))
    return out


def _param_violations(validator: Any, instance: Mapping[str, Any]) -> list[Violation]:
    out: list[Violation] = []
    for err in validator.iter_errors(instance):
        kind = err.kind
        code = str(kind.name)
        path = list(err.instance_path)
        if code == "required":
            path.append(kind.property)
        location = str(path[0]) if path else "params"
        out.append(Violation(_field(location, path[1:]), code, _message(err, code)))
    return out


def media_kind(media_type: str) -> str:
    mt = media_type.lower()
    if mt == "application/json" or mt.endswith("+json") or mt == "application/*+json":
        return "json"
    if mt == "application/x-www-form-urlencoded":
        return "form"
    if mt.startswith("multipart/form-data"):
        return "multipart"
    if mt.startswith("multipart/"):
        return "multipart"
    return "other"


@dataclass(frozen=True)
class BodyMedia:
    """One documented request media type and how to check a body of that type."""

    media_type: str
    kind: str
    validator: Any = None
    shape: Shape | None = None
    file_fields: frozenset[str] = frozenset()


@dataclass
class OperationValidator:
    """Everything needed to validate one operation's requests and responses."""

    operation_id: str
    path_readers: tuple[ParamReader, ...] = ()
    query_readers: tuple[ParamReader, ...] = ()
    header_readers: tuple[tuple[str, ParamReader], ...] = ()
    cookie_readers: tuple[ParamReader, ...] = ()
    params_validator: Any = None
    has_body: bool = False
    body_required: bool = False
    media: dict[str, BodyMedia] = field(default_factory=dict)
    wildcards: tuple[tuple[str, BodyMedia], ...] = ()
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    """status ("200", "2XX", "default") -> media type -> validator (None = any body)."""

    @property
    def has_params(self) -> bool:
        return self.params_validator is not None

    def check_params(
        self,
        path_params: Mapping[str, str],
        query_string: bytes,
        headers: Mapping[str, str],
    ) -> list[Violation]:
        """Deserialise and validate every parameter; returns all violations."""
        if self.params_validator is None:
            return []
        instance: dict[str, dict[str, Any]] = {}
        if self.path_readers:
            part: dict[str, Any] = {}
            for r in self.path_readers:
                raw = path_params.get(r.name)
                if raw is not None:
                    part[r.name] = r.read_path(raw)
            instance["path"] = part
        if self.query_readers:
            query = (
                parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
                if query_string
                else {}
            )
            part = {}
            for r in self.query_readers:
                value = r.read_query(query)
                if value is not MISSING:
                    part[r.name] = value
            instance["query"] = part
        if self.header_readers:
            part = {}
            for lower, r in self.header_readers:
                value = r.read_value(headers.get(lower))
                if value is not MISSING:
                    part[r.name] = value
            instance["header"] = part
        if self.cookie_readers:
            cookies = parse_cookies(headers.get("cookie", ""))
            part = {}
            for r in self.cookie_readers:
                value = r.read_value(cookies.get(r.name))
                if value is not MISSING:
                    part[r.name] = value
            instance["cookie"] = part
        if self.params_validator.is_valid(instance):
            return []
        return _param_violations(self.params_validator, instance)

    def select_media(self, content_type: str) -> BodyMedia | None:
        """The documented media type matching a Content-Type header, if any."""
        base = content_type.split(";", 1)[0].strip().lower()
        hit = self.media.get(base)
        if hit is not None:
            return hit
        for pattern, media in self.wildcards:
            if pattern == "*/*" or (pattern.endswith("/*") and base.startswith(pattern[:-1])):
                return media
        return None

    def check_json(self, media: BodyMedia, body: bytes) -> list[Violation]:
        try:
            value = _loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return [Violation("body", "invalid_json", f"body is not valid JSON: {exc}")]
        if media.validator is None or media.validator.is_valid(value):
            return []
        return violations(media.validator, value, "body")

    def check_form(self, media: BodyMedia, body: bytes) -> list[Violation]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return [Violation("body", "invalid_encoding", "form body is not UTF-8")]
        fields: dict[str, list[str]] = {}
        for pair in text.split("&"):
            if not pair:
                continue
            key, _, value = pair.partition("=")
            fields.setdefault(unquote_plus(key), []).append(unquote_plus(value))
        return self.check_fields(media, fields)

    def check_fields(self, media: BodyMedia, fields: Mapping[str, list[str]]) -> list[Violation]:
        """Validate form or multipart fields (strings coerced by the body schema)."""
        if media.validator is None:
            return []
        instance = form_instance(fields, media.shape)
        if media.validator.is_valid(instance):
            return []
        return violations(media.validator, instance, "body")


def form_instance(fields: Mapping[str, list[str]], shape: Shape | None) -> dict[str, Any]:
    props = (shape.properties if shape else None) or {}
    out: dict[str, Any] = {}
    for key, values in fields.items():
        types = props.get(key, ("string",))
        if "array" in types:
            out[key] = [coerce(v, ()) for v in values]
        else:
            out[key] = coerce(values[-1], types)
    return out


def parse_cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.strip().partition("=")
        if sep and name and name not in out:
            out[name] = value.strip().strip('"')
    return out


def _param_objects(
    doc: Document, path_item: Mapping[str, Any], operation: Mapping[str, Any], pointer: str
) -> Iterator[Mapping[str, Any]]:
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for source in (path_item.get("parameters") or [], operation.get("parameters") or []):
        for raw in source:
            param = doc.resolve(raw) if isinstance(raw, Mapping) else {}
            if not isinstance(param, Mapping) or "name" not in param or "in" not in param:
                raise GatewayConfigError(f"{pointer}: a parameter lacks 'name' or 'in'")
            merged[(str(param["in"]), str(param["name"]))] = param
    yield from merged.values()


def compile_operation(
    compiler: SchemaCompiler,
    path: str,
    method: str,
    operation_id: str,
    *,
    with_responses: bool = True,
) -> OperationValidator:
    """Compile the validators of ``paths[path][method]``."""
    doc = compiler.doc
    path_item = doc.resolve(doc.document["paths"][path])
    operation = path_item[method]
    op_pointer = f"/paths/{escape_pointer(path)}/{method}"
    ov = OperationValidator(operation_id)
    locations: dict[str, dict[str, Any]] = {}
    required: dict[str, list[str]] = {}
    path_readers: list[ParamReader] = []
    query_readers: list[ParamReader] = []
    header_readers: list[tuple[str, ParamReader]] = []
    cookie_readers: list[ParamReader] = []
    for param in _param_objects(doc, path_item, operation, op_pointer):
        location = str(param["in"])
        name = str(param["name"])
        if location == "header" and name.lower() in ("accept", "content-type", "authorization"):
            continue  # OpenAPI: these header parameters are ignored
        reader, param_schema = compile_reader(param, doc.resolve)
        locations.setdefault(location, {})[name] = compiler.inline(param_schema)
        if param.get("required") or location == "path":
            required.setdefault(location, []).append(name)
        if location == "path":
            path_readers.append(reader)
        elif location == "query":
            query_readers.append(reader)
        elif location == "header":
            header_readers.append((name.lower(), reader))
        elif location == "cookie":
            cookie_readers.append(reader)
    if locations:
        schema: dict[str, Any] = {"type": "object", "properties": {}}
        for location, props in locations.items():
            schema["properties"][location] = {
                "type": "object",
                "properties": props,
                "required": required.get(location, []),
            }
        ov.params_validator = compiler.compile(schema, op_pointer + "/parameters")
    ov.path_readers = tuple(path_readers)
    ov.query_readers = tuple(query_readers)
    ov.header_readers = tuple(header_readers)
    ov.cookie_readers = tuple(cookie_readers)

    body = operation.get("requestBody")
    if isinstance(body, Mapping):
        body, body_pointer = doc.resolve_with_pointer(body, op_pointer + "/requestBody")
        ov.has_body = True
        ov.body_required = bool(body.get("required"))
        wildcards: list[tuple[str, BodyMedia]] = []
        for media_type, media_obj in (body.get("content") or {}).items():
            mt = str(media_type).split(";", 1)[0].strip().lower()
            kind = media_kind(mt)
            schema_obj = (media_obj or {}).get("schema")
            validator = None
            shape = None
            files: frozenset[str] = frozenset()
            if isinstance(schema_obj, Mapping) and kind != "other":
                pointer = f"{body_pointer}/content/{escape_pointer(str(media_type))}/schema"
                validator = compiler.at_pointer(pointer)
                if kind in ("form", "multipart"):
                    shape = shape_of(schema_obj, doc.resolve)
            media = BodyMedia(mt, kind, validator, shape, files)
            if "*" in mt:
                wildcards.append((mt, media))
            else:
                ov.media[mt] = media
        ov.wildcards = tuple(sorted(wildcards, key=lambda item: item[0] == "*/*"))

    if with_responses:
        for status, response in (operation.get("responses") or {}).items():
            resp_pointer = f"{op_pointer}/responses/{escape_pointer(str(status))}"
            if isinstance(response, Mapping):
                response, resp_pointer = doc.resolve_with_pointer(response, resp_pointer)
            content = response.get("content") if isinstance(response, Mapping) else None
            per_media: dict[str, Any] = {}
            for media_type, media_obj in (content or {}).items():
                mt = str(media_type).split(";", 1)[0].strip().lower()
                schema_obj = (media_obj or {}).get("schema")
                if isinstance(schema_obj, Mapping) and media_kind(mt) == "json":
                    pointer = f"{resp_pointer}/content/{escape_pointer(str(media_type))}/schema"
                    per_media[mt] = compiler.at_pointer(pointer, response=True)
                else:
                    per_media[mt] = None
            ov.responses[str(status).upper()] = per_media
    return ov


@dataclass(frozen=True)
class ResponseCheck:
    """What response validation found (empty = the response honours the contract)."""

    violations: tuple[Violation, ...]
    validator: Any = None
    """A body validator still to run on the (buffered) JSON body, if any."""


def response_expectation(
    ov: OperationValidator, status: int, content_type: str | None
) -> tuple[list[Violation], Any]:
    """Check status and content type; return problems and the body validator (if JSON)."""
    if not ov.responses:
        return [], None
    key = str(status)
    spec = ov.responses.get(key)
    if spec is None:
        spec = ov.responses.get(f"{key[0]}XX")
    if spec is None:
        spec = ov.responses.get("DEFAULT")
    if spec is None:
        return [Violation("response.status", "status", f"status {status} is not documented")], None
    if not spec:
        return [], None
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in spec:
        return [], spec[base]
    for mt, validator in spec.items():
        if mt == "*/*" or (mt.endswith("/*") and base.startswith(mt[:-1])):
            return [], validator
    if not base and status in (204, 304):
        return [], None
    documented = ", ".join(sorted(spec))
    return [
        Violation(
            "response.content-type",
            "content_type",
            f"content type {base or '(none)'!r} is not documented for status {status} "
            f"({documented})",
        )
    ], None


def check_response_body(validator: Any, body: bytes) -> list[Violation]:
    try:
        value = _loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return [Violation("response.body", "invalid_json", f"body is not valid JSON: {exc}")]
    if validator.is_valid(value):
        return []
    return violations(validator, value, "response.body")


class MultipartScanner:
    """Incremental multipart/form-data parser that keeps fields and drops file data.

    Fed chunk by chunk while the raw body is spooled elsewhere, so a large file
    part costs the parser's small buffers only; plain fields (no filename) are
    kept, up to ``field_limit`` bytes each, for validation against the schema.
    """

    def __init__(self, content_type: str, field_limit: int = 1024 * 1024) -> None:
        from python_multipart.multipart import MultipartParser, parse_options_header

        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        self.error: str | None = None if boundary else "multipart body without a boundary"
        self.fields: dict[str, list[str]] = {}
        self.field_limit = field_limit
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._buffer = bytearray()
        self._parser: Any = None
        if boundary:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_finished,
                    "on_part_data": self._part_data,
                    "on_part_end": self._part_end,
                },
                max_header_count=32,
            )

    def _part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._is_file = False
        self._buffer = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        disposition = self._headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name")
        self._name = name.decode("utf-8", "replace") if name is not None else None
        self._is_file = b"filename" in options
        if self._is_file and self._name is not None:
            filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self.fields.setdefault(self._name, []).append(filename)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file or self._name is None:
            return
        if len(self._buffer) + (end - start) > self.field_limit:
            self.error = f"multipart field {self._name!r} is larger than {self.field_limit} bytes"
            return
        self._buffer += data[start:end]

    def _part_end(self) -> None:
        if self._name is not None and not self._is_file:
            self.fields.setdefault(self._name, []).append(self._buffer.decode("utf-8", "replace"))

    def feed(self, chunk: bytes) -> None:
        if self._parser is None or self.error:
            return
        try:
            self._parser.write(chunk)
        except Exception as exc:  # python-multipart raises its own error types
            self.error = f"malformed multipart body: {exc}"

    def finish(self) -> None:
        if self._parser is not None and not self.error:
            try:
                self._parser.finalize()
            except Exception as exc:
                self.error = f"malformed multipart body: {exc}"
