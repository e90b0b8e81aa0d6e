"""SQLite settings that keep concurrent writers safe: WAL, foreign keys, busy timeout and BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text

from modelmate.db import migrate
from modelmate.db.engine import Database, immediate_transaction


@pytest.fixture
def sqlite_db(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'engine.db'}", busy_timeout_ms=5000)
    migrate.upgrade(db)
    yield db
    db.dispose()


def test_pragmas(sqlite_db: Database):
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_default_busy_timeout_is_generous(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'default.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    db.dispose()


def test_foreign_keys_are_enforced(sqlite_db: Database):
    with pytest.raises(Exception, match="FOREIGN KEY"), sqlite_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO entries (owner_id, model_id, status, notes, visibility, created_at, updated_at) "
                          "VALUES (999999, 999999, 'tried', '', 'private', '2026-01-01', '2026-01-01')"))


def test_immediate_transaction_emits_begin_immediate_and_holds_the_write_lock(sqlite_db: Database, tmp_path: Path):
    statements: list[str] = []

    @event.listens_for(sqlite_db.engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args):
        statements.append(statement)

    other = sqlite3.connect(tmp_path / "engine.db", timeout=0, isolation_level=None)
    try:
        session = sqlite_db.session_factory()
        try:
            immediate_transaction(session)
            session.execute(text("SELECT count(*) FROM models")).scalar()
            assert "BEGIN IMMEDIATE" in statements
            # Another connection can still read (WAL) but cannot write while the transaction is open.
            assert other.execute("SELECT count(*) FROM models").fetchone() == (0,)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO tags (owner_id, name, name_key, created_at) VALUES (1, 'x', 'x', '')")
        finally:
            session.rollback()
            session.close()
        # Released: the other connection can write now.
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_plain_session_begins_deferred(sqlite_db: Database, tmp_path: Path):
    """Without immediate_transaction a read does not block writers (so the helper is what makes the difference)."""
    other = sqlite3.connect(tmp_path / "engine.db", timeout=0, isolation_level=None)
    try:
        with sqlite_db.session() as session:
            session.execute(text("SELECT count(*) FROM models")).scalar()
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_immediate_transaction_is_a_no_op_on_postgres(database: Database):
    with database.session() as session:
        immediate_transaction(session)
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_analyze_gathers_planner_statistics(sqlite_db: Database):
    def has_stats() -> bool:
        with sqlite_db.engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar() == 1

    assert not has_stats()
    sqlite_db.analyze()
    assert has_stats()


def test_a_fresh_database_enters_wal_while_another_connection_holds_its_write_lock(tmp_path: Path):
    """SQLite refuses to switch journal modes at once ("database is locked", no busy handler) while another
    connection writes; a second process opening a fresh database during the first one's migration saw that."""
    path = tmp_path / "fresh.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (a)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # what a bare connection gets, busy timeout or not
        bare = sqlite3.connect(path, isolation_level=None)
        try:
            bare.execute("PRAGMA busy_timeout = 30000")
            bare.execute("PRAGMA journal_mode = WAL")
        finally:
            bare.close()
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    finally:
        release.join()
        other.close()
        db.dispose()
