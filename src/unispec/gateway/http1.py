"""A lean HTTP/1.1 keep-alive client for the proxy: asyncio protocols + httptools.

Why not aiohttp or httpx: measured behind the same gateway (bench/README.md),
the client decided the gateway's throughput. aiohttp's ``session.request``
builds a dozen objects per call (request, response, timers, trace hooks, cookie
and redirect handling, a writer task) and httpx several times more; a proxy
needs none of that. This module does only what forwarding needs, with the
parser uvicorn uses (httptools, llhttp):

- one pool per upstream origin, LIFO reuse of idle keep-alive connections,
  at most ``max_connections`` open (callers wait for a free one), idle ones
  closed after ``keepalive_expiry`` seconds, at most ``max_idle`` kept;
- the request head and a small body leave in one write; larger or streamed
  bodies are written as they come (``Content-Length`` when known, else
  chunked) with the transport's flow control, so an upload never buffers whole;
- the response body is handed over as the parser delivers it, and reading
  from the socket pauses while more than ``HIGH_WATER`` bytes wait for the
  consumer, so a slow client never makes the gateway buffer a download;
- timeouts are connect (opening a connection) and read (no byte from the
  upstream for that long while a response is awaited); both cost one timer
  per wait, not per chunk;
- a reused connection that the upstream closed while idle is retried once on a
  fresh one when no response byte arrived and the body can be replayed.

Errors are ``HTTPError`` with a ``kind`` (connect, timeout, protocol); the
proxy maps them to the gateway's 502/504.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

HIGH_WATER = 256 * 1024
"""Buffered response bytes above which reading from the upstream pauses."""
LOW_WATER = 64 * 1024
SMALL_WRITE = 64 * 1024
"""Bodies up to this size are joined with the head into one write."""
MAX_HEAD = 64 * 1024
"""Bytes an upstream may send before its answer's head ends (interim 1xx answers
included): past it the answer is a protocol error (502), as nginx answers "upstream
sent too big header". Without a cap a broken upstream could grow the header list,
or keep the read timer from firing with endless 1xx answers, without end."""

Header = tuple[bytes, bytes]
Body = bytes | AsyncIterable[bytes] | None


class HTTPError(Exception):
    """The upstream gave no usable answer: ``kind`` is connect, timeout or protocol."""

    def __init__(self, kind: str, message: str, *, sent_body: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.sent_body = sent_body


class _Stale(Exception):
    """A reused connection died before any byte of the answer: safe to try again."""


@dataclass(frozen=True)
class Origin:
    """Where a base URL points: the pool key, plus the path prefix of the base URL."""

    scheme: str
    host: str
    port: int
    prefix: str
    host_header: bytes

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise HTTPError("connect", f"unsupported upstream URL {base_url!r}")
        default = 443 if scheme == "https" else 80
        try:
            port = parts.port or default
        except ValueError as exc:  # a port out of range or not a number
            raise HTTPError("connect", f"unsupported upstream URL {base_url!r}: {exc}") from exc
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == default else f"{shown}:{port}"
        return cls(scheme, host, port, parts.path.rstrip("/"), host_header.encode("idna"))


class Connection(asyncio.Protocol):
    """One keep-alive connection; carries one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.used = 0
        # Per exchange.
        self.status = 0
        self.headers: list[Header] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.head_done = False
        self.complete = False
        self.got_bytes = False
        self.head_bytes = 0
        self.error: HTTPError | None = None
        self.keep_alive = False
        self.head_request = False
        self.waiter: asyncio.Future[None] | None = None
        self.read_paused = False
        self.last_read = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.read_timeout = 30.0
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        # Set while an exchange started by ``Pool.start`` waits for its head.
        self.notify: Callable[[Response | HTTPError | None], None] | None = None
        self.feeding = False

    # -- protocol callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.last_read = self.loop.time()
        self.feeding = True
        try:
            self.parser.feed_data(data)
            if not self.head_done:
                self.head_bytes += len(data)
                if self.head_bytes > MAX_HEAD and self.error is None:
                    self._fail(
                        HTTPError(
                            "protocol",
                            f"the upstream's response head is larger than {MAX_HEAD // 1024} KB",
                        )
                    )
        except httptools.HttpParserUpgrade:
            self._fail(HTTPError("protocol", "the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            if self.complete:
                # Junk after a whole answer (a wrong Content-Length, say): the answer
                # stands, only the connection is spoilt.
                self._spoil()
            else:
                self._fail(HTTPError("protocol", f"malformed response from the upstream: {exc}"))
        finally:
            self.feeding = False
        if self.notify is not None:
            # After the whole chunk is parsed: a small body that came with its head
            # is complete by now, so the callback can answer at once.
            self._report()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)
        if self.complete or self.error is not None:
            self._wake()
            return
        if self.head_done and not self._framed():
            # No Content-Length, not chunked: the body ends when the upstream closes.
            self.complete = True
            self._wake()
            return
        idle = self.waiter is None and self.notify is None
        if idle and not self.head_done and not self.got_bytes:
            return  # idle in the pool: nothing to report
        detail = f": {exc}" if exc else ""
        if self.head_done:
            self._fail(HTTPError("protocol", f"the upstream closed the body early{detail}"))
        else:
            self._fail(HTTPError("protocol", f"the upstream closed the connection{detail}"))

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- parser callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            # A message nobody asked for (after the answer, or while idle): ignored, and
            # the connection is not reused, since where the next answer starts is unknown.
            self._spoil()

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.complete:
            return  # an unsolicited message (see on_message_begin)
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.headers = []  # 1xx interim answer: the real one follows
            return
        self.status = status
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()
        if self.head_request or status in (204, 304):
            # No body follows; llhttp cannot be told about HEAD, so the connection
            # is not reused after a HEAD (the parser would wait for the length).
            self.complete = True
            if self.head_request:
                self.keep_alive = False
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self.head_done:
            return  # end of a 1xx interim answer
        self.complete = True
        self._wake()

    # -- helpers --------------------------------------------------------------------------

    def _framed(self) -> bool:
        """Whether the answer's body has a length (else the upstream's close ends it)."""
        for name, value in self.headers:
            lname = name.lower()
            if lname == b"content-length" or (
                lname == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                return True
        return False

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        elif self.notify is not None and not self.feeding:
            self._report()

    def _report(self) -> None:
        """Hand the outcome of a ``Pool.start`` exchange to its callback, once known."""
        notify = self.notify
        if notify is None:
            return
        error = self.error
        if error is None and not self.head_done:
            return
        self.notify = None
        if error is not None:
            self.cancel_timer()
            self.pool.put(self)
            if error.kind == "protocol" and not self.got_bytes:
                notify(None)  # a stale kept-alive connection: the request can go again
            else:
                notify(HTTPError(error.kind, error.message, sent_body=True))
            return
        notify(Response(self, None))

    def _spoil(self) -> None:
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()

    def on_writer_done(self, writer: asyncio.Task[None]) -> None:
        if not writer.cancelled() and writer.exception() is not None:
            self._wake()

    def _fail(self, error: HTTPError) -> None:
        if self.error is None:
            self.error = error
        self._wake()
        if self.transport is not None:
            self.transport.close()

    def arm(self) -> None:
        """Make sure a timer fires by ``last_read + read_timeout``.

        One timer outlives the exchanges of a kept-alive connection: it is not
        cancelled when an answer completes, and when it fires it re-arms for the
        exchange in progress, if any (``_on_timer``). Creating and cancelling a
        timer per request was a measurable share of the direct path's CPU.
        """
        deadline = self.last_read + self.read_timeout
        timer = self.timer
        if timer is None or self.timer_at > deadline + 0.001:
            if timer is not None:
                timer.cancel()
            self.timer = self.loop.call_at(deadline, self._on_timer)
            self.timer_at = deadline

    def _on_timer(self) -> None:
        self.timer = None
        if (self.waiter is None or self.waiter.done()) and self.notify is None:
            return
        remaining = self.last_read + self.read_timeout - self.loop.time()
        if remaining > 0.001:
            self.arm()
            return
        self._fail(
            HTTPError(
                "timeout",
                f"no answer from the upstream within {self.read_timeout:g}s",
                sent_body=True,
            )
        )

    async def wait(self) -> None:
        """Wait for the parser to make progress, bounded by the read timeout."""
        waiter = self.loop.create_future()
        self.waiter = waiter
        self.last_read = self.loop.time()
        self.arm()
        try:
            await waiter
        finally:
            self.waiter = None

    def reset(self, read_timeout: float, head_request: bool) -> None:
        self.status = 0
        self.headers = []
        self.chunks.clear()
        self.buffered = 0
        self.head_done = False
        self.complete = False
        self.got_bytes = False
        self.head_bytes = 0
        self.error = None
        self.keep_alive = False
        self.head_request = head_request
        self.read_timeout = read_timeout
        self.used += 1

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    async def drain(self) -> None:
        if self.write_paused and not self.closed:
            self.drain_waiter = self.loop.create_future()
            try:
                await self.drain_waiter
            finally:
                self.drain_waiter = None

    def take(self) -> bytes | None:
        """The next buffered chunk, resuming reads once the buffer is low again."""
        if not self.chunks:
            return None
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.buffered < LOW_WATER:
            self.resume()
        return chunk

    def resume(self) -> None:
        if self.read_paused and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()

    def reusable(self) -> bool:
        return (
            self.complete
            and self.error is None
            and self.keep_alive
            and not self.closed
            and not self.chunks
        )

    def close(self) -> None:
        self.cancel_timer()
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Response:
    """An upstream answer whose body streams; ``release()`` or ``close()`` it once."""

    __slots__ = ("_conn", "_done", "_writer", "headers", "status")

    def __init__(self, conn: Connection, writer: asyncio.Task[None] | None) -> None:
        self._conn = conn
        self._writer = writer
        self._done = False
        self.status = conn.status
        self.headers = conn.headers

    def __del__(self) -> None:
        # A response dropped without release()/close() (a bug upstream of this
        # module) must not keep its pool slot forever: the pool would run dry.
        if not self._done:
            with contextlib.suppress(Exception):
                self.close()

    @property
    def complete(self) -> bool:
        """True when the whole body has arrived (it can be taken without waiting)."""
        return self._conn.complete and self._conn.error is None

    def take_all(self) -> bytes:
        """The whole body, when ``complete``."""
        conn = self._conn
        if len(conn.chunks) == 1:
            data = conn.chunks.popleft()
        else:
            data = b"".join(conn.chunks)
            conn.chunks.clear()
        conn.buffered = 0
        # The last bytes may have pushed the buffer past HIGH_WATER as the body
        # completed: a connection going back to the pool must be readable again.
        conn.resume()
        return data

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises ``HTTPError`` on a read timeout or a broken stream."""
        conn = self._conn
        while True:
            chunk = conn.take()
            if chunk is not None:
                yield chunk
                continue
            if conn.error is not None:
                raise conn.error
            if conn.complete:
                return
            await conn.wait()

    def release(self) -> None:
        """The body was read to the end: the connection goes back to the pool."""
        if self._done:
            return
        self._done = True
        conn = self._conn
        writer = self._writer
        if writer is not None and not _wrote_all(writer):
            # The upstream answered before the upload finished (or the upload broke
            # off): it still expects the rest of that body, so the connection cannot
            # carry another request.
            writer.cancel()
            conn.close()
        conn.pool.put(conn)

    def close(self) -> None:
        """Drop the connection (the body was not read to the end)."""
        if self._done:
            return
        self._done = True
        if self._writer is not None and not _wrote_all(self._writer):
            self._writer.cancel()
        self._conn.close()
        self._conn.pool.put(self._conn)


class Pool:
    """Keep-alive connections to one origin."""

    def __init__(
        self,
        origin: Origin,
        *,
        max_connections: int = 100,
        max_idle: int = 20,
        keepalive_expiry: float = 4.0,
        connect_timeout: float = 2.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.origin = origin
        self.loop = asyncio.get_running_loop()
        self.max_connections = max(1, max_connections)
        self.max_idle = max(0, max_idle)
        self.keepalive_expiry = keepalive_expiry
        self.connect_timeout = connect_timeout
        self.ssl: ssl.SSLContext | None = None
        if origin.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        self.idle: list[Connection] = []
        self.open = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        # Waiters woken for a connection that have not run yet: the idle connection
        # they were woken for is theirs (``_free_idle``), or a newcomer would take it
        # and send them to the back of the queue, over and over under saturation.
        self.woken = 0
        self.closed = False

    # -- connections ----------------------------------------------------------------------

    async def _acquire(
        self, connect_timeout: float, wait_timeout: float
    ) -> tuple[Connection, bool]:
        """A connection and whether it was reused from the idle list.

        With ``max_connections`` in use, waiting for one is bounded by
        ``wait_timeout`` (the request's read timeout): a saturated upstream
        gives a timeout, not a request parked forever.
        """
        conn = self._free_idle()
        if conn is not None:
            return conn, True
        deadline = None
        while self.open >= self.max_connections:
            if deadline is None:
                deadline = self.loop.time() + wait_timeout
            waiter = self.loop.create_future()
            self.waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                self._withdraw(waiter)
                origin = self.origin
                raise HTTPError(
                    "timeout",
                    f"no free connection to {origin.host}:{origin.port} within "
                    f"{wait_timeout:g}s (all {self.max_connections} in use)",
                ) from None
            except BaseException:
                self._withdraw(waiter)
                raise
            self.woken -= 1
            conn = self._take_idle()
            if conn is not None:
                return conn, True
        self.open += 1
        try:
            return await self._connect(connect_timeout), False
        except BaseException:
            self.open -= 1
            self._notify()
            raise

    def _withdraw(self, waiter: asyncio.Future[None]) -> None:
        """A waiter gives up (timeout, cancellation): leave the queue.

        If it was woken, then gave up before running, the wake-up is passed on, or
        the next waiter sleeps although a connection is free.
        """
        if waiter in self.waiters:
            self.waiters.remove(waiter)
        elif waiter.done() and not waiter.cancelled():
            self.woken -= 1
            self._notify()

    def _free_idle(self) -> Connection | None:
        """An idle connection for a newcomer: none while woken waiters are owed one."""
        if self.woken or self.waiters:
            return None
        return self._take_idle()

    def _take_idle(self) -> Connection | None:
        """The most recently used idle connection still fit for reuse (LIFO)."""
        now = self.loop.time()
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.closed or now - conn.idle_since > self.keepalive_expiry:
                conn.close()
                self.open -= 1
                continue
            return conn
        return None

    async def _connect(self, connect_timeout: float) -> Connection:
        origin = self.origin
        try:
            async with asyncio.timeout(connect_timeout):
                _, conn = await self.loop.create_connection(
                    lambda: Connection(self),
                    origin.host,
                    origin.port,
                    ssl=self.ssl,
                    server_hostname=origin.host if self.ssl else None,
                )
        except TimeoutError as exc:
            raise HTTPError(
                "connect",
                f"connecting to {origin.host}:{origin.port} timed out after {connect_timeout:g}s",
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            raise HTTPError(
                "connect", f"cannot connect to {origin.host}:{origin.port}: {reason}"
            ) from exc
        return conn

    def put(self, conn: Connection) -> None:
        """Give a connection back after an exchange (closed ones just free their slot)."""
        if not self.closed and conn.reusable() and len(self.idle) < self.max_idle:
            conn.idle_since = self.loop.time()
            self.idle.append(conn)
        else:
            conn.close()
            self.open -= 1
        self._notify()

    def _notify(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.woken += 1
                return

    def close(self) -> None:
        self.closed = True  # exchanges still running close their connection when done
        for conn in self.idle:
            conn.close()
        self.open -= len(self.idle)
        self.idle.clear()

    # -- exchanges ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[Header],
        body: Body,
        *,
        length: int | None = None,
        read_timeout: float = 30.0,
        connect_timeout: float | None = None,
        pool_timeout: float | None = None,
    ) -> Response:
        """Send one request and return once the response head has arrived.

        ``target`` is the raw path and query, appended to the base URL's path.
        ``length`` is the body's size when it streams (else it is sent chunked).
        ``connect_timeout`` bounds opening a connection for this call only (default:
        the pool's), so a retry near its deadline does not need a pool of its own.
        ``pool_timeout`` bounds waiting for a free connection when all
        ``max_connections`` are in use (default: ``read_timeout``).
        """
        replayable = body is None or isinstance(body, bytes)
        head = self._head(method, target, headers, body, length)
        while True:
            conn, reused = await self._acquire(
                self.connect_timeout if connect_timeout is None else connect_timeout,
                read_timeout if pool_timeout is None else pool_timeout,
            )
            try:
                return await self._exchange(conn, method, head, body, read_timeout, reused)
            except _Stale:
                self.put(conn)
                if not replayable:
                    raise HTTPError(
                        "protocol",
                        "the upstream closed a kept-alive connection as the request was sent",
                        sent_body=True,
                    ) from None
                continue  # once per idle connection at most; a fresh one is not stale
            except BaseException:
                conn.close()
                self.put(conn)
                raise

    def start(
        self,
        method: str,
        target: str,
        headers: Sequence[Header],
        body: bytes | None,
        read_timeout: float,
        notify: Callable[[Response | HTTPError | None], None],
    ) -> bool:
        """Send on an idle kept-alive connection without waiting; False when none is idle.

        The gateway's direct path (``GatewayApp.handle_direct``): no task and no
        future per request, the protocol calls ``notify`` once the head (and, for
        a small answer, the whole body) has arrived, with the error if the
        exchange failed, or with ``None`` when the kept-alive connection turned
        out to be closed before any byte came back (nothing reached the upstream's
        application: the caller sends again through ``request``).
        """
        conn = self._free_idle()
        if conn is None:
            return False
        transport = conn.transport
        if transport is None:
            self.idle.append(conn)
            return False
        conn.reset(read_timeout, method == "HEAD")
        conn.notify = notify
        conn.last_read = self.loop.time()
        conn.arm()
        head = self._head(method, target, headers, body, None)
        transport.write(head + body if body else head)
        return True

    def _head(
        self, method: str, target: str, headers: Sequence[Header], body: Body, length: int | None
    ) -> bytes:
        origin = self.origin
        parts = [
            f"{method} {origin.prefix}{target} HTTP/1.1\r\n".encode("latin-1"),
            b"host: ",
            origin.host_header,
            b"\r\n",
        ]
        if headers:
            parts += (b"\r\n".join(map(b": ".join, headers)), b"\r\n")
        if isinstance(body, bytes):
            parts.append(b"content-length: %d\r\n" % len(body))
        elif body is not None:
            if length is not None:
                parts.append(b"content-length: %d\r\n" % length)
            else:
                parts.append(b"transfer-encoding: chunked\r\n")
        elif method in ("POST", "PUT", "PATCH"):
            parts.append(b"content-length: 0\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    async def _exchange(
        self,
        conn: Connection,
        method: str,
        head: bytes,
        body: Body,
        read_timeout: float,
        reused: bool,
    ) -> Response:
        conn.reset(read_timeout, method == "HEAD")
        transport = conn.transport
        if transport is None or conn.closed:
            raise _Stale() if reused else HTTPError("protocol", "connection closed")
        writer: asyncio.Task[None] | None = None
        has_body = bool(body) if isinstance(body, bytes) else body is not None
        if body is None:
            transport.write(head)
        elif isinstance(body, bytes):
            if len(body) <= SMALL_WRITE:
                transport.write(head + body)
            else:
                transport.writelines((head, body))
        else:
            transport.write(head)
            chunked = b"transfer-encoding: chunked\r\n" in head
            writer = self.loop.create_task(_write_body(conn, body, chunked))
            # A body source that fails (the client went away) must end the wait for
            # the head now, not at the read timeout.
            writer.add_done_callback(conn.on_writer_done)
        try:
            while not conn.head_done:
                if conn.error is not None:
                    error = conn.error
                    stale = reused and writer is None and not conn.got_bytes
                    if stale and error.kind == "protocol":
                        raise _Stale()
                    if has_body and not error.sent_body:
                        # The request went out: its body may have reached the upstream.
                        raise HTTPError(error.kind, error.message, sent_body=True)
                    raise error
                if writer is not None and writer.done() and writer.exception() is not None:
                    exc = writer.exception()
                    if isinstance(exc, HTTPError):
                        raise exc
                    raise HTTPError(
                        "protocol", f"sending the body failed: {exc}", sent_body=True
                    ) from exc
                await conn.wait()
        except BaseException:
            conn.cancel_timer()
            if writer is not None and not writer.done():
                writer.cancel()
            raise
        return Response(conn, writer)


def _wrote_all(writer: asyncio.Task[None]) -> bool:
    """Whether the body writer finished cleanly (retrieves its exception if any)."""
    return writer.done() and not writer.cancelled() and writer.exception() is None


async def _write_body(conn: Connection, body: AsyncIterable[bytes], chunked: bool) -> None:
    """Stream a request body with the transport's flow control."""
    transport = conn.transport
    assert transport is not None
    async for chunk in body:
        if not chunk:
            continue
        if conn.closed:
            raise HTTPError("protocol", "the upstream closed the connection", sent_body=True)
        if chunked:
            transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
        else:
            transport.write(chunk)
        await conn.drain()
    if chunked and not conn.closed:
        transport.write(b"0\r\n\r\n")


class Client:
    """Pools by origin, created inside the running loop on first use."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_idle: int = 20,
        keepalive_expiry: float = 4.0,
    ) -> None:
        self.max_connections = max_connections
        self.max_idle = max_idle
        self.keepalive_expiry = keepalive_expiry
        self._pools: dict[str, tuple[Pool, Origin]] = {}

    def pool(self, base_url: str, connect_timeout: float) -> Pool:
        """The one pool of ``base_url``; ``connect_timeout`` is its default on creation.

        Keyed by the URL alone: a key that included the connect timeout gave every
        distinct per-call bound (retries near their deadline) a pool of its own,
        with its own ``max_connections`` budget and idle connections nobody reaped.
        A shorter bound for one call goes to ``Pool.request(connect_timeout=...)``.
        """
        key = base_url
        entry = self._pools.get(key)
        if entry is None:
            origin = Origin.parse(base_url)
            pool = Pool(
                origin,
                max_connections=self.max_connections,
                max_idle=self.max_idle,
                keepalive_expiry=self.keepalive_expiry,
                connect_timeout=connect_timeout,
            )
            entry = (pool, origin)
            self._pools[key] = entry
        return entry[0]

    def close(self) -> None:
        for pool, _ in self._pools.values():
            pool.close()
        self._pools.clear()


__all__ = ["Body", "Client", "HTTPError", "Header", "Origin", "Pool", "Response"]
