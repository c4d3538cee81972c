"""Helpers for the contract core tests: tiny OpenAPI documents and projects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

MakeProject = Callable[..., Path]


def write_yaml(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def doc(
    paths: dict[str, Any] | None = None, version: str = "3.1.0", **extra: Any
) -> dict[str, Any]:
    """A minimal valid OpenAPI document."""
    out: dict[str, Any] = {
        "openapi": version,
        "info": {"title": "svc", "version": "1.0.0"},
        "paths": paths or {},
    }
    out.update(extra)
    return out


def op(
    op_id: str, *, status: str = "200", schema: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": "ok"}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    out: dict[str, Any] = {"operationId": op_id, "responses": {status: response}}
    out.update(extra)
    return out
