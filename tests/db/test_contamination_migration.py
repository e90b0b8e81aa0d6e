"""Migration 0013 (benchmark contamination): its tables come and go with the revision, a dataset's rows go with the
dataset, and the status is one of the five. Rows are written with Core statements (no ORM rows at old revisions)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError
from test_migrations import fresh_db  # noqa: F401  (the fixture: an empty SQLite / PostgreSQL database)

from modelmate.db import migrate
from modelmate.db.base import Base, utcnow
from modelmate.db.engine import Database

USERS, DATASETS = Base.metadata.tables["users"], Base.metadata.tables["datasets"]
CHECKS, OVERLAPS = Base.metadata.tables["dataset_contamination"], Base.metadata.tables["contamination_overlaps"]


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_0013_up_and_down(fresh_db: Database):  # noqa: F811
    migrate.upgrade(fresh_db, "0012")
    assert not {"dataset_contamination", "contamination_overlaps"} & _tables(fresh_db)
    with fresh_db.engine.begin() as conn:
        user = conn.execute(insert(USERS).values(username="ada", email="ada@example.com")).inserted_primary_key[0]
        dataset = conn.execute(insert(DATASETS).values(
            owner_id=user, name="d", format="text", content_hash="0" * 64, storage_uri="datasets/x.jsonl",
            visibility="private", created_at=utcnow())).inserted_primary_key[0]
        other = conn.execute(insert(DATASETS).values(
            owner_id=user, name="e", format="text", content_hash="1" * 64, storage_uri="datasets/y.jsonl",
            visibility="private", created_at=utcnow())).inserted_primary_key[0]
    migrate.upgrade(fresh_db, "0013")
    assert {"dataset_contamination", "contamination_overlaps"} <= _tables(fresh_db)
    indexes = {i["name"] for i in inspect(fresh_db.engine).get_indexes("contamination_overlaps")}
    assert "ix_contamination_overlaps_domain" in indexes
    with fresh_db.engine.begin() as conn:
        conn.execute(insert(CHECKS).values(dataset_id=dataset, status="done", report={"tasks": []},
                                           index_version="v1", requested_at=utcnow(), checked_at=utcnow()))
        conn.execute(insert(OVERLAPS).values(dataset_id=dataset, task="gsm8k", suite_task="gsm8k", domain="math",
                                             title="GSM8K", documents=37, rows=40, exact=5))
    with pytest.raises(IntegrityError), fresh_db.engine.begin() as conn:
        conn.execute(insert(CHECKS).values(dataset_id=other, status="maybe", requested_at=utcnow()))
    with fresh_db.engine.begin() as conn:
        assert conn.execute(select(OVERLAPS.c.documents)).scalars().all() == [37]
        conn.execute(DATASETS.delete().where(DATASETS.c.id == dataset))  # the check goes with its dataset
        assert conn.execute(select(CHECKS.c.dataset_id)).all() == []
        assert conn.execute(select(OVERLAPS.c.dataset_id)).all() == []
    migrate.downgrade(fresh_db, "0012")
    assert not {"dataset_contamination", "contamination_overlaps"} & _tables(fresh_db)
    assert {"datasets", "leaderboard_entries"} <= _tables(fresh_db)
