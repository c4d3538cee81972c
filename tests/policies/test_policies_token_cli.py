"""`unispec token`: prints one token that the configured verifier accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from unispec.cli.token import register
from unispec.gateway.auth import JWTVerifier

CONFIG = """
services:
  demo: {spec: demo.yaml}
gateway:
  auth:
    jwt:
      algorithms: [HS256]
      secret_env: TOKEN_TEST_SECRET
      dev_secret: dev-secret-that-is-long-enough-for-hs256
      claims: {tier: plan}
"""


def write_project(root: Path, config: str = CONFIG) -> None:
    (root / "unispec.yaml").write_text(config)
    (root / "demo.yaml").write_text(
        "openapi: 3.1.0\ninfo: {title: demo, version: '1'}\npaths: {}\n"
    )


def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.callback()
    def _root() -> None:  # keep "token" a subcommand
        pass

    return a


def test_token_with_dev_secret_and_env_secret(tmp_path: Path) -> None:
    write_project(tmp_path)
    runner = CliRunner()
    args = ["token", "--sub", "u1", "--roles", "instructor,admin", "--tier", "pro",
            "--project", str(tmp_path)]  # fmt: skip
    result = runner.invoke(app(), args, env={"TOKEN_TEST_SECRET": ""})
    assert result.exit_code == 0, result.output
    tok = result.stdout.strip()
    assert tok.count(".") == 2 and "\n" not in tok
    jwt_settings: dict[str, Any] = {
        "algorithms": ["HS256"],
        "secret_env": "TOKEN_TEST_SECRET",
        "dev_secret": "dev-secret-that-is-long-enough-for-hs256",
        "claims": {"tier": "plan"},
    }
    ident = JWTVerifier.from_settings(jwt_settings, env={}).verify(tok)
    assert (ident.subject, ident.roles, ident.tier) == ("u1", {"instructor", "admin"}, "pro")
    secret = "env-secret-that-is-long-enough-for-hs256"
    result = runner.invoke(app(), [*args, "--ttl", "60"], env={"TOKEN_TEST_SECRET": secret})
    assert result.exit_code == 0
    v = JWTVerifier.from_settings(jwt_settings, env={"TOKEN_TEST_SECRET": secret})
    claims = v.verify(result.stdout.strip()).claims
    assert claims["exp"] - claims["iat"] == 60


def test_token_bad_config_exits_2(tmp_path: Path) -> None:
    write_project(tmp_path, CONFIG.replace("[HS256]", "[RS256]"))
    result = CliRunner().invoke(app(), ["token", "--sub", "u", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "--private-key" in result.output


def test_token_stdout_is_only_the_token_in_a_real_process(tmp_path: Path) -> None:
    write_project(tmp_path)
    code = (
        "import typer, sys; from unispec.cli.token import register; a = typer.Typer();"
        "register(a); a.callback()(lambda: None); a()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "token", "--sub", "u9", "--project", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and lines[0].count(".") == 2
    assert "dev_secret" in proc.stderr  # the warning goes to stderr


def test_token_rs256_with_private_key(tmp_path: Path, rsa_pair: Any) -> None:
    config = CONFIG.replace("[HS256]", "[RS256]\n      public_key_file: pub.pem\n      issuer: me")
    write_project(tmp_path, config)
    (tmp_path / "pub.pem").write_bytes(rsa_pair.public_pem)
    (tmp_path / "key.pem").write_bytes(rsa_pair.private_pem)
    args = ["token", "--sub", "r1", "--scope", "a  b", "--project", str(tmp_path),
            "--private-key", str(tmp_path / "key.pem")]  # fmt: skip
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 0, result.output
    settings = {"algorithms": ["RS256"], "public_key_file": "pub.pem", "issuer": "me"}
    ident = JWTVerifier.from_settings(settings, env={}, base_dir=tmp_path).verify(
        result.stdout.strip()
    )
    assert ident.subject == "r1" and ident.scopes == {"a", "b"}
    assert ident.claims["iss"] == "me"
