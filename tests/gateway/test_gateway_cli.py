"""`unispec serve | up`: registered, and a bad gateway section is exit 2 with the key named."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from unispec.cli import app

SPEC = """\
openapi: 3.1.0
info: {title: pets, version: 1.0.0}
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        "200": {description: ok}
"""


def project(tmp_path: Path, gateway: str) -> Path:
    (tmp_path / "pets.yaml").write_text(SPEC)
    (tmp_path / "unispec.yaml").write_text(
        f"services:\n  pets:\n    spec: pets.yaml\ngateway: {gateway}\n"
    )
    return tmp_path


def test_commands_registered() -> None:
    runner = CliRunner()
    for command in ("serve", "up"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--project" in result.output


def test_bad_gateway_section_is_exit_2_naming_the_key(tmp_path: Path) -> None:
    root = project(tmp_path, "{max_body_size: big}")
    result = CliRunner().invoke(app, ["serve", "--project", str(root)])
    assert result.exit_code == 2, result.output
    assert "unispec.yaml: gateway.max_body_size" in result.output


def test_bad_response_validation_option_is_rejected(tmp_path: Path) -> None:
    root = project(tmp_path, "{}")
    result = CliRunner().invoke(
        app, ["serve", "--project", str(root), "--response-validation", "sometimes"]
    )
    assert result.exit_code == 2
