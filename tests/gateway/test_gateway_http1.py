"""The gateway's upstream HTTP/1.1 client (``gateway/http1.py``) against real sockets.

Every upstream here is a raw ``asyncio.start_server`` on 127.0.0.1 whose behaviour
each test scripts byte by byte (chunked answers, answers framed by EOF, interim 1xx
answers, malformed heads, stalls, early closes), so the client is checked against
exactly the wire traffic that breaks keep-alive clients, not against a friendly
framework. The server counts accepted and live connections, which is how connection
reuse and the pool's bookkeeping are asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from unispec.gateway import http1
from unispec.gateway.http1 import HIGH_WATER, Client, HTTPError, Origin, Pool, Response
from unispec.gateway.proxy import Proxy, UpstreamError
from unispec.gateway.settings import PoolSettings, ServiceSettings

MB = 1024 * 1024
T = TypeVar("T")


# -- a scriptable upstream ------------------------------------------------------------------


@dataclass
class Req:
    """One request as the upstream received it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    conn: int


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


@dataclass
class Upstream:
    """A raw TCP upstream; ``handler(reader, writer, index)`` scripts each connection."""

    handler: Handler
    accepted: int = 0
    live: int = 0
    max_live: int = 0
    requests: list[Req] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Upstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()  # handlers blocked on a read see EOF and return
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=1)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.add(writer)
        index = self.accepted
        self.accepted += 1
        self.live += 1
        self.max_live = max(self.max_live, self.live)
        try:
            await self.handler(reader, writer, index)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.live -= 1
            writer.close()
            self.tasks.discard(task)
            self.writers.discard(writer)

    async def read(self, reader: asyncio.StreamReader, index: int) -> Req | None:
        """The next request on a connection (None at EOF), recorded in ``requests``."""
        req = await read_request(reader, index)
        if req is not None:
            self.requests.append(req)
        return req

    async def settle(self, live: int, timeout: float = 2.0) -> None:
        """Wait until the upstream sees ``live`` open connections (closes are asynchronous)."""
        deadline = time.monotonic() + timeout
        while self.live != live and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert self.live == live, f"upstream has {self.live} live connections, expected {live}"


async def read_head(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    assert version == "HTTP/1.1"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, value = line.split(":", 1)
            assert name.lower() not in headers, f"duplicate header {name}"
            headers[name.lower()] = value.strip()
    return method, target, headers


async def read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], hasher: Any = None
) -> bytes:
    """The request body; with ``hasher`` it is hashed as it arrives and not kept."""
    out = bytearray()

    def sink(data: bytes) -> None:
        if hasher is not None:
            hasher.update(data)
        else:
            out.extend(data)

    if "transfer-encoding" in headers:
        assert headers["transfer-encoding"] == "chunked"
        assert "content-length" not in headers
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                assert await reader.readuntil(b"\r\n") == b"\r\n"
                break
            sink(await reader.readexactly(size))
            assert await reader.readexactly(2) == b"\r\n"
    else:
        left = int(headers.get("content-length", "0"))
        while left:
            data = await reader.read(min(left, MB))
            if not data:
                raise asyncio.IncompleteReadError(bytes(out), left)
            sink(data)
            left -= len(data)
    return bytes(out)


async def read_request(reader: asyncio.StreamReader, index: int) -> Req | None:
    head = await read_head(reader)
    if head is None:
        return None
    method, target, headers = head
    return Req(method, target, headers, await read_body(reader, headers), index)


def answer(
    body: bytes = b"", status: str = "200 OK", headers: tuple[str, ...] = (), length: bool = True
) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if length:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def keep_alive(
    respond: Callable[[Req], bytes], delay: float = 0.0
) -> Callable[[Upstream], Handler]:
    """A well-behaved keep-alive upstream answering every request with ``respond(req)``."""

    def bind(up: Upstream) -> Handler:
        async def handler(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int
        ) -> None:
            while (req := await up.read(reader, index)) is not None:
                if delay:
                    await asyncio.sleep(delay)
                writer.write(respond(req))
                await writer.drain()

        return handler

    return bind


def upstream(make: Callable[[Upstream], Handler]) -> Upstream:
    up = Upstream(handler=_unset)
    up.handler = make(up)
    return up


async def _unset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
    raise AssertionError("handler not set")


def echo_target(req: Req) -> bytes:
    return answer(f"{req.method} {req.target}".encode())


def run(coro: Coroutine[Any, Any, T], limit: float = 20.0) -> T:
    """Run one test's scenario in a fresh loop, never longer than ``limit`` seconds."""

    async def bounded() -> T:
        async with asyncio.timeout(limit):
            return await coro

    return asyncio.run(bounded())


def new_pool(up: Upstream, **kw: Any) -> Pool:
    return Pool(Origin.parse(up.url), **kw)


async def read_all(resp: Response) -> bytes:
    parts = [chunk async for chunk in resp.chunks()]
    resp.release()
    return b"".join(parts)


async def get(pool: Pool, target: str = "/", **kw: Any) -> tuple[int, bytes]:
    resp = await pool.request("GET", target, (), None, **kw)
    return resp.status, await read_all(resp)


async def stream(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[i : i + size]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- 1. keep-alive reuse and the connection limit -----------------------------------------------


def test_sequential_requests_share_one_connection() -> None:
    async def scenario() -> None:
        async with upstream(keep_alive(echo_target)) as up:
            pool = new_pool(up)
            for i in range(25):
                assert await get(pool, f"/n/{i}") == (200, f"GET /n/{i}".encode())
            assert up.accepted == 1
            assert pool.open == 1 and len(pool.idle) == 1
            assert pool.idle[0].used == 25
            pool.close()
            assert pool.open == 0
            await up.settle(0)

    run(scenario())


def test_64_concurrent_requests_never_exceed_max_connections() -> None:
    async def scenario() -> None:
        async with upstream(keep_alive(echo_target, delay=0.01)) as up:
            pool = new_pool(up, max_connections=8, max_idle=8)
            peak = 0

            async def one(i: int) -> tuple[int, bytes]:
                nonlocal peak
                resp = await pool.request("GET", f"/c/{i}", (), None)
                peak = max(peak, pool.open)
                return resp.status, await read_all(resp)

            results = await asyncio.gather(*(one(i) for i in range(64)))
            assert results == [(200, f"GET /c/{i}".encode()) for i in range(64)]
            assert up.max_live <= 8 and up.accepted <= 8
            assert up.accepted >= 2  # the requests really ran side by side
            assert peak <= 8
            assert pool.open == len(pool.idle) == up.live
            assert not pool.waiters
            assert sorted(r.target for r in up.requests) == sorted(f"/c/{i}" for i in range(64))
            pool.close()

    run(scenario())


def test_idle_connection_past_keepalive_expiry_is_not_reused() -> None:
    async def scenario() -> None:
        async with upstream(keep_alive(echo_target)) as up:
            pool = new_pool(up, keepalive_expiry=0.2)
            assert await get(pool, "/1") == (200, b"GET /1")
            assert await get(pool, "/2") == (200, b"GET /2")  # within expiry: reused
            assert up.accepted == 1
            await asyncio.sleep(0.35)
            assert await get(pool, "/3") == (200, b"GET /3")
            assert up.accepted == 2
            assert [r.conn for r in up.requests] == [0, 0, 1]
            await up.settle(1)  # the expired connection was closed, not leaked
            assert pool.open == 1
            pool.close()

    run(scenario())


# -- 2. response bodies -------------------------------------------------------------------------


def test_content_length_response() -> None:
    body = os.urandom(200_000)

    async def scenario() -> None:
        async with upstream(keep_alive(lambda r: answer(body, headers=("x-a: 1",)))) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/", (), None)
            assert resp.status == 200
            assert (b"x-a", b"1") in resp.headers
            assert (b"content-length", b"200000") in resp.headers
            assert await read_all(resp) == body
            assert pool.open == 1 and len(pool.idle) == 1

    run(scenario())


def test_chunked_response_is_decoded() -> None:
    parts = [os.urandom(n) for n in (1, 10, 4096, 70_000, 3)]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while await read_request(reader, i) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for n, part in enumerate(parts):
                ext = b";name=value" if n == 1 else b""
                writer.write(b"%x%s\r\n%s\r\n" % (len(part), ext, part))
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.write(b"0\r\nx-trailer: t\r\n\r\n")

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            for _ in range(2):  # the chunked framing leaves the connection reusable
                resp = await pool.request("GET", "/", (), None)
                assert resp.status == 200
                assert await read_all(resp) == b"".join(parts)
            assert up.accepted == 1

    run(scenario())


def test_response_framed_by_close() -> None:
    body = os.urandom(300_000)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n")
        for k in range(0, len(body), 50_000):
            writer.write(body[k : k + 50_000])
            await writer.drain()
            await asyncio.sleep(0.005)
        # returning closes the connection: that ends the body

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/", (), None)
            assert resp.status == 200
            assert await read_all(resp) == body
            assert pool.open == 0 and not pool.idle  # such a connection cannot be reused
            resp2 = await pool.request("GET", "/", (), None)
            assert await read_all(resp2) == body
            assert up.accepted == 2

    run(scenario())


@pytest.mark.parametrize(
    "status", ["204 No Content", "304 Not Modified", "304 Not Modified+length"]
)
def test_no_body_statuses(status: str) -> None:
    code, _, variant = status.partition("+")

    def respond(req: Req) -> bytes:
        if req.target == "/next":
            return answer(b"next")
        # A 304 may carry the Content-Length of the representation it stands for.
        head = ("content-length: 1234",) if variant else ()
        return answer(b"", status=code, headers=head, length=False)

    async def scenario() -> None:
        async with upstream(keep_alive(respond)) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/", (), None, read_timeout=1.0)
            assert resp.status == int(code[:3])
            assert resp.complete
            assert resp.take_all() == b""
            resp.release()
            assert len(pool.idle) == 1
            assert await get(pool, "/next", read_timeout=1.0) == (200, b"next")
            assert up.accepted == 1

    run(scenario())


def test_head_response_is_not_reused_and_next_request_works() -> None:
    def respond(req: Req) -> bytes:
        if req.method == "HEAD":
            return b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\nx-head: yes\r\n\r\n"
        return answer(b"after head")

    async def scenario() -> None:
        async with upstream(keep_alive(respond)) as up:
            pool = new_pool(up)
            resp = await pool.request("HEAD", "/", (), None, read_timeout=1.0)
            assert resp.status == 200
            assert resp.complete
            assert (b"x-head", b"yes") in resp.headers
            assert await read_all(resp) == b""
            assert pool.open == 0 and not pool.idle
            assert await get(pool, "/", read_timeout=1.0) == (200, b"after head")
            assert up.accepted == 2
            assert [r.method for r in up.requests] == ["HEAD", "GET"]

    run(scenario())


def test_interim_1xx_answers_are_skipped() -> None:
    def respond(req: Req) -> bytes:
        return (
            b"HTTP/1.1 100 Continue\r\nx-interim: 1\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n"
            + answer(b"final:" + req.body, headers=("x-final: 1",))
        )

    async def scenario() -> None:
        async with upstream(keep_alive(respond)) as up:
            pool = new_pool(up)
            for i in range(2):
                resp = await pool.request(
                    "POST", "/", [(b"expect", b"100-continue")], b"up%d" % i, read_timeout=1.0
                )
                assert resp.status == 200
                names = [k for k, _ in resp.headers]
                assert b"x-final" in names
                assert b"x-interim" not in names and b"link" not in names
                assert await read_all(resp) == b"final:up%d" % i
            assert up.accepted == 1

    run(scenario())


def test_interim_answer_sent_separately_before_the_final_one() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        head = await read_head(reader)
        assert head is not None
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        body = await read_body(reader, head[2])
        await asyncio.sleep(0.05)
        writer.write(answer(hashlib.sha256(body).hexdigest().encode()))

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            data = os.urandom(100_000)
            resp = await pool.request(
                "PUT", "/", [(b"expect", b"100-continue")], stream(data), read_timeout=2.0
            )
            assert resp.status == 200
            assert await read_all(resp) == hashlib.sha256(data).hexdigest().encode()

    run(scenario())


@pytest.mark.parametrize(
    "extra", [b"de", b"HTTP/1.1 500 Oops\r\nx-evil: 1\r\ncontent-length: 1\r\n\r\nX"]
)
def test_bytes_after_a_complete_answer_spoil_only_the_connection(extra: bytes) -> None:
    """An upstream that sends more than its framing says (a wrong Content-Length, a
    second answer nobody asked for): the framed answer stands, untouched, and the
    connection is not reused (where the next answer would start is unknown)."""

    def respond(req: Req) -> bytes:
        return answer(b"abc", headers=("x-good: 1",)) + extra

    async def scenario() -> None:
        async with upstream(keep_alive(respond)) as up:
            pool = new_pool(up)
            for n in range(1, 3):
                resp = await pool.request("GET", "/", (), None, read_timeout=1.0)
                await asyncio.sleep(0.05)  # the extra bytes have been parsed by now
                assert resp.status == 200
                assert resp.headers == [(b"x-good", b"1"), (b"content-length", b"3")]
                assert resp.complete
                assert await read_all(resp) == b"abc"
                assert pool.open == 0 and not pool.idle
                assert up.accepted == n

    run(scenario())


def test_upstream_answering_before_the_upload_ends() -> None:
    """A 413 sent before the upstream reads the body: the answer reaches the caller
    while the upload is still being written; releasing it stops the upload and drops
    the connection (the rest of the body is still owed), and the pool carries on."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        head = await read_head(reader)
        assert head is not None
        if head[1] == "/upload":
            writer.write(answer(b"too large", status="413 Payload Too Large"))
            await writer.drain()
            await asyncio.sleep(0.5)  # reads nothing: the client's writes back up
            return
        await read_body(reader, head[2])
        writer.write(answer(b"fine"))

    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        block = b"u" * (256 * 1024)
        for _ in range(200):  # 50 MB: far more than the socket buffers hold
            sent += len(block)
            yield block

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            resp = await pool.request("PUT", "/upload", (), body(), length=200 * 256 * 1024)
            assert resp.status == 413
            assert await read_all(resp) == b"too large"
            assert sent < 50 * MB  # the upload did not run to its end
            assert pool.open == 0 and not pool.idle
            await asyncio.sleep(0.05)
            assert sent < 50 * MB  # and stopped with the release
            assert await get(pool, "/other", read_timeout=2.0) == (200, b"fine")
            assert up.accepted == 2

    run(scenario())


# -- 3. request bodies --------------------------------------------------------------------------


def test_bytes_body_has_content_length_and_arrives_exactly() -> None:
    small = os.urandom(1000)
    large = os.urandom(3 * MB)  # past SMALL_WRITE: head and body leave in two writes

    async def scenario() -> None:
        async with upstream(keep_alive(lambda r: answer(b"ok"))) as up:
            pool = new_pool(up)
            headers = [(b"content-type", b"application/octet-stream"), (b"x-k", b"v")]
            for payload in (small, large, b""):
                resp = await pool.request("POST", "/up", headers, payload)
                assert await read_all(resp) == b"ok"
            resp = await pool.request("POST", "/none", (), None)
            assert await read_all(resp) == b"ok"
            assert [r.body for r in up.requests] == [small, large, b"", b""]
            assert [r.headers["content-length"] for r in up.requests] == [
                "1000",
                str(3 * MB),
                "0",
                "0",
            ]
            assert all("transfer-encoding" not in r.headers for r in up.requests)
            assert up.requests[0].headers["x-k"] == "v"
            assert up.accepted == 1

    run(scenario())


def test_streamed_body_with_length_sends_content_length() -> None:
    data = os.urandom(250_000)

    async def scenario() -> None:
        async with upstream(keep_alive(lambda r: answer(b"ok"))) as up:
            pool = new_pool(up)
            resp = await pool.request("PUT", "/", (), stream(data, 7000), length=len(data))
            assert await read_all(resp) == b"ok"
            req = up.requests[0]
            assert req.headers["content-length"] == str(len(data))
            assert "transfer-encoding" not in req.headers
            assert req.body == data
            # The body was written to the end: the connection carries the next request.
            assert await get(pool) == (200, b"ok")
            assert up.accepted == 1

    run(scenario())


def test_streamed_body_without_length_is_chunked() -> None:
    data = os.urandom(123_457)

    async def body() -> AsyncIterator[bytes]:
        yield b""  # empty pieces must not end the chunked body early
        async for piece in stream(data, 10_000):
            yield piece
            yield b""

    async def scenario() -> None:
        async with upstream(keep_alive(lambda r: answer(b"ok"))) as up:
            pool = new_pool(up)
            resp = await pool.request("POST", "/", (), body())
            assert await read_all(resp) == b"ok"
            req = up.requests[0]
            assert req.headers["transfer-encoding"] == "chunked"
            assert "content-length" not in req.headers
            assert req.body == data
            assert await get(pool) == (200, b"ok")
            assert up.accepted == 1

    run(scenario())


def test_50mb_streamed_upload_arrives_intact() -> None:
    size = 50 * MB
    block = os.urandom(MB)

    def piece(i: int) -> bytes:
        return i.to_bytes(4, "big") + block[4:]  # every MB differs: reordering shows

    expected = hashlib.sha256()
    for i in range(50):
        expected.update(piece(i))

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        head = await read_head(reader)
        assert head is not None
        digest = hashlib.sha256()
        await read_body(reader, head[2], hasher=digest)
        writer.write(answer(f"{head[2].get('content-length')} {digest.hexdigest()}".encode()))
        await writer.drain()

    async def body() -> AsyncIterator[bytes]:
        for i in range(50):
            yield piece(i)

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            start = time.monotonic()
            resp = await pool.request("PUT", "/big", (), body(), length=size, read_timeout=10)
            got = await read_all(resp)
            assert got == f"{size} {expected.hexdigest()}".encode()
            assert time.monotonic() - start < 10

    run(scenario(), limit=30)


def test_upload_source_failure_is_reported_promptly() -> None:
    """A body source that breaks (the client went away) must not hold the upstream
    connection until the read timeout."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_head(reader)
        await reader.read()  # waits for the rest of the body, never answers

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        await asyncio.sleep(0.05)
        raise ConnectionResetError("client went away")

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            start = time.monotonic()
            with pytest.raises(HTTPError) as info:
                await pool.request("POST", "/", (), body(), length=5000, read_timeout=5.0)
            assert time.monotonic() - start < 2.0
            assert info.value.kind == "protocol"
            assert info.value.sent_body
            assert "client went away" in info.value.message
            assert pool.open == 0
            await up.settle(0)

    run(scenario())


def test_connection_not_reused_when_upload_broke_after_early_answer() -> None:
    """The upstream answered before the upload ended and the upload then failed: the
    upstream still waits for the rest of that body, so the connection is dropped."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_head(reader)
        writer.write(answer(b"early"))
        await reader.read()

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 100
        await asyncio.sleep(0.05)  # the answer arrives first
        raise ConnectionResetError("client went away")

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            resp = await pool.request("POST", "/", (), body(), length=10_000, read_timeout=2.0)
            assert resp.status == 200
            await asyncio.sleep(0.1)  # the writer has failed by now
            assert await read_all(resp) == b"early"
            assert pool.open == 0 and not pool.idle
            await up.settle(0)

    run(scenario())


# -- 4. streaming download with flow control ----------------------------------------------------


def test_100mb_download_consumed_slowly_keeps_buffer_bounded() -> None:
    size = 100 * MB
    block = os.urandom(MB)

    def piece(i: int) -> bytes:
        return i.to_bytes(4, "big") + block[4:]

    expected = hashlib.sha256()
    for i in range(100):
        expected.update(piece(i))

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while (req := await read_request(reader, i)) is not None:
            if req.target == "/again":
                writer.write(answer(b"again"))
                continue
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
            for k in range(100):
                writer.write(piece(k))
                await writer.drain()

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/big", (), None, read_timeout=5.0)
            conn = resp._conn
            digest = hashlib.sha256()
            peak = 0
            paused = 0
            received = 0
            n = 0
            async for chunk in resp.chunks():
                digest.update(chunk)
                received += len(chunk)
                peak = max(peak, conn.buffered)
                paused += conn.read_paused
                n += 1
                if n % 8 == 0:
                    await asyncio.sleep(0.002)  # a slow consumer: the socket fills up
            resp.release()
            assert received == size
            assert digest.hexdigest() == expected.hexdigest()
            # At most one socket read (256 KiB) past the high-water mark is ever buffered.
            assert peak <= HIGH_WATER + 256 * 1024 + 64 * 1024, peak
            assert paused > 0  # reading really was paused
            assert not conn.read_paused and conn.buffered == 0
            # The connection was left readable and goes on carrying requests.
            assert await get(pool, "/again", read_timeout=5.0) == (200, b"again")
            assert up.accepted == 1

    run(scenario(), limit=40)


def test_complete_large_body_taken_at_once_leaves_connection_readable() -> None:
    """The proxy takes a body that arrived whole with ``take_all``. When its last
    bytes pushed the buffer past HIGH_WATER, reading was paused as it completed:
    the connection must not go back to the pool with its socket still paused."""
    # One byte over HIGH_WATER: the buffer can only cross the mark with the last byte,
    # so the body always completes in the very read that pauses the socket.
    body = os.urandom(HIGH_WATER + 1)

    async def scenario() -> None:
        async with upstream(
            keep_alive(lambda r: answer(body if r.target == "/big" else b"s"))
        ) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/big", (), None, read_timeout=1.0)
            for _ in range(200):
                if resp.complete:
                    break
                await asyncio.sleep(0.01)
            assert resp.complete
            assert resp._conn.read_paused  # the case this test is about
            assert resp.take_all() == body
            resp.release()
            assert await get(pool, "/small", read_timeout=1.0) == (200, b"s")
            assert up.accepted == 1

    run(scenario())


# -- 5. errors ----------------------------------------------------------------------------------


def test_connection_refused_is_connect_error() -> None:
    async def scenario() -> None:
        pool = Pool(Origin.parse(f"http://127.0.0.1:{free_port()}"), connect_timeout=1.0)
        with pytest.raises(HTTPError) as info:
            await pool.request("GET", "/", (), None)
        assert info.value.kind == "connect"
        assert not info.value.sent_body
        assert "cannot connect" in info.value.message
        assert pool.open == 0 and not pool.waiters

    run(scenario())


def test_connect_timeout_is_connect_error() -> None:
    """A listener whose accept queue is full drops SYNs: connecting hangs, on loopback."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler = socket.create_connection(("127.0.0.1", port), timeout=1)

        async def scenario() -> None:
            pool = Pool(Origin.parse(f"http://127.0.0.1:{port}"), connect_timeout=0.3)
            for bound, expected in ((None, 0.3), (0.1, 0.1)):
                start = time.monotonic()
                with pytest.raises(HTTPError) as info:
                    await pool.request("GET", "/", (), None, connect_timeout=bound)
                elapsed = time.monotonic() - start
                assert info.value.kind == "connect"
                assert "timed out" in info.value.message
                assert not info.value.sent_body
                assert expected - 0.02 <= elapsed < expected + 0.5, elapsed
                assert pool.open == 0

        try:
            run(scenario())
        finally:
            filler.close()


def test_no_answer_is_timeout_after_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        await reader.read()  # never answers

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            start = time.monotonic()
            with pytest.raises(HTTPError) as info:
                await pool.request("GET", "/", (), None, read_timeout=0.3)
            elapsed = time.monotonic() - start
            assert info.value.kind == "timeout"
            assert info.value.sent_body
            assert 0.28 <= elapsed < 1.5, elapsed
            assert pool.open == 0
            await up.settle(0)

    run(scenario())


def test_stall_mid_body_times_out_in_chunks() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"a" * 100)
        await asyncio.sleep(0.1)
        writer.write(b"b" * 100)
        await reader.read()  # then stalls

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/", (), None, read_timeout=0.3)
            assert resp.status == 200 and not resp.complete
            got = b""
            start = time.monotonic()
            with pytest.raises(HTTPError) as info:
                async for chunk in resp.chunks():
                    got += chunk
            elapsed = time.monotonic() - start
            assert info.value.kind == "timeout"
            assert got == b"a" * 100 + b"b" * 100
            # The timer restarts with every byte: 0.1 s of data, then 0.3 s of silence.
            assert 0.35 <= elapsed < 1.5, elapsed
            resp.close()
            assert pool.open == 0
            await up.settle(0)

    run(scenario())


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_close_mid_body_is_protocol_error(framing: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        if framing == "length":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"a" * 100)
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n64\r\n")
            writer.write(b"a" * 100 + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)  # then closes without the rest

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/", (), None, read_timeout=2.0)
            got = b""
            with pytest.raises(HTTPError) as info:
                async for chunk in resp.chunks():
                    got += chunk
            assert info.value.kind == "protocol"
            assert "early" in info.value.message
            assert got == b"a" * 100
            resp.close()
            assert pool.open == 0

    run(scenario())


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 abc OK\r\ncontent-length: 0\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
    ],
)
def test_malformed_head_is_protocol_error(wire: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        writer.write(wire)
        await reader.read()

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            await expect_protocol_error(new_pool(up), read_timeout=2.0, within=1.0)
            await up.settle(0)  # the client closed the broken connection

    run(scenario())


async def expect_protocol_error(pool: Pool, read_timeout: float, within: float) -> HTTPError:
    """A GET failing with a protocol error well before its read timeout, pool emptied."""
    start = time.monotonic()
    with pytest.raises(HTTPError) as info:
        await pool.request("GET", "/", (), None, read_timeout=read_timeout)
    assert info.value.kind == "protocol"
    assert time.monotonic() - start < within  # not a timeout in disguise
    assert pool.open == 0
    return info.value


@pytest.mark.parametrize("interim", [False, True])
def test_oversized_head_is_protocol_error(interim: bool) -> None:
    # Headers without end, or interim 1xx answers without end: cut off past MAX_HEAD
    # (the read timer alone would never fire, bytes keep arriving).
    line = b"x-filler: " + b"a" * 1000 + b"\r\n"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        if not interim:
            writer.write(b"HTTP/1.1 200 OK\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(10_000):
                writer.write(b"HTTP/1.1 102 Processing\r\n\r\n" if interim else line)
                await writer.drain()
                await asyncio.sleep(0.0005)

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            error = await expect_protocol_error(new_pool(up), read_timeout=5.0, within=4.0)
            assert "larger than 64 KB" in str(error)

    run(scenario())


def test_large_head_under_the_cap_is_accepted() -> None:
    filler = b"".join(b"x-filler-%d: %s\r\n" % (i, b"b" * 1000) for i in range(60))

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        writer.write(b"HTTP/1.1 200 OK\r\n" + filler + b"content-length: 2\r\n\r\nok")
        await reader.read()

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/", (), None, read_timeout=5.0)
            assert resp.status == 200
            assert len([h for h in resp.headers if h[0].startswith(b"x-filler-")]) == 60
            assert await read_all(resp) == b"ok"

    run(scenario())


def test_malformed_chunk_is_protocol_error_in_chunks() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"zz\r\nnope\r\n")
        await reader.read()

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            resp = await pool.request("GET", "/", (), None, read_timeout=2.0)
            got = b""
            with pytest.raises(HTTPError) as info:
                async for chunk in resp.chunks():
                    got += chunk
            assert info.value.kind == "protocol"
            assert got == b"abc"
            resp.close()
            assert pool.open == 0

    run(scenario())


def test_fresh_connection_closed_without_answer_is_protocol_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await up.read(reader, i)  # then closes

    up = Upstream(handler)

    async def scenario() -> None:
        async with up:
            pool = new_pool(up)
            with pytest.raises(HTTPError) as info:
                await pool.request("GET", "/", (), None, read_timeout=2.0)
            assert info.value.kind == "protocol"
            assert not info.value.sent_body  # there was no body
            assert up.accepted == 1  # a fresh connection is not retried
            assert pool.open == 0
            with pytest.raises(HTTPError) as info:
                await pool.request("POST", "/", (), b"data", read_timeout=2.0)
            assert info.value.kind == "protocol"
            assert info.value.sent_body  # the upstream read it before closing
            assert up.accepted == 2
            assert [r.body for r in up.requests] == [b"", b"data"]

    run(scenario())


# -- 6. stale keep-alive connections ------------------------------------------------------------


def test_idle_connection_closed_by_upstream_is_replaced() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        req = await read_request(reader, i)
        assert req is not None
        up.requests.append(req)
        writer.write(answer(b"once"))  # keep-alive, then closes while idle
        await writer.drain()

    up = Upstream(handler)

    async def scenario() -> None:
        async with up:
            pool = new_pool(up)
            assert await get(pool) == (200, b"once")
            await up.settle(0)
            await asyncio.sleep(0.05)
            resp = await pool.request("POST", "/", (), b"payload", read_timeout=2.0)
            assert await read_all(resp) == b"once"
            assert up.accepted == 2
            assert up.requests[-1].body == b"payload"
            assert pool.open <= 1

    run(scenario())


def stale_second_request(up: Upstream) -> Handler:
    """Connection 0 answers one request, reads the next and closes without a byte:
    the race where the upstream's idle timeout fires as a request is sent."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        if i == 0:
            await up.read(reader, i)
            writer.write(answer(b"first"))
            await writer.drain()
            await read_head(reader)
            return
        while (req := await up.read(reader, i)) is not None:
            writer.write(answer(b"fresh:" + req.body))
            await writer.drain()

    return handler


def test_stale_connection_reset_by_upstream_is_retried() -> None:
    """Like the previous race, but the upstream aborts the connection (RST)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        if i == 0:
            await read_request(reader, i)
            writer.write(answer(b"first"))
            await writer.drain()
            await read_head(reader)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            writer.transport.abort()
            return
        while (req := await read_request(reader, i)) is not None:
            writer.write(answer(b"fresh:" + req.body))

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up)
            assert await get(pool, read_timeout=2.0) == (200, b"first")
            resp = await pool.request("DELETE", "/x", (), b"body", read_timeout=2.0)
            assert await read_all(resp) == b"fresh:body"
            assert up.accepted == 2

    run(scenario())


def test_stale_connection_with_bytes_body_is_retried_on_a_new_one() -> None:
    async def scenario() -> None:
        async with upstream(stale_second_request) as up:
            pool = new_pool(up)
            assert await get(pool, read_timeout=2.0) == (200, b"first")
            resp = await pool.request("PUT", "/", (), b"replayable", read_timeout=2.0)
            assert resp.status == 200
            assert await read_all(resp) == b"fresh:replayable"
            assert up.accepted == 2
            assert [(r.conn, r.body) for r in up.requests] == [(0, b""), (1, b"replayable")]
            assert pool.open == 1 and len(pool.idle) == 1

    run(scenario())


def test_stale_connection_with_streamed_body_is_not_resent() -> None:
    async def scenario() -> None:
        async with upstream(stale_second_request) as up:
            pool = new_pool(up)
            assert await get(pool, read_timeout=2.0) == (200, b"first")
            with pytest.raises(HTTPError) as info:
                await pool.request("PUT", "/", (), stream(b"once only"), read_timeout=2.0)
            assert info.value.kind == "protocol"
            assert info.value.sent_body
            await asyncio.sleep(0.1)
            assert up.accepted == 1  # nothing was silently sent again
            assert pool.open == 0
            # The pool still works afterwards.
            assert await get(pool, read_timeout=2.0) == (200, b"fresh:")

    run(scenario())


# -- 7. base URL and Host -----------------------------------------------------------------------


def test_base_url_path_prefix_and_host_header() -> None:
    def respond(req: Req) -> bytes:
        return answer(f"{req.target}|{req.headers['host']}".encode())

    async def scenario() -> None:
        async with upstream(keep_alive(respond)) as up:
            for base in (up.url + "/api", up.url + "/api/"):
                pool = Client().pool(base, 1.0)
                status, body = await get(pool, "/v1/items?q=a%2Fb&x=1")
                assert status == 200
                assert body == f"/api/v1/items?q=a%2Fb&x=1|127.0.0.1:{up.port}".encode()
                pool.close()
            status, body = await get(new_pool(up), "/plain")
            assert body == f"/plain|127.0.0.1:{up.port}".encode()

    run(scenario())


def test_origin_parse() -> None:
    o = Origin.parse("http://Example.com/base/")
    assert (o.scheme, o.host, o.port, o.prefix, o.host_header) == (
        "http",
        "example.com",
        80,
        "/base",
        b"example.com",
    )
    assert Origin.parse("https://h:443").host_header == b"h"
    assert Origin.parse("https://h:8443").host_header == b"h:8443"
    assert Origin.parse("http://[::1]:9000/x").host_header == b"[::1]:9000"
    for bad in ("ftp://h/", "http://", "localhost:80", "http://h:99999", "http://h:x/"):
        with pytest.raises(HTTPError) as info:
            Origin.parse(bad)
        assert info.value.kind == "connect"


# -- 8. release/close accounting ----------------------------------------------------------------


def test_pool_accounting_through_mixed_outcomes() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while (req := await read_request(reader, i)) is not None:
            kind = req.target.strip("/")
            if kind == "ok":
                writer.write(answer(b"ok"))
            elif kind == "big":
                writer.write(answer(b"z" * 500_000))
            elif kind == "close":
                writer.write(answer(b"bye", headers=("connection: close",)))
                return
            elif kind == "eof":
                writer.write(answer(b"eof body", length=False))
                return
            elif kind == "stall":
                await reader.read()
                return
            elif kind == "bad":
                writer.write(b"HTTP/1.1 xx\r\n\r\n")
                return
            elif kind == "drop":
                return
            elif kind == "head":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n")
            await writer.drain()

    kinds = ["ok", "big", "close", "eof", "stall", "bad", "drop", "head", "abandon"]

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up, max_connections=4, max_idle=2)
            low = 0
            outcomes: dict[str, int] = {}

            async def one(i: int) -> None:
                nonlocal low
                kind = kinds[i % len(kinds)]
                method = "HEAD" if kind == "head" else "GET"
                target = "/big" if kind == "abandon" else f"/{kind}"
                try:
                    resp = await pool.request(
                        method, target, (), None, read_timeout=0.3, pool_timeout=10.0
                    )
                    if kind == "abandon":
                        resp.close()  # body not read
                    else:
                        await read_all(resp)
                    outcomes["ok"] = outcomes.get("ok", 0) + 1
                except HTTPError as exc:
                    outcomes[exc.kind] = outcomes.get(exc.kind, 0) + 1
                low = min(low, pool.open)
                assert pool.open <= 4

            await asyncio.gather(*(one(i) for i in range(45)))
            assert low >= 0
            assert outcomes == {"ok": 30, "timeout": 5, "protocol": 10}
            assert not pool.waiters
            assert pool.open == len(pool.idle) <= 2
            await up.settle(pool.open)
            assert up.max_live <= 4
            pool.close()
            assert pool.open == 0
            await up.settle(0)

    run(scenario())


async def hold_or_free(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
    """``/hold`` answers a head and 2 of 10 body bytes, then keeps the connection busy."""
    while (req := await read_request(reader, i)) is not None:
        if req.target == "/hold":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab")
            await reader.read()
            return
        writer.write(answer(b"free"))


def test_waiter_at_max_connections_is_woken_by_close() -> None:
    async def scenario() -> None:
        async with upstream(lambda up: hold_or_free) as up:
            pool = new_pool(up, max_connections=1)
            held = await pool.request("GET", "/hold", (), None, read_timeout=5.0)
            second = asyncio.create_task(get(pool, "/next", read_timeout=5.0))
            await asyncio.sleep(0.1)
            assert not second.done()
            assert len(pool.waiters) == 1 and pool.open == 1
            held.close()
            assert await asyncio.wait_for(second, 2.0) == (200, b"free")
            assert up.accepted == 2 and pool.open == 1

    run(scenario())


def test_waiting_for_a_free_connection_is_bounded_by_the_read_timeout() -> None:
    async def scenario() -> None:
        async with upstream(lambda up: hold_or_free) as up:
            pool = new_pool(up, max_connections=1)
            held = await pool.request("GET", "/hold", (), None, read_timeout=5.0)
            start = time.monotonic()
            with pytest.raises(HTTPError) as info:
                await get(pool, "/next", read_timeout=0.3)
            waited = time.monotonic() - start
            assert info.value.kind == "timeout" and not info.value.sent_body
            assert "no free connection" in info.value.message
            assert 0.25 <= waited < 1.5
            assert not pool.waiters and pool.open == 1
            held.close()
            assert await get(pool, "/after", read_timeout=2.0) == (200, b"free")
            assert pool.open == 1

    run(scenario())


def test_dropped_response_gives_its_connection_back() -> None:
    async def scenario() -> None:
        async with upstream(keep_alive(echo_target)) as up:
            pool = new_pool(up, max_connections=1)
            resp = await pool.request("GET", "/dropped", (), None, read_timeout=2.0)
            assert resp.status == 200
            del resp  # neither released nor closed: a caller's bug must not drain the pool
            assert pool.open == 0
            assert await get(pool, "/next", read_timeout=2.0) == (200, b"GET /next")

    run(scenario())


def test_wakeup_is_not_lost_when_the_woken_waiter_is_cancelled() -> None:
    async def scenario() -> None:
        async with upstream(keep_alive(lambda r: answer(b"x"))) as up:
            pool = new_pool(up, max_connections=1)
            first = await pool.request("GET", "/", (), None, read_timeout=2.0)
            a = asyncio.create_task(get(pool, "/a", read_timeout=2.0))
            b = asyncio.create_task(get(pool, "/b", read_timeout=2.0))
            await asyncio.sleep(0.05)
            assert len(pool.waiters) == 2
            await asyncio.sleep(0.05)
            assert first.complete
            first.take_all()
            first.release()  # wakes ``a`` ...
            a.cancel()  # ... which is cancelled before it runs (e.g. its deadline)
            assert await asyncio.wait_for(b, 2.0) == (200, b"x")
            with pytest.raises(asyncio.CancelledError):
                await a
            assert pool.open == 1 and up.accepted == 1

    run(scenario())


def test_released_connection_goes_to_the_waiter_not_to_a_newcomer() -> None:
    # Under saturation a waiter woken for a connection must get it: before, a request
    # arriving in the same loop iteration (the direct path's ``start``, or ``request``)
    # took it, and the waiter went to the back of the queue.
    async def scenario() -> None:
        async with upstream(keep_alive(echo_target)) as up:
            pool = new_pool(up, max_connections=1)
            first = await pool.request("GET", "/first", (), None, read_timeout=2.0)
            waiting = asyncio.create_task(get(pool, "/waiter", read_timeout=2.0))
            await asyncio.sleep(0.05)
            assert len(pool.waiters) == 1
            await read_all(first)  # released: the waiter is woken, not yet run
            assert pool.woken == 1 and len(pool.idle) == 1
            answers: list[object] = []
            assert not pool.start("GET", "/direct", (), None, 2.0, answers.append)
            newcomer = asyncio.create_task(get(pool, "/newcomer", read_timeout=2.0))
            assert await asyncio.wait_for(waiting, 2.0) == (200, b"GET /waiter")
            assert await asyncio.wait_for(newcomer, 2.0) == (200, b"GET /newcomer")
            assert answers == [] and pool.woken == 0 and not pool.waiters
            assert pool.open == 1 and up.accepted == 1
            assert [r.target for r in up.requests] == ["/first", "/waiter", "/newcomer"]

    run(scenario())


def test_cancelled_request_frees_its_slot() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while (req := await read_request(reader, i)) is not None:
            if req.target == "/slow":
                await reader.read()
                return
            writer.write(answer(b"fine"))

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            pool = new_pool(up, max_connections=1)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.request("GET", "/slow", (), None), 0.2)
            assert pool.open == 0
            assert await get(pool, "/fast", read_timeout=2.0) == (200, b"fine")
            assert up.accepted == 2

    run(scenario())


def test_response_released_after_pool_close_does_not_linger() -> None:
    async def scenario() -> None:
        async with upstream(keep_alive(lambda r: answer(b"x" * 10))) as up:
            pool = new_pool(up)
            first = await pool.request("GET", "/idle", (), None)
            busy = await pool.request("GET", "/busy", (), None)
            assert await read_all(first) == b"x" * 10
            assert up.accepted == 2 and pool.open == 2 and len(pool.idle) == 1
            pool.close()  # shutting down while an exchange runs
            assert pool.open == 1
            assert await read_all(busy) == b"x" * 10
            assert pool.open == 0 and not pool.idle
            await up.settle(0)

    run(scenario())


def test_client_keeps_one_pool_per_base_url() -> None:
    async def scenario() -> None:
        async with upstream(keep_alive(echo_target)) as up:
            client = Client(max_connections=3, max_idle=1, keepalive_expiry=1.0)
            pool = client.pool(up.url, 2.0)
            # A retry near its deadline asks for a shorter connect timeout: that must
            # not open a second pool (with its own connection budget) for the origin.
            assert client.pool(up.url, 0.123) is pool
            assert client.pool(up.url, 2.0) is pool
            assert (pool.max_connections, pool.max_idle, pool.keepalive_expiry) == (3, 1, 1.0)
            assert await get(pool, "/z") == (200, b"GET /z")
            client.close()
            assert pool.open == 0
            await up.settle(0)

    run(scenario())


# -- 9. through the gateway's Proxy -------------------------------------------------------------


def make_proxy(monkeypatch: pytest.MonkeyPatch, url: str) -> tuple[Proxy, ServiceSettings]:
    monkeypatch.delenv("UNISPEC_PROXY_CLIENT", raising=False)
    service = ServiceSettings("svc", (url,), connect_timeout=0.5, read_timeout=0.3)
    return Proxy({"svc": service}, PoolSettings(max_connections=4, keepalive=4)), service


def test_proxy_connect_error_is_502(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        url = f"http://127.0.0.1:{free_port()}"
        proxy, service = make_proxy(monkeypatch, url)
        try:
            for body in (None, stream(b"abc")):
                with pytest.raises(UpstreamError) as info:
                    await proxy.send(service, url, "POST", "/", (), body)
                err = info.value
                assert (err.kind, err.status, err.code) == ("connect", 502, "BAD_GATEWAY")
                assert not err.sent_body  # nothing reached the upstream: a retry is safe
                assert url in err.message
        finally:
            await proxy.close()

    run(scenario())


def test_proxy_timeout_is_504(monkeypatch: pytest.MonkeyPatch) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader, i)
        await reader.read()

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            proxy, service = make_proxy(monkeypatch, up.url)
            try:
                start = time.monotonic()
                with pytest.raises(UpstreamError) as info:
                    await proxy.send(service, up.url, "GET", "/", (), None)
                err = info.value
                assert (err.kind, err.status, err.code) == ("timeout", 504, "GATEWAY_TIMEOUT")
                assert err.sent_body  # the upstream may be processing it
                assert 0.28 <= time.monotonic() - start < 1.5
                # A shorter per-call bound (the retry deadline) wins over the service's.
                start = time.monotonic()
                with pytest.raises(UpstreamError) as info:
                    await proxy.send(service, up.url, "GET", "/", (), None, 0.1)
                assert info.value.kind == "timeout"
                assert time.monotonic() - start < 0.28
            finally:
                await proxy.close()

    run(scenario())


def test_proxy_response_streams_and_maps_body_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while (req := await read_request(reader, i)) is not None:
            if req.target == "/ok":
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n"
                    b"Keep-Alive: timeout=5\r\nX-Up: 1\r\ntransfer-encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n"
                )
            elif req.target == "/stall":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
                await reader.read()
                return
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
                return

    async def scenario() -> None:
        async with upstream(lambda up: handler) as up:
            proxy, service = make_proxy(monkeypatch, up.url)
            try:
                resp = await proxy.send(service, up.url, "GET", "/ok", (), None)
                assert resp.status == 200
                assert resp.headers == [(b"content-type", b"text/plain"), (b"x-up", b"1")]
                assert resp.content_type == "text/plain"
                assert [c async for c in resp.body()] == [b"hello"]
                resp.release()
                for target, kind in (("/stall", "timeout"), ("/cut", "protocol")):
                    resp = await proxy.send(service, up.url, "GET", target, (), None)
                    assert resp.content_length == 10
                    with pytest.raises(UpstreamError) as info:
                        async for _ in resp.body():
                            pass
                    assert info.value.kind == kind
                    resp.close()
            finally:
                await proxy.close()

    run(scenario())


def test_proxy_stale_connection_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with upstream(stale_second_request) as up:
            proxy, service = make_proxy(monkeypatch, up.url)
            try:
                resp = await proxy.send(service, up.url, "GET", "/", (), None)
                assert [c async for c in resp.body()] == [b"first"]
                resp.release()
                with pytest.raises(UpstreamError) as info:
                    await proxy.send(service, up.url, "PUT", "/", (), stream(b"once"), length=4)
                err = info.value
                assert (err.kind, err.status) == ("protocol", 502)
                assert err.sent_body  # the streamed body was (partly) written: no retry
                assert up.accepted == 1
                # The pool recovers: the next call opens a fresh connection.
                resp = await proxy.send(service, up.url, "PUT", "/", (), b"again")
                assert [c async for c in resp.body()] == [b"fresh:again"]
                resp.release()
            finally:
                await proxy.close()

    run(scenario())


def test_http1_module_exports() -> None:
    assert set(http1.__all__) >= {"Client", "HTTPError", "Origin", "Pool", "Response"}


# -- HTTPS upstreams ---------------------------------------------------------------------------


def _self_signed(tmp: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 / localhost and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unispec test upstream")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_https_upstream_is_verified_and_kept_alive(tmp_path: Any, monkeypatch: Any) -> None:
    """TLS with verification (a private CA via SSL_CERT_FILE, as OpenSSL reads it)."""
    import ssl

    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = 0
        while (req := await read_request(reader, index)) is not None:
            writer.write(answer(f"tls {req.method} {req.target} {len(req.body)}".encode()))
            await writer.drain()
        writer.close()

    async def scenario(trusted: bool) -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        try:
            pool = Pool(Origin.parse(f"https://127.0.0.1:{port}/base"))
            if not trusted:
                with pytest.raises(HTTPError) as info:
                    await get(pool, "/x", read_timeout=2.0)
                assert info.value.kind == "connect" and "certificate" in info.value.message.lower()
                return
            assert await get(pool, "/a", read_timeout=2.0) == (200, b"tls GET /base/a 0")
            resp = await pool.request("POST", "/b", (), b"x" * 70_000, read_timeout=2.0)
            assert (resp.status, await read_all(resp)) == (200, b"tls POST /base/b 70000")
            assert pool.open == 1 and len(pool.idle) == 1  # one TLS connection, reused
            pool.close()
        finally:
            server.close()
            await server.wait_closed()

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    run(scenario(trusted=False))
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    run(scenario(trusted=True))
