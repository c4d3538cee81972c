"""``unispec fuzz``: exit codes, JUnit and curl output, through the real command."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from unispec.cli import app

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def write_project(
    root: Path,
    spec: dict[str, Any],
    secret: str,
    upstream: str | None = None,
    gateway: dict[str, Any] | None = None,
    fuzz: dict[str, Any] | None = None,
) -> Path:
    """A unispec project whose services are the spec's ``x-service`` groups."""
    services: dict[str, dict[str, Any]] = {}
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            op = copy.deepcopy(op)
            name = op.pop("x-service")
            doc = services.setdefault(
                name,
                {
                    "openapi": "3.1.0",
                    "info": {"title": name, "version": "1"},
                    "security": spec["security"],
                    "paths": {},
                    "components": copy.deepcopy(spec["components"]),
                },
            )
            doc["paths"].setdefault(path, {})[method] = op
    (root / "specs").mkdir(parents=True)
    for name, doc in services.items():
        (root / "specs" / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    service_config: dict[str, Any] = {}
    for name in services:
        service_config[name] = {"spec": f"specs/{name}.yaml"}
        if upstream is not None:
            service_config[name]["upstream"] = upstream
    config = {
        "info": {"title": "shop", "version": "1"},
        "services": service_config,
        "gateway": {
            "auth": {"jwt": {"algorithms": ["HS256"], "dev_secret": secret}},
            **(gateway or {}),
        },
        "fuzz": {"max_examples": 5, **(fuzz or {})},
    }
    (root / "unispec.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def test_cli_fails_with_junit_and_curl(
    tmp_path: Path, start_shop: Any, shop_spec: dict[str, Any], jwt_settings: dict[str, Any]
) -> None:
    server = start_shop(crash_on_edge=True)
    project = write_project(tmp_path / "proj", shop_spec, jwt_settings["dev_secret"])
    junit = tmp_path / "reports" / "fuzz.xml"
    result = CliRunner().invoke(
        app,
        [
            "fuzz",
            "--project",
            str(project),
            "--url",
            server.url,
            "--operation",
            "searchItems",
            "--phases",
            "coverage",
            "--seed",
            "3",
            "--junit",
            str(junit),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "not_a_server_error" in result.output
    assert "curl -sS -i -X GET" in result.output and "limit=100" in result.output
    assert "its rate limits are its own" in result.output
    root = ET.parse(junit).getroot()
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert any(c.get("name") == "GET /search :: not_a_server_error" for c in failures)
    assert int(root.get("failures") or 0) >= 1


def test_cli_rejects_unknown_service_with_exit_2(tmp_path: Path, shop_spec: dict[str, Any]) -> None:
    project = write_project(tmp_path / "proj", shop_spec, "s" * 32)
    result = CliRunner().invoke(
        app,
        ["fuzz", "--project", str(project), "--url", "http://127.0.0.1:9", "--service", "billing"],
    )
    assert result.exit_code == 2
    assert "--service billing: no such service" in result.output


def test_broken_upstream_behind_the_gateway_is_caught(
    tmp_path: Path, start_shop: Any, shop_spec: dict[str, Any], jwt_settings: dict[str, Any]
) -> None:
    """The real pipeline: ``unispec fuzz`` starts the gateway in front of a broken upstream.

    Request validation is off in the gateway, so the upstream's acceptance of
    invalid data reaches the client; response validation only reports, so the
    wrong type reaches it too; a 500 at the edge stays a server error.
    """
    server = start_shop(wrong_type=True, crash_on_edge=True, no_validation=True)
    project = write_project(
        tmp_path / "proj",
        shop_spec,
        jwt_settings["dev_secret"],
        upstream=server.url,
        gateway={"request_validation": False, "response_validation": "report"},
        fuzz={"forbidden_pass": False, "rate_limit_multiplier": 10},
    )
    junit = tmp_path / "fuzz.xml"
    args = ["fuzz", "--project", str(project), "--phases", "coverage", "--seed", "5"]
    for op in ("createItem", "getItem", "searchItems"):
        args += ["--operation", op]
    result = CliRunner().invoke(app, [*args, "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    assert "Started the embedded stack" in result.output
    assert "Rate limits raised ×10" in result.output
    failing = {
        c.get("name")
        for c in ET.parse(junit).getroot().iter("testcase")
        if c.find("failure") is not None
    }
    assert "GET /items/{id} :: response_schema_conformance" in failing, result.output
    assert "GET /search :: not_a_server_error" in failing, result.output
    assert "POST /items :: negative_data_rejection" in failing, result.output
    assert server.requests > 0
