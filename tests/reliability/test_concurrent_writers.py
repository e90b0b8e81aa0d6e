"""Scenario 36: many concurrent writers → no "database is locked", no lost writes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from harness import ServerProcess, run_writers, scratch_pg_database, verify_ledgers

from modelmate.accounts.service import ensure_local_user
from modelmate.db.engine import Database, immediate_transaction
from modelmate.models import JournalNote, User
from modelmate.tracker import service
from modelmate.tracker.schemas import EntryCreate, EntryFilter, EntryUpdate, SortField, SortOrder

PG_URL = os.environ.get("MODELMATE_TEST_POSTGRES_URL")
CLIENTS = 50
SECONDS = 8.0


def _hammer_and_verify(server: ServerProcess, database_url: str) -> None:
    ledgers = run_writers(server.base_url, clients=CLIENTS, duration=SECONDS)
    errors = [e for led in ledgers for e in led.errors + led.transport_errors]
    assert not errors, f"{len(errors)} failed writes, e.g. {errors[:5]}"
    assert "database is locked" not in server.log_text()
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]
    ops = sum(led.ops for led in ledgers)
    kinds = {k for led in ledgers for k in led.latencies}
    assert ops >= CLIENTS and kinds == {"create", "patch", "journal", "bulk_tag"}, (ops, kinds)
    problems = verify_ledgers(database_url, ledgers)
    assert not problems, problems[:20]


@pytest.mark.process
def test_50_concurrent_api_writers_sqlite(tmp_path: Path):
    data = tmp_path / "data"
    with ServerProcess(data) as server:
        _hammer_and_verify(server, f"sqlite:///{data / 'modelmate.db'}")


@pytest.mark.process
@pytest.mark.pg
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL not configured (set MODELMATE_TEST_POSTGRES_URL)")
def test_50_concurrent_api_writers_postgres(tmp_path: Path):
    assert PG_URL
    with scratch_pg_database(PG_URL) as url, ServerProcess(tmp_path / "data", database_url=url) as server:
        _hammer_and_verify(server, url)


THREADS = 50
UNITS = 6


def _run_threads(target, n: int) -> list[BaseException]:
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def wrapped(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - every failure is collected and reported
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return errors


def test_read_then_write_units_under_begin_immediate(database: Database):
    """50 threads, each its own session, read-modify-write of ONE shared entry through the services.

    Every unit reads the entry's notes and writes them back with one more line. With ``BEGIN IMMEDIATE``
    the units serialise: no "database is locked", and no line is lost (a lost update would drop one).
    """
    if database.dialect != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's; on PostgreSQL immediate_transaction is a no-op by design")
    with database.session() as s:
        user = ensure_local_user(s)
        uid = user.id
        eid = service.create_entry(s, user, EntryCreate(name="shared counter")).id

    def unit(t: int) -> None:
        for k in range(UNITS):
            with database.session() as s:
                immediate_transaction(s)
                user = s.get(User, uid)
                entry = service.get_entry(s, user, eid)  # read ...
                lines = entry.notes + f"t{t}-u{k}\n"
                service.update_entry(s, user, eid, EntryUpdate(notes=lines))  # ... then write
                service.add_journal(s, user, eid, f"t{t}-u{k}")

    errors = _run_threads(unit, THREADS)
    assert not errors, [repr(e) for e in errors[:5]]
    with database.session() as s:
        entry = service.get_entry(s, s.get(User, uid), eid)
        got = entry.notes.splitlines()
        journal = s.query(JournalNote).filter_by(entry_id=eid).count()
    expected = {f"t{t}-u{k}" for t in range(THREADS) for k in range(UNITS)}
    assert len(got) == len(expected) and set(got) == expected, f"lost {len(expected - set(got))} updates"
    assert journal == THREADS * UNITS


def test_concurrent_service_writers_on_own_entries(database: Database):
    """50 threads writing their own entries + journal notes through the services; every commit is kept."""
    with database.session() as s:
        uid = ensure_local_user(s).id

    def unit(t: int) -> None:
        with database.session() as s:
            immediate_transaction(s)
            eid = service.create_entry(s, s.get(User, uid), EntryCreate(name=f"own {t}", tags=[f"t{t}"])).id
        for k in range(UNITS):
            with database.session() as s:
                immediate_transaction(s)
                user = s.get(User, uid)
                n = len(service.list_journal(s, user, eid))
                service.add_journal(s, user, eid, f"note {n}")
                service.update_entry(s, user, eid, EntryUpdate(rating=1 + k % 5))

    errors = _run_threads(unit, THREADS)
    assert not errors, [repr(e) for e in errors[:5]]
    with database.session() as s:
        user = s.get(User, uid)
        page = service.list_entries(s, user, EntryFilter(), sort=SortField.NAME,
                                    order=SortOrder.ASC, limit=200, offset=0, facets=False)
        assert page.total == THREADS
        for item in page.items:
            bodies = sorted(n.body for n in service.list_journal(s, user, item.id))
            assert bodies == sorted(f"note {n}" for n in range(UNITS)), (item.name, bodies)
            assert item.rating == 1 + (UNITS - 1) % 5
