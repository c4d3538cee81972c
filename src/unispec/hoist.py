"""Give every inline request/response body schema a stable component name.

Client generators name anonymous schemas after their position (``InlineObject3``,
``Response1``) and renumber them whenever an unrelated operation changes, so an
SDK's public types would drift with every contract edit. Hoisting the inline
object schemas of request bodies and responses into ``components.schemas`` under
names derived from the operationId keeps generated type names readable and
stable: a name only changes when its own operation is renamed.

Naming scheme (``<Op>`` is the operationId in PascalCase):

* request body: ``<Op>Request``
* the first 2xx response (lowest status code): ``<Op>Response``
* any other response: ``<Op><Status>Response`` (``GetCourse404Response``,
  ``GetCourseDefaultResponse``, ``GetCourse4XXResponse``)
* an array body whose items are an inline object keeps the array inline and
  hoists the items as ``<Name>Item``.

A name that is already taken gets the smallest free numeric suffix (``2``, ``3``,
...); paths are visited in document order and methods in ``HTTP_METHODS`` order,
so the outcome is deterministic. Pure: the input document is never modified.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from unispec.model import HTTP_METHODS, Finding, JSONDict

_OBJECT_KEYWORDS = ("properties", "additionalProperties", "patternProperties", "allOf", "oneOf")
_OBJECT_KEYWORDS_ANY = (*_OBJECT_KEYWORDS, "anyOf")


def pascal_case(operation_id: str) -> str:
    """``createCourse`` -> ``CreateCourse``; ``list-courses``/``list_courses`` -> ``ListCourses``.

    Existing inner capitals are kept (``getHTTPStatus`` -> ``GetHTTPStatus``) so that
    the operationId a reader searches for is still recognisable in the type name.
    """
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", operation_id) if p]
    name = "".join(p[0].upper() + p[1:] for p in parts)
    if not name:
        return "Operation"
    if name[0].isdigit():
        name = "Op" + name
    return name


def _is_object_schema(schema: Any) -> bool:
    """An inline schema worth naming: an object, or a composition that yields one."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return False
    type_ = schema.get("type")
    if type_ == "object" or (isinstance(type_, list) and "object" in type_):
        return True
    if type_ is None:
        return any(k in schema for k in _OBJECT_KEYWORDS_ANY)
    return False


def _status_sort_key(status: str) -> tuple[int, str]:
    digits = status.replace("X", "0").replace("x", "0")
    return (int(digits), status) if digits.isdigit() else (1000, status)


def _first_success(statuses: list[str]) -> str | None:
    ordered = sorted(statuses, key=_status_sort_key)
    for status in ordered:
        if status.upper().startswith("2"):
            return status
    return None


class _Namer:
    """Hands out names that clash neither with existing components nor each other."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken

    def claim(self, wanted: str) -> str:
        if wanted not in self.taken:
            self.taken.add(wanted)
            return wanted
        n = 2
        while f"{wanted}{n}" in self.taken:
            n += 1
        name = f"{wanted}{n}"
        self.taken.add(name)
        return name


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def hoist_inline_schemas(
    document: JSONDict, *, in_place: bool = False
) -> tuple[JSONDict, list[Finding]]:
    """Return ``document`` (a copy unless ``in_place``) with inline body schemas in components.

    Findings report names that had to be suffixed because the natural name was
    already taken (level ``info``): the contract stays valid, but the author may
    prefer to rename the clashing component or the operation. Merge passes
    ``in_place=True`` for the document it has just built: copying it cost a
    quarter of a 100-service build.
    """
    doc = document if in_place else copy.deepcopy(document)
    findings: list[Finding] = []
    components = doc.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    namer = _Namer(set(schemas))
    paths = doc.get("paths") or {}

    def hoist(schema_holder: dict[str, Any], wanted: str, pointer: str) -> None:
        schema = schema_holder.get("schema")
        if _is_object_schema(schema):
            name = namer.claim(wanted)
            if name != wanted:
                findings.append(
                    Finding(
                        rule="hoist-name-taken",
                        level="info",
                        message=(
                            f"{pointer}/schema: inline schema named {name!r} because "
                            f"{wanted!r} is already a component name"
                        ),
                    )
                )
            schemas[name] = schema
            schema_holder["schema"] = {"$ref": f"#/components/schemas/{name}"}
            return
        if (
            isinstance(schema, dict)
            and "$ref" not in schema
            and schema.get("type") == "array"
            and _is_object_schema(schema.get("items"))
        ):
            holder = {"schema": schema["items"]}
            hoist(holder, wanted + "Item", pointer + "/schema")
            schema["items"] = holder["schema"]

    def hoist_content(
        content: Any, wanted: str, pointer: str, seen: dict[str, dict[str, Any]]
    ) -> None:
        if not isinstance(content, dict):
            return
        for media_type, media in content.items():
            if not isinstance(media, dict) or not isinstance(media.get("schema"), dict):
                continue
            media_pointer = f"{pointer}/content/{_escape(media_type)}"
            # The same inline schema under several media types becomes one component.
            key = repr(media["schema"])
            if key in seen:
                media["schema"] = copy.deepcopy(seen[key])
                continue
            hoist(media, wanted, media_pointer)
            seen[key] = media["schema"]

    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict) or not isinstance(op.get("operationId"), str):
                continue
            base = pascal_case(op["operationId"])
            op_pointer = f"/paths/{_escape(path)}/{method}"
            body = op.get("requestBody")
            if isinstance(body, dict) and "$ref" not in body:
                body_pointer = op_pointer + "/requestBody"
                hoist_content(body.get("content"), base + "Request", body_pointer, {})
            responses = op.get("responses")
            if not isinstance(responses, dict):
                continue
            statuses = [str(s) for s in responses]
            success = _first_success(statuses)
            ordered = sorted(responses.items(), key=lambda kv: _status_sort_key(str(kv[0])))
            for raw_status, response in ordered:
                status = str(raw_status)
                if not isinstance(response, dict) or "$ref" in response:
                    continue
                if status == success:
                    wanted = base + "Response"
                else:
                    label = "Default" if status == "default" else status.upper()
                    wanted = f"{base}{label}Response"
                hoist_content(
                    response.get("content"),
                    wanted,
                    f"{op_pointer}/responses/{_escape(status)}",
                    {},
                )
    if not schemas:
        components.pop("schemas")
    if not components:
        doc.pop("components")
    return doc, findings
