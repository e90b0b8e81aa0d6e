"""Migrations are the only way the schema is made: they must go up, down and up again on both backends,
and produce exactly the schema the ORM describes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

import modelmate.models  # noqa: F401  (registers every table)
from modelmate.db import migrate
from modelmate.db.base import Base
from modelmate.db.engine import Database
from modelmate.models import Model
from pg_fresh import fresh_database

PG_URL = os.environ.get("MODELMATE_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.pg)])
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An EMPTY database (no migrations applied): a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield db
        db.dispose()
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (set MODELMATE_TEST_POSTGRES_URL; make test does)")
    with fresh_database(PG_URL, "mm_migrations") as url:
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


ORM_TABLES = set(Base.metadata.tables)


def test_upgrade_downgrade_upgrade(fresh_db: Database):
    assert migrate.current_revision(fresh_db) is None
    migrate.upgrade(fresh_db)
    assert migrate.is_up_to_date(fresh_db)
    assert _tables(fresh_db) >= ORM_TABLES

    migrate.downgrade(fresh_db, "base")
    assert migrate.current_revision(fresh_db) is None
    leftover = _tables(fresh_db) - {"alembic_version"}
    assert leftover == set(), f"downgrade left tables behind: {sorted(leftover)}"

    migrate.upgrade(fresh_db)
    assert migrate.current_revision(fresh_db) == migrate.head_revision()
    assert _tables(fresh_db) >= ORM_TABLES


def test_upgrade_is_idempotent(fresh_db: Database):
    migrate.upgrade(fresh_db)
    migrate.upgrade(fresh_db)
    assert migrate.is_up_to_date(fresh_db)


def _schema_diffs(db: Database) -> list:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": False, "include_object": _include_object,
            "target_metadata": Base.metadata})
        return compare_metadata(ctx, Base.metadata)


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Skip what the ORM deliberately does not describe: full-text machinery and expression indexes."""
    if type_ == "table" and name and (name.startswith("search_fts") or name == "alembic_version"):
        return False
    if type_ == "column" and name == "tsv":
        return False
    if type_ == "index":
        index = compare_to if reflected else obj
        other = obj if reflected else compare_to
        for candidate in (index, other):
            if candidate is not None and any(not hasattr(e, "name") or getattr(e, "table", None) is None
                                             for e in getattr(candidate, "expressions", [])):
                return False
        if name and (name.endswith("_tsv") or "tsv" in name):
            return False
    return True


def test_migrated_schema_matches_the_orm(fresh_db: Database):
    migrate.upgrade(fresh_db)
    diffs = _schema_diffs(fresh_db)
    assert diffs == [], "migrations and ORM disagree (add a migration):\n" + "\n".join(map(repr, diffs))


def test_schema_comparison_sees_drift(fresh_db: Database):
    """The comparison above is not vacuous: a dropped index and a dropped table are reported."""
    migrate.upgrade(fresh_db)
    with fresh_db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_models_model_type"))
        conn.execute(text("DROP TABLE capability_changes"))
    kinds = {(d[0], getattr(d[1], "name", None)) for d in _schema_diffs(fresh_db) if isinstance(d, tuple)}
    assert ("add_index", "ix_models_model_type") in kinds
    assert ("add_table", "capability_changes") in kinds


@pytest.mark.parametrize("count", [405_000_000_000, 2**62])
def test_parameters_is_a_bigint(database: Database, count: int):
    with database.session() as s:
        model = Model(name=f"Huge {count}", name_key=f"huge {count}", developer_key="", parameters=count)
        s.add(model)
        s.flush()
        model_id = model.id
    with database.session() as s:
        assert s.scalar(select(Model.parameters).where(Model.id == model_id)) == count
    column = next(c for c in inspect(database.engine).get_columns("models") if c["name"] == "parameters")
    assert "BIGINT" in str(column["type"]).upper()
