"""Start-up migrations under concurrency: two processes migrating one fresh database at the same moment (two servers
starting together) both succeed — one migrates, the other waits and then finds the database at head."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from modelmate.db import migrate
from modelmate.db.engine import Database
from pg_fresh import fresh_database

PG_URL = os.environ.get("MODELMATE_TEST_POSTGRES_URL")

MIGRATOR = textwrap.dedent("""
    import logging, sys
    from modelmate.db import migrate
    from modelmate.db.engine import Database

    db = Database(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()  # go
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
    migrate.upgrade(db)
    print("at", migrate.current_revision(db), flush=True)
""")


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (set MODELMATE_TEST_POSTGRES_URL; make test does)")
    with fresh_database(PG_URL, "mm_migrate") as url:
        yield url


def _start_migrators(url: str, n: int = 2) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATOR, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(n)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return procs


def _go(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def _finish(procs: list[subprocess.Popen]) -> list[str]:
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        outputs.append(out)
    return outputs


def _one_version_row(db: Database) -> None:
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            migrate.head_revision()]


@pytest.mark.process
@pytest.mark.pg
def test_two_processes_migrating_a_fresh_postgres_database_take_turns(fresh_pg_url: str):
    db = Database(fresh_pg_url)
    try:
        with db.engine.connect() as holder:  # a third process is migrating: both new ones must wait for it
            holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": migrate.MIGRATION_LOCK_KEY})
            holder.commit()
            procs = _start_migrators(fresh_pg_url)
            _go(procs)
            deadline = time.monotonic() + 120
            waiting = 0
            while waiting < 2 and time.monotonic() < deadline:  # until both block on the lock (not a timing test)
                time.sleep(0.05)
                waiting = holder.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"))
            assert waiting == 2, "the migrators never waited for the migration lock"
            assert migrate.current_revision(db) is None  # nothing migrated while the lock is held
            holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": migrate.MIGRATION_LOCK_KEY})
            holder.commit()
        outputs = _finish(procs)
        assert all(f"at {migrate.head_revision()}" in out for out in outputs), outputs
        assert all("waiting for it to finish" in out for out in outputs), outputs
        _one_version_row(db)
        with db.engine.connect() as conn:  # the lock is released: nobody holds it any more
            assert conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": migrate.MIGRATION_LOCK_KEY})
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": migrate.MIGRATION_LOCK_KEY})
    finally:
        db.dispose()


@pytest.mark.process
@pytest.mark.pg
def test_a_failed_postgres_migration_releases_the_lock(fresh_pg_url: str):
    db = Database(fresh_pg_url)
    try:
        with pytest.raises(Exception, match="no_such_revision|Can't locate revision"):
            migrate.upgrade(db, "no_such_revision")
        migrate.upgrade(db)  # would wait forever if the failed attempt had kept the lock
        assert migrate.is_up_to_date(db)
    finally:
        db.dispose()


@pytest.mark.process
def test_two_processes_migrating_a_fresh_sqlite_database_take_turns(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    procs = _start_migrators(url)
    _go(procs)
    outputs = _finish(procs)
    assert all(f"at {migrate.head_revision()}" in out for out in outputs), outputs
    db = Database(url)
    try:
        _one_version_row(db)
    finally:
        db.dispose()
