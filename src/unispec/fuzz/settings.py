"""The ``fuzz:`` section of unispec.yaml and the per-run options, validated once.

The fuzz area owns its section (the core hands it over raw), so every key is
checked here and a typo fails with the key's name instead of being ignored:
a silently ignored ``max_examples`` would make a CI run test far less than the
team believes it does.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from unispec.errors import ConfigError

PHASES: tuple[str, ...] = ("examples", "coverage", "fuzzing", "stateful")
"""Schemathesis phases, in the order it runs them."""

CHECKS: tuple[str, ...] = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
)
"""Every check Schemathesis 4.x runs by default (the stateful ones included)."""

TIERS: tuple[str, ...] = ("free", "basic", "pro", "enterprise")

_FILE = "unispec.yaml"
_KNOWN = frozenset(
    {
        "max_examples",
        "seed",
        "workers",
        "phases",
        "exclude_checks",
        "rate_limit_multiplier",
        "request_timeout",
        "tier",
        "forbidden_pass",
        "max_failures",
    }
)


@dataclass(frozen=True)
class FuzzOptions:
    """Everything one fuzz run needs besides the contract and the target URL."""

    max_examples: int = 25
    seed: int | None = None
    """``None``: a random seed, printed so that the run can be repeated."""
    workers: int = 1
    phases: tuple[str, ...] = PHASES
    exclude_checks: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    """operationIds (or ``METHOD /path``) to fuzz; empty means all."""
    services: tuple[str, ...] = ()
    """``x-service`` names to fuzz; empty means all."""
    rate_limit_multiplier: int = 1000
    """How much the embedded stack raises every rate limit for the run (never 0: see README)."""
    request_timeout: float = 10.0
    tier: str = "free"
    """Tier claim of the minted tokens (the least privileged by default, so limits stay real)."""
    forbidden_pass: bool = True
    """Also replay ``x-roles`` operations as a user holding none of the roles (expects 403)."""
    max_failures: int | None = None
    junit: Path | None = None
    keep_dir: Path | None = None
    """Keep Schemathesis' own config, logs and reports in this folder (debugging)."""
    extra_phase_options: Mapping[str, Any] = field(default_factory=dict)

    def effective_workers(self) -> tuple[int, str | None]:
        """Workers actually used and why, when that differs from the request.

        Schemathesis' coverage phase crashes with several workers on Python
        3.11 (an AST recursion-depth SystemError) and parallel runs are not
        reproducible anyway, so 3.11 always runs one worker.
        """
        if self.workers > 1 and sys.version_info < (3, 12):
            return 1, (
                f"--workers {self.workers} ignored: Python {sys.version_info.major}."
                f"{sys.version_info.minor} runs one worker (Schemathesis' coverage phase "
                "is not reliable with several workers before 3.12, and one worker keeps a "
                "seed reproducible)"
            )
        return self.workers, None


def _fail(key: str, message: str) -> ConfigError:
    return ConfigError(f"{_FILE}: fuzz.{key}: {message}")


def _positive_int(value: Any, key: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(key, f"must be an integer >= {minimum}, got {value!r}")
    return value


def _names(value: Any, key: str, allowed: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(key, f"must be a list of names, got {value!r}")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise _fail(key, f"unknown {unknown[0]!r} (known: {', '.join(allowed)})")
    return tuple(value)


def parse_phases(value: Any, key: str = "phases") -> tuple[str, ...]:
    """Phases in Schemathesis order, whatever order the user wrote them in."""
    chosen = set(_names(value, key, PHASES))
    if not chosen:
        raise _fail(key, "needs at least one phase")
    return tuple(p for p in PHASES if p in chosen)


def parse_checks(value: Any, key: str = "exclude_checks") -> tuple[str, ...]:
    return _names(value, key, CHECKS)


def fuzz_options(section: Mapping[str, Any] | None, **overrides: Any) -> FuzzOptions:
    """``FuzzOptions`` from the raw ``fuzz:`` section, then command-line overrides.

    An override of ``None`` means "not given on the command line" and keeps the
    configured value.
    """
    raw = dict(section or {})
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise _fail(unknown[0], f"unknown key (known: {', '.join(sorted(_KNOWN))})")
    values: dict[str, Any] = {}
    if "max_examples" in raw:
        values["max_examples"] = _positive_int(raw["max_examples"], "max_examples")
    if raw.get("seed") is not None:
        values["seed"] = _positive_int(raw["seed"], "seed", minimum=0)
    if "workers" in raw:
        values["workers"] = _positive_int(raw["workers"], "workers")
    if "phases" in raw:
        values["phases"] = parse_phases(raw["phases"])
    if "exclude_checks" in raw:
        values["exclude_checks"] = parse_checks(raw["exclude_checks"])
    if "rate_limit_multiplier" in raw:
        values["rate_limit_multiplier"] = _positive_int(
            raw["rate_limit_multiplier"], "rate_limit_multiplier"
        )
    if "request_timeout" in raw:
        timeout = raw["request_timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise _fail("request_timeout", f"must be a positive number of seconds, got {timeout!r}")
        values["request_timeout"] = float(timeout)
    if "tier" in raw:
        tier = raw["tier"]
        if not isinstance(tier, str) or not tier:
            raise _fail("tier", f"must be a tier name such as {', '.join(TIERS)}, got {tier!r}")
        values["tier"] = tier
    if "forbidden_pass" in raw:
        if not isinstance(raw["forbidden_pass"], bool):
            raise _fail("forbidden_pass", f"must be true or false, got {raw['forbidden_pass']!r}")
        values["forbidden_pass"] = raw["forbidden_pass"]
    if raw.get("max_failures") is not None:
        values["max_failures"] = _positive_int(raw["max_failures"], "max_failures")
    options = FuzzOptions(**values)
    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    if "max_examples" in given:
        _cli_positive(given["max_examples"], "--max-examples")
    if "workers" in given:
        _cli_positive(given["workers"], "--workers")
    if "seed" in given:
        _cli_positive(given["seed"], "--seed", minimum=0)
    return replace(options, **given)


def _cli_positive(value: Any, option: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{option} must be an integer >= {minimum}, got {value!r}")
