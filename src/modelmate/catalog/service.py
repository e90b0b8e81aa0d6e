"""Catalog rules: duplicate detection, who may edit a model, safe deletion."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelmate.catalog import repository as repo
from modelmate.catalog.schemas import ModelCreate
from modelmate.db.base import utcnow
from modelmate.errors import ConflictError, ForbiddenError, NotFoundError
from modelmate.models import Model, User

IDENTITY_FIELDS = ("name", "developer", "hf_repo_id", "github_repo")
MODEL_FIELDS = ("name", "developer", "model_type", "parameters", "license", "version", "description",
                "source_links", "hf_repo_id", "github_repo")


def duplicate_error(existing: Model, field: str, viewer: User | None = None) -> ConflictError:
    if viewer is not None and existing.visibility != "public" and existing.owner_id != viewer.id:
        # Someone else's private model: the catalog's uniqueness still applies, but never reveal its name or id.
        return ConflictError(f"a model with the same {field} already exists in the catalog; "
                             "use a different name, developer or repository", code="duplicate_model",
                             details={"field": field})
    return ConflictError(
        f"a model with the same {field} already exists: '{existing.name}' (id {existing.id})",
        code="duplicate_model", details={"existing_id": existing.id, "field": field},
    )


def get_visible(session: Session, user: User, model_id: int) -> Model:
    model = repo.get(session, model_id)
    if model is None or (model.visibility != "public" and model.owner_id != user.id):
        raise NotFoundError(f"model {model_id} not found")
    return model


def can_edit(user: User, model: Model) -> bool:
    # Ownerless (shared) catalog rows are edited by admins only: with accounts, a rename would change every
    # other user's log.
    return model.owner_id == user.id or user.is_admin


def check_duplicate(session: Session, values: dict[str, Any], exclude_id: int | None = None,
                    viewer: User | None = None) -> None:
    dup = repo.find_duplicate(session, name=values.get("name"), developer=values.get("developer"),
                              hf_repo_id=values.get("hf_repo_id"), github_repo=values.get("github_repo"),
                              exclude_id=exclude_id)
    if dup is not None:
        raise duplicate_error(*dup, viewer)


def model_row(user: User, values: dict[str, Any], *, kind: str = "external") -> dict[str, Any]:
    """Column values of a new catalog row made from validated descriptive fields: the one place its defaults live
    (used by :func:`insert_model` and by the bulk import, which inserts many rows at once)."""
    model_type = values.get("model_type") or "Other"
    return {
        "name": values["name"],
        "developer": values.get("developer"),
        "name_key": repo.normalise_key(values["name"]),
        "developer_key": repo.normalise_key(values.get("developer")),
        "model_type": getattr(model_type, "value", model_type),
        "parameters": values.get("parameters"),
        "license": values.get("license"),
        "version": values.get("version"),
        "description": values.get("description"),
        "source_links": values.get("source_links") or [],
        "hf_repo_id": values.get("hf_repo_id"),
        "github_repo": values.get("github_repo"),
        "kind": kind,
        "visibility": "public",
        "owner_id": user.id,
        "benchmark_scores": {},
        "hub_info": {},
        "metadata_extra": {},
    }


def insert_model(session: Session, user: User, values: dict[str, Any], *, kind: str = "external") -> Model:
    """Add a catalog row; the caller has ruled out duplicates."""
    model = Model(**model_row(user, values, kind=kind))
    session.add(model)
    session.flush()
    return model


def new_model(session: Session, user: User, values: dict[str, Any], *, kind: str = "external") -> Model:
    check_duplicate(session, values, viewer=user)
    return insert_model(session, user, values, kind=kind)


def create_model(session: Session, user: User, payload: ModelCreate) -> Model:
    values = payload.model_dump(exclude_unset=False)
    return new_model(session, user, values, kind=payload.kind.value)


def apply_model_changes(session: Session, user: User, model: Model, changes: dict[str, Any]) -> list[str]:
    """Apply descriptive field changes to a catalog model. Returns the names of changed fields."""
    changes = {k: v for k, v in changes.items() if k in MODEL_FIELDS}
    if "name" in changes and changes["name"] is None:
        changes.pop("name")
    changed = [k for k, v in changes.items() if getattr(model, k) != (v if k != "source_links" else v or [])]
    if not changed:
        return []
    if not can_edit(user, model):
        raise ForbiddenError(f"'{model.name}' is a shared catalog model you cannot edit")
    if any(k in IDENTITY_FIELDS for k in changed):
        merged = {k: changes.get(k, getattr(model, k)) for k in IDENTITY_FIELDS}
        check_duplicate(session, merged, exclude_id=model.id, viewer=user)
    for key in changed:
        value = changes[key]
        if key == "source_links":
            value = value or []
        if key == "model_type":
            value = value or "Other"
        setattr(model, key, value)
    model.name_key = repo.normalise_key(model.name)
    model.developer_key = repo.normalise_key(model.developer)
    model.updated_at = utcnow()
    session.flush()
    repo.sync_entry_copies(session, model)
    return changed


def delete_model(session: Session, user: User, model_id: int) -> None:
    model = get_visible(session, user, model_id)
    if not can_edit(user, model):
        raise ForbiddenError(f"'{model.name}' is a shared catalog model you cannot delete")
    refs = {k: v for k, v in repo.reference_counts(session, model_id).items() if v}
    if refs:
        what = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in refs.items())
        raise ConflictError(f"'{model.name}' is still referenced by {what}", code="model_in_use", details=refs)
    session.delete(model)
    session.flush()
