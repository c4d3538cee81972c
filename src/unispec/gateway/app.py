"""The gateway ASGI app: wiring of routing, policies, validation and the proxy.

A plain ASGI callable rather than a Starlette/FastAPI app: the request path is
one coroutine with no middleware stack, because the throughput target (a
multiple of a naive FastAPI proxy, see bench/README.md) leaves no room for
per-layer ``send`` wrappers. The order of checks is the contract's
(DESIGN.md): route (404/405) -> size (413) -> auth (401/403) -> rate limit
(429) -> validation (415/422) -> proxy (502/503/504). Everything a step needs
is compiled in ``GatewayApp.__init__``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import mimetypes
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from unispec.emit import to_json, to_yaml
from unispec.errors import GatewayConfigError
from unispec.gateway.auth import (
    IDENTITY_HEADERS,
    AuthFailure,
    AuthPolicy,
    Identity,
    JWTVerifier,
    is_identity_header,
)
from unispec.gateway.auth import identity_headers as make_identity_headers
from unispec.gateway.balancer import Balancer
from unispec.gateway.breaker import STATE_VALUES, BreakerRegistry, BreakerSettings
from unispec.gateway.middleware import MESSAGES, Decorator, Headers, envelope, request_id
from unispec.gateway.observability import LOGGER, AccessLog, HealthMonitor, Metrics
from unispec.gateway.proxy import HOP_BY_HOP, Proxy, UpstreamError, UpstreamResponse
from unispec.gateway.ratelimit import (
    Decision,
    MemoryRateLimiter,
    RateLimitPolicy,
    RateLimitSettings,
    build_limiter,
    rate_limit_header_bytes,
)
from unispec.gateway.retry import RETRY_STATUSES, RetryPolicy
from unispec.gateway.retry import Outcome as RetryOutcome
from unispec.gateway.routing import RouteConflict, Router
from unispec.gateway.settings import GatewaySettings, ServiceSettings
from unispec.gateway.validation import (
    BodyMedia,
    MultipartScanner,
    OperationValidator,
    SchemaCompiler,
    Violation,
    check_response_body,
    compile_operation,
    response_expectation,
)
from unispec.model import HTTP_METHODS, UnifiedSpec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(LOGGER)

REPORT_BUFFER = 1024 * 1024
"""Largest response body that ``report`` mode validates (larger ones stream unchecked)."""
SMALL_BODY = 64 * 1024
"""Unvalidated bodies up to this size (with a Content-Length) are read whole."""
SPOOL_MEMORY = 1024 * 1024
"""Multipart bodies are spooled to disk past this size while their fields are checked."""

_STRIP_REQUEST = (
    HOP_BY_HOP | {"host", "x-request-id", "content-length", "expect"} | set(IDENTITY_HEADERS)
)
_STRIP_REQUEST_BYTES = frozenset(h.lower().encode("latin-1") for h in _STRIP_REQUEST)
_JSON = (b"content-type", b"application/json")


Outcome = UpstreamResponse | UpstreamError | None
"""A first upstream attempt's result: the answer, the error, or ``None`` for a
kept-alive connection found closed before the upstream read anything."""


class DirectReply(Protocol):
    """How the server lets ``GatewayApp.handle_direct`` answer one request."""

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Write the whole response (status line, headers, body) at once."""

    def hand_over(self, work: Callable[[Send], Awaitable[None]]) -> None:
        """Finish the request in a task, through the ASGI ``send`` of its cycle."""


class TooLarge(Exception):
    """The request body passed ``max_body_size`` while being read."""


@dataclass
class Route:
    """One operation, compiled: what each step of the request path needs."""

    operation_id: str
    service: str
    method: str
    template: str
    validator: OperationValidator
    auth: AuthPolicy
    rate: RateLimitPolicy | None


@dataclass(slots=True)
class Exchange:
    """Per-request state that the access log and metrics read at the end."""

    rid: str
    method: str
    path: str
    client_ip: str
    origin: str | None
    start: float
    route: Route | None = None
    status: int = 0
    upstream_time: float | None = None
    too_large: bool = False
    extra_headers: Headers = field(default_factory=list)


class GatewayApp:
    """The compiled gateway; an ASGI application."""

    def __init__(self, spec: UnifiedSpec, settings: GatewaySettings) -> None:
        self.spec = spec
        self.settings = settings
        self.document = spec.document
        self.router: Router[Route] = Router()
        self.routes: list[Route] = []
        self.compiler = SchemaCompiler(spec.document)
        self.response_validation = settings.response_validation
        self.validate_requests = settings.request_validation
        self._identity_cache: dict[int, tuple[Identity, list[tuple[bytes, bytes]]]] = {}
        self._compile_routes()
        self.verifier = self._build_verifier()
        self.limiter = (
            build_limiter(RateLimitSettings.from_mapping(settings.rate_limit))
            if any(r.rate is not None for r in self.routes)
            else None
        )
        self.proxy = Proxy(settings.services, settings.upstream_pool)
        self.breakers = BreakerRegistry(BreakerSettings.from_mapping(settings.breaker))
        self.retry = RetryPolicy.from_mapping(settings.retries)
        self.balancers: dict[str, Balancer] = {}
        self.metrics = Metrics()
        self.access_log = AccessLog(settings.access_log)
        self.decorator = Decorator(settings.cors, settings.security_headers)
        self.health = HealthMonitor(self.proxy, settings, self.metrics)
        self.health.on_probe = self._on_probe
        for name in settings.services:
            self.health.extra[name] = self._policy_state(name)
        self.max_body = settings.max_body_size
        self.openapi_json = to_json(spec.document)
        self._yaml_cache: bytes | None = None
        site = Path(settings.root) / "site"
        self.site_dir: Path | None = site.resolve() if site.is_dir() else None
        self.ops: dict[str, Callable[[Scope, Receive, Send, Exchange], Awaitable[None]]] = {
            "/health": self._health,
            "/services": self._services,
            "/metrics": self._metrics,
            "/openapi.json": self._openapi_json,
            "/openapi.yaml": self._openapi_yaml,
        }
        for template in sorted({r.template for r in self.routes}):
            if template in self.ops or template == "/docs" or template.startswith("/docs/"):
                log.warning(
                    "a contract path is shadowed by a gateway endpoint (GET/HEAD)",
                    extra={"fields": {"path": template}},
                )

    # -- start-up ------------------------------------------------------------------------

    def _compile_routes(self) -> None:
        paths = self.document.get("paths") or {}
        default_limit = RateLimitSettings.from_mapping(self.settings.rate_limit).default
        for template, item in paths.items():
            item = self.compiler.doc.resolve(item) if isinstance(item, dict) else {}
            for method in HTTP_METHODS:
                operation = item.get(method)
                if not isinstance(operation, dict):
                    continue
                operation_id = str(operation.get("operationId") or f"{method}:{template}")
                service = str(operation.get("x-service") or "default")
                validator = compile_operation(
                    self.compiler,
                    template,
                    method,
                    operation_id,
                    with_responses=self.response_validation != "off",
                )
                route = Route(
                    operation_id=operation_id,
                    service=service,
                    method=method.upper(),
                    template=template,
                    validator=validator,
                    auth=AuthPolicy.from_operation(operation, self.document),
                    rate=RateLimitPolicy.from_operation(operation, default_limit, operation_id),
                )
                try:
                    self.router.add(route.method, template, route)
                except RouteConflict as exc:
                    raise GatewayConfigError(f"unified spec: ambiguous paths: {exc}") from exc
                self.routes.append(route)

    def _build_verifier(self) -> JWTVerifier | None:
        if not any(r.auth.required or r.auth.optional for r in self.routes):
            return None
        jwt_settings = (self.settings.auth or {}).get("jwt")
        return JWTVerifier.from_settings(jwt_settings, base_dir=Path(self.settings.root))

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.health.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        await self.health.stop()
        await self.proxy.close()
        if self.limiter is not None:
            await self.limiter.aclose()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        client = scope.get("client")
        ex = Exchange(
            rid=request_id(headers.get("x-request-id")),
            method=scope["method"],
            path=path,
            client_ip=client[0] if client else "",
            origin=headers.get("origin"),
            start=start,
        )
        self.metrics.in_flight_count += 1
        await self._run(send, ex, self._dispatch(scope, receive, send, headers, ex))

    async def _run(self, send: Send, ex: Exchange, work: Awaitable[None]) -> None:
        """Run the rest of a request; a bug answers 500 and the request is still counted."""
        try:
            await work
        except Exception:
            log.exception("unhandled error", extra={"fields": {"requestId": ex.rid}})
            if ex.status == 0:
                await self._error(send, ex, 500, "INTERNAL_ERROR")
        finally:
            self.metrics.in_flight_count -= 1
            self._finish(ex)

    # -- the direct path ------------------------------------------------------------------

    def handle_direct(self, scope: Scope, body: bytes, reply: DirectReply) -> bool:
        """Serve a whole, small request without a task when it takes the common path.

        The server (``h1server.py``) calls this once a request with at most
        ``DIRECT_BODY`` body bytes has fully arrived. Returns False, having
        changed nothing, when the request needs anything else (an operations
        endpoint, an error answer from routing or validation, a multipart body,
        the Redis rate limiter, an open breaker, no idle upstream connection):
        the server then runs the ASGI path, which does everything. Otherwise the
        request is sent upstream on an idle kept-alive connection and answered
        from the protocol's callback, with the same checks, headers, metrics and
        log line as the ASGI path, which takes over whenever the answer is not
        small and complete or the retry policy has a say. Measured in
        bench/README.md: the per-request task, futures and ASGI messages were
        about half of the gateway's CPU per request.
        """
        method: str = scope["method"]
        if method in ("HEAD", "OPTIONS"):
            return False
        raw_path: bytes = scope["raw_path"]
        path = raw_path.decode("latin-1")
        if method == "GET" and (path in self.ops or path.startswith("/docs")):
            return False
        match = self.router.match(method, path)
        if match is None or match.target is None:
            return False
        route = match.target
        if route.rate is not None and not isinstance(self.limiter, MemoryRateLimiter):
            return False
        if self.breakers.get(route.service).state != "closed":
            return False
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.validate_requests:
            # Pure checks first: a request that fails them goes to the ASGI path
            # before anything was counted, so auth and rate limit still answer first.
            validator = route.validator
            query: bytes = scope["query_string"]
            if validator.check_params(match.params, query, headers):
                return False
            if validator.has_body:
                if not body:
                    if validator.body_required:
                        return False
                else:
                    content_type = headers.get("content-type")
                    media = validator.select_media(content_type) if content_type else None
                    if media is None:
                        return False
                    if media.kind == "json":
                        if validator.check_json(media, body):
                            return False
                    elif media.kind != "form" or validator.check_form(media, body):
                        return False
        client = scope.get("client")
        ex = Exchange(
            rid=request_id(headers.get("x-request-id")),
            method=method,
            path=path,
            client_ip=client[0] if client else "",
            origin=headers.get("origin"),
            start=time.perf_counter(),
            route=route,
        )
        self.metrics.in_flight_count += 1
        try:
            self._direct(scope, headers, ex, route, body, reply)
        except Exception:
            log.exception("unhandled error", extra={"fields": {"requestId": ex.rid}})
            if ex.status == 0:
                reply.respond(*self._error_parts(ex, 500, "INTERNAL_ERROR"))
            self._direct_done(ex)
        return True

    def _direct(
        self,
        scope: Scope,
        headers: dict[str, str],
        ex: Exchange,
        route: Route,
        body: bytes,
        reply: DirectReply,
    ) -> None:
        # Auth, then rate limit: the order of the ASGI path.
        identity: Identity | None = None
        if route.auth.required or route.auth.optional:
            try:
                identity = route.auth.check(self.verifier, headers.get("authorization"))
            except AuthFailure as exc:
                reply.respond(*self._auth_refusal(ex, exc))
                self._direct_done(ex)
                return
        if route.rate is not None and isinstance(self.limiter, MemoryRateLimiter):
            decision = route.rate.check_memory(self.limiter, identity, ex.client_ip)
            ex.extra_headers.extend(rate_limit_header_bytes(decision))
            if not decision.allowed:
                reply.respond(
                    *self._error_parts(ex, decision.status, decision.code, decision.message)
                )
                self._direct_done(ex)
                return
        data = body or None
        length = len(body) if body else None
        up_start = time.perf_counter()

        def rest(send: Send, first: tuple[str, float, Outcome] | None = None) -> Awaitable[None]:
            work = self._forward(scope, send, headers, ex, route, data, length, identity, first)
            return self._run(send, ex, work)

        try:
            service = self.proxy.service(route.service)
        except UpstreamError:
            reply.hand_over(rest)
            return
        balancer = self._balancer(service)
        base = balancer.pick()
        target = ex.path
        query = scope["query_string"]
        if query:
            target = f"{target}?{query.decode('latin-1')}"
        out_headers = self._upstream_headers(scope, headers, ex, identity)

        def answered(outcome: Outcome) -> None:
            try:
                if (
                    isinstance(outcome, UpstreamResponse)
                    and outcome.complete
                    and outcome.status not in RETRY_STATUSES
                ):
                    balancer.mark_success(base)
                    self.breakers.get(route.service).record_success()
                    answer = self._answer(ex, route, outcome)
                    ex.upstream_time = time.perf_counter() - up_start
                    reply.respond(*answer)
                    self._direct_done(ex)
                    return
                first = (base, up_start, outcome)
                reply.hand_over(lambda send: rest(send, first))
            except Exception:
                log.exception("unhandled error", extra={"fields": {"requestId": ex.rid}})
                if ex.status == 0:
                    reply.respond(*self._error_parts(ex, 500, "INTERNAL_ERROR"))
                self._direct_done(ex)

        if not self.proxy.start(service, base, ex.method, target, out_headers, data, answered):
            reply.hand_over(rest)

    def _direct_done(self, ex: Exchange) -> None:
        self.metrics.in_flight_count -= 1
        self._finish(ex)

    def _finish(self, ex: Exchange) -> None:
        duration = time.perf_counter() - ex.start
        route = ex.route
        op_id = route.operation_id if route else "-"
        service = route.service if route else "-"
        self.metrics.observe(op_id, ex.method, ex.status, duration, ex.upstream_time, service)
        if self.access_log.active():
            self.access_log.write(
                request_id=ex.rid,
                method=ex.method,
                path=ex.path,
                operation_id=route.operation_id if route else None,
                service=route.service if route else None,
                status=ex.status,
                duration=duration,
                upstream_duration=ex.upstream_time,
                client_ip=ex.client_ip,
            )

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], ex: Exchange
    ) -> None:
        method = ex.method
        path = ex.path.split("?", 1)[0]
        # Operations endpoints.
        if method in ("GET", "HEAD"):
            op = self.ops.get(path)
            if op is not None:
                await op(scope, receive, send, ex)
                return
            if path == "/docs" or path.startswith("/docs/"):
                await self._docs(send, ex, scope["path"])
                return
        match = self.router.match(method, path)
        # CORS preflight is answered here, never forwarded.
        if (
            method == "OPTIONS"
            and ex.origin
            and "access-control-request-method" in headers
            and self.settings.cors.enabled
        ):
            await self._preflight(send, ex, headers, match.allowed if match else None, match)
            return
        if match is None:
            await self._error(send, ex, 404, "NOT_FOUND", f"No operation matches {path}")
            return
        route = match.target
        if route is None:
            allow = ", ".join(match.allowed)
            await self._error(
                send,
                ex,
                405,
                "METHOD_NOT_ALLOWED",
                f"{method} is not allowed on {match.template} (allowed: {allow})",
                extra=[(b"allow", allow.encode())],
            )
            return
        ex.route = route
        # Size, before anything is read.
        length_header = headers.get("content-length")
        length: int | None = None
        if length_header is not None:
            try:
                length = int(length_header)
            except ValueError:
                length = None
            if length is not None and length > self.max_body:
                await self._too_large(send, ex)
                return
        # Auth.
        identity: Identity | None = None
        if route.auth.required or route.auth.optional:
            try:
                identity = route.auth.check(self.verifier, headers.get("authorization"))
            except AuthFailure as exc:
                status, out, refusal = self._auth_refusal(ex, exc)
                await send({"type": "http.response.start", "status": status, "headers": out})
                await send({"type": "http.response.body", "body": refusal})
                return
        # Rate limit (counted even when validation then fails).
        if route.rate is not None and self.limiter is not None:
            limiter = self.limiter
            if isinstance(limiter, MemoryRateLimiter):
                decision: Decision = route.rate.check_memory(limiter, identity, ex.client_ip)
            else:
                decision = await route.rate.check(limiter, identity, ex.client_ip)
            ex.extra_headers.extend(rate_limit_header_bytes(decision))
            if not decision.allowed:
                await self._error(send, ex, decision.status, decision.code, decision.message)
                return
        # Validation.
        validator = route.validator
        has_body = (length is not None and length > 0) or "transfer-encoding" in headers
        body: bytes | AsyncIterator[bytes] | None = None
        spool: Any = None
        problems: list[Violation] = []
        if self.validate_requests:
            problems = validator.check_params(match.params, scope.get("query_string", b""), headers)
        if validator.has_body and self.validate_requests:
            if not has_body:
                if validator.body_required:
                    problems.append(Violation("body", "required", "a request body is required"))
            else:
                content_type = headers.get("content-type")
                media = validator.select_media(content_type) if content_type else None
                if media is None:
                    documented = ", ".join(sorted(validator.media) or ["-"])
                    await self._error(
                        send,
                        ex,
                        415,
                        "UNSUPPORTED_MEDIA_TYPE",
                        f"Content-Type {content_type or '(none)'!r} is not accepted "
                        f"(documented: {documented})",
                    )
                    return
                try:
                    body, spool = await self._read_body(
                        media, content_type or "", receive, validator, problems, ex
                    )
                except TooLarge:
                    await self._too_large(send, ex)
                    return
        elif has_body:
            # Small bodies of known length are read whole: cheaper to send and
            # replayable if the retry policy wants another try.
            if length is not None and length <= SMALL_BODY:
                try:
                    body = await self._read_all(receive)
                except TooLarge:
                    await self._too_large(send, ex)
                    return
            else:
                body = self._stream(receive, ex)
        try:
            if problems:
                self.metrics.rejections.labels("VALIDATION_ERROR").inc()
                await self._error(
                    send,
                    ex,
                    422,
                    "VALIDATION_ERROR",
                    MESSAGES["VALIDATION_ERROR"],
                    details=[p.as_detail() for p in problems],
                )
                return
            await self._forward(scope, send, headers, ex, route, body, length, identity)
        finally:
            if spool is not None:
                spool.close()

    async def _read_body(
        self,
        media: BodyMedia,
        content_type: str,
        receive: Receive,
        validator: OperationValidator,
        problems: list[Violation],
        ex: Exchange,
    ) -> tuple[bytes | AsyncIterator[bytes] | None, Any]:
        """Read (JSON/form), spool (multipart) or pass through (other) a request body."""
        if media.kind in ("json", "form"):
            raw = await self._read_all(receive)
            if media.kind == "json":
                problems.extend(validator.check_json(media, raw))
            else:
                problems.extend(validator.check_form(media, raw))
            return raw, None
        if media.kind == "multipart":
            scanner = MultipartScanner(content_type)
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
            size = 0
            more = True
            while more:
                message = await receive()
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if chunk:
                    size += len(chunk)
                    if size > self.max_body:
                        spool.close()
                        raise TooLarge()
                    spool.write(chunk)
                    scanner.feed(chunk)
            scanner.finish()
            if scanner.error:
                problems.append(Violation("body", "multipart", scanner.error))
            else:
                problems.extend(validator.check_fields(media, scanner.fields))
            spool.seek(0)
            return _file_chunks(spool), spool
        return self._stream(receive, ex), None

    async def _read_all(self, receive: Receive) -> bytes:
        parts: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if chunk:
                size += len(chunk)
                if size > self.max_body:
                    raise TooLarge()
                parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _stream(self, receive: Receive, ex: Exchange) -> AsyncIterator[bytes]:
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise UpstreamError("protocol", "client disconnected while sending the body")
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if chunk:
                size += len(chunk)
                if size > self.max_body:
                    ex.too_large = True
                    raise TooLarge()
                yield chunk

    # -- proxy ---------------------------------------------------------------------------

    def _upstream_headers(
        self,
        scope: Scope,
        headers: dict[str, str],
        ex: Exchange,
        identity: Identity | None,
    ) -> list[tuple[bytes, bytes]]:
        connection = headers.get("connection", "")
        drop = _STRIP_REQUEST_BYTES
        if connection:
            drop = drop | {t.strip().lower().encode("latin-1") for t in connection.split(",")}
        out = [
            (k, v)
            for k, v in scope["headers"]
            if k not in drop
            and not (k[:1] == b"x" and (k.startswith(b"x-forwarded-") or is_identity_header(k)))
        ]
        xff = headers.get("x-forwarded-for")
        client_ip = ex.client_ip
        forwarded_for = f"{xff}, {client_ip}" if xff else client_ip
        out.append((b"x-forwarded-for", forwarded_for.encode("latin-1")))
        proto = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
        out.append((b"x-forwarded-proto", proto.encode("latin-1")))
        host = headers.get("x-forwarded-host") or headers.get("host")
        if host:
            out.append((b"x-forwarded-host", host.encode("latin-1")))
        out.append((b"x-request-id", ex.rid.encode("latin-1")))
        if identity is not None:
            out.extend(self._identity_headers(identity))
        return out

    def _identity_headers(self, identity: Identity) -> list[tuple[bytes, bytes]]:
        """The ``X-User-*`` headers of an identity, encoded once per identity."""
        # Keyed by object id (the verifier hands out the same Identity for a cached
        # token); the entry keeps the identity alive, so the id cannot be reused.
        cached = self._identity_cache.get(id(identity))
        if cached is None or cached[0] is not identity:
            if len(self._identity_cache) >= 10_000:
                self._identity_cache.clear()
            cached = (
                identity,
                [
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in make_identity_headers(identity)
                ],
            )
            self._identity_cache[id(identity)] = cached
        return cached[1]

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        headers: dict[str, str],
        ex: Exchange,
        route: Route,
        body: bytes | AsyncIterator[bytes] | None,
        length: int | None,
        identity: Identity | None,
        first: tuple[str, float, Outcome] | None = None,
    ) -> None:
        """Breaker -> balancer -> send, retrying when the retry policy allows it.

        ``first`` is (base URL, start time, outcome) of an attempt the direct path
        already made (its breaker admission included): it counts as attempt one.
        """
        up_start = time.perf_counter() if first is None else first[1]
        target = ex.path
        query = scope.get("query_string", b"")
        if query:
            target = f"{target}?{query.decode('latin-1')}"
        name = route.service
        try:
            service = self.proxy.service(name)
        except UpstreamError as exc:
            await self._upstream_failed(send, ex, route, exc)
            return
        breaker = self.breakers.get(name)
        wait = breaker.allow() if first is None else None
        if wait is not None:
            self.metrics.upstream_errors.labels(name, "breaker_open").inc()
            await self._error(
                send,
                ex,
                503,
                "SERVICE_UNAVAILABLE",
                f"Service {name!r} is failing; its circuit breaker is open",
                extra=[(b"retry-after", str(max(1, math.ceil(wait))).encode())],
            )
            return
        balancer = self._balancer(service)
        out_headers = self._upstream_headers(scope, headers, ex, identity)
        replayable = body is None or isinstance(body, bytes)
        idempotency_key = "idempotency-key" in headers
        tried: list[str] = []
        attempt = 0
        resp: UpstreamResponse | None = None
        settled = False
        pending = first
        try:
            while True:
                outcome: Outcome = None
                if pending is not None:
                    base, _, outcome = pending
                    pending = None
                else:
                    base = balancer.pick(exclude=tried)
                tried.append(base)
                # Retries never outlive the request's deadline (the first try keeps the
                # service's own read timeout).
                bound = self.retry.remaining(time.perf_counter() - up_start) if attempt else None
                try:
                    if isinstance(outcome, UpstreamError):
                        raise outcome
                    if outcome is not None:
                        resp = outcome
                    else:
                        resp = await self.proxy.send(
                            service, base, ex.method, target, out_headers, body, bound, length
                        )
                except UpstreamError as exc:
                    if ex.too_large:
                        settled = True
                        breaker.release()
                        ex.upstream_time = time.perf_counter() - up_start
                        await self._too_large(send, ex)
                        return
                    balancer.mark_failure(base)
                    kind: RetryOutcome = {"connect": "connect_error", "timeout": "timeout"}.get(
                        exc.kind, "send_error"
                    )  # type: ignore[assignment]
                    attempt += 1
                    delay = self.retry.next_delay(
                        attempt,
                        ex.method,
                        kind,
                        idempotency_key=idempotency_key,
                        elapsed=time.perf_counter() - up_start,
                        body_sent=exc.sent_body,
                        body_replayable=replayable,
                    )
                    if delay is None:
                        settled = True
                        breaker.record_failure(exc.kind)
                        ex.upstream_time = time.perf_counter() - up_start
                        await self._upstream_failed(send, ex, route, exc)
                        return
                    self.metrics.upstream_errors.labels(name, f"retried_{exc.kind}").inc()
                    log.info(
                        "retrying upstream call",
                        extra={
                            "fields": {
                                "requestId": ex.rid,
                                "service": name,
                                "kind": exc.kind,
                                "error": exc.message,
                                "attempt": attempt,
                            }
                        },
                    )
                    await asyncio.sleep(delay)
                    continue
                if resp.status in RETRY_STATUSES:
                    balancer.mark_failure(base)
                    attempt += 1
                    delay = self.retry.next_delay(
                        attempt,
                        ex.method,
                        "status",
                        idempotency_key=idempotency_key,
                        elapsed=time.perf_counter() - up_start,
                        body_sent=body is not None,
                        body_replayable=replayable,
                        status=resp.status,
                    )
                    if delay is not None:
                        resp.close()
                        resp = None
                        await asyncio.sleep(delay)
                        continue
                    breaker.record_failure(f"HTTP {resp.status}")
                else:
                    balancer.mark_success(base)
                    breaker.record_success()
                settled = True
                break
        finally:
            if not settled:
                breaker.release()
        try:
            await self._respond(send, ex, route, resp)
        finally:
            ex.upstream_time = time.perf_counter() - up_start

    def _balancer(self, service: ServiceSettings) -> Balancer:
        balancer = self.balancers.get(service.name)
        if balancer is None or balancer.urls != service.upstreams:
            balancer = Balancer(service.upstreams)
            self.balancers[service.name] = balancer
        return balancer

    async def _upstream_failed(
        self, send: Send, ex: Exchange, route: Route, exc: UpstreamError
    ) -> None:
        self.metrics.upstream_errors.labels(route.service, exc.kind).inc()
        log.warning(
            "upstream error",
            extra={
                "fields": {
                    "requestId": ex.rid,
                    "service": route.service,
                    "kind": exc.kind,
                    "error": exc.message,
                }
            },
        )
        await self._error(send, ex, exc.status, exc.code, f"{MESSAGES[exc.code]}: {exc.message}")

    def _answer(
        self, ex: Exchange, route: Route, resp: UpstreamResponse
    ) -> tuple[int, Headers, bytes]:
        """The whole answer to an upstream response that has arrived complete.

        Shared by both paths (``_respond`` and the direct path): small answers,
        the common case, are validated and decorated here without a wait.
        """
        out = list(resp.headers)
        out.extend(ex.extra_headers)
        self.decorator.decorate(out, ex.rid, ex.origin)
        data = resp.take_all()
        resp.release()
        status = resp.status
        mode = self.response_validation
        if mode != "off":
            problems, validator = response_expectation(route.validator, status, resp.content_type)
            if (
                not problems
                and validator is not None
                and ex.method != "HEAD"
                and status not in (204, 304)
                and len(data) <= (self.max_body if mode == "enforce" else REPORT_BUFFER)
                and not any(
                    k == b"content-encoding" and v.lower() != b"identity" for k, v in resp.headers
                )
            ):
                problems = check_response_body(validator, data)
            if problems:
                self._contract(ex, route, problems)
                if mode == "enforce":
                    return self._error_parts(
                        ex,
                        502,
                        "UPSTREAM_CONTRACT_VIOLATION",
                        MESSAGES["UPSTREAM_CONTRACT_VIOLATION"],
                        details=[p.as_detail() for p in problems][:50],
                    )
        if resp.content_length is None and status not in (204, 304) and ex.method != "HEAD":
            out.append((b"content-length", str(len(data)).encode()))
        ex.status = status
        return status, out, data

    async def _respond(
        self, send: Send, ex: Exchange, route: Route, resp: UpstreamResponse
    ) -> None:
        if resp.complete:
            status, headers, data = self._answer(ex, route, resp)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": data})
            return
        out = list(resp.headers)
        out.extend(ex.extra_headers)
        self.decorator.decorate(out, ex.rid, ex.origin)
        mode = self.response_validation
        head_only = ex.method == "HEAD"
        validator: Any = None
        if mode != "off":
            problems, validator = response_expectation(
                route.validator, resp.status, resp.content_type
            )
            if problems:
                self._contract(ex, route, problems)
                if mode == "enforce":
                    resp.close()
                    await self._violation(send, ex, problems)
                    return
        if head_only or resp.status in (204, 304):
            validator = None
        elif validator is not None and any(
            k == b"content-encoding" and v.lower() != b"identity" for k, v in resp.headers
        ):
            validator = None  # compressed bytes are forwarded as they are, not decoded
        if validator is not None and mode == "enforce":
            parts, complete = await self._buffer(resp, self.max_body)
            if complete:
                problems = check_response_body(validator, b"".join(parts))
                if problems:
                    self._contract(ex, route, problems)
                    resp.close()
                    await self._violation(send, ex, problems)
                    return
            else:
                log.info("response too large to validate", extra={"fields": {"requestId": ex.rid}})
            await self._stream_out(send, ex, resp, out, parts, more=not complete)
            return
        tee: list[bytes] | None = [] if validator is not None else None
        await self._stream_out(send, ex, resp, out, [], more=not head_only, tee=tee)
        if (
            tee is not None
            and validator is not None
            and tee
            and sum(map(len, tee)) <= REPORT_BUFFER
        ):
            problems = check_response_body(validator, b"".join(tee))
            if problems:
                self._contract(ex, route, problems)

    async def _buffer(self, resp: UpstreamResponse, limit: int) -> tuple[list[bytes], bool]:
        try:
            return await resp.read(limit)
        except UpstreamError:
            return [], True

    async def _stream_out(
        self,
        send: Send,
        ex: Exchange,
        resp: UpstreamResponse,
        headers: Headers,
        first: list[bytes],
        *,
        more: bool,
        tee: list[bytes] | None = None,
    ) -> None:
        ex.status = resp.status
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        for chunk in first:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        complete = False
        teed = 0
        try:
            if more:
                async for chunk in resp.body():
                    if tee is not None:
                        teed += len(chunk)
                        if teed <= REPORT_BUFFER:
                            tee.append(chunk)
                        else:
                            tee.clear()
                            tee = None
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            complete = True
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels(
                ex.route.service if ex.route else "-", exc.kind
            ).inc()
            log.warning(
                "upstream body failed",
                extra={"fields": {"requestId": ex.rid, "kind": exc.kind, "error": exc.message}},
            )
        finally:
            if complete:
                resp.release()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                resp.close()
        if tee is None and more:
            return

    def _contract(self, ex: Exchange, route: Route, problems: list[Violation]) -> None:
        for p in problems:
            self.metrics.contract_violations.labels(route.operation_id, p.code).inc()
        log.warning(
            "upstream response violates the contract",
            extra={
                "fields": {
                    "requestId": ex.rid,
                    "operationId": route.operation_id,
                    "violations": [p.as_detail() for p in problems][:20],
                }
            },
        )

    async def _violation(self, send: Send, ex: Exchange, problems: list[Violation]) -> None:
        await self._error(
            send,
            ex,
            502,
            "UPSTREAM_CONTRACT_VIOLATION",
            MESSAGES["UPSTREAM_CONTRACT_VIOLATION"],
            details=[p.as_detail() for p in problems][:50],
        )

    # -- answers made here ---------------------------------------------------------------

    async def _too_large(self, send: Send, ex: Exchange) -> None:
        self.metrics.rejections.labels("PAYLOAD_TOO_LARGE").inc()
        await self._error(
            send,
            ex,
            413,
            "PAYLOAD_TOO_LARGE",
            f"Request body is larger than {self.max_body} bytes",
            extra=[(b"connection", b"close")],
        )

    async def _error(
        self,
        send: Send,
        ex: Exchange,
        status: int,
        code: str,
        message: str | None = None,
        *,
        details: list[dict[str, str]] | None = None,
        extra: Headers | None = None,
    ) -> None:
        status, headers, body = self._error_parts(
            ex, status, code, message, details=details, extra=extra
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _auth_refusal(self, ex: Exchange, exc: AuthFailure) -> tuple[int, Headers, bytes]:
        """The 401/403 answer to a failed auth check (with its WWW-Authenticate).

        Counted once, in ``_error_parts``, like every other refusal.
        """
        extra = [(k.lower().encode(), v.encode("latin-1")) for k, v in exc.headers().items()]
        return self._error_parts(ex, exc.status, exc.code, exc.message, extra=extra)

    def _error_parts(
        self,
        ex: Exchange,
        status: int,
        code: str,
        message: str | None = None,
        *,
        details: list[dict[str, str]] | None = None,
        extra: Headers | None = None,
    ) -> tuple[int, Headers, bytes]:
        """An error answer in the envelope of DESIGN.md, counted in the metrics."""
        if code not in ("VALIDATION_ERROR", "PAYLOAD_TOO_LARGE") and status < 500:
            self.metrics.rejections.labels(code).inc()
        body = envelope(code, message or MESSAGES.get(code, code), ex.rid, details or ())
        headers: Headers = [_JSON, (b"content-length", str(len(body)).encode())]
        if extra:
            headers.extend(extra)
        headers.extend(ex.extra_headers)
        self.decorator.decorate(headers, ex.rid, ex.origin)
        ex.status = status
        return status, headers, b"" if ex.method == "HEAD" else body

    async def _plain(
        self,
        send: Send,
        ex: Exchange,
        status: int,
        body: bytes,
        content_type: bytes,
        api: bool = True,
    ) -> None:
        headers: Headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
        ]
        self.decorator.decorate(headers, ex.rid, ex.origin, api=api)
        ex.status = status
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if ex.method == "HEAD" else body})

    async def _preflight(
        self,
        send: Send,
        ex: Exchange,
        headers: dict[str, str],
        allowed: tuple[str, ...] | None,
        match: Any,
    ) -> None:
        if match is None:
            await self._error(send, ex, 404, "NOT_FOUND", f"No operation matches {ex.path}")
            return
        methods = match.allowed
        answer = self.decorator.preflight(
            ex.origin or "", methods, headers.get("access-control-request-headers")
        )
        out: Headers = [(b"content-length", b"0")]
        if answer is not None:
            out.extend(answer)
        ex.status = 204
        out.append((b"x-request-id", ex.rid.encode()))
        await send({"type": "http.response.start", "status": 204, "headers": out})
        await send({"type": "http.response.body", "body": b""})

    async def _health(self, scope: Scope, receive: Receive, send: Send, ex: Exchange) -> None:
        body = json.dumps({"status": "ok", "operations": len(self.routes)}).encode()
        await self._plain(send, ex, 200, body, b"application/json")

    async def _services(self, scope: Scope, receive: Receive, send: Send, ex: Exchange) -> None:
        report = await self.health.report()
        status = 200 if report["status"] != "down" else 503
        await self._plain(send, ex, status, json.dumps(report).encode(), b"application/json")

    def _on_probe(self, service: str, url: str, ok: bool) -> None:
        """Active health checks feed the balancer (an instance that fails is skipped)."""
        balancer = self.balancers.get(service)
        if balancer is not None:
            balancer.set_health(url, ok)

    def _policy_state(self, name: str) -> Callable[[], dict[str, Any]]:
        def state() -> dict[str, Any]:
            out: dict[str, Any] = {"breaker": self.breakers.get(name).snapshot()}
            balancer = self.balancers.get(name)
            if balancer is not None:
                out["instances"] = balancer.snapshot()
            return out

        return state

    async def _metrics(self, scope: Scope, receive: Receive, send: Send, ex: Exchange) -> None:
        for name, breaker in self.breakers.items():
            self.metrics.breaker_state.labels(name).set(STATE_VALUES[breaker.state])
        if self.limiter is not None:
            self.metrics.ratelimit_backend_errors.set(self.limiter.backend_errors)
        await self._plain(
            send, ex, 200, self.metrics.render(), b"text/plain; version=0.0.4; charset=utf-8"
        )

    async def _openapi_json(self, scope: Scope, receive: Receive, send: Send, ex: Exchange) -> None:
        await self._plain(send, ex, 200, self.openapi_json, b"application/json", api=False)

    async def _openapi_yaml(self, scope: Scope, receive: Receive, send: Send, ex: Exchange) -> None:
        if self._yaml_cache is None:  # rendered on first use: YAML is slow to emit
            self._yaml_cache = await asyncio.to_thread(to_yaml, self.spec.document)
        await self._plain(send, ex, 200, self._yaml_cache, b"application/yaml", api=False)

    async def _docs(self, send: Send, ex: Exchange, path: str) -> None:
        if self.site_dir is None:
            await self._error(
                send, ex, 404, "NOT_FOUND", "No portal site: run `unispec portal build` first"
            )
            return
        relative = path[len("/docs") :].lstrip("/")
        if path == "/docs":
            ex.status = 307
            headers: Headers = [(b"location", b"/docs/"), (b"content-length", b"0")]
            self.decorator.decorate(headers, ex.rid, ex.origin, api=False)
            await send({"type": "http.response.start", "status": 307, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        target = (self.site_dir / relative).resolve()
        if not target.is_relative_to(self.site_dir):
            await self._error(send, ex, 404, "NOT_FOUND", "Not found")
            return
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            await self._error(send, ex, 404, "NOT_FOUND", f"No page at {path}")
            return
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in (
            "application/javascript",
            "application/json",
        ):
            content_type += "; charset=utf-8"
        data = await asyncio.to_thread(target.read_bytes)
        await self._plain(send, ex, 200, data, content_type.encode(), api=False)


async def _file_chunks(spool: Any, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    while True:
        chunk = spool.read(size)
        if not chunk:
            return
        yield chunk


def build_gateway_app(spec: UnifiedSpec, settings: GatewaySettings) -> GatewayApp:
    """Compile the gateway for a contract; raises ``GatewayConfigError`` on bad input."""
    return GatewayApp(spec, settings)
