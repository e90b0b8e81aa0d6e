"""SQL for the demo seeders: lock the user, check whether their log (or the hub) was ever used, wipe the log for a
reset, find the hub demo's runs."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from modelmate.catalog.repository import visible_to
from modelmate.models import Dataset, Entry, EntryEvent, Model, SearchDocument, Tag, TrainingRun, User


def lock_user(session: Session, user_id: int) -> User | None:
    """The user row, locked until the transaction ends (PostgreSQL: serialises concurrent seeders).

    On SQLite the caller takes the database write lock with ``immediate_transaction`` instead.
    """
    return session.scalars(select(User).where(User.id == user_id).with_for_update()).first()


def models_matching(session: Session, *, hf_repo_ids: Collection[str], github_repos: Collection[str],
                    name_keys: Collection[str], viewer_id: int) -> list[Model]:
    """Catalog models ``viewer_id`` can see (public or their own) whose identity (lower-cased repo ids, normalised
    name) is one of these, in one query. Other users' private rows are never reused (nor revealed)."""
    return list(session.scalars(select(Model).where(visible_to(viewer_id), or_(
        func.lower(Model.hf_repo_id).in_([r.lower() for r in hf_repo_ids]),
        func.lower(Model.github_repo).in_([r.lower() for r in github_repos]),
        Model.name_key.in_(list(name_keys))))))


def insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append history rows in one executemany (backdated events of the demo)."""
    if rows:
        session.execute(insert(EntryEvent), rows)


def count_entries(session: Session, owner_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Entry).where(Entry.owner_id == owner_id)) or 0


def has_history(session: Session, owner_id: int) -> bool:
    """True once the user has logged anything, even if every entry was deleted since."""
    if count_entries(session, owner_id):
        return True
    return session.scalar(select(EntryEvent.id).where(EntryEvent.owner_id == owner_id).limit(1)) is not None


def delete_log(session: Session, owner_id: int) -> int:
    """Delete the user's entries with their history and tags (catalog models stay). Returns entries deleted."""
    n = count_entries(session, owner_id)
    session.execute(delete(SearchDocument).where(SearchDocument.owner_id == owner_id))
    session.execute(delete(EntryEvent).where(EntryEvent.owner_id == owner_id))
    session.execute(delete(Entry).where(Entry.owner_id == owner_id))  # cascades: tags links, journal, embeddings
    session.execute(delete(Tag).where(Tag.owner_id == owner_id))
    session.expire_all()
    return n


# --- the hub demo ---------------------------------------------------------------------------------------------------

def hub_used(session: Session, owner_id: int) -> bool:
    """True once the user has uploaded a dataset (even a deleted one) or launched a run."""
    if session.scalar(select(Dataset.id).where(Dataset.owner_id == owner_id).limit(1)) is not None:
        return True
    return session.scalar(select(TrainingRun.id).where(TrainingRun.owner_id == owner_id).limit(1)) is not None


def run_named(session: Session, owner_id: int, name: str) -> TrainingRun | None:
    """The user's first run with this exact name."""
    return session.scalars(select(TrainingRun).where(TrainingRun.owner_id == owner_id, TrainingRun.name == name)
                           .order_by(TrainingRun.id).limit(1)).first()


def has_fork_of(session: Session, owner_id: int, parent_model_id: int) -> bool:
    return session.scalar(select(TrainingRun.id).where(TrainingRun.owner_id == owner_id,
                                                       TrainingRun.parent_model_id == parent_model_id)
                          .limit(1)) is not None


def live_dataset_named(session: Session, owner_id: int, name: str) -> Dataset | None:
    """The user's first dataset with this exact name that has not been deleted."""
    return session.scalars(select(Dataset).where(Dataset.owner_id == owner_id, Dataset.name == name,
                                                 Dataset.deleted_at.is_(None)).order_by(Dataset.id).limit(1)).first()
