"""Engine and session factory.

SQLite runs in WAL mode with a busy timeout and foreign keys on. Read-then-write
transactions use ``BEGIN IMMEDIATE`` (see :func:`immediate_transaction`), because in WAL
mode a deferred transaction that tries to upgrade to a write lock after another
connection committed fails at once with "database is locked", busy timeout or not.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from modelmate.config import Settings
from modelmate.storage.private import secure_data_dir, secure_sqlite_files

_WRITE_LOCK_HELD = "modelmate_write_lock_held"


def _enter_wal(cur: sqlite3.Cursor, wait_s: float) -> None:
    """``PRAGMA journal_mode = WAL``, waiting out another connection's write lock.

    Switching a database that is not in WAL mode yet (a fresh file) needs an exclusive lock, and SQLite answers
    "database is locked" at once, without calling the busy handler, while another connection holds a write lock:
    two processes opening one fresh database together (two servers migrating it at start-up) hit that. So retry
    with growing sleeps for up to the busy timeout, as the busy handler would."""
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        # Take transaction control away from the sqlite3 module so BEGIN is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _enter_wal(cur, busy_timeout_ms / 1000)
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA cache_size = -65536")
        cur.execute("PRAGMA temp_store = MEMORY")
        cur.close()

    # SQLite's busy handler polls with growing sleeps and is not fair: with dozens of concurrent writers
    # one of them can lose every race until busy_timeout expires ("database is locked" after 30 s,
    # measured by tests/reliability). So this process's writers first queue on a lock (woken in turn by
    # the OS, no polling); the busy handler then only arbitrates against other processes (CLI, workers).
    write_lock = threading.Lock()
    wait_s = busy_timeout_ms / 1000

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised by every test
        mode = conn.info.pop("sqlite_begin", None) or conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode.upper() not in ("IMMEDIATE", "EXCLUSIVE"):
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        if not write_lock.acquire(timeout=wait_s):
            raise sqlite3.OperationalError(f"database is locked (waited {wait_s:g}s for this process's writers)")
        conn.info[_WRITE_LOCK_HELD] = True
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            _release(conn.info)
            raise

    def _release(info: dict) -> None:
        if info.pop(_WRITE_LOCK_HELD, False):
            write_lock.release()

    # Released as the transaction ends (any thread may release: FastAPI can finish a request elsewhere).
    event.listen(engine, "commit", lambda conn: _release(conn.info))
    event.listen(engine, "rollback", lambda conn: _release(conn.info))
    # Safety net: a connection returned to the pool never keeps the lock.
    @event.listens_for(engine, "reset")
    def _on_reset(_dbapi_connection, connection_record, _reset_state):  # pragma: no cover - safety net
        _release(connection_record.info)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory and ``file:`` URI databases)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class Database:
    """Owns the engine and the session factory for one database URL."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"echo": echo, "future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        if self.is_sqlite and (path := sqlite_file(url)) is not None:
            secure_sqlite_files(path)  # 0600 before SQLite creates it: its -wal/-shm files copy that mode
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        if settings.is_sqlite:
            settings.ensure_dirs()
        secure_data_dir(settings.data_dir)  # an older install's 0755/0644 files become private (RELIABILITY #39)
        return cls(settings.resolved_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def analyze(self) -> None:
        """Refresh SQLite's planner statistics (``sqlite_stat1``); without them SQLite guesses index selectivity.
        ``analysis_limit`` samples at most 1000 rows per index, so this stays a few milliseconds even at 100k
        entries. A no-op on PostgreSQL, whose autovacuum keeps its statistics."""
        if not self.is_sqlite:
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
            conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()


def immediate_transaction(session: Session) -> None:
    """Make the session's next transaction take the write lock up front (SQLite ``BEGIN IMMEDIATE``).

    Call before the first statement of a read-then-write unit of work. A no-op on PostgreSQL,
    whose row locks / MVCC handle this, and when a transaction is already open.
    """
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or session.in_transaction():
        return
    conn = session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    del conn
