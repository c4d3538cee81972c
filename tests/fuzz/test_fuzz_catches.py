"""The fuzzer can fail: each deliberately broken promise is caught by the matching check.

Every test runs real Schemathesis (a child process) against the small shop API
of conftest.py on a loopback port, restricted to the operations and phases
that matter so that each run takes a few seconds.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from unispec.fuzz import FuzzOptions, FuzzResult, run_fuzz

PASS_TIMEOUT = 120.0


def fuzz(
    spec: dict[str, Any], url: str, jwt: dict[str, Any], **options: Any
) -> tuple[FuzzResult, str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False)
    options.setdefault("seed", 7)
    options.setdefault("max_examples", 10)
    result = run_fuzz(
        spec,
        url,
        FuzzOptions(**options),
        jwt_settings=jwt,
        console=console,
        pass_timeout=PASS_TIMEOUT,
    )
    return result, buffer.getvalue()


def caught(result: FuzzResult) -> set[tuple[str, str]]:
    return {(f.operation_id, f.check) for f in result.failures}


def test_well_behaved_api_passes_every_check(
    start_shop: Any, shop_spec: dict[str, Any], jwt_settings: dict[str, Any]
) -> None:
    server = start_shop()
    result, output = fuzz(shop_spec, server.url, jwt_settings, max_examples=3)
    assert result.ok, output
    assert result.failures == [] and result.exit_code == 0
    assert [p.name for p in result.passes] == ["allowed", "forbidden"]
    checks = {check for p in result.passes for (_, check) in p.collector.tally}
    # every default check ran, the stateful ones included
    assert {
        "not_a_server_error",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "ignored_auth",
        "use_after_free",
        "ensure_resource_availability",
        "unsupported_method",
    } <= checks
    allowed = result.passes[0].collector.progress
    assert allowed.stateful_scenarios > 0 and allowed.cases > 50
    assert server.items == {} or server.requests > 50
    assert "no failures" in output and "By service" in output and "By check" in output


def test_broken_upstream_is_caught_by_the_matching_checks(
    start_shop: Any, shop_spec: dict[str, Any], jwt_settings: dict[str, Any]
) -> None:
    """One upstream, four broken promises, each caught by the check that matches it."""
    server = start_shop(wrong_type=True, crash_on_edge=True, no_validation=True, ignore_roles=True)
    result, output = fuzz(
        shop_spec,
        server.url,
        jwt_settings,
        operations=("createItem", "getItem", "searchItems"),
        phases=("coverage", "fuzzing"),
        max_examples=5,
    )
    assert not result.ok and result.exit_code == 1
    allowed, forbidden = result.passes
    found = {(f.operation_id, f.check) for f in allowed.failures}
    # returns a field of the wrong type
    assert ("getItem", "response_schema_conformance") in found, output
    wrong = next(f for f in result.failures if f.operation_id == "getItem")
    assert wrong.service == "orders" and wrong.status == 200 and "is not of type" in wrong.message
    assert "$(unispec token --sub fuzz-user --tier free)" in wrong.curl
    # answers 500 at the documented maximum
    assert ("searchItems", "not_a_server_error") in found, output
    crash = next(f for f in result.failures if f.check == "not_a_server_error")
    assert crash.status == 500 and "limit=100" in crash.curl
    assert "Authorization" not in crash.curl  # a public operation is called without a token
    assert {c for op, c in found if op == "searchItems"} <= {
        "not_a_server_error",
        "status_code_conformance",
    }
    # accepts what it should reject
    assert ("createItem", "negative_data_rejection") in found, output
    accepted = next(f for f in result.failures if f.check == "negative_data_rejection")
    assert accepted.status == 201 and "-X POST" in accepted.curl
    # lets a user without the operation's x-roles in: valid data must get 403 there
    assert ("createItem", "positive_data_acceptance") in {
        (f.operation_id, f.check) for f in forbidden.failures
    }, output
    assert "without the operation's x-roles" in output
    assert "reproduce: curl" in output


def test_unauthenticated_run_fails_instead_of_warning(
    start_shop: Any, shop_spec: dict[str, Any], jwt_settings: dict[str, Any]
) -> None:
    server = start_shop(secret="not-the-secret-the-fuzzer-signs-with")
    result, output = fuzz(
        shop_spec,
        server.url,
        jwt_settings,
        operations=("getItem",),
        phases=("fuzzing",),
        max_examples=3,
        forbidden_pass=False,
    )
    assert not result.ok and result.exit_code == 1
    (allowed,) = result.passes
    assert allowed.warnings == {"missing_auth": ["GET /items/{id}"]}, output
    assert "warning missing_auth fails the run" in output


def test_same_seed_same_cases_on_a_fresh_server(
    start_shop: Any, shop_spec: dict[str, Any], jwt_settings: dict[str, Any]
) -> None:
    """Reproducible: one worker, no example database, fixed seed -> the same requests."""

    def digest(seed: int) -> str:
        server = start_shop()
        result, output = fuzz(
            shop_spec,
            server.url,
            jwt_settings,
            seed=seed,
            operations=("createItem",),
            phases=("fuzzing",),
            max_examples=3,
            forbidden_pass=False,
        )
        assert result.ok, output
        return result.passes[0].collector.request_digest

    first = digest(11)
    assert digest(11) == first
    assert digest(12) != first
