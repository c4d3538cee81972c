"""Fuzzing a live gateway with Schemathesis against the unified contract.

Public API:

- ``run_fuzz(document, base_url, options, jwt_settings=..., console=...) -> FuzzResult``
  runs every pass against a running gateway and reports (live view, summary
  by service and check, failures with curl, JUnit XML).
- ``fuzz_options(fuzz_section, **cli_overrides) -> FuzzOptions``: the validated
  ``fuzz:`` section of unispec.yaml merged with command-line options.
- ``build_plan(document, options) -> FuzzPlan`` (pure): operations, identities
  and passes, for tests and dry runs.
- ``raise_rate_limits(document, gateway_section, multiplier)`` (pure): copies
  with every rate limit multiplied, for the stack ``unispec fuzz`` starts itself.

This package never imports the gateway (they are siblings): whoever starts the
stack (the CLI) hands over its URL.
"""

from __future__ import annotations

from unispec.fuzz.plan import FuzzPlan, Identity, Target, build_plan, raise_rate_limits
from unispec.fuzz.results import Failure, RunError
from unispec.fuzz.runner import FuzzError, FuzzResult, mint_identities, run_fuzz
from unispec.fuzz.settings import CHECKS, PHASES, FuzzOptions, fuzz_options

__all__ = [
    "CHECKS",
    "PHASES",
    "Failure",
    "FuzzError",
    "FuzzOptions",
    "FuzzPlan",
    "FuzzResult",
    "Identity",
    "RunError",
    "Target",
    "build_plan",
    "fuzz_options",
    "mint_identities",
    "raise_rate_limits",
    "run_fuzz",
]
