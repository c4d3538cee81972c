"""Fast validation of one OpenAPI document, every problem with its JSON pointer.

openapi-spec-validator is the reference, but it walks the document in Python
(seconds for a 4 MB spec) and reports some problems without a location. Here
the structural part runs against the official OpenAPI JSON Schemas (shipped
with openapi-spec-validator) compiled once with jsonschema-rs, and the
semantic checks that matter are done in one pass over the document: schema
objects against their meta-schema (3.1), ``default`` values against their
schema, duplicate and undeclared path parameters, duplicate operationIds and
dangling local ``$ref``s. ``UNISPEC_VALIDATOR=osv`` switches back to
openapi-spec-validator for comparison.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs

from unispec import refs
from unispec.model import HTTP_METHODS

Problems = list[tuple[str, str]]

_MAX_MESSAGE = 240


@functools.cache
def _oas_validator(version: str) -> Any:
    # find_spec locates the package without importing it (its import costs seconds).
    spec = importlib.util.find_spec("openapi_spec_validator")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("openapi-spec-validator (which ships the OpenAPI schemas) is missing")
    folder = Path(next(iter(spec.submodule_search_locations))) / "resources" / "schemas"
    schema = json.loads((folder / f"v{version}" / "schema.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _best(error: Any) -> Any:
    """The most specific cause of a oneOf/anyOf failure (deepest instance path)."""
    kind = getattr(error, "kind", None)
    context = getattr(kind, "context", None)
    if not context:
        return error
    candidates = []
    for branch in context:
        useful = [e for e in branch if '"$ref" is a required property' not in e.message]
        if useful and len(useful) == len(branch):
            candidates.extend(useful)
    if not candidates:
        return error
    deepest = max(candidates, key=lambda e: len(list(e.instance_path)))
    if len(list(deepest.instance_path)) <= len(list(error.instance_path)):
        return error
    return _best(deepest)


def _message(error: Any) -> str:
    msg = str(error.message)
    if msg.startswith(("{", "[")) and " is not valid under any of the schemas" in msg:
        return "is not a valid object here (matches none of the allowed shapes)"
    return _short(msg)


def _structural(document: dict[str, Any], version: str) -> Problems:
    out: Problems = []
    for error in _oas_validator(version).iter_errors(document):
        best = _best(error)
        out.append((refs.join("", *list(best.instance_path)), _message(best)))
    return out


def _meta_problems(document: dict[str, Any]) -> Problems:
    """3.1 schema objects are JSON Schema 2020-12: check each against the meta-schema."""
    out: Problems = []
    for ptr, schema in refs.iter_root_schemas(document):
        if isinstance(schema, bool):
            continue
        if not isinstance(schema, dict):
            out.append((ptr, "a schema must be an object or a boolean"))
            continue
        dialect = schema.get("$schema")
        if dialect is None or _is_oas_dialect(dialect):
            probe = {**schema, "$schema": _DRAFT_2020}
        elif isinstance(dialect, str) and _KNOWN_DRAFT.match(dialect):
            probe = schema
        else:
            continue  # a custom dialect cannot be checked offline (never fetch it)
        try:
            jsonschema_rs.meta.validate(probe)
        except jsonschema_rs.ValidationError as exc:
            out.append((refs.join(ptr, *list(exc.instance_path)), _short(str(exc.message))))
        except Exception as exc:  # unknown $schema dialect and the like
            out.append((ptr, _short(f"cannot check schema: {exc}")))
    return out


_DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema"
_KNOWN_DRAFT = re.compile(
    r"^https?://json-schema\.org/(draft-0[4-7]/schema|draft/(2019-09|2020-12)/schema)#?$"
)
"""Meta-schemas jsonschema-rs ships; any other ``$schema`` it would try to download."""


def _is_oas_dialect(uri: Any) -> bool:
    """The OpenAPI 3.1 dialect (``.../oas/3.1/dialect/base``): JSON Schema 2020-12 plus
    OpenAPI's own keywords, which 2020-12 allows as unknown keywords."""
    return isinstance(uri, str) and uri.startswith(
        ("https://spec.openapis.org/oas/3.1/dialect/", "http://spec.openapis.org/oas/3.1/dialect/")
    )


_DOC_URI = "urn:unispec:document"


def _default_problems(document: dict[str, Any], version: str) -> Problems:
    """``default`` values must satisfy their own schema (a default outside its enum...)."""
    out: Problems = []
    if not _has_key(document, "default"):
        return out  # the common case for big generated specs: skip the pointer-building walk
    holders = [
        (ptr, schema)
        for ptr, schema in refs.iter_all_schemas(document)
        if isinstance(schema, dict) and "default" in schema
    ]
    if not holders:
        return out
    if version == "3.0":
        from unispec.convert import convert_schema_30

    registry = jsonschema_rs.Registry([(_DOC_URI, document)])

    def absolute(ref: str) -> str:
        return _DOC_URI + ref if ref.startswith("#") else ref

    for ptr, schema in holders:
        probe = refs.rewrite_refs(schema, absolute)
        if version == "3.0":
            for _p, sub in list(refs.iter_subschemas(probe, "")):
                convert_schema_30(sub)
        probe = {k: v for k, v in probe.items() if k not in ("example", "examples")}
        probe["$schema"] = _DRAFT_2020
        try:
            validator = jsonschema_rs.validator_for(probe, registry=registry)
            errors = list(validator.iter_errors(schema["default"]))
        except Exception:  # an unresolvable $ref is reported by _ref_problems
            continue
        if errors:
            out.append(
                (
                    refs.join(ptr, "default"),
                    _short(f"default value does not match its schema: {errors[0].message}"),
                )
            )
    return out


def _has_key(node: Any, key: str) -> bool:
    """Whether any object anywhere in ``node`` has ``key`` (a cheap walk, no pointers)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if key in cur:
                return True
            stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            stack.extend(v for v in cur if isinstance(v, (dict, list)))
    return False


_PATH_PARAM = re.compile(r"\{([^}/]+)\}")


def _parameter_problems(document: dict[str, Any]) -> Problems:
    out: Problems = []
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return out
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        item_ptr = refs.join("", "paths", path)
        template = _PATH_PARAM.findall(path)
        shared = _params(document, item.get("parameters"))
        out.extend(_duplicates(shared, refs.join(item_ptr, "parameters")))
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op_ptr = refs.join(item_ptr, method)
            own = _params(document, op.get("parameters"))
            out.extend(_duplicates(own, refs.join(op_ptr, "parameters")))
            declared = {name for (name, where), _i in {**shared, **own}.items() if where == "path"}
            for name in template:
                if name not in declared:
                    out.append(
                        (
                            op_ptr,
                            f"path parameter {{{name}}} of {method.upper()} {path} is not declared "
                            "(add a parameter with `in: path`)",
                        )
                    )
            for (name, where), idx in own.items():
                if where == "path" and name not in template:
                    out.append(
                        (
                            refs.join(op_ptr, "parameters", idx),
                            f"path parameter {name!r} is declared but {path} has no {{{name}}}",
                        )
                    )
    return out


def _params(document: dict[str, Any], raw: Any) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    if not isinstance(raw, list):
        return found
    for i, param in enumerate(raw):
        p = refs.deref(document, param)
        if isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("in"), str):
            key = (p["name"], p["in"])
            if key in found:
                found[(f"{key[0]}\0dup{i}", key[1])] = i  # keep for the duplicate report
            else:
                found[key] = i
    return found


def _duplicates(found: dict[tuple[str, str], int], ptr: str) -> Problems:
    out: Problems = []
    for (name, where), idx in found.items():
        if "\0dup" in name:
            real = name.split("\0", 1)[0]
            out.append((refs.join(ptr, idx), f"duplicate parameter {real!r} in {where}"))
    return out


def _operation_id_problems(document: dict[str, Any]) -> Problems:
    out: Problems = []
    seen: dict[str, str] = {}
    for path, method, op in refs.iter_operations(document):
        op_id = op.get("operationId")
        if not isinstance(op_id, str):
            continue
        ptr = refs.join("", "paths", path, method, "operationId")
        if op_id in seen:
            out.append((ptr, f"operationId {op_id!r} is already used at {seen[op_id]}"))
        else:
            seen[op_id] = f"{method.upper()} {path}"
    return out


def _ref_problems(document: dict[str, Any]) -> Problems:
    out: Problems = []
    resolved: set[str] = set()
    for chain, ref in refs.iter_ref_chains(document):
        if not ref.startswith("#") or ref in resolved:
            continue  # bundling already reported external refs it could not follow
        try:
            refs.resolve(document, ref)
        except (KeyError, IndexError, ValueError):
            ptr = refs.chain_pointer("", chain)
            out.append((refs.join(ptr, "$ref"), f"$ref {ref!r} points to nothing in this document"))
        else:
            resolved.add(ref)
    return out


def _python_patterns(document: dict[str, Any], problems: Problems) -> tuple[Problems, Problems]:
    """Split out errors caused only by Python-style regexes (warnings, see module doc)."""
    errors: Problems = []
    warnings: Problems = []
    for ptr, message in problems:
        if _is_python_only_pattern(document, ptr):
            warnings.append(
                (
                    ptr,
                    "pattern is not valid ECMA-262 regex (it is valid Python regex); clients in "
                    "other languages may reject it",
                )
            )
        else:
            errors.append((ptr, message))
    return errors, warnings


def _is_python_only_pattern(document: dict[str, Any], ptr: str) -> bool:
    try:
        node = refs.resolve(document, ptr)
    except (KeyError, IndexError, ValueError):
        return False
    if isinstance(node, str) and ptr.endswith("/pattern"):
        pattern = node
    elif isinstance(node, dict) and isinstance(node.get("pattern"), str):
        pattern = node["pattern"]
    else:
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    try:
        jsonschema_rs.validator_for({"pattern": pattern})
    except Exception:
        return True
    probe = copy.deepcopy(node) if isinstance(node, dict) else None
    if probe is None:
        return True
    probe["pattern"] = "^.*$"
    return False


def validate_document(document: dict[str, Any], version: str) -> tuple[Problems, Problems]:
    """(errors, warnings) as sorted (pointer, message) lists."""
    problems = _structural(document, version)
    if version == "3.1":
        problems.extend(_meta_problems(document))
    problems.extend(_parameter_problems(document))
    problems.extend(_operation_id_problems(document))
    problems.extend(_ref_problems(document))
    problems.extend(_default_problems(document, version))
    errors, warnings = _python_patterns(document, problems)
    return sorted(set(errors)), sorted(set(warnings))
