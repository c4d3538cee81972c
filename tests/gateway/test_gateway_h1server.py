"""The gateway's own HTTP/1.1 server (``gateway/h1server.py``) over real loopback sockets.

The server runs in a background thread on its own uvloop event loop (as in
production, ``server.py``), on a socket bound to 127.0.0.1 port 0; tests talk to
it with raw blocking sockets wherever framing matters (exact bytes of status
lines, headers, chunked framing, connection closes) and with httpx otherwise.
Sections:

1-6. A small hand-written ASGI app (``ScriptApp``): keep-alive, close, HTTP/1.0,
     framing, HEAD, 204/304, request bodies with flow control, 100-continue,
     pipelining, errors, lifespan, graceful exit and the idle keep-alive reaper;
     plus a minimal app with ``handle_direct`` for the server's side of the
     direct path (deferral, decline, hand-over, pipelining behind it).
7.   The real ``GatewayApp`` (``build_gateway_app``) on a two-operation contract
     in front of a scripted raw upstream in the same loop, which counts accepted
     connections and can drop, close, stall, chunk or stream its answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx
import pytest
import uvloop

from unispec.gateway.app import GatewayApp, build_gateway_app
from unispec.gateway.h1server import DIRECT_BODY, HIGH_WATER, MAX_DISCARD, Cycle, H1Server
from unispec.gateway.settings import parse_settings
from unispec.model import ServiceConfig, UnifiedSpec

MB = 1024 * 1024
T = TypeVar("T")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# -- a loop in a thread -----------------------------------------------------------------------


class LoopThread:
    """A uvloop event loop running in a daemon thread; coroutines are submitted to it."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self.errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return self.submit(coro).result(timeout)

    def call(self, fn: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def unexpected_errors(self) -> list[dict[str, Any]]:
        """What reached the loop's exception handler, less the cancellations of teardown."""
        return [
            e for e in self.errors if not isinstance(e.get("exception"), asyncio.CancelledError)
        ]

    def close(self) -> None:
        async def cancel_all() -> None:
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=2)

        with contextlib.suppress(Exception):
            self.run(cancel_all(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        assert not self.thread.is_alive(), "the server loop did not stop"
        self.loop.close()


@pytest.fixture
def bg() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()
    # An exception escaping a protocol callback (data_received, connection_lost...)
    # lands in the loop's exception handler, not in any test assertion.
    assert thread.unexpected_errors() == []


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class Served:
    """An ``H1Server`` serving in a ``LoopThread``."""

    server: H1Server
    port: int
    future: concurrent.futures.Future[None]
    bg: LoopThread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request_exit(self) -> None:
        self.bg.call(self.server.request_exit)

    def stop(self, timeout: float = 8.0) -> None:
        """``request_exit`` (repeated: it is a no-op until ``serve`` has begun) and wait."""
        deadline = time.monotonic() + timeout
        while not self.future.done() and time.monotonic() < deadline:
            self.request_exit()
            with contextlib.suppress(concurrent.futures.TimeoutError):
                self.future.result(0.1)
        assert self.future.done(), "serve() did not return after request_exit()"
        self.future.result()  # re-raises what serve() raised


@contextlib.contextmanager
def serving(
    app: Any, bg: LoopThread, *, keep_alive: float = 30.0, grace: float = 10.0
) -> Iterator[Served]:
    sock = listening_socket()
    port = sock.getsockname()[1]
    server = H1Server(app, keep_alive=keep_alive, grace=grace)
    served = Served(server, port, bg.submit(server.serve(sock)), bg)
    try:
        yield served
    finally:
        if not served.future.done():
            served.stop()
        sock.close()


# -- a raw client ---------------------------------------------------------------------------


@dataclass
class Resp:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    """Every byte of this response as it came on the wire (head and framing)."""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        assert len(values) <= 1, f"{name} repeated: {values}"
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


class Wire:
    """A blocking client socket with a read buffer, parsing responses byte-exactly."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(256 * 1024)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed; buffered {self.buf[:200]!r}")
        index = self.buf.index(sep) + len(sep)
        data, self.buf = self.buf[:index], self.buf[index:]
        return data

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"connection closed after {len(self.buf)} of {n} bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, head_only: bool = False) -> Resp:
        head = self._until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, code = lines[0].split(" ")[:2]
        assert version == "HTTP/1.1", lines[0]
        status = int(code)
        headers = []
        for line in lines[1:]:
            if line:
                name, value = line.split(":", 1)
                headers.append((name.lower(), value.strip()))
        resp = Resp(status, headers, b"", head)
        length = resp.header("content-length")
        encoding = resp.header("transfer-encoding")
        if head_only or status in (204, 304) or status < 200:
            return resp
        if encoding is not None:
            assert encoding == "chunked" and length is None, headers
            body = b""
            while True:
                size_line = self._until(b"\r\n")
                resp.raw += size_line
                size = int(size_line.split(b";")[0], 16)
                data = self._exact(size + 2)
                resp.raw += data
                assert data.endswith(b"\r\n")
                if size == 0:
                    break
                body += data[:-2]
            resp.body = body
        elif length is not None:
            resp.body = self._exact(int(length))
            resp.raw += resp.body
        else:
            while self._fill():
                pass
            resp.body, self.buf = self.buf, b""
            resp.raw += resp.body
        return resp

    def closed(self, within: float = 2.0) -> bool:
        """True when the server closes within ``within`` s; fails on any stray byte."""
        assert self.buf == b"", f"unread bytes {self.buf[:200]!r}"
        self.sock.settimeout(within)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        assert data == b"", f"unexpected bytes {data[:200]!r}"
        return True

    def quiet(self, for_seconds: float) -> bool:
        """True when nothing at all (no byte, no close) arrives for ``for_seconds``."""
        self.sock.settimeout(for_seconds)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        self.buf += data
        return False


def get(path: str, *extra: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: test", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(path: str, body: bytes, *extra: str) -> bytes:
    return get(path, f"Content-Length: {len(body)}", *extra, method="POST") + body


def wait_for(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- a hand-written ASGI app ------------------------------------------------------------------

HELLO_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"


class ScriptApp:
    """Each path is one behaviour; what the app saw is recorded for the test to read."""

    def __init__(self, startup_delay: float = 0.0) -> None:
        self.startup_delay = startup_delay
        self.events: list[str] = []
        self.clients: list[tuple[str, int]] = []
        self.scopes: list[Scope] = []
        self.messages: list[tuple[str, int, bool]] = []
        self.done = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await asyncio.sleep(self.startup_delay)
                    self.events.append("startup")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.events.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert scope["type"] == "http"
        self.scopes.append(scope)
        self.clients.append(scope["client"])
        path: str = scope["path"]
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        self.events.append(f"request {path}")
        if path == "/hello":
            await self.text(send, b"hello")
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"hello", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": True})
            await send({"type": "http.response.body", "body": b" world", "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path in ("/204", "/304"):
            status = int(path[1:])
            await send(
                {"type": "http.response.start", "status": status, "headers": [(b"etag", b'"x"')]}
            )
            await send({"type": "http.response.body", "body": b""})
        elif path == "/echo":
            await self.echo(receive, send)
        elif path == "/slowread":
            await self.echo(receive, send, pause=0.003)
        elif path == "/lateread":
            await asyncio.sleep(float(query.get("delay", "0.4")))
            await self.echo(receive, send)
        elif path == "/noread":
            await self.text(send, b"nope")
        elif path == "/slow":
            await asyncio.sleep(float(query.get("delay", "0.3")))
            await self.text(send, b"slow!")
            self.events.append(f"answered {path}")
        elif path == "/raise":
            raise RuntimeError("boom before the answer")
        elif path == "/raise-after":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"10")],
                }
            )
            await send({"type": "http.response.body", "body": b"abc", "more_body": True})
            raise RuntimeError("boom in the middle of the body")
        elif path == "/raise-after-chunked":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"abc", "more_body": True})
            raise RuntimeError("boom in the middle of a chunked body")
        elif path == "/inject-value":
            headers = [(b"x-a", b"1\r\nset-cookie: evil=1"), (b"content-length", b"2")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})
        elif path == "/inject-name":
            headers = [(b"set-cookie: evil=1\r\nx-a", b"1"), (b"content-length", b"2")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})
        elif path == "/nothing":
            return  # returns without a response
        elif path == "/hold":
            while True:
                message = await receive()
                body = message.get("body", b"")
                self.messages.append((message["type"], len(body), message.get("more_body", False)))
                if message["type"] == "http.disconnect":
                    break
            self.done.set()
            await self.text(send, b"late")  # ignored: the client is gone
        elif path == "/big":
            size = int(query["size"])
            block = bytes(range(256)) * 256
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", str(size).encode())],
                }
            )
            sent = 0
            while sent < size:
                part = block[: min(len(block), size - sent)]
                sent += len(part)
                await send({"type": "http.response.body", "body": part, "more_body": sent < size})
            self.events.append(f"sent {size}")
        elif path == "/events":
            await self.text(send, json.dumps(self.events).encode())
        else:
            await self.text(send, b"not found", 404)

    async def text(self, send: Send, body: bytes, status: int = 200) -> None:
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def echo(self, receive: Receive, send: Send, pause: float = 0.0) -> None:
        digest = hashlib.sha256()
        size = 0
        count = 0
        biggest = 0
        more = True
        while more:
            message = await receive()
            assert message["type"] == "http.request", message
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            digest.update(chunk)
            size += len(chunk)
            biggest = max(biggest, len(chunk))
            count += 1
            if pause:
                await asyncio.sleep(pause)
        payload = {
            "size": size,
            "sha256": digest.hexdigest(),
            "messages": count,
            "biggest": biggest,
        }
        await self.text(send, json.dumps(payload).encode())


# -- 1. ASGI basics -------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_keep_alive_serves_several_requests_on_one_connection(bg: LoopThread) -> None:
    app = ScriptApp()
    with serving(app, bg) as served, Wire(served.port) as wire:
        for _ in range(3):
            wire.send(get("/hello"))
            resp = wire.response()
            assert resp.raw == HELLO_HEAD + b"\r\nhello"
        assert wire.quiet(0.2)  # still open
        wire.send(get("/hello"))
        assert wire.response().body == b"hello"
    assert len(app.clients) == 4 and len(set(app.clients)) == 1
    scope = app.scopes[0]
    assert scope["http_version"] == "1.1" and scope["method"] == "GET"
    assert scope["server"] == ("127.0.0.1", served.port)
    assert scope["client"][0] == "127.0.0.1"


@pytest.mark.timeout(20)
def test_scope_path_query_and_headers(bg: LoopThread) -> None:
    app = ScriptApp()
    with serving(app, bg) as served, Wire(served.port) as wire:
        wire.send(get("/a%20b/c?x=1&y=%2F", "X-Thing: One", "x-thing: two"))
        assert wire.response().status == 404
    scope = app.scopes[0]
    assert scope["path"] == "/a b/c"
    assert scope["raw_path"] == b"/a%20b/c"
    assert scope["query_string"] == b"x=1&y=%2F"
    assert scope["scheme"] == "http" and scope["root_path"] == ""
    assert scope["headers"] == [(b"host", b"test"), (b"x-thing", b"One"), (b"x-thing", b"two")]


@pytest.mark.timeout(20)
def test_connection_close_from_client_closes_after_the_answer(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(get("/hello", "Connection: close"))
        resp = wire.response()
        assert resp.raw == HELLO_HEAD + b"connection: close\r\n\r\nhello"
        assert wire.closed()


@pytest.mark.timeout(20)
def test_http10_without_keep_alive_is_closed_after_the_answer(bg: LoopThread) -> None:
    app = ScriptApp()
    with serving(app, bg) as served, Wire(served.port) as wire:
        wire.send(b"GET /hello HTTP/1.0\r\n\r\n")
        resp = wire.response()
        assert resp.raw == HELLO_HEAD + b"connection: close\r\n\r\nhello"
        assert wire.closed()
    assert app.scopes[0]["http_version"] == "1.0"


@pytest.mark.timeout(20)
def test_http10_keep_alive_is_honoured(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        for _ in range(2):
            wire.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            # A 1.0 client assumes the server closes unless the answer says otherwise.
            assert wire.response().raw == HELLO_HEAD + b"connection: keep-alive\r\n\r\nhello"


@pytest.mark.timeout(20)
def test_http10_streamed_response_is_not_chunked(bg: LoopThread) -> None:
    """RFC 9112 §6.1: no Transfer-Encoding to an HTTP/1.0 client; the close ends the body."""
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(b"GET /stream HTTP/1.0\r\n\r\n")
        resp = wire.response()
        assert resp.status == 200
        assert resp.header("transfer-encoding") is None
        assert resp.body == b"hello world"


@pytest.mark.timeout(20)
def test_content_length_and_chunked_framing_on_the_wire(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg) as served:
        with Wire(served.port) as wire:
            wire.send(get("/stream"))
            resp = wire.response()
            assert resp.raw == (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            wire.send(get("/hello"))  # the connection is reusable after a chunked answer
            assert wire.response().raw == HELLO_HEAD + b"\r\nhello"
        with httpx.Client(base_url=served.url, timeout=5) as client:
            streamed = client.get("/stream")
            fixed = client.get("/hello")
    assert streamed.status_code == 200 and streamed.content == b"hello world"
    assert streamed.headers["transfer-encoding"] == "chunked"
    assert fixed.content == b"hello" and fixed.headers["content-length"] == "5"


@pytest.mark.timeout(20)
def test_head_sends_headers_without_body_bytes(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg) as served:
        with Wire(served.port) as wire:
            wire.send(get("/hello", "Connection: close", method="HEAD"))
            resp = wire.response(head_only=True)
            assert resp.raw == HELLO_HEAD + b"connection: close\r\n\r\n"
            assert wire.closed()  # and not one body byte before the close
        with Wire(served.port) as wire:
            # A streamed answer to HEAD: no chunked framing, no body; the next
            # answer on the connection starts right after the head.
            wire.send(get("/stream", method="HEAD") + get("/hello", method="HEAD") + get("/hello"))
            assert wire.response(head_only=True).raw == b"HTTP/1.1 200 OK\r\n\r\n"
            assert wire.response(head_only=True).raw == HELLO_HEAD + b"\r\n"
            assert wire.response().raw == HELLO_HEAD + b"\r\nhello"
            assert wire.quiet(0.2)


@pytest.mark.timeout(20)
def test_204_and_304_have_no_body_and_no_framing(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(get("/204"))
        assert wire.response().raw == b'HTTP/1.1 204 No Content\r\netag: "x"\r\n\r\n'
        wire.send(get("/304"))
        assert wire.response().raw == b'HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n'
        wire.send(get("/hello"))
        assert wire.response().raw == HELLO_HEAD + b"\r\nhello"


# -- 2. request bodies ----------------------------------------------------------------------


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


@pytest.mark.timeout(20)
def test_chunked_request_body_in_one_write_is_delivered_whole(bg: LoopThread) -> None:
    parts = [b"first-", b"x" * 70_000, b"-last"]
    whole = b"".join(parts)
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(get("/echo", "Transfer-Encoding: chunked", method="POST") + chunked(*parts))
        resp = wire.response()
        assert resp.status == 200
        echo = resp.json()
        assert echo["size"] == len(whole) and echo["sha256"] == sha(whole)
        # Same connection, a Content-Length body next.
        wire.send(post("/echo", b"abc"))
        assert wire.response().json()["sha256"] == sha(b"abc")


@pytest.mark.timeout(20)
def test_chunked_request_body_with_a_separate_last_chunk_is_delivered_whole(
    bg: LoopThread,
) -> None:
    """The zero-size last chunk comes in its own segment, after the app took the data.

    The app must still get a final ``http.request`` with ``more_body: False``
    (an empty body), as streaming clients end their uploads this way.
    """
    parts = [b"first-", b"x" * 70_000, b"-last"]
    whole = b"".join(parts)
    with serving(ScriptApp(), bg) as served, Wire(served.port, timeout=1.5) as wire:
        wire.send(get("/echo", "Transfer-Encoding: chunked", method="POST"))
        for part in parts:
            wire.send(b"%x\r\n%s\r\n" % (len(part), part))
            time.sleep(0.05)
        wire.send(b"0\r\n\r\n")
        resp = wire.response()
        assert resp.status == 200
        echo = resp.json()
        assert echo["size"] == len(whole) and echo["sha256"] == sha(whole)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "request_bytes",
    [
        get("/echo"),
        post("/echo", b""),
        get("/echo", "Transfer-Encoding: chunked", method="POST") + b"0\r\n\r\n",
    ],
    ids=["get", "content-length-0", "chunked-empty"],
)
def test_receive_on_a_request_without_body_gives_one_empty_message(
    bg: LoopThread, request_bytes: bytes
) -> None:
    """ASGI: the first ``receive()`` is ``http.request``, ``body: b""``, ``more_body: False``."""
    with serving(ScriptApp(), bg) as served, Wire(served.port, timeout=1.5) as wire:
        wire.send(request_bytes)
        resp = wire.response()
    assert resp.status == 200
    assert resp.json() == {"size": 0, "sha256": sha(b""), "messages": 1, "biggest": 0}


@pytest.mark.timeout(30)
def test_5mb_body_read_slowly_with_flow_control(bg: LoopThread) -> None:
    payload = bytes(range(256)) * (5 * MB // 256)
    with serving(ScriptApp(), bg) as served, Wire(served.port, timeout=20) as wire:
        wire.send(post("/slowread", payload))
        echo = wire.response().json()
    assert echo["size"] == len(payload)
    assert echo["sha256"] == sha(payload)
    # The body came in many messages, none of them near the whole body: reading
    # paused while the app was behind.
    assert echo["messages"] >= 10
    assert echo["biggest"] <= HIGH_WATER + 512 * 1024


@pytest.mark.timeout(30)
def test_streamed_body_through_httpx(bg: LoopThread) -> None:
    blocks = [bytes([i]) * 100_000 for i in range(20)]

    def gen() -> Iterator[bytes]:
        yield from blocks

    with serving(ScriptApp(), bg) as served, httpx.Client(timeout=10) as client:
        r = client.post(served.url + "/echo", content=gen())
    assert r.status_code == 200
    assert r.json()["sha256"] == sha(b"".join(blocks))


@pytest.mark.timeout(20)
def test_expect_100_continue_is_sent_on_the_first_receive(bg: LoopThread) -> None:
    body = b'{"hello": 1}'
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(
            get(
                "/lateread?delay=0.5",
                f"Content-Length: {len(body)}",
                "Expect: 100-continue",
                method="POST",
            )
        )
        # The app sleeps 0.5 s before its first receive(): nothing comes before.
        assert wire.quiet(0.3)
        assert wire._until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        wire.send(body)
        resp = wire.response()
        assert resp.status == 200 and resp.json()["sha256"] == sha(body)
        # The next request on the connection, without the expectation.
        wire.send(post("/echo", b"xyz"))
        assert wire.response().json()["size"] == 3


@pytest.mark.timeout(20)
@pytest.mark.parametrize("client_sends", ["body", "next request"])
def test_expect_100_continue_not_sent_when_the_app_answers_without_reading(
    bg: LoopThread, client_sends: str
) -> None:
    """No 100 Continue went out: the client may send the body or its next request,
    and the server cannot tell which bytes it gets, so it closes (like Go's net/http)."""
    app = ScriptApp()
    with serving(app, bg) as served, Wire(served.port) as wire:
        wire.send(get("/noread", "Content-Length: 5", "Expect: 100-continue", method="POST"))
        resp = wire.response()
        assert resp.raw == (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n"
            b"connection: close\r\n\r\nnope"
        )
        # Whatever the client sends now is dropped, never parsed as a request.
        wire.send(b"12345" if client_sends == "body" else get("/hello"))
        assert wire.closed()
        assert "request /hello" not in app.events


def big_body(size: int) -> bytes:
    block = bytes(range(256)) * 256
    return (block * (size // len(block) + 1))[:size]


@pytest.mark.timeout(30)
def test_large_response_to_a_slow_reader_and_to_one_that_leaves(bg: LoopThread) -> None:
    app = ScriptApp()
    size = 8 * MB
    with serving(app, bg) as served:
        with Wire(served.port, timeout=10) as wire:
            wire.send(get(f"/big?size={size}"))
            head = wire._until(b"\r\n\r\n")
            assert head == b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size
            digest = hashlib.sha256()
            got = 0
            while got < size:
                if not wire.buf:
                    time.sleep(0.002)  # a slow reader: the server must wait for it
                    assert wire._fill()
                data, wire.buf = wire.buf[: size - got], wire.buf[size - got :]
                digest.update(data)
                got += len(data)
            assert digest.hexdigest() == sha(big_body(size))
            wire.send(get("/hello"))
            assert wire.response().body == b"hello"
        # A client that goes away mid-download: the app's sends return, it finishes.
        wire = Wire(served.port)
        wire.send(get(f"/big?size={size}"))
        wire._exact(300_000)
        wire.close()
        wait_for(lambda: app.events.count(f"sent {size}") == 2)


@pytest.mark.timeout(20)
def test_early_answer_drops_a_small_rest_of_the_body(bg: LoopThread) -> None:
    """The app answers without reading a body within MAX_DISCARD: the rest is read
    and dropped and the connection goes on."""
    payload = b"p" * MAX_DISCARD
    with serving(ScriptApp(), bg) as served, Wire(served.port, timeout=10) as wire:
        wire.send(post("/noread", payload) + get("/hello"))
        first = wire.response()
        assert first.body == b"nope" and first.header("connection") is None
        assert wire.response().raw == HELLO_HEAD + b"\r\nhello"
        wire.send(post("/echo", b"after"))
        assert wire.response().json()["sha256"] == sha(b"after")


@pytest.mark.timeout(20)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_early_answer_to_a_large_or_unsized_body_closes_after_the_answer(
    bg: LoopThread, framing: str
) -> None:
    """Past MAX_DISCARD (or with no size) the server does not read on unbounded: it
    says Connection: close. A client that sends all its 16 MB (more than the socket
    buffers hold) before reading still gets the whole answer: the server reads and
    drops until the client is done (a lingering close), where closing at once would
    reset the connection and destroy the answer."""
    payload = b"p" * (16 * MB)
    if framing == "chunked":
        request = get("/noread", "Transfer-Encoding: chunked", method="POST")
        request += b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    else:
        request = post("/noread", payload)
    with serving(ScriptApp(), bg) as served, Wire(served.port, timeout=10) as wire:
        wire.send(request + get("/hello"))
        resp = wire.response()
        assert resp.status == 200 and resp.body == b"nope"
        assert resp.header("connection") == "close"
        assert wire.closed(within=5.0)


# -- 3. pipelining --------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_pipelined_requests_are_answered_in_order(bg: LoopThread) -> None:
    app = ScriptApp()
    with serving(app, bg) as served, Wire(served.port) as wire:
        wire.send(get("/hello") + post("/echo", b"pipelined body") + get("/stream"))
        first, second, third = wire.response(), wire.response(), wire.response()
        assert first.raw == HELLO_HEAD + b"\r\nhello"
        assert second.json()["sha256"] == sha(b"pipelined body")
        assert third.body == b"hello world" and third.header("transfer-encoding") == "chunked"
        assert wire.quiet(0.2)


@pytest.mark.timeout(20)
def test_pipelined_requests_behind_a_slow_one_wait_for_it(bg: LoopThread) -> None:
    app = ScriptApp()
    with serving(app, bg) as served, Wire(served.port) as wire:
        wire.send(get("/slow?delay=0.4") + get("/hello") + post("/echo", b"b" * 100_000))
        start = time.monotonic()
        slow = wire.response()
        assert time.monotonic() - start >= 0.35
        assert slow.raw == (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nslow!"
        )
        assert wire.response().raw == HELLO_HEAD + b"\r\nhello"
        assert wire.response().json()["sha256"] == sha(b"b" * 100_000)
    # The second request started only after the first was answered.
    assert app.events.index("answered /slow") < app.events.index("request /hello")


@pytest.mark.timeout(20)
def test_pipelined_request_with_connection_close_ends_the_pipeline(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(get("/hello") + get("/hello", "Connection: close") + get("/hello"))
        assert wire.response().raw == HELLO_HEAD + b"\r\nhello"
        assert wire.response().raw == HELLO_HEAD + b"connection: close\r\n\r\nhello"
        assert wire.closed()


# -- 4. errors ------------------------------------------------------------------------------

BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 30\r\nconnection: close\r\n\r\nInvalid HTTP request received."
)
SERVER_ERROR = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error"
)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "garbage",
    [
        b"NOT A REQUEST\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
        # Request smuggling shapes: both framings, or two different lengths.
        b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    ],
    ids=["garbage", "version", "header", "cl-and-te", "two-lengths"],
)
def test_malformed_request_is_400_and_closed(bg: LoopThread, garbage: bytes) -> None:
    app = ScriptApp()
    with serving(app, bg) as served:
        with Wire(served.port) as wire:
            wire.send(garbage)
            assert wire.response().raw == BAD_REQUEST
            assert wire.closed()
        with Wire(served.port) as wire:  # the server goes on
            wire.send(get("/hello"))
            assert wire.response().status == 200
    assert app.scopes[-1]["path"] == "/hello" and len(app.scopes) == 1


@pytest.mark.timeout(20)
def test_malformed_request_after_a_valid_one_answers_the_valid_one_first(bg: LoopThread) -> None:
    """Responses go out in request order (RFC 9112 §9.3.2), the 400 after the 200."""
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(get("/slow?delay=0.1") + b"NOT A REQUEST\r\n\r\n")
        first = wire.response()
        assert first.status == 200 and first.body == b"slow!"
        assert wire.response().raw == BAD_REQUEST
        assert wire.closed()


@pytest.mark.timeout(20)
def test_app_raising_before_responding_is_500_and_closed(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg) as served:
        with Wire(served.port) as wire:
            wire.send(get("/raise"))
            assert wire.response().raw == SERVER_ERROR
            assert wire.closed()
        r = httpx.get(served.url + "/hello", timeout=5)
        assert r.status_code == 200 and r.text == "hello"


@pytest.mark.timeout(20)
def test_app_returning_without_a_response_is_500(bg: LoopThread) -> None:
    """As uvicorn did: "ASGI callable returned without starting response" answers 500."""
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(get("/nothing"))
        assert wire.response().raw == SERVER_ERROR
        assert wire.closed()


@pytest.mark.timeout(20)
def test_app_raising_after_starting_the_response_closes_the_connection(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg) as served:
        with Wire(served.port) as wire:
            wire.send(get("/raise-after"))
            head = wire._until(b"\r\n\r\n")
            assert head == b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"
            assert wire._exact(3) == b"abc"
            assert wire.closed()  # 7 bytes short: only the close tells the client
        with Wire(served.port) as wire:
            wire.send(get("/raise-after-chunked"))
            head = wire._until(b"\r\n\r\n")
            assert head == b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            assert wire._exact(8) == b"3\r\nabc\r\n"
            assert wire.closed()  # no last chunk


def read_to_close(wire: Wire, quiet: float = 0.5) -> bytes:
    """Every byte until the server closes or stays silent for ``quiet`` s."""
    data = wire.buf
    wire.buf = b""
    wire.sock.settimeout(quiet)
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while chunk := wire.sock.recv(65536):
            data += chunk
    return data


@pytest.mark.timeout(20)
@pytest.mark.parametrize("where", ["value", "name"])
def test_response_header_injection_never_reaches_the_wire(bg: LoopThread, where: str) -> None:
    """CR/LF in a response header (name or value) must not split the response."""
    with serving(ScriptApp(), bg) as served, Wire(served.port) as wire:
        wire.send(get(f"/inject-{where}"))
        data = read_to_close(wire)
    assert b"evil" not in data
    assert data == b"" or data.startswith(b"HTTP/1.1 500 "), data


@pytest.mark.timeout(20)
def test_client_disconnecting_mid_body_gives_http_disconnect(bg: LoopThread) -> None:
    app = ScriptApp()
    with serving(app, bg) as served:
        wire = Wire(served.port)
        wire.send(get("/hold", "Content-Length: 1000", method="POST") + b"x" * 100)
        wait_for(lambda: sum(n for kind, n, _ in app.messages if kind == "http.request") == 100)
        wire.close()
        assert app.done.wait(3)
    assert app.messages[-1] == ("http.disconnect", 0, False)
    requests = app.messages[:-1]
    assert requests and all(kind == "http.request" and more for kind, _, more in requests)
    assert sum(n for _, n, _ in requests) == 100


# -- 5. lifespan and graceful exit -----------------------------------------------------------


@pytest.mark.timeout(20)
def test_lifespan_startup_before_first_request_and_shutdown_on_exit(bg: LoopThread) -> None:
    app = ScriptApp(startup_delay=0.3)
    with serving(app, bg) as served:
        # The socket listens already: this request waits in the backlog until
        # start-up is complete.
        r = httpx.get(served.url + "/events", timeout=5)
        assert r.json() == ["startup", "request /events"]
        assert "shutdown" not in app.events
        served.stop()
    assert app.events == ["startup", "request /events", "shutdown"]


@pytest.mark.timeout(20)
def test_lifespan_startup_failure_makes_serve_raise(bg: LoopThread) -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    sock = listening_socket()
    try:
        future = bg.submit(H1Server(failing).serve(sock))
        with pytest.raises(RuntimeError, match="application start-up failed: no database"):
            future.result(5)
    finally:
        sock.close()


@pytest.mark.timeout(20)
def test_app_without_lifespan_support_is_served(bg: LoopThread) -> None:
    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError("only http here")
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    with serving(plain, bg) as served, Wire(served.port) as wire:
        wire.send(get("/"))
        assert wire.response().raw == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@pytest.mark.timeout(20)
def test_graceful_exit_answers_in_flight_and_closes_idle(bg: LoopThread) -> None:
    app = ScriptApp()
    with serving(app, bg, grace=5) as served:
        idle = Wire(served.port)
        idle.send(get("/hello"))
        assert idle.response().status == 200
        busy = Wire(served.port)
        busy.send(get("/slow?delay=0.8"))
        wait_for(lambda: "request /slow" in app.events)
        served.request_exit()
        assert idle.closed(within=1.0)
        resp = busy.response()
        assert resp.status == 200 and resp.body == b"slow!"
        assert busy.closed(within=1.0)
        served.stop()
        idle.close()
        busy.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", served.port), timeout=2)
    # Shutdown ran after the in-flight answer.
    assert app.events[-2:] == ["answered /slow", "shutdown"]


@pytest.mark.timeout(20)
def test_graceful_exit_past_grace_closes_busy_connections(bg: LoopThread) -> None:
    app = ScriptApp()
    with serving(app, bg, grace=0.5) as served:
        busy = Wire(served.port)
        busy.send(get("/slow?delay=5"))
        wait_for(lambda: "request /slow" in app.events)
        start = time.monotonic()
        served.stop()
        assert time.monotonic() - start < 2.5
        assert busy.closed(within=1.0)  # no answer: the request was cancelled
        busy.close()
    assert "answered /slow" not in app.events
    assert app.events[-1] == "shutdown"


# -- 6. idle keep-alive -----------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_idle_keep_alive_connections_are_closed_after_keep_alive(bg: LoopThread) -> None:
    with serving(ScriptApp(), bg, keep_alive=1.5) as served:
        used = Wire(served.port)
        silent = Wire(served.port)  # never sends a byte
        partial = Wire(served.port)
        partial.send(b"GET /hello HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
        busy = Wire(served.port)
        busy.send(get("/slow?delay=2.2"))  # longer than keep_alive, but not idle
        used.send(get("/hello"))
        assert used.response().status == 200
        start = time.monotonic()
        assert used.quiet(1.3)  # not closed before keep_alive
        for wire in (used, silent, partial):
            assert wire.closed(within=3.5 - (time.monotonic() - start))
            wire.close()
        resp = busy.response()
        assert resp.status == 200 and resp.body == b"slow!"
        busy.close()


# -- the server's side of the direct path (a minimal app with handle_direct) --------------------


class DirectApp(ScriptApp):
    """``handle_direct`` answers /d/* itself (at once, later, or handed over), declines the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.offered: list[tuple[str, int]] = []

    def handle_direct(self, scope: Scope, body: bytes, reply: Cycle) -> bool:
        path = scope["path"]
        self.offered.append((path, len(body)))
        data = b"direct " + path.encode() + b" " + sha(body)[:8].encode()
        headers = [(b"content-length", str(len(data)).encode())]
        if path == "/d/now":
            reply.respond(200, headers, data)
        elif path == "/d/later":
            asyncio.get_running_loop().call_later(0.2, reply.respond, 201, headers, data)
        elif path == "/d/handover":

            async def work(send: Send) -> None:
                await asyncio.sleep(0.05)
                await send({"type": "http.response.start", "status": 202, "headers": []})
                await send({"type": "http.response.body", "body": data, "more_body": True})
                await send({"type": "http.response.body", "body": b"!"})

            reply.hand_over(work)
        else:
            return False
        return True


@pytest.mark.timeout(20)
def test_direct_path_respond_later_and_hand_over(bg: LoopThread) -> None:
    app = DirectApp()
    with serving(app, bg) as served, Wire(served.port) as wire:
        body = b'{"a": 1}'
        wire.send(post("/d/now", body))
        tag = b" " + sha(body)[:8].encode()
        data = b"direct /d/now" + tag
        assert wire.response().raw == (
            b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data)
        )
        # The body arrives in pieces: the request is offered once it is whole.
        wire.send(get("/d/later", "Content-Length: 8", method="POST") + body[:3])
        time.sleep(0.05)
        wire.send(body[3:])
        resp = wire.response()
        assert resp.status == 201 and resp.body == b"direct /d/later" + tag
        wire.send(get("/d/handover"))
        resp = wire.response()
        assert resp.raw.startswith(b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\n\r\n")
        assert resp.body == b"direct /d/handover " + sha(b"")[:8].encode() + b"!"
        wire.send(post("/echo", b"declined"))  # declined: ASGI with the buffered body
        assert wire.response().json() == {
            "size": 8,
            "sha256": sha(b"declined"),
            "messages": 1,
            "biggest": 8,
        }
    assert app.offered == [("/d/now", 8), ("/d/later", 8), ("/d/handover", 0), ("/echo", 8)]


@pytest.mark.timeout(20)
def test_direct_path_is_not_offered_large_chunked_or_expect_bodies(bg: LoopThread) -> None:
    app = DirectApp()
    big = b"z" * (DIRECT_BODY + 1)
    with serving(app, bg) as served, Wire(served.port) as wire:
        wire.send(post("/d/now", b"y" * DIRECT_BODY))
        assert wire.response().status == 200
        wire.send(post("/d/now", big))
        assert wire.response().status == 404  # the ASGI app does not know /d/now
        wire.send(
            get("/d/now", "Transfer-Encoding: chunked", method="POST") + b"1\r\na\r\n0\r\n\r\n"
        )
        assert wire.response().status == 404
        wire.send(get("/echo", "Content-Length: 2", "Expect: 100-continue", method="POST"))
        assert wire._until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        wire.send(b"ok")
        assert wire.response().json()["sha256"] == sha(b"ok")
    assert app.offered == [("/d/now", DIRECT_BODY)]


@pytest.mark.timeout(20)
def test_pipelined_requests_behind_a_direct_answer_keep_their_order(bg: LoopThread) -> None:
    app = DirectApp()
    with serving(app, bg) as served, Wire(served.port) as wire:
        wire.send(get("/d/later") + get("/d/now") + get("/hello") + get("/d/handover"))
        statuses = [wire.response() for _ in range(4)]
        assert [r.status for r in statuses] == [201, 404, 200, 404]
        assert statuses[0].body.startswith(b"direct /d/later")
        assert statuses[2].body == b"hello"
        assert wire.quiet(0.2)
    # Only the first was offered: the others were pipelined behind it.
    assert app.offered == [("/d/later", 0)]


# -- 7. the real gateway on the direct path ---------------------------------------------------

ERROR_REF = {"$ref": "#/components/responses/Error"}
ITEMS_DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "items", "version": "1.0.0"},
    "paths": {
        "/items": {
            "post": {
                "operationId": "createItem",
                "x-service": "items",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "created",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "default": ERROR_REF,
                },
            }
        },
        "/items/{id}": {
            "get": {
                "operationId": "getItem",
                "x-service": "items",
                "security": [],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {
                        "name": "mode",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": [
                                "close",
                                "silent",
                                "large",
                                "chunked",
                                "chunked-small",
                                "eof",
                                "slow",
                                "delay",
                                "hugehead",
                            ],
                        },
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "default": ERROR_REF,
                },
            }
        },
    },
    "components": {
        "schemas": {
            "NewItem": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "note": {"type": "string"},
                },
            },
            "Error": {
                "type": "object",
                "required": ["success", "error"],
                "properties": {"success": {"const": False}, "error": {"type": "object"}},
            },
        },
        "responses": {
            "Error": {
                "description": "error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
    },
}
LARGE = b'{"data": "' + b"x" * (MB - 13) + b'"}'
READ_TIMEOUT = 1.0


@dataclass
class Seen:
    conn: int
    method: str
    target: str
    body: bytes


@dataclass
class ScriptedUpstream:
    """A raw HTTP/1.1 upstream in the server's loop; counts connections, scripts answers."""

    accepted: int = 0
    seen: list[Seen] = field(default_factory=list)
    drop_next: int = 0
    """Requests arriving on an already-used connection to drop by closing it unanswered."""
    dropped: int = 0
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.accepted
        self.accepted += 1
        served = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                if headers.get("transfer-encoding") == "chunked":
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        data = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        body += data[:-2]
                else:
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                if served and self.drop_next > 0:
                    self.drop_next -= 1
                    self.dropped += 1
                    return  # closed unanswered, as an upstream's idle timeout would
                served += 1
                self.seen.append(Seen(index, method, target, body))
                if not await self._answer(writer, method, target, body):
                    return
        finally:
            writer.close()

    async def _answer(
        self, writer: asyncio.StreamWriter, method: str, target: str, body: bytes
    ) -> bool:
        path, _, query = target.partition("?")
        mode = parse_qs(query).get("mode", [""])[0]

        def head(length: int | None, *extra: bytes) -> bytes:
            parts = [b"HTTP/1.1 200 OK", b"content-type: application/json", *extra]
            if length is not None:
                parts.append(b"content-length: %d" % length)
            return b"\r\n".join(parts) + b"\r\n\r\n"

        if method == "POST":
            data = json.dumps({"created": json.loads(body), "size": len(body), "sha256": sha(body)})
            writer.write(head(len(data)) + data.encode())
            return True
        if path == "/":
            writer.write(head(2) + b"{}")
            return True
        item = path.rsplit("/", 1)[-1].encode()
        data = b'{"id": ' + item + b"}"
        if mode == "close":
            writer.write(head(len(data), b"connection: close") + data)
            await writer.drain()
            return False
        if mode == "silent":
            writer.write(head(len(data)) + data)
            await writer.drain()
            await asyncio.sleep(0.05)
            return False  # closed without a word while idle
        if mode == "large":
            writer.write(head(len(LARGE)) + LARGE)
            await writer.drain()
            return True
        if mode in ("chunked", "chunked-small"):
            parts = [b'{"id": ', item, b', "chunked": true}']
            if mode == "chunked-small":
                writer.write(
                    head(None, b"transfer-encoding: chunked")
                    + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
                    + b"0\r\n\r\n"
                )
                return True
            writer.write(head(None, b"transfer-encoding: chunked"))
            for part in parts:
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        if mode == "hugehead":
            # A head that never ends: the gateway must give up (502), not buffer it all.
            writer.write(b"HTTP/1.1 200 OK\r\n")
            with contextlib.suppress(ConnectionError):
                for n in range(2000):
                    writer.write(b"x-filler-%d: %s\r\n" % (n, b"f" * 1000))
                    await writer.drain()
                await asyncio.sleep(READ_TIMEOUT * 3)  # then silent: a cap, not a timeout
            return False
        if mode == "eof":
            writer.write(head(None) + data)
            await writer.drain()
            return False
        if mode == "slow":
            await asyncio.sleep(READ_TIMEOUT * 3)
        elif mode == "delay":
            await asyncio.sleep(0.3)
        writer.write(head(len(data)) + data)
        return True


@dataclass
class Gateway:
    served: Served
    upstream: ScriptedUpstream
    app: GatewayApp
    offered: list[tuple[str, str, bool]]
    """(method, raw path, handle_direct's answer) per request offered to the direct path."""

    @property
    def port(self) -> int:
        return self.served.port

    @property
    def url(self) -> str:
        return self.served.url

    def warm(self) -> None:
        """One request, so that a kept-alive upstream connection is idle in the pool."""
        r = httpx.get(self.url + "/items/1", timeout=5)
        assert r.status_code == 200


@pytest.fixture(scope="module")
def real_gateway() -> Iterator[Gateway]:
    bg = LoopThread()
    upstream = ScriptedUpstream()
    bg.run(upstream.start())
    services = [
        ServiceConfig(
            name="items",
            spec="specs/items.yaml",
            upstreams=(f"http://127.0.0.1:{upstream.port}",),
            timeouts={"connect": 2, "read": READ_TIMEOUT},
        )
    ]
    settings = parse_settings(
        {"port": 0, "max_body_size": 2 * MB, "health_interval": 3600, "access_log": False},
        services,
    )
    spec = UnifiedSpec(
        document=json.loads(json.dumps(ITEMS_DOC)),
        operations=(),
        errors=(),
        services=(ServiceConfig(name="items", spec="specs/items.yaml"),),
    )

    async def build() -> GatewayApp:
        return build_gateway_app(spec, settings)

    app = bg.run(build())
    offered: list[tuple[str, str, bool]] = []
    real = app.handle_direct

    def recording(scope: Scope, body: bytes, reply: Any) -> bool:
        taken = real(scope, body, reply)
        offered.append((scope["method"], scope["path"], taken))
        return taken

    app.handle_direct = recording  # type: ignore[method-assign]
    try:
        with serving(app, bg) as served:
            yield Gateway(served, upstream, app, offered)
    finally:
        if upstream.server is not None:
            upstream.server.close()
        bg.close()
    assert bg.unexpected_errors() == []


def metric(text: str, operation: str, method: str, status: int) -> float:
    """The value of one ``unispec_gateway_requests_total`` series (0 when absent)."""
    wanted = {"operation_id": operation, "method": method, "status": str(status)}
    found = 0.0
    for match in re.finditer(r"^unispec_gateway_requests_total\{([^}]*)\} (\S+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels == wanted:
            found += float(match.group(2))
    return found


def check_gateway_headers(resp: httpx.Response | Resp, rid: str | None = None) -> None:
    headers = dict(resp.headers)
    if rid is not None:
        assert headers["x-request-id"] == rid
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert headers["cache-control"] == "no-store"


@pytest.mark.timeout(30)
def test_gateway_small_post_is_answered_on_the_direct_path(real_gateway: Gateway) -> None:
    real_gateway.warm()
    item = {"name": "pen", "note": "blue"}
    body = json.dumps(item).encode()
    with Wire(real_gateway.port) as wire:
        wire.send(
            post("/items", body, "Content-Type: application/json", "X-Request-ID: rid-direct-1")
        )
        resp = wire.response()
    assert resp.status == 200
    assert resp.json() == {"created": item, "size": len(body), "sha256": sha(body)}
    assert resp.header("content-length") == str(len(resp.body))
    assert resp.header("content-type") == "application/json"
    assert resp.header("transfer-encoding") is None and resp.header("connection") is None
    check_gateway_headers(resp, "rid-direct-1")
    assert real_gateway.offered[-1] == ("POST", "/items", True)
    assert real_gateway.upstream.seen[-1].body == body


@pytest.mark.timeout(30)
def test_gateway_invalid_body_is_422_from_the_asgi_path(real_gateway: Gateway) -> None:
    real_gateway.warm()
    r = httpx.post(real_gateway.url + "/items", json={"name": "", "extra": 1}, timeout=5)
    assert r.status_code == 422
    envelope = r.json()
    assert envelope["success"] is False
    assert envelope["error"]["code"] == "VALIDATION_ERROR"
    assert envelope["error"]["requestId"] == r.headers["x-request-id"]
    details = envelope["error"]["details"]
    assert isinstance(details, list) and details
    assert all(set(d) == {"field", "code", "message"} for d in details)
    check_gateway_headers(r)
    assert real_gateway.offered[-1] == ("POST", "/items", False)  # declined, ASGI answered


@pytest.mark.timeout(30)
def test_gateway_body_over_64kb_goes_the_asgi_path(real_gateway: Gateway) -> None:
    item = {"name": "big", "note": "n" * 200_000}
    body = json.dumps(item).encode()
    before = len(real_gateway.offered)
    r = httpx.post(
        real_gateway.url + "/items",
        content=body,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json() == {"created": item, "size": len(body), "sha256": sha(body)}
    check_gateway_headers(r)
    assert len(real_gateway.offered) == before  # never offered to handle_direct


@pytest.mark.timeout(30)
def test_gateway_expect_100_continue(real_gateway: Gateway) -> None:
    body = b'{"name": "expected"}'
    with Wire(real_gateway.port) as wire:
        wire.send(
            get(
                "/items",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                "Expect: 100-continue",
                method="POST",
            )
        )
        assert wire._until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        wire.send(body)
        resp = wire.response()
    assert resp.status == 200
    assert resp.json()["created"] == {"name": "expected"}
    check_gateway_headers(resp)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("split", [False, True], ids=["one-write", "separate-last-chunk"])
def test_gateway_chunked_upload(real_gateway: Gateway, split: bool) -> None:
    """A chunked JSON body (never offered to the direct path) reaches the upstream whole."""
    parts = [b'{"name": "chunk', b'ed", "note": "', b"c" * 1000, b'"}']
    body = b"".join(parts)
    head = get(
        "/items",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        method="POST",
    )
    with Wire(real_gateway.port, timeout=1.5) as wire:
        if split:
            wire.send(head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts))
            time.sleep(0.1)
            wire.send(b"0\r\n\r\n")
        else:
            wire.send(head + chunked(*parts))
        resp = wire.response()
    assert resp.status == 200
    assert resp.json() == {"created": json.loads(body), "size": len(body), "sha256": sha(body)}
    check_gateway_headers(resp)


@pytest.mark.timeout(30)
def test_gateway_pipelined_requests_answered_in_order(real_gateway: Gateway) -> None:
    real_gateway.warm()
    body = b'{"name": "piped"}'
    with Wire(real_gateway.port) as wire:
        wire.send(
            get("/items/21")
            + post("/items", body, "Content-Type: application/json")
            + get("/items/22?mode=chunked")
            + post("/items", b'{"name": 1}', "Content-Type: application/json")
            + get("/items/23")
        )
        answers = [wire.response() for _ in range(5)]
        assert wire.quiet(0.2)
    assert [r.status for r in answers] == [200, 200, 200, 422, 200]
    assert answers[0].json() == {"id": 21}
    assert answers[1].json()["created"] == {"name": "piped"}
    assert answers[2].json() == {"id": 22, "chunked": True}
    assert answers[3].json()["error"]["code"] == "VALIDATION_ERROR"
    assert answers[4].json() == {"id": 23}
    assert len({r.header("x-request-id") for r in answers}) == 5


@pytest.mark.timeout(30)
def test_gateway_sequential_requests_reuse_one_upstream_connection(real_gateway: Gateway) -> None:
    real_gateway.warm()
    up = real_gateway.upstream
    accepted = up.accepted
    seen = len(up.seen)
    offered = len(real_gateway.offered)
    with Wire(real_gateway.port) as wire:
        for i in range(40):
            if i % 2:
                body = json.dumps({"name": f"n{i}"}).encode()
                wire.send(post("/items", body, "Content-Type: application/json"))
                resp = wire.response()
                assert resp.status == 200 and resp.json()["sha256"] == sha(body)
            else:
                wire.send(get(f"/items/{i + 1}"))
                resp = wire.response()
                assert resp.status == 200 and resp.json() == {"id": i + 1}
    assert up.accepted == accepted  # not one new upstream connection
    assert len({s.conn for s in up.seen[seen:]}) == 1
    assert len(up.seen) - seen == 40
    assert all(taken for _, _, taken in real_gateway.offered[offered:])
    assert len(real_gateway.offered) - offered == 40


@pytest.mark.timeout(30)
def test_gateway_stale_upstream_connection_is_resent(real_gateway: Gateway) -> None:
    up = real_gateway.upstream
    for method in ("GET", "POST"):
        real_gateway.warm()
        accepted = up.accepted
        dropped = up.dropped
        up.drop_next = 1
        if method == "GET":
            r = httpx.get(real_gateway.url + "/items/77", timeout=5)
            assert r.status_code == 200 and r.json() == {"id": 77}
        else:
            r = httpx.post(real_gateway.url + "/items", json={"name": "again"}, timeout=5)
            assert r.status_code == 200 and r.json()["created"] == {"name": "again"}
        check_gateway_headers(r)
        assert up.dropped == dropped + 1  # the kept-alive connection died under the request
        assert up.accepted == accepted + 1  # and it went again on a fresh one
        assert up.seen[-1].method == method
        assert real_gateway.offered[-1][2] is True


@pytest.mark.timeout(30)
def test_gateway_upstream_closing_idle_connections(real_gateway: Gateway) -> None:
    up = real_gateway.upstream
    with httpx.Client(base_url=real_gateway.url, timeout=5) as client:
        for mode in ("close", "silent"):
            real_gateway.warm()
            first = client.get(f"/items/5?mode={mode}")
            assert first.status_code == 200 and first.json() == {"id": 5}
            time.sleep(0.3)  # the upstream closes its side meanwhile
            accepted = up.accepted
            after = client.get("/items/6")
            assert after.status_code == 200 and after.json() == {"id": 6}
            check_gateway_headers(after)
            assert up.accepted <= accepted + 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode", ["large", "chunked", "chunked-small", "eof"])
def test_gateway_streamed_or_large_upstream_answers(real_gateway: Gateway, mode: str) -> None:
    real_gateway.warm()
    expected = {
        "large": LARGE,
        "chunked": b'{"id": 9, "chunked": true}',
        "chunked-small": b'{"id": 9, "chunked": true}',
        "eof": b'{"id": 9}',
    }[mode]
    with Wire(real_gateway.port, timeout=10) as wire:
        for _ in range(2):  # twice on one client connection: the framing holds
            wire.send(get(f"/items/9?mode={mode}"))
            resp = wire.response()
            assert resp.status == 200
            assert resp.body == expected
            check_gateway_headers(resp)
            if mode == "large":
                assert resp.header("content-length") == str(len(LARGE))
            if mode == "chunked-small":
                # Whole on arrival: answered with a length, the upstream's framing dropped.
                assert resp.header("content-length") == str(len(expected))
                assert resp.header("transfer-encoding") is None
        wire.send(get("/items/10"))
        assert wire.response().json() == {"id": 10}
    assert real_gateway.offered[-1] == ("GET", "/items/10", True)


@pytest.mark.timeout(30)
def test_gateway_direct_answer_honours_connection_close_and_http10(real_gateway: Gateway) -> None:
    real_gateway.warm()
    with Wire(real_gateway.port) as wire:
        wire.send(get("/items/31", "Connection: close"))
        resp = wire.response()
        assert resp.status == 200 and resp.json() == {"id": 31}
        assert resp.header("connection") == "close"
        assert wire.closed()
    assert real_gateway.offered[-1] == ("GET", "/items/31", True)
    with Wire(real_gateway.port) as wire:
        wire.send(b"GET /items/32 HTTP/1.0\r\n\r\n")
        resp = wire.response()
        assert resp.status == 200 and resp.json() == {"id": 32}
        assert resp.header("connection") == "close"
        assert wire.closed()
    assert real_gateway.offered[-1] == ("GET", "/items/32", True)


@pytest.mark.timeout(30)
def test_gateway_client_leaving_before_the_upstream_answers(real_gateway: Gateway) -> None:
    real_gateway.warm()
    seen = len(real_gateway.upstream.seen)
    with Wire(real_gateway.port) as wire:
        wire.send(get("/items/41?mode=delay"))
        wait_for(lambda: len(real_gateway.upstream.seen) > seen)
    time.sleep(0.5)  # the upstream answers to nobody
    assert real_gateway.offered[-1] == ("GET", "/items/41", True)
    with Wire(real_gateway.port) as wire:
        wire.send(get("/items/42"))
        assert wire.response().json() == {"id": 42}
    deadline = time.monotonic() + 3
    while real_gateway.app.metrics.in_flight_count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert real_gateway.app.metrics.in_flight_count == 0


@pytest.mark.timeout(30)
def test_gateway_slow_upstream_is_504(real_gateway: Gateway) -> None:
    real_gateway.warm()
    start = time.monotonic()
    r = httpx.get(
        real_gateway.url + "/items/3?mode=slow", headers={"x-request-id": "slow-1"}, timeout=10
    )
    elapsed = time.monotonic() - start
    assert r.status_code == 504
    envelope = r.json()
    assert envelope["success"] is False
    assert envelope["error"]["code"] == "GATEWAY_TIMEOUT"
    assert envelope["error"]["requestId"] == "slow-1"
    assert envelope["error"]["message"].startswith("The upstream service did not answer in time")
    check_gateway_headers(r, "slow-1")
    assert READ_TIMEOUT * 0.9 <= elapsed < READ_TIMEOUT * 2.5
    assert real_gateway.offered[-1] == ("GET", "/items/3", True)
    # The next request is fine.
    assert httpx.get(real_gateway.url + "/items/4", timeout=5).json() == {"id": 4}


def test_gateway_upstream_head_too_large_is_502(real_gateway: Gateway) -> None:
    real_gateway.warm()
    start = time.monotonic()
    r = httpx.get(
        real_gateway.url + "/items/5?mode=hugehead", headers={"x-request-id": "huge-1"}, timeout=10
    )
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "BAD_GATEWAY"
    assert r.json()["error"]["requestId"] == "huge-1"
    assert time.monotonic() - start < READ_TIMEOUT  # cut off at the cap, not timed out
    assert real_gateway.offered[-1] == ("GET", "/items/5", True)
    assert httpx.get(real_gateway.url + "/items/6", timeout=5).json() == {"id": 6}


@pytest.mark.timeout(30)
def test_gateway_metrics_count_direct_requests(real_gateway: Gateway) -> None:
    def scrape() -> str:
        r = httpx.get(real_gateway.url + "/metrics", timeout=5)
        assert r.status_code == 200
        return r.text

    real_gateway.warm()
    before = scrape()
    with httpx.Client(base_url=real_gateway.url, timeout=5) as client:
        for i in range(5):
            assert client.get(f"/items/{i + 1}").status_code == 200
        for i in range(3):
            assert client.post("/items", json={"name": f"m{i}"}).status_code == 200
        assert client.post("/items", json={}).status_code == 422
    after = scrape()
    assert metric(after, "getItem", "GET", 200) - metric(before, "getItem", "GET", 200) == 5
    assert metric(after, "createItem", "POST", 200) - metric(before, "createItem", "POST", 200) == 3
    assert metric(after, "createItem", "POST", 422) - metric(before, "createItem", "POST", 422) == 1
