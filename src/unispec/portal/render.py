"""UnifiedSpec -> markdown pages of the docs portal (pure: no writes, no network).

The renderer prepares the hard parts (schema tables, examples, code samples,
link paths) in Python and leaves the arrangement of each page to the jinja2
templates in ``portal/templates``, so a project can restyle its portal without
touching this module. Output is a dict ``{relative path: bytes}`` plus the
navigation, both deterministic for the same input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import jinja2

from unispec import emit, refs, synth
from unispec.model import HTTP_METHODS, ErrorCode, Operation, UnifiedSpec
from unispec.portal import samples
from unispec.portal.diagram import Message, sequence_svg
from unispec.portal.schema_view import SchemaTable, constraints, deref, ref_name, schema_table
from unispec.portal.text import (
    cell,
    code_inline,
    fence,
    first_sentence,
    h,
    hcode,
    inline_html,
    sanitize,
    slug,
    to_json,
)

NavItem = dict[str, Any]

# Above this many component schemas the definitions are split into one page per
# initial letter, so no page approaches the 2 MB budget on Stripe-sized specs.
SCHEMAS_PER_SINGLE_PAGE = 60
SCHEMAS_PER_PAGE = 40
MAX_EXAMPLE_CHARS = 6_000
# Above this many operations the navigation lists services only: Material renders
# the navigation into every page, which made it a third of the build time of a
# 1,500-operation contract; each service page links all of its operations.
NAV_OPERATIONS_LIMIT = 300
MAX_SAMPLE_BODY_CHARS = 1_500
ERROR_SCHEMA = "Error"


@dataclass(frozen=True)
class Release:
    """One released version in the changelog history."""

    version: str
    date: str = ""
    entries: tuple[Mapping[str, Any], ...] = ()
    markdown: str = ""


@dataclass(frozen=True)
class SdkInfo:
    """How the generated Python client is imported and how its names are derived."""

    import_line: str
    client_expr: str
    snake: Callable[[str], str]
    """The client's identifier rule (operationId/service/parameter -> Python name)."""
    calls: Mapping[str, Any] = field(default_factory=dict)
    """The client's own ``operations.json``: per operationId the service attribute,
    method and argument names it really uses (``snake`` is the fallback)."""


@dataclass
class RenderedPortal:
    """What the site writer needs: the files of ``docs_dir`` and the navigation."""

    files: dict[str, bytes] = field(default_factory=dict)
    blocks: dict[str, bytes] = field(default_factory=dict)
    """Docs page -> JSON list of the HTML blocks its placeholders stand for."""
    nav: list[NavItem] = field(default_factory=list)
    site_name: str = "API"


def html_path(link: str) -> str:
    """The built URL of a relative page link (``use_directory_urls: false``)."""
    target, sep, anchor = link.partition("#")
    if target.endswith(".md"):
        target = target[:-3] + ".html"
    return target + sep + anchor


def rel(from_page: str, to: str) -> str:
    """Relative link from one docs page to another path (anchors preserved)."""
    target, _, anchor = to.partition("#")
    base = posixpath.dirname(from_page) or "."
    out = posixpath.relpath(target, base) if target else posixpath.basename(from_page)
    return out + (f"#{anchor}" if anchor else "")


@dataclass(frozen=True, eq=False)
class Hook:
    """One method of a top-level ``webhooks`` entry: a request the platform sends."""

    name: str
    method: str
    service: str
    node: Mapping[str, Any]
    path_item: Mapping[str, Any]
    page: str = ""


class Portal:
    """Everything derived once from the spec, shared by all page renderers."""

    def __init__(
        self,
        spec: UnifiedSpec,
        env: jinja2.Environment,
        *,
        history: Sequence[Release] = (),
        gateway: Mapping[str, Any] | None = None,
        sdk: SdkInfo | None = None,
        downloads: Mapping[str, bytes] | None = None,
        park_blocks: bool = True,
    ) -> None:
        self.park_blocks = park_blocks
        self.spec = spec
        self.doc = spec.document
        self.env = env
        self.history = list(history)
        self.gateway = gateway or {}
        self.sdk = sdk
        self.extra_downloads = dict(downloads or {})
        info = self.doc.get("info") or {}
        self.title = str(info.get("title") or "API")
        self.version = str(info.get("version") or "")
        servers = self.doc.get("servers") or []
        self.servers = [s for s in servers if isinstance(s, Mapping) and s.get("url")]
        self.base_url = str(self.servers[0]["url"]) if self.servers else "http://127.0.0.1:8080"
        self.ops = sorted(spec.operations, key=lambda o: (o.service, o.path, _method_rank(o)))
        self.op_page: dict[str, str] = {}
        self._assign_pages()
        self.hooks = self._webhooks()
        self.schemas: dict[str, Any] = dict(
            ((self.doc.get("components") or {}).get("schemas") or {}).items()
        )
        self.schema_page = self._schema_pages()
        self._tables: dict[tuple[str, str, int, int], str] = {}
        self.blocks: dict[str, list[str]] = defaultdict(list)
        self._examples: dict[tuple[str, Any], tuple[str, Any, bool]] = {}
        self.errors_by_op: dict[str, list[ErrorCode]] = defaultdict(list)
        for err in spec.errors:
            for op_id in err.operations:
                self.errors_by_op[op_id].append(err)

    # -- layout ----------------------------------------------------------------------
    def _assign_pages(self) -> None:
        used: set[str] = set()
        for op in self.ops:
            base = f"services/{slug(op.service)}/{slug(op.operation_id)}"
            path = base + ".md"
            n = 2
            while path.lower() in used or path.endswith("/index.md"):
                path = f"{base}-{n}.md"
                n += 1
            used.add(path.lower())
            self.op_page[op.operation_id] = path

    def _webhooks(self) -> list[Hook]:
        """Webhooks in name order, each method on its own page under ``webhooks/``."""
        found: list[Hook] = []
        for name, item in sorted((self.doc.get("webhooks") or {}).items()):
            real = deref(self.doc, item)
            if not isinstance(real, Mapping):
                continue
            methods = [m for m in HTTP_METHODS if isinstance(real.get(m), Mapping)]
            for method in methods:
                node = real[method]
                base = f"webhooks/{slug(str(name))}"
                if len(methods) > 1:
                    base += f"-{method}"
                found.append(
                    Hook(str(name), method, str(node.get("x-service") or ""), node, real, base)
                )
        used: set[str] = {"webhooks/index.md"}
        hooks = []
        for hook in found:
            path = hook.page + ".md"
            n = 2
            while path.lower() in used:
                path = f"{hook.page}-{n}.md"
                n += 1
            used.add(path.lower())
            hooks.append(dataclasses.replace(hook, page=path))
        return hooks

    def _schema_pages(self) -> dict[str, str]:
        names = sorted(self.schemas, key=str.lower)
        if len(names) <= SCHEMAS_PER_SINGLE_PAGE:
            return {n: "schemas/index.md" for n in names}
        by_letter: dict[str, list[str]] = defaultdict(list)
        for n in names:
            first = n[:1].lower()
            by_letter[first if first.isalpha() else "other"].append(n)
        out = {}
        for letter, group in by_letter.items():
            for i in range(0, len(group), SCHEMAS_PER_PAGE):
                suffix = "" if i == 0 else f"-{i // SCHEMAS_PER_PAGE + 1}"
                for n in group[i : i + SCHEMAS_PER_PAGE]:
                    out[n] = f"schemas/{letter}{suffix}.md"
        return out

    def schema_link(self, page: str) -> Callable[[str], str]:
        """HTML link (raw-HTML tables bypass mkdocs' .md rewriting, hence .html)."""

        def link(name: str) -> str:
            target = self.schema_page.get(name)
            if target is None:
                return hcode(name)
            href = html_path(rel(page, target)) + "#" + schema_anchor(name)
            return f'<a href="{h(href)}">{h(name)}</a>'

        return link

    def block(self, page: str, html: str) -> str:
        """Park heavy HTML outside the markdown; the mkdocs hook puts it back.

        The page keeps a placeholder comment, so Python-Markdown and the search
        indexer never parse big tables and examples (they dominated build time);
        ``portal/hooks/blocks.py`` substitutes the HTML into the final page.
        """
        if not html or not self.park_blocks:
            return html
        blocks = self.blocks[page]
        blocks.append(html)
        return f"<!--unispec:block:{len(blocks) - 1}-->"

    def table(self, page: str, schema: Any, *, max_rows: int = 80, expand: int = 3) -> str:
        """A schema table (as a block), cached: big specs reuse one schema on many pages."""
        key = (posixpath.dirname(page), to_json(schema), max_rows, expand)
        hit = self._tables.get(key)
        if hit is None:
            hit = schema_table(
                self.doc, schema, self.schema_link(page), max_rows=max_rows, expand_refs_to=expand
            )
            self._tables[key] = hit
        return self.block(page, hit)

    def example(
        self, media: Mapping[str, Any], direction: synth.Direction
    ) -> tuple[str, Any, bool]:
        """Media example, cached by the media object's content (synthesis is costly)."""
        key = (to_json(media), direction)
        hit = self._examples.get(key)
        if hit is None:
            hit = media_example(self.doc, media, direction)
            self._examples[key] = hit
        return hit

    def operation(self, op: Operation) -> dict[str, Any]:
        node = refs.resolve(self.doc, op.pointer)
        return node if isinstance(node, dict) else {}

    def op_link(self, page: str, op_id: str, text: str | None = None) -> str:
        target = self.op_page.get(op_id)
        if target is None:
            return code_inline(op_id)
        return f"[{text or op_id}]({rel(page, target)})"

    def services(self) -> list[tuple[str, list[Operation]]]:
        order = [s.name for s in self.spec.services]
        grouped: dict[str, list[Operation]] = defaultdict(list)
        for op in self.ops:
            grouped[op.service].append(op)
        names = [n for n in order if n in grouped] + sorted(n for n in grouped if n not in order)
        return [(n, grouped[n]) for n in names]

    def groups(self, ops: list[Operation]) -> list[tuple[str, list[Operation]]]:
        """Operations of one service grouped by first tag (or first path word)."""
        grouped: dict[str, list[Operation]] = defaultdict(list)
        for op in ops:
            grouped[self.group_of(op)].append(op)
        return sorted(grouped.items(), key=lambda kv: kv[0].lower())

    def group_of(self, op: Operation) -> str:
        tags = self.operation(op).get("tags")
        if isinstance(tags, list) and tags and isinstance(tags[0], str):
            return tags[0]
        words = [w for w in op.path.split("/") if w and not w.startswith("{")]
        words = [w for w in words if not re.fullmatch(r"v\d+|api", w)]
        return words[0] if words else "root"

    def tag_descriptions(self) -> dict[str, str]:
        out = {}
        for tag in self.doc.get("tags") or []:
            if isinstance(tag, Mapping) and isinstance(tag.get("name"), str):
                out[tag["name"]] = str(tag.get("description") or "")
        return out

    # -- rendering helpers ----------------------------------------------------------------
    def render(self, template: str, **ctx: Any) -> bytes:
        text = self.env.get_template(template).render(portal=self, **ctx)
        return (text.rstrip() + "\n").encode("utf-8")

    def security_of(self, node: Mapping[str, Any]) -> list[dict[str, Any]]:
        sec = node.get("security", self.doc.get("security", []))
        return [s for s in sec if isinstance(s, dict)] if isinstance(sec, list) else []

    def is_public(self, node: Mapping[str, Any]) -> bool:
        sec = self.security_of(node)
        return not sec or any(not s for s in sec)


def _method_rank(op: Operation) -> int:
    return HTTP_METHODS.index(op.method) if op.method in HTTP_METHODS else 99


def schema_anchor(name: str) -> str:
    return "schema-" + slug(name)


# -- examples ------------------------------------------------------------------------------
def media_example(
    document: Mapping[str, Any], media: Mapping[str, Any], direction: synth.Direction = None
) -> tuple[str, Any, bool]:
    """(label, value, synthesized) for a media type object; label "" when none."""
    if "schema" not in media and "example" not in media and not media.get("examples"):
        return "", None, False
    named = synth.examples_of(media, document)
    value, synthesized = synth.example_for(media, document, direction=direction)
    if synthesized:
        return "synthesized", value, True
    label = next(iter(named), "example") if named and "example" not in media else "example"
    return label, value, False


def param_example(document: Mapping[str, Any], param: Mapping[str, Any]) -> Any:
    if "example" in param:
        return param["example"]
    named = synth.examples_of(param, document)
    if named:
        return next(iter(named.values()))
    schema = deref(document, param.get("schema"))
    if isinstance(schema, Mapping):
        for key in ("example", "default"):
            if key in schema:
                return schema[key]
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            return schema["examples"][0]
    value = synth.synthesize(
        param.get("schema") or {"type": "string"},
        document,
        direction="request",
        name=str(param.get("name") or ""),
    )
    return "value" if value is None else value


def example_block(
    portal: Portal, page: str, label: str, value: Any, synthesized: bool, media: str = ""
) -> str:
    """Caption (markdown) plus the example itself as a parked HTML code block."""
    text = value if isinstance(value, str) and not media.endswith("json") else to_json(value)
    if len(text) > MAX_EXAMPLE_CHARS:
        text = text[:MAX_EXAMPLE_CHARS] + "\n… (truncated; see the downloadable openapi.json)"
    lang = "json" if media.endswith("json") or not isinstance(value, str) else "text"
    note = (
        '<span class="synth-badge" title="generated from the schema">synthesized</span> '
        "Example generated from the schema (no example in the contract)."
        if synthesized
        else (f"Example: {cell(label, 120)}" if label and label != "example" else "Example")
    )
    return f"{note}\n\n{portal.block(page, code_html(text, lang))}"


def code_html(text: str, lang: str) -> str:
    """A code block as Material renders one (without Pygments)."""
    return (
        f'<div class="language-{lang} highlight"><pre><span></span>'
        f'<code class="language-{lang}">{h(text)}</code></pre></div>'
    )


# -- operation pages ------------------------------------------------------------------------
def _params(portal: Portal, path_item: Mapping[str, Any], node: Mapping[str, Any]) -> list[Any]:
    merged: dict[tuple[str, str], Any] = {}
    for source in (path_item.get("parameters"), node.get("parameters")):
        for p in source or []:
            real = deref(portal.doc, p)
            if isinstance(real, Mapping):
                merged[(str(real.get("in")), str(real.get("name")))] = real
    return list(merged.values())


def params_table(portal: Portal, page: str, params: list[Any]) -> str:
    """Parameters as one raw-HTML table (see schema_view.render_rows for why HTML)."""
    if not params:
        return ""
    table = SchemaTable(portal.doc, portal.schema_link(page))
    order = {"path": 0, "query": 1, "header": 2, "cookie": 3}
    rows = [
        '<table class="params-table"><thead><tr><th>Name</th><th>In</th><th>Type</th>'
        "<th>Required</th><th>Constraints</th><th>Description</th></tr></thead><tbody>"
    ]
    for p in sorted(params, key=lambda p: (order.get(str(p.get("in")), 9), str(p.get("name")))):
        schema = p.get("schema") or {}
        target = deref(portal.doc, schema)
        cons = constraints(target) if isinstance(target, Mapping) else ""
        if p.get("deprecated"):
            cons = (cons + ", " if cons else "") + "<strong>deprecated</strong>"
        req = "<strong>yes</strong>" if p.get("required") or p.get("in") == "path" else ""
        rows.append(
            f"<tr><td>{hcode(p.get('name'))}</td><td>{h(p.get('in'))}</td>"
            f"<td>{table.type_label(schema)}</td><td>{req}</td><td>{cons}</td>"
            f"<td>{inline_html(p.get('description'), 800)}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def rate_limit_text(rl: Any) -> str:
    if not isinstance(rl, Mapping):
        return ""
    parts = []
    if "limit" in rl:
        parts.append(
            f"{rl['limit']} requests / {rl.get('window', 60)} s per {rl.get('per', 'user')}"
        )
    if rl.get("burst"):
        parts.append(f"burst {rl['burst']}")
    tiers = rl.get("tiers")
    if isinstance(tiers, Mapping) and tiers:
        parts.append("tiers: " + ", ".join(f"{k} {v}" for k, v in tiers.items()))
    return "; ".join(parts)


def _is_error_envelope(document: Mapping[str, Any], schema: Any) -> bool:
    name = ref_name(schema)
    if name is None:
        return False
    return name == ERROR_SCHEMA or name.endswith("_" + ERROR_SCHEMA)


def _status_sort(code: str) -> tuple[int, str]:
    return (int(code), "") if code.isdigit() else (999, code)


def request_body(
    portal: Portal, page: str, node: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], Any, str | None, Any]:
    """Request body sections of an operation, webhook or callback, plus the body
    object and the first media type with its example (for code samples)."""
    body_sections: list[dict[str, Any]] = []
    body = deref(portal.doc, node.get("requestBody"))
    req_media, req_body = None, None
    if isinstance(body, Mapping):
        for media, mobj in (body.get("content") or {}).items():
            mobj = mobj if isinstance(mobj, Mapping) else {}
            label, value, synth_ = portal.example(mobj, "request")
            if req_media is None:
                req_media, req_body = str(media), value
            body_sections.append(
                {
                    "media": media,
                    "schema": portal.table(page, mobj["schema"]) if "schema" in mobj else "",
                    "example": example_block(portal, page, label, value, synth_, str(media))
                    if label
                    else "",
                }
            )
    return body_sections, body, req_media, req_body


def response_sections(
    portal: Portal, page: str, node: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Documented responses, and the error responses that use the envelope (shown as
    one table linking the error catalog rather than as schemas)."""
    responses = []
    error_responses = []
    for status, resp in sorted(
        (node.get("responses") or {}).items(), key=lambda kv: _status_sort(kv[0])
    ):
        real = deref(portal.doc, resp)
        real = real if isinstance(real, Mapping) else {}
        content = real.get("content") or {}
        codes = real.get("x-error-codes")
        schema = next(
            (m.get("schema") for m in content.values() if isinstance(m, Mapping) and "schema" in m),
            None,
        )
        is_error = str(status)[:1] in ("4", "5") or status == "default"
        if is_error and (schema is None or _is_error_envelope(portal.doc, schema)):
            error_responses.append(
                {
                    "status": status,
                    "description": cell(real.get("description"), 300),
                    "codes": sorted(codes) if isinstance(codes, Mapping) else [],
                }
            )
            continue
        medias = []
        for media, mobj in content.items():
            mobj = mobj if isinstance(mobj, Mapping) else {}
            if is_error:
                # Non-envelope error bodies: a compact table, the spec's own example only.
                has_own = "example" in mobj or bool(mobj.get("examples"))
                label, value, synth_ = (
                    portal.example(mobj, "response") if has_own else ("", None, False)
                )
                medias.append(
                    {
                        "media": media,
                        "schema": portal.table(page, mobj["schema"], max_rows=25, expand=2)
                        if "schema" in mobj
                        else "",
                        "example": example_block(portal, page, label, value, synth_, str(media))
                        if label
                        else "",
                    }
                )
                continue
            label, value, synth_ = portal.example(mobj, "response")
            medias.append(
                {
                    "media": media,
                    "schema": portal.table(page, mobj["schema"]) if "schema" in mobj else "",
                    "example": example_block(portal, page, label, value, synth_, str(media))
                    if label
                    else "",
                }
            )
        headers = []
        for name, hdr in (real.get("headers") or {}).items():
            hdr = deref(portal.doc, hdr)
            if isinstance(hdr, Mapping):
                headers.append((name, cell(hdr.get("description"), 300)))
        responses.append(
            {
                "status": status,
                "description": sanitize(real.get("description")),
                "media": medias,
                "headers": headers,
            }
        )

    return responses, error_responses


def operation_context(portal: Portal, op: Operation) -> dict[str, Any]:
    page = portal.op_page[op.operation_id]
    node = portal.operation(op)
    path_item = refs.resolve(portal.doc, op.pointer.rsplit("/", 1)[0])
    path_item = path_item if isinstance(path_item, Mapping) else {}
    params = _params(portal, path_item, node)
    public = portal.is_public(node)
    schemes = sorted({k for s in portal.security_of(node) for k in s})

    body_sections, body, req_media, req_body = request_body(portal, page, node)
    responses, error_responses = response_sections(portal, page, node)

    # errors the operation can return (catalog), linked to the errors page
    errors = sorted(portal.errors_by_op.get(op.operation_id, []), key=lambda e: (e.status, e.code))
    error_rows = [
        {
            "status": e.status,
            "code": e.code,
            "link": rel(page, f"errors.md#{e.code}"),
            "meaning": cell(e.description, 300),
            "hint": cell(e.hint, 300),
        }
        for e in errors
    ]

    # code samples
    path_params = {
        str(p["name"]): param_example(portal.doc, p) for p in params if p.get("in") == "path"
    }
    query = {
        str(p["name"]): param_example(portal.doc, p)
        for p in params
        if p.get("in") == "query" and p.get("required")
    }
    headers_req = {
        str(p["name"]): str(param_example(portal.doc, p))
        for p in params
        if p.get("in") == "header"
        and p.get("required")
        and str(p["name"]).lower() != "authorization"
    }
    if req_body is not None and len(to_json(req_body)) > MAX_SAMPLE_BODY_CHARS:
        req_body = _required_only(portal.doc, body, req_media, req_body)
    req = samples.Request(
        method=op.method,
        base_url=portal.base_url,
        path=op.path,
        path_params=path_params,
        query=query,
        headers=headers_req,
        secured=not public,
        media_type=req_media,
        body=req_body,
    )
    code_samples = [
        ("curl", "bash", samples.curl(req)),
        ("Python (httpx)", "python", samples.python_httpx(req)),
        ("JavaScript (fetch)", "javascript", samples.javascript_fetch(req)),
    ]
    if portal.sdk is not None:
        code_samples.append(("Python SDK", "python", sdk_sample(portal.sdk, op, req)))

    rl = node.get("x-rate-limit")
    roles = node.get("x-roles")
    return {
        "page": page,
        "op": op,
        "node": node,
        "title": str(node.get("summary") or op.operation_id),
        "summary": cell(node.get("summary"), 300),
        "description": sanitize(node.get("description")),
        "deprecated": bool(node.get("deprecated")),
        "public": public,
        "schemes": schemes,
        "roles": [str(r) for r in roles] if isinstance(roles, list) else [],
        "rate_limit": rate_limit_text(rl),
        "params": portal.block(page, params_table(portal, page, params)),
        "bodies": body_sections,
        "body_required": bool(isinstance(body, Mapping) and body.get("required")),
        "responses": responses,
        "error_responses": error_responses,
        "error_responses_block": portal.block(
            page,
            table_html(
                ["Status", "Description", "Codes"],
                (
                    [
                        h(e["status"]),
                        inline_html(e["description"]),
                        ", ".join(
                            op_anchor(page, f"errors.md#{c}", f"<code>{h(c)}</code>")
                            for c in e["codes"]
                        ),
                    ]
                    for e in error_responses
                ),
            ),
        ),
        "errors": error_rows,
        "callbacks": callback_sections(portal, page, node),
        "samples": [(name, fence(code, lang)) for name, lang, code in code_samples],
        "samples_block": portal.block(page, tabs_html(code_samples)),
        "errors_block": portal.block(page, errors_html(error_rows)),
        "service_index": rel(page, f"services/{slug(op.service)}/index.md"),
        "errors_page": rel(page, "errors.md"),
        "auth_page": rel(page, "authentication.md"),
        "rate_page": rel(page, "rate-limits.md"),
        "try_it": rel(page, "try-it.md") + "#" + slug(op.operation_id),
    }


def callback_sections(portal: Portal, page: str, node: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The requests an operation's ``callbacks`` make to a URL the client gave:
    one section per callback, expression and method, with payload and responses."""
    out: list[dict[str, Any]] = []
    callbacks = node.get("callbacks")
    if not isinstance(callbacks, Mapping):
        return out
    for name, callback in callbacks.items():
        callback = deref(portal.doc, callback)
        if not isinstance(callback, Mapping):
            continue
        for expression, item in callback.items():
            item = deref(portal.doc, item)
            if str(expression).startswith("x-") or not isinstance(item, Mapping):
                continue
            for method in HTTP_METHODS:
                sub = item.get(method)
                if not isinstance(sub, Mapping):
                    continue
                bodies, _, _, _ = request_body(portal, page, sub)
                responses, errors = response_sections(portal, page, sub)
                out.append(
                    {
                        "name": str(name),
                        "anchor": f"callback-{slug(str(name))}-{method}",
                        "method": method,
                        "expression": str(expression),
                        "summary": cell(sub.get("summary"), 300),
                        "description": sanitize(sub.get("description")),
                        "params": portal.block(
                            page, params_table(portal, page, _params(portal, item, sub))
                        ),
                        "bodies": bodies,
                        "responses": portal.block(page, _status_table(responses + errors)),
                    }
                )
    return out


def _status_table(responses: list[dict[str, Any]]) -> str:
    return table_html(
        ["Status", "Description"],
        ([h(r["status"]), inline_html(r["description"], 300)] for r in responses),
    )


def webhook_context(portal: Portal, hook: Hook, services: Set[str]) -> dict[str, Any]:
    """``services``: those with operations, hence a page to link to."""
    page = hook.page
    node = hook.node
    bodies, body, _, _ = request_body(portal, page, node)
    responses, error_responses = response_sections(portal, page, node)
    return {
        "page": page,
        "hook": hook,
        "title": str(node.get("summary") or hook.name),
        "description": sanitize(node.get("description")),
        "deprecated": bool(node.get("deprecated")),
        "operation_id": str(node.get("operationId") or ""),
        "service_link": rel(page, f"services/{slug(hook.service)}/index.md")
        if hook.service in services
        else "",
        "index": rel(page, "webhooks/index.md"),
        "params": portal.block(
            page, params_table(portal, page, _params(portal, hook.path_item, node))
        ),
        "bodies": bodies,
        "body_required": bool(isinstance(body, Mapping) and body.get("required")),
        # Error answers of a webhook are the receiver's, not our envelope: one list.
        "responses": sorted(
            responses + [{**e, "media": []} for e in error_responses],
            key=lambda r: _status_sort(str(r["status"])),
        ),
    }


def render_webhooks(portal: Portal) -> dict[str, bytes]:
    """The webhooks index and one page per webhook (nothing when there are none)."""
    if not portal.hooks:
        return {}
    index = "webhooks/index.md"
    files = {
        index: portal.render(
            "webhooks.md.j2",
            page=index,
            table=portal.block(
                index,
                table_html(
                    ["Method", "Webhook", "Summary", "Service"],
                    (
                        [
                            method_badge(hook.method),
                            op_anchor(index, hook.page, hcode(hook.name)),
                            inline_html(hook.node.get("summary"), 120),
                            h(hook.service),
                        ]
                        for hook in portal.hooks
                    ),
                ),
            ),
            count=len(portal.hooks),
        )
    }
    services = {op.service for op in portal.ops}
    for hook in portal.hooks:
        context = webhook_context(portal, hook, services)
        files[hook.page] = portal.render("webhook.md.j2", **context)
    return files


def _hook_title(hook: Hook) -> str:
    return _short_title(hook.node.get("summary"), hook.name)


def table_html(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """A table from cells that are already HTML (parked: no markdown inline pass)."""
    head = "".join(f"<th>{h(x)}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def op_anchor(page: str, target: str, text: str) -> str:
    return f'<a href="{h(html_path(rel(page, target)))}">{text}</a>'


def method_badge(method: str) -> str:
    return f'<span class="op-method op-{h(method)}">{h(method.upper())}</span>'


def tabs_html(items: list[tuple[str, str, str]]) -> str:
    """Code samples as a pymdownx.tabbed (alternate style) set, written directly.

    Same markup and classes as ``=== "tab"`` blocks, so Material styles and links
    the tabs, without Python-Markdown processing four fenced blocks per page.
    """
    n = len(items)
    inputs = "".join(
        f'<input {"checked " if i == 1 else ""}id="__utab_{i}" name="__utab" type="radio">'
        for i in range(1, n + 1)
    )
    labels = "".join(
        f'<label for="__utab_{i}">{h(name)}</label>' for i, (name, _, _) in enumerate(items, 1)
    )
    blocks = "".join(
        f'<div class="tabbed-block" data-tab="{h(name)}"><div class="language-{lang} highlight">'
        f'<pre><span></span><code class="language-{lang}">{h(code)}</code></pre></div></div>'
        for name, lang, code in items
    )
    return (
        f'<div class="tabbed-set tabbed-alternate" data-tabs="1:{n}">{inputs}'
        f'<div class="tabbed-labels">{labels}</div><div class="tabbed-content">{blocks}</div></div>'
    )


def errors_html(rows: list[dict[str, Any]]) -> str:
    """The operation's error codes, each linking to its entry in the catalog."""
    if not rows:
        return ""
    out = [
        '<div class="op-errors"><table><thead><tr><th>Status</th><th>Code</th><th>Meaning</th>'
        "<th>What to do</th></tr></thead><tbody>"
    ]
    for e in rows:
        out.append(
            f'<tr><td>{e["status"]}</td><td><a href="{h(html_path(e["link"]))}">'
            f"<code>{h(e['code'])}</code></a></td><td>{inline_html(e['meaning'])}</td>"
            f"<td>{inline_html(e['hint'])}</td></tr>"
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def _required_only(document: Mapping[str, Any], body: Any, media: str | None, value: Any) -> Any:
    """A large body example cut to its required top-level fields, for code samples."""
    if not isinstance(value, dict) or not isinstance(body, Mapping) or media is None:
        return value
    mobj = (body.get("content") or {}).get(media) or {}
    schema = deref(document, mobj.get("schema")) if isinstance(mobj, Mapping) else None
    required = schema.get("required") if isinstance(schema, Mapping) else None
    if not isinstance(required, list):
        return {}
    return {k: v for k, v in value.items() if k in required}


def sdk_sample(sdk: SdkInfo, op: Operation, req: samples.Request) -> str:
    """The same call through the generated client: ``api.<service>.<operation>(...)``."""
    known = sdk.calls.get(op.operation_id)
    if isinstance(known, Mapping):
        service, method = str(known.get("service")), str(known.get("method"))
        order = [str(wire) for wire, _name in known.get("path") or []]
        names = {str(k): str(v) for k, v in (known.get("query") or {}).items()}
    else:
        service, method = sdk.snake(op.service), sdk.snake(op.operation_id)
        order, names = list(req.path_params), {}
    args = [repr(req.path_params[w]) for w in order if w in req.path_params]
    args += [f"{names.get(k) or sdk.snake(k)}={v!r}" for k, v in req.query.items()]
    if req.body is not None and req.media_type and not req.media_type.startswith("multipart/"):
        args.append(f"body={samples._py(req.body, 4)}")
    call = f"api.{service}.{method}({', '.join(args)})"
    return "\n".join(
        [
            "import os",
            "",
            sdk.import_line,
            "",
            f"with {sdk.client_expr} as api:",
            f"    result = {call}",
            "    print(result)",
        ]
    )


# -- the whole portal ---------------------------------------------------------------------
def render_portal(
    spec: UnifiedSpec,
    loader: jinja2.BaseLoader,
    *,
    history: Sequence[Release] = (),
    gateway: Mapping[str, Any] | None = None,
    sdk: SdkInfo | None = None,
    downloads: Mapping[str, bytes] | None = None,
    park_blocks: bool = True,
) -> RenderedPortal:
    """Every page of the portal as markdown bytes, plus the navigation.

    ``park_blocks=False`` leaves big tables and examples inline in the markdown
    (slower to build; the benchmark's baseline).
    """
    env = jinja2.Environment(
        loader=loader,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = cell
    env.filters["code"] = code_inline
    env.filters["json"] = to_json
    env.filters["first_sentence"] = first_sentence
    portal = Portal(
        spec,
        env,
        history=history,
        gateway=gateway,
        sdk=sdk,
        downloads=downloads,
        park_blocks=park_blocks,
    )
    out = RenderedPortal(site_name=portal.title)
    files = out.files

    services = portal.services()
    files["index.md"] = render_home(portal, services)
    files["authentication.md"] = render_auth(portal)
    files["rate-limits.md"] = render_rate_limits(portal)
    files["errors.md"] = render_errors(portal)

    service_nav: list[NavItem] = []
    tag_desc = portal.tag_descriptions()
    for name, ops in services:
        index = f"services/{slug(name)}/index.md"
        groups = portal.groups(ops)
        files[index] = portal.render(
            "service.md.j2",
            page=index,
            name=name,
            groups=[
                (
                    g,
                    cell(tag_desc.get(g, ""), 600),
                    portal.block(
                        index,
                        table_html(
                            ["Method", "Path", "Summary", "operationId"],
                            (
                                [
                                    method_badge(op.method),
                                    op_anchor(
                                        index, portal.op_page[op.operation_id], hcode(op.path)
                                    ),
                                    inline_html(portal.operation(op).get("summary"), 120)
                                    + (
                                        " <em>(deprecated)</em>"
                                        if portal.operation(op).get("deprecated")
                                        else ""
                                    ),
                                    hcode(op.operation_id),
                                ]
                                for op in gops
                            ),
                        ),
                    ),
                )
                for g, gops in groups
            ],
            count=len(ops),
        )
        children: list[Any] = [index]
        flat = len(groups) == 1 or len(ops) <= 12
        if len(portal.ops) > NAV_OPERATIONS_LIMIT:
            groups = []  # big contracts: the service page lists them (still two clicks)
        for group, gops in groups:
            entries = [{_nav_title(portal, op): portal.op_page[op.operation_id]} for op in gops]
            if flat:
                children.extend(entries)
            else:
                children.append({group: entries})
        service_nav.append({name: children})
        for op in ops:
            ctx = operation_context(portal, op)
            files[portal.op_page[op.operation_id]] = portal.render("operation.md.j2", **ctx)

    files.update(render_webhooks(portal))
    files.update(render_schemas(portal))
    files["changelog.md"] = render_changelog(portal)
    files["try-it.md"] = portal.render("try_it.md.j2", page="try-it.md")
    for page, blocks in sorted(portal.blocks.items()):
        data = json.dumps(blocks, ensure_ascii=False).encode("utf-8")
        out.blocks[page + ".json"] = data
        # The page's bytes change whenever its blocks do: incremental writes and
        # `mkdocs serve` (which watches docs_dir only) then pick the change up.
        digest = hashlib.sha256(data).hexdigest()[:16]
        files[page] = files[page] + f"\n<!--unispec:blocks:{digest}-->\n".encode()
    for name, data in emit.emit_document(dict(spec.document)).items():
        files[f"downloads/{name}"] = data
    for name, data in portal.extra_downloads.items():
        files[f"downloads/{name}"] = data

    schema_pages = sorted({p for p in portal.schema_page.values()} | {"schemas/index.md"})
    out.nav = [
        {"Home": "index.md"},
        {
            "Guides": [
                {"Authentication": "authentication.md"},
                {"Rate limits": "rate-limits.md"},
                {"Errors": "errors.md"},
            ]
        },
        {"API reference": service_nav},
        *(
            [
                {
                    "Webhooks": [
                        "webhooks/index.md",
                        *(
                            {_hook_title(hook): hook.page}
                            for hook in portal.hooks
                            # Big contracts (GitHub's has ~300 webhooks): the index links
                            # them all, the navigation of every page does not.
                            if len(portal.ops) + len(portal.hooks) <= NAV_OPERATIONS_LIMIT
                        ),
                    ]
                }
            ]
            if portal.hooks
            else []
        ),
        {"Schemas": schema_pages},
        {"Changelog": "changelog.md"},
        {"Try it": "try-it.md"},
    ]
    return out


def _nav_title(portal: Portal, op: Operation) -> str:
    return _short_title(portal.operation(op).get("summary"), op.operation_id)


def _short_title(summary: Any, fallback: str) -> str:
    """A navigation entry: the summary on one line, or the name when there is none."""
    text = str(summary) if isinstance(summary, str) and summary.strip() else fallback
    return text.replace("\n", " ")[:80]


def render_home(portal: Portal, services: list[tuple[str, list[Operation]]]) -> bytes:
    page = "index.md"
    login = find_operation(portal, ("login", "signin", "sign-in", "token"), method="post")
    rows = [
        (name, len(ops), rel(page, f"services/{slug(name)}/index.md")) for name, ops in services
    ]
    quick: dict[str, Any] = {}
    if login is not None:
        ctx = operation_context(portal, login)
        quick = {"op": login, "link": rel(page, ctx["page"]), "sample": ctx["samples"][0][1]}
    first = next((op for _, ops in services for op in ops if op.method == "get"), None)
    first_sample = ""
    if first is not None:
        first_sample = operation_context(portal, first)["samples"][0][1]
    downloads = ["openapi.json", "openapi.yaml", *sorted(portal.extra_downloads)]
    return portal.render(
        "home.md.j2",
        page=page,
        description=sanitize((portal.doc.get("info") or {}).get("description")),
        services=rows,
        total=len(portal.ops),
        quick=quick,
        first=first,
        first_link=rel(page, portal.op_page[first.operation_id]) if first else "",
        first_sample=first_sample,
        downloads=[(d, f"downloads/{d}") for d in downloads],
    )


def find_operation(
    portal: Portal, words: Iterable[str], method: str | None = None
) -> Operation | None:
    for word in words:
        for op in portal.ops:
            if method and op.method != method:
                continue
            if word in op.operation_id.lower() or word in op.path.lower():
                return op
    return None


def render_auth(portal: Portal) -> bytes:
    page = "authentication.md"
    login = find_operation(portal, ("login", "signin", "sign-in"), method="post")
    refresh = find_operation(portal, ("refresh",), method="post")
    example_op = next(
        (
            op
            for op in portal.ops
            if not portal.is_public(portal.operation(op)) and op.method == "get"
        ),
        None,
    )
    login_path = login.path if login else "/auth/login"
    refresh_path = refresh.path if refresh else "/auth/refresh"
    call_path = example_op.path if example_op else "/resource"
    svg = sequence_svg(
        ["Client", "Gateway", "Auth service", "Other service"],
        [
            Message(0, 1, f"POST {login_path}", note="email + password (public)"),
            Message(1, 2, "forward"),
            Message(2, 0, "200 accessToken + refreshToken", reply=True),
            Message(0, 1, f"GET {call_path}", note="Authorization: Bearer <accessToken>"),
            Message(1, 3, "JWT verified: roles, tier, rate limit"),
            Message(3, 0, "200 data", reply=True),
            Message(0, 1, "request with an expired token"),
            Message(1, 0, "401 TOKEN_EXPIRED", reply=True),
            Message(0, 1, f"POST {refresh_path}", note="refreshToken (public)"),
            Message(1, 2, "forward"),
            Message(2, 0, "200 new accessToken", reply=True),
        ],
        "Login, access token and refresh sequence",
    )
    schemes = []
    for name, scheme in ((portal.doc.get("components") or {}).get("securitySchemes") or {}).items():
        s = deref(portal.doc, scheme)
        if isinstance(s, Mapping):
            kind = " ".join(
                str(s.get(k)) for k in ("type", "scheme", "bearerFormat", "in") if s.get(k)
            )
            schemes.append((name, kind, cell(s.get("description"), 400)))
    public = [
        (op, portal.operation(op), rel(page, portal.op_page[op.operation_id]))
        for op in portal.ops
        if portal.is_public(portal.operation(op))
    ]
    roles = [
        (op, portal.operation(op), rel(page, portal.op_page[op.operation_id]))
        for op in portal.ops
        if isinstance(portal.operation(op).get("x-roles"), list)
    ]
    public_block = portal.block(
        page,
        table_html(
            ["Operation", "Method", "Path"],
            (
                [
                    op_anchor(
                        page,
                        portal.op_page[op.operation_id],
                        inline_html(node.get("summary") or op.operation_id, 100),
                    ),
                    h(op.method.upper()),
                    hcode(op.path),
                ]
                for op, node, _ in public
            ),
        ),
    )
    roles_block = portal.block(
        page,
        table_html(
            ["Operation", "Method", "Path", "Roles (any of)"],
            (
                [
                    op_anchor(
                        page,
                        portal.op_page[op.operation_id],
                        inline_html(node.get("summary") or op.operation_id, 100),
                    ),
                    h(op.method.upper()),
                    hcode(op.path),
                    ", ".join(hcode(r) for r in node["x-roles"]),
                ]
                for op, node, _ in roles
            ),
        ),
    )
    return portal.render(
        "authentication.md.j2",
        public_block=public_block,
        roles_block=roles_block,
        page=page,
        svg=svg,
        schemes=schemes,
        login=login,
        login_link=rel(page, portal.op_page[login.operation_id]) if login else "",
        refresh=refresh,
        refresh_link=rel(page, portal.op_page[refresh.operation_id]) if refresh else "",
        public=public,
        roles=roles,
        base_url=portal.base_url,
    )


def _tier_default(portal: Portal) -> tuple[Mapping[str, Any], Any]:
    rl_conf = portal.gateway.get("rate_limit") if isinstance(portal.gateway, Mapping) else None
    default = rl_conf.get("default") if isinstance(rl_conf, Mapping) else None
    limits = [portal.operation(op).get("x-rate-limit") for op in portal.ops]
    counted = Counter(to_json(r) for r in limits if isinstance(r, Mapping))
    common = None
    if counted:
        text = counted.most_common(1)[0][0]
        common = next(r for r in limits if isinstance(r, Mapping) and to_json(r) == text)
    base = default if isinstance(default, Mapping) else (common or {})
    return base, common


def render_rate_limits(portal: Portal) -> bytes:
    page = "rate-limits.md"
    base, common = _tier_default(portal)
    tiers = base.get("tiers") if isinstance(base, Mapping) else None
    specific = []
    for op in portal.ops:
        rl = portal.operation(op).get("x-rate-limit")
        if isinstance(rl, Mapping) and (common is None or rl != common):
            specific.append(
                (op, rl, rel(page, portal.op_page[op.operation_id]), rate_limit_text(rl))
            )
    headers: dict[str, str] = {}
    for op in portal.ops:  # every rate-limit header any response documents
        for resp in (portal.operation(op).get("responses") or {}).values():
            real = deref(portal.doc, resp)
            if not isinstance(real, Mapping):
                continue
            for name, hdr in (real.get("headers") or {}).items():
                low = str(name).lower()
                if name not in headers and ("ratelimit" in low or low == "retry-after"):
                    hdr = deref(portal.doc, hdr)
                    desc = hdr.get("description") if isinstance(hdr, Mapping) else ""
                    headers[str(name)] = cell(desc, 300)
    if not headers:
        headers = {
            "X-RateLimit-Limit": "Requests allowed in the current window.",
            "X-RateLimit-Remaining": "Requests left in the current window.",
            "X-RateLimit-Reset": "Seconds until the window resets.",
            "Retry-After": "Seconds to wait before retrying (on 429).",
        }
    body = error_example("RATE_LIMIT_EXCEEDED", "Too many requests; retry after 12 seconds.")
    return portal.render(
        "rate_limits.md.j2",
        page=page,
        base=base,
        tiers=tiers if isinstance(tiers, Mapping) else {},
        limited=sum(1 for op in portal.ops if "x-rate-limit" in portal.operation(op)),
        specific=specific,
        headers=sorted(headers.items()),
        body=fence(to_json(body), "json"),
        errors_link="errors.md#RATE_LIMIT_EXCEEDED",
    )


def error_example(code: str, message: str) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if code == "VALIDATION_ERROR":
        err["details"] = [{"field": "body.email", "code": "format", "message": "must be an email"}]
    err["requestId"] = "req_01HZX3J8Q6Y7W2"
    return {"success": False, "error": err}


def render_errors(portal: Portal) -> bytes:
    page = "errors.md"
    envelope = ""
    if ERROR_SCHEMA in portal.schemas:
        envelope = schema_table(
            portal.doc,
            {"$ref": refs.component_ref("schemas", ERROR_SCHEMA)},
            portal.schema_link(page),
        )
    codes = []
    for e in sorted(portal.spec.errors, key=lambda e: (e.status, e.code)):
        links = []
        for o in e.operations:
            target = portal.op_page.get(o)
            if target is not None:
                links.append(f'<a href="{h(html_path(rel(page, target)))}">{h(o)}</a>')
        ops = (
            portal.block(page, '<p class="error-ops">' + ", ".join(links) + "</p>") if links else ""
        )
        codes.append(
            {
                "code": e.code,
                "status": e.status,
                "description": sanitize(e.description),
                "hint": sanitize(e.hint),
                "origin": e.origin,
                "example": portal.block(
                    page,
                    code_html(
                        to_json(
                            error_example(e.code, first_sentence(e.description, 200) or e.code)
                        ),
                        "json",
                    ),
                ),
                "operations": ops,
                "count": len(links),
            }
        )
    return portal.render("errors.md.j2", page=page, envelope=envelope, codes=codes)


def _schema_usage(portal: Portal) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Direct users of each schema: operations and other schemas."""
    by_ops: dict[str, set[str]] = defaultdict(set)
    by_schemas: dict[str, set[str]] = defaultdict(set)

    def refs_in(node: Any, found: set[str], depth: int = 0) -> None:
        if depth > 60:
            return
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str):
                parsed = refs.parse_component_ref(ref)
                if parsed and parsed[0] == "schemas":
                    found.add(parsed[1])
                elif parsed:
                    target = deref(portal.doc, node)
                    if target is not node:
                        refs_in(target, found, depth + 1)
            for v in node.values():
                refs_in(v, found, depth + 1)
        elif isinstance(node, list):
            for v in node:
                refs_in(v, found, depth + 1)

    for op in portal.ops:
        found: set[str] = set()
        refs_in(portal.operation(op), found)
        for name in found:
            by_ops[name].add(op.operation_id)
    for name, schema in portal.schemas.items():
        found = set()
        refs_in(schema, found)
        for used in found:
            if used != name:
                by_schemas[used].add(name)
    return by_ops, by_schemas


def render_schemas(portal: Portal) -> dict[str, bytes]:
    by_ops, by_schemas = _schema_usage(portal)
    files: dict[str, bytes] = {}
    pages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    index_rows = []
    for name in sorted(portal.schemas, key=str.lower):
        page = portal.schema_page[name]
        schema = portal.schemas[name]
        link = portal.schema_link(page)
        target = deref(portal.doc, schema)
        desc = target.get("description") if isinstance(target, Mapping) else ""
        ops = sorted(by_ops.get(name, ()))
        users = sorted(by_schemas.get(name, ()), key=str.lower)
        pages[page].append(
            {
                "name": name,
                "anchor": schema_anchor(name),
                "description": sanitize(desc),
                "table": portal.block(
                    page,
                    schema_table(
                        portal.doc,
                        {"$ref": refs.component_ref("schemas", name)},
                        link,
                        max_rows=60,
                        expand_refs_to=2,
                    ),
                ),
                "ops": [portal.op_link(page, o) for o in ops[:40]],
                "more_ops": max(0, len(ops) - 40),
                "users": [link(u) for u in users[:40]],
                "more_users": max(0, len(users) - 40),
            }
        )
        index_rows.append(
            (
                portal.schema_link("schemas/index.md")(name),
                first_sentence(desc, 140),
                len(ops),
                len(users),
            )
        )
    if "schemas/index.md" not in pages:
        pages["schemas/index.md"] = []
    for page, items in sorted(pages.items()):
        index_block = ""
        if page == "schemas/index.md":
            index_block = portal.block(
                page,
                table_html(
                    ["Schema", "Description", "Used by operations", "Used by schemas"],
                    (
                        [link, inline_html(desc), str(n1), str(n2)]
                        for link, desc, n1, n2 in index_rows
                    ),
                ),
            )
        files[page] = portal.render(
            "schemas.md.j2",
            page=page,
            is_index=page == "schemas/index.md",
            index_block=index_block,
            items=items,
            letter=posixpath.basename(page)[:-3].upper(),
        )
    return files


_LEVEL_ORDER = {"ERR": 0, "WARN": 1, "INFO": 2}


def _version_key(version: str) -> tuple[int, ...]:
    nums = re.findall(r"\d+", version)
    return tuple(int(n) for n in nums[:4]) if nums else (-1,)


def render_changelog(portal: Portal) -> bytes:
    page = "changelog.md"
    releases = []
    for rel_ in sorted(portal.history, key=lambda r: _version_key(r.version), reverse=True):
        groups: dict[str, list[dict[str, str]]] = {"ERR": [], "WARN": [], "INFO": []}
        for entry in rel_.entries:
            level = str(entry.get("level") or "INFO").upper()
            level = level if level in groups else "INFO"
            op_text = str(entry.get("operation") or "")
            groups[level].append(
                {
                    "id": str(entry.get("id") or entry.get("rule") or ""),
                    "operation": op_text,
                    "message": cell(entry.get("message") or entry.get("text"), 600),
                    "section": str(entry.get("section") or ""),
                }
            )
        releases.append(
            {
                "version": rel_.version,
                "date": rel_.date,
                "groups": groups,
                "markdown": rel_.markdown,
            }
        )
    return portal.render("changelog.md.j2", page=page, releases=releases)
