"""Catalog rules: duplicate detection, who may edit a model, safe deletion."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelmate.catalog import repository as repo
from modelmate.catalog.schemas import MODEL_FIELDS, ModelCreate
from modelmate.db.base import utcnow
from modelmate.errors import ConflictError, ForbiddenError, NotFoundError
from modelmate.models import Model, User

IDENTITY_FIELDS = ("name", "developer", "hf_repo_id", "github_repo")


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
                              exclude_id=exclude_id, viewer_id=viewer.id if viewer is not None else None)
    if dup is not None:
        raise duplicate_error(*dup, viewer)


def model_row(user: User, values: dict[str, Any], *, kind: str = "external",
              visibility: str = "private") -> dict[str, Any]:
    """Column values of a new catalog row made from validated descriptive fields: the one place its defaults live
    (used by :func:`insert_model` and by the bulk import, which inserts many rows at once).

    A row a user creates (by logging an unknown model, importing, or adding it) is private to them until they
    share it (:func:`set_visibility`): nobody else can list, search, suggest or fetch it."""
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
        "visibility": visibility,
        "owner_id": user.id,
        "benchmark_scores": {},
        "hub_info": {},
        "metadata_extra": {},
    }


def insert_model(session: Session, user: User, values: dict[str, Any], *, kind: str = "external",
                 visibility: str = "private") -> Model:
    """Add a catalog row; the caller has ruled out duplicates."""
    model = Model(**model_row(user, values, kind=kind, visibility=visibility))
    session.add(model)
    session.flush()
    return model


def new_model(session: Session, user: User, values: dict[str, Any], *, kind: str = "external",
              visibility: str = "private") -> Model:
    check_duplicate(session, values, viewer=user)
    if visibility == "public":
        check_publishable(session, values)
    return insert_model(session, user, values, kind=kind, visibility=visibility)


def create_model(session: Session, user: User, payload: ModelCreate) -> Model:
    values = payload.model_dump(exclude_unset=False)
    return new_model(session, user, values, kind=payload.kind.value, visibility=payload.visibility)


def check_publishable(session: Session, values: dict[str, Any] | Model, exclude_id: int | None = None) -> None:
    """Refuse to make a row public when a public row already has its identity (409 naming that public row)."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    dup = repo.find_duplicate(session, name=get("name"), developer=get("developer"), hf_repo_id=get("hf_repo_id"),
                              github_repo=get("github_repo"), exclude_id=exclude_id, viewer_id=None)
    if dup is not None:
        raise duplicate_error(*dup)


def set_visibility(session: Session, user: User, model: Model, visibility: str) -> bool:
    """Share a catalog row with every user (``public``) or take it back (``private``). Only its creator (or an
    admin) may; a row others already log or build on cannot be taken back. Returns whether it changed."""
    if visibility == model.visibility:
        return False
    if not can_edit(user, model) or model.owner_id is None:
        raise ForbiddenError(f"'{model.name}' is a shared catalog model you cannot share or unshare")
    if visibility == "public":
        check_publishable(session, model, exclude_id=model.id)
    elif repo.used_by_others(session, model.id, model.owner_id):
        raise ConflictError(f"'{model.name}' is already used by other users or models; it stays shared",
                            code="model_in_use")
    model.visibility = visibility
    model.updated_at = utcnow()
    session.flush()
    return True


def check_model_changes(session: Session, user: User, model: Model,
                        changes: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The rules of :func:`apply_model_changes` without writing anything (an import validates every row this way
    before it takes the write lock): raises what applying would raise. Returns the relevant changes and the names
    of the fields that would change."""
    changes = {k: v for k, v in changes.items() if k in MODEL_FIELDS}
    if "name" in changes and changes["name"] is None:
        changes.pop("name")
    changed = [k for k, v in changes.items() if getattr(model, k) != (v if k != "source_links" else v or [])]
    if not changed:
        return changes, []
    if not can_edit(user, model):
        raise ForbiddenError(f"'{model.name}' is a shared catalog model you cannot edit")
    if any(k in IDENTITY_FIELDS for k in changed):
        merged = {k: changes.get(k, getattr(model, k)) for k in IDENTITY_FIELDS}
        check_duplicate(session, merged, exclude_id=model.id, viewer=user)
    return changes, changed


def apply_model_changes(session: Session, user: User, model: Model, changes: dict[str, Any]) -> list[str]:
    """Apply descriptive field changes to a catalog model. Returns the names of changed fields."""
    changes, changed = check_model_changes(session, user, model, changes)
    if not changed:
        return []
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


def list_models(session: Session, *, viewer_id: int, q: str | None, model_type: list[str], kind: list[str],
                developer: str | None, sort: str, order: str, limit: int, offset: int) -> tuple[list[Model], int]:
    """One page of the catalog rows this viewer can see (public rows and their own private ones)."""
    return repo.list_models(session, viewer_id=viewer_id, q=q, model_type=model_type, kind=kind, developer=developer,
                            sort=sort, order=order, limit=limit, offset=offset)


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
