"""The in-process worker: a thread that reclaims expired leases, claims jobs and runs their handlers.

Several workers (threads, server processes, CLI) may run against one database: claims are exclusive and
every write a worker makes about its job is fenced by the job's fencing token. While a handler runs, a
heartbeat thread renews the lease every ``lease_s / 3`` seconds; when a heartbeat is rejected the handler's
context is flagged and its next ``progress()`` raises :class:`~modelmate.jobs.registry.LeaseLost`.
Each turn of the loop also delivers pending outbox events (``modelmate.jobs.outbox``): follow-up work recorded with
a job's outcome that its own process did not deliver (it crashed right after the commit).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from typing import Any

from modelmate.config import Settings
from modelmate.db.engine import Database
from modelmate.jobs import outbox, registry
from modelmate.jobs import repository as repo
from modelmate.jobs.clock import SYSTEM, Clock
from modelmate.jobs.registry import JobCancelled, JobContext, JobYielded, LeaseLost, PermanentJobError

log = logging.getLogger("modelmate.jobs")

RETRY_BASE_S = 5.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, db: Database, settings: Settings, *, worker_id: str | None = None, lease_s: float = 60.0,
                 poll_s: float = 1.0, kinds: list[str] | None = None, job_ids: list[int] | None = None,
                 clock: Clock = SYSTEM) -> None:
        self.db = db
        self.settings = settings
        self.worker_id = worker_id or new_worker_id()
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.kinds = kinds
        self.job_ids = job_ids  # only these jobs (a CLI command running its own job in-process)
        self.clock = clock  # lease deadlines, heartbeats, retry back-off and idle polling read the time from it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one step ---------------------------------------------------------------------------------------------

    def reclaim(self) -> int:
        with self.db.session() as session:
            if not repo.has_expired_leases(session, now=self.clock.now()):
                return 0
        with self.db.session() as session:
            n = repo.reclaim_expired(session, now=self.clock.now())
        if n:
            log.warning("reclaimed %d job(s) with expired leases", n)
            for hook in registry.reclaim_hooks():
                try:
                    hook(self.db)
                except Exception:  # noqa: BLE001 - a hook failure must not stop the worker
                    log.exception("reclaim hook %r failed", hook)
        return n

    def dispatch_events(self) -> int:
        """Deliver pending outbox events (follow-up work a crash left behind, retries). A worker that only runs
        given jobs (a CLI command's own) leaves them to the general workers. Never raises."""
        if self.job_ids is not None:
            return 0
        try:
            return outbox.dispatch_pending(self.db, self.settings, worker_id=self.worker_id)
        except Exception:  # noqa: BLE001 - follow-up work must not stop the queue; retried on the next turn
            log.exception("delivering outbox events failed")
            return 0

    def run_once(self) -> bool:
        """Reclaim expired leases, deliver pending events, then claim and run at most one job. True when a job
        was run."""
        self.reclaim()
        self.dispatch_events()
        kinds = self._kinds()
        with self.db.session() as session:
            if not repo.has_runnable(session, kinds, self.job_ids, now=self.clock.now()):
                return False
        with self.db.session() as session:
            claim = repo.claim(session, self.worker_id, kinds=kinds, lease_s=self.lease_s, job_ids=self.job_ids,
                               now=self.clock.now())
        if claim is None:
            return False
        self._execute(claim)
        return True

    def run_until_idle(self, max_jobs: int = 1000) -> int:
        """Run jobs until none is runnable (tests, CLI). Returns how many ran."""
        ran = 0
        while ran < max_jobs and self.run_once():
            ran += 1
        return ran

    def _kinds(self) -> list[str]:
        return self.kinds if self.kinds is not None else registry.kinds()

    def _execute(self, claim: repo.Claim) -> None:
        ctx = JobContext(db=self.db, settings=self.settings, job_id=claim.id, kind=claim.kind,
                         owner_id=claim.owner_id, payload=claim.payload, attempt=claim.attempt,
                         fencing_token=claim.fencing_token, lease_s=self.lease_s, shutdown=self._stop,
                         priority=claim.priority, worker_kinds=self.kinds, clock=self.clock)
        beat_stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(ctx, beat_stop), daemon=True,
                                name=f"job-{claim.id}-heartbeat")
        beat.start()
        try:
            handler = registry.get(claim.kind)
            if handler is None:
                raise PermanentJobError(f"no handler for job kind {claim.kind!r}")
            result = handler(ctx)
        except LeaseLost:
            log.warning("job %d: lease lost; another worker owns it now", claim.id)
            return
        except JobCancelled:
            with self.db.session() as session:
                repo.cancel_finished_run(session, claim.id, claim.fencing_token)
            return
        except JobYielded as exc:
            log.info("job %d (%s) yielded to higher-priority work: %s", claim.id, claim.kind, exc)
            with self.db.session() as session:
                repo.requeue_yielded(session, claim.id, claim.fencing_token, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a handler failure is data about the job
            self._record_failure(claim, exc)
            return
        finally:
            beat_stop.set()
            beat.join(timeout=5)
        with self.db.session() as session:
            if not repo.complete(session, claim.id, claim.fencing_token, _jsonable(result)):
                log.warning("job %d finished after its lease was lost; result discarded", claim.id)

    def _record_failure(self, claim: repo.Claim, exc: Exception) -> None:
        permanent = isinstance(exc, PermanentJobError)
        error = {"type": type(exc).__name__, "message": str(exc)[:2000],
                 "traceback": "".join(traceback.format_exception(exc))[-8000:], "attempt": claim.attempt}
        retry_in = None if permanent else RETRY_BASE_S * (2 ** (claim.attempt - 1))
        log.warning("job %d (%s) attempt %d failed: %s", claim.id, claim.kind, claim.attempt, exc)
        with self.db.session() as session:
            repo.fail(session, claim.id, claim.fencing_token, error, retry_in_s=retry_in, now=self.clock.now())

    def _heartbeat(self, ctx: JobContext, stop: threading.Event) -> None:
        while not self.clock.wait(stop, self.lease_s / 3):
            try:
                with self.db.session() as session:
                    ok = repo.heartbeat(session, ctx.job_id, ctx.fencing_token, lease_s=self.lease_s,
                                        now=self.clock.now())
            except Exception:  # noqa: BLE001 - a failed heartbeat is retried on the next beat
                log.exception("job %d: heartbeat failed", ctx.job_id)
                continue
            if not ok:
                ctx.lost.set()
                return

    # --- thread -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="modelmate-worker")
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def run_forever(self) -> None:
        """Run the loop in the calling thread (``modelmate worker``) until :meth:`request_stop`."""
        self._stop.clear()
        self._loop()

    def request_stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler); a running training job hands its job back."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        log.info("job worker %s started", self.worker_id)
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # noqa: BLE001 - keep the worker alive (database briefly unavailable, ...)
                log.exception("job worker loop error")
                ran = False
            if not ran:
                self.clock.wait(self._stop, self.poll_s)
        log.info("job worker %s stopped", self.worker_id)


def _jsonable(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    return result if isinstance(result, dict) else {"value": result}


class LocalFallback:
    """A CLI command following its own job (``--wait``) runs it in this process when no worker (``modelmate serve``,
    ``modelmate worker``) claimed it within ``wait_s``, so one command is enough."""

    def __init__(self, db: Database, settings: Settings, *, kind: str, job_id: int | None,
                 wait_s: float = 3.0, clock: Clock = SYSTEM) -> None:
        self.db, self.settings, self.kind, self.job_id, self.wait_s = db, settings, kind, job_id, wait_s
        self.clock = clock
        self.worker: Worker | None = None
        self._thread: threading.Thread | None = None
        self._started = clock.monotonic()

    def poll(self, still_queued: bool) -> bool:
        """Start the local worker once the job has waited too long; True when it was started now."""
        if (self.worker is not None or not still_queued or self.job_id is None
                or self.clock.monotonic() - self._started <= self.wait_s):
            return False
        self.worker = Worker(self.db, self.settings, lease_s=self.settings.job_lease_s, poll_s=0.2,
                             kinds=[self.kind], job_ids=[self.job_id], clock=self.clock)
        self._thread = threading.Thread(target=self.worker.run_until_idle, name=f"local-{self.kind}", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the local worker (a running job goes back to the queue)."""
        if self.worker is not None:
            self.worker.request_stop()
            if self._thread is not None:
                self._thread.join(timeout=timeout)
