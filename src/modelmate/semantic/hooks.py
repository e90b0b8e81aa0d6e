"""Called by the tracker when an entry's search document changed: queue its (coalesced) ``embed`` job."""

from __future__ import annotations

from sqlalchemy.orm import Session

from modelmate.jobs import service as jobs
from modelmate.models import Entry
from modelmate.models.enums import JobKind


def entry_changed(session: Session, entry: Entry) -> None:
    jobs.enqueue_coalesced(session, kind=JobKind.EMBED, owner_id=entry.owner_id, payload={"entry_id": entry.id},
                           key="entry_id")
