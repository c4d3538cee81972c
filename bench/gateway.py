"""What the gateway costs against the alternatives, measured with wrk on loopback.

Rows, interleaved in one run (``--reps`` rounds; each row ``--seconds`` long with the
same ``wrk -t2 -cN`` and the same POST of a ~10-field JSON body), one upstream for
all: nginx returning a fixed JSON body.

1. upstream direct                       nginx ``return 200`` (the ceiling of the machine)
2. nginx reverse proxy                   keep-alive upstream, 1 worker
3. naive proxy                           FastAPI route + shared ``httpx.AsyncClient``, no validation
4. Prism validating proxy                ``prism proxy --errors`` (npm @stoplight/prism-cli)
5. unispec, validation off               ``request_validation: false``
6. unispec, full request validation      params + JSON body (jsonschema-rs, formats on)

plus the variants that chose the stack (``--variants``): our gateway with validation on
and response validation ``report``; with the access log on; with asyncio + h11 instead
of uvloop + httptools; under granian (ASGI) instead of uvicorn; with the aiohttp or
httpx client instead of ours (``UNISPEC_PROXY_CLIENT``); with 2 worker processes; on a
5,000-operation contract (the request hits the last operation); and the naive proxy
with 2 workers. Python rows run 1 worker unless the row says otherwise. For each row:
median requests/s, p50 and p99 over the rounds, the ratios that the goals name, and
the server's CPU time per request (from /proc, steadier than req/s on a machine shared
with other work).

With ``--policies``: validation + JWT (HS256 bearer) + rate limit with the memory
backend, and with a local redis-server (Debian package) as the backend; the limit is
so high that nothing is refused, so every request is verified and counted.

Also measured in-process: route matching for 10 vs 5,000 operations.

Needs wrk and nginx (Debian packages, installed when missing) and Prism (npm, installed
into bench/.work/ when missing; ``--no-prism`` skips it). fastapi is installed into
the venv for the naive row only when missing (it is not a dependency of unispec).

    .venv/bin/python bench/gateway.py [--seconds 5] [--reps 3] [--connections 64]
        [--variants] [--policies] [--no-prism] [--profile] [--readme]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
PY = sys.executable

BODY = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "age": 36,
    "country": "GB",
    "newsletter": True,
    "score": 97.5,
    "tags": ["math", "engines"],
    "id": "2c1f6a3e-8d9b-4a5c-9e7f-0b1d2c3e4f5a",
    "born": "1815-12-10",
    "website": "https://example.com/ada",
}
UPSTREAM_BODY = '{"id":"2c1f6a3e-8d9b-4a5c-9e7f-0b1d2c3e4f5a","status":"ok"}'


def contract(operations: int = 1, secured: bool = False) -> dict[str, Any]:
    """The bench contract: ``operations`` POST operations, the measured one last.

    ``secured`` puts the measured operation behind a bearer JWT and an ``x-rate-limit``
    so high that nothing is refused (every request is verified and counted).
    """
    person = {
        "type": "object",
        "required": ["name", "email", "age"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "email": {"type": "string", "format": "email"},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "newsletter": {"type": "boolean"},
            "score": {"type": "number", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
            "id": {"type": "string", "format": "uuid"},
            "born": {"type": "string", "format": "date"},
            "website": {"type": "string", "format": "uri"},
        },
    }
    result = {
        "type": "object",
        "required": ["id", "status"],
        "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
    }

    def op(i: int) -> dict[str, Any]:
        return {
            "post": {
                "operationId": f"createPerson{i}",
                "x-service": "people",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Person"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Result"}}
                        },
                    }
                },
            }
        }

    paths = {f"/svc{i}/people/{{group}}": op(i) for i in range(operations - 1)}
    paths["/people"] = op(operations - 1)
    components: dict[str, Any] = {"schemas": {"Person": person, "Result": result}}
    if secured:
        measured = paths["/people"]["post"]
        measured["security"] = [{"bearerAuth": []}]
        measured["x-rate-limit"] = {"limit": 1_000_000_000, "window": 60, "per": "user"}
        components["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "bench", "version": "1"},
        "servers": [{"url": "http://127.0.0.1"}],
        "paths": paths,
        "components": components,
    }


# -- child modes -----------------------------------------------------------------------


def serve_gateway(config_path: str) -> None:
    """Child: one gateway on the bench contract (settings from a JSON file)."""
    sys.path.insert(0, str(ROOT / "src"))
    from unispec.gateway.settings import parse_settings
    from unispec.model import ServiceConfig, UnifiedSpec

    config = json.loads(Path(config_path).read_text())
    document = contract(config.get("operations", 1), secured=config.get("secured", False))
    service = ServiceConfig("people", "bench.yaml", upstreams=(config["upstream"],))
    spec = UnifiedSpec(document=document, operations=(), errors=(), services=(service,))
    settings = parse_settings(config["gateway"], [service], root=str(WORK))
    stack = config.get("stack", "uvloop")
    if stack == "uvloop":
        from unispec.gateway.server import run

        run(
            spec,
            settings,
            mocks=False,
            on_ready=lambda p: print(f"READY {p.gateway_url}", flush=True),
        )
        return
    if stack == "granian":
        # The same app under granian (Rust HTTP server, ASGI interface, uvloop).
        import asyncio
        import gc

        import uvloop
        from granian.constants import Interfaces  # type: ignore[import-not-found]
        from granian.server.embed import Server as Granian  # type: ignore[import-not-found]

        from unispec.gateway.app import build_gateway_app

        app = build_gateway_app(spec, settings)
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        port = free_port()
        server = Granian(app, address="127.0.0.1", port=port, interface=Interfaces.ASGI)
        print(f"READY http://127.0.0.1:{port}", flush=True)
        uvloop.run(server.serve())
        return
    # uvicorn (uvloop + httptools: the server before h1server) or asyncio + h11: the
    # same app as plain ASGI (no direct path), for the comparison.
    import asyncio
    import gc

    import uvicorn

    from unispec.gateway.app import build_gateway_app
    from unispec.gateway.server import bind

    app = build_gateway_app(spec, settings)
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    sock = bind("127.0.0.1", 0)
    fast = stack == "uvicorn"
    cfg = uvicorn.Config(
        app,
        loop="uvloop" if fast else "asyncio",
        http="httptools" if fast else "h11",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        proxy_headers=False,
    )
    print(f"READY http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    if fast:
        import uvloop

        uvloop.run(uvicorn.Server(cfg).serve(sockets=[sock]))
    else:
        asyncio.run(uvicorn.Server(cfg).serve(sockets=[sock]))


NAIVE = """
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

UPSTREAM = {upstream!r}
app = FastAPI()
client = httpx.AsyncClient(base_url=UPSTREAM)


@app.api_route("/{{path:path}}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def proxy(path: str, request: Request) -> Response:
    body = await request.body()
    skip = ("host", "connection")
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in skip]
    r = await client.request(request.method, "/" + path, content=body, headers=headers)
    hop = ("connection", "transfer-encoding")
    out = {{k: v for k, v in r.headers.items() if k.lower() not in hop}}
    return Response(r.content, status_code=r.status_code, headers=out)
"""


# -- helpers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_debian(binary: str, package: str) -> str:
    found = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if found:
        return found
    print(f"installing Debian package {package} ...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", package], check=True)
    return shutil.which(binary) or f"/usr/sbin/{binary}"


def ensure_prism() -> Path:
    prism = WORK / "node_modules" / ".bin" / "prism"
    if not prism.exists():
        print("installing @stoplight/prism-cli into bench/.work ...", flush=True)
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "@stoplight/prism-cli",
            ],
            cwd=WORK,
            check=True,
        )
    return prism


def ensure_fastapi() -> None:
    try:
        import fastapi  # noqa: F401
    except ModuleNotFoundError:
        print("installing fastapi into the venv (naive-proxy row only) ...", flush=True)
        subprocess.run([PY, "-m", "pip", "install", "-q", "fastapi"], check=True)


def ensure_granian() -> None:
    try:
        import granian  # noqa: F401
    except ModuleNotFoundError:
        print("installing granian into the venv (server-choice row only) ...", flush=True)
        subprocess.run([PY, "-m", "pip", "install", "-q", "granian"], check=True)


def ensure_py_spy() -> Path:
    spy = Path(PY).parent / "py-spy"
    if not spy.exists():
        print("installing py-spy into the venv (--profile only) ...", flush=True)
        subprocess.run([PY, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return spy


class Server:
    def __init__(self, name: str, args: list[str], url: str | None = None, **kw: Any) -> None:
        self.name = name
        env = dict(os.environ, UNISPEC_LOG_LEVEL="WARNING")
        env.update(kw.pop("env", {}))
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            **kw,
        )
        self.url = url or self._ready()

    def _ready(self, timeout: float = 90.0) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                m = re.search(rb"READY (http://\S+)", buf)
                if m:
                    return m.group(1).decode()
            if self.process.poll() is not None:
                break
        self.stop()
        raise SystemExit(f"{self.name} did not start: {buf.decode(errors='replace')[-500:]}")

    def pids(self) -> list[int]:
        """The server process and all its descendants (workers, node children)."""
        out = [self.process.pid]
        try:
            children = subprocess.run(
                ["pgrep", "-s", str(self.process.pid)], capture_output=True, text=True
            ).stdout.split()
        except FileNotFoundError:
            children = []
        out.extend(int(c) for c in children if int(c) != self.process.pid)
        return out

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def nginx_conf(tmp: Path, port: int, upstream_port: int | None) -> Path:
    name = "proxy" if upstream_port else "upstream"
    prefix = tmp / f"nginx-{name}"
    prefix.mkdir()
    if upstream_port:
        server = f"""
    upstream backend {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
    server {{
      listen 127.0.0.1:{port};
      location / {{
        proxy_pass http://backend;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
      }}
    }}"""
    else:
        server = f"""
    server {{
      listen 127.0.0.1:{port};
      location / {{ default_type application/json; return 200 '{UPSTREAM_BODY}'; }}
    }}"""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{server}
}}
"""
    )
    return conf


WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{body}'
"""
LOAD = [0.0]
"""Load average when the run started (other work on the machine skews every row)."""
JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256!"
NOT_VALIDATING = {
    "upstream direct (nginx return)",
    "nginx reverse proxy (keep-alive, 1 worker)",
    "naive proxy: FastAPI + httpx, no validation",
    "naive proxy: FastAPI + httpx, 2 workers",
    "unispec, validation off",
}
"""Rows that must pass a bad email through; every other row must refuse it."""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def cpu_model() -> str:
    """The host's CPU, printed with the table: runs on different hosts of this kind
    have differed by 2× in absolute figures and in the ratios."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def parse_wrk(text: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    out = {"rps": rps}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        out[f"p{pct}"] = float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["errors"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = float(m.group(1)) if m else 0.0
    return out


def run_wrk(wrk: str, url: str, lua: Path, seconds: int, connections: int) -> dict[str, float]:
    proc = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    return parse_wrk(proc.stdout)


def route_matching() -> dict[str, float]:
    """Median µs per match with 10 vs 5,000 templated operations (the last one matched)."""
    sys.path.insert(0, str(ROOT / "src"))
    from unispec.gateway.routing import Router

    result = {}
    for n in (10, 5000):
        r: Router[int] = Router()
        for i in range(n):
            r.add("POST", f"/svc{i}/people/{{group}}", i)
        path = f"/svc{n - 1}/people/42"
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(20000):
                r.match("POST", path)
            samples.append((time.perf_counter() - start) / 20000 * 1e6)
        result[str(n)] = statistics.median(samples)
    return result


# -- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--variants", action="store_true", help="also the stack-choice rows")
    parser.add_argument("--no-prism", action="store_true")
    parser.add_argument(
        "--policies", action="store_true", help="also JWT + rate limit rows (memory, redis)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy top functions of ours")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also p50/p99 of ours (validating) and nginx at 4..64 connections",
    )
    parser.add_argument("--readme", action="store_true", help="write the table to bench/README.md")
    parser.add_argument("--serve-gateway", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_gateway:
        serve_gateway(args.serve_gateway)
        return

    LOAD[0] = os.getloadavg()[0]
    wrk = ensure_debian("wrk", "wrk")
    nginx = ensure_debian("nginx", "nginx")
    ensure_fastapi()
    if args.variants:
        ensure_granian()
    if args.profile:
        ensure_py_spy()
    prism = None if args.no_prism else ensure_prism()
    sys.path.insert(0, str(ROOT / "src"))
    from unispec.tokens import mint_token

    token = mint_token(JWT_SECRET, "bench", tier="pro", ttl=3600)
    servers: list[Server] = []
    rows: list[tuple[str, Server]] = []
    auth_rows: set[str] = set()
    redis: subprocess.Popen[bytes] | None = None
    tmp = Path(tempfile.mkdtemp(prefix="unispec-bench-"))
    try:
        up_port = free_port()
        up = Server(
            "upstream",
            [nginx, "-c", str(nginx_conf(tmp, up_port, None))],
            url=f"http://127.0.0.1:{up_port}",
        )
        servers.append(up)
        wait_port(up_port)
        px_port = free_port()
        px = Server(
            "nginx",
            [nginx, "-c", str(nginx_conf(tmp, px_port, up_port))],
            url=f"http://127.0.0.1:{px_port}",
        )
        servers.append(px)
        wait_port(px_port)

        def naive(workers: int) -> Server:
            port = free_port()
            (tmp / "naive_app.py").write_text(NAIVE.format(upstream=up.url))
            s = Server(
                f"naive{workers}",
                [
                    PY,
                    "-m",
                    "uvicorn",
                    "naive_app:app",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                url=f"http://127.0.0.1:{port}",
                cwd=tmp,
            )
            wait_port(port)
            return s

        def ours(
            name: str, gateway: dict[str, Any], env: dict[str, str] | None = None, **extra: Any
        ) -> Server:
            cfg = tmp / f"{name}.json"
            base = {"port": 0, "response_validation": "off", "access_log": False}
            base.update(gateway)
            cfg.write_text(json.dumps({"gateway": base, "upstream": up.url, **extra}))
            return Server(
                name,
                [PY, str(Path(__file__).resolve()), "--serve-gateway", str(cfg)],
                env=env or {},
            )

        rows.append(("upstream direct (nginx return)", up))
        rows.append(("nginx reverse proxy (keep-alive, 1 worker)", px))
        s = naive(1)
        servers.append(s)
        rows.append(("naive proxy: FastAPI + httpx, no validation", s))
        if prism is not None:
            spec_file = tmp / "bench-openapi.json"
            spec_file.write_text(json.dumps(contract()))
            port = free_port()
            s = Server(
                "prism",
                [
                    str(prism),
                    "proxy",
                    str(spec_file),
                    up.url,
                    "-p",
                    str(port),
                    "-h",
                    "127.0.0.1",
                    "--errors",
                    "--verboseLevel",
                    "error",
                ],
                url=f"http://127.0.0.1:{port}",
            )
            servers.append(s)
            wait_port(port, timeout=90)
            rows.append(("Prism validating proxy (--errors)", s))
        s = ours("ours-off", {"request_validation": False})
        servers.append(s)
        rows.append(("unispec, validation off", s))
        s = ours("ours-full", {})
        servers.append(s)
        rows.append(("unispec, full request validation", s))
        if args.policies:
            env = {"UNISPEC_JWT_SECRET": JWT_SECRET}
            jwt = {"auth": {"jwt": {"algorithms": ["HS256"], "secret_env": "UNISPEC_JWT_SECRET"}}}
            s = ours("ours-jwt-memory", jwt, env=env, secured=True)
            servers.append(s)
            rows.append(("unispec, validation + JWT + rate limit (memory)", s))
            auth_rows.add(rows[-1][0])
            redis_server = shutil.which("redis-server")
            if redis_server:
                redis_port = free_port()
                redis = subprocess.Popen(
                    [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(tmp)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                wait_port(redis_port)
                backend = {"rate_limit": {"backend": f"redis://127.0.0.1:{redis_port}/0"}}
                s = ours("ours-jwt-redis", {**jwt, **backend}, env=env, secured=True)
                servers.append(s)
                rows.append(("unispec, validation + JWT + rate limit (redis)", s))
                auth_rows.add(rows[-1][0])
        if args.variants:
            for name, gw, extra in (
                (
                    "unispec, request + response validation (report)",
                    {"response_validation": "report"},
                    {},
                ),
                (
                    "unispec, validation, access log on",
                    {"access_log": True},
                    {"env": {"UNISPEC_LOG_LEVEL": "INFO"}},
                ),
                ("unispec, validation, uvicorn server (no direct path)", {}, {"stack": "uvicorn"}),
                ("unispec, validation, asyncio + h11", {}, {"stack": "asyncio"}),
                ("unispec, validation, granian (ASGI) server", {}, {"stack": "granian"}),
                (
                    "unispec, validation, aiohttp client",
                    {},
                    {"env": {"UNISPEC_PROXY_CLIENT": "aiohttp"}},
                ),
                (
                    "unispec, validation, httpx client",
                    {},
                    {"env": {"UNISPEC_PROXY_CLIENT": "httpx"}},
                ),
                ("unispec, validation, 2 workers", {"workers": 2}, {}),
                ("unispec, validation, 5,000-operation contract", {}, {"operations": 5000}),
            ):
                s = ours(re.sub(r"\W+", "-", name), gw, **extra)
                servers.append(s)
                rows.append((name, s))
            s = naive(2)
            servers.append(s)
            rows.append(("naive proxy: FastAPI + httpx, 2 workers", s))

        lua = tmp / "post.lua"
        lua.write_text(WRK_LUA.format(body=json.dumps(BODY, separators=(",", ":"))))
        auth_lua = tmp / "post-auth.lua"
        auth_lua.write_text(lua.read_text() + f'wrk.headers["Authorization"] = "Bearer {token}"\n')

        def lua_for(name: str) -> Path:
            return auth_lua if name in auth_rows else lua

        def post(server: Server, body: dict[str, Any]) -> str:
            return subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-X",
                    "POST",
                    "-H",
                    "content-type: application/json",
                    "-H",
                    f"authorization: Bearer {token}",
                    "-d",
                    json.dumps(body),
                    server.url + "/people",
                ],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout

        # Sanity: every row answers the POST with 200 before measuring, and a row
        # that claims to validate refuses a bad email (so a fast row is not one
        # that quietly skips the check).
        for name, server in rows:
            probe = post(server, BODY)
            if probe != "200":
                raise SystemExit(f"{name}: POST /people answered {probe}")
            expected = "200" if name in NOT_VALIDATING else ("422", "400")
            bad = post(server, {**BODY, "email": "not-an-email"})
            if bad not in expected:
                raise SystemExit(f"{name}: POST /people with a bad email answered {bad}")
            run_wrk(wrk, server.url + "/people", lua_for(name), 1, args.connections)  # warm-up
        results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in rows}
        for rep in range(args.reps):
            for name, server in rows:
                before = server.cpu_seconds()
                r = run_wrk(
                    wrk, server.url + "/people", lua_for(name), args.seconds, args.connections
                )
                r["cpu_us"] = (server.cpu_seconds() - before) / max(1.0, r["requests"]) * 1e6
                results[name].append(r)
                print(
                    f"[{rep + 1}/{args.reps}] {name}: {r['rps']:.0f} req/s p50 {r['p50']:.2f} ms "
                    f"p99 {r['p99']:.2f} ms cpu {r['cpu_us']:.0f} µs/req",
                    flush=True,
                )
        sweep = None
        if args.sweep:
            by_name = dict(rows)
            sweep = latency_sweep(
                wrk,
                lua,
                args,
                [
                    (
                        "unispec, full request validation",
                        by_name["unispec, full request validation"],
                    ),
                    *(
                        [("unispec, 2 workers", by_name["unispec, validation, 2 workers"])]
                        if "unispec, validation, 2 workers" in by_name
                        else []
                    ),
                    ("nginx reverse proxy", by_name["nginx reverse proxy (keep-alive, 1 worker)"]),
                ],
            )
        profile = None
        if args.profile:
            target = dict(rows)["unispec, full request validation"]
            profile = py_spy(target, wrk, lua, args.connections)
    finally:
        for server in reversed(servers):
            server.stop()
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    table = render(results, args, route_matching())
    if sweep:
        table += "\n" + sweep
    if profile:
        table += "\n" + profile
    print(table)
    if args.readme:
        write_readme(table)


SWEEP = (4, 8, 16, 32, 64)


def latency_sweep(wrk: str, lua: Path, args: Any, targets: list[tuple[str, Server]]) -> str:
    """Latency against load: the same POST at 4..64 connections, interleaved, medians.

    With a closed-loop client the mean latency is connections / throughput (Little's
    law), so p99 at 64 connections mostly measures throughput; the sweep shows where
    the tail stays low.
    """
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    for _ in range(args.reps):
        for connections in SWEEP:
            for name, server in targets:
                r = run_wrk(wrk, server.url + "/people", lua, args.seconds, connections)
                runs.setdefault((name, connections), []).append(r)
                print(
                    f"[sweep] {name} c={connections}: {r['rps']:.0f} req/s "
                    f"p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms",
                    flush=True,
                )
    lines = [
        "### Latency against concurrency (wrk -t2, same POST, medians of "
        f"{args.reps} interleaved rounds)",
        "",
        "| connections | "
        + " | ".join(f"{name}: req/s, p50, p99 ms" for name, _ in targets)
        + " |",
        "|---:|" + "---|" * len(targets),
    ]
    for connections in SWEEP:
        cells = []
        for name, _ in targets:
            rs = runs[(name, connections)]
            rps = statistics.median(r["rps"] for r in rs)
            p50 = statistics.median(r["p50"] for r in rs)
            p99 = statistics.median(r["p99"] for r in rs)
            cells.append(f"{rps:,.0f}, {p50:.2f}, {p99:.2f}")
        lines.append(f"| {connections} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def py_spy(server: Server, wrk: str, lua: Path, connections: int) -> str:
    spy = ensure_py_spy()
    out = Path(tempfile.mkdtemp()) / "profile.txt"
    load = subprocess.Popen(
        [wrk, "-t2", f"-c{connections}", "-d12s", "-s", str(lua), server.url + "/people"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(1)
    subprocess.run(
        [
            str(spy),
            "record",
            "-p",
            str(server.process.pid),
            "-d",
            "8",
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],
        capture_output=True,
        timeout=60,
    )
    load.wait(timeout=60)
    if not out.exists():
        raise SystemExit("py-spy recorded nothing (is ptrace allowed here?)")
    own: dict[str, int] = {}
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf = frames[-1] if frames else "?"
        leaf = re.sub(r" \(/[^)]*/(site-packages|src)/", " (", leaf)
        own[leaf] = own.get(leaf, 0) + n
    top = sorted(own.items(), key=lambda kv: -kv[1])[:15]
    lines = [
        "### Where our gateway spends its CPU (py-spy, full validation, self time)",
        "",
        "| % of samples | function |",
        "|---:|---|",
    ]
    lines += [f"| {100 * n / total:.1f} | `{name}` |" for name, n in top]
    return "\n".join(lines) + "\n"


def render(results: dict[str, list[dict[str, float]]], args: Any, routing: dict[str, float]) -> str:
    med = {
        name: {
            k: statistics.median(r[k] for r in runs)
            for k in ("rps", "p50", "p99", "cpu_us", "errors")
        }
        for name, runs in results.items()
    }
    lines = [
        f"wrk -t2 -c{args.connections} -d{args.seconds}s, POST /people with a 10-field JSON body, "
        f"{args.reps} interleaved rounds, medians; 2 cores shared by wrk, proxy and upstream; "
        f"load average {LOAD[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
        f"CPU: {cpu_model()}.",
        "",
        "| row | req/s | p50 ms | p99 ms | server CPU µs/req | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in med.items():
        lines.append(
            f"| {name} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} "
            f"| {m['cpu_us']:.0f} | {m['errors']:.0f} |"
        )
    lines.append("")

    def get(name: str, key: str = "rps") -> float | None:
        return med[name][key] if name in med else None

    full_name = "unispec, full request validation"
    full, off = get(full_name), get("unispec, validation off")
    full_cpu, off_cpu = get(full_name, "cpu_us"), get("unispec, validation off", "cpu_us")
    ratios = []
    if full and off and full_cpu and off_cpu:
        # The two rows run back to back in every round: the per-round ratio compares
        # them under the same machine state, which the ratio of medians does not.
        pairs = list(zip(results["unispec, validation off"], results[full_name], strict=False))
        paired = statistics.median(1 - f["rps"] / o["rps"] for o, f in pairs)
        ratios.append(
            f"- full validation costs {100 * (1 - full / off):.1f}% of our proxy-only "
            f"throughput (goal ≤ 15%); {100 * paired:.1f}% as the median of the "
            f"{len(pairs)} back-to-back pairs; by CPU per request "
            f"{100 * (full_cpu / off_cpu - 1):.1f}%"
        )
    prism_rps = get("Prism validating proxy (--errors)")
    if full and prism_rps:
        ratios.append(
            f"- ours (validating) / Prism (validating): {full / prism_rps:.1f}× (goal ≥ 3×)"
        )
    naive_rps = get("naive proxy: FastAPI + httpx, no validation")
    if full and naive_rps:
        ratios.append(
            f"- ours (validating) / naive proxy (not validating): {full / naive_rps:.1f}× "
            "(goal ≥ 1.5×)"
        )
    nginx_rps = get("nginx reverse proxy (keep-alive, 1 worker)")
    if full and nginx_rps:
        ratios.append(
            f"- ours (validating) = {100 * full / nginx_rps:.1f}% of nginx's proxy throughput"
        )
    two = get("unispec, validation, 2 workers")
    naive_two = get("naive proxy: FastAPI + httpx, 2 workers")
    if two and prism_rps:
        extra = f", {two / naive_two:.1f}× the naive proxy with 2 workers" if naive_two else ""
        ratios.append(f"- ours (validating, 2 workers) / Prism: {two / prism_rps:.1f}×{extra}")
    if full:
        p99 = f"- our p99 at {args.connections} connections: {med[full_name]['p99']:.2f} ms"
        p99 += " (goal < 10 ms)"
        if two:
            p99 += f"; with 2 workers {get('unispec, validation, 2 workers', 'p99'):.2f} ms"
        nginx_p99 = get("nginx reverse proxy (keep-alive, 1 worker)", "p99")
        if nginx_p99:
            p99 += f"; nginx's own proxy row: {nginx_p99:.2f} ms"
        ratios.append(p99)
    lines += ratios
    lines += [
        "",
        f"Route matching, median µs per match (in-process): 10 operations {routing['10']:.2f}, "
        f"5,000 operations {routing['5000']:.2f}.",
        "",
    ]
    return "\n".join(lines)


README_INTRO = """\
    .venv/bin/python bench/gateway.py --seconds 5 --reps 5 \\
        --variants --policies --sweep --profile --readme

One run starts every server side by side (nginx upstream returning a fixed JSON body,
nginx reverse proxy, the naive FastAPI + httpx proxy, Prism's validating proxy, our
gateway in several configurations), then runs `wrk -t2 -c64` with the same POST of a
10-field JSON body against each row in turn, for `--reps` interleaved rounds (5 for
the table below), and reports medians. Before measuring, every row must answer the POST
with 200, and every row that claims to validate must refuse the same body with a bad
email. The machine has 2 cores shared by wrk, the proxy and the upstream, so absolute
req/s move from run to run; the ratios within one run and the server's CPU time per
request (read from /proc for the server's process tree) are the steadier figures.

What the variant rows decided (kept in the code):

- **HTTP client: our own, `gateway/http1.py`** (asyncio protocols + httptools, the
  parser uvicorn uses). Same gateway, same everything, `UNISPEC_PROXY_CLIENT=aiohttp|httpx`
  swaps the client inside `gateway/proxy.py` (rows "aiohttp client", "httpx client").
  aiohttp's `session.request` was the largest single cost of the gateway (a dozen
  objects, timers, trace hooks and a writer per call; py-spy put 31–42% of samples
  there), httpx costs several times aiohttp. The lean client does only what
  forwarding needs: LIFO keep-alive pool per upstream, head and small body in one
  write, streaming both ways with flow control, connect/read/pool timeouts, one
  replay of a stale kept-alive connection when the body is replayable. 54 network
  tests against scripted raw upstreams (`tests/gateway/test_gateway_http1.py`).
- **Server: our own, `gateway/h1server.py`** (asyncio protocol on httptools and
  uvloop, plain ASGI 3, plus a *direct path*): a request whose whole body is at most
  64 KB is buffered, and `GatewayApp.handle_direct` serves it from protocol callbacks
  (route, checks, validation, policies, then `Pool.start` sends it on an idle
  kept-alive upstream connection and the answer is written from the upstream
  protocol's callback): no task, no future, no ASGI messages per request. It declines
  (and the request runs as an ordinary ASGI task) for anything else: errors,
  operations endpoints, multipart, Redis limiter, open breaker, streamed or large
  answers, retries. Rows "uvicorn server (no direct path)" (uvicorn + uvloop +
  httptools, the previous server, same app), "granian (ASGI) server" (granian 2.8;
  its RSGI interface, measured by hand, was no faster and percent-decodes the path,
  losing `%2F`) and "asyncio + h11". 62 wire-level tests of the server
  (`tests/gateway/test_gateway_h1server.py`). Per-request metrics are plain counters
  turned into Prometheus families at scrape time (the client's locks were ~3 µs per
  request); each upstream connection keeps one read timer across its exchanges.
- **Heap:** after compiling, `gc.freeze()` and a larger young-generation threshold:
  full collections no longer walk the compiled contract in the middle of requests
  (p99 roughly halved in side-by-side runs).
- **Pool size:** `upstream_pool.keepalive` defaults to `max_connections` (100); with
  the old 20, 64 concurrent requests churned connections (a tenth of the CPU in
  `connect`).
- **No framework on the request path.** The gateway is a plain ASGI callable: no
  Starlette routing (linear) and no middleware stack (a `send` wrapper per layer).
  Routing is a segment trie: matching 5,000 operations costs what 10 do (last line of
  the table; and the 5,000-operation row end to end).
- **Workers.** `gateway.workers` / `--workers N` forks N processes sharing the socket
  after compiling once (row "2 workers"; the naive proxy gets the same row).
- **Validation** is jsonschema-rs compiled once per operation (formats on); the body is
  parsed with orjson (≈4× faster than `json` for these bodies; same result).

What bounds our throughput (py-spy, below; AMD EPYC host): the validating gateway uses
~44 µs of CPU per request, nginx's proxy 15 µs. About a third of the gateway's samples
are the two socket writes of the direct path (the request upstream, `transport.write` in
`Pool.start`; the answer, in `write_now`), an eighth the event loop's polling and reads
(`Runner.run`, uvloop), a tenth the two httptools parsers; the Python logic (routing,
checks, validation, header building, metrics) is spread thinly over the rest, no line
above 5%. So the system calls, not Python, now bound a worker: more throughput needs
more workers (row "2 workers"), which on 2 cores shared with wrk and nginx adds ~20%.

**Hosts of this kind differ by up to 3×,** and the goals with them. The same code
measured, per request of the validating gateway (1 worker, wrk -c64):

| host (date, CPU) | req/s | CPU µs/req | p99 ms | validation cost |
|---|---:|---:|---:|---:|
| 2026-11-23 13:42 UTC (stop 11) | 8,224 | 121 | 14.4 | 15.6% |
| 2026-11-23 ~16:30 UTC (stop 12, a focused 5-round run) | 5,293 | 187 | 29.2 | 20.4% |
| 2026-11-23 17:58 UTC, AMD EPYC (a run before the table's) | 22,727 | 43 | 5.9 | 9.8% |
| 2026-11-23 19:00 UTC, AMD EPYC (same host, same code) | 22,520 | 44 | 5.1 | 16.9% |

Each row's ratios are within one run, so they compare like with like; the absolute
goals (p99) and the cache-bound ratio (validation, see below) move with the host. The
validation cost moves even on one host (the last two lines): in-process it is ~1.2 µs
per request here (orjson 0.5 µs + jsonschema-rs 0.66 µs with formats, hot), under load
4–8 µs of ~40 µs, at the edge of the 15% goal. The table therefore also gives it as the
median of the per-round pairs (the two rows run back to back in each round).

**On the p99 goal (< 10 ms at 64 connections).** wrk keeps 64 requests in flight, so by
Little's law the mean latency is 64 / throughput: a p99 under 10 ms needs roughly 13,000
requests/s or more with a tight tail, on 2 cores that wrk and the upstream share. On the
slower hosts above one Python process could not serve that and two workers came closest;
on the host of the table below one worker does.

**Measured and not kept** (by hand, 2026-11-23; scripts not in the repo):

- *Validation under load costs ~6× its micro-benchmark.* orjson + jsonschema-rs on this
  body take ~1 + ~1.5 µs in a hot loop, ~16 + ~22 µs after 16 MB of other memory
  traffic, and py-spy puts `check_json` at ~10% of the gateway's samples under wrk
  (~18 µs of ~187 µs). Between two requests the server runs the kernel's networking,
  wrk and nginx: the validator's code and tables are cold each time. Turning off
  formats or the pattern changes nothing measurable, so the "validation costs ≤ 15%"
  ratio is set by cache misses, not by the schema.
- *Connection balance between workers.* wrk's 64 connections split anywhere from
  32/32 to 6/58 between two workers; p99 was the same (16–18 ms) at every split.
- *CPU affinity* (one worker per core, like nginx's `worker_cpu_affinity`): no change
  (p99 17.8 vs 18.5 ms, 4 rounds).
- *Garbage collector off entirely*: no consistent change of p99.
- *mypyc.* The code is mypy-strict, so compiling the hot modules is the remaining
  lever for the Python part. `h1server.py` alone compiles and cut the in-process
  direct path by roughly a tenth (noisy: 73–77 vs 80–96 µs). `app.py`, `proxy.py` and
  `http1.py` do not compile as they are (async generators are unimplemented in
  mypyc; `observability.py` defines a function conditionally), and compiled modules
  change packaging (a build step, wheels per platform) and what tests can patch.
  Not done.
"""


def write_readme(table: str) -> None:
    """Replace this benchmark's section of bench/README.md (other sections stay)."""
    readme = HERE / "README.md"
    start, end = "<!-- gateway-bench:start -->", "<!-- gateway-bench:end -->"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = f"{start}\n{README_INTRO}\n### Results ({stamp})\n\n{table}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n## Gateway (`bench/gateway.py`)\n\n" + block + "\n"
    readme.write_text(text)


if __name__ == "__main__":
    main()
