"""The demo contract in ``specs/`` keeps its promises.

The demo documents are what every other part of unispec is exercised on (merge,
gateway, mock upstreams, portal, fuzzing), so they must be valid, complete and
honest: every example the mock will serve validates against its schema with
formats checked, every operation is documented, and the shared pieces (error
envelope, pagination, bearer scheme) are byte-for-byte the same in every service
so that the merge deduplicates them instead of namespacing them.

The test reads the files directly (not through ``unispec.load``) so that it
checks the inputs independently of the code that consumes them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from unispec import catalog

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Codes the gateway itself answers with; services must not reuse them. The briefing's list,
# plus whatever the catalog has grown since.
GATEWAY_CODES = {
    "UNAUTHORIZED",
    "TOKEN_EXPIRED",
    "FORBIDDEN",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "VALIDATION_ERROR",
    "RATE_LIMIT_EXCEEDED",
    "INTERNAL_ERROR",
    "BAD_GATEWAY",
    "UPSTREAM_CONTRACT_VIOLATION",
    "SERVICE_UNAVAILABLE",
    "GATEWAY_TIMEOUT",
} | set(catalog.GATEWAY_CODES)
# Statuses the merge adds on its own; a service declaring them would clash with the gateway's.
GATEWAY_STATUSES = {"401", "403", "415", "422", "429"}
PUBLIC_OPERATIONS = {
    "registerAccount",
    "login",
    "refreshTokens",
    "requestPasswordReset",
    "resetPassword",
    "verifyEmail",
    "listLanguages",
}
BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9_]*$")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
KEBAB_SEGMENT = re.compile(r"^([a-z0-9]+(-[a-z0-9]+)*|\{[a-z][a-zA-Z0-9]*\})$")
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def _services() -> dict[str, Path]:
    """Service name -> spec path, as unispec.yaml lists them (the single list of services)."""
    config = yaml.safe_load((ROOT / "unispec.yaml").read_text(encoding="utf-8"))
    return {name: ROOT / svc["spec"] for name, svc in config["services"].items()}


SERVICES = _services()


# --------------------------------------------------------------------------- formats


def _is_email(value: object) -> bool:
    # jsonschema's own email check only looks for an "@"; the mock serves these examples to
    # clients whose validators are stricter, so hold them to a real address shape.
    return not isinstance(value, str) or bool(EMAIL.match(value))


def _is_uri(value: object) -> bool:
    # "uri" is only checked by jsonschema when rfc3987 is installed; it is not, so check here:
    # an absolute URI with a valid scheme, no whitespace, and a host for hierarchical schemes.
    if not isinstance(value, str):
        return True
    if any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    if not URI_SCHEME.match(parts.scheme):
        return False
    if parts.scheme in {"http", "https", "ws", "wss", "ftp"}:
        return bool(parts.hostname)
    return bool(parts.path or parts.netloc)


def format_checker() -> jsonschema.FormatChecker:
    """A format checker that really checks email, uuid, date-time and uri."""
    checker = jsonschema.FormatChecker()
    checker.checks("email")(_is_email)
    checker.checks("uri")(_is_uri)
    return checker


FORMATS = format_checker()


def test_format_checker_really_checks_formats() -> None:
    """Guard against a silently missing optional dependency turning format checks into no-ops."""
    good = {
        "email": "ada.lovelace@example.com",
        "uuid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "date-time": "2026-11-20T09:15:00Z",
        "uri": "https://cdn.learnhub.example/avatars/a.png",
    }
    bad = {
        "email": ["a@@b.com", "not-an-email", "ada@localhost"],
        "uuid": ["7c9e6679742540de944be07fc1f90ae7", "not-a-uuid", "7c9e6679-7425-40de-944b"],
        "date-time": ["2026-11-20 09:15", "2026-11-20", "2026-11-20T09:15:00"],
        "uri": ["cdn.learnhub.example/a.png", "https://", "has space://x", "/relative/path"],
    }
    for fmt, value in good.items():
        assert FORMATS.conforms(value, fmt), (fmt, value)
    for fmt, values in bad.items():
        for value in values:
            assert not FORMATS.conforms(value, fmt), (fmt, value)


# --------------------------------------------------------------------------- validation


def _content_schema(validator: Any, content_schema: Any, instance: Any, schema: Any) -> Any:
    """Assert ``contentSchema`` for JSON payloads carried in strings (SSE ``data``).

    JSON Schema 2020-12 treats ``contentMediaType``/``contentSchema`` as annotations;
    Schemathesis asserts them on event streams, so the examples must satisfy them too."""
    if schema.get("contentMediaType") != "application/json" or not isinstance(instance, str):
        return
    try:
        payload = json.loads(instance)
    except ValueError as exc:
        yield jsonschema.ValidationError(f"not JSON ({exc}): {instance[:60]!r}")
        return
    yield from validator.descend(payload, content_schema)


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"contentSchema": _content_schema}
)


def parse_event_stream(text: str) -> list[dict[str, Any]]:
    """Events of a text/event-stream body, as Schemathesis reads them (WHATWG rules):
    ``{"event", "data", "id"?, "retry"?}``; comment-only blocks dispatch nothing."""
    events: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}
    data: list[str] = []
    for line in [*re.split(r"\r\n|\r|\n", text), ""]:
        if line == "":
            if data:
                events.append({"event": fields.get("event") or "message", "data": "\n".join(data)})
                events[-1].update({k: v for k, v in fields.items() if k in ("id", "retry")})
            fields, data = {}, []
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name in ("event", "id"):
                fields[name] = value
            elif name == "retry" and value.isdigit():
                fields[name] = int(value)
    return events


# --------------------------------------------------------------------------- loading


@cache
def _raw(uri: str) -> Any:
    path = Path(unquote(urlsplit(uri).path))
    return yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)


def _pointer_get(doc: Any, pointer: str) -> Any:
    node = doc
    if not pointer:
        return node
    for part in pointer.lstrip("/").split("/"):
        key = unquote(part).replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{_escape(str(key))}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def _files_of(root_uri: str) -> list[str]:
    """The root document and every file it reaches through external $refs, transitively."""
    seen = [root_uri]
    queue = [root_uri]
    while queue:
        uri = queue.pop()
        for _, node in _walk(_raw(uri)):
            if isinstance(node, dict) and isinstance(node.get("$ref"), str):
                target, _ = urldefrag(urljoin(uri, node["$ref"]))
                if target not in seen:
                    seen.append(target)
                    queue.append(target)
    return seen


def _to_2020_12(node: Any) -> Any:
    """OpenAPI 3.0 schema dialect -> JSON Schema 2020-12 (``nullable`` is the only gap we use)."""
    if isinstance(node, list):
        return [_to_2020_12(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_2020_12(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    """One service document with the files it references and a registry over all of them."""

    def __init__(self, service: str, path: Path) -> None:
        self.service = service
        self.path = path
        self.uri = path.resolve().as_uri()
        self.doc: dict[str, Any] = _raw(self.uri)
        self.version = str(self.doc["openapi"])
        self.files = _files_of(self.uri)
        convert = self.version.startswith("3.0")
        resources = []
        for uri in self.files:
            contents = _raw(uri)
            if convert:
                contents = _to_2020_12(copy.deepcopy(contents))
            resources.append((uri, DRAFT202012.create_resource(contents)))
        self.registry: Registry[Any] = Registry().with_resources(resources)

    def deref(self, uri: str, pointer: str, node: Any) -> tuple[str, str, Any]:
        """Follow $refs (possibly across files) to the node they point at."""
        for _ in range(20):
            if not (isinstance(node, dict) and "$ref" in node):
                return uri, pointer, node
            target = urljoin(uri, node["$ref"])
            uri, fragment = urldefrag(target)
            pointer = unquote(fragment)
            node = _pointer_get(_raw(uri), pointer)
        raise AssertionError(f"$ref chain too long at {uri}#{pointer}")

    def validator(self, uri: str, pointer: str) -> Any:
        ref = uri + "#" + quote(pointer, safe="/~-_.!$&'()*+,;=:@")
        return Validator({"$ref": ref}, registry=self.registry, format_checker=FORMATS)

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any], str]]:
        """(method, path, operation, pointer) for every operation of the document."""
        for path, item in self.doc.get("paths", {}).items():
            for method in METHODS:
                if method in item:
                    yield method, path, item[method], f"/paths/{_escape(path)}/{method}"

    def parameters(self, path: str, op_ptr: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(uri, pointer, parameter) effective for an operation: path-level ones, overridden
        by the operation's own (same name and location)."""
        found: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {}
        path_ptr = f"/paths/{_escape(path)}"
        for owner in (path_ptr, op_ptr):
            for index, raw in enumerate(_pointer_get(self.doc, owner).get("parameters", [])):
                uri, ptr, param = self.deref(self.uri, f"{owner}/parameters/{index}", raw)
                found[(param["in"], param["name"])] = (uri, ptr, param)
        return list(found.values())

    def media_types(self) -> Iterator[tuple[str, str, dict[str, Any], str, str]]:
        """(operationId, "uri#pointer" of the media object, media object, media type, status
        or "request") for every request and response body of the document."""
        for _, _, op, op_ptr in self.operations():
            op_id = op.get("operationId", op_ptr)
            if "requestBody" in op:
                uri, ptr, body = self.deref(self.uri, f"{op_ptr}/requestBody", op["requestBody"])
                for mt, media in body.get("content", {}).items():
                    yield op_id, f"{uri}#{ptr}/content/{_escape(mt)}", media, mt, "request"
            for status, response in op.get("responses", {}).items():
                uri, ptr, resp = self.deref(self.uri, f"{op_ptr}/responses/{status}", response)
                for mt, media in resp.get("content", {}).items():
                    yield op_id, f"{uri}#{ptr}/content/{_escape(mt)}", media, mt, str(status)


@cache
def load(service: str) -> Spec:
    return Spec(service, SERVICES[service])


def _responses(spec: Spec, op: dict[str, Any], op_ptr: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for status, response in op.get("responses", {}).items():
        yield str(status), spec.deref(spec.uri, f"{op_ptr}/responses/{status}", response)[2]


def _examples(media: dict[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if "example" in media:
        found.append(("example", media["example"]))
    for name, example in media.get("examples", {}).items():
        found.append((f"examples/{name}", example["value"]))
    return found


# --------------------------------------------------------------------------- per document


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_document_is_valid_openapi(service: str) -> None:
    """openapi-spec-validator accepts the document (external $refs resolved from its own URI)."""
    document, base_uri = read_from_filename(str(SERVICES[service]))
    validate(document, base_uri=base_uri)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_files_hold_plain_json_data(service: str) -> None:
    """YAML must not smuggle in dates or other non-JSON types (unquoted timestamps do)."""
    spec = load(service)
    for uri in spec.files:
        for pointer, node in _walk(_raw(uri)):
            assert node is None or isinstance(node, (str, int, float, bool, list, dict)), (
                f"{uri}#{pointer}: {type(node).__name__} is not JSON (quote the value)"
            )
            if isinstance(node, dict):
                assert all(isinstance(k, str) for k in node), f"{uri}#{pointer}: non-string key"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_example_validates_against_its_schema(service: str) -> None:
    """Each request/response example (``example`` and named ``examples``) validates, formats on."""
    spec = load(service)
    problems: list[str] = []
    checked = 0
    for op_id, where, media, mt, kind in spec.media_types():
        examples = _examples(media)
        if not examples:
            problems.append(f"{op_id} {kind} {mt}: no example")
            continue
        assert "schema" in media, f"{op_id} {kind} {mt}: no schema"
        uri, pointer = where.split("#", 1)
        validator = spec.validator(uri, f"{pointer}/schema")
        for name, value in examples:
            instances = [(name, value)]
            if mt == "text/event-stream":
                # The schema describes one event (OpenAPI 3.2 convention); the example is
                # the stream on the wire, as the mock upstream sends it.
                if not isinstance(value, str) or not parse_event_stream(value):
                    problems.append(f"{op_id} {kind} {mt} {name}: not an event stream")
                    continue
                instances = [
                    (f"{name} event #{i}", event)
                    for i, event in enumerate(parse_event_stream(value))
                ]
            for label, instance in instances:
                checked += 1
                for err in validator.iter_errors(instance):
                    path = "/".join(str(p) for p in err.absolute_path)
                    why = err.message[:200]
                    if err.context:  # oneOf/anyOf: say what the closest branch objected to
                        why += f" [{jsonschema.exceptions.best_match(err.context).message}]"
                    problems.append(f"{op_id} {kind} {mt} {label} at /{path}: {why}")
    assert checked > 0
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_parameter_header_and_schema_examples_validate(service: str) -> None:
    """Examples below the media-type level (parameters, response headers, schemas) are shown
    by the portal and used by generators, so they must be valid too."""
    spec = load(service)
    problems: list[str] = []
    checked = 0
    for _, path, op, op_ptr in spec.operations():
        for uri, ptr, resolved in spec.parameters(path, op_ptr):
            if "example" in resolved:
                checked += 1
                validator = spec.validator(uri, f"{ptr}/schema")
                for err in validator.iter_errors(resolved["example"]):
                    problems.append(f"{op['operationId']} {resolved['name']}: {err.message}")
        for status, response in op.get("responses", {}).items():
            uri, ptr, resolved = spec.deref(spec.uri, f"{op_ptr}/responses/{status}", response)
            for name, header in resolved.get("headers", {}).items():
                if "example" in header:
                    checked += 1
                    validator = spec.validator(uri, f"{ptr}/headers/{_escape(name)}/schema")
                    for err in validator.iter_errors(header["example"]):
                        problems.append(f"{op['operationId']} {status} {name}: {err.message}")
    for uri in spec.files:
        for pointer, node in _walk(_raw(uri)):
            if not isinstance(node, dict) or "in" in node or "schema" in node:
                continue  # parameters, headers and media types are handled above
            if not ({"type", "$ref", "format", "pattern"} & set(node)):
                continue
            values = [node["example"]] if "example" in node else []
            if isinstance(node.get("examples"), list):
                values += node["examples"]
            for value in values:
                checked += 1
                for err in spec.validator(uri, pointer).iter_errors(value):
                    problems.append(f"{uri.rsplit('/', 1)[-1]}#{pointer}: {err.message}")
    assert checked > 0
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_operations_follow_the_conventions(service: str) -> None:
    spec = load(service)
    tags = spec.doc.get("tags", [])
    assert len(tags) == 1 and tags[0].get("description"), "one described tag per service"
    tag = tags[0]["name"]
    assert "servers" not in spec.doc, "the gateway config decides upstreams"
    assert {"title", "version", "description"} <= set(spec.doc["info"])
    problems: list[str] = []
    for method, path, op, op_ptr in spec.operations():
        label = f"{method.upper()} {path}"
        op_id = op.get("operationId", "")
        if not CAMEL.match(op_id):
            problems.append(f"{label}: operationId {op_id!r} is not camelCase")
        for key in ("summary", "description"):
            if not op.get(key):
                problems.append(f"{label}: no {key}")
        if op.get("tags") != [tag]:
            problems.append(f"{label}: tags {op.get('tags')} != [{tag}]")
        segments = path.split("/")[1:]
        if segments[:2] != ["api", "v1"] or not all(KEBAB_SEGMENT.match(s) for s in segments):
            problems.append(f"{label}: not a kebab-case /api/v1/ path")
        params = {(p["in"], p["name"]) for _, _, p in spec.parameters(path, op_ptr)}
        for name in re.findall(r"\{([^}]+)\}", path):
            if ("path", name) not in params:
                problems.append(f"{label}: path parameter {name} not declared")
        statuses = set(op.get("responses", {}))
        for status, response in _responses(spec, op, op_ptr):
            if status in GATEWAY_STATUSES or status.startswith("5"):
                problems.append(f"{label}: {status} is the gateway's to declare")
            if status.startswith("4"):
                problems.extend(_check_error_response(label, status, response))
        success = sorted(s for s in statuses if s.startswith("2"))
        if not success:
            problems.append(f"{label}: no 2xx response")
        ok = spec.deref(spec.uri, f"{op_ptr}/responses/{success[0]}", op["responses"][success[0]])
        body = ok[2].get("content", {}).get("application/json")
        is_list = body is not None and method == "get" and _is_list(spec, ok[0], ok[1], body)
        if is_list and not {("query", "cursor"), ("query", "limit")} <= params:
            problems.append(f"{label}: list operation without cursor/limit")
        if method == "post" and "201" in statuses:
            problems.extend(_check_links(spec, label, op, op_ptr))
    assert not problems, "\n".join(problems)


def _is_list(spec: Spec, uri: str, ptr: str, media: dict[str, Any]) -> bool:
    base, schema_ptr, schema = spec.deref(
        uri, f"{ptr}/content/application~1json/schema", media["schema"]
    )
    data = schema.get("properties", {}).get("data")
    if data is None:
        return False
    resolved: dict[str, Any] = spec.deref(base, f"{schema_ptr}/properties/data", data)[2]
    return resolved.get("type") == "array"


def _check_error_response(label: str, status: str, response: dict[str, Any]) -> list[str]:
    problems = []
    codes = response.get("x-error-codes")
    if not isinstance(codes, dict) or not codes:
        return [f"{label} {status}: no x-error-codes"]
    for code, description in codes.items():
        if not UPPER_SNAKE.match(code) or code in GATEWAY_CODES:
            problems.append(f"{label} {status}: bad or gateway-owned code {code}")
        if not isinstance(description, str) or len(description) < 20:
            problems.append(f"{label} {status}: {code} needs a real description")
    media = response.get("content", {}).get("application/json", {})
    example_codes = {value["error"]["code"] for _, value in _examples(media)}
    if example_codes != set(codes):
        problems.append(f"{label} {status}: example codes {example_codes} != {set(codes)}")
    return problems


def _check_links(spec: Spec, label: str, op: dict[str, Any], op_ptr: str) -> list[str]:
    """Create operations link to the operations on what they created, with resolvable ids."""
    response = spec.deref(spec.uri, f"{op_ptr}/responses/201", op["responses"]["201"])[2]
    links = response.get("links", {})
    if not links:
        return [f"{label}: 201 without links"]
    known = {o["operationId"]: (m, p) for m, p, o, _ in spec.operations()}
    example = _examples(response["content"]["application/json"])[0][1]
    problems = []
    for name, link in links.items():
        target = link.get("operationId")
        if target not in known:
            problems.append(f"{label}: link {name} targets unknown operation {target}")
            continue
        path_params = set(re.findall(r"\{([^}]+)\}", known[target][1]))
        if set(link.get("parameters", {})) != path_params:
            problems.append(f"{label}: link {name} parameters != {path_params}")
        for param, expr in link.get("parameters", {}).items():
            if expr.startswith("$response.body#"):
                try:
                    _pointer_get(example, expr.split("#", 1)[1])
                except (KeyError, IndexError):
                    problems.append(f"{label}: link {name}.{param} {expr} not in the example")
            elif not expr.startswith("$request.path."):
                problems.append(f"{label}: link {name}.{param} uses {expr}")
    return problems


# --------------------------------------------------------------------------- whole contract


ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message", "requestId"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "code", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
                "requestId": {"type": "string"},
            },
        },
    },
}


def test_shared_components_are_identical() -> None:
    """Error, Pagination and bearerAuth are re-declared identically, so the merge dedups them;
    executions' own ``Error`` differs, so the merge has to namespace it."""
    paginations: list[tuple[str, Any]] = []
    for service in SERVICES:
        spec = load(service)
        components = spec.doc["components"]
        assert components["securitySchemes"] == {"bearerAuth": BEARER}, service
        assert spec.doc["security"] == [{"bearerAuth": []}], service
        schemas = components["schemas"]
        if service == "executions":
            assert schemas["ErrorEnvelope"] == ERROR_SCHEMA
            assert schemas["Error"] != ERROR_SCHEMA
        else:
            assert schemas["Error"] == ERROR_SCHEMA, service
        if "Pagination" in schemas:
            paginations.append((service, schemas["Pagination"]))
    assert len(paginations) >= 4
    differing = [service for service, p in paginations if p != paginations[0][1]]
    assert not differing, f"Pagination differs from {paginations[0][0]}'s in {differing}"


def test_contract_totals_and_features() -> None:
    op_ids: dict[str, str] = {}
    versions: dict[str, str] = {}
    features: set[str] = set()
    roles: dict[str, list[str]] = {}
    limits: dict[str, Any] = {}
    codes: dict[str, tuple[str, str, str]] = {}
    tags: dict[str, str] = {}
    problems: list[str] = []
    for service in SERVICES:
        spec = load(service)
        versions[service] = spec.version
        if len(spec.files) > 1:
            features.add("external-ref")
        for uri in spec.files[1:]:
            for _, node in _walk(_raw(uri)):
                if isinstance(node, dict) and str(node.get("$ref", "#")).split("#")[0]:
                    features.add("nested-external-ref")
        tag_names = [t["name"] for t in spec.doc.get("tags", [])]
        for name in tag_names:
            if name in tags:
                problems.append(f"tag {name} declared by {tags[name]} and {service}")
            tags[name] = service
        dialect = "3.0" if spec.version.startswith("3.0") else "3.1"
        for uri in spec.files:
            for _, node in _walk(_raw(uri)):
                if not isinstance(node, dict):
                    continue
                if node.get("nullable") is True:
                    features.add(f"{dialect}:nullable")
                if isinstance(node.get("type"), list):
                    features.add(f"{dialect}:type-list")
                if "const" in node:
                    features.add(f"{dialect}:const")
                if isinstance(node.get("examples"), list):
                    features.add(f"{dialect}:schema-examples")
        for pointer, node in _walk(spec.doc):
            if isinstance(node, dict) and "oneOf" in node and "discriminator" in node:
                features.add("oneOf+discriminator")
                mapping = node["discriminator"].get("mapping", {})
                assert len(mapping) == len(node["oneOf"]) >= 2, pointer
        if "x-rate-limit" in spec.doc:
            limits[f"{service}:*"] = spec.doc["x-rate-limit"]
        for _, _, op, op_ptr in spec.operations():
            op_id = op["operationId"]
            if op_id in op_ids:
                problems.append(f"operationId {op_id} in {op_ids[op_id]} and {service}")
            op_ids[op_id] = service
            if "x-roles" in op:
                roles[op_id] = op["x-roles"]
            if "x-rate-limit" in op:
                limits[op_id] = op["x-rate-limit"]
            public = op.get("security") == []
            if public != (op_id in PUBLIC_OPERATIONS):
                problems.append(f"{op_id}: security {op.get('security')}")
            for status, response in _responses(spec, op, op_ptr):
                for mt, media in response.get("content", {}).items():
                    schema = spec.deref(spec.uri, "", media.get("schema", {}))[2]
                    examples = [value for _, value in _examples(media)]
                    if mt == "text/event-stream" and all(
                        isinstance(v, str) and "\ndata: " in v for v in examples
                    ):
                        features.add("sse")
                    binary = mt == "application/octet-stream" and schema.get("format") == "binary"
                    if binary and all(isinstance(v, str) for v in examples):
                        features.add("binary")
                for code, description in response.get("x-error-codes", {}).items():
                    seen = codes.setdefault(code, (status, description, service))
                    if seen[:2] != (status, description):
                        problems.append(f"{code}: {service} {status} vs {seen[2]} {seen[0]}")
            body = op.get("requestBody")
            if body is not None:
                resolved = spec.deref(spec.uri, "", body)[2]
                if "multipart/form-data" in resolved.get("content", {}):
                    features.add("multipart")
    assert not problems, "\n".join(problems)
    assert len(op_ids) >= 42
    assert sum(v.startswith("3.0") for v in versions.values()) >= 2, versions
    assert sum(v.startswith("3.1") for v in versions.values()) >= 2, versions
    assert features >= {
        "external-ref",
        "nested-external-ref",
        "oneOf+discriminator",
        "sse",
        "binary",
        "multipart",
        "3.0:nullable",
        "3.1:type-list",
        "3.1:const",
        "3.1:schema-examples",
    }, features
    assert not any(f.startswith("3.0:") and f != "3.0:nullable" for f in features), features
    assert limits["login"] == {"limit": 5, "window": 60, "per": "ip"}
    assert limits["registerAccount"] == {"limit": 3, "window": 60, "per": "ip"}
    assert limits["executions:*"] == {"limit": 30, "window": 60, "per": "user"}
    for op_id in ("createCourse", "updateCourse", "deleteCourse", "createLesson"):
        assert roles[op_id] == ["instructor", "admin"], op_id
    for op_id in ("listUsers", "changeUserRole"):
        assert roles[op_id] == ["admin"], op_id
    expected_codes = {
        "INVALID_CREDENTIALS",
        "EMAIL_ALREADY_REGISTERED",
        "REFRESH_TOKEN_INVALID",
        "USER_NOT_FOUND",
        "COURSE_NOT_FOUND",
        "LESSON_NOT_FOUND",
        "ALREADY_ENROLLED",
        "SUBSCRIPTION_REQUIRED",
        "CONVERSATION_NOT_FOUND",
        "EXECUTION_NOT_FOUND",
        "EXECUTION_TIMEOUT",
        "LANGUAGE_NOT_SUPPORTED",
        "FILE_NOT_FOUND",
        "FILE_TOO_LARGE",
    }
    assert expected_codes <= set(codes), expected_codes - set(codes)
    assert codes["SUBSCRIPTION_REQUIRED"][0] == "402"
    assert codes["FILE_TOO_LARGE"][0] == "413"


# Components deliberately declared differently under the same name, so that the merge's
# namespacing (``Executions_Error``) is exercised by the real demo.
DELIBERATELY_DIFFERENT = {
    ("schemas", "Error", "executions"),
    ("responses", "InvalidCursor", "executions"),
}
# Keywords whose meaning or spelling differs between OpenAPI 3.0 and 3.1 schemas: a component
# shared by a 3.0 and a 3.1 document must avoid them, or conversion would make the two differ.
VERSION_SPECIFIC = {
    "nullable",
    "example",
    "examples",
    "const",
    "exclusiveMinimum",
    "exclusiveMaximum",
}


def _component_definitions() -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> {service: definition} over every document and the files it references
    (top-level entries of external files become components of the same name when bundled)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for service in SERVICES:
        spec = load(service)
        for kind, entries in spec.doc.get("components", {}).items():
            for name, definition in entries.items():
                found.setdefault((kind, name), {})[service] = definition
        for uri in spec.files[1:]:
            for name, definition in _raw(uri).items():
                kind = "parameters" if {"in", "name"} <= set(definition) else "schemas"
                found.setdefault((kind, name), {})[f"{service}:{uri}"] = definition
    return found


def test_same_named_components_are_identical() -> None:
    """Only the deliberate clashes get namespaced; every other shared name dedups in the merge."""
    problems = []
    for (kind, name), definitions in sorted(_component_definitions().items()):
        kept = {
            owner: d
            for owner, d in definitions.items()
            if (kind, name, owner.split(":")[0]) not in DELIBERATELY_DIFFERENT
        }
        values = list(kept.values())
        if any(v != values[0] for v in values[1:]):
            problems.append(f"{kind}/{name} differs between {sorted(kept)}")
        owners = {o.split(":")[0] for o in kept}
        versions = {load(o).version[:3] for o in owners}
        if kind == "schemas" and len(versions) > 1:
            used = {
                key
                for _, node in _walk(values[0])
                if isinstance(node, dict)
                for key in node
                if key in VERSION_SPECIFIC or (key == "type" and isinstance(node[key], list))
            }
            if used:
                problems.append(f"{kind}/{name} is shared by 3.0 and 3.1 docs but uses {used}")
    assert not problems, "\n".join(problems)
    assert ("schemas", "Pagination") in _component_definitions()


def test_every_file_in_specs_is_reached() -> None:
    """No orphaned fragment: each YAML/JSON file under specs/ is a service document or is
    reached from one through $refs (otherwise edits to it would silently change nothing)."""
    reached = {uri for service in SERVICES for uri in load(service).files}
    on_disk = {
        p.resolve().as_uri() for p in SPECS.rglob("*") if p.suffix in {".yaml", ".yml", ".json"}
    }
    assert on_disk - reached == set()
    assert len(reached) > len(SERVICES)
