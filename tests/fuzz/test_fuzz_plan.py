"""The pure half of unispec.fuzz: plan, configuration, parsing, reports (no servers)."""

from __future__ import annotations

import json
import sys
import tomllib
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from schemathesis.config import SchemathesisConfig

from unispec.errors import ConfigError
from unispec.fuzz import FuzzOptions, build_plan, fuzz_options, raise_rate_limits
from unispec.fuzz import toml as fuzz_toml
from unispec.fuzz.plan import (
    ALLOWED,
    FORBIDDEN,
    pass_tokens,
    schemathesis_config,
    select,
    targets,
)
from unispec.fuzz.report import PassResult, junit_xml
from unispec.fuzz.results import Collector, curl_command


def test_targets_read_security_roles_and_service(shop_spec: dict[str, Any]) -> None:
    found = {t.operation_id: t for t in targets(shop_spec)}
    assert set(found) == {"searchItems", "createItem", "getItem", "deleteItem"}
    assert not found["searchItems"].secured  # security: [] overrides the root requirement
    assert found["getItem"].secured and found["getItem"].roles == ()
    assert found["createItem"].roles == ("admin",)
    assert found["createItem"].label == "POST /items"
    assert found["searchItems"].service == "catalog"


def test_optional_auth_still_gets_a_token() -> None:
    doc = {
        "paths": {"/a": {"get": {"operationId": "a", "security": [{}, {"bearerAuth": ["read"]}]}}}
    }
    (target,) = targets(doc)
    assert target.secured and target.scopes == ("read",)


def test_select_by_operation_label_and_service(shop_spec: dict[str, Any]) -> None:
    all_targets = targets(shop_spec)
    assert select(all_targets, ["getItem"], []) == ("getItem",)
    assert select(all_targets, ["delete /items/{id}"], []) == ("deleteItem",)
    assert set(select(all_targets, [], ["orders"])) == {"createItem", "getItem", "deleteItem"}
    assert len(select(all_targets, [], [])) == 4
    with pytest.raises(ConfigError, match="--operation nope"):
        select(all_targets, ["nope"], [])
    with pytest.raises(ConfigError, match=r"--service billing.*known: catalog, orders"):
        select(all_targets, [], ["billing"])


def test_plan_has_allowed_and_forbidden_callers(shop_spec: dict[str, Any]) -> None:
    plan = build_plan(shop_spec, FuzzOptions())
    allowed, forbidden = plan.passes
    assert allowed.name == ALLOWED and forbidden.name == FORBIDDEN
    assert allowed.identities["createItem"].roles == ("admin",)
    assert allowed.identities["getItem"].roles == ()
    assert "searchItems" not in allowed.identities  # public: no token at all
    assert forbidden.operation_ids == ("createItem", "deleteItem")
    assert "admin" not in forbidden.identities["createItem"].roles
    assert set(forbidden.phases) <= {"examples", "fuzzing"}
    tokens = {i.key: f"tok-{i.key}" for i in plan.identities()}
    by_label = pass_tokens(allowed, plan, tokens)
    assert by_label == {
        "DELETE /items/{id}": "tok-role-admin",
        "GET /items/{id}": "tok-user",
        "POST /items": "tok-role-admin",
    }
    assert set(pass_tokens(forbidden, plan, tokens)) == {"POST /items", "DELETE /items/{id}"}


def test_forbidden_pass_picks_a_real_role_the_operation_refuses() -> None:
    doc = {
        "security": [{"bearerAuth": []}],
        "paths": {
            "/a": {"post": {"operationId": "a", "x-roles": ["admin"]}},
            "/b": {"post": {"operationId": "b", "x-roles": ["instructor", "admin"]}},
        },
    }
    plan = build_plan(doc, FuzzOptions())
    forbidden = plan.passes[1]
    assert forbidden.identities["a"].roles == ("instructor",)
    assert forbidden.identities["b"].roles == ()
    assert build_plan(doc, FuzzOptions(forbidden_pass=False)).passes[0].name == ALLOWED
    assert len(build_plan(doc, FuzzOptions(forbidden_pass=False)).passes) == 1


def test_schemathesis_config_is_valid_toml_for_schemathesis(shop_spec: dict[str, Any]) -> None:
    plan = build_plan(shop_spec, FuzzOptions(max_examples=7, exclude_checks=("ignored_auth",)))
    for fuzz_pass in plan.passes:
        config = schemathesis_config(
            fuzz_pass,
            FuzzOptions(max_examples=7, exclude_checks=("ignored_auth",)),
            seed=42,
            report_dir="/r",
        )
        text = fuzz_toml.dumps(config)
        assert tomllib.loads(text) == config
        loaded = SchemathesisConfig.from_dict(tomllib.loads(text))  # raises on unknown keys
        assert loaded.seed == 42
        project = loaded.projects.default
        assert project.generation.max_examples == 7
        assert project.generation.database == "none"
        assert not project.checks.ignored_auth.enabled
        statuses = project.checks.positive_data_acceptance.expected_statuses
        if fuzz_pass.name == ALLOWED:
            assert "401" not in statuses and "403" not in statuses and "429" not in statuses
            assert project.warnings.fail_on and "missing_auth" in project.warnings.fail_on
        else:
            assert statuses == ["403"]
            assert "missing_auth" not in project.warnings.fail_on


def test_toml_writer_escapes_and_nests() -> None:
    data = {
        "a": 'quote " backslash \\ newline \n unicode é \u2028',
        "n": 1.5,
        "b": False,
        "t": {"x": [1, 2], "deep": {"k": "v"}},
        "arr": [{"p": "q", "headers": {"Authorization": "Bearer x"}}, {"p": "r"}],
        "odd key": 3,
    }
    assert tomllib.loads(fuzz_toml.dumps(data)) == data


def test_raise_rate_limits_multiplies_without_switching_off() -> None:
    doc = {
        "paths": {
            "/login": {
                "post": {"x-rate-limit": {"limit": 5, "window": 60, "per": "ip", "burst": 0}},
                "get": {"x-rate-limit": {"tiers": {"free": 30, "pro": 120}, "window": 60}},
            }
        }
    }
    gateway = {"rate_limit": {"default": {"window": 60, "tiers": {"free": 30}}}, "port": 1}
    new_doc, new_gw, n = raise_rate_limits(doc, gateway, 1000)
    assert n == 3
    assert new_doc["paths"]["/login"]["post"]["x-rate-limit"]["limit"] == 5000
    assert new_doc["paths"]["/login"]["post"]["x-rate-limit"]["burst"] == 0
    assert new_doc["paths"]["/login"]["get"]["x-rate-limit"]["tiers"] == {
        "free": 30000,
        "pro": 120000,
    }
    assert new_gw["rate_limit"]["default"]["tiers"] == {"free": 30000}
    assert doc["paths"]["/login"]["post"]["x-rate-limit"]["limit"] == 5  # input untouched
    assert gateway["rate_limit"]["default"]["tiers"] == {"free": 30}
    with pytest.raises(ConfigError):
        raise_rate_limits(doc, gateway, 0)


def test_fuzz_section_is_validated_and_overridden() -> None:
    options = fuzz_options({"max_examples": 9, "phases": ["stateful", "coverage"]}, seed=5)
    assert options.max_examples == 9 and options.seed == 5
    assert options.phases == ("coverage", "stateful")  # Schemathesis order
    assert fuzz_options({"max_examples": 9}, max_examples=2).max_examples == 2
    with pytest.raises(ConfigError, match=r"fuzz\.max_exampels: unknown key"):
        fuzz_options({"max_exampels": 3})
    with pytest.raises(ConfigError, match=r"fuzz\.phases: unknown 'fuzz'"):
        fuzz_options({"phases": ["fuzz"]})
    with pytest.raises(ConfigError, match=r"fuzz\.rate_limit_multiplier"):
        fuzz_options({"rate_limit_multiplier": 0})
    with pytest.raises(ConfigError, match=r"fuzz\.exclude_checks: unknown 'not_a_check'"):
        fuzz_options({"exclude_checks": ["not_a_check"]})


def test_workers_forced_to_one_before_python_312() -> None:
    workers, note = FuzzOptions(workers=4).effective_workers()
    if sys.version_info < (3, 12):
        assert workers == 1 and note and "--workers 4 ignored" in note
    else:
        assert workers == 4 and note is None
    assert FuzzOptions(workers=1).effective_workers() == (1, None)


def _scenario(
    label: str,
    phase: str,
    checks: dict[str, list[dict[str, Any]]],
    cases: dict[str, Any],
    interactions: dict[str, Any],
) -> dict[str, Any]:
    return {
        "ScenarioFinished": {
            "phase": phase,
            "status": "failure",
            "recorder": {
                "label": label,
                "cases": cases,
                "checks": checks,
                "interactions": interactions,
            },
        }
    }


def _failure(message: str) -> dict[str, Any]:
    return {
        "name": "response_schema_conformance",
        "status": "failure",
        "failure_info": {
            "failure": {"code": "ST108", "title": "Response violates schema", "message": message}
        },
    }


def test_collector_attributes_dedupes_and_builds_curl(shop_spec: dict[str, Any]) -> None:
    plan = build_plan(shop_spec, FuzzOptions())
    collector = Collector(plan, ALLOWED, render_token=lambda t: "$(mint)" if t == "good" else None)
    collector.feed({"LoadingFinished": {"statistic": {"operations": {"selected": 4}}}})
    collector.feed({"PhaseStarted": {"phase": {"name": "coverage"}}})
    request = {
        "method": "GET",
        "uri": "http://127.0.0.1:1/items/1?q=it's",
        "headers": {"Authorization": ["Bearer good"]},
    }
    cases = {
        "c1": {"value": {"method": "GET", "path": "/items/{id}"}},
        "c2": {"value": {"method": "GET", "path": "/items/{id}"}},
        "c3": {"value": {"method": "TRACE", "path": "/items/{id}"}},
    }
    checks = {
        "c1": [_failure('"999" is not of type "integer"\n\nSchema at /properties/price:')],
        "c2": [_failure('"0" is not of type "integer"\n\nSchema at /properties/price:')],
        "c3": [{"name": "unsupported_method", "status": "success"}],
    }
    interactions = {
        "c1": {"request": request, "response": {"status_code": 200}},
        "c2": {"request": request, "response": {"status_code": 200}},
    }
    collector.feed(_scenario("GET /items/{id}", "coverage", checks, cases, interactions))
    assert collector.progress.selected == 4
    assert collector.progress.done == {"coverage": 1}
    assert len(collector.failures) == 1  # same bug, two generated values
    failure = collector.failures[0]
    assert (failure.service, failure.operation_id, failure.check) == (
        "orders",
        "getItem",
        "response_schema_conformance",
    )
    assert failure.status == 200
    assert failure.curl.startswith("curl -sS -i -X GET 'http://127.0.0.1:1/items/1?q=it'\"'\"'s'")
    assert '"Authorization: Bearer $(mint)"' in failure.curl
    assert collector.tally[("orders", "response_schema_conformance")].failed == 2
    assert collector.tally[("orders", "unsupported_method")].passed == 1
    collector.feed(
        {
            "NonFatalError": {
                "label": "POST /items",
                "value": {"type": "InvalidSchema", "message": "bad"},
            }
        }
    )
    assert (
        collector.errors[0].service == "orders"
        and "InvalidSchema: bad" in collector.errors[0].message
    )


def test_curl_replays_bodies_exactly() -> None:
    text = curl_command(
        {
            "method": "POST",
            "uri": "http://h/x",
            "headers": {"Content-Type": ["application/json"], "Authorization": ["Bearer raw"]},
            "body": {"$base64": "eyJhIjogIidcIiJ9"},  # {"a": "'\""}
        },
        render_token=lambda t: None,
    )
    assert "-H 'Authorization: Bearer raw'" in text
    assert text.endswith('--data-binary \'{"a": "\'"\'"\'\\""}\'')
    binary = curl_command(
        {"method": "PUT", "uri": "http://h/b", "headers": {}, "body": {"$base64": "AP8="}}
    )
    assert binary.startswith("printf '\\x00\\xff' | curl") and binary.endswith("--data-binary @-")


def test_junit_groups_by_service_and_check(shop_spec: dict[str, Any]) -> None:
    plan = build_plan(shop_spec, FuzzOptions())
    collector = Collector(plan, ALLOWED)
    cases = {
        "c1": {"value": {"method": "GET", "path": "/items/{id}"}},
        "c2": {"value": {"method": "GET", "path": "/search"}},
    }
    checks = {
        "c1": [_failure("bad")],
        "c2": [{"name": "not_a_server_error", "status": "success"}],
    }
    collector.feed(_scenario("GET /items/{id}", "fuzzing", checks, cases, {}))
    result = PassResult(ALLOWED, 1, collector, warnings={"missing_auth": ["DELETE /items/{id}"]})
    root = ET.fromstring(junit_xml(plan, [result], seed=7))
    assert root.get("tests") == "3" and root.get("failures") == "2"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"fuzz.orders", "fuzz.catalog"}
    names = {c.get("name") for c in suites["fuzz.orders"].iter("testcase")}
    assert names == {
        "GET /items/{id} :: response_schema_conformance",
        "DELETE /items/{id} :: warning missing_auth",
    }
    assert suites["fuzz.catalog"].get("failures") == "0"
    assert any(p.get("value") == "7" for p in root.iter("property"))
    assert json.dumps(result.ok) == "false"
