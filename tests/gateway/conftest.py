"""Fixtures for the gateway tests: real upstream and gateway processes on loopback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from gw_support import Proc, make_app, services_for, start_process  # noqa: E402

from unispec.gateway.app import GatewayApp  # noqa: E402


@pytest.fixture(scope="session")
def upstream() -> Iterator[Proc]:
    proc = start_process([str(HERE / "upstream_app.py")])
    yield proc
    proc.stop()


GatewayFactory = Callable[..., Proc]


@pytest.fixture(scope="session")
def gateway_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    started: list[Proc] = []

    def start(gateway: dict[str, Any], services: dict[str, Any]) -> Proc:
        path = tmp_path_factory.mktemp("gw") / "config.json"
        path.write_text(json.dumps({"gateway": {"port": 0, **gateway}, "services": services}))
        proc = start_process([str(HERE / "run_gateway.py"), str(path)])
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def gateway(gateway_factory: GatewayFactory, upstream: Proc) -> Proc:
    """The default gateway process: 64 MB body limit, files service read timeout 1 s."""
    services = services_for(upstream.url)
    services["files"] = {"upstreams": [upstream.url], "timeouts": {"connect": 5, "read": 1}}
    return gateway_factory({"max_body_size": 64 * 1024 * 1024}, services)


@pytest.fixture
def app_factory() -> Callable[..., GatewayApp]:
    return make_app
