"""Tiered rate limits (GCRA) with an in-memory or a shared Redis backend.

Public API:

- ``RateLimitPolicy.from_operation(operation, default, scope)`` compiles the
  effective ``x-rate-limit`` of one operation (``{limit, window, per: ip|user,
  burst, tiers}``; missing fields come from ``gateway.rate_limit.default``) at
  start-up; ``None`` when the operation is not limited.
  ``await policy.check(limiter, identity, client_ip) -> Decision``.
- ``build_limiter(rate_limit_section, clock=None) -> RateLimiter``: a
  ``MemoryRateLimiter`` for ``backend: memory`` (default), a
  ``RedisRateLimiter`` for ``backend: redis://host:port/db``. Both implement
  ``async hit(key, limit, window, burst=0, cost=1) -> Decision`` and
  ``async aclose()``.
- ``rate_limit_headers(decision)``: ``X-RateLimit-Limit/Remaining/Reset`` and,
  when refused, ``Retry-After`` (whole seconds, rounded up, at least 1).
- ``Decision.status`` / ``Decision.code``: 429 ``RATE_LIMIT_EXCEEDED`` when over the
  limit; 503 ``SERVICE_UNAVAILABLE`` when Redis is unreachable and
  ``failure_mode: closed`` (with ``failure_mode: open`` — the default — the
  request is admitted and ``Decision.backend_error`` is set). Either way the
  failure is logged (at most once per 10 s) and counted in
  ``limiter.backend_errors``; it is never an exception, never a 500. After a
  failure Redis is left alone for 1 s (no request waits on a dead server);
  ``gateway.rate_limit.timeout`` (default 1 s) bounds connecting and each call.

Semantics (GCRA, the "generic cell rate algorithm"): a key may spend
``limit + burst`` requests at once from idle, and regains one request every
``window / limit`` seconds. With ``burst: 0`` that is "``limit`` per ``window``"
as a client sees it: ``limit`` requests are admitted, the next one is refused
until exactly ``window / limit`` seconds after the first (GCRA refills smoothly:
the long-run rate is ``limit`` per ``window``, while any one window can see up to
``2 * limit - 1`` from a client that was idle before it). Time is kept in integer
microseconds, so boundaries are exact (a request at ``t = 12 s`` passes where
one at ``t = 11.999999 s`` does not). ``X-RateLimit-Reset`` is the number of
seconds until the key is back to its full allowance.

Keys are ``<scope>|u:<subject>`` for ``per: user`` (falling back to the client
IP for anonymous requests) and ``<scope>|ip:<address>`` for ``per: ip``; the
scope is the operationId, so each operation has its own budget. The tier comes
from the token's tier claim: ``tiers[tier]`` when listed, else ``limit``, else
the ``free`` tier, else the smallest tier.

Redis: one Lua script (``SCRIPT LOAD`` on connect, then ``EVALSHA``; ``EVAL`` if
the script cache was flushed) reads and writes one key per budget atomically,
with a TTL equal to the time until the budget is full again, so two gateway
processes share one budget and idle keys vanish. The client is a minimal RESP
connection, pipelined (see ``RedisRateLimiter``). Without an injected clock the
script uses the Redis server's ``TIME``, so
gateways on several hosts need no synchronised clocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import ssl
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, cast

from unispec.errors import GatewayConfigError
from unispec.gateway.batching import WriteBatch

if TYPE_CHECKING:
    from unispec.gateway.auth import Identity

__all__ = [
    "Decision",
    "MemoryRateLimiter",
    "RateLimitPolicy",
    "RateLimitSettings",
    "RateLimiter",
    "RedisRateLimiter",
    "build_limiter",
    "gcra",
    "rate_limit_header_bytes",
    "rate_limit_headers",
]

log = logging.getLogger("unispec.gateway.ratelimit")

_US = 1_000_000
_LOG_EVERY = 10.0


class Decision(NamedTuple):
    """The outcome of one hit: whether to admit, and what to tell the client.

    A named tuple rather than a frozen dataclass: one is built per request, and a
    tuple is several times cheaper to create.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after_seconds: float = 0.0
    backend_error: bool = False
    """True when the backend failed and ``failure_mode`` decided instead of the counter."""

    @property
    def status(self) -> int:
        """HTTP status of a refusal (200 when admitted)."""
        if self.allowed:
            return 200
        return 503 if self.backend_error else 429

    @property
    def code(self) -> str:
        """Envelope error code of a refusal (empty when admitted)."""
        if self.allowed:
            return ""
        return "SERVICE_UNAVAILABLE" if self.backend_error else "RATE_LIMIT_EXCEEDED"

    @property
    def message(self) -> str:
        if self.allowed:
            return ""
        if self.backend_error:
            return "Rate limiting is unavailable; try again shortly"
        return f"Rate limit exceeded; retry in {_whole(self.retry_after_seconds)} s"


class RateLimiter(Protocol):
    """What the gateway needs from a backend."""

    async def hit(
        self, key: str, limit: int, window: float, burst: int = 0, cost: int = 1
    ) -> Decision: ...

    async def aclose(self) -> None: ...


def _whole(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-9))


def rate_limit_headers(decision: Decision) -> list[tuple[str, str]]:
    """Response headers for any limited request; ``Retry-After`` only on refusal."""
    headers = [
        ("X-RateLimit-Limit", str(decision.limit)),
        ("X-RateLimit-Remaining", str(max(0, decision.remaining))),
        ("X-RateLimit-Reset", str(max(0, math.ceil(decision.reset_seconds - 1e-9)))),
    ]
    if not decision.allowed:
        headers.append(("Retry-After", str(_whole(decision.retry_after_seconds))))
    return headers


def rate_limit_header_bytes(decision: Decision) -> list[tuple[bytes, bytes]]:
    """``rate_limit_headers`` as the ASGI byte pairs the gateway sends (request path)."""
    limit = _LIMIT_HEADERS.get(decision.limit)
    if limit is None:
        if len(_LIMIT_HEADERS) >= 4096:
            _LIMIT_HEADERS.clear()
        limit = _LIMIT_HEADERS[decision.limit] = (b"x-ratelimit-limit", b"%d" % decision.limit)
    remaining = decision.remaining
    reset = math.ceil(decision.reset_seconds - 1e-9)
    headers = [
        limit,
        (b"x-ratelimit-remaining", b"%d" % (remaining if remaining > 0 else 0)),
        (b"x-ratelimit-reset", b"%d" % (reset if reset > 0 else 0)),
    ]
    if not decision.allowed:
        headers.append((b"retry-after", b"%d" % _whole(decision.retry_after_seconds)))
    return headers


_LIMIT_HEADERS: dict[int, tuple[bytes, bytes]] = {}


_PARAMS: dict[tuple[int, float, int], tuple[int, int, int]] = {}
"""``_params`` results: a gateway has a handful of (limit, window, burst) triples."""


def _params(limit: int, window: float, burst: int) -> tuple[int, int, int]:
    """(emission interval, tolerance, capacity) in integer microseconds."""
    key = (limit, window, burst)
    hit = _PARAMS.get(key)
    if hit is not None:
        return hit
    if limit <= 0 or window <= 0 or burst < 0:
        raise ValueError(f"bad rate limit: limit={limit} window={window} burst={burst}")
    interval = max(1, round(window * _US) // limit)
    capacity = limit + burst
    result = (interval, interval * capacity, capacity)
    if len(_PARAMS) >= 4096:
        _PARAMS.clear()
    _PARAMS[key] = result
    return result


def gcra(
    tat: int | None, now: int, limit: int, window: float, burst: int = 0, cost: int = 1
) -> tuple[int | None, Decision]:
    """Pure GCRA step (integer µs): the new theoretical arrival time and the decision.

    ``tat`` is the stored theoretical arrival time (``None`` when the key is
    new); the returned one is ``None`` when nothing must be stored (refused).
    """
    interval, tolerance, capacity = _params(limit, window, burst)
    base = now if tat is None or tat < now else tat
    new_tat = base + cost * interval
    used = new_tat - now
    if used > tolerance:
        spent = base - now
        return None, Decision(
            allowed=False,
            limit=capacity,
            remaining=max(0, (tolerance - spent) // interval),
            reset_seconds=spent / _US,
            retry_after_seconds=(used - tolerance) / _US,
        )
    return new_tat, Decision(
        allowed=True,
        limit=capacity,
        remaining=(tolerance - used) // interval,
        reset_seconds=used / _US,
    )


def _to_us(seconds: float) -> int:
    return round(seconds * _US)


class MemoryRateLimiter:
    """Per-process budgets; exact, O(1) per key, idle keys swept periodically."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._tats: dict[str, int] = {}
        self._max_keys = max_keys
        self.backend_errors = 0

    async def hit(
        self, key: str, limit: int, window: float, burst: int = 0, cost: int = 1
    ) -> Decision:
        return self.hit_sync(key, limit, window, burst, cost)

    def hit_sync(
        self, key: str, limit: int, window: float, burst: int = 0, cost: int = 1
    ) -> Decision:
        """The same as ``hit``; usable from synchronous code and tests."""
        now = _to_us(self._clock())
        new_tat, decision = gcra(self._tats.get(key), now, limit, window, burst, cost)
        if new_tat is not None:
            if len(self._tats) >= self._max_keys and key not in self._tats:
                self._sweep(now)
            self._tats[key] = new_tat
        return decision

    def _sweep(self, now: int) -> None:
        """Forget keys whose budget is full again (same as never seen)."""
        stale = [k for k, tat in self._tats.items() if tat <= now]
        for k in stale:
            del self._tats[k]
        if len(self._tats) >= self._max_keys:
            # Still full of live keys: drop the oldest half rather than grow without bound.
            for k in list(self._tats)[: len(self._tats) // 2]:
                del self._tats[k]

    def __len__(self) -> int:
        return len(self._tats)

    async def aclose(self) -> None:
        self._tats.clear()


# KEYS[1] = budget key; ARGV = now_us (negative: use the server's TIME), interval_us,
# tolerance_us, cost. Returns {allowed, spent_or_used_us, retry_after_us}.
_LUA_GCRA = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local new_tat = tat + cost * interval
local used = new_tat - now
if used > tolerance then
  return {0, tat - now, used - tolerance}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(used / 1000) + 1)
return {1, used, 0}
"""


class _Incomplete(Exception):
    """The buffer ends inside a reply; wait for more bytes."""


class RedisReplyError(Exception):
    """An error reply (``-ERR ...``) from Redis."""


def _parse(buf: bytearray, pos: int) -> tuple[Any, int]:
    """One RESP2 reply from ``buf`` at ``pos``: (value, position after it)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    line = bytes(buf[pos + 1 : end])
    after = end + 2
    if kind == 0x3A:  # ':' integer
        return int(line), after
    if kind == 0x2A:  # '*' array
        count = int(line)
        if count < 0:
            return None, after
        items = []
        for _ in range(count):
            item, after = _parse(buf, after)
            items.append(item)
        return items, after
    if kind == 0x24:  # '$' bulk string
        size = int(line)
        if size < 0:
            return None, after
        if len(buf) < after + size + 2:
            raise _Incomplete
        return bytes(buf[after : after + size]), after + size + 2
    if kind == 0x2B:  # '+' simple string
        return line, after
    if kind == 0x2D:  # '-' error
        return RedisReplyError(line.decode("utf-8", "replace")), after
    raise RedisReplyError(f"unexpected reply type {chr(kind)!r}")


def _command(*args: bytes | str | int) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


class _RespProtocol(asyncio.Protocol):
    """One pipelined Redis connection: commands go out in order, replies resolve FIFO."""

    def __init__(self, timeout: float = 1.0) -> None:
        self._buf = bytearray()
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._sent_at: deque[float] = deque()
        self._batch = WriteBatch(self._write)
        self._watchdog: asyncio.TimerHandle | None = None
        self.timeout = timeout
        """Oldest unanswered command older than this: the connection is stuck, drop it.
        One timer per connection instead of one per call (replies come in order)."""
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; same interface.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos = 0
        while pos < len(buf):
            try:
                value, pos_next = _parse(buf, pos)
            except _Incomplete:
                break
            pos = pos_next
            if not self._waiters:
                continue  # a reply nobody waits for (cannot happen with well-behaved Redis)
            waiter = self._waiters.popleft()
            self._sent_at.popleft()
            if not waiter.done():
                if isinstance(value, RedisReplyError):
                    waiter.set_exception(value)
                else:
                    waiter.set_result(value)
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail_all(ConnectionError(f"redis connection lost: {exc or 'closed by server'}"))

    def _fail_all(self, error: BaseException) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._sent_at.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def _check(self) -> None:
        self._watchdog = None
        if not self._sent_at:
            return
        loop = asyncio.get_running_loop()
        age = loop.time() - self._sent_at[0]
        if age >= self.timeout:
            self._fail_all(TimeoutError(f"redis did not answer within {self.timeout:g}s"))
            self.close()
            return
        self._watchdog = loop.call_later(self.timeout - age, self._check)

    def send(self, payload: bytes) -> asyncio.Future[Any]:
        """Queue one command; the commands of one loop iteration leave in one write.

        Under load many requests reach the limiter in the same iteration: one
        write (and, in turn, one read of their replies) instead of one system call
        each roughly halves the limiter's CPU per request (bench/README.md).
        """
        if self.lost or self.transport is None or self.transport.is_closing():
            raise ConnectionError("redis connection is closed")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        self._waiters.append(waiter)
        self._sent_at.append(loop.time())
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.timeout, self._check)
        self._batch.add(payload, loop)
        return waiter

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class RedisRateLimiter:
    """Budgets shared by every gateway process through one Redis (atomic Lua).

    Speaks RESP over one pipelined asyncio connection rather than through
    redis-py: measured here, redis-py's asyncio client spent 150-200 µs of CPU
    per call, more than the whole rest of the request path; this costs a few µs.
    The connection is opened lazily inside the serving event loop.
    """

    def __init__(
        self,
        url: str,
        *,
        failure_mode: Literal["open", "closed"] = "open",
        clock: Callable[[], float] | None = None,
        timeout: float = 1.0,
        retry_interval: float = 1.0,
        key_prefix: str = "unispec:rl:",
    ) -> None:
        self.url = url
        self.failure_mode = failure_mode
        self._clock = clock
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._prefix = key_prefix
        self._conn: _RespProtocol | None = None
        self._connecting: asyncio.Future[_RespProtocol] | None = None
        self._down_until = 0.0
        self._last_log = -math.inf
        self._sha = hashlib.sha1(_LUA_GCRA.encode()).hexdigest()
        self._evalsha_head = (
            b"*8\r\n$7\r\nEVALSHA\r\n$40\r\n" + self._sha.encode() + b"\r\n$1\r\n1\r\n"
        )
        self.backend_errors = 0

    async def _connection(self) -> _RespProtocol:
        conn = self._conn
        if conn is not None and not conn.lost:
            return conn
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> _RespProtocol:
        """Open the connection, authenticate, select the db, load the script."""
        parts = urllib.parse.urlsplit(self.url)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._timeout):
            if parts.scheme == "unix":
                _, proto = await loop.create_unix_connection(
                    lambda: _RespProtocol(self._timeout), parts.path
                )
                db = urllib.parse.parse_qs(parts.query).get("db", ["0"])[0]
            else:
                ssl_context: ssl.SSLContext | None = None
                if parts.scheme == "rediss":
                    ssl_context = ssl.create_default_context()
                _, proto = await loop.create_connection(
                    lambda: _RespProtocol(self._timeout),
                    parts.hostname or "127.0.0.1",
                    parts.port or 6379,
                    ssl=ssl_context,
                )
                db = parts.path.strip("/") or "0"
            try:
                if parts.password is not None:
                    user = urllib.parse.unquote(parts.username or "") or None
                    password = urllib.parse.unquote(parts.password)
                    args = ("AUTH", user, password) if user else ("AUTH", password)
                    await proto.send(_command(*[a for a in args if a is not None]))
                if db != "0":
                    await proto.send(_command("SELECT", db))
                await proto.send(_command("SCRIPT", "LOAD", _LUA_GCRA))
            except BaseException:
                proto.close()
                raise
        self._conn = proto
        return proto

    async def _call(self, key: str, args: tuple[int, int, int, int]) -> list[int]:
        conn = await self._connection()
        raw_key = (self._prefix + key).encode()
        payload = [self._evalsha_head, b"$%d\r\n%s\r\n" % (len(raw_key), raw_key)]
        for value in args:
            text = b"%d" % value
            payload.append(b"$%d\r\n%s\r\n" % (len(text), text))
        # No timer per call: the connection's watchdog fails every waiter when the
        # oldest command goes unanswered for ``timeout``.
        try:
            reply = await conn.send(b"".join(payload))
        except RedisReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            # The script cache was flushed: EVAL sends the source and caches it again.
            reply = await conn.send(_command("EVAL", _LUA_GCRA, 1, self._prefix + key, *args))
        if not isinstance(reply, list) or len(reply) != 3:
            raise RedisReplyError(f"unexpected reply to the rate-limit script: {reply!r}")
        return [int(v) for v in reply]

    async def hit(
        self, key: str, limit: int, window: float, burst: int = 0, cost: int = 1
    ) -> Decision:
        interval, tolerance, capacity = _params(limit, window, burst)
        if self._down_until and time.monotonic() < self._down_until:
            return self._degraded(capacity, None)
        now = -1 if self._clock is None else _to_us(self._clock())
        try:
            allowed, spent, retry = await self._call(key, (now, interval, tolerance, cost))
        except Exception as exc:  # any backend failure degrades; it never becomes a 500
            self._down_until = time.monotonic() + self._retry_interval
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            return self._degraded(capacity, exc)
        self._down_until = 0.0
        if allowed:
            return Decision(True, capacity, (tolerance - spent) // interval, spent / _US)
        return Decision(
            False, capacity, max(0, (tolerance - spent) // interval), spent / _US, retry / _US
        )

    def _degraded(self, capacity: int, exc: BaseException | None) -> Decision:
        self.backend_errors += 1
        now = time.monotonic()
        if now - self._last_log >= _LOG_EVERY:
            self._last_log = now
            log.warning(
                "rate limit backend %s unreachable (%s); failing %s (%d failures so far)",
                self.url,
                (str(exc) or type(exc).__name__) if exc is not None else "still in back-off",
                self.failure_mode,
                self.backend_errors,
            )
        if self.failure_mode == "open":
            return Decision(True, capacity, capacity, 0.0, backend_error=True)
        return Decision(
            False, capacity, 0, 0.0, retry_after_seconds=self._retry_interval, backend_error=True
        )

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """``gateway.rate_limit`` of unispec.yaml, checked."""

    backend: str = "memory"
    failure_mode: Literal["open", "closed"] = "open"
    default: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 1.0

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> RateLimitSettings:
        raw = raw or {}
        where = "unispec.yaml: /gateway/rate_limit"
        backend = raw.get("backend", "memory")
        if not isinstance(backend, str) or not (
            backend == "memory" or backend.startswith(("redis://", "rediss://", "unix://"))
        ):
            raise GatewayConfigError(
                f"{where}/backend: {backend!r} must be 'memory' or a redis:// URL"
            )
        mode = raw.get("failure_mode", "open")
        if mode not in ("open", "closed"):
            raise GatewayConfigError(f"{where}/failure_mode: {mode!r} must be 'open' or 'closed'")
        default = raw.get("default") or {}
        if not isinstance(default, Mapping):
            raise GatewayConfigError(f"{where}/default must be a mapping")
        timeout = raw.get("timeout", 1.0)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise GatewayConfigError(f"{where}/timeout must be a positive number of seconds")
        if default:
            _check_limit_fields(default, f"{where}/default")
        return cls(backend, mode, default, float(timeout))


def build_limiter(
    raw: Mapping[str, Any] | RateLimitSettings | None,
    clock: Callable[[], float] | None = None,
) -> MemoryRateLimiter | RedisRateLimiter:
    """The backend named by ``gateway.rate_limit.backend`` (no connection made yet)."""
    settings = raw if isinstance(raw, RateLimitSettings) else RateLimitSettings.from_mapping(raw)
    if settings.backend == "memory":
        return MemoryRateLimiter(clock) if clock else MemoryRateLimiter()
    return RedisRateLimiter(
        settings.backend, failure_mode=settings.failure_mode, clock=clock, timeout=settings.timeout
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_limit_fields(spec: Mapping[str, Any], where: str) -> None:
    if "limit" in spec and not _positive_int(spec["limit"]):
        raise GatewayConfigError(f"{where}/limit must be a positive integer")
    window = spec.get("window", 60)
    if not isinstance(window, int | float) or isinstance(window, bool) or window <= 0:
        raise GatewayConfigError(f"{where}/window must be a positive number of seconds")
    if spec.get("per", "user") not in ("user", "ip"):
        raise GatewayConfigError(f"{where}/per must be 'user' or 'ip'")
    burst = spec.get("burst", 0)
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 0:
        raise GatewayConfigError(f"{where}/burst must be an integer >= 0")
    tiers = spec.get("tiers") or {}
    if not isinstance(tiers, Mapping) or not all(_positive_int(v) for v in tiers.values()):
        raise GatewayConfigError(f"{where}/tiers must map tier names to positive integers")


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """One operation's limit, compiled at start-up."""

    scope: str
    window: float
    per: Literal["user", "ip"]
    limit: int
    burst: int = 0
    tiers: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_operation(
        cls,
        operation: Mapping[str, Any],
        default: Mapping[str, Any] | None,
        scope: str,
    ) -> RateLimitPolicy | None:
        """Effective policy: the operation's ``x-rate-limit`` over the global default."""
        own = operation.get("x-rate-limit")
        return cls.from_spec(own, default, scope)

    @classmethod
    def from_spec(
        cls, own: Any, default: Mapping[str, Any] | None, scope: str
    ) -> RateLimitPolicy | None:
        if own is False:
            return None
        if own is not None and not isinstance(own, Mapping):
            raise GatewayConfigError(f"operation {scope}: x-rate-limit must be a mapping")
        if not own and not default:
            return None
        spec: dict[str, Any] = dict(default or {})
        spec.update(own or {})
        where = f"operation {scope}: x-rate-limit"
        _check_limit_fields(spec, where)
        tiers = {str(k): int(v) for k, v in (spec.get("tiers") or {}).items()}
        if "limit" in spec:
            limit = int(spec["limit"])
        elif "free" in tiers:
            limit = tiers["free"]
        elif tiers:
            limit = min(tiers.values())
        else:
            raise GatewayConfigError(f"{where}: needs 'limit' or 'tiers'")
        return cls(
            scope=scope,
            window=float(spec.get("window", 60)),
            per="ip" if spec.get("per") == "ip" else "user",
            limit=limit,
            burst=int(spec.get("burst", 0)),
            tiers=tiers,
        )

    def limit_for(self, tier: str | None) -> int:
        """The allowance of a tier (``limit`` when the tier is not listed)."""
        if tier is not None and self.per == "user":
            return self.tiers.get(tier, self.limit)
        return self.limit

    def key_for(self, identity: Identity | None, client_ip: str) -> str:
        if self.per == "user" and identity is not None:
            return f"{self.scope}|u:{identity.subject}"
        return f"{self.scope}|ip:{client_ip}"

    def check_memory(
        self,
        limiter: MemoryRateLimiter,
        identity: Identity | None,
        client_ip: str,
        cost: int = 1,
    ) -> Decision:
        """``check`` for the in-process limiter, without a coroutine per request."""
        tier = identity.tier if identity is not None else None
        key, limit = self.key_for(identity, client_ip), self.limit_for(tier)
        return limiter.hit_sync(key, limit, self.window, self.burst, cost)

    async def check(
        self, limiter: RateLimiter, identity: Identity | None, client_ip: str, cost: int = 1
    ) -> Decision:
        """Count this request against its budget and say whether to admit it."""
        tier = identity.tier if identity is not None else None
        return await limiter.hit(
            self.key_for(identity, client_ip),
            self.limit_for(tier),
            self.window,
            self.burst,
            cost,
        )
