"""The unified contract is SDK-ready: real generators nobody here wrote accept it.

* openapi-python-client (PyPI) generates a client from openapi.yaml with zero
  warnings; the client imports and makes a call through the live demo gateway.
* openapi-typescript (npm) generates types; ``tsc --noEmit --strict`` type-checks
  a small usage file against them (including one deliberate type error).
* our own generated client type-checks with ``mypy --strict``.

Node packages live in tests/.node (not committed); `make test` installs them with
NODE_INSTALL below, and this test does the same when they are missing.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from unispec import emit
from unispec.codegen.client import render_client
from unispec.model import UnifiedSpec

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / ".node"
NODE_BIN = NODE_DIR / "node_modules" / ".bin"
NODE_INSTALL = [
    "npm",
    "install",
    "--prefix",
    str(NODE_DIR),
    "--no-save",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    "openapi-typescript@7.13.0",
    "typescript@5.9.3",
]
BIN = Path(sys.executable).parent
OPC_REQUIREMENT = "openapi-python-client==0.29.1"


@pytest.fixture(scope="module")
def demo_spec(cg: ModuleType) -> UnifiedSpec:
    from unispec.build import load_unified

    return load_unified(cg.ROOT)


@pytest.fixture(scope="module")
def contract_dir(demo_spec: UnifiedSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generated/openapi.yaml|json exactly as the build writes them."""
    out = tmp_path_factory.mktemp("contract")
    for name, data in emit.emit_document(demo_spec.document).items():
        (out / name).write_bytes(data)
    return out


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_openapi_python_client_zero_warnings_and_a_live_call(
    contract_dir: Path, live_gateway: Any
) -> None:
    exe = BIN / "openapi-python-client"
    if not exe.exists():  # a dev dependency; installed here too so a fresh venv passes
        install = _run([str(BIN / "pip"), "install", "-q", OPC_REQUIREMENT], ROOT, timeout=300)
        assert install.returncode == 0, install.stdout + install.stderr
    result = _run(
        [str(exe), "generate", "--path", "openapi.yaml", "--output-path", "sdk", "--meta", "none"],
        contract_dir,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    assert "error" not in output.lower(), output

    name = "_unispec_opc_sdk"
    spec = importlib.util.spec_from_file_location(
        name,
        contract_dir / "sdk" / "__init__.py",
        submodule_search_locations=[str(contract_dir / "sdk")],
    )
    assert spec is not None and spec.loader is not None
    sdk = importlib.util.module_from_spec(spec)
    sys.modules[name] = sdk
    spec.loader.exec_module(sdk)
    list_courses = importlib.import_module(f"{name}.api.courses.list_courses")
    client = sdk.AuthenticatedClient(base_url=live_gateway.url, token=live_gateway.token)
    with client as c:
        response = list_courses.sync_detailed(client=c, limit=2)
    assert response.status_code == 200
    parsed = response.parsed
    assert type(parsed).__name__ == "CourseListResponse"
    assert parsed.success is True and len(parsed.data) >= 1


USAGE_TS = """\
import type { components, operations, paths } from "./api";

type ErrorEnvelope = components["schemas"]["Error"];
export const notFound: ErrorEnvelope = {
  success: false,
  error: { code: "NOT_FOUND", message: "No route", requestId: "r-1" },
};
// @ts-expect-error the envelope's success is the literal false
export const wrong: ErrorEnvelope = { success: true, error: notFound.error };

type ListCourses = paths["/api/v1/courses"]["get"];
type Page = ListCourses["responses"][200]["content"]["application/json"];
export function titles(page: Page): string[] {
  return page.data.map((course) => course.title);
}
export const query: NonNullable<ListCourses["parameters"]["query"]> = { limit: 10 };
export type CreateCourse = operations["createCourse"]["requestBody"];
"""


def test_openapi_typescript_types_check_with_tsc(contract_dir: Path) -> None:
    if not (NODE_BIN / "tsc").exists() or not (NODE_BIN / "openapi-typescript").exists():
        install = _run(NODE_INSTALL, ROOT, timeout=300)
        assert install.returncode == 0, install.stdout + install.stderr
    result = _run(
        [str(NODE_BIN / "openapi-typescript"), "openapi.yaml", "-o", "api.d.ts"], contract_dir
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (contract_dir / "usage.ts").write_text(USAGE_TS, encoding="utf-8")
    # The same file without the expect-error marker proves that tsc checks the types.
    (contract_dir / "usage_bad.ts").write_text(
        USAGE_TS.replace("// @ts-expect-error the envelope's success is the literal false\n", ""),
        encoding="utf-8",
    )
    tsc = [
        str(NODE_BIN / "tsc"),
        "--noEmit",
        "--strict",
        "--target",
        "es2020",
        "--module",
        "es2020",
    ]
    checked = _run([*tsc, "usage.ts", "usage_bad.ts"], contract_dir)
    errors = [line for line in checked.stdout.splitlines() if "error TS" in line]
    assert len(errors) == 1, checked.stdout + checked.stderr
    assert errors[0].startswith("usage_bad.ts(") and "TS2322" in errors[0]


def test_generated_client_passes_mypy_strict(
    cg: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On the fixture contract (the demo's client is the same templates, 4x the code)."""
    from unispec.model import ErrorCode

    doc = cg.fixture_document()
    spec = UnifiedSpec(doc, cg.operations_of(doc), (ErrorCode("NOT_FOUND", 404, "x"),), ())
    out = tmp_path_factory.mktemp("mypyclient")
    for rel, data in render_client(spec).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # models.py comes from datamodel-code-generator (its uniqueItems helper has one
    # loose call); the hand-written-by-template modules must be strict-clean.
    (out / "mypy.ini").write_text(
        "[mypy]\nstrict = True\n[mypy-client.models]\nignore_errors = True\n"
    )
    result = _run(
        # The project's cache (make typecheck runs first) spares re-reading pydantic/httpx.
        [
            str(BIN / "mypy"),
            "--config-file",
            "mypy.ini",
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "client",
        ],
        out,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
