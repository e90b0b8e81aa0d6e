"""SQL for datasets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from modelmate.db.like import LIKE_ESCAPE, contains
from modelmate.models import Dataset, Model


def visible_to(viewer_id: int):
    return or_(Dataset.owner_id == viewer_id, Dataset.visibility == "public")


def get_live(session: Session, dataset_id: int) -> Dataset | None:
    """A dataset that has not been deleted."""
    return session.scalars(select(Dataset).where(Dataset.id == dataset_id, Dataset.deleted_at.is_(None))).first()


def get_any(session: Session, dataset_id: int) -> Dataset | None:
    """A dataset, deleted or not (runs keep using their snapshot)."""
    return session.get(Dataset, dataset_id)


def list_visible(session: Session, *, viewer_id: int, mine: bool, q: str | None, limit: int,
                 offset: int) -> tuple[list[Dataset], int]:
    stmt = select(Dataset).where(Dataset.deleted_at.is_(None))
    stmt = stmt.where(Dataset.owner_id == viewer_id) if mine else stmt.where(visible_to(viewer_id))
    if q:
        stmt = stmt.where(func.lower(Dataset.name).like(contains(q.strip().lower()), escape=LIKE_ESCAPE))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = session.scalars(stmt.order_by(Dataset.created_at.desc(), Dataset.id.desc())
                            .limit(limit).offset(offset)).all()
    return list(items), total


def find_owned_by_hash(session: Session, owner_id: int, content_hash: str) -> Dataset | None:
    return session.scalars(select(Dataset).where(
        Dataset.owner_id == owner_id, Dataset.content_hash == content_hash, Dataset.deleted_at.is_(None))
        .order_by(Dataset.id).limit(1)).first()


def add(session: Session, values: dict[str, Any]) -> Dataset:
    dataset = Dataset(**values)
    session.add(dataset)
    session.flush()
    return dataset


def base_models(session: Session) -> list[Model]:
    """Catalog rows of base models (a handful; their spec is in ``hub_info``)."""
    return list(session.scalars(select(Model).where(Model.kind == "base").order_by(Model.id)).all())
