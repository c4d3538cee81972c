"""``unispec codegen``: writes models.py and client/ (and nothing else) where asked."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from typer.testing import CliRunner

from unispec.cli import app


def test_codegen_command_writes_models_and_client(cg: ModuleType, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["codegen", "--project", str(cg.ROOT), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "client/__init__.py",
        "client/_core.py",
        "client/errors.py",
        "client/models.py",
        "client/operations.json",
        "client/py.typed",
        "client/services.py",
        "models.py",
    ]
    assert (tmp_path / "models.py").read_bytes() == (tmp_path / "client" / "models.py").read_bytes()
    again = runner.invoke(app, ["codegen", "--project", str(cg.ROOT), "--out", str(tmp_path), "-q"])
    assert again.exit_code == 0 and again.output == ""


def test_codegen_command_reports_bad_input(tmp_path: Path) -> None:
    (tmp_path / "unispec.yaml").write_text("services: 3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["codegen", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
