"""Job handlers by kind. A handler receives a :class:`JobContext` and returns a JSON-able result (or None).

Handlers open their own database sessions (``ctx.db.session()``), report progress with ``ctx.progress()``
(which also renews the lease and raises :class:`LeaseLost` once another worker owns the job, or
:class:`JobCancelled` when the owner cancelled it), and raise :class:`PermanentJobError` for failures that
a retry cannot fix. Any other exception fails the attempt and the job is retried while attempts remain.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.db.engine import Database
from modelmate.jobs import repository as repo
from modelmate.jobs.clock import SYSTEM, Clock

# Modules whose import registers the built-in handlers (imported lazily: they depend on us, not we on them).
BUILTIN_TASK_MODULES = ("modelmate.semantic.tasks", "modelmate.autofill.tasks", "modelmate.finetune.tasks",
                        "modelmate.finetune.import_tasks", "modelmate.benchmarking.tasks", "modelmate.research.tasks",
                        "modelmate.datasets.tasks")

# Events a handler records when it has finished something other domains react to, so that the lower layer never
# imports the higher one (training → benchmarking → research). The handler writes them with its outcome, in the same
# transaction (``modelmate.jobs.outbox.enqueue``), and a worker delivers each to each subscriber once:
#   "model_trained"     (model_id=, run_id=, owner_id=)  a run registered its output model
#   "evaluation_stored" (evaluation_id=)                 a final or partial evaluation was stored
EVENTS = ("model_trained", "evaluation_stored")


class LeaseLost(Exception):
    """Another worker owns this job now (our fencing token is stale): stop without writing anything."""


class JobCancelled(Exception):
    """The job's owner asked to cancel it."""


class JobYielded(Exception):
    """The job paused itself for higher-priority work (its finished work is checkpointed): the worker puts it back in
    the queue, to resume later without redoing what it finished. The message says where it stopped."""


class PermanentJobError(Exception):
    """A failure that retrying cannot fix (bad payload, missing object): the job fails at once."""


@dataclass
class JobContext:
    db: Database
    settings: Settings
    job_id: int
    kind: str
    owner_id: int | None
    payload: dict[str, Any]
    attempt: int
    fencing_token: int
    lease_s: float
    lost: threading.Event = field(default_factory=threading.Event)
    # Set when the worker is shutting down: long handlers (training children) stop and hand the job back.
    shutdown: threading.Event = field(default_factory=threading.Event)
    priority: int = 0
    # The kinds the running worker claims (None: all): a background job yields only to work this worker would run.
    worker_kinds: list[str] | None = None
    clock: Clock = SYSTEM  # the worker's: renewing the lease reads the time from it

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"job {self.job_id}: lease lost")

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0..1) and renew the lease; raises LeaseLost / JobCancelled."""
        self.check()
        with self.db.session() as session:
            ok = repo.heartbeat(session, self.job_id, self.fencing_token, lease_s=self.lease_s,
                                progress=fraction, message=message, now=self.clock.now())
            cancelled = ok and repo.cancel_requested(session, self.job_id)
        if not ok:
            self.lost.set()
            raise LeaseLost(f"job {self.job_id}: lease lost")
        if cancelled:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def higher_priority_waiting(self) -> bool:
        """Work with a higher priority than this job's is queued and runnable (a background job should yield)."""
        with self.db.session() as session:
            return repo.waiting_above(session, self.priority, self.worker_kinds)

    def log(self, line: str) -> None:
        with self.db.session() as session:
            if not repo.append_log(session, self.job_id, self.fencing_token, line):
                self.lost.set()


@dataclass(frozen=True)
class EventDelivery:
    """What a subscriber gets besides the event's details. No job is running for it: it opens its own units of
    work on ``db`` — or, subscribed with ``transactional=True``, writes through ``session``, the delivery's own
    transaction, which also marks the event delivered (both commit, or neither)."""

    db: Database
    settings: Settings
    event_id: int
    job_id: int | None  # the job that recorded the event (None once that job row is gone)
    attempt: int
    session: Session | None = None


@dataclass(frozen=True)
class Subscriber:
    name: str  # "module:function", stored in each of its outbox rows
    fn: Callable[..., None]
    transactional: bool


Handler = Callable[[JobContext], "dict[str, Any] | None"]
_HANDLERS: dict[str, Handler] = {}
# Called with the Database after a worker reclaimed expired leases (domains resynchronise rows that mirror a job).
_RECLAIM_HOOKS: list[Callable[[Database], object]] = []  # what a hook returns (e.g. a count) is not used
_SUBSCRIBERS: dict[str, list[Subscriber]] = {event: [] for event in EVENTS}
_LOADED = False
_LOCK = threading.Lock()


def register(kind: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return deco


def on_reclaim(fn: Callable[[Database], object]) -> Callable[[Database], object]:
    if fn not in _RECLAIM_HOOKS:
        _RECLAIM_HOOKS.append(fn)
    return fn


def subscribe(event: str, *, transactional: bool = False) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(delivery: EventDelivery, **details)`` for ``event`` (see ``EVENTS``).

    ``transactional=True``: ``fn`` writes only through ``delivery.session``, which commits together with the mark
    that the event was delivered — exactly once, even across crashes. Otherwise ``fn`` runs its own units of work
    and must be idempotent: a crash after its work and before the mark delivers the event again."""
    if event not in _SUBSCRIBERS:
        raise ValueError(f"unknown job event {event!r}")

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        name = f"{fn.__module__}:{fn.__qualname__}"
        if all(s.name != name for s in _SUBSCRIBERS[event]):
            _SUBSCRIBERS[event].append(Subscriber(name=name, fn=fn, transactional=transactional))
        return fn

    return deco


def subscribers(event: str) -> list[Subscriber]:
    load_builtin()
    if event not in _SUBSCRIBERS:
        raise ValueError(f"unknown job event {event!r}")
    return list(_SUBSCRIBERS[event])


def subscriber(event: str, name: str) -> Subscriber | None:
    return next((s for s in subscribers(event) if s.name == name), None)


def reclaim_hooks() -> list[Callable[[Database], object]]:
    load_builtin()
    return list(_RECLAIM_HOOKS)


def load_builtin() -> None:
    global _LOADED
    with _LOCK:
        if _LOADED:
            return
        for name in BUILTIN_TASK_MODULES:
            importlib.import_module(name)
        _LOADED = True


def get(kind: str) -> Handler | None:
    load_builtin()
    return _HANDLERS.get(kind)


def kinds() -> list[str]:
    load_builtin()
    return sorted(_HANDLERS)
