"""What a fuzz run will do, decided from the contract alone (pure: no I/O).

The contract says which operations are secured (``security``) and which roles
may call them (``x-roles``); the plan turns that into identities (one token per
role actually needed), the Schemathesis configuration of each pass, and the
mapping back from an operation to its service for the report. Keeping this
pure lets the tests check the plan without starting anything.

Two passes:

- ``allowed``: every selected operation, all phases and checks, each secured
  operation called as a user the contract admits (the first role of its
  ``x-roles``). ``positive_data_acceptance`` does not accept 401/403/429 here:
  an allowed caller that is refused is a failure, not noise.
- ``forbidden``: only ``x-roles`` operations, called as a valid user holding
  none of the roles; valid data must get 403 (``positive_data_acceptance``
  expects exactly 403) and nothing may crash or break the contract.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from unispec.errors import ConfigError
from unispec.fuzz.settings import FuzzOptions

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ALLOWED = "allowed"
FORBIDDEN = "forbidden"

ALLOWED_POSITIVE_STATUSES: tuple[str, ...] = ("2xx", "3xx", "404", "409", "5xx")
"""Valid data from an admitted caller: success, a missing resource or a conflict.

401/403 (the caller was refused) and 429 (the run was throttled) are failures in
the allowed pass; 5xx is left to ``not_a_server_error`` so that it is reported
once, under the check that names it.
"""

FORBIDDEN_POSITIVE_STATUSES: tuple[str, ...] = ("403",)

FAIL_ON_WARNINGS: tuple[str, ...] = ("missing_auth", "rate_limited")
"""Warnings that fail the run: unauthenticated or throttled runs test nothing."""


@dataclass(frozen=True)
class Identity:
    """A development user the run mints a token for."""

    key: str
    """Stable name used in reports (``user``, ``role-admin``, ``forbidden``)."""
    sub: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """One operation of the contract as the fuzzer sees it."""

    operation_id: str
    method: str
    """Upper-case, as Schemathesis labels operations."""
    path: str
    service: str
    secured: bool
    roles: tuple[str, ...]
    scopes: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class FuzzPass:
    """One Schemathesis invocation."""

    name: str
    operation_ids: tuple[str, ...]
    phases: tuple[str, ...]
    identities: Mapping[str, Identity]
    """operationId -> identity whose token the operation is called with (secured ones)."""


@dataclass(frozen=True)
class FuzzPlan:
    targets: tuple[Target, ...]
    """Every operation of the contract (selected or not: links may lead anywhere)."""
    selected: tuple[str, ...]
    """operationIds chosen by the filters."""
    passes: tuple[FuzzPass, ...]

    def by_label(self) -> dict[str, Target]:
        return {t.label: t for t in self.targets}

    def identities(self) -> tuple[Identity, ...]:
        seen: dict[str, Identity] = {}
        for p in self.passes:
            for identity in p.identities.values():
                seen.setdefault(identity.key, identity)
        return tuple(seen[k] for k in sorted(seen))


def _security_of(
    operation: Mapping[str, Any], document: Mapping[str, Any]
) -> tuple[bool, tuple[str, ...]]:
    """Whether a token must (or may) be sent, and the scopes it should carry.

    Mirrors the gateway: the operation's ``security`` else the document's; an
    empty requirement ``{}`` makes auth optional, in which case a token is
    still sent so that the verification path is exercised too.
    """
    security = operation.get("security", document.get("security", []))
    if not isinstance(security, list):
        return False, ()
    requirements = [r for r in security if isinstance(r, Mapping) and r]
    if not requirements:
        return False, ()
    scopes: list[str] = []
    for wanted in requirements[0].values():
        if isinstance(wanted, list):
            scopes.extend(str(s) for s in wanted)
    return True, tuple(dict.fromkeys(scopes))


def targets(document: Mapping[str, Any]) -> tuple[Target, ...]:
    """Every operation of the unified document, in document order."""
    found: list[Target] = []
    paths = document.get("paths") or {}
    for path, item in paths.items():
        if not isinstance(item, Mapping):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            secured, scopes = _security_of(op, document)
            roles = op.get("x-roles") or ()
            found.append(
                Target(
                    operation_id=str(op.get("operationId") or f"{method} {path}"),
                    method=method.upper(),
                    path=str(path),
                    service=str(op.get("x-service") or "-"),
                    secured=secured,
                    roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
                    scopes=scopes,
                )
            )
    return tuple(found)


def select(
    all_targets: Sequence[Target], operations: Iterable[str], services: Iterable[str]
) -> tuple[str, ...]:
    """operationIds kept by ``--operation``/``--service`` (union of both; none means all).

    An unknown name is an input mistake: fuzzing nothing and reporting success
    would hide it, so it raises with the known names.
    """
    ops = tuple(operations)
    svcs = tuple(services)
    if not ops and not svcs:
        return tuple(t.operation_id for t in all_targets)
    known_services = sorted({t.service for t in all_targets})
    for s in svcs:
        if s not in known_services:
            raise ConfigError(
                f"--service {s}: no such service (known: {', '.join(known_services)})"
            )
    keep: dict[str, None] = {}
    for wanted in ops:
        hits = [
            t for t in all_targets if wanted == t.operation_id or _norm_label(wanted) == t.label
        ]
        if not hits:
            raise ConfigError(
                f"--operation {wanted}: no operation with this operationId or 'METHOD /path' "
                "in the contract"
            )
        for t in hits:
            keep[t.operation_id] = None
    for t in all_targets:
        if t.service in svcs:
            keep[t.operation_id] = None
    return tuple(t.operation_id for t in all_targets if t.operation_id in keep)


def _norm_label(text: str) -> str:
    parts = text.strip().split(None, 1)
    if len(parts) != 2:
        return text
    return f"{parts[0].upper()} {parts[1]}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def allowed_identity(target: Target) -> Identity:
    """The least privileged caller the contract admits: the first ``x-roles`` role."""
    if target.roles:
        role = target.roles[0]
        return Identity(
            key=f"role-{_slug(role)}"
            + (f"+{_slug('-'.join(target.scopes))}" if target.scopes else ""),
            sub=f"fuzz-{_slug(role)}",
            roles=(role,),
            scopes=target.scopes,
        )
    return Identity(
        key="user" + (f"+{_slug('-'.join(target.scopes))}" if target.scopes else ""),
        sub="fuzz-user",
        roles=(),
        scopes=target.scopes,
    )


def forbidden_identity(target: Target, known_roles: Iterable[str]) -> Identity:
    """A valid user holding none of the operation's roles (a real role when one exists)."""
    others = sorted(set(known_roles) - set(target.roles))
    roles = (others[0],) if others else ()
    return Identity(
        key=f"forbidden-{_slug(roles[0])}" if roles else "forbidden",
        sub="fuzz-forbidden",
        roles=roles,
        scopes=target.scopes,
    )


def build_plan(document: Mapping[str, Any], options: FuzzOptions) -> FuzzPlan:
    """The passes of a run over ``document`` with ``options``' filters."""
    all_targets = targets(document)
    if not all_targets:
        raise ConfigError("the contract has no operations to fuzz")
    selected = select(all_targets, options.operations, options.services)
    by_id = {t.operation_id: t for t in all_targets}
    known_roles = {r for t in all_targets for r in t.roles}
    allowed = FuzzPass(
        name=ALLOWED,
        operation_ids=selected,
        phases=options.phases,
        # every secured operation, selected or not: a stateful link may lead anywhere
        identities={t.operation_id: allowed_identity(t) for t in all_targets if t.secured},
    )
    passes = [allowed]
    role_ops = tuple(op_id for op_id in selected if by_id[op_id].secured and by_id[op_id].roles)
    forbidden_phases = tuple(p for p in options.phases if p in ("examples", "fuzzing"))
    if options.forbidden_pass and role_ops and forbidden_phases:
        passes.append(
            FuzzPass(
                name=FORBIDDEN,
                operation_ids=role_ops,
                phases=forbidden_phases,
                identities={
                    op_id: forbidden_identity(by_id[op_id], known_roles) for op_id in role_ops
                },
            )
        )
    return FuzzPlan(targets=all_targets, selected=selected, passes=tuple(passes))


def pass_tokens(fuzz_pass: FuzzPass, plan: FuzzPlan, tokens: Mapping[str, str]) -> dict[str, str]:
    """Operation label -> bearer token of its caller in this pass (secured operations only).

    ``tokens`` maps identity keys to minted tokens (see ``FuzzPlan.identities``).
    """
    by_id = {t.operation_id: t for t in plan.targets}
    return {
        by_id[op_id].label: tokens[identity.key]
        for op_id, identity in sorted(
            fuzz_pass.identities.items(), key=lambda kv: by_id[kv[0]].label
        )
    }


def schemathesis_config(
    fuzz_pass: FuzzPass,
    options: FuzzOptions,
    *,
    seed: int,
    report_dir: str,
) -> dict[str, Any]:
    """The ``schemathesis.toml`` content of one pass, as a dict.

    Credentials are not in here: the ``unispec.fuzz.st_hooks`` auth provider
    sets each operation's token (see that module for why).
    """
    forbidden = fuzz_pass.name == FORBIDDEN
    checks: dict[str, Any] = {
        "positive_data_acceptance": {
            "expected-statuses": list(
                FORBIDDEN_POSITIVE_STATUSES if forbidden else ALLOWED_POSITIVE_STATUSES
            )
        }
    }
    for name in options.exclude_checks:
        checks[name] = {**checks.get(name, {}), "enabled": False}
    fail_on = [w for w in FAIL_ON_WARNINGS if not (forbidden and w == "missing_auth")]
    config: dict[str, Any] = {
        "seed": seed,
        "request-timeout": options.request_timeout,
        "generation": {"database": "none", "max-examples": options.max_examples},
        "checks": checks,
        "cache": {"enabled": False},
        "output": {"sanitization": {"enabled": False}},
        "reports": {
            "junit": {"enabled": True, "path": f"{report_dir}/junit.xml"},
            "ndjson": {"enabled": True, "path": f"{report_dir}/events.ndjson"},
            "json": {"enabled": True, "path": f"{report_dir}/report.json"},
        },
        "warnings": {"fail-on": fail_on},
        "phases": {
            "stateful": {
                # Links come from the contract; Schemathesis' dependency analysis also
                # infers links from field names and then feeds nullable values (null ->
                # "None") into path parameters, failing valid APIs. Location headers only.
                "inference": {"algorithms": ["location-headers"]},
            }
        },
    }
    if forbidden:
        # Every answer is a 403 by design here; that is the point, not missing auth.
        config["warnings"]["display"] = [w for w in _ALL_WARNINGS if w != "missing_auth"]
    if options.max_failures is not None:
        config["max-failures"] = options.max_failures
    return config


_ALL_WARNINGS = (
    "missing_auth",
    "missing_test_data",
    "validation_mismatch",
    "missing_deserializer",
    "unused_openapi_auth",
    "method_not_allowed",
    "rate_limited",
)


def raise_rate_limits(
    document: Mapping[str, Any], gateway: Mapping[str, Any], multiplier: int
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Copies of the contract and ``gateway:`` section with every limit × ``multiplier``.

    A fuzz run sends hundreds of requests a minute from one address and one
    user: with the contract's real limits most of them would be 429s and the
    run would test the rate limiter only. The limits are multiplied, never
    removed, so the limiter stays on the request path (and its counting code is
    fuzzed too). Returns the copies and the number of policies raised.
    """
    if multiplier < 1:
        raise ConfigError(f"fuzz.rate_limit_multiplier must be >= 1, got {multiplier}")
    doc = copy.deepcopy(dict(document))
    changed = 0
    for item in (doc.get("paths") or {}).values():
        if not isinstance(item, dict):
            continue
        changed += _scale(item, multiplier)
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                changed += _scale(op, multiplier)
    changed += _scale(doc, multiplier)
    gw = copy.deepcopy(dict(gateway))
    rate = gw.get("rate_limit")
    if isinstance(rate, dict):
        default = rate.get("default")
        if isinstance(default, dict):
            changed += _scale_limit(default, multiplier)
    return doc, gw, changed


def _scale(node: dict[str, Any], multiplier: int) -> int:
    limit = node.get("x-rate-limit")
    if isinstance(limit, dict):
        return _scale_limit(limit, multiplier)
    return 0


def _scale_limit(limit: dict[str, Any], multiplier: int) -> int:
    changed = 0
    for key in ("limit", "burst"):
        value = limit.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            limit[key] = value * multiplier
            changed += 1
    tiers = limit.get("tiers")
    if isinstance(tiers, dict):
        for tier, value in list(tiers.items()):
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                tiers[tier] = value * multiplier
                changed += 1
    return 1 if changed else 0
