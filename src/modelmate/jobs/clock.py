"""The time the job queue reads: lease deadlines, heartbeats, retry back-off and the worker's idle polling.

Production uses :data:`SYSTEM` (wall-clock UTC, ``time.monotonic`` and ``Event.wait``). A :class:`Worker` and the
:class:`JobContext` it hands to a handler take a ``clock``, so tests can drive leases by advancing time instead of
sleeping through them (``tests/manual_clock.py``).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Protocol

from modelmate.db.base import utcnow


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time in UTC (what lease deadlines, heartbeats and ``run_after`` are compared with)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, for measuring how long something waited."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Block until ``event`` is set or ``seconds`` have passed on this clock; True when the event is set."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


SYSTEM = SystemClock()
