"""End-to-end tests of ``unispec diff | changelog | release`` through typer's CliRunner.

Exit codes (0 nothing reaches --fail-on, 1 something does, 2 unreadable input),
every output format, ignore files, path filters, project-directory sides and a
``git:`` base read from a throwaway repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from unispec.cli import app
from unispec.diff import FORMATS

runner = CliRunner()

SPEC = """
openapi: 3.0.3
info: {title: shop, version: 1.0.0}
paths:
  /orders:
    get:
      operationId: listOrders
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: array
                items: {$ref: '#/components/schemas/Order'}
  /orders/{orderId}:
    get:
      operationId: getOrder
      parameters:
        - {name: orderId, in: path, required: true, schema: {type: string}}
      responses:
        '200':
          description: ok
          content:
            application/json: {schema: {$ref: '#/components/schemas/Order'}}
components:
  schemas:
    Order:
      type: object
      required: [id]
      properties:
        id: {type: string}
        total: {type: number}
"""


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """base.yaml and rev.yaml: one ERR (type change), one WARN (param removed), one INFO."""
    base = yaml.safe_load(SPEC)
    rev = yaml.safe_load(SPEC)
    rev["info"]["version"] = "2.0.0"
    rev["components"]["schemas"]["Order"]["properties"]["total"] = {"type": "string"}
    rev["paths"]["/orders"]["get"]["parameters"] = []
    rev["paths"]["/orders/{orderId}"]["get"]["tags"] = ["orders"]
    return write(tmp_path / "base.yaml", base), write(tmp_path / "rev.yaml", rev)


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_exit_codes_follow_fail_on(pair: tuple[Path, Path]) -> None:
    base, rev = map(str, pair)
    assert run("diff", base, rev).exit_code == 1
    assert run("diff", base, rev, "--fail-on", "ERR").exit_code == 1
    assert run("diff", base, base).exit_code == 0
    assert run("diff", base, base, "--fail-on", "INFO").exit_code == 0
    # only INFO left after ignoring the ERR and WARN findings
    ignore = Path(base).parent / "ignore.txt"
    write(
        ignore,
        "# accepted for 2.0\n"
        "response-property-type-changed GET /orders  totals are strings now\n"
        "response-property-type-changed GET /orders/{id}  same change, renamed param\n"
        "request-parameter-removed GET /orders - limit was never honoured\n",
    )
    res = run("diff", base, rev, "--ignore", str(ignore), "--format", "json")
    assert res.exit_code == 0
    assert {f["id"] for f in json.loads(res.stdout)["findings"]} == {"api-tag-added"}
    assert run("diff", base, rev, "--ignore", str(ignore), "--fail-on", "WARN").exit_code == 0
    assert run("diff", base, rev, "--ignore", str(ignore), "--fail-on", "INFO").exit_code == 1


def test_fail_on_warn(pair: tuple[Path, Path], tmp_path: Path) -> None:
    base = pair[0]
    data = yaml.safe_load(SPEC)
    data["paths"]["/orders"]["get"]["parameters"] = []
    only_warn = write(tmp_path / "warn.yaml", data)
    assert run("diff", str(base), str(only_warn)).exit_code == 0
    assert run("diff", str(base), str(only_warn), "--fail-on", "WARN").exit_code == 1


def test_unreadable_input_exits_2(pair: tuple[Path, Path], tmp_path: Path) -> None:
    base, _ = pair
    assert run("diff", str(base), str(tmp_path / "missing.yaml")).exit_code == 2
    bad = write(tmp_path / "bad.yaml", "openapi: [unclosed\n")
    res = run("diff", str(base), str(bad))
    assert res.exit_code == 2
    assert "bad.yaml" in res.stderr
    not_openapi = write(tmp_path / "x.yaml", {"hello": "world"})
    assert run("diff", str(base), str(not_openapi)).exit_code == 2
    noreason = write(tmp_path / "ignore.txt", "request-parameter-removed GET /orders\n")
    res = run("diff", str(base), str(base), "--ignore", str(noreason))
    assert res.exit_code == 2
    assert "no reason" in res.stderr
    assert run("diff", str(base), str(base), "--fail-on", "LOUD").exit_code == 2
    assert run("diff", str(base), str(base), "--match-path", "(").exit_code == 2
    assert run("diff", str(base), "git:HEAD", "--project", str(tmp_path)).exit_code == 2


def test_json_output_shape(pair: tuple[Path, Path]) -> None:
    base, rev = map(str, pair)
    res = run("diff", base, rev, "--format", "json")
    payload = json.loads(res.stdout)
    got = {(f["id"], f["level"], f["operation"]) for f in payload["findings"]}
    assert got == {
        ("response-property-type-changed", "ERR", "GET /orders"),
        ("response-property-type-changed", "ERR", "GET /orders/{orderId}"),
        ("request-parameter-removed", "WARN", "GET /orders"),
        ("api-tag-added", "INFO", "GET /orders/{orderId}"),
    }
    for f in payload["findings"]:
        assert {"id", "level", "operation", "pointer", "message"} <= set(f)
        assert f["pointer"].startswith("/")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders(pair: tuple[Path, Path], fmt: str) -> None:
    base, rev = map(str, pair)
    res = run("diff", base, rev, "--format", fmt)
    assert res.exit_code == 1
    text = res.stdout
    assert "response-property-type-changed" in text
    if fmt == "json":
        assert len(json.loads(text)["findings"]) == 4
    elif fmt == "yaml":
        assert len(yaml.safe_load(text)["findings"]) == 4
    elif fmt == "junit":
        root = ET.fromstring(text)
        suite = root.find("testsuite")
        assert suite is not None and suite.get("failures") == "2"
        assert len(root.findall(".//testcase")) == 4
    elif fmt == "github":
        lines = text.strip().splitlines()
        assert len(lines) == 4
        assert sum(line.startswith("::error ") for line in lines) == 2
        assert sum(line.startswith("::warning ") for line in lines) == 1
        assert sum(line.startswith("::notice ") for line in lines) == 1
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and text.count("<tr class=") == 4
    elif fmt == "markdown":
        assert text.count("\n| ERR |") == 2
    else:
        assert "4 change(s): 2 breaking (ERR), 1 warning(s), 1 info" in text


def test_match_path_and_level(pair: tuple[Path, Path]) -> None:
    base, rev = map(str, pair)
    res = run("diff", base, rev, "--format", "json", "--match-path", r"\{")
    ids = {(f["id"], f["operation"]) for f in json.loads(res.stdout)["findings"]}
    assert ids == {
        ("response-property-type-changed", "GET /orders/{orderId}"),
        ("api-tag-added", "GET /orders/{orderId}"),
    }
    res = run("diff", base, rev, "--format", "json", "--level", "WARN")
    levels = sorted(f["level"] for f in json.loads(res.stdout)["findings"])
    assert levels == ["ERR", "ERR", "WARN"]


def test_output_file(pair: tuple[Path, Path], tmp_path: Path) -> None:
    base, rev = map(str, pair)
    out = tmp_path / "out" / "report.md"
    res = run("diff", base, rev, "--format", "markdown", "--output", str(out))
    assert res.exit_code == 1
    assert out.read_text().startswith("# API changes")


def test_changelog(pair: tuple[Path, Path]) -> None:
    base, rev = map(str, pair)
    res = run("changelog", base, rev)
    assert res.exit_code == 0
    text = res.stdout
    assert text.startswith("# Changelog\n\n## 2.0.0")
    assert "#### `GET /orders`" in text and "**Breaking**" in text and "**Added**" in text
    assert text.index("**Breaking**") < text.index("**Changed**")
    res = run("changelog", base, rev, "--level", "ERR")
    assert "api-tag-added" not in res.stdout and "response-property-type-changed" in res.stdout


def make_project(root: Path, spec: str = SPEC, version: str = "1.0.0") -> Path:
    write(
        root / "unispec.yaml",
        {
            "info": {"title": "Shop", "version": version},
            "services": {"shop": {"spec": "specs/shop.yaml"}},
        },
    )
    write(root / "specs" / "shop.yaml", spec)
    return root


def git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env, timeout=60)


def test_project_dir_and_git_base(tmp_path: Path) -> None:
    root = make_project(tmp_path / "repo")
    git(root, "init", "-q")
    git(root, "config", "user.name", "unispec tests")
    git(root, "config", "user.email", "tests@example.invalid")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    # working tree change: a response property changes type
    make_project(root, SPEC.replace("total: {type: number}", "total: {type: string}"))
    res = run("diff", "git:HEAD", str(root), "--project", str(root), "--format", "json")
    assert res.exit_code == 1, res.stderr
    findings = json.loads(res.stdout)["findings"]
    got = {(f["id"], f["level"]) for f in findings}
    assert got == {("response-property-type-changed", "ERR"), ("api-version-not-bumped", "INFO")}
    typed = [f for f in findings if f["id"] == "response-property-type-changed"]
    assert all(f["source"].startswith("specs/shop.yaml:") for f in typed)
    assert all(f["service"] == "shop" for f in typed)
    # git:REF:path to a single file, relative to the project
    res = run(
        "diff",
        "git:HEAD:specs/shop.yaml",
        str(root / "specs" / "shop.yaml"),
        "--project",
        str(root),
        "--format",
        "json",
    )
    assert res.exit_code == 1
    # unchanged: HEAD against HEAD
    assert run("diff", "git:HEAD", "git:HEAD", "--project", str(root)).exit_code == 0
    # the working tree was not touched by reading git:HEAD
    assert "type: string" in (root / "specs" / "shop.yaml").read_text()
    assert run("diff", "git:no-such-ref", str(root), "--project", str(root)).exit_code == 2


def test_release_history(tmp_path: Path) -> None:
    base = make_project(tmp_path / "base")
    root = make_project(tmp_path / "p")
    make_project(root, SPEC.replace("total: {type: number}", "total: {type: string}"), "2.0.0")
    res = run("release", "--base", str(base), "--project", str(root))
    assert res.exit_code == 0, res.stderr
    history_file = root / "changelog" / "history.json"
    first = history_file.read_bytes()
    history = json.loads(first)
    assert [r["version"] for r in history["releases"]] == ["2.0.0"]
    assert {e["section"] for e in history["releases"][0]["entries"]} == {"Breaking"}
    # same inputs, same bytes
    run("release", "--base", str(base), "--project", str(root))
    assert history_file.read_bytes() == first
    # a newer version goes first
    make_project(root, SPEC.replace("total: {type: number}", "total: {type: integer}"), "3.0.0")
    run("release", "--base", str(base), "--project", str(root))
    history = json.loads(history_file.read_text())
    assert [r["version"] for r in history["releases"]] == ["3.0.0", "2.0.0"]
    md = (root / "changelog" / "CHANGELOG.md").read_text()
    assert md.index("## 3.0.0") < md.index("## 2.0.0")
