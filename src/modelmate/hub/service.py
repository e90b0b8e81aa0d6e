"""Model pages: who may see what, the page itself, publishing and thumbs up/down.

Visibility rule (everywhere on the hub): a public model is visible to anyone, anonymous included; a private one only
to its owner; anything else is a 404 (never a 403: that would confirm the model exists).
"""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session

from modelmate.catalog import service as catalog_service
from modelmate.config import Settings
from modelmate.datasets import contamination
from modelmate.datasets.service import dataset_path
from modelmate.errors import NotFoundError, ValidationFailed
from modelmate.finetune import adapters
from modelmate.hub import repository as repo
from modelmate.hub.schemas import (
    DatasetCard,
    FeedbackBlock,
    FeedbackIn,
    FeedbackItem,
    ModelInfo,
    ModelPageOut,
    ModelPatch,
    ModelRef,
    MyFeedback,
    Permissions,
    RunInfo,
)
from modelmate.models import Dataset, Model, TrainingRun, User

SAMPLE_ROWS = 3
SAMPLE_CHARS = 500


# --- visibility and references --------------------------------------------------------------------------------

def visible(model: Model, viewer: User | None) -> bool:
    return model.visibility == "public" or (viewer is not None and model.owner_id == viewer.id)


def get_visible(session: Session, viewer: User | None, model_id: int) -> Model:
    model = repo.get_model(session, model_id)
    if model is None or not visible(model, viewer):
        raise NotFoundError(f"model {model_id} not found")
    return model


def get_by_repo(session: Session, viewer: User | None, owner: str, slug: str) -> Model:
    """A visible model by ``owner`` username and slug; 404 otherwise."""
    user = repo.user_by_username(session, owner) if owner else None
    model = repo.model_by_owner_slug(session, user.id, slug) if user is not None and slug else None
    if model is None or not visible(model, viewer):
        raise NotFoundError(f"model {owner[:64]}/{slug[:200]} not found")
    return model


def owner_name(model: Model, names: dict[int, str]) -> str | None:
    """The owner's username for a fine-tuned model (its URL names it); any other catalog row shows its developer,
    never who added it to the catalog."""
    if model.kind == "finetuned" and model.owner_id is not None and model.owner_id in names:
        return names[model.owner_id]
    return model.developer


def page_path(model: Model, owner: str | None) -> str | None:
    if model.kind == "finetuned" and model.slug and owner and model.owner_id is not None:
        return f"/m/{owner}/{model.slug}"
    return None


def repo_id(model: Model, owner: str | None) -> str | None:
    if model.slug and owner and model.owner_id is not None:
        return f"{owner}/{model.slug}"
    return None


def model_ref(model: Model, names: dict[int, str]) -> ModelRef:
    owner = owner_name(model, names)
    return ModelRef(id=model.id, name=model.name, kind=model.kind, owner=owner, slug=model.slug,
                    page_path=page_path(model, owner))


def model_refs(session: Session, models: list[Model]) -> list[ModelRef]:
    """References for many models with one username query (other helpers use this too)."""
    names = repo.usernames(session, {m.owner_id for m in models if m.owner_id is not None})
    return [model_ref(m, names) for m in models]


def has_adapter(settings: Settings, model: Model) -> bool:
    """A fine-tuned model whose adapter is completely in the artifact store (read from its manifest, no download)."""
    if model.kind != "finetuned" or not (model.hub_info or {}).get("adapter"):
        return False
    return adapters.missing_reason(settings, model) is None


# --- the page -------------------------------------------------------------------------------------------------

def _cut(value: Any) -> Any:
    if isinstance(value, str):
        return value[:SAMPLE_CHARS]
    if isinstance(value, list):
        return [_cut(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _cut(v) for k, v in value.items()}
    return value


def _samples(settings: Settings, dataset: Dataset) -> list[dict[str, Any]]:
    try:
        with dataset_path(settings, dataset).open("rb") as fh:
            rows = [json.loads(line) for line in islice(fh, SAMPLE_ROWS)]
    except (OSError, ValueError):
        return []
    return [_cut(r) for r in rows if isinstance(r, dict)]


def _dataset_card(settings: Settings, dataset: Dataset | None, viewer: User | None) -> DatasetCard | None:
    if dataset is None or dataset.deleted_at is not None:
        return None
    if dataset.visibility != "public" and (viewer is None or dataset.owner_id != viewer.id):
        return None
    return DatasetCard(id=dataset.id, name=dataset.name, format=dataset.format, rows=dataset.rows,
                       train_rows=dataset.train_rows, eval_rows=dataset.eval_rows,
                       token_counts=dataset.token_counts or {}, stats=dataset.stats or {}, domain=dataset.domain,
                       license=dataset.license, samples=_samples(settings, dataset))


def _run_info(run: TrainingRun | None) -> RunInfo | None:
    if run is None:
        return None
    return RunInfo(id=run.id, name=run.name, status=run.status, mode=run.mode, preset=run.preset,
                   config=run.config or {}, training_outcome=run.training_outcome,
                   failure_category=run.failure_category, failure_message=run.failure_message,
                   curve=list(run.loss_curve_data or []), train_seconds=run.train_seconds,
                   tokens_per_second=run.tokens_per_second, final_loss=run.final_loss,
                   final_eval_loss=run.final_eval_loss, train_tokens=run.train_tokens,
                   environment=run.environment or {})


def feedback_block(session: Session, model: Model, viewer: User | None) -> FeedbackBlock:
    up, down = repo.feedback_counts(session, model.id)
    mine = repo.feedback_of(session, viewer.id, model.id) if viewer is not None else None
    recent = [FeedbackItem(user=name, value=f.value, comment=f.comment, created_at=f.updated_at or f.created_at)
              for f, name in repo.recent_feedback(session, model.id)]
    return FeedbackBlock(up=up, down=down, mine=MyFeedback(value=mine.value, comment=mine.comment) if mine else None,
                         recent=recent)


def page(session: Session, settings: Settings, viewer: User | None, model: Model, *, can_demo: bool) -> ModelPageOut:
    """A model page; ``can_demo``: whether the playground can run it here (:func:`modelmate.hub.playground.can_run`)."""
    related = repo.models_by_id(session, {i for i in (model.base_model_id, model.parent_model_id) if i})
    names = repo.usernames(session, {m.owner_id for m in [model, *related.values()] if m.owner_id is not None})

    def ref(model_id: int | None) -> ModelRef | None:
        other = related.get(model_id) if model_id else None
        return model_ref(other, names) if other is not None and visible(other, viewer) else None

    owner = owner_name(model, names)
    run = repo.run_of_model(session, model) if model.kind == "finetuned" else None
    dataset = repo.datasets_by_id(session, {run.dataset_id}).get(run.dataset_id) if run and run.dataset_id else None
    info = ModelInfo(id=model.id, name=model.name, slug=model.slug, owner=owner, kind=model.kind,
                     visibility=model.visibility, description=model.description, license=model.license,
                     parameters=model.parameters, base=ref(model.base_model_id), parent=ref(model.parent_model_id),
                     toy=bool((model.hub_info or {}).get("toy")), created_at=model.created_at,
                     repo_id=repo_id(model, owner), page_path=page_path(model, owner))
    stored = has_adapter(settings, model)
    permissions = Permissions(
        can_edit=viewer is not None and model.owner_id == viewer.id, can_feedback=viewer is not None,
        can_download=stored, can_fork=viewer is not None and stored,
        can_demo=can_demo)
    tainted = contamination.models_contamination(session, [model.id]).get(model.id) \
        if model.kind == "finetuned" else None
    return ModelPageOut(model=info, run=_run_info(run), dataset=_dataset_card(settings, dataset, viewer),
                        contamination=tainted, feedback=feedback_block(session, model, viewer), permissions=permissions)


# --- owner actions --------------------------------------------------------------------------------------------

def update(session: Session, viewer: User, model_id: int, patch: ModelPatch) -> Model:
    """Publish / unpublish and describe a model (its owner only; anyone else gets 404)."""
    model = repo.get_model(session, model_id)
    if model is None or model.owner_id != viewer.id:
        raise NotFoundError(f"model {model_id} not found")
    if patch.visibility is not None:
        if patch.visibility == "public" and model.kind == "finetuned" and not model.slug:
            raise ValidationFailed("this model has no URL name (slug) yet and cannot be published")
        if patch.visibility == "public" and model.visibility != "public":
            catalog_service.check_publishable(session, model, exclude_id=model.id)  # public identities are unique
        model.visibility = patch.visibility
    if "description" in patch.model_fields_set:
        text = (patch.description or "").strip()
        model.description = text or None
    session.flush()
    return model


def set_feedback(session: Session, viewer: User, model_id: int, payload: FeedbackIn) -> FeedbackBlock:
    """Thumbs up/down with an optional comment (one per user and model; a second call replaces the first).
    The owner's own thumbs are mirrored into the run's feedback (the research dataset reads them there)."""
    model = get_visible(session, viewer, model_id)
    comment = (payload.comment or "").strip() or None
    run = repo.run_of_model(session, model) if model.kind == "finetuned" else None
    row = repo.feedback_of(session, viewer.id, model.id)
    if row is None:
        repo.add_feedback(session, {"user_id": viewer.id, "model_id": model.id, "run_id": run.id if run else None,
                                    "value": payload.value, "comment": comment})
    else:
        row.value, row.comment = payload.value, comment
        row.run_id = run.id if run else row.run_id
    if run is not None and model.owner_id == viewer.id:
        run.feedback_value, run.feedback_comment = payload.value, comment
    session.flush()
    return feedback_block(session, model, viewer)


def clear_feedback(session: Session, viewer: User, model_id: int) -> None:
    model = get_visible(session, viewer, model_id)
    repo.delete_feedback(session, viewer.id, model.id)
    if model.owner_id == viewer.id and model.kind == "finetuned":
        run = repo.run_of_model(session, model)
        if run is not None:
            run.feedback_value, run.feedback_comment = None, None
    session.flush()
