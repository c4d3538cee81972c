"""Shared fixtures for the codegen tests: contracts, generated modules, examples.

Generation is the slow part (about a second per contract), so every contract is
generated once per session and imported from a temporary directory.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema_rs
import pytest
import yaml
from pydantic import TypeAdapter

from unispec.codegen.models import class_name, render_models
from unispec.hoist import hoist_inline_schemas
from unispec.model import HTTP_METHODS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_counter = itertools.count()


def fixture_document() -> dict[str, Any]:
    """The fixture contract, hoisted as merge would hoist it."""
    raw = yaml.safe_load((FIXTURES / "learn.yaml").read_text(encoding="utf-8"))
    doc, _ = hoist_inline_schemas(raw)
    return doc


def demo_document() -> dict[str, Any] | None:
    """The unified demo contract once the lead's core provides it, else None."""
    if not demo_available():
        return None
    from unispec.build import load_unified

    return load_unified(ROOT).document


def import_source(code: str, directory: Path, stem: str) -> ModuleType:
    """Import generated source as a fresh, uniquely named module."""
    name = f"_unispec_codegen_{stem}_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Generated:
    document: dict[str, Any]
    code: str
    module: ModuleType


_CACHE: dict[str, Generated] = {}


def demo_available() -> bool:
    """The demo contract is tested once the lead's build has produced it."""
    return (ROOT / "generated" / "openapi.json").exists()


def contracts() -> list[str]:
    return ["fixture", "demo"] if demo_available() else ["fixture"]


@pytest.fixture(scope="session", params=contracts())
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Generated:
    return get_generated(request.param, tmp_path_factory.mktemp("models"))


def get_generated(which: str, directory: Path) -> Generated:
    if which not in _CACHE:
        doc = fixture_document() if which == "fixture" else demo_document()
        assert doc is not None
        code = render_models(doc)
        _CACHE[which] = Generated(doc, code, import_source(code, directory, which))
    return _CACHE[which]


# --- examples -----------------------------------------------------------------------


@dataclass
class Example:
    where: str
    schema: dict[str, Any]
    value: Any


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
        seen += 1
    return node


def _media_examples(doc: dict[str, Any], content: Any, where: str) -> Iterator[Example]:
    if not isinstance(content, dict):
        return
    for media_type, media in content.items():
        if "json" not in media_type or not isinstance(media, dict) or "schema" not in media:
            continue
        if "example" in media:
            yield Example(f"{where} {media_type} example", media["schema"], media["example"])
        for name, ex in (media.get("examples") or {}).items():
            ex = _resolve(doc, ex)
            if isinstance(ex, dict) and "value" in ex:
                yield Example(f"{where} {media_type} examples.{name}", media["schema"], ex["value"])


def iter_examples(doc: dict[str, Any]) -> Iterator[Example]:
    """Every request-body and response example of every operation."""
    for path, item in (doc.get("paths") or {}).items():
        for method in HTTP_METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if not isinstance(op, dict):
                continue
            label = op.get("operationId", f"{method} {path}")
            body = _resolve(doc, op.get("requestBody"))
            if isinstance(body, dict):
                yield from _media_examples(doc, body.get("content"), f"{label} request")
            for status, response in (op.get("responses") or {}).items():
                response = _resolve(doc, response)
                if isinstance(response, dict):
                    yield from _media_examples(doc, response.get("content"), f"{label} {status}")


def pydantic_validator(module: ModuleType, schema: dict[str, Any]) -> Callable[[Any], Any]:
    """``model_validate`` of the model that stands for ``schema`` (a $ref or array of $ref)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        cls = getattr(module, class_name(ref.rsplit("/", 1)[1]))
        return cls.model_validate  # type: ignore[no-any-return]
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict) and "$ref" in items:
        item_cls = getattr(module, class_name(items["$ref"].rsplit("/", 1)[1]))
        return TypeAdapter(list[item_cls]).validate_python  # type: ignore[valid-type]
    raise LookupError(f"no model for inline schema {json.dumps(schema)[:80]}")


def dump(value: Any) -> Any:
    if isinstance(value, list):
        return [dump(v) for v in value]
    return value.model_dump(mode="json", by_alias=True, exclude_unset=True)


_VALIDATORS: dict[tuple[int, str], tuple[dict[str, Any], Any]] = {}


def gateway_validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The JSON Schema check the gateway makes: jsonschema-rs, Draft 2020-12, formats on."""
    key = (id(doc), json.dumps(schema, sort_keys=True))
    entry = _VALIDATORS.get(key)
    if entry is None or entry[0] is not doc:  # the document is kept so its id stays unique
        entry = _VALIDATORS[key] = (doc, _compile(doc, schema))
    return entry[1]


def _compile(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    root = dict(schema)
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["components"] = {"schemas": (doc.get("components") or {}).get("schemas") or {}}
    return jsonschema_rs.validator_for(root, validate_formats=True)


_THIS = sys.modules[__name__]
"""Captured at import: several folders have a ``conftest`` module, so the name is not unique."""


@pytest.fixture(scope="session")
def cg() -> ModuleType:
    """This module, so tests can reach its helpers (importlib mode has no conftest import)."""
    return _THIS


def import_package(files: dict[str, bytes], directory: Path, prefix: str = "client/") -> ModuleType:
    """Write a generated package (``client/...`` keys) and import it under a unique name."""
    name = f"_unispec_client_{next(_counter)}"
    root = directory / name
    for key, data in files.items():
        if key.startswith(prefix):
            target = root / key[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    spec = importlib.util.spec_from_file_location(
        name, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def operations_of(doc: dict[str, Any]) -> tuple[Any, ...]:
    """``Operation`` records for a hand-made contract (what merge builds for real ones)."""
    from unispec.model import Operation, Source

    ops = []
    for path, item in (doc.get("paths") or {}).items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict) and "operationId" in op:
                pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
                ops.append(
                    Operation(
                        method,
                        path,
                        op["operationId"],
                        op.get("x-service", "default"),
                        Source("fixture.yaml", pointer),
                        pointer,
                    )
                )
    return tuple(ops)


# --- the live demo gateway --------------------------------------------------------------

JWT_SECRET = "codegen-tests-secret-0123456789abcdef"


@dataclass
class LiveGateway:
    url: str
    token: str
    """An admin+instructor JWT on the enterprise tier (passes every role check)."""


@pytest.fixture(scope="session")
def live_gateway() -> Iterator[LiveGateway]:
    """``unispec serve --port 0`` on the demo project, as a real process; always stopped."""
    import os
    import re
    import select
    import signal
    import subprocess
    import time

    from unispec.tokens import mint_token

    env = {**os.environ, "UNISPEC_JWT_SECRET": JWT_SECRET, "PYTHONUNBUFFERED": "1"}
    exe = Path(sys.executable).with_name("unispec")
    proc = subprocess.Popen(
        [str(exe), "serve", "--project", str(ROOT), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )
    url = None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    try:
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                lines.append(line)
                match = re.search(r"gateway on (http://127\.0\.0\.1:\d+)", line)
                if match:
                    url = match.group(1)
        assert url is not None, "gateway did not start:\n" + "".join(lines[-20:])
        import threading

        # Keep reading its output so that a chatty gateway never blocks on a full pipe.
        stream = proc.stdout
        threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()
        token = mint_token(
            JWT_SECRET,
            "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            ["admin", "instructor"],
            "enterprise",
        )
        yield LiveGateway(url, token)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
