"""What JWT auth and rate limiting cost the gateway, measured with wrk on loopback.

Rows, interleaved in one run (``--reps`` rounds, each row ``--seconds`` long), all the
same POST with a ~10-field JSON body validated by the gateway, upstream nginx
returning a fixed JSON body:

1. ``validation``                   — a public, unlimited operation (the baseline)
2. ``validation + JWT + rate limit (memory)`` — bearer HS256 token + ``x-rate-limit``
3. ``validation + JWT + rate limit (redis)``  — same, counters in a local redis-server

The limit is set so high that nothing is refused: every request is verified and
counted. One gateway worker per row, the same ``wrk -t2 -cN`` for all. Prints a
markdown table with the median requests/s, p50 and p99 over the rounds and each
row's throughput relative to the baseline, plus the gateway process's CPU time
per request (from /proc: far steadier than req/s on a machine shared with other
work, and the honest measure of what the policies cost). Needs wrk, nginx and redis-server
(Debian packages).

    .venv/bin/python bench/policies.py [--seconds 5] [--reps 3] [--connections 64]
    .venv/bin/python bench/policies.py --micro   # per-call cost of each policy, in-process
"""

from __future__ import annotations

import argparse
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

SECRET = "bench-secret-that-is-long-enough-for-hs256!"
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
SCHEMA = {
    "type": "object",
    "required": ["name", "email", "age"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "email": {"type": "string", "format": "email"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "newsletter": {"type": "boolean"},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "id": {"type": "string", "format": "uuid"},
        "born": {"type": "string", "format": "date"},
        "website": {"type": "string", "format": "uri"},
    },
}


def operation(op_id: str, secured: bool) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "x-service": "api",
        "security": [{"bearerAuth": []}] if secured else [],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SCHEMA}},
        },
        "responses": {"200": {"description": "ok"}},
    }
    if secured:
        op["x-rate-limit"] = {"limit": 1_000_000_000, "window": 60, "per": "user"}
    return op


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "bench", "version": "1"},
    "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/open": {"post": operation("open", False)},
        "/secured": {"post": operation("secured", True)},
    },
}


def serve(config_path: str) -> None:
    """Child mode: run one gateway on the bench contract."""
    from unispec.gateway.server import run
    from unispec.gateway.settings import parse_settings
    from unispec.model import ServiceConfig, UnifiedSpec

    config = json.loads(Path(config_path).read_text())
    services = [ServiceConfig(name="api", spec="specs/api.yaml", upstreams=(config["upstream"],))]
    spec = UnifiedSpec(document=DOCUMENT, operations=(), errors=(), services=tuple(services))
    settings = parse_settings(config["gateway"], services, root=".")
    run(spec, settings, mocks=False, on_ready=lambda p: print(f"READY {p.gateway_url}", flush=True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def start_nginx(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp};
  server {{
    listen 127.0.0.1:{port};
    keepalive_requests 1000000;
    location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
  }}
}}
"""
    )
    proc = subprocess.Popen(
        [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port)
    return proc, f"redis://127.0.0.1:{port}/0"


def start_gateway(
    tmp: Path, name: str, gateway: dict[str, Any], upstream: str
) -> tuple[subprocess.Popen[str], str]:
    base = {
        "host": "127.0.0.1",
        "port": 0,
        "access_log": False,
        "response_validation": "off",
        "auth": {"jwt": {"algorithms": ["HS256"], "secret_env": "BENCH_JWT_SECRET"}},
    }
    base.update(gateway)
    cfg = tmp / f"{name}.json"
    cfg.write_text(json.dumps({"gateway": base, "upstream": upstream}))
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "BENCH_JWT_SECRET": SECRET, "UNISPEC_LOG_LEVEL": "error"},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            line = proc.stdout.readline()
            if line.startswith("READY "):
                return proc, line.split()[1]
            if not line:
                break
    proc.kill()
    raise SystemExit(f"gateway {name} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (robust to other load, unlike req/s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str, script: Path, seconds: int, connections: int, pid: int | None = None
) -> dict[str, float]:
    cpu0 = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu = cpu_seconds(pid) - cpu0 if pid else 0.0
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    return {
        "rps": rps,
        "p50": to_ms(lat["50"]),
        "p99": to_ms(lat["99"]),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
        "cpu_us": cpu / max(1, total) * 1e6,
    }


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def micro() -> None:
    """Per-call CPU cost of the policy building blocks (median of 5 runs, µs)."""
    import asyncio

    import uvloop
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from unispec.gateway.auth import AuthPolicy, JWTVerifier
    from unispec.gateway.ratelimit import MemoryRateLimiter, RateLimitPolicy, RedisRateLimiter
    from unispec.tokens import mint_token

    doc = {"components": {"securitySchemes": {"b": {"type": "http", "scheme": "bearer"}}}}
    policy = AuthPolicy.from_operation({"security": [{"b": []}]}, doc)
    hs = JWTVerifier.from_settings({"secret_env": "S"}, env={"S": SECRET})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (tmp / "pub.pem").write_bytes(pub)
        rs = JWTVerifier.from_settings(
            {"algorithms": ["RS256"], "public_key_file": "pub.pem"}, env={}, base_dir=tmp
        )
        priv = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        hs_tokens = [mint_token(SECRET, f"u{i}", ["r"], "pro") for i in range(2000)]
        rs_tokens = [mint_token(priv, f"u{i}", ["r"], "pro", algorithm="RS256") for i in range(300)]
        redis_proc, redis_url = start_redis(tmp)

    def per_call(fn: Any, n: int) -> float:
        runs = []
        for _ in range(5):
            start = time.process_time()
            fn(n)
            runs.append((time.process_time() - start) / n * 1e6)
        return statistics.median(runs)

    header = "Bearer " + hs_tokens[0]
    rows = [
        ("JWT check, cached token (AuthPolicy.check)", per_call(
            lambda n: [policy.check(hs, header) for _ in range(n)], 20000)),
        ("JWT verify HS256, first sight", per_call(
            lambda n: [JWTVerifier.verify(hs, t) for t in hs_tokens[:n]] and hs._cache.clear(),
            2000)),
        ("JWT verify RS256, first sight", per_call(
            lambda n: [JWTVerifier.verify(rs, t) for t in rs_tokens[:n]] and rs._cache.clear(),
            300)),
    ]  # fmt: skip
    rate = RateLimitPolicy("op", 60, "user", 1_000_000_000)
    ident = policy.check(hs, header)
    assert ident is not None

    async def hits(limiter: Any, n: int, concurrency: int) -> None:
        async def worker(k: int) -> None:
            for _ in range(n // concurrency):
                await rate.check(limiter, ident, "127.0.0.1")

        await asyncio.gather(*(worker(k) for k in range(concurrency)))

    memory = MemoryRateLimiter()
    rows.append(("rate limit, memory (RateLimitPolicy.check)",
                 per_call(lambda n: uvloop.run(hits(memory, n, 1)), 20000)))  # fmt: skip
    try:
        for conc in (1, 64):

            def redis_run(n: int, conc: int = conc) -> None:
                async def go() -> None:
                    limiter = RedisRateLimiter(redis_url, timeout=10)
                    await hits(limiter, n, conc)
                    await limiter.aclose()

                uvloop.run(go())

            rows.append((f"rate limit, redis, {conc} concurrent (client CPU)",
                         per_call(redis_run, 5000)))  # fmt: skip
    finally:
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
    print("\n| building block | CPU µs per call (median of 5) |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value:,.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--micro", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.micro:
        micro()
        return
    for tool in ("wrk", "nginx", "redis-server"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed (Debian package): apt-get install -y {tool}")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from unispec.tokens import mint_token

    token = mint_token(SECRET, "bench-user", ["member"], "pro", ttl=3600)
    procs: list[subprocess.Popen[Any]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        try:
            nginx, upstream = start_nginx(tmp)
            procs.append(nginx)
            redis, redis_url = start_redis(tmp)
            procs.append(redis)
            mem, mem_url = start_gateway(tmp, "memory", {}, upstream)
            procs.append(mem)
            red, red_url = start_gateway(
                tmp, "redis", {"rate_limit": {"backend": redis_url}}, upstream
            )
            procs.append(red)
            body = json.dumps(BODY)
            plain = tmp / "plain.lua"
            plain.write_text(
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(body)}\n"
            )
            authed = tmp / "authed.lua"
            authed.write_text(
                plain.read_text() + f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            )
            rows = [
                ("validation (baseline)", f"{mem_url}/open", plain, mem.pid),
                ("validation + JWT + rate limit (memory)", f"{mem_url}/secured", authed, mem.pid),
                ("validation + JWT + rate limit (redis)", f"{red_url}/secured", authed, red.pid),
            ]
            for _, url, script, _ in rows:  # warm-up, and a check that every row answers 200
                result = wrk(url, script, 1, 8)
                if result["errors"]:
                    raise SystemExit(f"{url} answered non-2xx during warm-up")
            results: dict[str, list[dict[str, float]]] = {row[0]: [] for row in rows}
            for _ in range(args.reps):
                for name, url, script, pid in rows:
                    results[name].append(wrk(url, script, args.seconds, args.connections, pid))
        finally:
            for p in reversed(procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
    base = statistics.median(r["rps"] for r in results[rows[0][0]])
    base_cpu = statistics.median(r["cpu_us"] for r in results[rows[0][0]])
    print(f"\nwrk -t2 -c{args.connections} -d{args.seconds}s, {args.reps} rounds interleaved, "
          "1 gateway worker, nginx upstream\n")  # fmt: skip
    print(
        "| row | req/s (median) | p50 ms | p99 ms | req/s vs baseline "
        "| gateway CPU µs/request | CPU vs baseline | non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, *_ in rows:
        runs = results[name]
        rps = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["p50"] for r in runs)
        p99 = statistics.median(r["p99"] for r in runs)
        cpu = statistics.median(r["cpu_us"] for r in runs)
        errors = int(sum(r["errors"] for r in runs))
        print(
            f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {rps / base:.1%} "
            f"| {cpu:,.0f} | {cpu / base_cpu:.1%} | {errors} |"
        )


if __name__ == "__main__":
    main()
