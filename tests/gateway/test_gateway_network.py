"""The gateway as a real process in front of a real upstream process, on loopback.

Covers what only a network path shows: bytes forwarded unchanged, proxy headers,
connect failures and read timeouts, 413 before the body is read, streaming with
flat memory (RSS of the gateway process), and 1,000 concurrent requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import httpx
from gw_support import Proc

MB = 1024 * 1024


def test_forwarded_unchanged_with_proxy_headers(gateway: Proc) -> None:
    payload = os.urandom(300_000)
    r = httpx.post(
        gateway.url + "/uploads?x=%2F1",
        content=payload,
        headers={
            "content-type": "application/octet-stream",
            "X-Request-ID": "req-42",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "1",
            "X-User-Id": "spoofed",
            "X-User-Roles": "admin",
            "X-Forwarded-For": "198.51.100.1",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    echo = r.json()
    assert echo["body_size"] == len(payload)
    assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert echo["raw_path"] == "/uploads"
    assert echo["query"] == "x=%2F1"
    seen = {k: v for k, v in echo["headers"]}
    assert seen["x-request-id"] == "req-42"
    assert r.headers["x-request-id"] == "req-42"
    assert seen["traceparent"].startswith("00-4bf92f3577b34da6")
    assert seen["x-forwarded-for"] == "198.51.100.1, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == urlsplit(gateway.url).netloc
    assert "x-secret-hop" not in seen
    assert "x-user-id" not in seen and "x-user-roles" not in seen
    assert seen["content-length"] == str(len(payload))


def test_generated_request_id_reaches_upstream(gateway: Proc) -> None:
    r = httpx.get(gateway.url + "/echo", timeout=10)
    rid = r.headers["x-request-id"]
    assert len(rid) == 32
    assert dict(r.json()["headers"])["x-request-id"] == rid


def test_head_is_answered_like_get_without_a_body(gateway: Proc) -> None:
    """HEAD goes to the GET operation (RFC 9110), upstream and back, with no body."""
    with httpx.Client(timeout=10) as client:
        get = client.get(gateway.url + "/echo")
        head = client.head(gateway.url + "/echo", headers={"X-Request-ID": "head-1"})
        again = client.get(gateway.url + "/echo")
    assert get.status_code == head.status_code == again.status_code == 200
    assert head.content == b""
    assert head.headers["x-request-id"] == "head-1"
    assert head.headers["content-type"] == get.headers["content-type"]
    assert again.json()["raw_path"] == "/echo"


def test_upstream_down_is_502_within_connect_timeout(gateway: Proc) -> None:
    start = time.monotonic()
    r = httpx.get(gateway.url + "/down", timeout=10)
    elapsed = time.monotonic() - start
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "BAD_GATEWAY"
    assert elapsed < 1.0 + 0.5  # connect timeout of the "ghost" service is 1 s


def test_slow_upstream_is_504_at_read_timeout(gateway: Proc) -> None:
    start = time.monotonic()
    r = httpx.get(gateway.url + "/slow?delay=5", timeout=10)
    elapsed = time.monotonic() - start
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "GATEWAY_TIMEOUT"
    # Read timeout of "files" is 1 s and timeouts are not retried; the margin is for
    # a loaded machine, the upstream itself would answer only after 5 s.
    assert 0.9 <= elapsed < 3.0


def test_413_answered_before_the_body_is_read(gateway: Proc) -> None:
    host, port = urlsplit(gateway.url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 209715200\r\n\r\n" + b"x" * 1000
        )
        start = time.monotonic()
        data = b""
        while b"\r\n\r\n" not in data or b"}}" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        assert time.monotonic() - start < 2
    assert data.startswith(b"HTTP/1.1 413")
    assert b"PAYLOAD_TOO_LARGE" in data


class PeakRss:
    """Samples the gateway's RSS every 20 ms in a thread, keeps the maximum."""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc
        self.peak = proc.rss_kb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.rss_kb())
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def test_large_upload_and_download_stream_with_flat_memory(gateway: Proc) -> None:
    # Warm up both paths so lazily created buffers are not counted as growth.
    httpx.get(gateway.url + "/download?size=2000000", timeout=30)
    httpx.post(
        gateway.url + "/uploads",
        content=b"x" * 2_000_000,
        headers={"content-type": "application/octet-stream"},
        timeout=30,
    )
    baseline = gateway.rss_kb()
    block = os.urandom(MB)
    digest = hashlib.sha256()

    async def transfer() -> tuple[dict[str, object], int]:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(50):
                digest.update(block)
                yield block

        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(
                gateway.url + "/uploads",
                data=body(),
                headers={
                    "content-type": "application/octet-stream",
                    "content-length": str(50 * MB),
                },
            ) as resp:
                assert resp.status == 200
                echo = await resp.json()
            received = 0
            async with session.get(gateway.url + f"/download?size={200 * MB}") as resp:
                assert resp.status == 200
                async for chunk in resp.content.iter_chunked(256 * 1024):
                    received += len(chunk)
            return echo, received

    with PeakRss(gateway) as rss:
        echo, received = asyncio.run(transfer())
    assert echo["body_size"] == 50 * MB
    assert echo["body_sha256"] == digest.hexdigest()
    assert received == 200 * MB
    growth_mb = (rss.peak - baseline) / 1024
    print(f"gateway peak RSS growth while streaming 50 MB up + 200 MB down: {growth_mb:.1f} MB")
    assert growth_mb < 16, f"gateway RSS grew by {growth_mb:.1f} MB while streaming 250 MB"


def test_thousand_concurrent_requests_none_dropped_or_mixed(gateway: Proc) -> None:
    # "pets" has the default timeouts (connect 2 s, read 30 s): on 2 shared cores a
    # burst of 1,000 can keep the upstream busy for more than the 1 s of "files".
    async def run() -> list[tuple[str, int, str, str]]:
        connector = aiohttp.TCPConnector(limit=1000)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one(i: int) -> tuple[str, int, str, str]:
                rid = f"req-{i}"
                async with session.get(
                    f"{gateway.url}/pets/{i + 1}?n={i}", headers={"X-Request-ID": rid}
                ) as resp:
                    body = await resp.json()
                    seen = dict(body["headers"])["x-request-id"]
                    detail = f"{body['path']}?{body['query']}|{seen}"
                    return rid, resp.status, resp.headers["x-request-id"], detail

            return await asyncio.gather(*(one(i) for i in range(1000)))

    results = asyncio.run(run())
    assert len(results) == 1000
    for i, (rid, status, echoed, detail) in enumerate(results):
        assert status == 200
        assert echoed == rid
        assert detail == f"/pets/{i + 1}?n={i}|{rid}"


def test_services_reports_each_upstream(gateway: Proc) -> None:
    body = httpx.get(gateway.url + "/services", timeout=10).json()
    assert body["status"] == "degraded"
    services = body["services"]
    assert services["pets"]["status"] == "up"
    assert services["pets"]["latency_ms"] is not None
    assert services["ghost"]["status"] == "down"
    assert services["ghost"]["last_error"]
    assert services["disabled"]["status"] == "disabled"
    assert services["pets"]["breaker"]["state"] == "closed"


def test_metrics_exposed(gateway: Proc) -> None:
    httpx.get(gateway.url + "/pets/abc", timeout=10)
    text = httpx.get(gateway.url + "/metrics", timeout=10).text
    assert 'unispec_gateway_requests_total{method="GET",operation_id="getPet",status="422"}' in text
    assert 'unispec_gateway_rejections_total{code="VALIDATION_ERROR"}' in text
    assert "unispec_gateway_overhead_seconds_bucket" in text
    assert "unispec_gateway_upstream_seconds_bucket" in text
    assert 'unispec_gateway_upstream_errors_total{kind="connect",service="ghost"}' in text
    assert "unispec_gateway_in_flight_requests" in text
