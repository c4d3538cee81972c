"""Deterministic example values synthesized from OpenAPI / JSON Schemas.

The portal shows an example for every request and response, and the built-in
mock upstream answers with one; when the spec author wrote none, both fall back
to a value made from the schema. The value must *validate* against that schema
(the gateway checks mock answers, Schemathesis checks the gateway), and it must
be the same on every run so that generated docs are byte-stable: nothing here
reads a clock or a random generator; varying values (uuids, unique array items)
are derived from the property name and position.

The module is pure (no I/O). It resolves local ``#/...`` references itself so it
works on any bundled document, 3.0 (``nullable``, boolean ``exclusiveMinimum``)
or 3.1 (type arrays, ``const``, ``prefixItems``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib
import math
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

Direction = Literal["request", "response"] | None

__all__ = [
    "Direction",
    "example_for",
    "examples_of",
    "resolve_ref",
    "synthesize",
    "synthesize_string",
]

_MAX_DEPTH = 32
"""Hard stop for nesting, whatever the schema says (required-only cycles)."""
_OPTIONAL_DEPTH = 6
"""Below this nesting depth only required properties are filled in."""
_NODE_BUDGET = 500
"""After this many generated nodes only required properties are filled in, so a
huge schema graph (Stripe's expandable objects) still gives a bounded value."""
_MAX_BRANCHES = 8
"""oneOf branches tried before settling for the first candidate."""

_DATE = "2024-01-15"
_TIME = "09:30:00Z"


class _Cut:
    """Marker for "recursion stopped here": the caller omits or empties the slot."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CUT"


_CUT = _Cut()


# --------------------------------------------------------------------------- refs


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def resolve_ref(document: Mapping[str, Any], ref: str) -> Any:
    """Follow a local ``#/a/b`` reference; ``None`` when it points nowhere.

    Only local references are followed: the documents reaching synthesis are
    already bundled, and an unresolvable reference must degrade to "no example",
    never to an exception in the docs build or the mock's request path.
    """
    if not ref.startswith("#"):
        return None
    node: Any = document
    fragment = ref[1:]
    if fragment in ("", "/"):
        return node
    for raw in fragment.lstrip("/").split("/"):
        token = _unescape(raw)
        if isinstance(node, dict):
            if token not in node:
                return None
            node = node[token]
        elif isinstance(node, list):
            try:
                node = node[int(token)]
            except (ValueError, IndexError):
                return None
        else:
            return None
    return node


def _deref(document: Mapping[str, Any], node: Any, limit: int = 16) -> Any:
    """Follow a chain of ``$ref``-only objects (examples, media types, responses)."""
    for _ in range(limit):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            target = resolve_ref(document, node["$ref"])
            if target is None:
                return None
            node = target
        else:
            return node
    return None


# ------------------------------------------------------------------ schema merging

_ANNOTATIONS = frozenset(
    {
        "description",
        "summary",
        "title",
        "example",
        "examples",
        "default",
        "deprecated",
        "externalDocs",
        "xml",
        "$comment",
        "readOnly",
        "writeOnly",
    }
)


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two schemas that must both hold (allOf) into one for generation.

    Not a full schema intersection, only what generation needs: property
    schemas meeting at the same name become an ``allOf`` of both, bounds take the
    tighter side, ``required`` is the union and types are intersected.
    """
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if key == "properties" and isinstance(mine, dict) and isinstance(value, dict):
            props = dict(mine)
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key == "required" and isinstance(mine, list) and isinstance(value, list):
            out[key] = list(dict.fromkeys([*mine, *value]))
        elif key == "type":
            left = set(mine) if isinstance(mine, list) else {mine}
            right = set(value) if isinstance(value, list) else {value}
            if "number" in left and "integer" in right:
                left.add("integer")
            if "number" in right and "integer" in left:
                right.add("integer")
            both = [t for t in (mine if isinstance(mine, list) else [mine]) if t in right]
            if not both and "integer" in left & right:
                both = ["integer"]
            out[key] = both[0] if len(both) == 1 else (both or mine)
        elif key in ("minimum", "minLength", "minItems", "minProperties"):
            if isinstance(mine, int | float) and isinstance(value, int | float):
                out[key] = max(mine, value)
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties"):
            if isinstance(mine, int | float) and isinstance(value, int | float):
                out[key] = min(mine, value)
        elif key == "enum" and isinstance(mine, list) and isinstance(value, list):
            common = [v for v in mine if v in value]
            out[key] = common or mine
        elif key in ("items", "additionalProperties") and mine != value:
            if isinstance(mine, dict) and isinstance(value, dict):
                out[key] = {"allOf": [mine, value]}
            elif value is False or mine is False:
                out[key] = False
        elif key == "nullable":
            out[key] = bool(mine) and bool(value)
        # any other clash: the first (outer) schema wins; good enough for examples
    return out


# ----------------------------------------------------------------- regex strings

_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "1",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
    "CATEGORY_LINEBREAK": "\n",
    "CATEGORY_NOT_LINEBREAK": "a",
}
_NEGATED_CANDIDATES = "a1A_-x.Z9 "


class _RegexUnsupported(Exception):
    """A pattern construct the tiny generator does not handle (falls back)."""


def _class_matches(items: list[tuple[Any, Any]], ch: str) -> bool:
    code = ord(ch)
    for op, av in items:
        name = str(op)
        if name == "LITERAL" and av == code:
            return True
        if name == "RANGE" and av[0] <= code <= av[1]:
            return True
        if name == "CATEGORY":
            probe = {
                "CATEGORY_DIGIT": r"\d",
                "CATEGORY_NOT_DIGIT": r"\D",
                "CATEGORY_WORD": r"\w",
                "CATEGORY_NOT_WORD": r"\W",
                "CATEGORY_SPACE": r"\s",
                "CATEGORY_NOT_SPACE": r"\S",
            }.get(str(av))
            if probe is not None and re.fullmatch(probe, ch):
                return True
    return False


def _class_char(items: list[tuple[Any, Any]]) -> str:
    if items and str(items[0][0]) == "NEGATE":
        rest = items[1:]
        for ch in _NEGATED_CANDIDATES:
            if not _class_matches(rest, ch):
                return ch
        raise _RegexUnsupported("negated class")
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            return chr(av)
        if name == "RANGE":
            lo, hi = av
            # prefer a letter/digit that reads naturally inside the range
            for pref in "a1A":
                if lo <= ord(pref) <= hi:
                    return pref
            return chr(lo)
        if name == "CATEGORY":
            return _CATEGORY_CHARS.get(str(av), "a")
    raise _RegexUnsupported("empty class")


def _regex_gen(tokens: Any, extra: int, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, av in tokens:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "NOT_LITERAL":
            out.append("a" if av != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_char(av))
        elif name == "CATEGORY":
            out.append(_CATEGORY_CHARS.get(str(av), "a"))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = av
            count = max(lo, 1) + extra
            if str(hi) != "MAXREPEAT":
                count = min(count, hi)
            count = max(count, lo)
            out.append("".join(_regex_gen(sub, extra, groups) for _ in range(count)))
        elif name == "SUBPATTERN":
            group, _add, _del, sub = av
            text = _regex_gen(sub, extra, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name == "ATOMIC_GROUP":
            out.append(_regex_gen(av, extra, groups))
        elif name == "BRANCH":
            _, alternatives = av
            out.append(_regex_gen(alternatives[0], extra, groups))
        elif name == "GROUPREF":
            out.append(groups.get(av, ""))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise _RegexUnsupported(name)
    return "".join(out)


def _from_pattern(pattern: str, min_len: int, max_len: int | None) -> str | None:
    """A short string matching ``pattern`` within the length bounds, or None."""
    try:
        compiled = re.compile(pattern)
        parser: Any = importlib.import_module("re._parser")
        tokens = parser.parse(pattern)
    except (re.error, ImportError, RecursionError, TypeError):
        return None
    for extra in (0, 1, 2, 4, 8, 16, 32, 64):
        try:
            text = _regex_gen(tokens, extra, {})
        except (_RegexUnsupported, ValueError, RecursionError, TypeError):
            return None
        if max_len is not None and len(text) > max_len:
            return None
        if len(text) >= min_len and compiled.search(text):
            return text
        if len(text) >= min_len:
            return None
    return None


# ---------------------------------------------------------------- format strings


def _det_uuid(seed: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha1(seed.encode()).digest()[:16], version=4))


def _format_value(fmt: str, name: str, variant: int) -> str | None:
    v = variant
    if fmt in ("email", "idn-email"):
        return f"user{v or ''}@example.com"
    if fmt == "uuid":
        return _det_uuid(f"{name}:{v}")
    if fmt == "date-time":
        return f"2024-01-{15 + v % 14:02d}T09:30:00Z"
    if fmt == "date":
        return f"2024-01-{15 + v % 14:02d}"
    if fmt == "time":
        return f"09:{30 + v % 30:02d}:00Z"
    if fmt == "duration":
        return f"P{1 + v}D"
    if fmt in ("uri", "iri", "url"):
        return f"https://example.com/{name or 'resource'}{'/' + str(v) if v else ''}"
    if fmt in ("uri-reference", "iri-reference"):
        return f"/{name or 'resource'}{'/' + str(v) if v else ''}"
    if fmt == "uri-template":
        return "https://example.com/{id}"
    if fmt in ("hostname", "idn-hostname"):
        return f"host{v}.example.com" if v else "example.com"
    if fmt == "ipv4":
        return f"192.0.2.{1 + v % 250}"
    if fmt == "ipv6":
        return f"2001:db8::{1 + v:x}"
    if fmt == "byte":
        return base64.b64encode(f"{name or 'example'}{v or ''}".encode()).decode()
    if fmt == "password":
        return f"correct-horse-{42 + v}"
    if fmt == "json-pointer":
        return f"/{name or 'path'}"
    if fmt == "relative-json-pointer":
        return "0"
    if fmt == "regex":
        return "^[a-z]+$"
    return None


def _fit_length(text: str, min_len: int, max_len: int | None) -> str:
    if len(text) < min_len:
        text = text + "x" * (min_len - len(text))
    if max_len is not None and len(text) > max_len:
        text = text[:max_len]
    return text


def synthesize_string(schema: Mapping[str, Any], name: str = "", variant: int = 0) -> str:
    """A string for a string schema (format, pattern, length), without examples."""
    min_len = int(schema.get("minLength", 0) or 0)
    max_raw = schema.get("maxLength")
    max_len = int(max_raw) if isinstance(max_raw, int | float) else None
    pattern = schema.get("pattern")
    fmt = schema.get("format")
    if isinstance(fmt, str):
        value = _format_value(fmt, name, variant)
        fits = value is not None and min_len <= len(value) <= (
            len(value) if max_len is None else max_len
        )
        if value is not None and fits and (not isinstance(pattern, str) or _search(pattern, value)):
            return value
    if isinstance(pattern, str):
        value = _from_pattern(pattern, min_len, max_len)
        if value is not None:
            return value
    base = name if name and name.isascii() else "string"
    if variant:
        base = f"{base}-{variant}"
    text = _fit_length(base, min_len, max_len)
    if variant and max_len is not None and len(text) == max_len:
        # keep distinct values distinct even when truncated
        tail = str(variant)
        text = (text[: max(0, max_len - len(tail))] + tail)[:max_len]
    return text


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return False


# ---------------------------------------------------------------------- numbers


def _bounds(schema: Mapping[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    lo_x = hi_x = False
    emin = schema.get("exclusiveMinimum")
    emax = schema.get("exclusiveMaximum")
    if isinstance(emin, bool):  # OpenAPI 3.0 style
        lo_x = emin and lo is not None
    elif isinstance(emin, int | float) and (lo is None or emin >= lo):
        lo, lo_x = emin, True
    if isinstance(emax, bool):
        hi_x = emax and hi is not None
    elif isinstance(emax, int | float) and (hi is None or emax <= hi):
        hi, hi_x = emax, True
    lo_f = float(lo) if isinstance(lo, int | float) and not isinstance(lo, bool) else None
    hi_f = float(hi) if isinstance(hi, int | float) and not isinstance(hi, bool) else None
    return lo_f, lo_x, hi_f, hi_x


def _number(schema: Mapping[str, Any], integer: bool, variant: int) -> int | float:
    lo, lo_x, hi, hi_x = _bounds(schema)
    step_raw = schema.get("multipleOf")
    step = float(step_raw) if isinstance(step_raw, int | float) and step_raw > 0 else None

    def ok(x: float) -> bool:
        if lo is not None and (x < lo or (lo_x and x == lo)):
            return False
        return not (hi is not None and (x > hi or (hi_x and x == hi)))

    if integer:
        start = 1 + variant
        if lo is not None and not ok(start):
            start = math.floor(lo) + 1 if lo_x else math.ceil(lo)
            start += variant
        if not ok(start) and hi is not None:
            start = math.ceil(hi) - 1 if hi_x else math.floor(hi)
            start -= variant
        if step is not None and float(step).is_integer():
            m = int(step)
            cand = math.ceil(start / m) * m
            if not ok(cand):
                cand = math.floor(start / m) * m
            start = cand
        return int(start)

    base: float = 1.5 + variant
    if step is not None:
        base = step * (1 + variant)
    if ok(base):
        return _clean(base)
    cands: list[float] = []
    if lo is not None:
        cands.append(lo + (step or 0.5) * (1 + variant) if lo_x else lo + (step or 1) * variant)
    if hi is not None:
        cands.append(hi - (step or 0.5) * (1 + variant) if hi_x else hi - (step or 1) * variant)
    if lo is not None and hi is not None:
        cands.append((lo + hi) / 2)
    for c in cands:
        if step is not None:
            c = math.ceil(c / step) * step
        if ok(c):
            return _clean(c)
    return _clean(lo if lo is not None else (hi if hi is not None else 0.0))


def _clean(x: float) -> int | float:
    """Round away float noise (0.1 * 3) so examples read well and stay stable."""
    return round(x, 6)


# ------------------------------------------------------------------- the walker


class _Checker:
    """Validates candidate values (oneOf choices, schema examples) with jsonschema.

    The document's ``components`` are attached to each checked schema so that
    ``#/components/...`` references resolve exactly as in the document.
    """

    def __init__(self, document: Mapping[str, Any], oas30: bool) -> None:
        self._doc = document
        self._oas30 = oas30
        self._cache: dict[int, tuple[Any, Any]] = {}
        self._ok = True
        try:
            import jsonschema

            self._js: Any = jsonschema
        except ImportError:  # pragma: no cover - jsonschema is a hard dependency
            self._ok = False

    def is_valid(self, value: Any, schema: Any) -> bool | None:
        """True/False, or None when the schema cannot be checked here."""
        if not self._ok:
            return None
        key = id(schema)
        hit = self._cache.get(key)
        if hit is None or hit[0] is not schema:
            root: Any = schema
            if isinstance(schema, dict):
                root = dict(schema)
                if "components" in self._doc and "components" not in root:
                    root["components"] = self._doc["components"]
                for extra in ("definitions", "$defs"):
                    if extra in self._doc and extra not in root:
                        root[extra] = self._doc[extra]
            js = self._js
            cls = js.Draft4Validator if self._oas30 else js.Draft202012Validator
            try:
                validator = cls(root, format_checker=cls.FORMAT_CHECKER)
            except Exception:
                return None
            self._cache[key] = (schema, validator)
        else:
            validator = hit[1]
        try:
            return bool(validator.is_valid(value))
        except Exception:
            return None


class _Synth:
    def __init__(self, document: Mapping[str, Any], direction: Direction) -> None:
        self.doc = document
        self.direction = direction
        version = str(document.get("openapi", "3.1"))
        self.oas30 = version.startswith("3.0") or "swagger" in document
        self.nodes = 0
        self.refs: dict[str, Any] = {}
        self.checker = _Checker(document, self.oas30)

    # ---- helpers
    def _allows_null(self, schema: Mapping[str, Any]) -> bool:
        t = schema.get("type")
        if t == "null" or (isinstance(t, list) and "null" in t):
            return True
        if schema.get("nullable") is True:
            return True
        if "type" in schema:
            return False  # a typed schema without "null" rejects null even if its enum lists it
        enum = schema.get("enum")
        return (isinstance(enum, list) and None in enum) or (
            "const" in schema and schema["const"] is None
        )

    def _schema_examples(self, schema: Mapping[str, Any]) -> Iterator[Any]:
        if "example" in schema:
            yield schema["example"]
        ex = schema.get("examples")
        if isinstance(ex, list):
            yield from ex[:3]
        if "default" in schema:
            yield schema["default"]

    def _flatten(self, schema: Mapping[str, Any], stack: tuple[str, ...]) -> dict[str, Any]:
        """Fold ``allOf`` (and ``$ref`` with siblings) into one schema dict."""
        out = {k: v for k, v in schema.items() if k != "allOf"}
        ref = out.pop("$ref", None)
        parts: list[Any] = []
        if isinstance(ref, str):
            parts.append({"$ref": ref})
        parts.extend(schema.get("allOf") or [])
        merged: dict[str, Any] = {}
        for part in parts:
            sub, sub_stack = self._resolve(part, stack)
            if sub is None:
                continue
            if isinstance(sub, dict) and ("allOf" in sub or "$ref" in sub):
                if len(sub_stack) > len(stack) and sub_stack[-1] in stack:
                    continue
                sub = self._flatten(sub, sub_stack)
            if isinstance(sub, dict):
                merged = _merge(merged, sub) if merged else dict(sub)
        # the outer schema's own keywords are the most specific: they win clashes
        return _merge(out, merged) if merged else out

    def _resolve(self, schema: Any, stack: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            if len(schema) > 1:
                # $ref with sibling keywords (3.1): handled by _flatten
                return schema, stack
            ref = schema["$ref"]
            target = self.refs.get(ref, _CUT)
            if target is _CUT:
                target = self.refs[ref] = resolve_ref(self.doc, ref)
            if target is None:
                return None, stack
            stack = (*stack, ref)
            schema = target
            seen += 1
            if seen > 16:
                return None, stack
        return schema, stack

    # ---- main entry
    def value(
        self,
        schema: Any,
        *,
        stack: tuple[str, ...] = (),
        depth: int = 0,
        name: str = "",
        variant: int = 0,
        minimal: bool = False,
    ) -> Any:
        self.nodes += 1
        if depth > _MAX_DEPTH:
            return _CUT
        before = len(stack)
        schema, stack = self._resolve(schema, stack)
        if len(stack) > before:
            last = stack[-1]
            hits = stack.count(last)
            if hits >= 3:
                return _CUT
            if hits == 2:
                if isinstance(schema, dict) and self._allows_null(schema):
                    return None  # the cheapest way out of a cycle
                minimal = True
        if schema is True or schema is None:
            return name or "string" if schema is True else _CUT
        if schema is False:
            return _CUT
        if not isinstance(schema, dict):
            return _CUT
        if "allOf" in schema or "$ref" in schema:
            schema = self._flatten(schema, stack)
        minimal = minimal or depth > _OPTIONAL_DEPTH or self.nodes > _NODE_BUDGET
        if minimal and depth > 0 and self._allows_null(schema):
            return None  # deep or past the budget: null is valid and ends the branch
        ref_name = stack[-1].rsplit("/", 1)[-1] if len(stack) > before else ""

        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            non_null = [e for e in enum if e is not None]
            pick = non_null or enum
            return pick[variant % len(pick)]

        for ex in self._schema_examples(schema):
            if ex is None and not self._allows_null(schema):
                continue
            if variant and isinstance(ex, str | int | float) and not isinstance(ex, bool):
                continue  # unique array items: generate distinct values instead
            verdict = self.checker.is_valid(ex, schema)
            if verdict is None or verdict:
                return ex  # valid, or not checkable here (then trust the author)
            break

        if isinstance(schema.get("oneOf"), list) and schema["oneOf"]:
            return self._choice(schema, "oneOf", stack, depth, name, variant, minimal)
        if isinstance(schema.get("anyOf"), list) and schema["anyOf"]:
            return self._choice(schema, "anyOf", stack, depth, name, variant, minimal)

        kind = self._type(schema)
        if kind == "null":
            return None
        if kind == "object":
            return self._object(schema, stack, depth, variant, minimal, ref_name)
        if kind == "array":
            return self._array(schema, stack, depth, name, minimal)
        if kind == "integer":
            return _number(schema, True, variant)
        if kind == "number":
            return _number(schema, False, variant)
        if kind == "boolean":
            return variant % 2 == 0
        return synthesize_string(schema, name, variant)

    def _type(self, schema: Mapping[str, Any]) -> str:
        t = schema.get("type")
        if isinstance(t, list):
            non_null = [x for x in t if x != "null"]
            if not non_null:
                return "null"
            t = non_null[0]
        if isinstance(t, str):
            return t
        if any(k in schema for k in ("properties", "required", "additionalProperties")):
            return "object"
        if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
            return "array"
        if any(k in schema for k in ("minLength", "maxLength", "pattern", "format")):
            return "string"
        if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
            return "number"
        return "string"

    def _choice(
        self,
        schema: Mapping[str, Any],
        key: str,
        stack: tuple[str, ...],
        depth: int,
        name: str,
        variant: int,
        minimal: bool,
    ) -> Any:
        outer = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf", "discriminator")}
        branches: list[Any] = list(schema[key])
        disc = schema.get("discriminator")
        prop = disc.get("propertyName") if isinstance(disc, dict) else None
        mapping = disc.get("mapping") if isinstance(disc, dict) else None
        # prefer a non-null branch: a null example says little
        order = sorted(
            range(len(branches)),
            key=lambda i: (
                isinstance(branches[i], dict) and branches[i].get("type") == "null",
                i,
            ),
        )
        first: Any = _CUT
        for tries, i in enumerate(order):
            if tries >= _MAX_BRANCHES:
                break
            branch = branches[i]
            candidate_schema: Any = branch
            if outer and isinstance(branch, dict):
                candidate_schema = {"allOf": [outer, branch]} if _has_keywords(outer) else branch
            value = self.value(
                candidate_schema,
                stack=stack,
                depth=depth,
                name=name,
                variant=variant,
                minimal=minimal,
            )
            if value is _CUT:
                continue
            candidates = [value]
            if isinstance(prop, str) and isinstance(value, dict):
                tag = _disc_tag(branch, mapping)
                if tag is not None:
                    candidates.insert(0, {**value, prop: tag})
            if first is _CUT:
                first = candidates[0]
            if key == "anyOf" and len(candidates) == 1:
                # a value made from one branch satisfies anyOf; validating it would
                # dominate the cost on documents built of anyOf (Stripe)
                return value
            for candidate in candidates:
                verdict = self.checker.is_valid(candidate, schema)
                if verdict is None or verdict:
                    return candidate
        return first

    def _object(
        self,
        schema: Mapping[str, Any],
        stack: tuple[str, ...],
        depth: int,
        variant: int,
        minimal: bool,
        ref_name: str,
    ) -> Any:
        props_raw = schema.get("properties")
        props: Mapping[str, Any] = props_raw if isinstance(props_raw, dict) else {}
        required = [r for r in (schema.get("required") or []) if isinstance(r, str)]
        req_set = set(required)
        out: dict[str, Any] = {}
        min_props = int(schema.get("minProperties", 0) or 0)
        max_raw = schema.get("maxProperties")
        max_props = int(max_raw) if isinstance(max_raw, int) else None

        def skip(sub: Any) -> bool:
            if not isinstance(sub, dict):
                return False
            if self.direction == "request" and sub.get("readOnly") is True:
                return True
            return self.direction == "response" and sub.get("writeOnly") is True

        names = list(props)
        for prop in required:
            if prop not in props:
                names.append(prop)
        for prop in names:
            sub = props.get(prop, {})
            is_req = prop in req_set
            if not is_req:
                if minimal or (max_props is not None and len(out) >= max_props):
                    continue
                if skip(self._resolve(sub, stack)[0]):
                    continue
            val = self.value(
                sub,
                stack=stack,
                depth=depth + 1,
                name=prop,
                variant=variant if prop in ("id", "name") else 0,
                minimal=minimal,
            )
            if val is _CUT:
                if not is_req:
                    continue
                val = self._stub(sub, stack)
            out[prop] = val

        addl = schema.get("additionalProperties")
        want_extra = min_props > len(out) or (
            not props and isinstance(addl, dict) and not minimal and addl != {}
        )
        if want_extra and addl is not False:
            # optional declared properties first, then free-form keys
            for prop in names:
                if len(out) >= max(min_props, 1) and props:
                    break
                if prop not in out and prop in props:
                    val = self.value(props[prop], stack=stack, depth=depth + 1, name=prop)
                    if val is not _CUT:
                        out[prop] = val
            pnames = schema.get("propertyNames")
            extra_schema: Any = addl if isinstance(addl, dict) else {}
            i = 0
            while len(out) < max(min_props, 0 if props else 1) and i < 64:
                key = (
                    synthesize_string(pnames, "key", i)
                    if isinstance(pnames, dict)
                    else f"key{i + 1}"
                )
                if key not in out:
                    val = self.value(extra_schema, stack=stack, depth=depth + 1, name=key)
                    out[key] = None if val is _CUT else val
                i += 1

        disc = schema.get("discriminator")
        if isinstance(disc, dict) and ref_name:
            prop_name = disc.get("propertyName")
            if isinstance(prop_name, str) and prop_name in out:
                tag = _own_tag(stack[-1], ref_name, disc.get("mapping"))
                if tag is not None and self.checker.is_valid(tag, props.get(prop_name, {})):
                    out[prop_name] = tag
        return out

    def _stub(self, schema: Any, stack: tuple[str, ...]) -> Any:
        """The smallest value for a required slot whose recursion was cut."""
        sub, _ = self._resolve(schema, stack)
        if isinstance(sub, dict):
            if self._allows_null(sub):
                return None
            kind = self._type(sub)
            if kind == "array":
                return []
            if kind == "string":
                return synthesize_string(sub)
            if kind in ("integer", "number"):
                return _number(sub, kind == "integer", 0)
            if kind == "boolean":
                return True
        return {}

    def _array(
        self,
        schema: Mapping[str, Any],
        stack: tuple[str, ...],
        depth: int,
        name: str,
        minimal: bool,
    ) -> Any:
        min_items = int(schema.get("minItems", 0) or 0)
        max_raw = schema.get("maxItems")
        max_items = int(max_raw) if isinstance(max_raw, int) else None
        want = min_items if minimal else max(min_items, 1)
        if max_items is not None:
            want = min(want, max_items)
        raw_prefix = schema.get("prefixItems")
        prefix: list[Any] = raw_prefix if isinstance(raw_prefix, list) else []
        items = schema.get("items")
        if isinstance(items, list):  # draft-4 style tuple
            prefix, items = items, schema.get("additionalItems", {})
        unique = schema.get("uniqueItems") is True
        out: list[Any] = []
        seen: set[str] = set()
        item_name = name[:-1] if name.endswith("s") and len(name) > 1 else name
        attempts = 0
        while len(out) < want and attempts < want + 8:
            idx = len(out)
            sub = prefix[idx] if idx < len(prefix) else items
            if sub is None:
                sub = {}
            if sub is False:
                break
            val = self.value(
                sub,
                stack=stack,
                depth=depth + 1,
                name=item_name,
                variant=attempts if unique else 0,
                minimal=minimal,
            )
            attempts += 1
            if val is _CUT:
                break
            if unique:
                key = repr(_canon(val))
                if key in seen:
                    continue
                seen.add(key)
            out.append(val)
        contains = schema.get("contains")
        room = max_items is None or len(out) < max_items
        if (
            isinstance(contains, dict)
            and room
            and not any(self.checker.is_valid(v, contains) for v in out)
        ):
            val = self.value(contains, stack=stack, depth=depth + 1, name=item_name)
            if val is not _CUT:
                out.append(val)
        return out


def _canon(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_canon(v) for v in value)
    if isinstance(value, bool):
        return ("b", value)
    return value


def _has_keywords(schema: Mapping[str, Any]) -> bool:
    return any(k not in _ANNOTATIONS for k in schema)


def _own_tag(ref: str, ref_name: str, mapping: Any) -> str | None:
    """The discriminator value naming the schema being generated (allOf subtypes)."""
    if isinstance(mapping, dict) and mapping:
        for tag, target in mapping.items():
            if target in (ref, ref_name) or str(target).endswith("/" + ref_name):
                return str(tag)
        return str(next(iter(mapping)))
    return ref_name


def _disc_tag(branch: Any, mapping: Any) -> str | None:
    if not isinstance(branch, dict):
        return None
    ref = branch.get("$ref")
    if not isinstance(ref, str):
        return None
    short = ref.rsplit("/", 1)[-1]
    if isinstance(mapping, dict):
        for tag, target in mapping.items():
            if target in (ref, short) or str(target).endswith("/" + short):
                return str(tag)
    return short


def synthesize(
    schema: Any,
    document: Mapping[str, Any] | None = None,
    *,
    direction: Direction = None,
    name: str = "",
) -> Any:
    """A JSON value valid against ``schema``, the same on every call.

    ``document`` is the OpenAPI document the schema's local ``$ref``s point into
    (its ``openapi`` version decides 3.0 vs 3.1 semantics). ``direction`` drops
    optional ``readOnly`` properties from request bodies and optional
    ``writeOnly`` ones from responses. Recursive schemas are cut by omitting
    optional properties and emptying arrays at the second visit of a reference.
    """
    doc = document or {}
    key: tuple[str, Direction, str] | None = None
    cache = _cache_for(doc)
    if isinstance(schema, dict) and len(schema) == 1 and isinstance(schema.get("$ref"), str):
        key = (schema["$ref"], direction, name)
        if key in cache:
            return copy.deepcopy(cache[key])
    synth = _Synth(doc, direction)
    value = synth.value(schema, name=name)
    if value is _CUT:
        value = synth._stub(schema, ())
    if key is not None and len(cache) < _CACHE_SIZE:
        cache[key] = copy.deepcopy(value)
    return value


class _DocCache:
    """Values of ``{"$ref": ...}`` schemas for the last document seen.

    A contract's operations share their error and resource schemas and the
    portal asks for each many times; documents are read-only by convention
    (model.py). Only one document is remembered, so a large one is not kept
    alive once callers move on to another.
    """

    document: Any = None
    values: dict[tuple[str, Direction, str], Any] = {}  # noqa: RUF012


def _cache_for(document: Any) -> dict[tuple[str, Direction, str], Any]:
    if _DocCache.document is not document:
        _DocCache.document = document
        _DocCache.values = {}
    return _DocCache.values


_CACHE_SIZE = 4096


# ---------------------------------------------------------------- media examples


def examples_of(media: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """The named examples of a media type object (``examples.<name>.value``), in order."""
    out: dict[str, Any] = {}
    raw = media.get("examples")
    if isinstance(raw, dict):
        for key, ex in raw.items():
            ex = _deref(document, ex)
            if isinstance(ex, dict) and "value" in ex:
                out[str(key)] = ex["value"]
    return out


def example_for(
    media: Mapping[str, Any] | None,
    document: Mapping[str, Any],
    *,
    direction: Direction = None,
    name: str | None = None,
    synth: Callable[[Any], Any] | None = None,
) -> tuple[Any, bool]:
    """The example of a media type object, and whether it had to be synthesized.

    Order: the media type's ``example``; its ``examples`` (the one called ``name``
    when given, else the first); the schema's own ``example``/``examples``; then a
    value synthesized from the schema (``synthesized`` is True only then, so the
    portal can say so).
    """
    media = _deref(document, media) if media is not None else None
    if not isinstance(media, dict):
        return None, True
    named = examples_of(media, document)
    if name is not None and name in named:
        return named[name], False
    if "example" in media:
        return media["example"], False
    if named:
        return next(iter(named.values())), False
    schema = _deref(document, media.get("schema"))
    if isinstance(schema, dict):
        if "example" in schema:
            return schema["example"], False
        ex = schema.get("examples")
        if isinstance(ex, list) and ex:
            return ex[0], False
    raw_schema = media.get("schema")
    if raw_schema is None:
        return None, True
    if synth is not None:
        return synth(raw_schema), True
    return synthesize(raw_schema, document, direction=direction), True
