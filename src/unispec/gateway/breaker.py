"""Per-upstream circuit breakers: stop calling an upstream that keeps failing.

Public API (pure; the clock is injectable, nothing here does I/O):

- ``BreakerSettings.from_mapping(gateway.breaker)``: ``consecutive_failures`` (5),
  ``failure_ratio`` (0.5) over ``window`` seconds (30) once at least
  ``min_requests`` (10) calls were seen there, ``open_seconds`` (15),
  ``half_open_probes`` (1).
- ``CircuitBreaker(name, settings, clock)``:
  ``breaker.allow() -> float | None`` — ``None`` means "call the upstream"
  (then report ``record_success()`` or ``record_failure()``; ``release()`` if
  the call was abandoned without an outcome, e.g. the client went away);
  a number means "don't": answer 503 ``SERVICE_UNAVAILABLE`` with
  ``Retry-After`` = that many seconds (rounded up).
- ``breaker.state`` is ``"closed" | "open" | "half_open"``; ``breaker.snapshot()``
  is a JSON-able dict for ``/services``; ``STATE_VALUES`` maps states to the
  numbers exported as a Prometheus gauge (0 closed, 1 half-open, 2 open).
- ``BreakerRegistry(settings, clock)``: ``registry.get(name)`` creates breakers on demand.

Transitions: closed -> open after ``consecutive_failures`` failures in a row, or
when failures / calls >= ``failure_ratio`` over the last ``window`` seconds with
at least ``min_requests`` calls (counted in whole-second buckets, so a call
leaves the window between ``window`` and ``window + 1`` seconds later);
open -> half-open once ``open_seconds`` have passed (checked lazily by ``allow``);
half-open admits at most ``half_open_probes`` concurrent calls: that many
successes close the breaker, any failure opens it again for another
``open_seconds``.
What counts as a failure is the caller's decision. For a service with several
instances, report the outcome of the *request* (after retries moved it to
another instance), not of each attempt: one dead instance among healthy ones
is the balancer's business (passive cool-down), and counting each attempt
opens the service's breaker while most of it is fine.
The proxy reports connect errors, timeouts and 502/503/504 as failures; a
4xx/500 answer proves the upstream alive.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from unispec.errors import GatewayConfigError

__all__ = ["STATE_VALUES", "BreakerRegistry", "BreakerSettings", "CircuitBreaker"]

State = Literal["closed", "open", "half_open"]
STATE_VALUES: Mapping[str, int] = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """``gateway.breaker`` of unispec.yaml."""

    consecutive_failures: int = 5
    failure_ratio: float = 0.5
    window: float = 30.0
    min_requests: int = 10
    open_seconds: float = 15.0
    half_open_probes: int = 1

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> BreakerSettings:
        raw = dict(raw or {})
        where = "unispec.yaml: /gateway/breaker"
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise GatewayConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name in ("consecutive_failures", "min_requests", "half_open_probes"):
            if name in raw:
                v = raw[name]
                if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                    raise GatewayConfigError(f"{where}/{name} must be an integer >= 1")
                values[name] = v
        for name in ("window", "open_seconds"):
            if name in raw:
                v = raw[name]
                if not isinstance(v, int | float) or isinstance(v, bool) or v <= 0:
                    raise GatewayConfigError(f"{where}/{name} must be a positive number")
                values[name] = float(v)
        if "failure_ratio" in raw:
            v = raw["failure_ratio"]
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v <= 1:
                raise GatewayConfigError(f"{where}/failure_ratio must be in (0, 1]")
            values["failure_ratio"] = float(v)
        return cls(**values)


class CircuitBreaker:
    """One upstream's breaker; cheap enough to consult on every request."""

    def __init__(
        self,
        name: str,
        settings: BreakerSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self.state: State = "closed"
        self.consecutive = 0
        self.opened_at: float | None = None
        self.open_count = 0
        self.rejected = 0
        self.last_failure: str | None = None
        self._probes_in_flight = 0
        self._probe_successes = 0
        # One bucket per whole second of the window: [second, calls, failures].
        self._buckets: deque[list[int]] = deque()

    # -- decisions ---------------------------------------------------------------------

    def allow(self) -> float | None:
        """``None`` to proceed, else seconds the caller should wait (503 + Retry-After)."""
        if self.state == "closed":
            return None
        now = self._clock()
        if self.state == "open":
            assert self.opened_at is not None
            remaining = self.opened_at + self.settings.open_seconds - now
            if remaining > 0:
                self.rejected += 1
                return remaining
            self.state = "half_open"
            self._probes_in_flight = 0
            self._probe_successes = 0
        if self._probes_in_flight >= self.settings.half_open_probes:
            self.rejected += 1
            return 1.0
        self._probes_in_flight += 1
        return None

    def retry_after(self) -> int:
        """Whole seconds until the breaker may let a probe through (0 when closed)."""
        if self.state != "open" or self.opened_at is None:
            return 0 if self.state == "closed" else 1
        remaining = self.opened_at + self.settings.open_seconds - self._clock()
        return max(1, math.ceil(remaining))

    # -- outcomes ----------------------------------------------------------------------

    def record_success(self) -> None:
        self.consecutive = 0
        if self.state == "half_open":
            self._probes_in_flight = max(0, self._probes_in_flight - 1)
            self._probe_successes += 1
            if self._probe_successes >= self.settings.half_open_probes:
                self._close()
            return
        self._count(failed=False)

    def record_failure(self, reason: str | None = None) -> None:
        self.last_failure = reason
        if self.state == "half_open":
            self._probes_in_flight = max(0, self._probes_in_flight - 1)
            self._open()
            return
        if self.state == "open":
            return
        self.consecutive += 1
        self._count(failed=True)
        calls = failures = 0
        for b in self._buckets:
            calls += b[1]
            failures += b[2]
        s = self.settings
        if self.consecutive >= s.consecutive_failures or (
            calls >= s.min_requests and failures / calls >= s.failure_ratio
        ):
            self._open()

    def release(self) -> None:
        """The admitted call ended without an outcome (cancelled): free its probe slot."""
        if self.state == "half_open":
            self._probes_in_flight = max(0, self._probes_in_flight - 1)

    # -- internals ---------------------------------------------------------------------

    def _count(self, failed: bool) -> None:
        """Count one call in the current second's bucket (sums only when one failed)."""
        now = self._clock()
        second = math.floor(now)
        buckets = self._buckets
        if not failed and buckets and buckets[-1][0] == second:
            buckets[-1][1] += 1  # the common case: another success in this second
            return
        horizon = now - self.settings.window
        while buckets and buckets[0][0] + 1 <= horizon:
            buckets.popleft()
        if buckets and buckets[-1][0] == second:
            bucket = buckets[-1]
        else:
            bucket = [second, 0, 0]
            buckets.append(bucket)
        bucket[1] += 1
        if failed:
            bucket[2] += 1

    def _open(self) -> None:
        self.state = "open"
        self.opened_at = self._clock()
        self.open_count += 1
        self._buckets.clear()

    def _close(self) -> None:
        self.state = "closed"
        self.opened_at = None
        self.consecutive = 0
        self._probes_in_flight = 0
        self._probe_successes = 0
        self._buckets.clear()

    def window_counts(self) -> tuple[int, int]:
        """(calls, failures) inside the current window."""
        horizon = self._clock() - self.settings.window
        live = [b for b in self._buckets if b[0] + 1 > horizon]
        return sum(b[1] for b in live), sum(b[2] for b in live)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state for ``/services``."""
        if self.state == "open":
            # A lazily-due transition is reported as it will be seen by the next call.
            assert self.opened_at is not None
            if self._clock() >= self.opened_at + self.settings.open_seconds:
                shown: str = "half_open"
            else:
                shown = "open"
        else:
            shown = self.state
        calls, failures = self.window_counts()
        return {
            "state": shown,
            "consecutive_failures": self.consecutive,
            "window_calls": calls,
            "window_failures": failures,
            "opened": self.open_count,
            "rejected": self.rejected,
            "retry_after": self.retry_after() if shown == "open" else 0,
            "last_failure": self.last_failure,
        }


class BreakerRegistry:
    """Breakers by upstream name, created on first use with shared settings."""

    def __init__(
        self, settings: BreakerSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str) -> CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = CircuitBreaker(name, self.settings, self._clock)
        return breaker

    def items(self) -> list[tuple[str, CircuitBreaker]]:
        return sorted(self._breakers.items())
