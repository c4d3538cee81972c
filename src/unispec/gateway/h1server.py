"""The gateway's HTTP/1.1 server: an asyncio protocol on httptools, ASGI plus a direct path.

Why not uvicorn, which served the gateway until bench/README.md showed where the
CPU went: per request, uvicorn builds a scope with a copied state dict, a
``RequestResponseCycle`` with an ``asyncio.Event``, a task, two ASGI messages
and a keep-alive timer, and checks every response header with two regular
expressions. Behind a proxy that does everything else in ~30 µs of Python,
that machinery was half of the CPU per request. This server keeps the same
parser (httptools, llhttp) and speaks plain ASGI 3 to any app, with three
differences that are measured, not guessed:

- **Direct path.** A request whose whole body is at most ``DIRECT_BODY`` bytes
  is buffered until complete and offered to ``app.handle_direct(scope, body,
  reply)`` (``GatewayApp``) when the app has one: it may answer from callbacks
  alone (no task, no ASGI messages) or decline, and the request then runs as an
  ordinary ASGI task with its body already buffered.
- **One write per loop iteration** per connection (``WriteBatch``): a response's
  head and body, and the answers to a client's pipelined requests, leave in one
  system call.
- **Idle connections** are reaped by one timer per server (every second), not a
  timer per response.

What it does like uvicorn: keep-alive and ``Connection: close``, HTTP/1.0,
pipelining (requests queue and reading pauses until the answer in progress is
done), ``Expect: 100-continue`` (sent on the app's first ``receive``; an answer
given without it closes the connection, as does one given early with more than
``MAX_DISCARD`` body bytes still to come), request
bodies streamed with flow control (reading pauses above ``HIGH_WATER`` bytes
waiting for the app), response bodies framed by ``Content-Length`` or chunked,
``http.disconnect`` when the client goes away, 400 for a malformed request, 500
when the app fails before answering, graceful shutdown (idle connections close,
busy ones after their answer) and the ASGI lifespan protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any

import httptools

from unispec.gateway.batching import WriteBatch

log = logging.getLogger("unispec.gateway")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

HIGH_WATER = 64 * 1024
"""Request body bytes waiting for the app above which reading from the client pauses."""
DIRECT_BODY = 64 * 1024
"""Requests with at most this many body bytes are offered to ``handle_direct``."""
MAX_DISCARD = 256 * 1024
"""Unread request body bytes the server reads and drops to keep a connection that
was answered early (Go's ``maxPostHandlerReadBytes``); past it, or when the size is
unknown, the answer says ``Connection: close`` rather than reading on unbounded."""
LINGER = 2.0
"""Seconds a connection closed with request bytes still coming reads and drops them
after its answer (nginx's lingering close): closing at once would reset the
connection, and a reset can destroy the answer before the client has read it."""


def _status_line(code: int) -> bytes:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {code} {phrase}\r\n".encode("latin-1")


STATUS_LINES = {code: _status_line(code) for code in range(100, 600)}
_NAME_BREAKERS = b"\r\n:\t "
"""Bytes that must not appear in a header name (they would split the response)."""
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 30\r\nconnection: close\r\n\r\nInvalid HTTP request received."
)
_ASGI = {"version": "3.0", "spec_version": "2.3"}


class Cycle:
    """One request and its response: the ASGI ``receive``/``send`` pair and a ``DirectReply``."""

    __slots__ = (
        "body",
        "buffered",
        "chunked",
        "conn",
        "declared",
        "deferred",
        "disconnected",
        "expect_100",
        "finished",
        "keep_alive",
        "more_body",
        "received",
        "remaining",
        "response_complete",
        "response_started",
        "scope",
        "waiter",
    )

    def __init__(
        self,
        conn: H1Protocol,
        scope: Scope,
        keep_alive: bool,
        expect_100: bool,
        declared: bytes | None = b"0",
    ) -> None:
        self.conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_100 = expect_100
        self.declared = declared
        """The request's Content-Length as sent (None when chunked), read only when the
        answer comes early: parsing it on every request would be wasted."""
        self.body: list[bytes] = []
        self.buffered = 0
        self.received = 0
        self.more_body = True
        self.finished = False
        self.deferred = False
        self.disconnected = False
        self.response_started = False
        self.response_complete = False
        self.chunked = False
        self.remaining: int | None = None
        self.waiter: asyncio.Future[None] | None = None

    # -- request side (called by the protocol) -------------------------------------------

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- ASGI ------------------------------------------------------------------------------

    async def receive(self) -> Message:
        if self.expect_100:
            self.expect_100 = False
            if not self.response_started and not self.disconnected:
                self.conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not self.body and self.more_body and not self.disconnected:
            if self.response_complete:
                break
            self.conn.resume_reading()
            await self._wait()
        if self.finished:
            # The app has had the last body message: the next one is the disconnect
            # (or the end of the response), whenever it comes.
            while not self.disconnected and not self.response_complete:
                await self._wait()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()
        self.buffered = 0
        if self.more_body:
            self.conn.resume_reading()
        else:
            self.finished = True
        return {"type": "http.request", "body": data, "more_body": self.more_body}

    async def _wait(self) -> None:
        waiter = self.conn.loop.create_future()
        self.waiter = waiter
        try:
            await waiter
        finally:
            self.waiter = None

    async def send(self, message: Message) -> None:
        conn = self.conn
        if conn.write_paused and not self.disconnected:
            await conn.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected 'http.response.start', got {kind!r}")
            self.response_started = True
            if self.more_body:
                self._answered_early()
            self.expect_100 = False
            conn.write(self._head(message["status"], message.get("headers", ())))
            return
        if self.response_complete:
            raise RuntimeError(f"unexpected {kind!r} after the response completed")
        if kind != "http.response.body":
            raise RuntimeError(f"expected 'http.response.body', got {kind!r}")
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if self.scope["method"] == "HEAD":
            body = b""
        elif self.chunked:
            if body:
                conn.write(b"%x\r\n%s\r\n" % (len(body), body))
            if not more:
                conn.write(b"0\r\n\r\n")
        elif body:
            if self.remaining is not None:
                if len(body) > self.remaining:
                    raise RuntimeError("response body longer than its Content-Length")
                self.remaining -= len(body)
            conn.write(body)
        if not more:
            if self.remaining and not self.chunked and self.scope["method"] != "HEAD":
                raise RuntimeError("response body shorter than its Content-Length")
            self._complete()

    def _head(self, status: int, headers: Any) -> bytes:
        parts = [STATUS_LINES.get(status) or _status_line(status)]
        close = False
        for name, value in headers:
            if name.translate(None, _NAME_BREAKERS) != name:
                raise RuntimeError(f"invalid response header name {name!r}")
            name = name.lower()
            if name == b"content-length":
                self.remaining = int(value)
            elif name == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif name == b"connection" and b"close" in value.lower():
                self.keep_alive = False
                close = True
            if b"\n" in value or b"\r" in value:
                raise RuntimeError(f"invalid value for response header {name!r}")
            parts += (name, b": ", value, b"\r\n")
        if (
            self.remaining is None
            and not self.chunked
            and self.scope["method"] != "HEAD"
            and status not in (204, 304)
            and status >= 200
        ):
            if self.scope["http_version"] == "1.0":
                self.keep_alive = False  # no chunked for 1.0 (RFC 9112 6.1): closing ends it
            else:
                self.chunked = True
                parts.append(b"transfer-encoding: chunked\r\n")
        if not self.keep_alive and not close:
            parts.append(b"connection: close\r\n")
        elif self.keep_alive and self.scope["http_version"] == "1.0":
            parts.append(b"connection: keep-alive\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    def _answered_early(self) -> None:
        """The answer starts before the request body has all come: keep the connection?

        Only when the rest is known and small enough to read and drop. A client that
        asked for ``100 Continue`` and never got it may send the body or its next
        request: the two cannot be told apart, so the connection closes (Go's
        net/http does the same; RFC 9110 10.1.1 asks the server to say which).
        """
        raw = self.declared
        declared = int(raw) if raw is not None and raw.isdigit() else None
        if self.expect_100 or declared is None or declared - self.received > MAX_DISCARD:
            self.keep_alive = False

    def _complete(self) -> None:
        self.response_complete = True
        self.wake()
        self.conn.response_done(self)

    # -- DirectReply -------------------------------------------------------------------------

    def respond(self, status: int, headers: Headers, body: bytes) -> None:
        """The whole response at once (``GatewayApp.handle_direct``).

        ``headers`` come from the app, which always frames a body with
        Content-Length, never sets hop-by-hop fields and only forwards values
        that llhttp parsed (no CR/LF): the checks of ``send`` are skipped.
        """
        self.response_started = True
        if self.disconnected:
            self.response_complete = True
            return
        if self.more_body:
            self._answered_early()
        if not self.keep_alive:
            end = b"\r\nconnection: close\r\n\r\n"
        elif self.scope["http_version"] == "1.0":
            end = b"\r\nconnection: keep-alive\r\n\r\n"
        else:
            end = b"\r\n\r\n"
        if headers:
            head = STATUS_LINES[status] + b"\r\n".join(map(b": ".join, headers)) + end
        else:
            head = STATUS_LINES[status] + end[2:]
        self.conn.write_now(head + body if body and self.scope["method"] != "HEAD" else head)
        self._complete()

    def hand_over(self, work: Callable[[Send], Awaitable[None]]) -> None:
        """Finish the request in a task, through this cycle's ``send``."""
        self.conn.start_task(self, work(self.send))

    def run_app(self, app: ASGIApp) -> None:
        self.conn.start_task(self, app(self.scope, self.receive, self.send))

    async def run(self, work: Awaitable[None]) -> None:
        try:
            await work
        except BaseException as exc:
            log.error("exception in the ASGI application", exc_info=exc)
            if not self.response_started and not self.disconnected:
                self._internal_error()
            elif not self.response_complete:
                self.conn.close()
            if not isinstance(exc, Exception):
                raise
        else:
            if not self.response_complete and not self.disconnected:
                if not self.response_started:
                    log.error("the ASGI application returned without a response")
                    self._internal_error()
                else:
                    self.conn.close()

    def _internal_error(self) -> None:
        self.keep_alive = False
        body = b"Internal Server Error"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
        ]
        self.respond(500, headers, body)


class H1Protocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, server: H1Server) -> None:
        self.server = server
        self.app = server.app
        self.direct: Callable[[Scope, bytes, Cycle], bool] | None = server.direct
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.batch = WriteBatch(self._send)
        self.client: tuple[str, int] | None = None
        self.local: tuple[str, int] | None = None
        self.current: Cycle | None = None
        """The request being answered (its response not yet complete)."""
        self.parsing: Cycle | None = None
        """The request whose body is arriving (the current one, or a queued one)."""
        self.queue: deque[Cycle] = deque()
        self.url = b""
        self.headers: Headers = []
        self.expect_100 = False
        self.body_length: bytes | None = None
        self.chunked_body = False
        self.read_paused = False
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.last_active = time.monotonic()
        self.closing = False
        self.lingering = False
        self.broken = False
        """A malformed request came: answer what came before it, then 400 and close."""

    # -- transport callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client = (str(peer[0]), int(peer[1]))
        local = transport.get_extra_info("sockname")
        if isinstance(local, tuple):
            self.local = (str(local[0]), int(local[1]))

    def data_received(self, data: bytes) -> None:
        if self.broken or self.lingering:
            return
        self.last_active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # the request is served as a plain one (no protocol switch here)
        except httptools.HttpParserError:
            self._bad_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)
        for cycle in (self.current, *self.queue):
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.wake()
        if self.parsing is not None and self.parsing is not self.current:
            self.parsing.disconnected = True
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool | None:
        return None

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.expect_100 = False
        self.body_length = None
        self.chunked_body = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self.headers.append((name, value))
        if name == b"content-length":
            self.body_length = value
        elif name == b"transfer-encoding":
            self.chunked_body = True
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_100 = True

    def on_headers_complete(self) -> None:
        parser = self.parser
        raw_path = self.url
        query = b""
        if raw_path[:1] != b"/" or b"?" in raw_path or b"#" in raw_path:
            url = httptools.parse_url(raw_path)  # absolute form, query or fragment
            raw_path = url.path
            query = url.query or b""
        path = raw_path.decode("latin-1")
        if "%" in path:
            path = urllib.parse.unquote(path)
        version = parser.get_http_version()
        scope: Scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": version if version in ("1.0", "1.1") else "1.1",
            "server": self.local,
            "client": self.client,
            "scheme": "http",
            "method": parser.get_method().decode("ascii"),
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self.headers,
        }
        keep_alive = parser.should_keep_alive() and not self.closing
        declared = None if self.chunked_body else self.body_length or b"0"
        cycle = Cycle(self, scope, keep_alive, self.expect_100, declared)
        self.parsing = cycle
        if self.current is not None:
            # Pipelined: it waits for the answer in progress; so does reading.
            self.queue.append(cycle)
            self.pause_reading()
            return
        self.current = cycle
        if self.direct is not None and self._small():
            cycle.deferred = True
        else:
            cycle.run_app(self.app)

    def on_body(self, body: bytes) -> None:
        cycle = self.parsing
        if cycle is None or cycle.response_complete:
            return  # the answer was given already: the rest is read and dropped
        cycle.body.append(body)
        cycle.buffered += len(body)
        cycle.received += len(body)
        if cycle.buffered > HIGH_WATER and not cycle.deferred:
            self.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.parsing
        if cycle is None:
            return
        self.parsing = None
        cycle.more_body = False
        if cycle.deferred and cycle is self.current and not cycle.response_complete:
            cycle.deferred = False
            body = cycle.body
            data = body[0] if len(body) == 1 else b"".join(body)
            direct = self.direct
            assert direct is not None
            if not direct(cycle.scope, data, cycle):
                cycle.run_app(self.app)
            return
        cycle.wake()

    # -- helpers ---------------------------------------------------------------------------

    def start_task(self, cycle: Cycle, work: Awaitable[None]) -> None:
        task = self.loop.create_task(cycle.run(work))
        tasks = self.server.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def response_done(self, cycle: Cycle) -> None:
        """The answer to ``cycle`` is complete: close, or go on with the next request."""
        if cycle is not self.current:
            return
        self.current = None
        self.last_active = time.monotonic()
        if self.broken and not self.queue:
            if cycle.keep_alive:
                self.write(_BAD_REQUEST)
            self.close()
            return
        if not cycle.keep_alive or self.closing:
            if self.parsing is cycle:
                self._linger()
            else:
                self.close()
            return
        if self.parsing is cycle:
            # The app answered before the whole body came: read on and drop the rest.
            self.resume_reading()
        if self.queue:
            nxt = self.queue.popleft()
            self.current = nxt
            if not self.queue:
                self.resume_reading()
            nxt.run_app(self.app)
            return
        self.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.batch.add(data, self.loop)

    def write_now(self, data: bytes) -> None:
        """A whole response: one write now, unless earlier bytes wait in the batch."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.batch.pending():
            self.batch.add(data, self.loop)
        else:
            transport.write(data)

    def _send(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    async def drain(self) -> None:
        if self.write_paused and not self.closing:
            self.drain_waiter = self.loop.create_future()
            try:
                await self.drain_waiter
            finally:
                self.drain_waiter = None

    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.closing:
            self.read_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        self.closing = True
        self.batch.flush()
        if self.transport is not None:
            self.transport.close()

    def _linger(self) -> None:
        """Close after an answer given before the request body all came: send the
        answer and a FIN, drop what the client still sends for up to ``LINGER``
        seconds, then close (sooner when the client closes its side)."""
        self.closing = True
        self.lingering = True
        self.parsing = None
        self.batch.flush()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
        if self.read_paused:
            self.read_paused = False
            transport.resume_reading()
        self.loop.call_later(LINGER, transport.close)

    def _small(self) -> bool:
        """Whether the body is known to fit ``DIRECT_BODY`` and nothing waits on it."""
        if self.chunked_body or self.expect_100:
            return False
        length = self.body_length
        return length is None or (length.isdigit() and int(length) <= DIRECT_BODY)

    def idle(self) -> bool:
        return self.current is None and self.parsing is None

    def _bad_request(self) -> None:
        """Answer the requests parsed before the malformed one, in order, then 400 and close.

        (RFC 9112 9.3.2: answers go in request order. llhttp also lands here for
        bytes after a ``Connection: close`` request, which then get no 400.)
        """
        log.info("malformed HTTP request", extra={"fields": {"client": self.client}})
        self.broken = True
        self.pause_reading()
        parsing = self.parsing
        if parsing is not None and parsing.more_body:
            # Its body will never be complete: it cannot be answered.
            parsing.disconnected = True
            parsing.wake()
            if parsing in self.queue:
                self.queue.remove(parsing)
            if parsing is self.current:
                self.current = None
        self.parsing = None
        if self.current is None:
            self.write(_BAD_REQUEST)
            self.close()


class H1Server:
    """Serves one ASGI app on a listening socket until ``request_exit``."""

    def __init__(self, app: ASGIApp, *, keep_alive: float = 30.0, grace: float = 10.0) -> None:
        self.app = app
        self.direct: Callable[[Scope, bytes, Cycle], bool] | None = getattr(
            app, "handle_direct", None
        )
        self.keep_alive = keep_alive
        self.grace = grace
        self.connections: set[H1Protocol] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def request_exit(self) -> None:
        if self._exit is not None:
            self._exit.set()

    async def serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        lifespan = _Lifespan(self.app)
        await lifespan.startup()
        server = await self.loop.create_server(lambda: H1Protocol(self), sock=sock, backlog=2048)
        reaper = self.loop.create_task(self._reap())
        try:
            await self._exit.wait()
        finally:
            server.close()
            reaper.cancel()
            await self._drain()
            await lifespan.shutdown()

    async def _reap(self) -> None:
        """Close connections idle for longer than ``keep_alive`` (one timer for all)."""
        while True:
            await asyncio.sleep(1.0)
            horizon = time.monotonic() - self.keep_alive
            for conn in list(self.connections):
                if conn.idle() and conn.last_active < horizon:
                    conn.close()

    async def _drain(self) -> None:
        for conn in list(self.connections):
            conn.closing = True
            if conn.idle():
                conn.close()
        deadline = time.monotonic() + self.grace
        while (self.connections or self.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.close()
        for task in list(self.tasks):
            task.cancel()


class _Lifespan:
    """The ASGI lifespan protocol, for apps that start background work (health checks)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async def receive() -> Message:
            return await self.inbox.get()

        async def send(message: Message) -> None:
            await self.outbox.put(message)

        try:
            await self.app({"type": "lifespan", "asgi": _ASGI, "state": {}}, receive, send)
        except Exception as exc:
            log.debug("the app does not support lifespan", exc_info=exc)
        finally:
            await self.outbox.put({"type": "lifespan.done"})

    async def startup(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self.outbox.get()
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"application start-up failed: {message.get('message', '')}")

    async def shutdown(self) -> None:
        if self.task is None or self.task.done():
            return
        await self.inbox.put({"type": "lifespan.shutdown"})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.outbox.get(), timeout=10)
        if not self.task.done():
            self.task.cancel()
