"""SQL for catalog models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.orm import Session

from modelmate.db.like import LIKE_ESCAPE, contains
from modelmate.models import Entry, Model, TrainingRun


def normalise_key(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def visible_to(owner_id: int):
    """Rows a user may see: public ones and their own private ones. Every listing, search and lookup by id of
    catalog rows applies it (a user's private rows are theirs alone; 404 for anyone else)."""
    return or_(Model.visibility == "public", Model.owner_id == owner_id)


def identity_scope(viewer_id: int | None):
    """Where an identity (name + developer, HF id, GitHub repo) must be unique for ``viewer_id``: among public
    rows and the viewer's own private rows (None: among public rows only). Matches the partial unique indexes."""
    if viewer_id is None:
        return Model.visibility == "public"
    return visible_to(viewer_id)


def get(session: Session, model_id: int) -> Model | None:
    return session.get(Model, model_id)


def find_duplicate(session: Session, *, name: str | None, developer: str | None, hf_repo_id: str | None,
                   github_repo: str | None, exclude_id: int | None = None,
                   viewer_id: int | None = None) -> tuple[Model, str] | None:
    """The existing model that clashes with these identity fields, and which field clashed — among public rows
    and ``viewer_id``'s own (another user's private rows never clash, so they are never revealed)."""
    checks: list[tuple[str, ColumnElement[bool]]] = []
    if hf_repo_id:
        checks.append(("hf_repo_id", func.lower(Model.hf_repo_id) == hf_repo_id.lower()))
    if github_repo:
        checks.append(("github_repo", func.lower(Model.github_repo) == github_repo.lower()))
    if name:
        checks.append(("name+developer", (Model.name_key == normalise_key(name))
                       & (Model.developer_key == normalise_key(developer))))
    for field, cond in checks:
        stmt = select(Model).where(cond, identity_scope(viewer_id))
        if exclude_id is not None:
            stmt = stmt.where(Model.id != exclude_id)
        found = session.scalars(stmt.limit(1)).first()
        if found is not None:
            return found, field
    return None


def list_models(session: Session, *, viewer_id: int, q: str | None, model_type: list[str], kind: list[str],
                developer: str | None, sort: str, order: str, limit: int, offset: int) -> tuple[list[Model], int]:
    stmt: Select = select(Model).where(visible_to(viewer_id))
    if q:
        like = contains(q.strip().casefold())  # '%' and '_' in q match only themselves
        stmt = stmt.where(or_(Model.name_key.like(like, escape=LIKE_ESCAPE),
                              Model.developer_key.like(like, escape=LIKE_ESCAPE),
                              func.lower(Model.hf_repo_id).like(like, escape=LIKE_ESCAPE)))
    if model_type:
        stmt = stmt.where(Model.model_type.in_(model_type))
    if kind:
        stmt = stmt.where(Model.kind.in_(kind))
    if developer:
        stmt = stmt.where(Model.developer_key == normalise_key(developer))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    columns = {"name": Model.name_key, "parameters": Model.parameters, "created": Model.created_at,
               "updated": Model.updated_at}
    col = columns.get(sort, Model.name_key)
    ordered = col.desc().nulls_last() if order == "desc" else col.asc().nulls_last()
    items = list(session.scalars(stmt.order_by(ordered, Model.id).limit(limit).offset(offset)))
    return items, total


def reference_counts(session: Session, model_id: int) -> dict[str, int]:
    entries = session.scalar(select(func.count()).select_from(Entry).where(Entry.model_id == model_id)) or 0
    runs = session.scalar(select(func.count()).select_from(TrainingRun).where(or_(
        TrainingRun.base_model_id == model_id, TrainingRun.parent_model_id == model_id,
        TrainingRun.output_model_id == model_id))) or 0
    children = session.scalar(select(func.count()).select_from(Model).where(or_(
        Model.parent_model_id == model_id, Model.base_model_id == model_id))) or 0
    return {"entries": entries, "training_runs": runs, "derived_models": children}


def used_by_others(session: Session, model_id: int, owner_id: int | None) -> bool:
    """Whether anyone but ``owner_id`` logs the model, or any run or other model builds on it."""
    others = session.scalar(select(Entry.id).where(Entry.model_id == model_id, Entry.owner_id != owner_id)
                            .limit(1)) if owner_id is not None else None
    refs = reference_counts(session, model_id)
    return others is not None or bool(refs["training_runs"] or refs["derived_models"])


def entry_copies(model: Any) -> dict[str, Any]:
    """The catalog keys every entry keeps a copy of (``Entry.model_*``), from a Model or any object like it."""
    return {"model_name_key": model.name_key, "model_type": model.model_type or "Other",
            "model_developer": model.developer, "model_developer_key": model.developer_key or "",
            "model_license": model.license, "model_parameters": model.parameters}


def sync_entry_copies(session: Session, model: Model) -> None:
    """Rewrite the copies on every entry of ``model`` (all users' entries: the catalog row is shared)."""
    session.execute(update(Entry).where(Entry.model_id == model.id).values(**entry_copies(model))
                    .execution_options(synchronize_session="fetch"))


def slug_taken(session: Session, owner_id: int | None, slug: str, *, exclude_id: int | None = None) -> bool:
    query = select(Model.id).where(Model.slug == slug)
    query = query.where(Model.owner_id.is_(None) if owner_id is None else Model.owner_id == owner_id)
    if exclude_id is not None:
        query = query.where(Model.id != exclude_id)
    return session.scalars(query.limit(1)).first() is not None
