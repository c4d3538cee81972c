"""Prometheus metrics and the structured JSON access log.

Each gateway app owns a private ``CollectorRegistry`` so that several apps in
one process (tests, ``up`` with mocks) never share or clash on metric names.
The series every request touches are plain numbers exported at scrape time
(``RequestStats``); the rarer ones (rejections, upstream errors) use the client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

ACCESS_LOGGER = "unispec.gateway.access"
LOGGER = "unispec.gateway"

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: the message plus the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, separators=(",", ":"), default=str)


def configure_logging(level: str | None = None) -> None:
    """JSON lines on stderr for the gateway loggers; level from UNISPEC_LOG_LEVEL."""
    name = (level or os.environ.get("UNISPEC_LOG_LEVEL") or "INFO").upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root = logging.getLogger("unispec")
    root.setLevel(numeric)
    if not any(getattr(h, "_unispec", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._unispec = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False


class RequestStats:
    """The per-request series (count, overhead and upstream histograms) as plain numbers.

    ``prometheus_client`` takes a lock and does several calls per observation
    (five per request for one counter and two histograms: a few µs, measured in
    bench/README.md); the gateway runs one event loop per process, so plain
    integers suffice. They are turned into Prometheus metric families only when
    ``/metrics`` is scraped (``collect``), with the names and labels the client
    library would give them.
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.overhead: dict[str, list[float]] = {}
        self.upstream: dict[str, list[float]] = {}

    def observe(
        self,
        operation_id: str,
        method: str,
        status: int,
        total: float,
        upstream: float | None,
        service: str,
    ) -> None:
        key = (operation_id, method, status)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        gateway = total - upstream if upstream is not None else total
        _observe(self.overhead, operation_id, gateway if gateway > 0.0 else 0.0)
        if upstream is not None:
            _observe(self.upstream, service, upstream)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "unispec_gateway_requests",
            "Requests answered by the gateway, by operation, method and status.",
            labels=["operation_id", "method", "status"],
        )
        for (operation_id, method, status), count in sorted(self.requests.items()):
            requests.add_metric([operation_id, method, str(status)], count)
        yield requests
        yield _histogram(
            "unispec_gateway_overhead_seconds",
            "Time spent in the gateway itself (total minus upstream time).",
            "operation_id",
            self.overhead,
        )
        yield _histogram(
            "unispec_gateway_upstream_seconds",
            "Time from sending the request upstream to the end of its response.",
            "service",
            self.upstream,
        )


def _observe(series: dict[str, list[float]], key: str, value: float) -> None:
    """Count ``value`` in its bucket (non-cumulative counts, the sum last)."""
    counts = series.get(key)
    if counts is None:
        counts = series[key] = [0.0] * (len(_BUCKETS) + 2)
    counts[bisect_left(_BUCKETS, value)] += 1
    counts[-1] += value


def _histogram(name: str, doc: str, label: str, series: dict[str, list[float]]) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=[label])
    bounds = [*(str(b) for b in _BUCKETS), "+Inf"]  # what the client writes for them
    for key, counts in sorted(series.items()):
        cumulative = list(accumulate(counts[:-1]))
        family.add_metric([key], list(zip(bounds, cumulative, strict=True)), sum_value=counts[-1])
    return family


class Metrics:
    """The gateway's metrics, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.stats = RequestStats()
        r.register(self.stats)
        self.observe = self.stats.observe
        self.rejections = Counter(
            "unispec_gateway_rejections",
            "Requests the gateway answered itself, by error code.",
            ["code"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "unispec_gateway_upstream_errors",
            "Upstream failures by service and kind (connect, timeout, protocol, unavailable).",
            ["service", "kind"],
            registry=r,
        )
        self.contract_violations = Counter(
            "unispec_gateway_response_contract_violations",
            "Upstream responses that did not match the contract, by operation and check.",
            ["operation_id", "check"],
            registry=r,
        )
        self.in_flight_count = 0
        """Plain int on the request path; the gauge reads it at scrape time."""
        self.in_flight = Gauge(
            "unispec_gateway_in_flight_requests", "Requests being handled now.", registry=r
        )
        self.in_flight.set_function(lambda: self.in_flight_count)
        self.upstream_up = Gauge(
            "unispec_gateway_upstream_up",
            "1 when the last health check of the upstream succeeded.",
            ["service", "upstream"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "unispec_gateway_breaker_state",
            "Circuit breaker state per service: 0 closed, 1 half-open, 2 open.",
            ["service"],
            registry=r,
        )
        self.ratelimit_backend_errors = Gauge(
            "unispec_gateway_ratelimit_backend_errors",
            "Requests decided by failure_mode because the rate-limit backend was unreachable.",
            registry=r,
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class AccessLog:
    """Writes one JSON line per request when the access logger is enabled for INFO.

    The lines go through ``logging`` (so a user's logging configuration, or
    pytest's caplog, sees them) except in the common case where the only
    handler is the gateway's own JSON handler on stderr (``configure_logging``):
    then the line is serialised directly (the same JSON object ``JsonFormatter``
    writes), and the lines of one event-loop iteration leave in one write. The logging path
    cost ~30 µs per request, a tenth of the gateway's CPU (bench/README.md).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.enabled = enabled
        self._buffer: list[str] = []
        self._scheduled = False

    def active(self) -> bool:
        return self.enabled and self.logger.isEnabledFor(logging.INFO)

    def write(
        self,
        *,
        request_id: str,
        method: str,
        path: str,
        operation_id: str | None,
        service: str | None,
        status: int,
        duration: float,
        upstream_duration: float | None,
        client_ip: str | None,
    ) -> None:
        fields = {
            "requestId": request_id,
            "method": method,
            "path": path,
            "operationId": operation_id,
            "service": service,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "upstream_ms": (
                None if upstream_duration is None else round(upstream_duration * 1000, 3)
            ),
            "clientIp": client_ip,
        }
        stream = _own_stream(self.logger)
        if stream is None:
            self.logger.info("request", extra={"fields": fields})
            return
        payload: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "level": "info",
            "logger": ACCESS_LOGGER,
            "msg": "request",
        }
        payload.update(fields)
        self._buffer.append(_dumps_line(payload))
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush(stream)
            return
        self._scheduled = True
        loop.call_soon(self._flush, stream)

    def _flush(self, stream: Any) -> None:
        self._scheduled = False
        lines = self._buffer
        if not lines:
            return
        text = "".join(lines) if len(lines) > 1 else lines[0]
        lines.clear()
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # stderr closed: like logging, never fail a request
            pass


def _own_stream(logger: logging.Logger) -> Any:
    """stderr when ``configure_logging``'s handler is the only one the record reaches."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            if len(current.handlers) != 1 or current.filters:
                return None
            handler = current.handlers[0]
            if not getattr(handler, "_unispec", False) or handler.filters:
                return None
            if handler.level > logging.INFO or current.propagate:
                return None
            return getattr(handler, "stream", None)
        if current.filters or not current.propagate:
            return None
        current = current.parent
    return None


try:  # orjson writes the same compact JSON as json.dumps(separators=(",", ":"))
    import orjson

    def _dumps_line(payload: dict[str, Any]) -> str:
        return orjson.dumps(payload, default=str).decode() + "\n"

except ImportError:  # pragma: no cover - depends on the environment

    def _dumps_line(payload: dict[str, Any]) -> str:
        return json.dumps(payload, separators=(",", ":"), default=str) + "\n"


def now() -> float:
    return time.perf_counter()


class HealthMonitor:
    """Background active health checks of every upstream, for ``/services``.

    The checks run on ``health_interval`` in the app's event loop (started by
    the ASGI lifespan); when no lifespan ran (in-process tests), ``report``
    checks on demand. The proxy does the I/O: this class only keeps results.
    """

    def __init__(self, proxy: Any, settings: Any, metrics: Metrics) -> None:
        self.proxy = proxy
        self.settings = settings
        self.metrics = metrics
        self.results: dict[str, dict[str, Any]] = {}
        self._task: Any = None
        self.on_probe: Any = None
        """Called with (service, url, ok) after each probe (feeds the balancer)."""
        self.extra: dict[str, Any] = {}
        """service -> callable returning extra state (breaker) merged into the report."""

    def start(self) -> None:
        import asyncio

        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        import asyncio
        import contextlib

        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _loop(self) -> None:
        import asyncio

        while True:
            try:
                await self.check_all()
            except Exception:  # a failing check must never stop the monitor
                logging.getLogger(LOGGER).exception("health check failed")
            await asyncio.sleep(self.settings.health_interval)

    async def check_all(self) -> None:
        import asyncio

        jobs = []
        names = []
        for name, service in self.proxy.services.items():
            if not service.enabled:
                continue
            for url in service.upstreams:
                jobs.append(self.proxy.probe(service, url))
                names.append(name)
        results = await asyncio.gather(*jobs)
        fresh: dict[str, dict[str, Any]] = {}
        for name, probe in zip(names, results, strict=True):
            entry = fresh.setdefault(name, {"upstreams": []})
            entry["upstreams"].append(
                {
                    "url": probe.url,
                    "status": "up" if probe.ok else "down",
                    "latency_ms": None if probe.latency is None else round(probe.latency * 1000, 2),
                    "last_error": probe.error,
                    "checked_at": round(time.time(), 3),
                }
            )
            self.metrics.upstream_up.labels(name, probe.url).set(1 if probe.ok else 0)
            if self.on_probe is not None:
                self.on_probe(name, probe.url, probe.ok)
        for name, entry in fresh.items():
            previous = self.results.get(name, {})
            errors = [u["last_error"] for u in entry["upstreams"] if u["last_error"]]
            entry["last_error"] = errors[0] if errors else previous.get("last_error")
        self.results.update(fresh)

    async def report(self) -> dict[str, Any]:
        if self._task is None or not self.results:
            await self.check_all()
        services: dict[str, Any] = {}
        states: list[str] = []
        for name, service in sorted(self.proxy.services.items()):
            if not service.enabled:
                services[name] = {"status": "disabled", "upstreams": []}
                continue
            entry = self.results.get(
                name, {"upstreams": [], "last_error": "no upstream configured"}
            )
            ups = entry["upstreams"]
            up = sum(1 for u in ups if u["status"] == "up")
            if ups and up == len(ups):
                status = "up"
            elif up:
                status = "degraded"
            else:
                status = "down"
            latencies = [u["latency_ms"] for u in ups if u["latency_ms"] is not None]
            services[name] = {
                "status": status,
                "latency_ms": min(latencies) if latencies else None,
                "last_error": entry.get("last_error"),
                "upstreams": ups,
            }
            hook = self.extra.get(name)
            if hook is not None:
                services[name].update(hook())
            states.append(status)
        if not states or all(s == "up" for s in states):
            overall = "ok"
        elif all(s == "down" for s in states):
            overall = "down"
        else:
            overall = "degraded"
        return {"status": overall, "services": services}
