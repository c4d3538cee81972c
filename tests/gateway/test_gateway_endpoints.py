"""Response validation modes, CORS, security headers and the operations endpoints."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import yaml
from gw_fixture_spec import DOCUMENT
from gw_support import Proc, make_app

from unispec.gateway.app import GatewayApp

HEADERS = {"X-Client-Version": "1.2"}


def calls(app: GatewayApp, *requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            try:
                return [await client.request(m, u, **kw) for m, u, kw in requests]
            finally:
                await app.aclose()

    return asyncio.run(go())


def violations_metric(app: GatewayApp) -> float:
    total = 0.0
    for metric in app.metrics.contract_violations.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                total += sample.value
    return total


def test_report_mode_passes_bad_responses_and_counts_them(upstream: Proc) -> None:
    app = make_app(upstream.url, response_validation="report")
    good, bad, status, ctype = calls(
        app,
        ("GET", "/pets", {"headers": HEADERS}),
        ("GET", "/pets?bad=1", {"headers": HEADERS}),
        ("GET", "/pets/3?status=418", {}),
        ("GET", "/pets/3?ctype=text/plain", {}),
    )
    assert good.status_code == 200 and good.json() == [{"id": 1, "name": "rex"}]
    assert bad.status_code == 200 and bad.json() == [{"id": "one"}]
    assert status.status_code == 418
    assert ctype.status_code == 200
    assert violations_metric(app) >= 4  # type + required in the body, status, content type


def test_enforce_mode_replaces_bad_responses_with_502(upstream: Proc) -> None:
    app = make_app(upstream.url, response_validation="enforce")
    good, bad, status, ctype = calls(
        app,
        ("GET", "/pets", {"headers": HEADERS}),
        ("GET", "/pets?bad=1", {"headers": HEADERS}),
        ("GET", "/pets/3?status=418", {}),
        ("GET", "/pets/3?ctype=text/plain", {}),
    )
    assert good.status_code == 200 and good.json() == [{"id": 1, "name": "rex"}]
    for r in (bad, status, ctype):
        assert r.status_code == 502
        assert r.json()["error"]["code"] == "UPSTREAM_CONTRACT_VIOLATION"
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert fields == {"response.body.0.id", "response.body.0.name"}


def test_off_mode_does_not_look(upstream: Proc) -> None:
    app = make_app(upstream.url, response_validation="off")
    (bad,) = calls(app, ("GET", "/pets?bad=1", {"headers": HEADERS}))
    assert bad.status_code == 200
    assert violations_metric(app) == 0


CORS = {"allow_origins": ["http://localhost:3000"], "allow_credentials": True, "max_age": 600}


def test_cors_preflight_answered_at_the_gateway() -> None:
    app = make_app(cors=CORS)
    ok, denied, unknown = calls(
        app,
        (
            "OPTIONS",
            "/pets/3",
            {
                "headers": {
                    "Origin": "http://localhost:3000",
                    "Access-Control-Request-Method": "DELETE",
                    "Access-Control-Request-Headers": "authorization, x-client-version",
                }
            },
        ),
        (
            "OPTIONS",
            "/pets/3",
            {"headers": {"Origin": "http://evil.test", "Access-Control-Request-Method": "GET"}},
        ),
        (
            "OPTIONS",
            "/nope",
            {
                "headers": {
                    "Origin": "http://localhost:3000",
                    "Access-Control-Request-Method": "GET",
                }
            },
        ),
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert ok.headers["access-control-allow-methods"] == "DELETE, GET, HEAD"
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert ok.headers["access-control-max-age"] == "600"
    assert ok.headers["access-control-allow-headers"] == "authorization, x-client-version"
    assert "access-control-allow-origin" not in denied.headers
    assert unknown.status_code == 404


def test_cors_and_security_headers_on_responses() -> None:
    app = make_app(cors=CORS)
    (r,) = calls(app, ("GET", "/nothing", {"headers": {"Origin": "http://localhost:3000"}}))
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "X-Request-ID" in r.headers["access-control-expose-headers"]
    assert "X-RateLimit-Remaining" in r.headers["access-control-expose-headers"]
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    app = make_app(security_headers=False)
    (r,) = calls(app, ("GET", "/nothing", {}))
    assert "x-frame-options" not in r.headers


def test_operations_endpoints(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "guide").mkdir(parents=True)
    (site / "index.html").write_text("<h1>portal</h1>")
    (site / "guide" / "index.html").write_text("<h1>guide</h1>")
    (site / "app.css").write_text("body{}")
    app = make_app(root=str(tmp_path))
    health, spec_json, spec_yaml, docs, guide, css, redirect, escape, missing, metrics = calls(
        app,
        ("GET", "/health", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/openapi.yaml", {}),
        ("GET", "/docs/", {}),
        ("GET", "/docs/guide/", {}),
        ("GET", "/docs/app.css", {}),
        ("GET", "/docs", {"follow_redirects": False}),
        ("GET", "/docs/../../etc/passwd", {}),
        ("GET", "/docs/nope.html", {}),
        ("GET", "/metrics", {}),
    )
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert spec_json.json() == json.loads(json.dumps(DOCUMENT))
    assert yaml.safe_load(spec_yaml.text) == json.loads(json.dumps(DOCUMENT))
    assert docs.text == "<h1>portal</h1>" and docs.headers["content-type"].startswith("text/html")
    assert guide.text == "<h1>guide</h1>"
    assert css.headers["content-type"].startswith("text/css")
    assert redirect.status_code == 307 and redirect.headers["location"] == "/docs/"
    assert escape.status_code == 404
    assert missing.status_code == 404
    assert "unispec_gateway_requests_total" in metrics.text


def test_docs_without_site_is_404() -> None:
    app = make_app(root="/nonexistent-unispec-root")
    (r,) = calls(app, ("GET", "/docs/", {}))
    assert r.status_code == 404
    assert "portal build" in r.json()["error"]["message"]


def test_structured_access_log_line(caplog: Any) -> None:
    import logging

    from unispec.gateway.observability import JsonFormatter

    app = make_app()
    with caplog.at_level(logging.INFO, logger="unispec.gateway.access"):
        (r,) = calls(app, ("GET", "/pets/abc", {"headers": {"X-Request-ID": "log-1"}}))
    records = [rec for rec in caplog.records if rec.name == "unispec.gateway.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["requestId"] == "log-1"
    assert line["operationId"] == "getPet"
    assert line["service"] == "pets"
    assert line["status"] == r.status_code == 422
    assert line["clientIp"] == "203.0.113.7"
    assert line["duration_ms"] >= 0 and line["upstream_ms"] is None


def test_access_log_fast_path_writes_the_formatter_s_json(monkeypatch: Any) -> None:
    """With only the gateway's own stderr handler, lines skip logging but keep their shape."""
    import asyncio
    import io
    import logging

    from unispec.gateway.observability import ACCESS_LOGGER, AccessLog, configure_logging

    root = logging.getLogger("unispec")
    saved = (list(root.handlers), root.level, root.propagate)
    for h in list(root.handlers):
        root.removeHandler(h)
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    try:
        configure_logging("INFO")
        log = AccessLog(True)
        assert log.active()
        kw: dict[str, Any] = {
            "method": "GET",
            "path": "/pets/1",
            "operation_id": "getPet",
            "service": "pets",
            "status": 200,
            "duration": 0.0123456,
            "upstream_duration": 0.01,
            "client_ip": "127.0.0.1",
        }
        log.write(request_id="outside-loop", **kw)

        async def in_loop() -> str:
            log.write(request_id="a", **kw)
            log.write(request_id="b", **kw)
            before = stream.getvalue()
            await asyncio.sleep(0)  # the buffered lines leave at the end of the iteration
            return before

        before = asyncio.run(in_loop())
        lines = [json.loads(x) for x in stream.getvalue().splitlines()]
        assert [x["requestId"] for x in lines] == ["outside-loop", "a", "b"]
        assert before.count("\n") == 1
        first = lines[0]
        assert list(first)[:4] == ["ts", "level", "logger", "msg"]
        assert first["level"] == "info" and first["logger"] == ACCESS_LOGGER
        assert first["msg"] == "request" and first["duration_ms"] == 12.346
        assert first["upstream_ms"] == 10.0 and first["operationId"] == "getPet"
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        handlers, level, propagate = saved
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)
        root.propagate = propagate
