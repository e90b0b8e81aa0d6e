"""/api/v1 benchmarking: evaluations (queue, follow, raw results), a model's scores, leaderboards."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from modelmate.api.deps import CurrentUser, IdPath, SessionDep, SettingsDep
from modelmate.benchmarking import leaderboard as boards
from modelmate.benchmarking import service
from modelmate.benchmarking.schemas import EvaluationCreate, EvaluationOut, EvaluationPage, Leaderboard, ModelScores
from modelmate.errors import ErrorResponse, OpenApiResponses

router = APIRouter(tags=["benchmarking"])

NOT_FOUND: OpenApiResponses = {404: {"model": ErrorResponse}}
INVALID: OpenApiResponses = {
    422: {"model": ErrorResponse, "description": "Unknown domain, or a model that cannot be evaluated "
                                                "(nothing was queued)"}}
MAX_ID = 2**63 - 1


@router.post("/evaluations", response_model=EvaluationOut, status_code=202,
             responses={**NOT_FOUND, **INVALID, 200: {"model": EvaluationOut,
                                                      "description": "A cached final evaluation with the same "
                                                                     "settings (cached: true); nothing was queued"}},
             summary="Evaluate a model on the benchmark suites (queued as a background job)")
def create_evaluation(payload: EvaluationCreate, response: Response, session: SessionDep, settings: SettingsDep,
                      user: CurrentUser) -> EvaluationOut:
    out, cached = service.create_evaluation(session, settings, user, payload)
    if cached:
        response.status_code = 200
    return out


@router.get("/evaluations", response_model=EvaluationPage, summary="Evaluations of models you can see, newest first")
def list_evaluations(session: SessionDep, user: CurrentUser,
                     model_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50,
                     offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> EvaluationPage:
    return service.list_evaluations(session, user, model_id=model_id, limit=limit, offset=offset)


@router.get("/evaluations/{evaluation_id}", response_model=EvaluationOut, responses=NOT_FOUND,
            summary="One evaluation: status, progress, result rows, errors")
def get_evaluation(evaluation_id: IdPath, session: SessionDep, user: CurrentUser) -> EvaluationOut:
    return service.get_evaluation(session, user, evaluation_id)


@router.post("/evaluations/{evaluation_id}/cancel", response_model=EvaluationOut, responses=NOT_FOUND,
             summary="Cancel your evaluation (idempotent): queued stops at once, running kills its process")
def cancel_evaluation(evaluation_id: IdPath, session: SessionDep, user: CurrentUser) -> EvaluationOut:
    return service.cancel_evaluation(session, user, evaluation_id)


@router.get("/evaluations/{evaluation_id}/raw", response_model=dict[str, Any], responses=NOT_FOUND,
            summary="The raw lm-eval results JSON of an evaluation, per suite entry, as the harness returned it")
def get_raw(evaluation_id: IdPath, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return service.raw_results(session, user, evaluation_id)


@router.get("/models/{model_id}/scores", response_model=ModelScores, responses=NOT_FOUND,
            summary="A model's scores per domain (with delta vs its base) and its latest final evaluation's rows")
def model_scores(model_id: IdPath, session: SessionDep, user: CurrentUser) -> ModelScores:
    return boards.model_scores(session, user, model_id)


@router.get("/leaderboards", response_model=Leaderboard, responses=INVALID,
            summary="Leaderboard of a domain (or overall); only comparable results are ranked")
def get_leaderboard(session: SessionDep, user: CurrentUser,
                    domain: Annotated[str, Query(min_length=1, max_length=32)] = "overall",
                    base_model_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    min_params: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
                    max_params: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
                    method: Annotated[str | None, Query(max_length=32)] = None,
                    limit: Annotated[int, Query(ge=1, le=boards.MAX_LIMIT)] = boards.LIMIT,
                    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                    include_contaminated: Annotated[bool, Query(
                        description="Rank models whose training data overlaps the domain's test sets too "
                                    "(flagged); by default they are left out")] = False) -> Leaderboard:
    return boards.leaderboard(session, user, domain=domain, base_model_id=base_model_id, min_params=min_params,
                              max_params=max_params, method=method, limit=limit, offset=offset,
                              include_contaminated=include_contaminated)
