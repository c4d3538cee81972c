"""Helpers shared by the gateway tests (imported by name: keep the name unique).

Network-path tests run the gateway and a stand-in upstream as real processes
(``run_gateway.py``, ``upstream_app.py``) on free 127.0.0.1 ports, read their
``READY <url>`` line and always stop them. Pure routing/validation tests use the
app in-process through httpx's ASGI transport (``make_app``).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gw_fixture_spec import make_spec

from unispec.gateway.app import GatewayApp, build_gateway_app
from unispec.gateway.settings import parse_settings
from unispec.model import ServiceConfig

HERE = Path(__file__).parent


@dataclass
class Proc:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kb(self) -> int:
        return _status_kb(self.pid, "VmRSS")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def start_process(
    args: list[str], timeout: float = 20.0, ready: str = "READY ", cwd: Path = HERE
) -> Proc:
    env = dict(os.environ, UNISPEC_LOG_LEVEL=os.environ.get("UNISPEC_TEST_LOG_LEVEL", "WARNING"))
    process = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=None, env=env, cwd=cwd
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], 0.2)
        if readable:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.decode().splitlines():
                if line.startswith(ready):
                    url = next(w for w in line.split() if w.startswith("http://"))
                    return Proc(url, process)
        if process.poll() is not None:
            break
    process.kill()
    process.wait(timeout=5)
    raise AssertionError(f"process {args} did not start: {buffer.decode()!r}")


def services_for(url: str, **overrides: Any) -> dict[str, Any]:
    services: dict[str, Any] = {
        "pets": {"upstreams": [url]},
        "files": {"upstreams": [url]},
        "ghost": {"upstreams": ["http://127.0.0.1:9"], "timeouts": {"connect": 1, "read": 5}},
        "disabled": {"upstreams": [url], "enabled": False},
    }
    services.update(overrides)
    return services


def make_app(
    upstream_url: str = "http://127.0.0.1:9", root: str = ".", **gateway: Any
) -> GatewayApp:
    """An in-process app on the fixture contract (for pure routing/validation tests)."""
    configs = [
        ServiceConfig(name="pets", spec="specs/pets.yaml", upstreams=(upstream_url,)),
        ServiceConfig(name="files", spec="specs/files.yaml", upstreams=(upstream_url,)),
        ServiceConfig(name="disabled", spec="specs/d.yaml", enabled=False),
    ]
    settings = parse_settings(gateway, configs, root=root)
    return build_gateway_app(make_spec(), settings)
