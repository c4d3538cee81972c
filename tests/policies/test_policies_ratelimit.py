"""GCRA rate limits: exact boundaries with a controlled clock, memory and real Redis."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvloop
from hypothesis import given, settings
from hypothesis import strategies as st

from unispec.errors import GatewayConfigError
from unispec.gateway.auth import Identity
from unispec.gateway.ratelimit import (
    Decision,
    MemoryRateLimiter,
    RateLimitPolicy,
    RateLimitSettings,
    RedisRateLimiter,
    build_limiter,
    gcra,
    rate_limit_headers,
)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def hits(limiter: MemoryRateLimiter, n: int, **kw: Any) -> list[bool]:
    args: dict[str, Any] = {"limit": 5, "window": 60}
    args.update(kw)
    return [limiter.hit_sync("k", **args).allowed for _ in range(n)]


def test_limit_admitted_then_refused_exactly_at_the_boundary() -> None:
    clock = Clock()
    rl = MemoryRateLimiter(clock)
    assert hits(rl, 5) == [True] * 5
    d = rl.hit_sync("k", 5, 60)
    assert not d.allowed and d.remaining == 0
    assert d.retry_after_seconds == pytest.approx(12.0)
    clock.t += 11.999999
    assert not rl.hit_sync("k", 5, 60).allowed
    clock.t = 1000.0 + 12.0
    assert rl.hit_sync("k", 5, 60).allowed
    assert not rl.hit_sync("k", 5, 60).allowed
    # After a full window of silence the whole allowance is back, not more.
    clock.t += 60
    assert hits(rl, 6) == [True] * 5 + [False]


def test_window_of_one_request_per_second_boundaries() -> None:
    clock = Clock(0.0)
    rl = MemoryRateLimiter(clock)
    assert rl.hit_sync("k", 1, 1).allowed
    for t in (0.5, 0.999999):
        clock.t = t
        assert not rl.hit_sync("k", 1, 1).allowed
    clock.t = 1.0
    assert rl.hit_sync("k", 1, 1).allowed


def test_burst_adds_to_the_immediate_allowance_not_to_the_rate() -> None:
    clock = Clock()
    rl = MemoryRateLimiter(clock)
    assert hits(rl, 8, burst=2) == [True] * 7 + [False]
    d = rl.hit_sync("k", 5, 60, burst=2)
    assert d.limit == 7 and d.retry_after_seconds == pytest.approx(12.0)
    clock.t += 12
    assert hits(rl, 2, burst=2) == [True, False]


def test_remaining_and_reset_counting_down() -> None:
    rl = MemoryRateLimiter(Clock())
    seen = [rl.hit_sync("k", 3, 30) for _ in range(4)]
    assert [d.remaining for d in seen] == [2, 1, 0, 0]
    assert [d.reset_seconds for d in seen[:3]] == [10.0, 20.0, 30.0]
    assert [d.allowed for d in seen] == [True, True, True, False]
    assert rate_limit_headers(seen[0]) == [
        ("X-RateLimit-Limit", "3"),
        ("X-RateLimit-Remaining", "2"),
        ("X-RateLimit-Reset", "10"),
    ]
    assert rate_limit_headers(seen[3])[-1] == ("Retry-After", "10")
    assert (seen[3].status, seen[3].code) == (429, "RATE_LIMIT_EXCEEDED")


def test_cost_and_non_integral_intervals_stay_exact() -> None:
    clock = Clock(0.0)
    rl = MemoryRateLimiter(clock)
    assert rl.hit_sync("k", 10, 1, cost=10).allowed
    assert not rl.hit_sync("k", 10, 1).allowed
    clock.t = 0.1
    assert rl.hit_sync("k", 10, 1).allowed
    # 7 per 60 s: exactly 7 at once, never 8, over many windows.
    rl2 = MemoryRateLimiter(clock)
    admitted = 0
    for step in range(6000):
        clock.t = step * 0.1
        admitted += rl2.hit_sync("j", 7, 60).allowed
    # The initial allowance, then one every 60/7 s: at 8.57 s, 17.14 s ... 591.43 s.
    assert admitted == 7 + 69


def test_pure_gcra_refusal_stores_nothing() -> None:
    tat, d = gcra(None, 0, 1, 1)
    assert tat == 1_000_000 and d.allowed
    tat2, d2 = gcra(tat, 0, 1, 1)
    assert tat2 is None and not d2.allowed and d2.retry_after_seconds == 1.0


def test_keys_are_independent_and_idle_keys_are_swept() -> None:
    clock = Clock()
    rl = MemoryRateLimiter(clock, max_keys=10)
    for i in range(10):
        assert rl.hit_sync(f"k{i}", 1, 1).allowed
    assert not rl.hit_sync("k3", 1, 1).allowed
    clock.t += 2
    assert rl.hit_sync("new", 1, 1).allowed
    assert len(rl) == 1


def test_policy_tiers_keys_and_defaults() -> None:
    default = {"window": 60, "per": "user", "tiers": {"free": 30, "pro": 120}}
    p = RateLimitPolicy.from_operation({}, default, "listCourses")
    assert p is not None and p.limit == 30 and p.per == "user"
    pro = Identity("u1", tier="pro")
    assert p.limit_for("pro") == 120 and p.limit_for("unknown") == 30 and p.limit_for(None) == 30
    assert p.key_for(pro, "1.2.3.4") == "listCourses|u:u1"
    assert p.key_for(None, "1.2.3.4") == "listCourses|ip:1.2.3.4"
    login = RateLimitPolicy.from_operation(
        {"x-rate-limit": {"limit": 5, "window": 60, "per": "ip"}}, default, "login"
    )
    assert login is not None and login.per == "ip" and login.limit_for("pro") == 5
    assert login.key_for(pro, "9.9.9.9") == "login|ip:9.9.9.9"
    assert RateLimitPolicy.from_operation({}, None, "x") is None
    assert RateLimitPolicy.from_operation({"x-rate-limit": False}, default, "x") is None
    for bad in ({"limit": 0}, {"limit": 5, "per": "host"}, {"limit": 5, "window": -1},
                {"limit": 5, "burst": -1}, {"tiers": {"free": "many"}}, {"window": 5}):  # fmt: skip
        with pytest.raises(GatewayConfigError, match="x-rate-limit"):
            RateLimitPolicy.from_operation({"x-rate-limit": bad}, None, "op")


def test_policy_check_against_memory_limiter() -> None:
    async def run() -> list[Decision]:
        rl = MemoryRateLimiter(Clock())
        p = RateLimitPolicy("op", 60, "user", 2, 0, {"pro": 3})
        pro, free = Identity("a", tier="pro"), Identity("b", tier="free")
        out = [await p.check(rl, pro, "ip") for _ in range(4)]
        out += [await p.check(rl, free, "ip") for _ in range(3)]
        return out

    assert [d.allowed for d in asyncio.run(run())] == [True] * 3 + [False] + [True] * 2 + [False]


def test_settings_and_builder() -> None:
    assert isinstance(build_limiter({}), MemoryRateLimiter)
    r = build_limiter({"backend": "redis://127.0.0.1:1/0", "failure_mode": "closed"})
    assert isinstance(r, RedisRateLimiter) and r.failure_mode == "closed"
    with pytest.raises(GatewayConfigError, match="backend"):
        RateLimitSettings.from_mapping({"backend": "memcached://x"})
    with pytest.raises(GatewayConfigError, match="failure_mode"):
        RateLimitSettings.from_mapping({"failure_mode": "maybe"})


def test_redis_two_clients_share_one_budget_exactly(redis_server: Any) -> None:
    async def run() -> tuple[list[bool], list[Decision]]:
        clock = Clock(5000.0)
        a = RedisRateLimiter(redis_server.url, clock=clock, timeout=10)
        b = RedisRateLimiter(redis_server.url, clock=clock, timeout=10)
        try:
            admitted = []
            for i in range(12):
                d = await (a if i % 2 else b).hit("shared-exact", 5, 60)
                admitted.append(d.allowed)
            clock.t += 11.999999
            late = [await a.hit("shared-exact", 5, 60)]
            clock.t = 5012.0
            late.append(await b.hit("shared-exact", 5, 60))
            late.append(await a.hit("shared-exact", 5, 60))
            return admitted, late
        finally:
            await a.aclose()
            await b.aclose()

    admitted, late = asyncio.run(run())
    assert admitted == [True] * 5 + [False] * 7
    assert [d.allowed for d in late] == [False, True, False]
    assert late[0].retry_after_seconds == pytest.approx(0.000001, abs=1e-6)


def test_redis_server_time_and_ttl(redis_server: Any) -> None:
    async def run() -> tuple[list[Decision], int]:
        import redis.asyncio as aioredis

        rl = RedisRateLimiter(redis_server.url, timeout=10)  # no clock: the server's TIME
        raw = aioredis.Redis.from_url(redis_server.url)
        try:
            out = [await rl.hit("ttl-key", 2, 10, burst=1) for _ in range(4)]
            ttl = int(await raw.pttl("unispec:rl:ttl-key"))
            return out, ttl
        finally:
            await rl.aclose()
            await raw.aclose()

    out, ttl = asyncio.run(run())
    assert [d.allowed for d in out] == [True, True, True, False]
    assert out[0].limit == 3 and out[2].remaining == 0
    assert 0 < ttl <= 15_001


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_redis_concurrent_hits_are_atomic(redis_server: Any, loop: str) -> None:
    async def run() -> int:
        limiters = [RedisRateLimiter(redis_server.url, timeout=10) for _ in range(4)]
        try:
            results = await asyncio.gather(
                *(limiters[i % 4].hit(f"atomic-{loop}", 50, 3600) for i in range(200))
            )
            assert not any(rl.backend_errors for rl in limiters)
            return sum(d.allowed for d in results)
        finally:
            for rl in limiters:
                await rl.aclose()

    # timeout=10: on a loaded machine a slow answer must not turn into a fail-open admit.
    runner = uvloop.run if loop == "uvloop" else asyncio.run
    assert runner(run()) == 50


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_redis_unreachable_fails_open_or_closed_counted(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> tuple[list[Decision], int]:
        rl = RedisRateLimiter(
            f"redis://127.0.0.1:{_dead_port()}/0",
            failure_mode=mode,
            timeout=0.2,  # type: ignore[arg-type]
        )
        try:
            return [await rl.hit("k", 1, 60) for _ in range(3)], rl.backend_errors
        finally:
            await rl.aclose()

    with caplog.at_level("WARNING"):
        decisions, errors = asyncio.run(run())
    assert errors == 3
    assert all(d.backend_error for d in decisions)
    assert "unreachable" in caplog.text
    if mode == "open":
        assert all(d.allowed for d in decisions)
    else:
        assert not any(d.allowed for d in decisions)
        assert (decisions[0].status, decisions[0].code) == (503, "SERVICE_UNAVAILABLE")
        assert ("Retry-After", "1") in rate_limit_headers(decisions[0])


def test_resp_replies_split_at_every_byte_resolve_in_order() -> None:
    from unispec.gateway.ratelimit import RedisReplyError, _RespProtocol

    async def run() -> list[Any]:
        proto = _RespProtocol()

        class Sink:
            def write(self, data: bytes) -> None:
                pass

            def is_closing(self) -> bool:
                return False

        proto.transport = Sink()  # type: ignore[assignment]
        waiters = [proto.send(b"x") for _ in range(5)]
        stream = b"*3\r\n:1\r\n:-5\r\n:0\r\n$3\r\nabc\r\n+OK\r\n-NOSCRIPT gone\r\n$-1\r\n"
        for i in range(len(stream)):
            proto.data_received(stream[i : i + 1])
        out: list[Any] = []
        for w in waiters:
            try:
                out.append(await w)
            except RedisReplyError as exc:
                out.append(str(exc))
        return out

    assert asyncio.run(run()) == [[1, -5, 0], b"abc", b"OK", "NOSCRIPT gone", None]


def test_redis_script_flush_and_db_selection(redis_server: Any) -> None:
    async def run() -> tuple[list[bool], int]:
        import redis.asyncio as aioredis

        url = redis_server.url.rsplit("/", 1)[0] + "/3"
        rl = RedisRateLimiter(url, timeout=10)
        raw = aioredis.Redis.from_url(url)
        try:
            out = [(await rl.hit("flush", 2, 60)).allowed]
            await raw.script_flush()
            out.append((await rl.hit("flush", 2, 60)).allowed)  # NOSCRIPT -> EVAL
            out.append((await rl.hit("flush", 2, 60)).allowed)
            assert rl.backend_errors == 0
            return out, int(await raw.exists("unispec:rl:flush"))
        finally:
            await rl.aclose()
            await raw.aclose()

    assert asyncio.run(run()) == ([True, True, False], 1)


@settings(max_examples=150, deadline=None)
@given(
    limit=st.integers(1, 20),
    window=st.integers(1, 120),
    burst=st.integers(0, 5),
    gaps=st.lists(st.integers(0, 5_000_000), min_size=1, max_size=60),
)
def test_gcra_never_exceeds_its_bound_and_admits_spaced_requests(
    limit: int, window: int, burst: int, gaps: list[int]
) -> None:
    """In any span d, at most capacity + floor(d / interval) requests pass; spaced ones all pass."""
    interval = window * 1_000_000 // limit
    capacity = limit + burst
    tat: int | None = None
    now = 0
    admitted: list[int] = []
    for gap in gaps:
        now += gap
        new_tat, decision = gcra(tat, now, limit, window, burst)
        if decision.allowed:
            assert new_tat is not None
            tat = new_tat
            admitted.append(now)
        else:
            assert decision.retry_after_seconds > 0
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - start
            assert j - i + 1 <= capacity + span // interval
    # The same requests spaced one interval apart are all admitted.
    tat = None
    for k in range(len(gaps)):
        tat, decision = gcra(tat, k * interval, limit, window, burst)
        assert decision.allowed


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_redis_that_stops_answering_degrades_within_the_timeout(mode: str) -> None:
    """Connected, script loaded, then silence: the connection watchdog fails the call."""

    async def run() -> tuple[Decision, float, int]:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            first = await reader.read(65536)  # SCRIPT LOAD
            assert b"SCRIPT" in first
            writer.write(b"$40\r\n" + b"0" * 40 + b"\r\n")
            await writer.drain()
            while await reader.read(65536):  # swallow EVALSHA, never answer
                pass

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        rl = RedisRateLimiter(
            f"redis://127.0.0.1:{port}/0",
            failure_mode=mode,  # type: ignore[arg-type]
            timeout=0.3,
        )
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            decision = await rl.hit("k", 1, 60)
            return decision, loop.time() - start, rl.backend_errors
        finally:
            await rl.aclose()
            server.close()

    decision, elapsed, errors = asyncio.run(run())
    assert 0.25 <= elapsed < 1.5
    assert errors == 1 and decision.backend_error
    assert decision.allowed is (mode == "open")
