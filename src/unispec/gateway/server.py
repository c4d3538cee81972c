"""Running the gateway and the built-in mock upstreams as real HTTP servers.

Sockets are bound here, in the parent, before anything is served: a mock's
port is known (and reserved) before the gateway is compiled to point at it, so
there is no window where another process could take it. The gateway runs on
its own HTTP/1.1 server (``h1server.py``: httptools, uvloop, a direct path for
small requests; measured against uvicorn and granian in bench/README.md); the
mocks run on uvicorn. With ``workers > 1``
the parent forks worker processes that share the listening socket (the kernel
spreads connections), after the app has been compiled once; the mocks then run
in one more process of their own so they never steal a worker's CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
import uvloop

from unispec.errors import GatewayConfigError
from unispec.gateway.app import GatewayApp, build_gateway_app
from unispec.gateway.h1server import H1Server
from unispec.gateway.middleware import reseed_request_ids
from unispec.gateway.observability import LOGGER, configure_logging
from unispec.gateway.settings import GatewaySettings
from unispec.model import UnifiedSpec

log = logging.getLogger(LOGGER)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (several share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise GatewayConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(app: Any, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        loop="none",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=log_level,
        timeout_keep_alive=30,
        server_header=False,
        date_header=False,
        proxy_headers=False,
    )


def _settle_heap() -> None:
    """Keep the cyclic GC off the compiled contract while serving.

    Start-up leaves hundreds of thousands of long-lived objects (the unified
    document, compiled routes and validators). Every full collection would walk
    them all, a pause of many milliseconds in the middle of requests: frozen,
    the collector never looks at them again (and forked workers keep sharing
    their pages). Requests allocate short-lived containers at a high rate, so
    the young generation is collected less often than the default 700
    allocations. Measured in bench/README.md: p99 roughly halves.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def mock_app_factory() -> Callable[[UnifiedSpec, str], Any]:
    """``unispec.gateway.mock.build_mock_app``, looked up when first needed."""
    try:
        module = importlib.import_module("unispec.gateway.mock")
    except ModuleNotFoundError as exc:
        raise GatewayConfigError(
            "unispec.yaml: a service has no `upstream` and the built-in mock "
            "(unispec.gateway.mock) is not available"
        ) from exc
    factory: Callable[[UnifiedSpec, str], Any] = module.build_mock_app
    return factory


@dataclass
class Plan:
    """What will listen where: the gateway socket and one socket per mocked service."""

    settings: GatewaySettings
    gateway_socket: socket.socket
    mock_sockets: dict[str, socket.socket]

    @property
    def gateway_url(self) -> str:
        host, port = self.gateway_socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def mock_urls(self) -> dict[str, str]:
        out = {}
        for name, sock in self.mock_sockets.items():
            host, port = sock.getsockname()[:2]
            out[name] = f"http://{host}:{port}"
        return out

    def close(self) -> None:
        for sock in [self.gateway_socket, *self.mock_sockets.values()]:
            with contextlib.suppress(OSError):
                sock.close()


def plan(spec: UnifiedSpec, settings: GatewaySettings, *, mocks: bool = True) -> Plan:
    """Bind the sockets and point services without an upstream at their mock."""
    mock_sockets: dict[str, socket.socket] = {}
    names = {s.name for s in spec.services} | set(settings.services)
    if mocks:
        for name in sorted(names):
            service = settings.services.get(name)
            if service is None or (service.enabled and service.uses_mock):
                mock_sockets[name] = bind("127.0.0.1", 0)
    gateway_socket = bind(settings.host, settings.port)
    result = Plan(settings, gateway_socket, mock_sockets)
    result.settings = settings.with_upstreams({n: [u] for n, u in result.mock_urls().items()})
    return result


Served = tuple[_Server | H1Server, socket.socket]


async def _run_servers(servers: Sequence[Served]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in servers:
            if isinstance(server, H1Server):
                server.request_exit()
            else:
                server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(_serve(server, sock) for server, sock in servers))


async def _serve(server: _Server | H1Server, sock: socket.socket) -> None:
    if isinstance(server, H1Server):
        await server.serve(sock)
    else:
        await server.serve(sockets=[sock])


def _mock_servers(spec: UnifiedSpec, p: Plan) -> list[Served]:
    if not p.mock_sockets:
        return []
    factory = mock_app_factory()
    return [(_Server(_config(factory(spec, name))), sock) for name, sock in p.mock_sockets.items()]


def run(
    spec: UnifiedSpec,
    settings: GatewaySettings,
    *,
    mocks: bool = True,
    on_ready: Callable[[Plan], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM: the gateway (``settings.workers`` processes) and mocks."""
    configure_logging()
    p = plan(spec, settings, mocks=mocks)
    try:
        app = build_gateway_app(spec, p.settings)
        _settle_heap()
        if on_ready is not None:
            on_ready(p)
        if p.settings.workers <= 1:
            servers = [*_mock_servers(spec, p), (H1Server(app, keep_alive=30), p.gateway_socket)]
            uvloop.run(_run_servers(servers))
        else:
            _run_forked(spec, app, p)
    finally:
        p.close()


def _run_forked(spec: UnifiedSpec, app: GatewayApp, p: Plan) -> None:
    children: list[int] = []
    jobs: list[list[Served]] = []
    if p.mock_sockets:
        jobs.append(_mock_servers(spec, p))
    for _ in range(p.settings.workers):
        jobs.append([(H1Server(app, keep_alive=30), p.gateway_socket)])
    for job in jobs:
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            reseed_request_ids()
            try:
                uvloop.run(_run_servers(job))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, _frame: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def serve(spec: UnifiedSpec, settings: GatewaySettings, *, mocks: bool = True) -> None:
    """Library entry point of ``unispec serve``: print where it listens, then run."""

    def ready(p: Plan) -> None:
        print(f"unispec gateway on {p.gateway_url} ({p.settings.workers} worker(s))", flush=True)
        for name, url in sorted(p.mock_urls().items()):
            print(f"  mock upstream {name}: {url}", flush=True)

    run(spec, settings, mocks=mocks, on_ready=ready)


def up(spec: UnifiedSpec, settings: GatewaySettings) -> None:
    """``unispec up``: gateway + mocks + portal, with the URLs a person wants to open."""

    def ready(p: Plan) -> None:
        base = p.gateway_url
        lines = [
            f"unispec is up on {base}",
            f"  docs        {base}/docs/",
            f"  contract    {base}/openapi.json  {base}/openapi.yaml",
            f"  health      {base}/health  {base}/services  {base}/metrics",
        ]
        for name, url in sorted(p.mock_urls().items()):
            lines.append(f"  mock {name:<10} {url}")
        print("\n".join(lines), flush=True)

    run(spec, settings, mocks=True, on_ready=ready)


if __name__ == "__main__":  # pragma: no cover - convenience for debugging
    sys.exit("use `unispec serve` or `unispec up`")
