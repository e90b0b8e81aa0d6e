"""Writing a validated import in short transactions (RELIABILITY.md #41).

On SQLite one writer holds the database's write lock at a time; an import written in one transaction kept every
other user's writes (and the job worker) waiting for as long as it ran (43.6 s for 99,001 rows, measured before
this module). Here an import that passed validation is written in three steps, each transaction short:

1. **stage** — a batch row (``import_batches``, state ``staging``) and the validated rows copied into
   ``import_staged_rows``, :data:`STAGE_ROWS` per transaction. Nothing of the import is visible; any failure
   discards the batch, and a batch left by a crash is discarded by :func:`recover`.
2. **decide** — one tiny transaction flips the batch to ``applying``: from here on the import *will* complete.
3. **apply** — the rows are applied in chunks (``apply.apply_chunk``: the same resolution and writes as one big
   transaction), each chunk deleting its staged rows in the same transaction, so a crash resumes exactly after the
   last committed chunk (:func:`recover`, at the next start or the next import). Chunks are sized to take about
   :data:`TARGET_S` each (the size adapts to the machine), so another writer waits at most about one chunk.

All-or-nothing: before the decision nothing is visible and everything is discarded on failure; after it, the
rest of the import is rolled forward. While the chunks run, the importing user (only they: entries and the
catalog rows an import creates are private) can see the import partly applied for a few seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelmate.db.base import utcnow
from modelmate.db.engine import Database, immediate_transaction
from modelmate.models import User
from modelmate.tracker import embedding
from modelmate.transfer import apply
from modelmate.transfer import repository as repo
from modelmate.transfer.apply import Outcome, ValidRow
from modelmate.transfer.schemas import TransferRow

log = logging.getLogger("modelmate.transfer")

STAGE_ROWS = 2000  # staged rows per transaction (plain JSON rows with one index: a few ms per thousand)
TARGET_S = 0.1  # aim of one apply transaction; other writers wait about this long at most
MIN_CHUNK, FIRST_CHUNK, MAX_CHUNK = 10, 100, 2000
STALE_S = 60.0  # a batch untouched this long belongs to a process that died: recover() takes it over
RETRIES = 3

Progress = Callable[[int, int], None]


@contextmanager
def _write(db: Database) -> Iterator[Session]:
    """One short write transaction (SQLite: ``BEGIN IMMEDIATE``), committed on success."""
    with db.session() as session:
        immediate_transaction(session)
        yield session


def _staged(seq: int, row_no: int, row: TransferRow, fields: frozenset[str], batch_id: int) -> dict:
    return {"batch_id": batch_id, "seq": seq, "row_no": row_no,
            "data": row.model_dump(mode="json", exclude_unset=True), "fields": sorted(fields)}


def write(db: Database, user_id: int, rows: list[ValidRow], progress: Progress | None = None) -> Outcome:
    """Stage, decide and apply validated rows for ``user_id`` (see the module docs). Returns what was done."""
    with _write(db) as session:
        batch_id = repo.new_batch(session, user_id, len(rows))
    try:
        for start in range(0, len(rows), STAGE_ROWS):
            with _write(db) as session:
                repo.stage_rows(session, [_staged(start + i, n, r, f, batch_id)
                                          for i, (n, r, f) in enumerate(rows[start:start + STAGE_ROWS])])
                repo.set_batch_state(session, batch_id, "staging")  # also a heartbeat for recover()
        with _write(db) as session:
            repo.set_batch_state(session, batch_id, "applying")  # the decision: from here on it completes
    except BaseException:
        discard(db, batch_id)
        raise
    return _apply(db, batch_id, user_id, list(enumerate(rows)), progress)


def _apply(db: Database, batch_id: int, user_id: int, rows: list[tuple[int, ValidRow]],
           progress: Progress | None) -> Outcome:
    out = Outcome()
    now = utcnow()
    with db.session() as session:
        by_model = repo.entry_ids_by_model(session, user_id)
    used: dict[int, int] = {}
    size, i = FIRST_CHUNK, 0
    while i < len(rows):
        chunk = rows[i:i + size]
        t0 = time.perf_counter()
        for attempt in range(RETRIES):
            saved = dict(used), replace(out, errors=list(out.errors))
            try:
                with _write(db) as session:
                    user = session.get(User, user_id)
                    if user is None:  # the account was deleted: its batch went with it
                        return out
                    apply.apply_chunk(session, user, [r for _, r in chunk], by_model, used, now, out)
                    repo.delete_staged(session, batch_id, upto=chunk[-1][0])
                    repo.set_batch_state(session, batch_id, "applying")  # heartbeat
                break
            except IntegrityError:  # the catalog or the log changed under us: resolve this chunk again
                by_model.clear()
                with db.session() as session:  # committed chunks and the user's own new entries included
                    by_model.update(repo.entry_ids_by_model(session, user_id))
                used.clear()
                used.update(saved[0])
                out = saved[1]
                if attempt == RETRIES - 1:
                    raise
        elapsed = time.perf_counter() - t0
        i += len(chunk)
        size = _next_size(size, elapsed)
        if progress is not None:
            progress(i, len(rows))
    with _write(db) as session:
        repo.delete_batch(session, batch_id)
        if out.created:
            # Bulk-inserted entries bypass tracker.refresh_search: one sweep embeds the user's missing entries.
            embedding.entries_bulk_added(session, user_id)
    return out


def _next_size(size: int, elapsed: float) -> int:
    """Chunk size for about :data:`TARGET_S` per transaction, from how long the last one took."""
    if elapsed <= 0:
        return min(size * 2, MAX_CHUNK)
    wanted = int(size * TARGET_S / elapsed)
    return max(MIN_CHUNK, min(MAX_CHUNK, wanted, size * 2))


def discard(db: Database, batch_id: int) -> None:
    """Delete a batch that was never decided, in short transactions (its staged rows are invisible anyway)."""
    while True:
        with _write(db) as session:
            if repo.delete_staged(session, batch_id, limit=STAGE_ROWS * 2) == 0:
                repo.delete_batch(session, batch_id)
                return


def recover(db: Database, *, stale_s: float = STALE_S) -> int:
    """Finish what crashed imports left: a ``staging`` batch is discarded, an ``applying`` one is applied to the
    end. Only batches untouched for ``stale_s`` (their process is gone; a live import touches its batch every
    transaction). Run at start and before each import. Returns how many batches were handled."""
    cutoff = utcnow() - timedelta(seconds=stale_s)
    with db.session() as session:
        stale = [(b.id, b.owner_id, b.state) for b in repo.batches(session) if b.updated_at <= cutoff]
    done = 0
    for batch_id, owner_id, state in stale:
        with _write(db) as session:  # take it over (a second recoverer sees it fresh and leaves it)
            batch = repo.get_batch(session, batch_id)
            if batch is None or batch.updated_at > cutoff:
                continue
            repo.set_batch_state(session, batch_id, state)
        if state == "staging":
            log.warning("discarding import batch %d of user %d: it was never completed", batch_id, owner_id)
            discard(db, batch_id)
        else:
            log.warning("finishing import batch %d of user %d after a crash", batch_id, owner_id)
            _apply(db, batch_id, owner_id, _load(db, batch_id), None)
        done += 1
    return done


def _load(db: Database, batch_id: int) -> list[tuple[int, ValidRow]]:
    rows: list[tuple[int, ValidRow]] = []
    after = -1
    with db.session() as session:
        while page := repo.staged_rows(session, batch_id, after=after, limit=STAGE_ROWS):
            rows += [(s.seq, (s.row_no, TransferRow.model_validate(s.data), frozenset(s.fields))) for s in page]
            after = page[-1].seq
    return rows
