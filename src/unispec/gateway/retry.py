"""When a failed upstream call may be tried again, and after how long.

Public API (pure; randomness and time are injected):

- ``RetryPolicy.from_mapping(gateway.retries, random=random.random)``:
  ``attempts`` (2) is the number of *retries* after the first try (so at most
  ``1 + attempts`` calls), ``backoff_base`` (0.05 s), ``backoff_max`` (1.0 s),
  ``deadline`` (10 s, the whole request including every try and pause).
- ``policy.retryable_request(method, headers)``: the request may be retried at all
  — an idempotent method (GET HEAD OPTIONS PUT DELETE; TRACE too) or any
  method carrying an ``Idempotency-Key`` header.
- ``policy.next_delay(attempt, method, outcome, *, idempotency_key, elapsed,
  body_sent=False, body_replayable=True, status=None) -> float | None``:
  seconds to sleep before retry number ``attempt`` (1-based), or ``None`` for
  "give up and answer with what you have". ``outcome`` is one of
  ``"connect_error"`` (nothing reached the upstream), ``"send_error"`` (the
  connection broke while the request was being sent), ``"status"`` (the
  upstream answered ``status``), ``"timeout"`` (read timeout: never retried,
  the upstream may still be working on it).
- ``policy.backoff(attempt)``: "full jitter" exponential back-off,
  ``uniform(0, min(backoff_max, backoff_base * 2 ** (attempt - 1)))``.

Rules: only retryable requests; only on connect errors, send errors and
502/503/504; never after a request body was (even partly) sent to a
non-idempotent method — an ``Idempotency-Key`` makes a *repeat* safe, not a
half-delivered one; never when the body cannot be replayed (a streamed upload
already consumed); never past the deadline (a pause that would end after it is
not taken).
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from unispec.errors import GatewayConfigError

__all__ = ["IDEMPOTENT_METHODS", "RETRY_STATUSES", "Outcome", "RetryPolicy"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({502, 503, 504})
Outcome = Literal["connect_error", "send_error", "status", "timeout"]


def _has_idempotency_key(headers: Mapping[str, str] | None) -> bool:
    if not headers:
        return False
    return any(k.lower() == "idempotency-key" and v for k, v in headers.items())


@dataclass(frozen=True)
class RetryPolicy:
    """``gateway.retries`` of unispec.yaml, plus the decision logic."""

    attempts: int = 2
    backoff_base: float = 0.05
    backoff_max: float = 1.0
    deadline: float = 10.0
    random: Callable[[], float] = field(default=_random.random, compare=False, repr=False)

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any] | None, random: Callable[[], float] = _random.random
    ) -> RetryPolicy:
        raw = dict(raw or {})
        where = "unispec.yaml: /gateway/retries"
        unknown = set(raw) - {"attempts", "backoff_base", "backoff_max", "deadline"}
        if unknown:
            raise GatewayConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        attempts = raw.get("attempts", 2)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
            raise GatewayConfigError(f"{where}/attempts must be an integer >= 0")
        numbers: dict[str, float] = {}
        for name, default in (("backoff_base", 0.05), ("backoff_max", 1.0), ("deadline", 10.0)):
            v = raw.get(name, default)
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise GatewayConfigError(f"{where}/{name} must be a number >= 0")
            numbers[name] = float(v)
        if numbers["deadline"] <= 0:
            raise GatewayConfigError(f"{where}/deadline must be > 0")
        return cls(attempts=attempts, random=random, **numbers)

    def retryable_request(self, method: str, headers: Mapping[str, str] | None = None) -> bool:
        """May this request be sent more than once at all?"""
        return method.upper() in IDEMPOTENT_METHODS or _has_idempotency_key(headers)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential pause before retry number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** max(0, attempt - 1)))
        return float(ceiling * self.random())

    def next_delay(
        self,
        attempt: int,
        method: str,
        outcome: Outcome,
        *,
        idempotency_key: bool = False,
        elapsed: float = 0.0,
        body_sent: bool = False,
        body_replayable: bool = True,
        status: int | None = None,
    ) -> float | None:
        """Pause before retry ``attempt`` (1 = the first retry), or ``None`` to stop."""
        if attempt < 1 or attempt > self.attempts:
            return None
        idempotent_method = method.upper() in IDEMPOTENT_METHODS
        if not (idempotent_method or idempotency_key):
            return None
        if outcome == "timeout":
            return None
        if outcome == "status" and status not in RETRY_STATUSES:
            return None
        if outcome in ("send_error", "status") or body_sent:
            # The upstream received (part of) the request.
            if not body_replayable:
                return None
            if outcome == "send_error" and not idempotent_method:
                return None
            if body_sent and outcome != "status" and not idempotent_method:
                return None
        delay = self.backoff(attempt)
        if elapsed + delay >= self.deadline:
            return None
        return delay

    def remaining(self, elapsed: float) -> float:
        """Seconds left of the per-request deadline (for the next try's timeout)."""
        return max(0.0, self.deadline - elapsed)
