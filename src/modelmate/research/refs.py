"""Model references as the research API shows them, and the visibility rule they follow."""

from __future__ import annotations

from typing import TypeGuard

from sqlalchemy.orm import Session

from modelmate.models import Model, User
from modelmate.research import repository as repo
from modelmate.research.schemas import ModelRef


def visible(model: Model | None, viewer: User | None) -> TypeGuard[Model]:
    """A public model: anyone; a private one: its owner (and admins)."""
    if model is None:
        return False
    if model.visibility == "public":
        return True
    return viewer is not None and (viewer.is_admin or model.owner_id == viewer.id)


def model_ref(model: Model, names: dict[int, str]) -> ModelRef:
    # Only a fine-tuned model names its owner (it is in its URL); nobody learns who added any other catalog row.
    owner = names.get(model.owner_id) if model.owner_id and model.kind == "finetuned" else None
    slug = getattr(model, "slug", None)
    page = f"/m/{owner}/{slug}" if model.kind == "finetuned" and owner and slug else None
    return ModelRef(id=model.id, name=model.name, kind=model.kind, owner=owner, slug=slug, page_path=page)


class RefBuilder:
    """Builds ModelRefs for many models with one username query."""

    def __init__(self, session: Session, models: list[Model]) -> None:
        self.names = repo.usernames(session, {m.owner_id for m in models if m.owner_id})

    def __call__(self, model: Model) -> ModelRef:
        return model_ref(model, self.names)
