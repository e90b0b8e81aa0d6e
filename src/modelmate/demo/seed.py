"""Demo data. Placeholder until the demo catalog lands: seeds nothing."""

from __future__ import annotations

from modelmate.db.engine import Database


def seed_if_empty(db: Database, user_id: int) -> int:
    return 0
