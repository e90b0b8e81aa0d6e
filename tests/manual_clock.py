"""A clock that moves only when a test says so (``modelmate.jobs.clock.Clock``): leases expire, heartbeats fire and
retry back-offs pass when the test calls :meth:`ManualClock.advance`, never because the machine was slow."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from modelmate.db.base import utcnow


class ManualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or utcnow().replace(microsecond=0)
        self._elapsed = 0.0
        self._changed = threading.Condition()
        self._sleepers = 0

    def now(self) -> datetime:
        with self._changed:
            return self._now

    def monotonic(self) -> float:
        with self._changed:
            return self._elapsed

    def advance(self, seconds: float) -> datetime:
        with self._changed:
            self._now += timedelta(seconds=seconds)
            self._elapsed += seconds
            self._changed.notify_all()
            return self._now

    @property
    def sleepers(self) -> int:
        """How many threads are blocked in :meth:`wait` now (a test advances once the heartbeat thread is back)."""
        with self._changed:
            return self._sleepers

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Like ``event.wait(seconds)``, with the seconds counted on this clock. The event is set by other code
        (which cannot notify our condition), so it is looked at every few milliseconds of real time as well."""
        with self._changed:
            deadline = self._elapsed + seconds
            self._sleepers += 1
            try:
                while not event.is_set() and self._elapsed < deadline:
                    self._changed.wait(0.005)
            finally:
                self._sleepers -= 1
            return event.is_set()
