"""Hybrid logical clock (HLC) stamps packed into one sortable 64-bit integer.

Device clocks lie (DESIGN §3.8): an HLC keeps causality even when the wall clock
is days off, by absorbing every clock it hears from. A stamp is
``physical_ms << 16 | counter``, so comparing two integers compares stamps, a
database index orders them, and ties between devices are broken by device id.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1


def pack(physical_ms: int, counter: int = 0) -> int:
    if not 0 <= counter <= COUNTER_MAX:
        raise ValueError("HLC counter out of range")
    return (physical_ms << COUNTER_BITS) | counter


def unpack(stamp: int) -> tuple[int, int]:
    return stamp >> COUNTER_BITS, stamp & COUNTER_MAX


def physical_ms(stamp: int) -> int:
    return stamp >> COUNTER_BITS


def to_text(stamp: int) -> str:
    """Readable form for people: ``2026-11-23T06:43:00.123Z/0001``."""
    ms, counter = unpack(stamp)
    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return f"{when.strftime('%Y-%m-%dT%H:%M:%S')}.{ms % 1000:03d}Z/{counter:04d}"


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def ahead_by(stamp: int, now_ms: int) -> int:
    """How far a stamp is ahead of ``now_ms`` (negative: behind)."""
    return physical_ms(stamp) - now_ms


class HybridClock:
    """One clock per process (server) or per device (app); thread-safe."""

    def __init__(self, now_ms: Callable[[], int] = wall_ms, last: int = 0) -> None:
        self._now_ms = now_ms
        self._last = last
        self._lock = threading.Lock()

    @property
    def last(self) -> int:
        return self._last

    def now(self) -> int:
        """A stamp for a local event, greater than every stamp seen so far."""
        with self._lock:
            last_ms, last_counter = unpack(self._last)
            wall = self._now_ms()
            if wall > last_ms:
                self._last = pack(wall, 0)
            else:
                self._last = self._bump(last_ms, last_counter)
            return self._last

    def wall(self) -> int:
        """This clock's physical time now (the device's own wall clock, however wrong)."""
        return self._now_ms()

    def rewind(self, to: int) -> None:
        """Start again from ``to``: after a wall clock that ran ahead was corrected, the
        stamps it left (which the server refused) must not hold every later stamp in
        the future. ``to`` is the highest stamp known to be good."""
        with self._lock:
            self._last = to

    def observe(self, remote: int) -> int:
        """Absorb a stamp received from elsewhere; the next local stamp exceeds it."""
        with self._lock:
            if remote > self._last:
                self._last = remote
            return self._last

    @staticmethod
    def _bump(ms: int, counter: int) -> int:
        if counter < COUNTER_MAX:
            return pack(ms, counter + 1)
        return pack(ms + 1, 0)  # counter exhausted: borrow a millisecond
