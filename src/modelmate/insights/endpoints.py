"""/api/v1/dashboard, /api/v1/timeline, /api/v1/compare."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from modelmate.api.deps import CurrentUser, SessionDep
from modelmate.enums import EntryStatus, EventKind, ModelType
from modelmate.errors import ErrorResponse
from modelmate.insights import service
from modelmate.insights.schemas import Comparison, Dashboard, TimelineFilter, TimelinePage

router = APIRouter(tags=["insights"])
MAX_ID = 2**63 - 1
Id = Annotated[int, Query(ge=1, le=MAX_ID)]


@router.get("/dashboard", response_model=Dashboard, summary="Totals, breakdowns, monthly activity and what's next")
def dashboard(session: SessionDep, user: CurrentUser) -> Dashboard:
    return service.dashboard(session, user)


@router.get("/timeline", response_model=TimelinePage, responses={422: {"model": ErrorResponse}},
            summary="Your exploration over time: entry events, newest first, grouped by month")
def timeline(
    session: SessionDep, user: CurrentUser,
    kind: Annotated[list[EventKind], Query(description="Any of these event kinds")] = [],  # noqa: B006
    status: Annotated[list[EntryStatus], Query(description="Events moving from or to any of these statuses")] = [],  # noqa: B006
    model_type: Annotated[list[ModelType], Query(description="Any of these model types")] = [],  # noqa: B006
    tag: Annotated[list[Annotated[str, Query(max_length=64)]],
                   Query(max_length=20, description="Entries currently carrying any of these tags")] = [],  # noqa: B006
    date_from: Annotated[date | None, Query(description="Events on or after this day (UTC)")] = None,
    date_to: Annotated[date | None, Query(description="Events on or before this day (UTC)")] = None,
    entry_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="One entry's events")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Model name contains (case-insensitive)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> TimelinePage:
    f = TimelineFilter(kind=kind, status=status, model_type=[t.value for t in model_type], tag=tag,
                       date_from=date_from, date_to=date_to, entry_id=entry_id, q=q)
    return service.timeline(session, user, f, limit=limit, before=before)


@router.get("/compare", response_model=Comparison,
            responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
            summary="Compare 2 to 4 of your entries side by side")
def compare(
    session: SessionDep, user: CurrentUser,
    ids: Annotated[list[Id], Query(max_length=50, description="2 to 4 distinct entry ids, in display order")] = [],  # noqa: B006
) -> Comparison:
    return service.compare(session, user, ids)
