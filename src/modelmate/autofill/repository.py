"""SQL for autofill sweeps."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from modelmate.models import Entry, Model


def entries_with_repositories(session: Session, owner_id: int) -> list[int]:
    return list(session.scalars(
        select(Entry.id).join(Model, Model.id == Entry.model_id)
        .where(Entry.owner_id == owner_id, or_(Model.hf_repo_id.is_not(None), Model.github_repo.is_not(None)))
        .order_by(Entry.id)))


def get_entry(session: Session, owner_id: int, entry_id: int) -> Entry | None:
    return session.scalar(select(Entry).where(Entry.id == entry_id, Entry.owner_id == owner_id))
