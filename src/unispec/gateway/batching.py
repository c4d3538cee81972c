"""Writes made in one event-loop iteration, sent as one.

Under load many requests progress in the same loop iteration; each of them
writing to a socket on its own is one system call (and, on loopback, one TCP
segment and one wake-up of the peer) per write. Joining the writes of an
iteration cuts that to one, at the price of one ``call_soon`` per iteration.
Used for the client-facing responses (``server.py``) and the pipelined Redis
connection of the rate limiter (``ratelimit.py``); measured in bench/README.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class WriteBatch:
    """Collects bytes and hands them to ``write`` once per iteration (or past ``flush_at``)."""

    __slots__ = ("_parts", "_scheduled", "_size", "_write", "flush_at")

    def __init__(self, write: Callable[[bytes], None], flush_at: int = 64 * 1024) -> None:
        self._write = write
        self._parts: list[bytes] = []
        self._size = 0
        self._scheduled = False
        self.flush_at = flush_at

    def add(self, data: bytes, loop: asyncio.AbstractEventLoop) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self.flush_at:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)

    def pending(self) -> bool:
        return bool(self._parts)

    def flush(self) -> None:
        self._scheduled = False
        parts = self._parts
        if not parts:
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        self._size = 0
        self._write(data)
