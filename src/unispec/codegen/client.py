"""``generated/client/``: a typed Python client package for the unified contract.

The package is rendered from jinja2 templates (``templates/client/``) with data
computed here from the contract: one method per operation, named from its
operationId in snake_case and grouped by ``x-service`` (``client.courses.
list_courses(...)``), in a sync (``Client``) and an async (``AsyncClient``) flavour
on httpx. Parameters are typed from their schemas, bodies and results are the
models of ``models.py`` (a copy ships inside the package so it is
self-contained), the error envelope becomes a typed exception per catalog code,
``Authorization: Bearer`` is added from the token given to the client, and
operations paginated with ``meta.pagination.nextCursor`` get an ``iter_*`` helper.
"""

from __future__ import annotations

import ast
import functools
import json
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from unispec.codegen.models import class_name, render_models
from unispec.errors import UnispecError
from unispec.model import HTTP_METHODS, JSONDict, UnifiedSpec

CLIENT_DIR = "client"
"""Relative to generated/."""

_CLIENT_ATTRIBUTES = frozenset({"token", "close", "aclose"})
"""Names the client classes use themselves; a service of that name gets ``_service``."""

_RESERVED_ARGUMENTS = frozenset(
    {"self", "body", "timeout", "start_cursor", "max_pages", "models", "httpx", "Any", "Literal"}
)
"""Names the generated methods use themselves; a parameter of that name gets ``_2``."""

_TEMPLATES = ("__init__.py", "_core.py", "errors.py", "services.py")


def snake_case(name: str) -> str:
    """``listCourses`` -> ``list_courses``, ``getHTTPStatus`` -> ``get_http_status``."""
    text = re.sub(r"[^0-9A-Za-z]+", "_", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"_+", "_", text).strip("_").lower() or "operation"
    if text[0].isdigit():
        text = "op_" + text
    if keyword.iskeyword(text) or text in {"self", "close"}:
        text += "_"
    return text


def pascal_case(name: str) -> str:
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    text = "".join(
        p[0].upper() + p[1:].lower() if p.isupper() else p[0].upper() + p[1:] for p in parts
    )
    return text if text and not text[0].isdigit() else "X" + text


@dataclass
class Param:
    name: str
    """The Python argument name."""
    wire: str
    """The name on the wire."""
    location: str
    annotation: str
    required: bool
    description: str = ""


@dataclass
class Method:
    name: str
    operation_id: str
    http_method: str
    path: str
    summary: str
    description: str
    params: list[Param]
    body: str | None
    """``json``, ``form``, ``multipart``, ``bytes`` or None."""
    body_annotation: str
    body_required: bool
    body_media_type: str
    returns: str
    """The return annotation."""
    parse: str
    """``model``, ``list``, ``json``, ``bytes``, ``text`` or ``none``."""
    model: str = ""
    """Model class (for ``model`` and ``list`` parsing)."""
    secured: bool = False
    paginated: bool = False
    item_annotation: str = "Any"
    item_model: str = ""

    def signature(self, *, paging: bool = False) -> list[str]:
        """Parameter lines after ``self``: path params positional, the rest keyword-only."""
        lines = [f"{p.name}: {p.annotation}" for p in self.params if p.location == "path"]
        lines.append("*")
        if self.body:
            default = "" if self.body_required else " | None = None"
            lines.append(f"body: {self.body_annotation}{default}")
        rest = [p for p in self.params if p.location != "path"]
        lines.extend(f"{p.name}: {p.annotation}" for p in rest if p.required)
        for p in rest:
            if p.required or (paging and p.location == "query" and p.wire == "cursor"):
                continue
            lines.append(f"{p.name}: {p.annotation} | None = None")
        if paging:
            lines += ["start_cursor: str | None = None", "max_pages: int = 1000"]
        lines.append("timeout: float | None = None")
        return lines

    def arguments(self, location: str, *, paging: bool = False) -> str:
        """The ``{wire: value}`` dict literal of one parameter location."""
        items = []
        for p in self.params:
            if p.location != location:
                continue
            paged = paging and location == "query" and p.wire == "cursor"
            value = "_cursor" if paged else p.name
            items.append(f"{_literal(p.wire)}: {value}")
        return "{" + ", ".join(items) + "}"


@dataclass
class Service:
    attribute: str
    class_name: str
    name: str
    methods: list[Method] = field(default_factory=list)


@dataclass
class ErrorClass:
    name: str
    code: str
    status: int
    description: str


def _deref(document: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 32:
        target: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                return node
            target = target[part]
        return _deref(document, target, depth + 1)
    return node


def _model_of(schema: Any) -> str | None:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return class_name(ref.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~"))
    return None


def _py_type(document: Mapping[str, Any], schema: Any, depth: int = 0) -> str:
    """A parameter's annotation (parameters are scalars or arrays of scalars)."""
    schema = _deref(document, schema)
    if not isinstance(schema, dict) or depth > 4:
        return "Any"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        return "Literal[" + ", ".join(_literal(v) for v in enum) + "]"
    type_ = schema.get("type")
    if isinstance(type_, list):
        types = [t for t in type_ if t != "null"]
        type_ = types[0] if len(types) == 1 else None
    scalar = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
    if isinstance(type_, str) and type_ in scalar:
        return scalar[type_]
    if type_ == "array":
        return f"list[{_py_type(document, schema.get('items'), depth + 1)}]"
    if type_ == "object":
        return "Mapping[str, Any]"
    return "Any"


def _unique(name: str, taken: set[str]) -> str:
    base = name
    n = 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    taken.add(name)
    return name


def _first_success(responses: Mapping[str, Any]) -> tuple[str, Any] | None:
    def key(status: str) -> tuple[int, str]:
        digits = status.upper().replace("X", "0")
        return (int(digits), status) if digits.isdigit() else (1000, status)

    for raw, response in sorted(responses.items(), key=lambda kv: key(str(kv[0]))):
        if str(raw).startswith("2"):
            return str(raw), response
    return None


def _json_media(content: Any) -> tuple[str, Any] | None:
    if not isinstance(content, dict):
        return None
    for media_type in sorted(content):
        if media_type == "application/json" or media_type.endswith("+json"):
            return media_type, content[media_type]
    return None


def _paginated(document: Mapping[str, Any], schema: Any) -> tuple[bool, Any]:
    """Whether a response schema is a page (``data`` array + ``meta.pagination.nextCursor``)."""
    resolved = _deref(document, schema)
    props = resolved.get("properties") if isinstance(resolved, dict) else None
    if not isinstance(props, dict):
        return False, None
    meta = _deref(document, props.get("meta"))
    pagination = _deref(document, (meta or {}).get("properties", {}).get("pagination"))
    cursor = (pagination or {}).get("properties", {}).get("nextCursor")
    data = _deref(document, props.get("data"))
    if cursor is None or not isinstance(data, dict) or data.get("type") != "array":
        return False, None
    return True, data.get("items")


def _method(
    document: Mapping[str, Any], path: str, http_method: str, item: Mapping[str, Any], op: Any
) -> Method:
    operation_id = op["operationId"]
    taken: set[str] = set(_RESERVED_ARGUMENTS)
    params: list[Param] = []
    merged: dict[tuple[str, str], Any] = {}
    for raw in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
        param = _deref(document, raw)
        if isinstance(param, dict) and "name" in param and "in" in param:
            merged[(param["in"], param["name"])] = param
    order = {"path": 0, "query": 1, "header": 2, "cookie": 3}
    for (location, wire), param in sorted(
        merged.items(), key=lambda kv: (order.get(kv[0][0], 9), not kv[1].get("required"))
    ):
        if location == "header" and wire.lower() in {"authorization", "content-type", "accept"}:
            continue
        name = _unique(snake_case(wire), taken)
        params.append(
            Param(
                name=name,
                wire=wire,
                location=location,
                annotation=_py_type(document, param.get("schema")),
                required=bool(param.get("required")) or location == "path",
                description=" ".join(str(param.get("description", "")).split()),
            )
        )
    path_names = re.findall(r"{([^}]+)}", path)
    for wire in path_names:
        if not any(p.location == "path" and p.wire == wire for p in params):
            params.insert(0, Param(_unique(snake_case(wire), taken), wire, "path", "str", True))

    body_kind: str | None = None
    body_annotation = ""
    body_media_type = ""
    body_required = False
    request_body = _deref(document, op.get("requestBody"))
    if isinstance(request_body, dict) and isinstance(request_body.get("content"), dict):
        content = request_body["content"]
        body_required = bool(request_body.get("required"))
        json_media = _json_media(content)
        if json_media is not None:
            body_kind = "json"
            body_media_type = json_media[0]
            model = _model_of((json_media[1] or {}).get("schema"))
            body_annotation = f"models.{model} | Mapping[str, Any]" if model else "Any"
        elif "multipart/form-data" in content:
            body_kind, body_media_type = "multipart", "multipart/form-data"
            body_annotation = "Mapping[str, Any]"
        elif "application/x-www-form-urlencoded" in content:
            body_kind, body_media_type = "form", "application/x-www-form-urlencoded"
            body_annotation = "Mapping[str, Any]"
        elif content:
            body_kind, body_media_type = "bytes", sorted(content)[0]
            body_annotation = "bytes"

    returns, parse, model_name = "None", "none", ""
    paginated, item_annotation, item_model = False, "Any", ""
    success = _first_success(op.get("responses") or {})
    if success is not None:
        response = _deref(document, success[1])
        content = response.get("content") if isinstance(response, dict) else None
        json_media = _json_media(content)
        if json_media is not None:
            schema = (json_media[1] or {}).get("schema")
            model = _model_of(schema)
            resolved = _deref(document, schema)
            items = resolved.get("items") if isinstance(resolved, dict) else None
            if model:
                returns, parse, model_name = f"models.{model}", "model", model
                has_cursor = any(p.wire == "cursor" and p.location == "query" for p in params)
                paginated, items_schema = _paginated(document, schema)
                paginated = paginated and has_cursor
                item_model = _model_of(items_schema) or ""
                item_annotation = f"models.{item_model}" if item_model else "Any"
            elif (
                isinstance(resolved, dict) and resolved.get("type") == "array" and _model_of(items)
            ):
                model_name = _model_of(items) or ""
                returns, parse = f"list[models.{model_name}]", "list"
            else:
                returns, parse = "Any", "json"
        elif isinstance(content, dict) and content:
            media = sorted(content)[0]
            if media.startswith("text/"):
                returns, parse = "str", "text"
            else:
                returns, parse = "bytes", "bytes"
    security = op.get("security", document.get("security"))
    return Method(
        name=snake_case(operation_id),
        operation_id=operation_id,
        http_method=http_method.upper(),
        path=path,
        summary=" ".join(str(op.get("summary", "")).split()),
        description=str(op.get("description", "")).strip(),
        params=params,
        body=body_kind,
        body_annotation=body_annotation,
        body_required=body_required,
        body_media_type=body_media_type,
        returns=returns,
        parse=parse,
        model=model_name,
        secured=bool(security),
        paginated=paginated,
        item_annotation=item_annotation,
        item_model=item_model,
    )


def collect(document: JSONDict) -> list[Service]:
    """Operations grouped by ``x-service``, in contract order (paths, then methods)."""
    services: dict[str, Service] = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for http_method in HTTP_METHODS:
            op = item.get(http_method)
            if not isinstance(op, dict) or not isinstance(op.get("operationId"), str):
                continue
            service_name = str(op.get("x-service") or "default")
            service = services.get(service_name)
            if service is None:
                attribute = snake_case(service_name)
                if attribute in _CLIENT_ATTRIBUTES:
                    attribute += "_service"
                service = Service(
                    attribute=attribute,
                    class_name=pascal_case(service_name) + "Service",
                    name=service_name,
                )
                services[service_name] = service
            service.methods.append(_method(document, path, http_method, item, op))
    for service in services.values():
        taken: set[str] = set()
        for method in service.methods:
            method.name = _unique(method.name, taken)
            if method.paginated:
                taken.add("iter_" + method.name)
    return sorted(services.values(), key=lambda s: s.attribute)


def _error_classes(spec: UnifiedSpec) -> list[ErrorClass]:
    out: list[ErrorClass] = []
    taken = {"ApiError", "UnexpectedResponseError", "ERROR_CLASSES"}
    for error in sorted(spec.errors, key=lambda e: e.code):
        name = pascal_case(error.code.lower())
        name = name if name.endswith("Error") else name + "Error"
        while name in taken:
            name += "_"
        taken.add(name)
        out.append(ErrorClass(name, error.code, error.status, " ".join(error.description.split())))
    return out


def _literal(value: Any) -> str:
    """A Python literal; strings double-quoted like the rest of the generated code."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("unispec.codegen", "templates"),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pyrepr"] = _literal
    env.filters["docline"] = lambda text: str(text).replace("\\", "\\\\").replace('"""', "'''")
    return env


def _check(text: str, name: str) -> str:
    try:
        ast.parse(text)
    except SyntaxError as exc:  # a template bug, never a user mistake
        raise UnispecError(f"generated/client/{name}: rendered code does not parse: {exc}") from exc
    return text


_MODEL_REF = re.compile(r"\bmodels\.([A-Za-z_][A-Za-z0-9_]*)")


def _actual_model_names(text: str, models: str) -> str:
    """``models.X`` as the class models.py really defines.

    datamodel-code-generator renames a class whose name clashes with a name its module
    imports (a component ``Field``, ``Any``, ``Literal``, ``BaseModel`` becomes
    ``FieldModel``...): ``models.Field`` would be pydantic's ``Field`` and every call
    returning it would fail with AttributeError.
    """
    defined = set(re.findall(r"^class ([A-Za-z_][A-Za-z0-9_]*)\(", models, re.MULTILINE))

    def actual(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in defined and name + "Model" in defined:
            name += "Model"
        return "models." + name

    return _MODEL_REF.sub(actual, text)


def render_client(spec: UnifiedSpec, models_source: str | None = None) -> dict[str, bytes]:
    """Every file of the client package, keyed ``client/<file>`` (relative to generated/)."""
    document = spec.document
    info = document.get("info") or {}
    servers = document.get("servers") or []
    default_url = servers[0].get("url", "http://127.0.0.1:8080") if servers else ""
    services = collect(document)
    context = {
        "title": " ".join(str(info.get("title", "API")).split()),
        "version": str(info.get("version", "")),
        "default_base_url": default_url or "http://127.0.0.1:8080",
        "services": services,
        "errors": _error_classes(spec),
    }
    env = _environment()
    models = models_source if models_source is not None else render_models(document)
    files: dict[str, bytes] = {}
    for name in _TEMPLATES:
        text = env.get_template(f"client/{name}.jinja2").render(**context)
        text = _check(_actual_model_names(text, models), name)
        files[f"{CLIENT_DIR}/{name}"] = text.encode("utf-8")
    files[f"{CLIENT_DIR}/models.py"] = models.encode("utf-8")
    files[f"{CLIENT_DIR}/py.typed"] = b""
    files[f"{CLIENT_DIR}/{MANIFEST}"] = manifest(services)
    return files


MANIFEST = "operations.json"
"""How each operation is called through the client, for the docs portal's SDK samples."""


def manifest(services: list[Service]) -> bytes:
    """``{operationId: {service, method, path, query}}``: the names the client really uses.

    The portal may not import codegen, and snake-casing the operationId is not
    enough: a method can get ``_2``, a service ``_service``, an argument named like
    the client's own (``timeout``) ``_2``. ``path`` lists the positional arguments
    in signature order as ``[wire, name]``; ``query`` maps wire names to keywords.
    """
    out: dict[str, Any] = {}
    for service in services:
        for method in service.methods:
            out[method.operation_id] = {
                "service": service.attribute,
                "method": method.name,
                "path": [[p.wire, p.name] for p in method.params if p.location == "path"],
                "query": {p.wire: p.name for p in method.params if p.location == "query"},
            }
    lines = [
        f"  {json.dumps(op_id, ensure_ascii=False)}: "
        f"{json.dumps(out[op_id], sort_keys=True, ensure_ascii=False)}"
        for op_id in sorted(out)
    ]
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()  # one line per operation


def generate_client(spec: UnifiedSpec) -> dict[str, bytes]:
    """``{"client/...": bytes}`` (relative to generated/): the typed client package."""
    return render_client(spec)
