"""Forwarding to upstreams: the only module of the gateway that opens connections.

The HTTP client is ``gateway/http1.py`` (asyncio protocols + httptools), chosen
by measurement (bench/README.md): behind the same gateway it costs a fraction of
aiohttp's CPU per request, and aiohttp a fraction of httpx's. aiohttp and httpx
stay selectable with ``UNISPEC_PROXY_CLIENT`` so the benchmark can show that.
The choice stays inside this module: callers see ``Proxy.send`` returning an
``UpstreamResponse`` whose body is an async iterator of chunks, and
``UpstreamError`` with a ``kind`` that maps to the gateway's answer
(connect -> 502, timeout -> 504, unavailable -> 503).

Bodies are streamed in both directions and forwarded as bytes (nothing is
decompressed or re-encoded), so a 200 MB download costs the gateway a few
64 KB buffers, not 200 MB.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from unispec.gateway import http1
from unispec.gateway.settings import PoolSettings, ServiceSettings

if TYPE_CHECKING:  # the measured alternatives load only when selected
    import aiohttp
    import httpx

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_HOP_BYTES = frozenset(h.encode() for h in HOP_BY_HOP)

KEEPALIVE_SECONDS = 4.0
"""Idle pooled connections are dropped before common upstream keep-alive timeouts
(uvicorn and Node close idle connections after 5 s)."""

Body = bytes | AsyncIterable[bytes] | None


class UpstreamError(Exception):
    """The upstream could not give an answer; ``kind`` decides the gateway's status."""

    STATUS: ClassVar[dict[str, int]] = {
        "connect": 502,
        "protocol": 502,
        "timeout": 504,
        "unavailable": 503,
    }
    CODE: ClassVar[dict[str, str]] = {
        "connect": "BAD_GATEWAY",
        "protocol": "BAD_GATEWAY",
        "timeout": "GATEWAY_TIMEOUT",
        "unavailable": "SERVICE_UNAVAILABLE",
    }

    def __init__(self, kind: str, message: str, *, sent_body: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.sent_body = sent_body
        """True when (part of) the request body may have reached the upstream."""

    @property
    def status(self) -> int:
        return self.STATUS.get(self.kind, 502)

    @property
    def code(self) -> str:
        return self.CODE.get(self.kind, "BAD_GATEWAY")


class UpstreamResponse:
    """A streamed upstream response; iterate ``body()`` once, then ``release()``.

    ``headers`` are lower-cased and free of hop-by-hop fields. ``complete`` says
    the whole body has already arrived (small answers usually come with their
    head), so the gateway can answer with one send.
    """

    __slots__ = ("headers", "read_timeout", "status")

    status: int
    headers: list[tuple[bytes, bytes]]
    read_timeout: float

    def _header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def content_type(self) -> str | None:
        value = self._header(b"content-type")
        return value.decode("latin-1") if value is not None else None

    @property
    def content_length(self) -> int | None:
        value = self._header(b"content-length")
        return int(value) if value and value.isdigit() else None

    @property
    def complete(self) -> bool:
        return False

    def take_all(self) -> bytes:
        """The whole body when ``complete`` (without waiting)."""
        raise NotImplementedError

    def body(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises ``UpstreamError`` on timeout or a broken stream."""
        raise NotImplementedError

    async def read(self, limit: int) -> tuple[list[bytes], bool]:
        """Buffer the body up to ``limit`` bytes: (chunks read, whether that was all).

        When the body is larger, the rest stays unread: ``body()`` continues it.
        """
        parts: list[bytes] = []
        size = 0
        async for chunk in self.body():
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                return parts, False
        return parts, True

    def release(self) -> None:
        """The body was read to the end: the connection can be reused."""
        raise NotImplementedError

    def close(self) -> None:
        """Drop the connection (the body was not read to the end)."""
        raise NotImplementedError


def _clean(raw: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for k, v in raw:
        name = k.lower()
        if name not in _HOP_BYTES:
            out.append((name, v))
    return out


class _Http1Response(UpstreamResponse):
    """The default client's answer (``gateway/http1.py``)."""

    __slots__ = ("_resp",)

    def __init__(self, resp: http1.Response, read_timeout: float) -> None:
        self._resp = resp
        self.status = resp.status
        self.read_timeout = read_timeout
        self.headers = _clean(resp.headers)

    @property
    def complete(self) -> bool:
        return self._resp.complete

    def take_all(self) -> bytes:
        return self._resp.take_all()

    async def body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.chunks():
                yield chunk
        except http1.HTTPError as exc:
            if exc.kind == "timeout":
                raise UpstreamError("timeout", f"upstream body read timed out: {exc}") from exc
            raise UpstreamError("protocol", f"upstream body broke off: {exc}") from exc

    def release(self) -> None:
        self._resp.release()

    def close(self) -> None:
        self._resp.close()


class _AiohttpResponse(UpstreamResponse):
    """The same interface over aiohttp (only for measuring the client choice)."""

    __slots__ = ("_aresp",)

    def __init__(self, resp: aiohttp.ClientResponse, read_timeout: float) -> None:
        self._aresp = resp
        self.status = resp.status
        self.read_timeout = read_timeout
        self.headers = _clean(resp.raw_headers)

    async def body(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for chunk in self._aresp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamError("timeout", f"upstream body read timed out: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError("protocol", f"upstream body broke off: {exc}") from exc

    def release(self) -> None:
        self._aresp.release()

    def close(self) -> None:
        self._aresp.close()


class _HttpxResponse(UpstreamResponse):
    """The same interface over httpx (only for measuring the client choice)."""

    __slots__ = ("_hresp",)

    def __init__(self, resp: httpx.Response, read_timeout: float) -> None:
        self._hresp = resp
        self.status = resp.status_code
        self.read_timeout = read_timeout
        self.headers = _clean(resp.headers.raw)

    async def body(self) -> AsyncIterator[bytes]:
        import httpx

        try:
            async for chunk in self._hresp.aiter_raw():
                yield chunk
        except httpx.TimeoutException as exc:
            raise UpstreamError("timeout", f"upstream body read timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError("protocol", f"upstream body broke off: {exc}") from exc

    def release(self) -> None:
        task = asyncio.get_running_loop().create_task(self._hresp.aclose())
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)

    def close(self) -> None:
        self.release()


_PENDING: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class Probe:
    """Result of one active health check."""

    url: str
    ok: bool
    latency: float | None
    error: str | None
    status: int | None = None


class Proxy:
    """Pooled keep-alive connections per upstream, created lazily inside the running loop."""

    def __init__(self, services: Mapping[str, ServiceSettings], pool: PoolSettings) -> None:
        self.services = dict(services)
        self.pool = pool
        self._rr: dict[str, itertools.cycle[str]] = {}
        self.client = os.environ.get("UNISPEC_PROXY_CLIENT", "http1")
        """http1 (default: ``gateway/http1.py``), or aiohttp / httpx (bench rows only)."""
        if self.client not in ("http1", "aiohttp", "httpx"):
            self.client = "http1"
        self._http1: http1.Client | None = None
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._timeouts: dict[str, aiohttp.ClientTimeout] = {}
        self._httpx: dict[str, httpx.AsyncClient] = {}

    def update_services(self, services: Mapping[str, ServiceSettings]) -> None:
        self.services = dict(services)
        self._rr.clear()

    def pick(self, service: ServiceSettings) -> str:
        """Round robin over the service's upstream base URLs."""
        cycle = self._rr.get(service.name)
        if cycle is None:
            cycle = itertools.cycle(service.upstreams)
            self._rr[service.name] = cycle
        return next(cycle)

    def service(self, name: str) -> ServiceSettings:
        """The enabled service with upstreams, else ``UpstreamError('unavailable')``."""
        service = self.services.get(name)
        if service is None or not service.enabled or not service.upstreams:
            state = "disabled" if service is not None and not service.enabled else "not configured"
            raise UpstreamError("unavailable", f"service {name!r} is {state}")
        return service

    def _pool(self, base_url: str, connect_timeout: float) -> http1.Pool:
        client = self._http1
        if client is None:
            client = self._http1 = http1.Client(
                max_connections=self.pool.max_connections,
                max_idle=self.pool.keepalive,
                keepalive_expiry=KEEPALIVE_SECONDS,
            )
        try:
            return client.pool(base_url, connect_timeout)
        except http1.HTTPError as exc:
            raise UpstreamError("connect", exc.message) from exc

    async def send(
        self,
        service: ServiceSettings,
        base_url: str,
        method: str,
        target: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: Body,
        read_timeout: float | None = None,
        length: int | None = None,
    ) -> UpstreamResponse:
        """Send one request; ``target`` is the raw path and query (still encoded).

        ``headers`` are the end-to-end request headers (no Host, no Content-Length:
        ``length`` is the size of a streamed ``body`` when known). ``read_timeout``
        shortens the service's read timeout for this call (a retry must not
        outlive the request's deadline).
        """
        if self.client != "http1":
            return await self._send_other(
                service, base_url, method, target, headers, body, read_timeout, length
            )
        timeout = service.read_timeout
        connect = service.connect_timeout
        if read_timeout is not None and read_timeout < timeout:
            timeout = read_timeout
            connect = min(connect, read_timeout)
        pool = self._pool(base_url, connect)
        sent = [False]
        data: Body = body
        if body is not None and not isinstance(body, bytes):
            data = _marking(body, sent)
        try:
            resp = await pool.request(
                method,
                target,
                headers,
                data,
                length=length,
                read_timeout=timeout,
                connect_timeout=connect,
            )
        except http1.HTTPError as exc:
            raise _upstream_error(
                exc, base_url, timeout, exc.sent_body or sent[0] or exc.kind == "timeout"
            ) from exc
        return _Http1Response(resp, service.read_timeout)

    def start(
        self,
        service: ServiceSettings,
        base_url: str,
        method: str,
        target: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes | None,
        notify: Callable[[UpstreamResponse | UpstreamError | None], None],
    ) -> bool:
        """``send`` without waiting, on an idle kept-alive connection; False if there is none.

        ``notify`` gets the response once its head has arrived, an ``UpstreamError``,
        or ``None`` when the kept-alive connection was found closed before the
        upstream read anything (then ``send`` the request again).
        """
        if self.client != "http1":
            return False
        try:
            pool = self._pool(base_url, service.connect_timeout)
        except UpstreamError:
            return False  # ``send`` reports it
        timeout = service.read_timeout

        def done(outcome: http1.Response | http1.HTTPError | None) -> None:
            if outcome is None:
                notify(None)
            elif isinstance(outcome, http1.HTTPError):
                notify(_upstream_error(outcome, base_url, timeout, True))
            else:
                notify(_Http1Response(outcome, timeout))

        return pool.start(method, target, headers, body, timeout, done)

    # -- the measured alternatives (UNISPEC_PROXY_CLIENT=aiohttp|httpx) ---------------------

    async def _send_other(
        self,
        service: ServiceSettings,
        base_url: str,
        method: str,
        target: str,
        raw_headers: Sequence[tuple[bytes, bytes]],
        body: Body,
        read_timeout: float | None,
        length: int | None,
    ) -> UpstreamResponse:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers]
        if length is not None and body is not None and not isinstance(body, bytes):
            headers.append(("content-length", str(length)))
        if self.client == "httpx":
            return await self._send_httpx(service, base_url, method, target, headers, body)
        return await self._send_aiohttp(
            service, base_url, method, target, headers, body, read_timeout
        )

    def _session(self, service: ServiceSettings) -> aiohttp.ClientSession:
        import aiohttp

        session = self._sessions.get(service.name)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.pool.max_connections,
                limit_per_host=0,
                keepalive_timeout=KEEPALIVE_SECONDS,
                use_dns_cache=True,
                ttl_dns_cache=None,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )
            self._sessions[service.name] = session
        return session

    async def _send_aiohttp(
        self,
        service: ServiceSettings,
        base_url: str,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: Body,
        read_timeout: float | None,
    ) -> UpstreamResponse:
        import aiohttp
        from yarl import URL

        session = self._session(service)
        url = URL(base_url + target, encoded=True)
        sent = [False]
        data: Any = body
        if body is not None and not isinstance(body, bytes):
            data = _marking(body, sent)
        elif body:
            sent[0] = True
        stale_retry = not (body is not None and not isinstance(body, bytes))
        bound = service.read_timeout
        if read_timeout is not None:
            bound = min(bound, read_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=min(service.connect_timeout, bound),
            sock_read=bound,
            ceil_threshold=1000.0,
        )
        while True:
            try:
                resp = await session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    timeout=timeout,
                    compress=None,
                    chunked=None,
                )
                break
            except aiohttp.ClientConnectorError as exc:
                raise UpstreamError(
                    "connect", f"cannot connect to {base_url}: {exc.os_error}"
                ) from exc
            except aiohttp.ConnectionTimeoutError as exc:
                raise UpstreamError("connect", f"connecting to {base_url} timed out") from exc
            except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                raise UpstreamError(
                    "timeout", f"{base_url} did not answer within {bound:g}s", sent_body=True
                ) from exc
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if stale_retry:
                    stale_retry = False
                    continue
                raise UpstreamError("protocol", f"{base_url}: {exc}", sent_body=sent[0]) from exc
            except aiohttp.ClientError as exc:
                raise UpstreamError("protocol", f"{base_url}: {exc}", sent_body=sent[0]) from exc
        return _AiohttpResponse(resp, service.read_timeout)

    async def _send_httpx(
        self,
        service: ServiceSettings,
        base_url: str,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: Body,
    ) -> UpstreamResponse:
        import httpx

        client = self._httpx.get(service.name)
        if client is None:
            client = httpx.AsyncClient(
                limits=httpx.Limits(
                    max_connections=self.pool.max_connections,
                    max_keepalive_connections=self.pool.keepalive,
                    keepalive_expiry=KEEPALIVE_SECONDS,
                ),
                timeout=httpx.Timeout(
                    connect=service.connect_timeout,
                    read=service.read_timeout,
                    write=None,
                    pool=None,
                ),
                follow_redirects=False,
            )
            self._httpx[service.name] = client
        request = client.build_request(method, base_url + target, headers=headers, content=body)
        try:
            resp = await client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise UpstreamError("connect", f"cannot connect to {base_url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise UpstreamError(
                "timeout", f"{base_url} did not answer in time", sent_body=True
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError("protocol", f"{base_url}: {exc}", sent_body=True) from exc
        return _HttpxResponse(resp, service.read_timeout)

    # -- health ---------------------------------------------------------------------------

    async def probe(self, service: ServiceSettings, base_url: str, path: str = "/") -> Probe:
        """One active health check: any HTTP answer below 500 means the upstream is up."""
        start = time.perf_counter()
        try:
            pool = self._pool(base_url, service.connect_timeout)
            async with asyncio.timeout(service.connect_timeout + min(service.read_timeout, 5.0)):
                resp = await pool.request(
                    "GET", path, (), None, read_timeout=min(service.read_timeout, 5.0)
                )
                try:
                    async for _ in resp.chunks():
                        pass
                finally:
                    resp.release()
        except (http1.HTTPError, UpstreamError, TimeoutError, OSError) as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}".strip()
            return Probe(base_url, False, None, message)
        latency = time.perf_counter() - start
        ok = resp.status < 500
        return Probe(base_url, ok, latency, None if ok else f"HTTP {resp.status}", resp.status)

    async def close(self) -> None:
        if self._http1 is not None:
            self._http1.close()
            self._http1 = None
        sessions = list(self._sessions.values())
        self._sessions.clear()
        clients = list(self._httpx.values())
        self._httpx.clear()
        for client in clients:
            await client.aclose()
        for session in sessions:
            await session.close()


def _upstream_error(
    exc: http1.HTTPError, base_url: str, timeout: float, sent_body: bool
) -> UpstreamError:
    """The client's error in the gateway's terms, naming the upstream."""
    if exc.kind == "timeout":
        message = f"{base_url} did not answer within {timeout:g}s"
    else:
        message = f"{base_url}: {exc.message}"
    return UpstreamError(exc.kind, message, sent_body=sent_body)


async def _marking(body: AsyncIterable[bytes], sent: list[bool]) -> AsyncIterator[bytes]:
    async for chunk in body:
        if chunk:
            sent[0] = True
            yield chunk
