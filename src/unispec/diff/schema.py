"""Pairwise schema comparison, mirroring how oasdiff names schema changes.

The walker compares a base schema with a revision schema and returns events
already named with their oasdiff rule ID. Naming depends on *where* the
schema sits (request body, response body, parameter, response header) and on
*depth*: the root of a body is "body", every named property below it (through
``properties``, ``items`` and the ``allOf``/``anyOf``/``oneOf`` branches) is
"property". Only IDs that exist in the vocabulary are produced (a change
with no rule, e.g. a response enum losing a value at body level, is simply
not reported), so the direction semantics come from the table.

Results are memoised per (base node, revision node, context) and cycles are
cut, so a shared schema is compared once however many operations use it,
and recursive schemas terminate. References whose closure is unchanged are
skipped without a look inside.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from unispec.diff.docs import CleanCheck, Doc
from unispec.diff.rules import all_rules
from unispec.refs import escape

ANNOTATION_KEYS = frozenset(
    {
        "title",
        "description",
        "example",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
        "externalDocs",
        "xml",
        "default",
    }
)
BOUNDS: tuple[tuple[str, str], ...] = (
    ("maximum", "max"),
    ("exclusiveMaximum", "exclusive-max"),
    ("minimum", "min"),
    ("exclusiveMinimum", "exclusive-min"),
    ("maxLength", "max-length"),
    ("minLength", "min-length"),
    ("maxItems", "max-items"),
    ("minItems", "min-items"),
    ("maxContains", "max-contains"),
    ("minContains", "min-contains"),
)
STABILITY = {"draft": 0, "alpha": 1, "beta": 2, "stable": 3}
SUBSCHEMA_SLOTS: tuple[str, ...] = (
    "items",
    "additionalProperties",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "if",
    "then",
    "else",
    "contentSchema",
)


@dataclass(frozen=True)
class Event:
    """One named change found inside a schema tree."""

    rule: str
    prop: tuple[str, ...]
    """Property path below the schema root (empty for the root itself)."""
    pointer: str
    detail: str
    side: str = "revision"


@dataclass(frozen=True)
class Where:
    """The context that decides rule names: direction, location, media typing."""

    direction: str
    """"request" or "response"."""
    location: str
    """"body", "param" or "header"."""
    strong: bool = True
    """Strongly typed media type (JSON): a number is not a string."""
    param_in: str = ""


def short(value: Any) -> str:
    """Compact one-line rendering of a schema value for messages."""
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _dict(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def types_of(schema: dict[str, Any]) -> tuple[list[str], bool]:
    """(types without "null", nullable) for 3.0 (``nullable``) and 3.1 (type lists)."""
    t = schema.get("type")
    raw: list[str]
    if isinstance(t, str):
        raw = [t]
    elif isinstance(t, list):
        raw = [x for x in t if isinstance(x, str)]
    else:
        raw = []
    nullable = "null" in raw or schema.get("nullable") is True
    return sorted({x for x in raw if x != "null"}), nullable


def _subtype(sub: str, sup: str) -> bool:
    return sub == sup or (sub == "integer" and sup == "number")


def _type_contained(to: list[str], frm: list[str], strong: bool) -> bool:
    if len(to) == 1 and len(frm) == 1 and _subtype(frm[0], to[0]):
        return True
    if not strong:
        return len(to) == 0 or to == ["string"]
    return False


def _format_contained(to_types: list[str], to: Any, frm: Any) -> bool:
    if not to:
        return True
    if len(to_types) != 1:
        return False
    t = to_types[0]
    if t == "number":
        return bool(to == "double" and frm == "float")
    if t == "integer":
        return (to, frm) in {("int64", "int32"), ("bigint", "int32"), ("bigint", "int64")}
    if t == "string":
        return bool(to == "date-time" and frm in ("date", "time"))
    return False


def _breaking_toward(
    frm_t: list[str], to_t: list[str], frm_f: Any, to_f: Any, strong: bool
) -> bool:
    """Is changing from (frm_t, frm_f) to (to_t, to_f) breaking for a value producer?"""
    type_changed = frm_t != to_t
    if type_changed and not to_t:
        return False
    if (
        type_changed
        and frm_t
        and set(frm_t) <= {u for u in to_t} | ({"integer"} if "number" in to_t else set())
    ):
        type_changed = False
    tb = type_changed and not _type_contained(to_t, frm_t, strong)
    fb = frm_f != to_f and not _format_contained(to_t, to_f, frm_f)
    return tb or fb


def type_change_suffix(
    bt: list[str], bf: Any, rt: list[str], rf: Any, where: Where, top: bool
) -> list[str]:
    """Candidate rule suffixes (best first) for a type/format change, [] if none."""
    if bt == rt and bf == rf:
        return []
    if (len(bt) > 1 or len(rt) > 1) and bt != rt and bf == rf:
        # 3.1 type arrays: judged on the whole type set (oasdiff's typeSetWidened/Narrowed)
        widened = bool(bt) and set(bt) <= _cover(rt)
        narrowed = bool(rt) and set(rt) <= _cover(bt)
        request = where.direction == "request"
        if widened:
            return ["type-generalized"] if request else ["type-generalized", "type-changed"]
        if narrowed:
            return ["type-changed"] if request else ["type-specialized", "type-compatible"]
        return ["type-changed"]
    if where.location == "param" and not top:
        s = _breaking_toward(bt, rt, bf, rf, True)
        loose = _breaking_toward(bt, rt, bf, rf, False)
        if s != loose:
            return ["type-changed"]
        return ["type-specialized"] if s else ["type-generalized"]
    strong = where.strong and where.location == "body"
    concrete_swap = bool(bt) and bool(rt) and bt != rt
    if where.direction == "request":
        if _breaking_toward(bt, rt, bf, rf, strong):
            return ["type-changed"]
        widened = bool(bt) and set(bt) <= set(rt) | ({"integer"} if "number" in rt else set())
        if concrete_swap and not widened:
            return ["type-compatible", "type-generalized"]
        return ["type-generalized"]
    if not _breaking_toward(rt, bt, rf, bf, strong):
        narrowed = bool(rt) and set(rt) <= set(bt) | ({"integer"} if "number" in bt else set())
        if concrete_swap and not narrowed:
            return ["type-compatible", "type-specialized"]
        return ["type-specialized", "type-compatible"]
    if not _breaking_toward(bt, rt, bf, rf, strong):
        return ["type-generalized", "type-changed"]
    return ["type-changed"]


def _cover(types: list[str]) -> set[str]:
    """The types accepted by a type list (``number`` covers ``integer``)."""
    out = set(types)
    if "number" in out:
        out.add("integer")
    return out


def type_pattern(doc: Doc, schema: dict[str, Any]) -> tuple[frozenset[str], bool] | None:
    """oasdiff's "list of types": (types, from a oneOf/anyOf list) or None.

    A schema with a type has that one type; otherwise a oneOf (else anyOf) whose
    branches are all simple one-type schemas is the list of those types.
    """
    if "not" in schema or schema.get("allOf") or schema.get("properties"):
        return None
    types, _ = types_of(schema)
    if types:
        return frozenset(types[:1]), False
    for kw in ("oneOf", "anyOf"):
        branches = schema.get(kw)
        if not isinstance(branches, list) or not branches:
            continue
        found: list[str] = []
        for branch in branches:
            node = _dict(doc.deref(branch, "")[0])
            raw = node.get("type")
            one = (
                raw
                if isinstance(raw, str)
                else raw[0]
                if isinstance(raw, list) and len(raw) == 1
                else None
            )
            if not isinstance(one, str) or any(
                node.get(k) for k in ("properties", "oneOf", "anyOf", "allOf")
            ):
                found = []
                break
            found.append(one)
        if found:
            return frozenset(found), True
    return None


def parse_sunset(value: Any) -> date | None:
    """``x-sunset`` as a date: ``YYYY-MM-DD`` or RFC 3339 date-time; None if unparsable."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        return None


class SchemaWalker:
    """Compare schema trees of two documents; see the module docstring."""

    def __init__(
        self, base: Doc, revision: Doc, clean: frozenset[str], today: date, sunset_days: int = 0
    ) -> None:
        self.base = base
        self.rev = revision
        self.clean = clean
        self.is_clean = CleanCheck(clean)
        self.today = today
        self.sunset_days = sunset_days
        self.rules = all_rules()
        self._memo: dict[tuple[Any, ...], list[Event]] = {}
        self._active: set[tuple[Any, ...]] = set()

    # -- naming -----------------------------------------------------------
    def prefixes(self, where: Where, top: bool) -> list[str]:
        if where.location == "body":
            return [f"{where.direction}-body-"] if top else [f"{where.direction}-property-"]
        if where.location == "param":
            if top:
                return ["request-parameter-"]
            if where.param_in == "header":
                return ["request-header-property-", "request-parameter-property-"]
            return ["request-parameter-property-"]
        return ["response-header-"] if top else []

    def name(self, where: Where, top: bool, suffixes: list[str], flag: str = "") -> str | None:
        """First rule ID in the vocabulary among prefix x suffix candidates ("=id": as is)."""
        for suffix in suffixes:
            if suffix.startswith("="):
                if suffix[1:] in self.rules:
                    return suffix[1:]
                continue
            if flag == "read-only" and not top and where.location == "body":
                cand = f"request-read-only-property-{suffix}"
                if cand in self.rules:
                    return cand
            if flag == "write-only" and not top and where.location == "body":
                cand = f"response-write-only-property-{suffix}"
                if cand in self.rules:
                    return cand
            for prefix in self.prefixes(where, top):
                cand = prefix + suffix
                if cand in self.rules:
                    return cand
        return None

    # -- entry point ------------------------------------------------------
    def compare(
        self, b: Any, r: Any, bptr: str, rptr: str, where: Where, mode: str = "top"
    ) -> list[Event]:
        """Events for base ``b`` vs revision ``r``; ``mode`` is top, prop or transparent."""
        b, bptr, bref = self.base.deref(b, bptr)
        r, rptr, rref = self.rev.deref(r, rptr)
        if bref is not None and bref == rref and bref in self.clean:
            return []
        if b == r and self.is_clean(b):
            return []
        key = (id(b), id(r), where, mode)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if key in self._active:
            return []
        self._active.add(key)
        try:
            bd, rd = _dict(b), _dict(r)
            events: list[Event] = []
            if self._wrapped_in_one_of(bd, rd):
                # one finding for the restructuring; the moved properties, the lost type
                # and the new oneOf branches are its mechanics, not separate changes
                events.append(
                    Event("@one-of-added-wrapped", (), rptr + "/oneOf", "wrapped in oneOf")
                )
                self._memo[key] = events
                return events
            if mode != "transparent":
                self._node(bd, rd, bptr, rptr, where, mode == "top", events)
            self._children(bd, rd, bptr, rptr, where, events)
        finally:
            self._active.discard(key)
        self._memo[key] = events
        return events

    def _list_of_types(
        self, b: dict[str, Any], r: dict[str, Any]
    ) -> tuple[set[str], set[str]] | None:
        """(added, removed) types when a oneOf/anyOf list of scalar types changed."""
        bp, rp = type_pattern(self.base, b), type_pattern(self.rev, r)
        if bp is None or rp is None or not (bp[1] or rp[1]) or bp[0] == rp[0]:
            return None
        return set(rp[0] - bp[0]), set(bp[0] - rp[0])

    def _wrapped_in_one_of(self, b: dict[str, Any], r: dict[str, Any]) -> bool:
        """A concrete object became a oneOf of object alternatives (properties moved)."""
        if b.get("oneOf") or not isinstance(r.get("oneOf"), list) or not r["oneOf"]:
            return False
        if not (isinstance(b.get("properties"), dict) and b["properties"]):
            return False
        if r.get("properties"):
            return False
        for alt in r["oneOf"]:
            node = _dict(self.rev.deref(alt, "")[0])
            if node.get("type") not in ("object", None) or not (
                node.get("properties") or node.get("type") == "object"
            ):
                return False
        return True

    # -- node-level keywords ---------------------------------------------
    def _node(
        self,
        b: dict[str, Any],
        r: dict[str, Any],
        bptr: str,
        rptr: str,
        where: Where,
        top: bool,
        out: list[Event],
    ) -> None:
        if b == r:
            return
        request = where.direction == "request"
        flag = ""
        if request and r.get("readOnly") is True:
            flag = "read-only"
        elif not request and (r.get("writeOnly") is True or b.get("writeOnly") is True):
            flag = "write-only"

        def emit(suffixes: list[str], detail: str, ptr: str = rptr, side: str = "revision") -> None:
            rule = self.name(where, top, suffixes, flag)
            if rule is not None:
                out.append(Event(rule, (), ptr, detail, side))

        bt, bnull = types_of(b)
        rt, rnull = types_of(r)
        bf, rf = b.get("format"), r.get("format")
        skip_type = request and not top and flag == "read-only" and where.location == "body"
        lot = self._list_of_types(b, r)
        if lot is not None:
            added, removed = lot
            if added:
                emit(["list-of-types-widened"], "now also " + ", ".join(sorted(added)))
            if removed:
                emit(["list-of-types-narrowed"], "no longer " + ", ".join(sorted(removed)))
        elif not skip_type:
            suffixes = type_change_suffix(bt, bf, rt, rf, where, top)
            if suffixes:
                bdesc = ("/".join(bt) or "any") + (f" ({bf})" if bf else "")
                rdesc = ("/".join(rt) or "any") + (f" ({rf})" if rf else "")
                emit(suffixes, f"type/format changed from {bdesc} to {rdesc}")
        if bnull != rnull:
            emit(["became-nullable" if rnull else "became-not-nullable"], "")

        self._enum(b, r, rptr, emit, where, top)
        for kw, slug in (("default", "default-value"), ("const", "const")):
            if kw in b or kw in r:
                if kw not in b:
                    emit([f"{slug}-added"], f"{kw} {short(r[kw])}")
                elif kw not in r:
                    emit([f"{slug}-removed"], f"{kw} was {short(b[kw])}", bptr, "base")
                elif _key(b[kw]) != _key(r[kw]):
                    emit([f"{slug}-changed"], f"{kw} {short(b[kw])} -> {short(r[kw])}")
        bb, rb = _bounds(b), _bounds(r)
        for kw, slug in BOUNDS:
            bv, rv = bb.get(kw), rb.get(kw)
            if isinstance(bv, bool) or isinstance(rv, bool):
                continue
            if bv is None and rv is None:
                continue
            if bv is None:
                emit([f"{slug}-set"], f"{kw} set to {rv}")
            elif rv is None:
                emit([f"{slug}-unset"], f"{kw} {bv} removed")
            elif isinstance(bv, int | float) and isinstance(rv, int | float) and bv != rv:
                emit(
                    [f"{slug}-increased" if rv > bv else f"{slug}-decreased"], f"{kw} {bv} -> {rv}"
                )
        bp, rp = b.get("pattern"), r.get("pattern")
        if bp != rp:
            if bp is None:
                emit(["pattern-added"], f"pattern {rp!r}")
            elif rp is None:
                emit(["pattern-removed"], f"pattern {bp!r} removed")
            elif rp in (".*", "^.*$"):
                emit(["pattern-generalized", "pattern-changed"], f"pattern {bp!r} -> {rp!r}")
            else:
                emit(["pattern-changed"], f"pattern {bp!r} -> {rp!r}")
        self._discriminator(b, r, emit)
        self._presence(b, r, bptr, rptr, emit)
        if not top and where.location == "body":
            self._lifecycle(b, r, rptr, emit)

    def _enum(
        self,
        b: dict[str, Any],
        r: dict[str, Any],
        rptr: str,
        emit: Callable[..., None],
        where: Where,
        top: bool,
    ) -> None:
        for kw, slug in (("enum", "enum-value"), ("x-extensible-enum", "x-extensible-enum-value")):
            be, re_ = b.get(kw), r.get(kw)
            if not isinstance(re_, list) and not isinstance(be, list):
                continue
            if not isinstance(be, list):
                if kw == "enum":
                    emit(["became-enum"], f"now restricted to {short(re_)}")
                continue
            if not isinstance(re_, list):
                continue
            bkeys = {_key(v): v for v in be}
            rkeys = {_key(v): v for v in re_}
            for k, v in bkeys.items():
                if k not in rkeys:
                    suffixes = [f"{slug}-removed"]
                    if (
                        kw == "enum"
                        and top
                        and where.direction == "response"
                        and where.location == "body"
                    ):
                        emit(["=response-mediatype-enum-value-removed"], f"value {short(v)}")
                        continue
                    emit(suffixes, f"value {short(v)}")
            for k, v in rkeys.items():
                if k not in bkeys:
                    emit([f"{slug}-added"], f"value {short(v)}")

    def _discriminator(
        self, b: dict[str, Any], r: dict[str, Any], emit: Callable[..., None]
    ) -> None:
        bd, rd = b.get("discriminator"), r.get("discriminator")
        if bd == rd:
            return
        if not isinstance(bd, dict) and isinstance(rd, dict):
            emit(["discriminator-added"], f"on {rd.get('propertyName')!r}")
            return
        if isinstance(bd, dict) and not isinstance(rd, dict):
            emit(["discriminator-removed"], f"on {bd.get('propertyName')!r}")
            return
        if not isinstance(bd, dict) or not isinstance(rd, dict):
            return
        if bd.get("propertyName") != rd.get("propertyName"):
            emit(
                ["discriminator-property-name-changed"],
                f"{bd.get('propertyName')!r} -> {rd.get('propertyName')!r}",
            )
        bm, rm = _dict(bd.get("mapping")), _dict(rd.get("mapping"))
        added = sorted(set(rm) - set(bm))
        removed = sorted(set(bm) - set(rm))
        changed = sorted(k for k in set(bm) & set(rm) if bm[k] != rm[k])
        if added:
            emit(["discriminator-mapping-added"], f"values {', '.join(added)}")
        if removed:
            emit(["discriminator-mapping-deleted"], f"values {', '.join(removed)}")
        if changed:
            emit(["discriminator-mapping-changed"], f"values {', '.join(changed)}")

    def _presence(
        self,
        b: dict[str, Any],
        r: dict[str, Any],
        bptr: str,
        rptr: str,
        emit: Callable[..., None],
    ) -> None:
        for kw, slug in (
            ("if", "if"),
            ("then", "then"),
            ("else", "else"),
            ("contains", "contains"),
            ("propertyNames", "property-names"),
            ("unevaluatedItems", "unevaluated-items"),
            ("unevaluatedProperties", "unevaluated-properties"),
            ("contentSchema", "content-schema"),
        ):
            if (kw in b) == (kw in r):
                continue
            if kw in r:
                emit([f"{slug}-added"], f"{kw} added")
            else:
                emit([f"{slug}-removed"], f"{kw} removed", bptr, "base")
        for kw, slug in (
            ("contentMediaType", "content-media-type-changed"),
            ("contentEncoding", "content-encoding-changed"),
        ):
            if b.get(kw) != r.get(kw):
                emit([slug], f"{kw} {b.get(kw)!r} -> {r.get(kw)!r}")
        bpi, rpi = b.get("prefixItems"), r.get("prefixItems")
        bn = len(bpi) if isinstance(bpi, list) else 0
        rn = len(rpi) if isinstance(rpi, list) else 0
        if rn > bn:
            emit(["prefix-items-added"], f"{rn - bn} positional item schema(s) added")
        elif rn < bn:
            emit(["prefix-items-removed"], f"{bn - rn} positional item schema(s) removed")
        bdr, rdr = _dict(b.get("dependentRequired")), _dict(r.get("dependentRequired"))
        for k in sorted(set(bdr) | set(rdr)):
            if k not in bdr:
                emit(["dependent-required-added"], f"when {k!r} is present")
            elif k not in rdr:
                emit(["dependent-required-removed"], f"when {k!r} is present")
            elif _key(sorted(map(str, bdr[k]))) != _key(sorted(map(str, rdr[k]))):
                emit(["dependent-required-changed"], f"when {k!r} is present")
        bds, rds = _dict(b.get("dependentSchemas")), _dict(r.get("dependentSchemas"))
        for k in sorted(set(bds) ^ set(rds)):
            emit(
                ["dependent-schema-added" if k in rds else "dependent-schema-removed"],
                f"when {k!r} is present",
            )
        bpp, rpp = _dict(b.get("patternProperties")), _dict(r.get("patternProperties"))
        for k in sorted(set(bpp) ^ set(rpp)):
            emit(
                ["pattern-property-added" if k in rpp else "pattern-property-removed"],
                f"pattern {k!r}",
            )

    def _lifecycle(
        self, b: dict[str, Any], r: dict[str, Any], rptr: str, emit: Callable[..., None]
    ) -> None:
        bdep, rdep = b.get("deprecated") is True, r.get("deprecated") is True
        if not bdep and rdep:
            sunset = r.get("x-sunset")
            if sunset is None:
                emit(["deprecated-sunset-missing" if self.sunset_days > 0 else "deprecated"], "")
            else:
                when = parse_sunset(sunset)
                if when is None:
                    emit(["deprecated-sunset-invalid"], f"x-sunset {sunset!r}")
                elif (when - self.today).days < self.sunset_days:
                    emit(["sunset-date-too-small"], f"sunset {when.isoformat()}")
                else:
                    emit(["deprecated-with-sunset"], f"sunset {when.isoformat()}")
        elif bdep and not rdep:
            emit(["reactivated"], "")
        bs, rs = b.get("x-stability-level"), r.get("x-stability-level")
        if bs != rs and isinstance(bs, str | None) and isinstance(rs, str | None):
            bl, rl = STABILITY.get(bs or "stable"), STABILITY.get(rs or "stable")
            if bl is not None and rl is not None and bl != rl:
                emit(
                    ["stability-decreased" if rl < bl else "stability-increased"],
                    f"{bs or 'stable'} -> {rs or 'stable'}",
                )

    # -- structure ---------------------------------------------------------
    def _children(
        self,
        b: dict[str, Any],
        r: dict[str, Any],
        bptr: str,
        rptr: str,
        where: Where,
        out: list[Event],
    ) -> None:
        """Descend like oasdiff: named properties and every sub-schema slot are "properties"."""
        self._properties(b, r, bptr, rptr, where, out)
        for kw in SUBSCHEMA_SLOTS:
            bi, ri = b.get(kw), r.get(kw)
            if isinstance(bi, dict) and isinstance(ri, dict):
                self._sub(bi, ri, f"{bptr}/{kw}", f"{rptr}/{kw}", where, f"[{kw}]", out)
        lot = self._list_of_types(b, r) is not None
        for kw in ("allOf", "anyOf", "oneOf"):
            if lot and kw != "allOf":
                continue  # reported as list-of-types-widened/narrowed on the node itself
            self._composite(kw, b, r, bptr, rptr, where, out)
        bpi, rpi = b.get("prefixItems"), r.get("prefixItems")
        if isinstance(bpi, list) and isinstance(rpi, list):
            for i, (x, y) in enumerate(zip(bpi, rpi, strict=False)):
                bp, rp = f"{bptr}/prefixItems/{i}", f"{rptr}/prefixItems/{i}"
                self._sub(x, y, bp, rp, where, f"[prefixItems/{i}]", out)
        for kw in ("patternProperties", "dependentSchemas"):
            bm, rm = _dict(b.get(kw)), _dict(r.get(kw))
            for k in bm:
                if k in rm:
                    bp, rp = f"{bptr}/{kw}/{escape(k)}", f"{rptr}/{kw}/{escape(k)}"
                    self._sub(bm[k], rm[k], bp, rp, where, f"[{kw}/{k}]", out)

    def _sub(
        self, b: Any, r: Any, bptr: str, rptr: str, where: Where, label: str, out: list[Event]
    ) -> None:
        for ev in self.compare(b, r, bptr, rptr, where, "prop"):
            out.append(_nest(ev, label))

    def _properties(
        self,
        b: dict[str, Any],
        r: dict[str, Any],
        bptr: str,
        rptr: str,
        where: Where,
        out: list[Event],
    ) -> None:
        bprops, rprops = _dict(b.get("properties")), _dict(r.get("properties"))
        breq = {x for x in b.get("required") or () if isinstance(x, str)}
        rreq = {x for x in r.get("required") or () if isinstance(x, str)}
        if not bprops and not rprops:
            return
        request = where.direction == "request"
        header_param = where.location == "param" and where.param_in == "header"

        def add(rule: str, name: str, ptr: str, detail: str = "", side: str = "revision") -> None:
            if rule in self.rules:
                out.append(Event(rule, (name,), ptr, detail, side))

        for name in bprops:
            if name in rprops:
                continue
            bs, _, _ = self.base.deref(bprops[name], f"{bptr}/properties/{escape(name)}")
            bs = _dict(bs)
            ptr = f"{bptr}/properties/{escape(name)}"
            if where.location != "body":
                continue
            if request:
                if bs.get("readOnly") is not True:
                    add("request-property-removed", name, ptr, side="base")
            else:
                req = "required" if name in breq else "optional"
                if bs.get("writeOnly") is True:
                    add(f"response-{req}-write-only-property-removed", name, ptr, side="base")
                else:
                    add(f"response-{req}-property-removed", name, ptr, side="base")
        for name in rprops:
            if name in bprops:
                continue
            rs, _, _ = self.rev.deref(rprops[name], f"{rptr}/properties/{escape(name)}")
            rs = _dict(rs)
            ptr = f"{rptr}/properties/{escape(name)}"
            required = name in rreq
            if header_param:
                if required:
                    add("new-required-request-header-property", name, ptr)
                continue
            if where.location != "body":
                continue
            if request:
                if rs.get("readOnly") is True:
                    continue
                if required:
                    rule = (
                        "new-required-request-property-with-default"
                        if "default" in rs
                        else "new-required-request-property"
                    )
                    add(rule, name, ptr)
                else:
                    add("new-optional-request-property", name, ptr)
            else:
                req = "required" if required else "optional"
                if rs.get("writeOnly") is True:
                    add(f"response-{req}-write-only-property-added", name, ptr)
                else:
                    add(f"response-{req}-property-added", name, ptr)
        for name in bprops:
            if name not in rprops:
                continue
            bsub = f"{bptr}/properties/{escape(name)}"
            rsub = f"{rptr}/properties/{escape(name)}"
            for ev in self.compare(bprops[name], rprops[name], bsub, rsub, where, "prop"):
                out.append(_nest(ev, name))
            bs = _dict(self.base.deref(bprops[name], bsub)[0])
            rs = _dict(self.rev.deref(rprops[name], rsub)[0])
            was_req, is_req = name in breq, name in rreq
            if was_req != is_req:
                if header_param:
                    if is_req:
                        add("request-header-property-became-required", name, rsub)
                elif where.location == "body" and request:
                    if is_req and rs.get("readOnly") is not True:
                        rule = (
                            "request-property-became-required-with-default"
                            if "default" in rs
                            else "request-property-became-required"
                        )
                        add(rule, name, rsub)
                    elif not is_req:
                        add("request-property-became-optional", name, rsub)
                elif where.location == "body":
                    wo = "write-only-" if rs.get("writeOnly") is True else ""
                    state = "required" if is_req else "optional"
                    add(f"response-{wo}property-became-{state}", name, rsub)
            if where.location == "body":
                req = "required" if is_req else "optional"
                for kw, slug in (("readOnly", "read-only"), ("writeOnly", "write-only")):
                    bv, rv = bs.get(kw) is True, rs.get(kw) is True
                    if bv != rv:
                        state = f"became-{slug}" if rv else f"became-not-{slug}"
                        add(f"{where.direction}-{req}-property-{state}", name, rsub)

    def _composite(
        self,
        kw: str,
        b: dict[str, Any],
        r: dict[str, Any],
        bptr: str,
        rptr: str,
        where: Where,
        out: list[Event],
    ) -> None:
        bl, rl = b.get(kw), r.get(kw)
        bl = bl if isinstance(bl, list) else []
        rl = rl if isinstance(rl, list) else []
        if not bl and not rl:
            return
        slug = {"allOf": "all-of", "anyOf": "any-of", "oneOf": "one-of"}[kw]
        pairs, added, removed = _match(bl, rl)
        for i, j in pairs:
            label = _label(kw, rl[j], j)
            self._sub(bl[i], rl[j], f"{bptr}/{kw}/{i}", f"{rptr}/{kw}/{j}", where, label, out)
        for j in added:
            sub = _dict(self.rev.deref(rl[j], f"{rptr}/{kw}/{j}")[0])
            ann = kw == "allOf" and _annotation_only(sub)
            out.append(
                Event(
                    f"@{slug}-added" + ("-annotation-only" if ann else ""),
                    (),
                    f"{rptr}/{kw}/{j}",
                    f"{kw} subschema {_label(kw, rl[j], j)} added",
                )
            )
        for i in removed:
            sub = _dict(self.base.deref(bl[i], f"{bptr}/{kw}/{i}")[0])
            ann = kw == "allOf" and _annotation_only(sub)
            out.append(
                Event(
                    f"@{slug}-removed" + ("-annotation-only" if ann else ""),
                    (),
                    f"{bptr}/{kw}/{i}",
                    f"{kw} subschema {_label(kw, bl[i], i)} removed",
                    "base",
                )
            )

    def resolve_composites(self, events: list[Event], where: Where) -> list[Event]:
        """Name the deferred composite events (their name depends on depth, known only here)."""
        out: list[Event] = []
        for ev in events:
            if not ev.rule.startswith("@"):
                out.append(ev)
                continue
            if where.location != "body":
                continue
            raw = ev.rule[1:]
            wrapped = raw.endswith("-wrapped")
            raw = raw.removesuffix("-wrapped")
            annotation = raw.endswith("-annotation-only")
            change = raw.removesuffix("-annotation-only")
            scope = "body" if not ev.prop else "property"
            if wrapped and scope == "body":
                rule = f"{where.direction}-body-wrapped-in-one-of"
                if rule in self.rules:
                    if not any(o.rule == rule and o.prop == ev.prop for o in out):
                        out.append(Event(rule, ev.prop, ev.pointer, "body wrapped in oneOf"))
                    continue
            base = f"{where.direction}-{scope}-{change}"
            rule = f"{base}-annotation-only" if annotation else base
            if rule not in self.rules:
                rule = base
            if rule in self.rules:
                out.append(Event(rule, ev.prop, ev.pointer, ev.detail, ev.side))
        return out


def _bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """Numeric bounds with 3.0's boolean ``exclusiveMaximum: true`` read as 3.1's number."""
    out = {kw: schema.get(kw) for kw, _ in BOUNDS}
    for excl, plain in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        flag = schema.get(excl)
        if isinstance(flag, bool):
            out[excl] = None
            if flag and out[plain] is not None:
                out[excl], out[plain] = out[plain], None
    return out


def _nest(ev: Event, name: str) -> Event:
    return Event(ev.rule, (name, *ev.prop), ev.pointer, ev.detail, ev.side)


def _has_content(schema: dict[str, Any]) -> bool:
    return any(k not in ANNOTATION_KEYS and not k.startswith("x-") for k in schema)


def _annotation_only(schema: dict[str, Any]) -> bool:
    return all(k in ANNOTATION_KEYS or k.startswith("x-") for k in schema)


def _label(kw: str, node: Any, index: int) -> str:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        return f"[{kw}/{node['$ref'].rsplit('/', 1)[-1]}]"
    return f"[{kw}/{index}]"


def _match(bl: list[Any], rl: list[Any]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pair subschemas: same ``$ref`` first, then identical inline, then by order."""
    pairs: list[tuple[int, int]] = []
    free_r = list(range(len(rl)))
    free_b: list[int] = []

    def ref(x: Any) -> str | None:
        return x.get("$ref") if isinstance(x, dict) and isinstance(x.get("$ref"), str) else None

    for i, x in enumerate(bl):
        rx = ref(x)
        hit = None
        for j in free_r:
            if rx is not None and ref(rl[j]) == rx:
                hit = j
                break
        if hit is None and rx is None:
            for j in free_r:
                if ref(rl[j]) is None and rl[j] == x:
                    hit = j
                    break
        if hit is None:
            free_b.append(i)
        else:
            free_r.remove(hit)
            pairs.append((i, hit))
    inline_b = [i for i in free_b if ref(bl[i]) is None]
    inline_r = [j for j in free_r if ref(rl[j]) is None]
    for i, j in zip(inline_b, inline_r, strict=False):
        pairs.append((i, j))
    paired_b = {i for i, _ in pairs}
    paired_r = {j for _, j in pairs}
    removed = [i for i in range(len(bl)) if i not in paired_b]
    added = [j for j in range(len(rl)) if j not in paired_r]
    return sorted(pairs), added, removed
