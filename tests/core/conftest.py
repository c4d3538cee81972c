"""Fixtures for the contract core: tiny projects written into tmp folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from core_support import MakeProject, write_yaml


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """make_project({"a": docA, "b": docB}, services_extra={...}) -> project root."""

    def make(
        specs: dict[str, dict[str, Any]],
        *,
        services_extra: dict[str, dict[str, Any]] | None = None,
        config_extra: dict[str, Any] | None = None,
        order: list[str] | None = None,
    ) -> Path:
        root = tmp_path / "project"
        services: dict[str, Any] = {}
        for name in order or list(specs):
            write_yaml(root / "specs" / f"{name}.yaml", specs[name])
            services[name] = {"spec": f"specs/{name}.yaml", **(services_extra or {}).get(name, {})}
        config: dict[str, Any] = {
            "info": {"title": "Test API", "version": "1.0.0"},
            "services": services,
        }
        config.update(config_extra or {})
        write_yaml(root / "unispec.yaml", config)
        return root

    return make
