"""/api/v1 research: capability changes (feed, aggregates), the failure museum, run feedback, the research
dataset (export, card, preview) and the advisor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from modelmate.api.deps import CurrentUser, IdPath, OptionalUser, SessionDep
from modelmate.enums import Domain, FailureFilter, TrainingOutcome
from modelmate.errors import ErrorResponse, OpenApiResponses
from modelmate.research import advisor, changes, curves, export, museum
from modelmate.research.schemas import (
    AdvisorOut,
    AdvisorRequest,
    CapabilityAggregates,
    CapabilityChangePage,
    ColumnOut,
    CurveHistoryOut,
    MuseumPage,
    ResearchRows,
    RunFeedbackIn,
    RunFeedbackOut,
)

router = APIRouter(tags=["research"])

NOT_FOUND: OpenApiResponses = {404: {"model": ErrorResponse}}
MAX_ID = 2**63 - 1


@router.get("/capability-changes", response_model=CapabilityChangePage, responses=NOT_FOUND,
            summary="Capability changes of models you can see vs their parent (or base), flagged ones first",
            description="flagged=true lists the headline changes: flagged, except gains on a domain the model's "
                        "training data overlaps (those carry contaminated/contamination and are never headlines)")
def list_changes(session: SessionDep, user: OptionalUser,
                 model_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                 flagged: bool | None = None, direction: Literal["up", "down"] | None = None,
                 domain: Domain | None = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> CapabilityChangePage:
    return changes.list_changes(session, user, model_id=model_id, flagged=flagged, direction=direction,
                                domain=domain, limit=limit, offset=offset)


@router.get("/capability-changes/aggregates", response_model=CapabilityAggregates,
            summary="Mean domain-level change across models, by fine-tuning data domain and by base model")
def change_aggregates(session: SessionDep, user: OptionalUser) -> CapabilityAggregates:
    return changes.aggregates(session, user)


@router.get("/museum", response_model=MuseumPage,
            summary="The failure museum: failed, partial and poor runs with config, curve, error and feedback")
def get_museum(session: SessionDep, user: CurrentUser, category: FailureFilter | None = None,
               base_model_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
               outcome: TrainingOutcome | None = None,
               q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> MuseumPage:
    return museum.museum(session, user, category=category, base_model_id=base_model_id, outcome=outcome,
                         q=q.replace("\x00", "") if q else None, limit=limit, offset=offset)


@router.put("/runs/{run_id}/feedback", response_model=RunFeedbackOut, responses=NOT_FOUND,
            summary="Your thumbs up/down (and comment) on your run; also your feedback on its model")
def put_feedback(run_id: IdPath, body: RunFeedbackIn, session: SessionDep, user: CurrentUser) -> RunFeedbackOut:
    return museum.set_feedback(session, user, run_id, body)


@router.delete("/runs/{run_id}/feedback", status_code=204, responses=NOT_FOUND,
               summary="Remove your feedback on your run")
def delete_feedback(run_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    museum.clear_feedback(session, user, run_id)
    return Response(status_code=204)


@router.get("/research/export", response_class=Response,
            responses={200: {"content": {"application/vnd.apache.parquet": {}, "text/csv": {},
                                         "application/x-ndjson": {}},
                             "description": "modelmate-research-YYYYMMDD.parquet|csv|jsonl"}},
            summary="Download the research dataset (one row per run you can see) as Parquet, CSV or JSONL")
def export_dataset(session: SessionDep, user: CurrentUser,
                   format: Literal["parquet", "csv", "jsonl"] = "parquet") -> Response:
    rows, _ = export.rows(session, user)
    name = f"modelmate-research-{datetime.now(UTC):%Y%m%d}.{format}"
    return Response(export.serialise(rows, format), media_type=export.FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/research/card", response_class=Response,
            responses={200: {"content": {"text/markdown": {}}, "description": "The dataset card (markdown, YAML "
                                                                              "front matter lists every column)"}},
            summary="The research dataset's card: every column with its type and description")
def research_card(session: SessionDep, user: CurrentUser) -> Response:
    _, total = export.rows(session, user, limit=0)
    return Response(export.card(total), media_type="text/markdown; charset=utf-8")


@router.get("/research/rows", response_model=ResearchRows,
            summary="Preview of the research dataset: its columns and a page of rows (run id order)")
def research_rows(session: SessionDep, user: CurrentUser,
                  limit: Annotated[int, Query(ge=0, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> ResearchRows:
    rows, total = export.rows(session, user, limit=limit, offset=offset)
    return ResearchRows(columns=[ColumnOut(name=c.name, type=c.type, description=c.description)
                                 for c in export.columns()],
                        rows=[{k: export.jsonable(v) for k, v in r.items()} for r in rows], total=total)


@router.post("/advisor", response_model=AdvisorOut, responses=NOT_FOUND,
             summary="Similar past runs (same base, nearby settings) and warnings before you launch")
def post_advisor(body: AdvisorRequest, session: SessionDep, user: CurrentUser) -> AdvisorOut:
    return advisor.advise(session, user, body)


@router.get("/runs/{run_id}/curve-history", response_model=CurveHistoryOut, responses=NOT_FOUND,
            summary="A run's loss curve over the band (median, quartiles, deciles) of the earlier runs on its base "
                    "model, and the curves of earlier runs on the same dataset")
def curve_history(run_id: IdPath, session: SessionDep, user: CurrentUser) -> CurveHistoryOut:
    """Runs line up by training step (log-scaled buckets). Only runs you can see count (yours, and runs whose output
    model is public); another user's private run is 404."""
    return curves.curve_history(session, user, run_id)
