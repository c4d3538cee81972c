"""build / check / lint end to end, through the CLI as CI runs them."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from core_support import MakeProject, doc, op
from openapi_spec_validator import OpenAPIV31SpecValidator
from typer.testing import CliRunner

from unispec.build import build, check, render
from unispec.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _demo_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "demo"
    dest.mkdir()
    shutil.copy(ROOT / "unispec.yaml", dest / "unispec.yaml")
    shutil.copytree(ROOT / "specs", dest / "specs")
    return dest


def test_committed_generated_matches_specs() -> None:
    """The repository's own generated/ is what `unispec build` produces (CI's drift gate)."""
    result = runner.invoke(app, ["check", "--project", str(ROOT)])
    assert result.exit_code == 0, result.output


def test_unified_demo_is_valid_31() -> None:
    document = json.loads((ROOT / "generated" / "openapi.json").read_text())
    assert document["openapi"] == "3.1.0"
    assert [e.message for e in OpenAPIV31SpecValidator(document).iter_errors()] == []
    services = {
        op.get("x-service")
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert services == {"auth", "users", "courses", "chat", "executions", "files"}


def test_build_is_byte_identical_and_order_independent(tmp_path: Path) -> None:
    project = _demo_copy(tmp_path)
    first = build(project).files
    config = yaml.safe_load((project / "unispec.yaml").read_text())
    names = list(config["services"])
    random.Random(7).shuffle(names)
    config["services"] = {n: config["services"][n] for n in names}
    (project / "unispec.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # Every spec with its paths in another order: same contract, other input bytes.
    # (Key order *inside* a schema is meaningful to readers and generators and is kept.)
    for path in (project / "specs").rglob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and isinstance(data.get("paths"), dict):
            data["paths"] = dict(reversed(list(data["paths"].items())))
        path.write_text(yaml.safe_dump(data, sort_keys=False, width=60))
    moved = tmp_path / "elsewhere" / "deeper"
    shutil.copytree(project, moved)
    second = render(__import__("unispec.build", fromlist=["load_unified"]).load_unified(moved))
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
    assert str(tmp_path).encode() not in b"".join(first.values())


def test_check_exit_codes_and_formats(tmp_path: Path) -> None:
    project = _demo_copy(tmp_path)
    assert runner.invoke(app, ["build", "-p", str(project), "-q"]).exit_code == 0
    assert check(project).ok
    spec = project / "specs" / "users.yaml"
    spec.write_text(spec.read_text().replace("summary:", "summary: Changed -", 1))
    result = runner.invoke(app, ["check", "-p", str(project)])
    assert result.exit_code == 1
    assert "generated/openapi.json" in result.output and "stale" in result.output
    result = runner.invoke(app, ["check", "-p", str(project), "--format", "json"])
    payload = json.loads(result.stdout)
    assert result.exit_code == 1 and payload["ok"] is False
    assert {d["path"] for d in payload["drift"]} >= {
        "generated/openapi.json",
        "generated/openapi.yaml",
    }
    result = runner.invoke(app, ["check", "-p", str(project), "--format", "github"])
    assert re.search(r"::error file=generated/openapi\.json,line=\d+::", result.stdout)
    spec.write_text("openapi: 3.1.0\ninfo: [\n")
    result = runner.invoke(app, ["check", "-p", str(project)])
    assert result.exit_code == 2
    assert "specs/users.yaml:" in result.output and "Traceback" not in result.output


def test_merge_conflict_exits_2_with_both_files(make_project: MakeProject) -> None:
    root = make_project({"a": doc({"/x": {"get": op("a")}}), "b": doc({"/x": {"get": op("b")}})})
    result = runner.invoke(app, ["build", "-p", str(root)])
    assert result.exit_code == 2
    assert "specs/a.yaml" in result.output and "specs/b.yaml" in result.output


def test_missing_config_is_a_clean_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", "-p", str(tmp_path)])
    assert result.exit_code == 2 and "unispec.yaml" in result.output


def test_lint_reports_file_and_line(make_project: MakeProject) -> None:
    body = {
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"a": {"type": "string"}}}
            }
        }
    }
    root = make_project(
        {
            "a": doc(
                {
                    "/Bad_Path": {"post": op("make", requestBody=body)},
                    "/things/me": {"get": op("me")},
                    "/things/{id}": {
                        "get": op(
                            "thing",
                            parameters=[
                                {
                                    "name": "id",
                                    "in": "path",
                                    "required": True,
                                    "schema": {"type": "string"},
                                }
                            ],
                        )
                    },
                }
            )
        }
    )
    result = runner.invoke(app, ["lint", "-p", str(root), "--format", "json"])
    findings = json.loads(result.stdout)["findings"]
    rules = {f["rule"] for f in findings}
    assert {
        "path-kebab-case",
        "request-example",
        "ambiguous-route",
        "error-responses",
        "operation-summary",
    } <= rules
    kebab = next(f for f in findings if f["rule"] == "path-kebab-case")
    assert kebab["file"] == "specs/a.yaml" and kebab["line"] and kebab["line"] > 1
    assert result.exit_code == 0
    assert runner.invoke(app, ["lint", "-p", str(root), "--strict"]).exit_code == 1


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_lint_formats(make_project: MakeProject, fmt: str) -> None:
    root = make_project({"a": doc({"/x": {"get": op("getX")}})})
    result = runner.invoke(app, ["lint", "-p", str(root), "--format", fmt])
    assert result.exit_code == 0
    assert "operation-summary" in result.stdout


def test_lint_flags_examples_that_contradict_their_schema(make_project: MakeProject) -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    good = {"application/json": {"schema": schema, "example": {"email": "ada@example.com"}}}
    bad = {
        "application/json": {
            "schema": schema,
            "examples": {"broken": {"value": {"email": "not-an-email"}}},
        }
    }
    paths = {
        "/ok": {
            "get": {
                "operationId": "ok",
                "responses": {"200": {"description": "ok", "content": good}},
            }
        },
        "/bad": {
            "get": {
                "operationId": "bad",
                "responses": {"200": {"description": "ok", "content": bad}},
            }
        },
    }
    root = make_project({"a": doc(paths)})
    result = runner.invoke(app, ["lint", "-p", str(root), "--format", "json"])
    hits = [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "example-invalid"]
    assert len(hits) == 1, hits
    assert "broken" in hits[0]["message"] and "email" in hits[0]["message"]
    assert hits[0]["file"] == "specs/a.yaml" and hits[0]["line"]


def test_lint_checks_the_examples_of_webhooks_and_callbacks(make_project: MakeProject) -> None:
    """Receivers copy webhook and callback payload examples too: a wrong one is flagged,
    with the line in the service's own file (a webhook behind components/pathItems too)."""
    schema = {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}}

    def delivery(value: Any) -> dict[str, Any]:
        return {
            "post": {
                "requestBody": {
                    "content": {"application/json": {"schema": schema, "example": value}}
                },
                "responses": {"200": {"description": "ok"}},
            }
        }

    paths = {
        "/subscriptions": {
            "post": {
                "operationId": "subscribe",
                "responses": {"201": {"description": "ok"}},
                "callbacks": {"done": {"{$request.body#/url}": delivery({"id": "cb-not-uuid"})}},
            }
        }
    }
    spec = doc(
        paths,
        webhooks={
            "good": delivery({"id": "2c1f6a3e-8d9b-4a5c-9e7f-0b1d2c3e4f5a"}),
            "bad": delivery({"id": "hook-not-uuid"}),
            "shared": {"$ref": "#/components/pathItems/Shared"},
        },
        components={"pathItems": {"Shared": delivery({"id": "shared-not-uuid"})}},
    )
    root = make_project({"a": spec})
    result = runner.invoke(app, ["lint", "-p", str(root), "--format", "json"])
    hits = [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "example-invalid"]
    messages = sorted(h["message"] for h in hits)
    assert len(hits) == 3, hits
    assert any("cb-not-uuid" in m for m in messages)
    assert any("hook-not-uuid" in m for m in messages)
    assert any("shared-not-uuid" in m for m in messages)
    for h in hits:
        assert (h["file"], bool(h["line"])) == ("specs/a.yaml", True), h
