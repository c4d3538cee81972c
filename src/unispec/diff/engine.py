"""Compare two OpenAPI documents (3.0 or 3.1 dicts) and name every change.

The comparison follows oasdiff's model so that rule IDs, levels and "when
does it fire" match: paths are matched after normalising parameter names
(``/users/{id}`` is ``/users/{userId}``), parameters by location and name
(path parameters by their position in the template, so renaming one is not a
change), responses by status, bodies by media type, and schemas through
``$ref`` on both sides. Operations whose ``x-stability-level`` is draft or
alpha are exempt from compatibility rules. Everything here is pure: dicts
in, findings out; the clock is injected for the sunset checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from unispec.diff.docs import Doc, clean_refs
from unispec.diff.report import DiffFinding, SourceMap, source_string
from unispec.diff.rules import all_rules
from unispec.diff.schema import STABILITY, Event, SchemaWalker, Where, parse_sunset, short
from unispec.model import HTTP_METHODS
from unispec.refs import escape

_PARAM_RE = re.compile(r"\{[^}/]*\}")
_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def normalise_path(path: str) -> str:
    """``/users/{userId}`` -> ``/users/{}``: parameter names do not identify a path."""
    return _PARAM_RE.sub("{}", path)


def _dict(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _is_json(media_type: str) -> bool:
    mt = media_type.split(";", 1)[0].strip().lower()
    return mt == "application/json" or mt.endswith("+json")


def _stability(op: dict[str, Any]) -> tuple[str, bool]:
    """(level, valid); a missing level is "" and valid."""
    raw = op.get("x-stability-level")
    if raw is None:
        return "", True
    if isinstance(raw, str) and raw in STABILITY:
        return raw, True
    return str(raw), False


@dataclass(frozen=True)
class _Op:
    key: str
    service: str
    bptr: str
    rptr: str


@dataclass(frozen=True)
class DiffOptions:
    """Knobs with oasdiff's defaults (no minimum deprecation period)."""

    today: date | None = None
    sunset_days_stable: int = 0
    sunset_days_beta: int = 0


class Comparer:
    """One comparison of a base and a revision document."""

    def __init__(
        self,
        base: dict[str, Any],
        revision: dict[str, Any],
        *,
        revision_sources: SourceMap | None = None,
        options: DiffOptions | None = None,
    ) -> None:
        self.bdoc, self.rdoc = Doc(base), Doc(revision)
        self.base, self.rev = base, revision
        self.opts = options or DiffOptions()
        self.today = self.opts.today or date.today()
        self.sources = revision_sources
        self.rules = all_rules()
        self.clean = clean_refs(base, revision)
        self.walker = SchemaWalker(
            self.bdoc, self.rdoc, self.clean, self.today, self.opts.sunset_days_stable
        )
        self.findings: list[DiffFinding] = []
        self._seen: set[tuple[str, str, str, str]] = set()

    # -- output ------------------------------------------------------------
    def emit(
        self,
        rule: str,
        op: _Op | None,
        pointer: str,
        subject: str = "",
        detail: str = "",
        side: str = "revision",
        context: str = "",
    ) -> None:
        spec = self.rules.get(rule)
        if spec is None:
            return
        dedupe = (rule, op.key if op else "", pointer, detail if pointer else f"{subject}|{detail}")
        if dedupe in self._seen:
            return
        self._seen.add(dedupe)
        text = spec.description
        if subject:
            text += f" `{subject}`"
        if detail:
            text += f": {detail}"
        if context:
            text += f" ({context})"
        source = source_string(self.sources, pointer) if side == "revision" else None
        if source is None and op is not None and side == "revision":
            # e.g. a schema merge hoisted into components: point at the operation instead
            source = source_string(self.sources, op.rptr)
        self.findings.append(
            DiffFinding(
                operation=op.key if op else "",
                id=rule,
                level=spec.level,
                pointer=pointer,
                message=text,
                source=source,
                service=op.service if op else "",
                side=side,
            )
        )

    def emit_events(
        self, events: list[Event], where: Where, op: _Op, subject: str, context: str
    ) -> None:
        for ev in self.walker.resolve_composites(events, where):
            prop = "/".join(_segment(p) for p in ev.prop)
            name = f"{subject}/{prop}" if subject and prop else (prop or subject)
            self.emit(ev.rule, op, ev.pointer, name, ev.detail, ev.side, context)

    # -- driver ------------------------------------------------------------
    def run(self) -> list[DiffFinding]:
        self.paths()
        self.security_global()
        self.security_components()
        self.webhooks_and_schemas()
        self.version_policy()
        self.findings.sort(key=lambda f: (f.operation, f.id, f.pointer, f.message))
        return self.findings

    def _path_items(self, doc: Doc) -> dict[str, tuple[str, dict[str, Any]]]:
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for path, item in _dict(doc.doc.get("paths")).items():
            if not isinstance(path, str):
                continue
            node, _, _ = doc.deref(item, f"/paths/{escape(path)}")
            out.setdefault(normalise_path(path), (path, _dict(node)))
        return out

    def paths(self) -> None:
        bp, rp = self._path_items(self.bdoc), self._path_items(self.rdoc)
        for norm, (path, item) in bp.items():
            if norm in rp:
                continue
            for method in HTTP_METHODS:
                op = item.get(method)
                if isinstance(op, dict):
                    self.removed_op(path, method, op, whole_path=True)
        for norm, (path, item) in rp.items():
            if norm in bp:
                continue
            for method in HTTP_METHODS:
                op = item.get(method)
                if isinstance(op, dict):
                    ctx = self._ctx(path, path, method, op)
                    self.emit("endpoint-added", ctx, ctx.rptr)
        for norm, (bpath, bitem) in bp.items():
            if norm not in rp:
                continue
            rpath, ritem = rp[norm]
            for method in HTTP_METHODS:
                bop, rop = bitem.get(method), ritem.get(method)
                if isinstance(bop, dict) and not isinstance(rop, dict):
                    self.removed_op(bpath, method, bop, whole_path=False)
                elif isinstance(rop, dict) and not isinstance(bop, dict):
                    ctx = self._ctx(rpath, rpath, method, rop)
                    self.emit("endpoint-added", ctx, ctx.rptr)
                elif isinstance(bop, dict) and isinstance(rop, dict):
                    self.operation(bpath, rpath, method, bitem, ritem, bop, rop)

    def _ctx(self, bpath: str, rpath: str, method: str, op: dict[str, Any]) -> _Op:
        service = op.get("x-service")
        return _Op(
            key=f"{method.upper()} {rpath}",
            service=service if isinstance(service, str) else "",
            bptr=f"/paths/{escape(bpath)}/{method}",
            rptr=f"/paths/{escape(rpath)}/{method}",
        )

    # -- removed operations ------------------------------------------------
    def removed_op(self, path: str, method: str, op: dict[str, Any], whole_path: bool) -> None:
        ctx = self._ctx(path, path, method, op)
        level, valid = _stability(op)
        if not valid:
            self.emit("api-invalid-stability-level", ctx, ctx.bptr, detail=level, side="base")
            return
        if level in ("draft", "alpha"):
            return
        kind = "api-path" if whole_path else "api"
        ptr = ctx.bptr
        if op.get("deprecated") is not True:
            self.emit(f"{kind}-removed-without-deprecation", ctx, ptr, side="base")
            return
        sunset = op.get("x-sunset")
        if sunset is None:
            self.emit(f"{kind}-removed-with-deprecation", ctx, ptr, side="base")
            return
        when = parse_sunset(sunset)
        if when is None:
            self.emit("api-path-sunset-parse", ctx, ptr, detail=f"x-sunset {sunset!r}", side="base")
        elif self.today < when:
            self.emit(
                f"{kind}-removed-before-sunset", ctx, ptr, detail=f"sunset {when}", side="base"
            )
        # removed on or after its sunset date: the deprecation was honoured, nothing to say

    # -- modified operations -----------------------------------------------
    def operation(
        self,
        bpath: str,
        rpath: str,
        method: str,
        bitem: dict[str, Any],
        ritem: dict[str, Any],
        bop: dict[str, Any],
        rop: dict[str, Any],
    ) -> None:
        ctx = self._ctx(bpath, rpath, method, rop)
        bparams, rparams = bitem.get("parameters"), ritem.get("parameters")
        if (
            bop == rop
            and bparams == rparams
            and self.walker.is_clean(bop)
            and self.walker.is_clean(bparams)
        ):
            return  # unchanged operation: no rule applies, not even stability checks
        bl, bvalid = _stability(bop)
        rl, rvalid = _stability(rop)
        if not bvalid:
            self.emit("api-invalid-stability-level", ctx, ctx.bptr, detail=bl, side="base")
        if not rvalid:
            self.emit("api-invalid-stability-level", ctx, ctx.rptr, detail=rl)
        if bvalid and rvalid:
            bn, rn = STABILITY[bl or "stable"], STABILITY[rl or "stable"]
            if bn != rn and (bl or "stable") not in ("draft", "alpha"):
                rule = "api-stability-decreased" if rn < bn else "api-stability-increased"
                self.emit(rule, ctx, ctx.rptr, detail=f"{bl or 'stable'} -> {rl or 'stable'}")
        if rvalid and rl in ("draft", "alpha"):
            return
        self.lifecycle(ctx, bop, rop, rvalid, rl)
        bid, rid = bop.get("operationId"), rop.get("operationId")
        if bid != rid:
            if not bid:
                self.emit("api-operation-id-added", ctx, ctx.rptr, detail=str(rid))
            else:
                detail = f"was {bid!r}" + (f", now {rid!r}" if rid else "")
                self.emit("api-operation-id-removed", ctx, ctx.rptr, detail=detail)
        btags = [t for t in bop.get("tags") or () if isinstance(t, str)]
        rtags = [t for t in rop.get("tags") or () if isinstance(t, str)]
        for t in btags:
            if t not in rtags:
                self.emit("api-tag-removed", ctx, ctx.rptr, subject=t)
        for t in rtags:
            if t not in btags:
                self.emit("api-tag-added", ctx, ctx.rptr, subject=t)
        self.security(bop.get("security"), rop.get("security"), ctx, "api-security", ctx.rptr)
        self.parameters(ctx, bpath, rpath, bitem, ritem, bop, rop)
        self.request_body(ctx, bop, rop)
        self.responses(ctx, bop, rop)

    def lifecycle(
        self, ctx: _Op, bop: dict[str, Any], rop: dict[str, Any], rvalid: bool, rl: str
    ) -> None:
        bdep, rdep = bop.get("deprecated") is True, rop.get("deprecated") is True
        days = self._days(rl)
        if bdep and not rdep:
            self.emit("endpoint-reactivated", ctx, ctx.rptr)
        elif rdep and not bdep and rvalid:
            sunset = rop.get("x-sunset")
            if sunset is None:
                rule = "api-deprecated-sunset-missing" if days > 0 else "endpoint-deprecated"
                self.emit(rule, ctx, ctx.rptr)
            else:
                when = parse_sunset(sunset)
                if when is None:
                    self.emit("api-deprecated-sunset-parse", ctx, ctx.rptr, detail=repr(sunset))
                elif (when - self.today).days < days:
                    self.emit("api-sunset-date-too-small", ctx, ctx.rptr, detail=f"sunset {when}")
                else:
                    self.emit(
                        "endpoint-deprecated-with-sunset", ctx, ctx.rptr, detail=f"sunset {when}"
                    )
        if rdep and rvalid:
            bs, rs = bop.get("x-sunset"), rop.get("x-sunset")
            if bs is not None and rs is None:
                self.emit("sunset-deleted", ctx, ctx.rptr)
            elif bs is not None and rs is not None and bs != rs:
                bwhen, rwhen = parse_sunset(bs), parse_sunset(rs)
                if bwhen is None or rwhen is None:
                    self.emit("api-path-sunset-parse", ctx, ctx.rptr, detail=repr(rs))
                elif bwhen > rwhen and (rwhen - self.today).days < days:
                    self.emit(
                        "api-sunset-date-changed-too-small",
                        ctx,
                        ctx.rptr,
                        detail=f"{bwhen} -> {rwhen}",
                    )

    def _days(self, level: str) -> int:
        if level in ("draft", "alpha"):
            return 0
        if level == "beta":
            return self.opts.sunset_days_beta
        return self.opts.sunset_days_stable

    # -- security ----------------------------------------------------------
    def security(self, bsec: Any, rsec: Any, ctx: _Op | None, prefix: str, ptr: str) -> None:
        if bsec == rsec:
            return

        def reqs(sec: Any) -> dict[frozenset[str], dict[str, list[str]]]:
            out: dict[frozenset[str], dict[str, list[str]]] = {}
            for req in sec if isinstance(sec, list) else ():
                if isinstance(req, dict):
                    out[frozenset(req)] = {
                        k: [s for s in (v or ()) if isinstance(s, str)] for k, v in req.items()
                    }
            return out

        b, r = reqs(bsec), reqs(rsec)
        if prefix == "api-security":
            # an empty requirement ({}: "anonymous allowed") is not reported per operation
            b.pop(frozenset(), None)
            r.pop(frozenset(), None)
        for k in b:
            if k not in r:
                name = " AND ".join(sorted(k)) or "(none)"
                self.emit(f"{prefix}-removed", ctx, ptr, subject=name, side="base")
        for k in r:
            if k not in b:
                name = " AND ".join(sorted(k)) or "(none)"
                self.emit(f"{prefix}-added", ctx, ptr, subject=name)
        for k in b.keys() & r.keys():
            for scheme in sorted(k):
                bs, rs = b[k].get(scheme, []), r[k].get(scheme, [])
                for s in rs:
                    if s not in bs:
                        self.emit(f"{prefix}-scope-added", ctx, ptr, subject=scheme, detail=s)
                for s in bs:
                    if s not in rs:
                        self.emit(f"{prefix}-scope-removed", ctx, ptr, subject=scheme, detail=s)

    def security_global(self) -> None:
        self.security(
            self.base.get("security"), self.rev.get("security"), None, "api-global-security", ""
        )

    def security_components(self) -> None:
        bs = _dict(_dict(self.base.get("components")).get("securitySchemes"))
        rs = _dict(_dict(self.rev.get("components")).get("securitySchemes"))
        ptr = "/components/securitySchemes"
        for name in sorted(set(bs) - set(rs)):
            self.emit("api-security-component-removed", None, f"{ptr}/{escape(name)}", name)
        for name in sorted(set(rs) - set(bs)):
            self.emit("api-security-component-added", None, f"{ptr}/{escape(name)}", name)
        for name in sorted(set(bs) & set(rs)):
            b, _, _ = self.bdoc.deref(bs[name], "")
            r, _, _ = self.rdoc.deref(rs[name], "")
            b, r = _dict(b), _dict(r)
            p = f"{ptr}/{escape(name)}"
            if b.get("type") != r.get("type"):
                detail = f"{b.get('type')} -> {r.get('type')}"
                self.emit("api-security-component-type-changed", None, p, name, detail)
            bf, rf = _dict(b.get("flows")), _dict(r.get("flows"))
            for flow in sorted(set(bf) & set(rf)):
                fb, fr = _dict(bf[flow]), _dict(rf[flow])
                fp = f"{p}/flows/{flow}"
                if fb.get("authorizationUrl") != fr.get("authorizationUrl"):
                    self.emit("api-security-component-oauth-url-changed", None, fp, name, flow)
                if fb.get("tokenUrl") != fr.get("tokenUrl"):
                    self.emit(
                        "api-security-component-oauth-token-url-changed", None, fp, name, flow
                    )
                sb, sr = _dict(fb.get("scopes")), _dict(fr.get("scopes"))
                for s in sorted(set(sr) - set(sb)):
                    self.emit("api-security-component-oauth-scope-added", None, fp, name, s)
                for s in sorted(set(sb) - set(sr)):
                    self.emit("api-security-component-oauth-scope-removed", None, fp, name, s)
                for s in sorted(set(sb) & set(sr)):
                    if sb[s] != sr[s]:
                        self.emit("api-security-component-oauth-scope-changed", None, fp, name, s)

    def webhooks_and_schemas(self) -> None:
        bw, rw = _dict(self.base.get("webhooks")), _dict(self.rev.get("webhooks"))
        for name in sorted(set(rw) - set(bw)):
            self.emit("webhook-added", None, f"/webhooks/{escape(name)}", name)
        for name in sorted(set(bw) - set(rw)):
            self.emit("webhook-removed", None, f"/webhooks/{escape(name)}", name, side="base")
        for name in sorted(set(bw) & set(rw)):
            self.webhook(name, bw[name], rw[name])
        bsch = _dict(_dict(self.base.get("components")).get("schemas"))
        rsch = _dict(_dict(self.rev.get("components")).get("schemas"))
        for name in sorted(set(bsch) - set(rsch)):
            ptr = f"/components/schemas/{escape(name)}"
            self.emit("api-schema-removed", None, ptr, name, side="base")

    def webhook(self, name: str, braw: Any, rraw: Any) -> None:
        """A webhook's payload is data the platform sends to its clients' endpoints,
        like a response: its changes are judged by the response rules (removing a
        property a receiver reads breaks it; adding one does not)."""
        ptr = f"/webhooks/{escape(name)}"
        b, bptr, _ = self.bdoc.deref(braw, ptr)
        r, rptr, _ = self.rdoc.deref(rraw, ptr)
        b, r = _dict(b), _dict(r)
        for method in HTTP_METHODS:
            bop, rop = b.get(method), r.get(method)
            if not isinstance(bop, dict):
                continue
            if not isinstance(rop, dict):
                subject = f"{name} ({method.upper()})"
                self.emit("webhook-removed", None, f"{bptr}/{method}", subject, side="base")
                continue
            service = rop.get("x-service")
            ctx = _Op(
                key=f"{method.upper()} webhook:{name}",
                service=service if isinstance(service, str) else "",
                bptr=f"{bptr}/{method}",
                rptr=f"{rptr}/{method}",
            )
            bb, bbptr, _ = self.bdoc.deref(bop.get("requestBody"), ctx.bptr + "/requestBody")
            rb, rbptr, _ = self.rdoc.deref(rop.get("requestBody"), ctx.rptr + "/requestBody")
            bc, rc = _dict(_dict(bb).get("content")), _dict(_dict(rb).get("content"))
            for mt in bc:
                if mt not in rc:
                    label = f"payload {mt}"
                    self.emit("response-media-type-removed", ctx, bbptr, label, side="base")
            for mt in rc:
                if mt not in bc:
                    self.emit("response-media-type-added", ctx, rbptr, f"payload {mt}")
            for mt in bc:
                bm, rm = _dict(bc[mt]), _dict(rc.get(mt))
                if "schema" not in bm or "schema" not in rm:
                    continue
                where = Where("response", "body", strong=_is_json(mt))
                events = self.walker.compare(
                    bm["schema"],
                    rm["schema"],
                    f"{bbptr}/content/{escape(mt)}/schema",
                    f"{rbptr}/content/{escape(mt)}/schema",
                    where,
                    "top",
                )
                self.emit_events(events, where, ctx, "", f"webhook payload {mt}")

    # -- parameters --------------------------------------------------------
    def _params(
        self, doc: Doc, path: str, item: dict[str, Any], op: dict[str, Any], ptr: str
    ) -> dict[tuple[str, str], tuple[dict[str, Any], str, bool]]:
        """(in, key) -> (parameter, pointer, declared at path level); path params by position."""
        names = [m.group(0)[1:-1] for m in _PARAM_RE.finditer(path)]
        out: dict[tuple[str, str], tuple[dict[str, Any], str, bool]] = {}
        for level, params, base_ptr in (
            (True, item.get("parameters"), ptr.rsplit("/", 1)[0] + "/parameters"),
            (False, op.get("parameters"), ptr + "/parameters"),
        ):
            for i, raw in enumerate(params if isinstance(params, list) else ()):
                p, pptr, _ = doc.deref(raw, f"{base_ptr}/{i}")
                p = _dict(p)
                loc, name = p.get("in"), p.get("name")
                if not isinstance(loc, str) or not isinstance(name, str):
                    continue
                key = name  # header names compared as written, like oasdiff's default
                if loc == "path" and name in names:
                    key = f"#{names.index(name)}"
                out[(loc, key)] = (p, pptr, level)
        return out

    def parameters(
        self,
        ctx: _Op,
        bpath: str,
        rpath: str,
        bitem: dict[str, Any],
        ritem: dict[str, Any],
        bop: dict[str, Any],
        rop: dict[str, Any],
    ) -> None:
        bps = self._params(self.bdoc, bpath, bitem, bop, ctx.bptr)
        rps = self._params(self.rdoc, rpath, ritem, rop, ctx.rptr)
        for k, (p, ptr, _) in bps.items():
            if k in rps:
                continue
            subject = f"{p.get('in')} {p.get('name')}"
            if p.get("deprecated") is not True:
                self.emit("request-parameter-removed", ctx, ptr, subject, side="base")
                continue
            sunset = p.get("x-sunset")
            when = parse_sunset(sunset) if sunset is not None else None
            if sunset is None:
                rule = "request-parameter-removed-with-deprecation"
            elif when is None:
                rule = "request-parameter-sunset-parse"
            elif self.today < when:
                rule = "request-parameter-removed-before-sunset"
            else:
                continue  # removed after its sunset: as announced
            self.emit(rule, ctx, ptr, subject, side="base")
        for k, (p, ptr, path_level) in rps.items():
            if k in bps:
                continue
            subject = f"{p.get('in')} {p.get('name')}"
            required = p.get("required") is True
            if p.get("in") == "path":
                self.emit("new-request-path-parameter", ctx, ptr, subject)
            elif path_level:
                rule = (
                    "new-required-request-default-parameter-to-existing-path"
                    if required
                    else "new-optional-request-default-parameter-to-existing-path"
                )
                self.emit(rule, ctx, ptr, subject)
            elif required:
                self.emit("new-required-request-parameter", ctx, ptr, subject)
            else:
                self.emit("new-optional-request-parameter", ctx, ptr, subject)
        for k, (bp, bptr, _) in bps.items():
            if k not in rps:
                continue
            rp, rptr, _ = rps[k]
            if bp == rp and self.walker.is_clean(bp):
                continue
            self.parameter(ctx, bp, rp, bptr, rptr, self._days(_stability(rop)[0]))

    def parameter(
        self, ctx: _Op, bp: dict[str, Any], rp: dict[str, Any], bptr: str, rptr: str, days: int
    ) -> None:
        loc = str(rp.get("in"))
        subject = f"{loc} {rp.get('name')}"
        if loc != "path":
            breq, rreq = bp.get("required") is True, rp.get("required") is True
            if breq != rreq:
                rule = (
                    "request-parameter-became-required"
                    if rreq
                    else "request-parameter-became-optional"
                )
                self.emit(rule, ctx, rptr, subject)
        bdep, rdep = bp.get("deprecated") is True, rp.get("deprecated") is True
        if rdep and not bdep:
            sunset = rp.get("x-sunset")
            if sunset is None:
                rule = (
                    "request-parameter-deprecated-sunset-missing"
                    if days > 0
                    else "request-parameter-deprecated"
                )
                self.emit(rule, ctx, rptr, subject)
            else:
                when = parse_sunset(sunset)
                if when is None:
                    self.emit("request-parameter-sunset-parse", ctx, rptr, subject, repr(sunset))
                elif (when - self.today).days < days:
                    self.emit("request-parameter-sunset-date-too-small", ctx, rptr, subject)
                else:
                    self.emit("request-parameter-deprecated", ctx, rptr, subject)
        elif bdep and not rdep:
            self.emit("request-parameter-reactivated", ctx, rptr, subject)
        if rdep:
            bs, rs = bp.get("x-sunset"), rp.get("x-sunset")
            if bs is not None and rs is None:
                self.emit("request-parameter-sunset-deleted", ctx, rptr, subject)
            elif bs is not None and rs is not None and bs != rs:
                bwhen, rwhen = parse_sunset(bs), parse_sunset(rs)
                if (
                    bwhen is not None
                    and rwhen is not None
                    and bwhen > rwhen
                    and (rwhen - self.today).days < days
                ):
                    self.emit("request-parameter-sunset-date-changed-too-small", ctx, rptr, subject)
        bs_, bsp = self._param_schema(bp, bptr)
        rs_, rsp = self._param_schema(rp, rptr)
        if bs_ is None or rs_ is None:
            return
        where = Where("request", "param", strong=False, param_in=loc)
        events = self.walker.compare(bs_, rs_, bsp, rsp, where, "top")
        self.emit_events(events, where, ctx, subject, "")

    @staticmethod
    def _param_schema(p: dict[str, Any], ptr: str) -> tuple[Any, str]:
        if "schema" in p:
            return p["schema"], ptr + "/schema"
        content = _dict(p.get("content"))
        for mt, media in content.items():
            m = _dict(media)
            if "schema" in m:
                return m["schema"], f"{ptr}/content/{escape(mt)}/schema"
        return None, ptr

    # -- request body ------------------------------------------------------
    def request_body(self, ctx: _Op, bop: dict[str, Any], rop: dict[str, Any]) -> None:
        braw, rraw = bop.get("requestBody"), rop.get("requestBody")
        if braw is None and rraw is None:
            return
        b, bptr, _ = self.bdoc.deref(braw, ctx.bptr + "/requestBody")
        r, rptr, _ = self.rdoc.deref(rraw, ctx.rptr + "/requestBody")
        if braw is None:
            required = _dict(r).get("required") is True
            rule = "request-body-added-required" if required else "request-body-added-optional"
            self.emit(rule, ctx, rptr)
            return
        if rraw is None:
            self.emit("request-body-removed", ctx, bptr, side="base")
            return
        b, r = _dict(b), _dict(r)
        breq, rreq = b.get("required") is True, r.get("required") is True
        if breq != rreq:
            rule = "request-body-became-required" if rreq else "request-body-became-optional"
            self.emit(rule, ctx, rptr)
        bc, rc = _dict(b.get("content")), _dict(r.get("content"))
        for mt in bc:
            if mt not in rc:
                self.emit("request-body-media-type-removed", ctx, bptr, mt, side="base")
        for mt in rc:
            if mt not in bc:
                self.emit("request-body-media-type-added", ctx, rptr, mt)
        for mt in bc:
            if mt not in rc:
                continue
            bm, rm = _dict(bc[mt]), _dict(rc[mt])
            mbptr, mrptr = f"{bptr}/content/{escape(mt)}", f"{rptr}/content/{escape(mt)}"
            if "schema" not in bm and "schema" in rm:
                self.emit("request-body-media-type-schema-added", ctx, mrptr, mt)
            elif "schema" in bm and "schema" not in rm:
                self.emit("request-body-media-type-schema-removed", ctx, mbptr, mt, side="base")
            elif "schema" in bm and "schema" in rm:
                where = Where("request", "body", strong=_is_json(mt))
                events = self.walker.compare(
                    bm["schema"], rm["schema"], mbptr + "/schema", mrptr + "/schema", where, "top"
                )
                self.emit_events(events, where, ctx, "", f"request body {mt}")

    # -- responses ---------------------------------------------------------
    def responses(self, ctx: _Op, bop: dict[str, Any], rop: dict[str, Any]) -> None:
        bresp, rresp = _dict(bop.get("responses")), _dict(rop.get("responses"))
        for status in bresp:
            if str(status) in {str(s) for s in rresp}:
                continue
            kind = _status_kind(str(status))
            if kind:
                ptr = f"{ctx.bptr}/responses/{escape(str(status))}"
                self.emit(f"response-{kind}-status-removed", ctx, ptr, str(status), side="base")
        bkeys = {str(s) for s in bresp}
        for status in rresp:
            if str(status) in bkeys:
                continue
            kind = _status_kind(str(status))
            if kind:
                ptr = f"{ctx.rptr}/responses/{escape(str(status))}"
                self.emit(f"response-{kind}-status-added", ctx, ptr, str(status))
        rmap = {str(s): v for s, v in rresp.items()}
        for status, braw in bresp.items():
            s = str(status)
            if s not in rmap:
                continue
            b, bptr, _ = self.bdoc.deref(braw, f"{ctx.bptr}/responses/{escape(s)}")
            r, rptr, _ = self.rdoc.deref(rmap[s], f"{ctx.rptr}/responses/{escape(s)}")
            b, r = _dict(b), _dict(r)
            if b == r and self.walker.is_clean(b):
                continue
            self.headers(ctx, s, b, r, bptr, rptr)
            bc, rc = _dict(b.get("content")), _dict(r.get("content"))
            renamed = _pair_media_types(
                [m for m in bc if m not in rc], [m for m in rc if m not in bc]
            )
            for mt in bc:
                if mt not in rc and mt not in renamed:
                    self.emit("response-media-type-removed", ctx, bptr, f"{s} {mt}", side="base")
            paired = {new: (old, kind) for old, (new, kind) in renamed.items()}
            for mt in rc:
                if mt not in bc and mt not in paired:
                    self.emit("response-media-type-added", ctx, rptr, f"{s} {mt}")
            pairs = [(mt, mt) for mt in bc if mt in rc]
            for old, (new, kind) in renamed.items():
                self.emit(
                    f"response-media-type-name-{kind}",
                    ctx,
                    f"{rptr}/content/{escape(new)}",
                    f"{s} {old}",
                    f"now {new}",
                )
                pairs.append((old, new))
            for bmt, rmt in pairs:
                bm, rm = _dict(bc[bmt]), _dict(rc[rmt])
                mbptr, mrptr = f"{bptr}/content/{escape(bmt)}", f"{rptr}/content/{escape(rmt)}"
                label = f"{s} {rmt}"
                if "schema" not in bm and "schema" in rm:
                    self.emit("response-body-media-type-schema-added", ctx, mrptr, label)
                elif "schema" in bm and "schema" not in rm:
                    self.emit(
                        "response-body-media-type-schema-removed", ctx, mbptr, label, side="base"
                    )
                elif "schema" in bm and "schema" in rm:
                    where = Where("response", "body", strong=_is_json(rmt))
                    events = self.walker.compare(
                        bm["schema"],
                        rm["schema"],
                        mbptr + "/schema",
                        mrptr + "/schema",
                        where,
                        "top",
                    )
                    self.emit_events(events, where, ctx, "", f"response {s}, {rmt}")

    def headers(
        self, ctx: _Op, status: str, b: dict[str, Any], r: dict[str, Any], bptr: str, rptr: str
    ) -> None:
        bh = {str(k): (k, v) for k, v in _dict(b.get("headers")).items()}
        rh = {str(k): (k, v) for k, v in _dict(r.get("headers")).items()}
        for low, (name, raw) in bh.items():
            hb, hbptr, _ = self.bdoc.deref(raw, f"{bptr}/headers/{escape(str(name))}")
            hb = _dict(hb)
            if low not in rh:
                rule = (
                    "required-response-header-removed"
                    if hb.get("required") is True
                    else "optional-response-header-removed"
                )
                self.emit(rule, ctx, hbptr, str(name), context=f"response {status}", side="base")
                continue
            rname, rraw = rh[low]
            hr, hrptr, _ = self.rdoc.deref(rraw, f"{rptr}/headers/{escape(str(rname))}")
            hr = _dict(hr)
            if hb.get("required") is True and hr.get("required") is not True:
                self.emit("response-header-became-optional", ctx, hrptr, str(name))
            bs, bsp = self._param_schema(hb, hbptr)
            rs, rsp = self._param_schema(hr, hrptr)
            if bs is not None and rs is not None:
                where = Where("response", "header", strong=False)
                events = self.walker.compare(bs, rs, bsp, rsp, where, "top")
                self.emit_events(events, where, ctx, str(name), f"response {status}")
        for low, (name, _raw) in rh.items():
            if low not in bh:
                ptr = f"{rptr}/headers/{escape(str(name))}"
                self.emit(
                    "response-header-added", ctx, ptr, str(name), context=f"response {status}"
                )

    # -- semver ------------------------------------------------------------
    def version_policy(self) -> None:
        bv = _dict(self.base.get("info")).get("version")
        rv = _dict(self.rev.get("info")).get("version")
        if not isinstance(bv, str) or not isinstance(rv, str):
            return
        bm, rm = _SEMVER.match(bv), _SEMVER.match(rv)
        if bm is None or rm is None:
            return
        if not any(f.level == "ERR" for f in self.findings):
            return
        b = tuple(int(bm.group(i)) for i in (1, 2, 3))
        r = tuple(int(rm.group(i)) for i in (1, 2, 3))
        if bv == rv:
            self.emit("api-version-not-bumped", None, "/info/version", detail=f"still {rv}")
        elif not r > b:
            self.emit("api-version-decreased", None, "/info/version", detail=f"{bv} -> {rv}")
        elif not ((r[1] > b[1]) if b[0] == 0 and r[0] == 0 else (r[0] > b[0])):
            self.emit(
                "api-major-version-not-bumped",
                None,
                "/info/version",
                detail=f"{bv} -> {rv} carries breaking changes",
            )


def _segment(label: str) -> str:
    """Display a path segment: ``[anyOf/Card]`` -> ``anyOf[Card]``, ``[items]`` -> ``items``."""
    if not (label.startswith("[") and label.endswith("]")):
        return label
    kw, _, key = label[1:-1].partition("/")
    return f"{kw}[{key}]" if key else kw


def _media_parts(media_type: str) -> tuple[str, str, tuple[str, ...]]:
    head, *params = media_type.lower().split(";")
    kind, _, sub = head.strip().partition("/")
    return kind, sub, tuple(sorted(p.strip() for p in params if p.strip()))


def _covers(outer: str, inner: str) -> bool:
    """Does media range ``outer`` include ``inner`` (``*/*``, ``application/*``, ``*+json``)?"""
    ok, os_, _ = _media_parts(outer)
    ik, is_, _ = _media_parts(inner)
    if ok not in ("*", ik):
        return False
    return os_ in ("*", is_) or (os_.startswith("*+") and is_.endswith(os_[1:]))


def _pair_media_types(removed: list[str], added: list[str]) -> dict[str, tuple[str, str]]:
    """Removed media type -> (added one it became, "changed"|"generalized"|"specialized").

    A media type that only changed its parameters, or became a broader or
    narrower range of the same thing, is a rename rather than a removal plus
    an addition (oasdiff's media-type name rules).
    """
    out: dict[str, tuple[str, str]] = {}
    free = list(added)
    for old in removed:
        ok, os_, op = _media_parts(old)
        for new in free:
            nk, ns, np_ = _media_parts(new)
            if (ok, os_) == (nk, ns) and op != np_:
                kind = "changed"
            elif _covers(new, old):
                kind = "generalized"
            elif _covers(old, new):
                kind = "specialized"
            else:
                continue
            out[old] = (new, kind)
            free.remove(new)
            break
    return out


def _status_kind(status: str) -> str:
    """oasdiff's split: numeric 2xx is success, any other number is not; ranges are skipped."""
    if not status.isdigit():
        return ""
    return "success" if 200 <= int(status) <= 299 else "non-success"


def compare_documents(
    base: dict[str, Any],
    revision: dict[str, Any],
    *,
    revision_sources: SourceMap | None = None,
    options: DiffOptions | None = None,
) -> list[DiffFinding]:
    """Every finding between ``base`` and ``revision``, sorted, all levels."""
    if not isinstance(base, dict) or not isinstance(revision, dict):
        raise TypeError("compare_documents expects two OpenAPI documents (dicts)")
    return Comparer(base, revision, revision_sources=revision_sources, options=options).run()


__all__ = ["Comparer", "DiffOptions", "compare_documents", "normalise_path", "short"]
