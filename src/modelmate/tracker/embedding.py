"""Called when entries' text changed: queue the (coalesced) ``embed`` jobs that keep semantic search current."""

from __future__ import annotations

from sqlalchemy.orm import Session

from modelmate.enums import JobKind
from modelmate.jobs import service as jobs
from modelmate.models import Entry


def entry_changed(session: Session, entry: Entry) -> None:
    jobs.enqueue_coalesced(session, kind=JobKind.EMBED, owner_id=entry.owner_id, payload={"entry_id": entry.id},
                           key="entry_id")


def entries_bulk_added(session: Session, owner_id: int) -> None:
    """Many entries were written directly (a bulk import): queue one sweep that embeds whatever is missing."""
    jobs.enqueue_coalesced(session, kind=JobKind.EMBED, owner_id=owner_id, payload={"scope": "owner", "force": False},
                           key="scope")
