"""End to end: real gateway processes, real upstream processes, a real redis-server.

Everything listens on 127.0.0.1 on free ports and is stopped at the end. The
gateways run ``tests/policies/policy_gateway.py`` (the production server code on
a small contract); the upstreams are ``echo_upstream.py`` processes.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from unispec.tokens import mint_token

HERE = Path(__file__).parent
SECRET = "e2e-secret-that-is-long-enough-for-hs256!"
ENV_NAME = "POLICY_E2E_SECRET"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    process: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )


def ready(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """Wait for the ``READY <url>`` line a child prints once it listens."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([process.stdout], [], [], 0.2)
        if r:
            line = process.stdout.readline()
            if line.startswith("READY "):
                return line.split()[1]
            if not line and process.poll() is not None:
                break
    process.kill()
    raise AssertionError(f"process {process.args} did not become ready")


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server (Debian package redis-server) is required: make system-deps"
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise AssertionError("redis-server did not start")


@dataclass
class World:
    echo: list[Proc]
    plain: Proc  # memory rate limits, tight breaker
    shared_open: Proc  # redis, failure_mode open
    shared_closed: Proc  # redis, failure_mode closed
    redis: subprocess.Popen[bytes]
    dead_url: str


def gateway_config(tmp: Path, name: str, gateway: dict[str, Any], upstreams: Any) -> Path:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "response_validation": "off",
        "access_log": False,
        "auth": {"jwt": {"algorithms": ["HS256"], "secret_env": ENV_NAME, "leeway": 0}},
    }
    base.update(gateway)
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({"gateway": base, "upstreams": upstreams, "root": str(tmp)}))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("policies-e2e")
    started: list[Proc] = []
    redis_proc, redis_url = start_redis(tmp)
    try:
        # Upstream ports are picked here so that gateways and upstreams start in parallel.
        echo_ports = [free_port() for _ in range(4)]
        echo_procs = [
            spawn([str(HERE / "echo_upstream.py"), f"e{i}", str(port)])
            for i, port in enumerate(echo_ports)
        ]
        started.extend(Proc(p, "") for p in echo_procs)  # stopped even if never ready
        echo_urls = [f"http://127.0.0.1:{port}" for port in echo_ports]
        dead = f"http://127.0.0.1:{free_port()}"
        upstreams = {
            "api": [echo_urls[0]],
            "flaky": [echo_urls[0]],
            "dead": [dead],
            "lb": echo_urls[1:],
            "retry_get": [echo_urls[0]],
            "retry_post": [echo_urls[0]],
            "retry_key": [echo_urls[0]],
        }
        tight = {
            "breaker": {"consecutive_failures": 3, "open_seconds": 60},
            "retries": {"attempts": 0},
        }

        def shared(mode: str) -> dict[str, Any]:
            return {"rate_limit": {"backend": redis_url, "failure_mode": mode, "timeout": 5}}

        configs = {
            "plain": gateway_config(tmp, "plain", tight, upstreams),
            "open": gateway_config(tmp, "open", shared("open"), upstreams),
            "closed": gateway_config(tmp, "closed", shared("closed"), upstreams),
        }
        procs = {
            k: spawn([str(HERE / "policy_gateway.py"), str(v)], {ENV_NAME: SECRET})
            for k, v in configs.items()
        }
        started.extend(Proc(p, "") for p in procs.values())
        echo = [Proc(p, ready(p)) for p in echo_procs]
        assert [e.url for e in echo] == echo_urls
        gateways = {k: Proc(p, ready(p)) for k, p in procs.items()}
        yield World(echo, gateways["plain"], gateways["open"], gateways["closed"], redis_proc, dead)
    finally:
        for p in started:
            if p.process.poll() is None:
                p.process.terminate()
        for p in started:
            p.stop()
        if redis_proc.poll() is None:
            redis_proc.terminate()
            redis_proc.wait(timeout=5)


def bearer(sub: str = "u1", roles: tuple[str, ...] = ("instructor",), **kw: Any) -> dict[str, str]:
    args: dict[str, Any] = {"tier": "pro"}
    args.update(kw)
    return {"Authorization": "Bearer " + mint_token(SECRET, sub, list(roles), **args)}


def envelope(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["requestId"] == resp.headers["x-request-id"]
    assert body["error"]["message"]
    return dict(body["error"])


def seen_headers(resp: httpx.Response) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in resp.json()["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


def test_client_cannot_spoof_identity_headers(world: World) -> None:
    spoof = [
        ("X-User-Id", "admin"),
        ("x-user-roles", "admin,root"),
        ("X-User-Tier", "enterprise"),
        ("X-USER-ID", "second"),
        ("X-User-Scopes", "everything"),
    ]
    with httpx.Client(base_url=world.plain.url, timeout=10) as client:
        auth = bearer("u1", ("instructor",), tier="pro")
        resp = client.get("/echo", headers=[*spoof, *auth.items()])
        assert resp.status_code == 200, resp.text
        got = seen_headers(resp)
        assert got["x-user-id"] == ["u1"]
        assert got["x-user-roles"] == ["instructor"]
        assert got["x-user-tier"] == ["pro"]
        assert "x-user-scopes" not in got
        # Anonymous on a public operation: nothing of the client's survives.
        resp = client.get("/public-echo", headers=spoof)
        assert resp.status_code == 200
        assert not [h for h in seen_headers(resp) if h.startswith("x-user-")]


def test_client_cannot_spoof_identity_with_underscore_spelling(world: World) -> None:
    # CGI/WSGI upstreams read X_User_Id as HTTP_X_USER_ID, the same as X-User-Id.
    spoof = [("X_User_Id", "admin"), ("X-User-Other", "x"), ("x_user_roles", "admin")]
    with httpx.Client(base_url=world.plain.url, timeout=10) as client:
        resp = client.get("/echo", headers=[*spoof, *bearer("u1").items()])
        assert resp.status_code == 200, resp.text
        got = seen_headers(resp)
        assert got["x-user-id"] == ["u1"]
        assert not [h for h in got if "_" in h and h.replace("_", "-").startswith("x-user-")]
        assert "x-user-other" not in got


def test_401_403_envelopes_and_www_authenticate(world: World) -> None:
    with httpx.Client(base_url=world.plain.url, timeout=10) as client:
        resp = client.get("/echo")
        envelope(resp, 401, "UNAUTHORIZED")
        assert resp.headers["www-authenticate"].startswith("Bearer")
        resp = client.get("/echo", headers={"Authorization": "Bearer not-a-token"})
        envelope(resp, 401, "UNAUTHORIZED")
        assert 'error="invalid_token"' in resp.headers["www-authenticate"]
        unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0."
        envelope(client.get("/echo", headers={"Authorization": f"Bearer {unsigned}"}), 401,
                 "UNAUTHORIZED")  # fmt: skip
        expired = bearer(ttl=10, now=time.time() - 100)
        envelope(client.get("/echo", headers=expired), 401, "TOKEN_EXPIRED")
        forbidden = client.get("/admin", headers=bearer(roles=("student",)))
        assert "admin" in envelope(forbidden, 403, "FORBIDDEN")["message"]
        assert client.get("/admin", headers=bearer(roles=("admin",))).status_code == 200


def _rejections(client: httpx.Client, code: str) -> float:
    text = client.get("/metrics").text
    m = re.search(rf'^unispec_gateway_rejections_total{{code="{code}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_each_auth_refusal_is_counted_once(world: World) -> None:
    # unispec_gateway_rejections_total counts a refusal once (it was counted twice).
    with httpx.Client(base_url=world.plain.url, timeout=10) as client:
        unauthorized = _rejections(client, "UNAUTHORIZED")
        forbidden = _rejections(client, "FORBIDDEN")
        assert client.get("/echo").status_code == 401
        assert client.get("/echo", headers={"Authorization": "Bearer x"}).status_code == 401
        assert client.get("/admin", headers=bearer(roles=("student",))).status_code == 403
        assert _rejections(client, "UNAUTHORIZED") == unauthorized + 2
        assert _rejections(client, "FORBIDDEN") == forbidden + 1


def test_429_envelope_and_rate_limit_headers_memory(world: World) -> None:
    with httpx.Client(base_url=world.plain.url, timeout=10) as client:
        statuses = []
        for i in range(7):
            resp = client.get("/limited")
            statuses.append(resp.status_code)
            assert resp.headers["x-ratelimit-limit"] == "5"
            assert int(resp.headers["x-ratelimit-remaining"]) == max(0, 4 - i)
            assert int(resp.headers["x-ratelimit-reset"]) > 0
        assert statuses == [200] * 5 + [429] * 2
        err = envelope(resp, 429, "RATE_LIMIT_EXCEEDED")
        assert err["message"]
        assert 0 < int(resp.headers["retry-after"]) <= 720
        # Per user, by tier: pro gets 4, free (not listed) gets the limit of 2.
        pro = [client.get("/tiered", headers=bearer("p1", tier="pro")).status_code
               for _ in range(5)]  # fmt: skip
        free = [client.get("/tiered", headers=bearer("f1", tier="free")).status_code
                for _ in range(3)]  # fmt: skip
        assert pro == [200] * 4 + [429]
        assert free == [200] * 2 + [429]


def test_breaker_opens_and_answers_503_without_calling_upstream(world: World) -> None:
    with httpx.Client(base_url=world.plain.url, timeout=10) as client:
        # A dead upstream: 502 until the breaker opens, then 503 + Retry-After.
        codes = [client.get("/dead").status_code for _ in range(3)]
        assert codes == [502, 502, 502]
        resp = client.get("/dead")
        envelope(resp, 503, "SERVICE_UNAVAILABLE")
        assert 50 <= int(resp.headers["retry-after"]) <= 60
        # An upstream answering 503: counted calls stop once the breaker is open.
        for _ in range(3):
            resp = client.get("/flaky", params={"status": "503"})
            assert resp.status_code == 503 and resp.json()["instance"] == "e0"
        calls = httpx.get(f"{world.echo[0].url}/__count", timeout=5).json()["/flaky"]
        assert calls == 3
        for _ in range(5):
            resp = client.get("/flaky", params={"status": "503"})
            envelope(resp, 503, "SERVICE_UNAVAILABLE")
            assert int(resp.headers["retry-after"]) >= 1
        assert httpx.get(f"{world.echo[0].url}/__count", timeout=5).json()["/flaky"] == 3
        services = client.get("/services").json()
        text = json.dumps(services)
        assert '"open"' in text
        metrics = client.get("/metrics").text
        assert "unispec_gateway_breaker_state" in metrics


def test_retries_only_idempotent_or_idempotency_key(world: World) -> None:
    """Default retries (2): a GET or a keyed POST is tried 3 times on 503, a plain POST once."""

    def count(path: str) -> int:
        counts = httpx.get(f"{world.echo[0].url}/__count", timeout=5).json()
        return int(counts.get(path, 0))

    with httpx.Client(base_url=world.shared_open.url, timeout=10) as client:
        resp = client.get("/retry-get", params={"status": "503"})
        assert resp.status_code == 503 and resp.json()["instance"] == "e0"
        assert count("/retry-get") == 3
        resp = client.post("/retry-post", params={"status": "503"})
        assert resp.status_code == 503
        assert count("/retry-post") == 1
        resp = client.post(
            "/retry-key", params={"status": "503"}, headers={"Idempotency-Key": "k-1"}
        )
        assert resp.status_code == 503
        assert count("/retry-key") == 3
        # A success is not retried.
        assert client.post("/retry-post").status_code == 200
        assert count("/retry-post") == 2


def test_two_gateways_share_one_redis_budget_then_redis_dies(world: World) -> None:
    a = httpx.Client(base_url=world.shared_open.url, timeout=10)
    b = httpx.Client(base_url=world.shared_closed.url, timeout=10)
    try:
        results = [(b if i % 2 else a).get("/limited") for i in range(12)]
        assert [r.status_code for r in results].count(200) == 5
        assert [r.status_code for r in results] == [200] * 5 + [429] * 7
        for r in results[5:]:
            envelope(r, 429, "RATE_LIMIT_EXCEEDED")
            assert int(r.headers["retry-after"]) >= 1
        # Tiers through both gateways share the user's budget too.
        pro = [(b if i % 2 else a).get("/tiered", headers=bearer("rp", tier="pro")).status_code
               for i in range(6)]  # fmt: skip
        assert pro == [200] * 4 + [429] * 2
        # Redis goes away: the open gateway admits, the closed one refuses with 503; no 500.
        world.redis.terminate()
        world.redis.wait(timeout=5)
        for _ in range(3):
            ra = a.get("/limited")
            rb = b.get("/limited")
            assert ra.status_code == 200, ra.text
            envelope(rb, 503, "SERVICE_UNAVAILABLE")
            assert int(rb.headers["retry-after"]) >= 1
        # Operations without a limit are unaffected.
        assert b.get("/public-echo").status_code == 200
        # Each degraded decision is counted in /metrics.
        for client in (a, b):
            metrics = client.get("/metrics").text
            found = re.search(r"^unispec_gateway_ratelimit_backend_errors\S* (\S+)$", metrics, re.M)
            assert found is not None and float(found.group(1)) >= 3
    finally:
        a.close()
        b.close()


def test_three_upstreams_kill_one_mid_load_no_get_fails(world: World) -> None:
    url = world.shared_open.url + "/items"
    victim = world.echo[2]
    statuses: list[int] = []
    instances: list[str] = []

    def one(client: httpx.Client) -> tuple[int, str]:
        r = client.get(url)
        return r.status_code, (r.json().get("instance", "") if r.status_code == 200 else r.text)

    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    with (
        httpx.Client(timeout=10, limits=limits) as client,
        concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool,
    ):
        # 150 requests queued on 8 threads; the victim dies while ~8 are in flight.
        futures = [pool.submit(one, client) for _ in range(150)]
        for i, f in enumerate(futures):
            status, instance = f.result(timeout=30)
            statuses.append(status)
            instances.append(instance)
            if i == 50:
                os.kill(victim.process.pid, signal.SIGKILL)
        for f in [pool.submit(one, client) for _ in range(60)]:
            status, instance = f.result(timeout=30)
            statuses.append(status)
            instances.append(instance)
    bad = [(s, i) for s, i in zip(statuses, instances, strict=True) if s != 200]
    assert not bad, bad[:5]
    assert set(instances[:30]) == {"e1", "e2", "e3"}
    assert "e2" not in instances[-40:]
    assert set(instances[-40:]) == {"e1", "e3"}
