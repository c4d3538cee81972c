"""The merge: many service documents in, one OpenAPI 3.1 contract out.

A pure function of its inputs (the loaded services and the project settings):
no files, no network, and the result does not depend on the order in which
services are listed. Every conflict is collected before anything is raised,
so a team sees all of its problems in one run.

Rules (the README shows an example of each):
- path + method collisions, and paths equal up to parameter names, are errors;
- duplicate operationIds are errors unless a service has an operationId prefix;
- components with the same name and the same definition merge into one; when
  definitions differ, the variant shared by most services (or the gateway's
  own, for reserved names like ``Error``) keeps the name and the others become
  ``<Service>_<Name>``, with every ``$ref``, discriminator mapping and security
  requirement rewritten;
- tags are unioned; ``x-tagGroups`` groups them by service;
- a service's root ``security`` and ``x-roles`` are pushed down to its
  operations; its root ``servers`` become its default upstream;
- the gateway's own error responses are added to each operation, and the
  effective ``x-rate-limit`` is written onto every limited operation.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from unispec import catalog, refs
from unispec.config import ProjectConfig
from unispec.convert import to_31
from unispec.errors import MergeError, Problem
from unispec.model import (
    HTTP_METHODS,
    ErrorCode,
    Finding,
    Operation,
    ServiceSpec,
    Source,
    UnifiedSpec,
)

GATEWAY = "gateway"
"""Pseudo-service owning the gateway's components (it wins reserved names)."""

_TEMPLATE = re.compile(r"\{[^}/]+\}")
_CAP_RE = re.compile(r"[-_\s]+")


def service_prefix(name: str) -> str:
    """``code-runner`` -> ``CodeRunner``: the namespace prefix for clashing names."""
    return "".join(part[:1].upper() + part[1:] for part in _CAP_RE.split(name) if part)


def normalise_path(path: str) -> str:
    return _TEMPLATE.sub("{}", path)


def _canon(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- locating unified pointers in the sources --------------------------------------


@dataclass
class UnifiedLocator:
    """Translates unified-document pointers back to the service files."""

    mounts: dict[str, tuple[ServiceSpec, str]] = field(default_factory=dict)

    def unresolved(self, pointer: str) -> Source:
        """File and original pointer without a line number (cheap)."""
        p = pointer
        while True:
            mount = self.mounts.get(p)
            if mount is not None:
                spec, original = mount
                return Source(spec.config.spec, original + pointer[len(p) :])
            if not p:
                return Source("", pointer)
            p = p.rsplit("/", 1)[0]

    def get(self, pointer: str) -> Source | None:
        p = pointer
        while True:
            mount = self.mounts.get(p)
            if mount is not None:
                spec, original = mount
                return spec.source(original + pointer[len(p) :])
            if not p:
                return None
            p = p.rsplit("/", 1)[0]


@dataclass(frozen=True)
class _Where:
    """A place in a service's document whose line is looked up only if needed."""

    spec: ServiceSpec
    pointer: str

    def source(self) -> Source:
        return self.spec.source(self.pointer)

    def __str__(self) -> str:
        return str(self.source())


# --- component renaming ------------------------------------------------------------

Mapping_ = dict[tuple[str, str], str]
"""(kind, original name) -> final name, for one service."""


def _ref_rewriter(mapping: Mapping_) -> Callable[[str], str]:
    def rewrite(ref: str) -> str:
        parsed = refs.parse_component_ref(ref)
        if parsed is not None:
            final = mapping.get(parsed)
            if final is not None and final != parsed[1]:
                return refs.component_ref(parsed[0], final)
            return ref
        if ref.startswith("#/components/"):
            parts = refs.split(ref)
            if len(parts) > 3:
                final = mapping.get((parts[1], parts[2]))
                if final is not None and final != parts[2]:
                    return refs.join("#/components", parts[1], final, *parts[3:])
        return ref

    return rewrite


def _rewrite_node(node: Any, mapping: Mapping_) -> Any:
    """Refs, discriminator mappings and security requirements renamed per ``mapping``."""
    fn = _ref_rewriter(mapping)
    out = refs.rewrite_refs(node, fn)
    _rewrite_discriminators(out, mapping, fn)
    return out


class _InPlace:
    """``_rewrite_node`` without the copy, for trees merge already owns (one walk, not two).

    A plain component ref (``#/components/<kind>/<name>`` without ``~``) is
    renamed by one dict lookup; anything else goes through the same rewriter
    as ``_rewrite_node``, so the result is the same. Built once per service.
    """

    def __init__(self, mapping: Mapping_) -> None:
        self.mapping = mapping
        self.fn = _ref_rewriter(mapping)
        self.renamed = {
            refs.component_ref(kind, name): refs.component_ref(kind, final)
            for (kind, name), final in mapping.items()
            if final != name
        }

    def __call__(self, node: Any) -> Any:
        renamed, fn, mapping = self.renamed, self.fn, self.mapping
        stack = [node]
        while stack:
            cur = stack.pop()
            if isinstance(cur, dict):
                ref = cur.get("$ref")
                if renamed and isinstance(ref, str):
                    new = renamed.get(ref)
                    if new is not None:
                        cur["$ref"] = new
                    elif ref.startswith("#/components/") and ("~" in ref or ref.count("/") != 3):
                        cur["$ref"] = fn(ref)
                disc = cur.get("discriminator")
                if isinstance(disc, dict) and isinstance(disc.get("mapping"), dict):
                    _rewrite_mapping(disc, mapping, fn)
                stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
            elif isinstance(cur, list):
                stack.extend(v for v in cur if isinstance(v, (dict, list)))
        return node


def _rewrite_mapping(disc: dict[str, Any], mapping: Mapping_, fn: Callable[[str], str]) -> None:
    new: dict[str, Any] = {}
    for key, value in disc["mapping"].items():
        if isinstance(value, str):
            if value.startswith("#"):
                value = fn(value)
            elif ("schemas", value) in mapping:
                value = refs.component_ref("schemas", mapping[("schemas", value)])
        new[key] = value
    disc["mapping"] = new


def _rewrite_discriminators(node: Any, mapping: Mapping_, fn: Callable[[str], str]) -> None:
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            disc = cur.get("discriminator")
            if isinstance(disc, dict) and isinstance(disc.get("mapping"), dict):
                _rewrite_mapping(disc, mapping, fn)
            stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            stack.extend(v for v in cur if isinstance(v, (dict, list)))


def _rewrite_security(requirements: Any, mapping: Mapping_) -> Any:
    if not isinstance(requirements, list):
        return requirements
    out = []
    for req in requirements:
        if isinstance(req, dict):
            out.append({mapping.get(("securitySchemes", k), k): v for k, v in req.items()})
        else:
            out.append(req)
    return out


def _gateway_components() -> dict[str, dict[str, Any]]:
    return {
        "schemas": {catalog.ERROR_SCHEMA_NAME: copy.deepcopy(catalog.ERROR_SCHEMA)},
        "responses": {name: catalog.gateway_response(name) for name in catalog.GATEWAY_RESPONSES},
        "headers": copy.deepcopy(catalog.RATE_LIMIT_HEADERS),
    }


def plan_component_names(
    components: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> tuple[dict[str, Mapping_], list[Finding]]:
    """Decide every component's final name, for every service.

    ``components`` is service -> kind -> name -> definition. Identity is
    decided on definitions *after* renaming what they reference, so two
    ``Error`` schemas that point at different ``Detail`` schemas are not
    mistaken for one; that needs a fixpoint, which converges because renames
    only ever split groups.
    """
    entries: dict[tuple[str, str], list[str]] = {}
    for service in sorted(components):
        for kind, group in components[service].items():
            for name in group:
                entries.setdefault((kind, name), []).append(service)
    mapping: dict[str, Mapping_] = {s: {} for s in components}
    for (kind, name), members in entries.items():
        for s in members:
            mapping[s][(kind, name)] = name
    findings: list[Finding] = []
    for _round in range(32):
        new: dict[str, Mapping_] = {s: dict(m) for s, m in mapping.items()}
        for (kind, name), members in sorted(entries.items()):
            if len(members) == 1:
                continue
            groups: dict[str, list[str]] = {}
            for s in members:
                body = _canon(_rewrite_node(components[s][kind][name], mapping[s]))
                groups.setdefault(body, []).append(s)
            if len(groups) == 1:
                for s in members:
                    new[s][(kind, name)] = name
                continue
            ranked = sorted(groups.values(), key=len, reverse=True)
            winner: list[str] | None = None
            for g in ranked:
                if GATEWAY in g:
                    winner = g
            if winner is None and len(ranked[0]) > len(ranked[1]):
                winner = ranked[0]
            for g in ranked:
                for s in g:
                    new[s][(kind, name)] = name if g is winner else f"{service_prefix(s)}_{name}"
        if new == mapping:
            break
        mapping = new
    # A namespaced name may itself be taken (someone already wrote Courses_Error).
    for kind in refs.COMPONENT_KINDS:
        owners: dict[str, set[str]] = {}
        for m in mapping.values():
            for (k, _n), final in m.items():
                if k == kind:
                    owners.setdefault(final, set()).add(_n)
        for final, originals in sorted(owners.items()):
            if len(originals) <= 1:
                continue
            for s in sorted(mapping):
                for (k, n), f in sorted(mapping[s].items()):
                    if k == kind and f == final and n != final:
                        i = 2
                        while f"{final}_{i}" in owners:
                            i += 1
                        mapping[s][(k, n)] = f"{final}_{i}"
                        owners[f"{final}_{i}"] = {n}
    for (kind, name), members in sorted(entries.items()):
        renamed = sorted(
            f"{s} -> {mapping[s][(kind, name)]}"
            for s in members
            if mapping[s][(kind, name)] != name and s != GATEWAY
        )
        if renamed:
            findings.append(
                Finding(
                    "component-namespaced",
                    "info",
                    f"components/{kind}/{name} differs between services; renamed: "
                    + ", ".join(renamed),
                )
            )
    return mapping, findings


# --- per-service preparation -------------------------------------------------------


@dataclass
class _Prepared:
    spec: ServiceSpec
    doc: dict[str, Any]
    rate_limit: Any
    op_pointers: dict[tuple[str, str], str] = field(default_factory=dict)
    """(unified path, method) -> pointer of the operation in the service's own document."""
    path_pointers: dict[str, str] = field(default_factory=dict)
    located: ServiceSpec | None = None
    """``spec`` without its document, for the locator (which needs only config and lines):
    keeping the documents alive with the result would hold a second copy of the contract."""


def _op_id_for(method: str, path: str) -> str:
    words = [
        w
        for w in re.split(r"[^A-Za-z0-9]+", _TEMPLATE.sub(lambda m: "by " + m.group(0), path))
        if w
    ]
    return method + "".join(w[:1].upper() + w[1:] for w in words)


def _prepare(spec: ServiceSpec, findings: list[Finding], consume: bool = False) -> _Prepared:
    # A document parsed from JSON is a tree (YAML anchors would share subtrees that merge
    # then edits twice), so when the caller hands it over it is merged without a copy.
    doc = to_31(spec.document, copy=not (consume and spec.config.spec.endswith(".json")))
    cfg = spec.config
    root_security = doc.get("security")
    root_roles = doc.get("x-roles")
    prepared = _Prepared(spec, doc, doc.get("x-rate-limit"))
    prepared.located = dataclasses.replace(spec, document={})
    paths: dict[str, Any] = {}
    # Generated operationIds must not take an id the author wrote, nor one generated
    # before them ("/pets" and "/pets/" both give getPets): the second gets getPets_2.
    taken_ids = {
        str(op["operationId"])
        for _path, _method, op in refs.iter_operations(doc)
        if "operationId" in op
    }
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        new_path = (cfg.path_prefix + path) if cfg.path_prefix else path
        item, item_ptr = _inline_path_item(doc, item, refs.join("", "paths", path))
        prepared.path_pointers[new_path] = item_ptr
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            ptr = refs.join(item_ptr, method)
            prepared.op_pointers[(new_path, method)] = ptr
            if "operationId" not in op:
                generated = base = _op_id_for(method, path)
                n = 2
                while generated in taken_ids:
                    generated = f"{base}_{n}"
                    n += 1
                taken_ids.add(generated)
                op["operationId"] = generated
                findings.append(
                    Finding(
                        "operation-id-missing",
                        "warning",
                        f"{method.upper()} {path} has no operationId; "
                        f"generated {op['operationId']!r}",
                        spec.source(ptr),
                    )
                )
            if cfg.operation_id_prefix:
                op["operationId"] = cfg.operation_id_prefix + str(op["operationId"])
            if "security" not in op and root_security is not None:
                op["security"] = copy.deepcopy(root_security)
            if "x-roles" not in op and root_roles is not None:
                op["x-roles"] = copy.deepcopy(root_roles)
            op["x-service"] = cfg.name
        paths[new_path] = item
    doc["paths"] = paths
    if cfg.operation_id_prefix:
        _prefix_link_targets(doc, cfg.operation_id_prefix)
    return prepared


def _inline_path_item(
    doc: dict[str, Any], item: dict[str, Any], pointer: str
) -> tuple[dict[str, Any], str]:
    """A path item that is a local ``$ref`` (3.1 ``#/components/pathItems/...``) as a copy
    of its target, with the pointer of that target: its operations are the service's
    operations like any other (routed, documented, generated), not a dangling alias.
    Siblings of the ``$ref`` (``summary``, ``description``) override the target's."""
    target, pointer = refs.follow(doc, item, pointer)
    if target is item or not isinstance(target, dict) or "$ref" in target:
        return item, pointer  # no ref, or one that dangles or leaves the document
    out = copy.deepcopy(target)
    out.update((k, v) for k, v in item.items() if k != "$ref")
    return out, pointer


def _prefix_link_targets(doc: dict[str, Any], prefix: str) -> None:
    """Links name operations by operationId; a prefixed service must keep them pointing home."""

    def fix_links(links: Any) -> None:
        if isinstance(links, dict):
            for link in links.values():
                if isinstance(link, dict) and isinstance(link.get("operationId"), str):
                    link["operationId"] = prefix + link["operationId"]

    for _path, _method, op in refs.iter_operations(doc):
        for resp in (op.get("responses") or {}).values():
            if isinstance(resp, dict):
                fix_links(resp.get("links"))
    comps = doc.get("components") or {}
    fix_links(comps.get("links"))
    for resp in (comps.get("responses") or {}).values():
        if isinstance(resp, dict):
            fix_links(resp.get("links"))


# --- gateway additions -------------------------------------------------------------


def _has_inputs(op: dict[str, Any], item: dict[str, Any]) -> bool:
    return bool(op.get("parameters") or item.get("parameters") or op.get("requestBody"))


def _is_secured(op: dict[str, Any]) -> bool:
    sec = op.get("security")
    if not isinstance(sec, list) or not sec:
        return False
    return not any(isinstance(r, dict) and not r for r in sec)


def _has_scopes(op: dict[str, Any]) -> bool:
    sec = op.get("security")
    return isinstance(sec, list) and any(
        isinstance(r, dict) and any(isinstance(v, list) and v for v in r.values()) for r in sec
    )


def effective_rate_limit(
    op: dict[str, Any], service_limit: Any, default: Any
) -> dict[str, Any] | None:
    """The operation's own limit, else its service's, else the project default."""
    for candidate in (op.get("x-rate-limit"), service_limit, default):
        if isinstance(candidate, dict) and candidate:
            limit = copy.deepcopy(candidate)
            limit.setdefault("window", 60)
            limit.setdefault("per", "user" if "tiers" in limit else "ip")
            return limit
    return None


def _gateway_statuses(op: dict[str, Any], item: dict[str, Any]) -> list[str]:
    names = []
    if _is_secured(op):
        names.append("Unauthorized")
        if op.get("x-roles") or _has_scopes(op):
            names.append("Forbidden")
    if op.get("requestBody"):
        names.extend(["PayloadTooLarge", "UnsupportedMediaType"])
    if _has_inputs(op, item):
        names.append("ValidationFailed")
    if op.get("x-rate-limit"):
        names.append("RateLimited")
    names.extend(["BadGateway", "ServiceUnavailable", "GatewayTimeout"])
    return names


def _add_gateway_responses(op: dict[str, Any], item: dict[str, Any]) -> list[str]:
    """Add the gateway's error responses; return the gateway codes the op can meet."""
    responses = op.setdefault("responses", {})
    codes: list[str] = []
    for name in _gateway_statuses(op, item):
        status, names = catalog.GATEWAY_RESPONSES[name]
        codes.extend(names)
        if str(status) not in responses:
            responses[str(status)] = {"$ref": refs.component_ref("responses", name)}
    if op.get("x-rate-limit"):
        for status, resp in responses.items():
            if status.startswith("2") and isinstance(resp, dict) and "$ref" not in resp:
                headers = resp.setdefault("headers", {})
                for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                    headers.setdefault(h, {"$ref": refs.component_ref("headers", h)})
    # Keep statuses in numeric order so the document reads naturally.
    op["responses"] = dict(sorted(responses.items(), key=lambda kv: (not kv[0].isdigit(), kv[0])))
    return codes


# --- the merge ---------------------------------------------------------------------


def merge(
    specs: Sequence[ServiceSpec], config: ProjectConfig, *, consume: bool = False
) -> UnifiedSpec:
    """Merge loaded services into one contract; raises MergeError with every conflict.

    ``consume=True``: the caller will not use ``specs`` again, so documents read
    from JSON files are merged in place instead of copied (half the peak memory
    of a big build); the result is the same.
    """
    problems: list[Problem] = []
    findings: list[Finding] = []
    prepared = [_prepare(s, findings, consume) for s in sorted(specs, key=lambda s: s.name)]
    for s in prepared:
        findings.extend(s.spec.findings)
    by_name = {p.spec.name: p for p in prepared}

    # Components: plan names across services (gateway first for reserved names).
    comp_input: dict[str, dict[str, dict[str, Any]]] = {GATEWAY: _gateway_components()}
    for p in prepared:
        comps = p.doc.get("components") or {}
        comp_input[p.spec.name] = {
            kind: dict(group)
            for kind, group in comps.items()
            if kind in refs.COMPONENT_KINDS and isinstance(group, dict)
        }
    mapping, comp_findings = plan_component_names(comp_input)
    findings.extend(comp_findings)

    locator = UnifiedLocator()
    in_place = {service: _InPlace(m) for service, m in mapping.items()}
    components: dict[str, dict[str, Any]] = {}
    for service in [GATEWAY, *sorted(by_name)]:
        for kind, group in comp_input[service].items():
            for name, definition in group.items():
                final = mapping[service][(kind, name)]
                target = components.setdefault(kind, {})
                if final not in target:
                    # Every definition here is merge's own (the gateway's are built
                    # fresh by _gateway_components), so rewriting in place is safe.
                    target[final] = in_place[service](definition)
                    if service != GATEWAY:
                        locator.mounts[refs.join("", "components", kind, final)] = (
                            by_name[service].located or by_name[service].spec,
                            refs.join("", "components", kind, name),
                        )

    # Paths and operations.
    paths: dict[str, dict[str, Any]] = {}
    # Sources are computed only for messages: line numbers cost a YAML parse.
    seen_ops: dict[tuple[str, str], tuple[str, _Where]] = {}
    seen_templates: dict[str, tuple[str, str, _Where]] = {}
    seen_ids: dict[str, tuple[str, _Where]] = {}
    path_owner: dict[str, str] = {}
    default_limit = (config.gateway.get("rate_limit") or {}).get("default")
    for p in prepared:
        svc = p.spec.name
        svc_map = mapping[svc]
        for path, item in p.doc["paths"].items():
            item = in_place[svc](item)
            norm = normalise_path(path)
            item_src = _Where(p.spec, p.path_pointers[path])
            prior_template = seen_templates.get(norm)
            if prior_template is not None and prior_template[0] != path:
                # OpenAPI: templated paths differing only in parameter names are identical
                # and MUST NOT both exist (FastAPI emits them for /x/{id} and /x/{x_id}).
                fix = (
                    f"rename the path parameters of one so both read {prior_template[0]!r} "
                    "(path parameter names are not sent on the wire; clients keep working)"
                    if prior_template[1] == svc
                    else "rename the parameters to match or mount one service under a path_prefix"
                )
                problems.append(
                    Problem(
                        item_src.source(),
                        f"path {path!r} ({svc}) and {prior_template[0]!r} ({prior_template[1]}, "
                        f"{prior_template[2]}) are the same route up to parameter names; {fix}",
                    )
                )
                continue
            seen_templates.setdefault(norm, (path, svc, item_src))
            target_item = paths.get(path)
            if target_item is None:
                target_item = {}
                paths[path] = target_item
                path_owner[path] = svc
                locator.mounts[refs.join("", "paths", path)] = (
                    p.located or p.spec,
                    p.path_pointers[path],
                )
            elif path_owner[path] != svc:
                _push_down_path_parameters(target_item)
                _push_down_path_parameters(item)
            for key, value in item.items():
                if key in HTTP_METHODS:
                    continue
                if key == "parameters" and path_owner[path] != svc:
                    continue
                target_item.setdefault(key, value)
            for method in HTTP_METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                src = _Where(p.spec, p.op_pointers[(path, method)])
                prior = seen_ops.get((norm, method))
                if prior is not None:
                    problems.append(
                        Problem(
                            src.source(),
                            f"{method.upper()} {path} is also defined by service {prior[0]!r} "
                            f"at {prior[1]}; give one service a path_prefix in unispec.yaml",
                        )
                    )
                    continue
                seen_ops[(norm, method)] = (svc, src)
                op_id = str(op["operationId"])
                prior_id = seen_ids.get(op_id)
                if prior_id is not None:
                    problems.append(
                        Problem(
                            src.source(),
                            f"operationId {op_id!r} is also used by service {prior_id[0]!r} at "
                            f"{prior_id[1]}; rename one, or set operation_id_prefix for a "
                            "service in unispec.yaml",
                        )
                    )
                    continue
                seen_ids[op_id] = (svc, src)
                op["security"] = _rewrite_security(op.get("security"), svc_map)
                if op["security"] is None:
                    del op["security"]
                limit = effective_rate_limit(op, p.rate_limit, default_limit)
                if limit is not None:
                    op["x-rate-limit"] = limit
                target_item[method] = op
                locator.mounts[refs.join("", "paths", path, method)] = (
                    p.located or p.spec,
                    p.op_pointers[(path, method)],
                )

    # Webhooks: identical ones merge, different ones with the same name are namespaced.
    webhooks: dict[str, Any] = {}
    for p in prepared:
        for name, item in (p.doc.get("webhooks") or {}).items():
            item = in_place[p.spec.name](item)
            original = name
            if name in webhooks and _canon(webhooks[name]) != _canon(item):
                name = f"{p.spec.name}.{name}"
            if name not in webhooks:
                # Findings about a webhook (lint, diff) point into its service's file.
                locator.mounts[refs.join("", "webhooks", name)] = (
                    p.located or p.spec,
                    refs.join("", "webhooks", original),
                )
            webhooks.setdefault(name, item)
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    item[method].setdefault("x-service", p.spec.name)

    tags, tag_groups, tag_problems = _merge_tags(prepared, paths, config)
    problems.extend(tag_problems)

    if problems:
        raise MergeError(
            f"cannot merge the services: {len(problems)} conflict(s)", sorted(problems, key=str)
        )

    # Gateway responses, then the operation index and the error catalog.
    op_gateway_codes: dict[str, list[str]] = {}
    sorted_paths = dict(sorted(paths.items()))
    for _path, item in sorted_paths.items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                op_gateway_codes[str(op["operationId"])] = _add_gateway_responses(op, item)

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": copy.deepcopy(config.info),
    }
    if config.servers:
        document["servers"] = copy.deepcopy(config.servers)
    if tags:
        document["tags"] = tags
    if tag_groups:
        document["x-tagGroups"] = tag_groups
    document["paths"] = sorted_paths
    if webhooks:
        document["webhooks"] = dict(sorted(webhooks.items()))
    document["components"] = {
        kind: dict(sorted(components[kind].items()))
        for kind in sorted(components)
        if components[kind]
    }

    document = _hoist(document, findings)

    operations = tuple(
        Operation(
            method=method,
            path=path,
            operation_id=str(op["operationId"]),
            service=str(op["x-service"]),
            source=locator.unresolved(refs.join("", "paths", path, method)),
            pointer=refs.join("", "paths", path, method),
        )
        for path, method, op in refs.iter_operations(document)
    )
    errors = collect_errors(document, op_gateway_codes, locator)
    servers = {p.spec.name: p.spec.servers for p in prepared}
    return UnifiedSpec(
        document=document,
        operations=operations,
        errors=errors,
        services=tuple(p.spec.config for p in prepared),
        service_servers=servers,
        findings=tuple(findings),
        sources=locator,
    )


def _hoist(document: dict[str, Any], findings: list[Finding]) -> dict[str, Any]:
    """Name inline request/response schemas (for SDK generators), when hoisting is available."""
    try:
        from unispec.hoist import hoist_inline_schemas
    except ImportError:
        return document
    hoisted, notes = hoist_inline_schemas(document, in_place=True)
    findings.extend(notes)
    return hoisted


def _push_down_path_parameters(item: dict[str, Any]) -> None:
    """Two services share a path: path-level parameters move into each operation."""
    params = item.pop("parameters", None)
    if not isinstance(params, list):
        return
    for method in HTTP_METHODS:
        op = item.get(method)
        if not isinstance(op, dict):
            continue
        own = op.setdefault("parameters", [])
        keys = {(q.get("name"), q.get("in")) for q in own if isinstance(q, dict)}
        for param in params:
            if isinstance(param, dict) and (param.get("name"), param.get("in")) not in keys:
                own.append(copy.deepcopy(param))


def _merge_tags(
    prepared: Sequence[_Prepared], paths: Mapping[str, Any], config: ProjectConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Problem]]:
    problems: list[Problem] = []
    allow_conflicts = bool(config.merge.get("allow_tag_conflicts", False))
    tags: dict[str, dict[str, Any]] = {}
    owners: dict[str, tuple[str, _Where]] = {}
    groups: list[dict[str, Any]] = []
    for p in prepared:
        svc = p.spec.name
        used: list[str] = []
        for i, tag in enumerate(p.doc.get("tags") or []):
            if not isinstance(tag, dict) or not isinstance(tag.get("name"), str):
                continue
            name = tag["name"]
            used.append(name)
            src = _Where(p.spec, refs.join("", "tags", i))
            if name in tags:
                if _canon(tags[name]) != _canon(tag) and not allow_conflicts:
                    problems.append(
                        Problem(
                            src.source(),
                            f"tag {name!r} is described differently by service {owners[name][0]!r} "
                            f"at {owners[name][1]}; make the descriptions equal, rename one tag, "
                            "or set merge.allow_tag_conflicts: true (first service wins)",
                        )
                    )
                continue
            tags[name] = copy.deepcopy(tag)
            owners[name] = (svc, src)
        for _path, _method, op in refs.iter_operations(p.doc):
            for name in op.get("tags") or []:
                if isinstance(name, str) and name not in used:
                    used.append(name)
                    tags.setdefault(name, {"name": name})
        title = (
            p.spec.document.get("info", {}).get("title")
            if isinstance(p.spec.document.get("info"), dict)
            else None
        )
        if used:
            groups.append(
                {"name": str(title or service_prefix(svc)), "x-service": svc, "tags": used}
            )
    return list(tags.values()), groups, problems


def collect_errors(
    document: dict[str, Any],
    gateway_codes: Mapping[str, Sequence[str]],
    locator: UnifiedLocator | None = None,
) -> tuple[ErrorCode, ...]:
    """The error catalog: service codes from responses plus the gateway's codes."""
    problems: list[Problem] = []
    entries: dict[str, dict[str, Any]] = {}
    for code, (status, desc, hint) in catalog.GATEWAY_CODES.items():
        entries[code] = {
            "status": status,
            "description": desc,
            "hint": hint,
            "origin": GATEWAY,
            "operations": set(),
        }
    # A response that is only a local $ref declares what its target declares: look it up once.
    by_ref: dict[str, dict[str, str]] = {}

    def codes_of(response: Any) -> dict[str, str]:
        ref = response.get("$ref") if isinstance(response, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return catalog.response_codes(document, response)
        found = by_ref.get(ref)
        if found is None:
            found = by_ref[ref] = catalog.response_codes(document, response)
        return found

    for path, method, op in refs.iter_operations(document):
        op_id = str(op.get("operationId"))
        service = str(op.get("x-service", ""))
        for status_key, response in (op.get("responses") or {}).items():
            if not str(status_key).isdigit():
                continue
            status = int(status_key)
            for code, desc in codes_of(response).items():
                entry = entries.get(code)
                if entry is None:
                    entries[code] = {
                        "status": status,
                        "description": desc,
                        "hint": "",
                        "origin": service,
                        "operations": {op_id},
                    }
                    continue
                conflict = entry["status"] != status or (
                    entry["origin"] not in (GATEWAY, service)
                    and desc
                    and entry["description"]
                    and desc != entry["description"]
                )
                if conflict:
                    ptr = refs.join("", "paths", path, method, "responses", status_key)
                    problems.append(
                        Problem(
                            locator.get(ptr) if locator else None,
                            f"error code {code} is declared with HTTP {status} ({desc!r}) by "
                            f"service {service!r} but with HTTP {entry['status']} "
                            f"({entry['description']!r}) by {entry['origin']!r}; "
                            "one code must mean one thing",
                        )
                    )
                    continue
                if entry["origin"] == GATEWAY:
                    entry["operations"].add(op_id)
                    continue
                if not entry["description"] and desc:
                    entry["description"] = desc
                entry["operations"].add(op_id)
        for code in gateway_codes.get(op_id, ()):
            entries[code]["operations"].add(op_id)
    if problems:
        raise MergeError(f"the error catalog has {len(problems)} conflict(s)", problems)
    return tuple(
        ErrorCode(
            code=code,
            status=int(e["status"]),
            description=str(e["description"]),
            hint=str(e["hint"]),
            origin=str(e["origin"]),
            operations=tuple(sorted(e["operations"])),
        )
        for code, e in sorted(entries.items(), key=lambda kv: (kv[1]["status"], kv[0]))
    )


def errors_document(errors: Sequence[ErrorCode]) -> dict[str, Any]:
    """The JSON shape of generated/errors.json."""
    return {
        "codes": [
            {
                "code": e.code,
                "status": e.status,
                "description": e.description,
                "hint": e.hint,
                "origin": e.origin,
                "operations": list(e.operations),
            }
            for e in errors
        ]
    }
