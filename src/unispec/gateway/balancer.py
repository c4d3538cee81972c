"""Round-robin over a service's upstream instances, skipping the unhealthy ones.

Public API (pure; the clock is injectable):

- ``Balancer(urls, cooldown=5.0, clock=time.monotonic)``.
- ``balancer.pick(exclude=()) -> str``: the next instance in round-robin order
  that is neither marked down by an active health check nor cooling down after
  a failure, skipping ``exclude`` (the instances this request already tried,
  so a retry goes elsewhere). When every candidate is unhealthy it still
  returns one (the one whose cool-down ends first): trying beats a certain 503,
  and the breaker is what stops calls to a dead service.
- ``balancer.mark_failure(url)`` (passive health: connect error, timeout,
  502/503/504 — skipped for ``cooldown`` seconds), ``balancer.mark_success(url)``,
  ``balancer.set_health(url, healthy)`` (active checks from ``/services``).
- ``balancer.snapshot()``: per instance ``{url, healthy, cooling_down_for, failures}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

__all__ = ["Balancer"]


class Balancer:
    """Instances of one service; O(n) per pick with n the (small) instance count."""

    def __init__(
        self,
        urls: Sequence[str],
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("a balancer needs at least one upstream URL")
        self.urls: tuple[str, ...] = tuple(urls)
        self.cooldown = cooldown
        self._clock = clock
        self._next = 0
        self._down_until: dict[str, float] = dict.fromkeys(self.urls, 0.0)
        self._healthy: dict[str, bool] = dict.fromkeys(self.urls, True)
        self._failures: dict[str, int] = dict.fromkeys(self.urls, 0)

    def pick(self, exclude: Collection[str] = ()) -> str:
        """Next usable instance (round robin); never raises for a non-empty list."""
        urls = self.urls
        n = len(urls)
        if n == 1:
            return urls[0]
        now = self._clock()
        start = self._next
        for i in range(n):
            url = urls[(start + i) % n]
            if url in exclude or not self._healthy[url] or self._down_until[url] > now:
                continue
            self._next = (start + i + 1) % n
            return url
        # Nobody is healthy: prefer an untried instance, the one recovering soonest.
        pool = [u for u in urls if u not in exclude] or list(urls)
        best = min(pool, key=lambda u: (not self._healthy[u], self._down_until[u]))
        self._next = (urls.index(best) + 1) % n
        return best

    def mark_failure(self, url: str) -> None:
        if url in self._down_until:
            self._down_until[url] = self._clock() + self.cooldown
            self._failures[url] += 1

    def mark_success(self, url: str) -> None:
        if self._down_until.get(url):
            self._down_until[url] = 0.0

    def set_health(self, url: str, healthy: bool) -> None:
        """Record an active health check result; a healthy check also ends the cool-down."""
        if url in self._healthy:
            self._healthy[url] = healthy
            if healthy:
                self._down_until[url] = 0.0

    def healthy(self, url: str) -> bool:
        return self._healthy.get(url, False) and self._down_until.get(url, 0.0) <= self._clock()

    def snapshot(self) -> list[dict[str, Any]]:
        now = self._clock()
        return [
            {
                "url": u,
                "healthy": self._healthy[u] and self._down_until[u] <= now,
                "cooling_down_for": round(max(0.0, self._down_until[u] - now), 3),
                "failures": self._failures[u],
            }
            for u in self.urls
        ]
