"""GET /api/v1/timeline on both backends: events from the tracker, filters, month groups, cursor pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from modelmate.insights import service as insights
from modelmate.insights.schemas import TimelineFilter
from modelmate.models import User
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryCreate

URL = "/api/v1/timeline"


def local_user(session) -> User:
    return session.scalars(select(User).where(User.is_local.is_(True)).order_by(User.id)).first()


def events(client, **params) -> list[dict]:
    r = client.get(URL, params=params)
    assert r.status_code == 200, r.text
    return [e for month in r.json()["months"] for e in month["events"]]


def test_tracker_actions_appear_with_the_right_kinds(client, make_entry):
    e = make_entry(name="Gemma 2 9B", model_type="LLM")
    client.patch(f"/api/v1/entries/{e['id']}", json={"status": "using"})
    client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": "<b>fast</b> on CPU"})
    client.patch(f"/api/v1/entries/{e['id']}", json={"rating": 4})
    body = client.get(URL).json()
    assert body["next_cursor"] is None
    assert len(body["months"]) == 1
    month = body["months"][0]
    assert month["month"] == datetime.now(UTC).strftime("%Y-%m") and month["count"] == 4
    got = month["events"]
    assert [x["kind"] for x in got] == ["rated", "note_added", "status_changed", "added"]
    for x in got:
        assert (x["entry_id"], x["model_id"], x["model_name"], x["model_type"]) == (
            e["id"], e["model_id"], "Gemma 2 9B", "LLM")
    status_change = got[2]
    assert (status_change["from_status"], status_change["to_status"]) == ("wishlist", "using")
    assert got[1]["data"]["excerpt"] == "<b>fast</b> on CPU"  # raw text, as data
    assert got[3]["to_status"] == "wishlist"


def test_deleted_entries_keep_their_events(client, make_entry):
    e = make_entry(name="Gone Model", model_type="Audio")
    client.delete(f"/api/v1/entries/{e['id']}")
    got = events(client)
    assert [x["kind"] for x in got] == ["deleted", "added"]
    assert all(x["entry_id"] is None and x["model_name"] == "Gone Model" and x["model_type"] == "Audio"
               for x in got)


def test_filters(client, make_entry, database):
    long_ago = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
    with database.session() as session:
        tracker.create_entry(session, local_user(session), EntryCreate(name="Old Whisper", model_type="Audio",
                                                                       status="tried", tags=["speech"]),
                             created_at=long_ago)
    llm = make_entry(name="Llama Café", model_type="LLM", tags=["Chat"])
    vis = make_entry(name="SigLIP", model_type="Vision", status="studied")
    client.patch(f"/api/v1/entries/{llm['id']}", json={"status": "using"})
    client.patch(f"/api/v1/entries/{vis['id']}", json={"status": "archived"})
    client.post(f"/api/v1/entries/{vis['id']}/journal", json={"body": "note"})

    def names_kinds(**params) -> list[tuple[str, str]]:
        return [(x["model_name"], x["kind"]) for x in events(client, **params)]

    assert len(events(client)) == 6
    assert names_kinds(kind="status_changed") == [("SigLIP", "status_changed"), ("Llama Café", "status_changed")]
    assert [k for _, k in names_kinds(kind=["note_added", "added"])] == ["note_added", "added", "added", "added"]
    # status: an event moving from or to it
    assert names_kinds(status="studied") == [("SigLIP", "status_changed"), ("SigLIP", "added")]
    assert names_kinds(status=["using", "tried"]) == [("Llama Café", "status_changed"), ("Old Whisper", "added")]
    assert {n for n, _ in names_kinds(model_type=["Vision", "Audio"])} == {"SigLIP", "Old Whisper"}
    assert {n for n, _ in names_kinds(tag="chat")} == {"Llama Café"}
    assert names_kinds(tag="none") == []
    assert names_kinds(date_to="2025-06-15") == [("Old Whisper", "added")]
    assert names_kinds(date_from="2025-06-16", date_to="2025-12-31") == []
    assert names_kinds(date_from="2025-06-15", date_to="2025-06-15") == [("Old Whisper", "added")]
    assert len(events(client, date_from=datetime.now(UTC).date().isoformat())) == 5
    assert names_kinds(entry_id=vis["id"]) == [("SigLIP", "note_added"), ("SigLIP", "status_changed"),
                                               ("SigLIP", "added")]
    assert {n for n, _ in names_kinds(q="LAMA C")} == {"Llama Café"}
    assert {n for n, _ in names_kinds(q="café")} == {"Llama Café"}
    assert names_kinds(q="%") == [] and names_kinds(q="_") == []
    assert names_kinds(model_type="LLM", kind="added") == [("Llama Café", "added")]
    old = client.get(URL, params={"date_to": "2025-12-31"}).json()["months"]
    assert [(m["month"], m["count"]) for m in old] == [("2025-06", 1)]


def test_filter_validation(client):
    for params in ({"kind": "exploded"}, {"status": "loved"}, {"model_type": "Toaster"}, {"limit": 0},
                   {"limit": 201}, {"date_from": "yesterday"}, {"entry_id": 0}, {"entry_id": 2**64}):
        r = client.get(URL, params=params)
        assert r.status_code == 422, (params, r.text)


@pytest.mark.parametrize("cursor", ["x", "!!!", "bm90IGpzb24", "WyIyMDI2LTAxLTAxIiwgMV0", "W251bGwsMV0",
                                    "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwtMV0", "a" * 200])
def test_bad_cursor_is_422(client, cursor):
    r = client.get(URL, params={"before": cursor})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_cursor"


def test_cursor_pages_have_no_duplicates_or_gaps(client, database):
    base = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    with database.session() as session:
        me = local_user(session)
        for i in range(9):  # added events spread over three months, two of them at the very same instant
            tracker.create_entry(session, me, EntryCreate(name=f"M{i}"),
                                 created_at=base + timedelta(days=(i // 3) * 20, seconds=0 if i in (4, 5) else i))
    ids = [e["id"] for e in client.get("/api/v1/entries", params={"limit": 50}).json()["items"]]
    # bulk status changes share one timestamp: many ties on occurred_at
    client.post("/api/v1/entries/bulk", json={"ids": ids, "action": "set_status", "status": "tried"})
    full = events(client, limit=200)
    assert len(full) == 18
    keys = [(x["occurred_at"], x["id"]) for x in full]
    assert keys == sorted(keys, reverse=True)
    for size in (1, 4, 5, 7):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": size} | ({"before": cursor} if cursor else {})
            body = client.get(URL, params=params).json()
            page = [e for m in body["months"] for e in m["events"]]
            assert len(page) <= size
            seen += [e["id"] for e in page]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == [x["id"] for x in full], size
        assert pages == -(-18 // size)


def test_months_split_across_pages_keep_their_total(client, database):
    with database.session() as session:
        me = local_user(session)
        for i in range(5):
            tracker.create_entry(session, me, EntryCreate(name=f"Jan {i}"),
                                 created_at=datetime(2026, 1, 10 + i, tzinfo=UTC))
        tracker.create_entry(session, me, EntryCreate(name="Feb"), created_at=datetime(2026, 2, 1, tzinfo=UTC))
    first = client.get(URL, params={"limit": 3}).json()
    assert [(m["month"], m["count"], len(m["events"])) for m in first["months"]] == [("2026-02", 1, 1),
                                                                                    ("2026-01", 5, 2)]
    second = client.get(URL, params={"limit": 3, "before": first["next_cursor"]}).json()
    assert [(m["month"], m["count"], len(m["events"])) for m in second["months"]] == [("2026-01", 5, 3)]
    assert second["next_cursor"] is None


def test_timeline_is_per_user(database):
    with database.session() as session:
        me, other = User(username="tl-me"), User(username="tl-other")
        session.add_all([me, other])
        session.flush()
        mine = tracker.create_entry(session, me, EntryCreate(name="Mine"))
        theirs = tracker.create_entry(session, other, EntryCreate(name="Theirs"))
        page = insights.timeline(session, me, TimelineFilter())
        assert [e.model_name for m in page.months for e in m.events] == ["Mine"]
        assert insights.timeline(session, me, TimelineFilter(entry_id=theirs.id)).months == []
        assert len(insights.timeline(session, other, TimelineFilter(entry_id=theirs.id)).months) == 1
        assert insights.timeline(session, other, TimelineFilter(entry_id=mine.id)).months == []
