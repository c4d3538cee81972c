"""Circuit breaker transitions, round-robin balancing and retry decisions (injected time)."""

from __future__ import annotations

import pytest

from unispec.errors import GatewayConfigError
from unispec.gateway.balancer import Balancer
from unispec.gateway.breaker import STATE_VALUES, BreakerRegistry, BreakerSettings, CircuitBreaker
from unispec.gateway.retry import RetryPolicy


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def breaker(clock: Clock, **kw: float) -> CircuitBreaker:
    settings = BreakerSettings.from_mapping(
        {"consecutive_failures": 3, "failure_ratio": 0.5, "window": 10, "min_requests": 6,
         "open_seconds": 15, "half_open_probes": 2, **kw}
    )  # fmt: skip
    return CircuitBreaker("courses", settings, clock)


def test_opens_after_consecutive_failures_and_rejects_with_retry_after() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(2):
        assert b.allow() is None
        b.record_failure("connect")
    assert b.state == "closed"
    b.record_success()  # resets the streak
    for _ in range(2):
        b.record_failure("connect")
    assert b.state == "closed"
    b.record_failure("connect")
    assert b.state == "open"
    wait = b.allow()
    assert wait == pytest.approx(15.0)
    assert b.retry_after() == 15
    clock.t += 14.5
    assert b.allow() == pytest.approx(0.5) and b.retry_after() == 1
    snap = b.snapshot()
    assert snap["state"] == "open" and snap["rejected"] == 2 and snap["last_failure"] == "connect"


def test_half_open_lets_k_probes_then_closes_or_reopens() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.t += 15
    assert b.snapshot()["state"] == "half_open"
    assert b.allow() is None and b.allow() is None  # two probes
    assert b.allow() is not None  # a third concurrent call is refused
    assert b.state == "half_open"
    b.record_success()
    assert b.state == "half_open"
    b.record_success()
    assert b.state == "closed" and b.allow() is None
    # Again, but a probe fails: open for another full period.
    for _ in range(3):
        b.record_failure()
    clock.t += 15
    assert b.allow() is None
    b.record_failure("503")
    assert b.state == "open" and b.allow() == pytest.approx(15.0)
    # A cancelled probe frees its slot.
    clock.t += 15
    assert b.allow() is None and b.allow() is None and b.allow() is not None
    b.release()
    assert b.allow() is None


def test_failure_ratio_over_window_needs_min_requests() -> None:
    clock = Clock()
    b = breaker(clock, consecutive_failures=100)
    for _ in range(2):
        b.record_success()
        b.record_failure()
    assert b.state == "closed"  # 50 % but only 4 calls
    b.record_success()
    b.record_failure()  # 6 calls, 3 failures = 50 %
    assert b.state == "open"
    assert STATE_VALUES[b.state] == 2


def test_old_calls_leave_the_window() -> None:
    clock = Clock()
    b = breaker(clock, consecutive_failures=100)
    for _ in range(5):
        b.record_failure()
        b.record_success()
    assert b.state == "open"  # 10 calls, 50 %
    b2 = breaker(clock, consecutive_failures=100)
    for _ in range(5):
        b2.record_failure()
    clock.t += 11  # those five failures left the window (kept in whole-second buckets)
    for _ in range(5):
        b2.record_success()
    b2.record_failure()
    assert b2.state == "closed"
    assert b2.window_counts() == (6, 1)


def test_breaker_settings_validation_and_registry() -> None:
    with pytest.raises(GatewayConfigError, match="failure_ratio"):
        BreakerSettings.from_mapping({"failure_ratio": 2})
    with pytest.raises(GatewayConfigError, match="unknown"):
        BreakerSettings.from_mapping({"threshold": 2})
    reg = BreakerRegistry(BreakerSettings(), Clock())
    assert reg.get("a") is reg.get("a")
    assert [n for n, _ in reg.items()] == ["a"]


def test_round_robin_skips_failed_instances_for_the_cooldown() -> None:
    clock = Clock()
    lb = Balancer(["a", "b", "c"], cooldown=5, clock=clock)
    assert [lb.pick() for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]
    lb.mark_failure("b")
    assert [lb.pick() for _ in range(4)] == ["a", "c", "a", "c"]
    clock.t += 5
    assert sorted(lb.pick() for _ in range(3)) == ["a", "b", "c"]
    lb.set_health("c", False)
    assert {lb.pick() for _ in range(4)} == {"a", "b"}
    assert lb.pick(exclude={"a"}) == "b"
    lb.set_health("c", True)
    assert "c" in {lb.pick() for _ in range(3)}
    snap = {s["url"]: s for s in lb.snapshot()}
    assert snap["b"]["failures"] == 1 and snap["b"]["healthy"]


def test_all_unhealthy_still_picks_the_one_recovering_first() -> None:
    clock = Clock()
    lb = Balancer(["a", "b"], cooldown=5, clock=clock)
    lb.mark_failure("a")
    clock.t += 1
    lb.mark_failure("b")
    assert lb.pick() == "a"
    assert lb.pick(exclude={"a"}) == "b"
    lb.mark_success("a")
    assert lb.healthy("a") and not lb.healthy("b")
    with pytest.raises(ValueError):
        Balancer([])


def policy(**kw: float) -> RetryPolicy:
    return RetryPolicy.from_mapping(
        {"attempts": 2, "backoff_base": 0.1, "backoff_max": 0.25, "deadline": 1, **kw},
        random=lambda: 1.0,
    )


def test_retry_only_idempotent_or_idempotency_key() -> None:
    p = policy()
    for method in ("GET", "head", "OPTIONS", "PUT", "DELETE"):
        assert p.retryable_request(method)
        assert p.next_delay(1, method, "connect_error") == pytest.approx(0.1)
    for method in ("POST", "PATCH"):
        assert not p.retryable_request(method)
        assert p.retryable_request(method, {"Idempotency-Key": "abc"})
        assert p.next_delay(1, method, "connect_error") is None
        assert p.next_delay(1, method, "connect_error", idempotency_key=True) is not None
        assert p.next_delay(1, method, "status", status=503, idempotency_key=True) is not None


def test_retry_outcomes_statuses_attempts_backoff_and_deadline() -> None:
    p = policy()
    for status in (502, 503, 504):
        assert p.next_delay(1, "GET", "status", status=status) is not None
    for status in (500, 404, 429):
        assert p.next_delay(1, "GET", "status", status=status) is None
    assert p.next_delay(1, "GET", "timeout") is None
    assert p.next_delay(2, "GET", "connect_error") == pytest.approx(0.2)
    assert p.next_delay(3, "GET", "connect_error") is None  # attempts = 2 retries
    assert p.backoff(5) == pytest.approx(0.25)  # capped
    assert p.next_delay(1, "GET", "connect_error", elapsed=0.95) is None  # past the deadline
    jittered = RetryPolicy(attempts=1, backoff_base=0.1, random=lambda: 0.3)
    assert jittered.next_delay(1, "GET", "connect_error") == pytest.approx(0.03)
    assert p.remaining(0.4) == pytest.approx(0.6)


def test_never_retry_after_body_partly_sent_to_non_idempotent() -> None:
    p = policy()
    assert p.next_delay(1, "POST", "send_error", idempotency_key=True, body_sent=True) is None
    assert p.next_delay(1, "PUT", "send_error", body_sent=True) is not None
    assert p.next_delay(1, "PUT", "send_error", body_sent=True, body_replayable=False) is None
    assert (
        p.next_delay(1, "POST", "status", status=502, idempotency_key=True, body_replayable=False)
        is None
    )
    with pytest.raises(GatewayConfigError, match="attempts"):
        RetryPolicy.from_mapping({"attempts": -1})
    with pytest.raises(GatewayConfigError, match="unknown"):
        RetryPolicy.from_mapping({"tries": 1})
