"""Run the Alembic migrations shipped inside the package. The only way the schema is made.

Several processes may start at once against one database (two servers, a server and ``modelmate worker``), and each
migrates to head as it starts. They take turns: on PostgreSQL under a session-level advisory lock
(``pg_advisory_lock(MIGRATION_LOCK_KEY)``) held on a dedicated connection around the upgrade; on SQLite inside one
``BEGIN IMMEDIATE`` transaction (the database's write lock; a waiter gives up after the busy timeout). The first
process migrates; the others wait, then find the database at head and do nothing. Neither fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from modelmate.db.engine import Database

log = logging.getLogger("modelmate.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The advisory lock every ModelMate process takes to migrate a PostgreSQL database: a constant bigint, the ASCII of
# "mm-migr8" (advisory locks are per database, so databases on one server do not wait for each other).
MIGRATION_LOCK_KEY = int.from_bytes(b"mm-migr8", "big")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@contextmanager
def migration_lock(db: Database) -> Iterator[None]:
    """Hold the migration lock (PostgreSQL; a no-op elsewhere) on a connection of its own, so the lock outlives
    the migrations' transactions and is released even when they fail."""
    if db.dialect != "postgresql":
        yield
        return
    with db.engine.connect() as conn:
        if not conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}):
            log.info("another process is migrating the database; waiting for it to finish")
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.commit()  # the lock is the session's: no transaction stays open while we migrate
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()
            except Exception:
                conn.invalidate()  # closed, not pooled: a connection that may still hold the lock is never reused
                raise


@contextmanager
def _migration_connection(db: Database) -> Iterator[Connection]:
    with db.engine.connect() as conn:
        if db.is_sqlite:  # the write lock from the first statement: the version read and the DDL are one turn
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def upgrade(db: Database, revision: str = "head") -> None:
    cfg = alembic_config(db.url)
    with migration_lock(db), _migration_connection(db) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(db: Database, revision: str) -> None:
    cfg = alembic_config(db.url)
    with migration_lock(db), _migration_connection(db) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def is_up_to_date(db: Database) -> bool:
    return current_revision(db) == head_revision()
