"""GET /api/v1/dashboard on both backends: totals, breakdowns, zero-filled months, activity, wishlist."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from modelmate.insights import service as insights
from modelmate.models import Entry, User
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryCreate

URL = "/api/v1/dashboard"
STATUSES = ["wishlist", "tried", "studied", "using", "archived"]


def local_user(session) -> User:
    return session.scalars(select(User).where(User.is_local.is_(True)).order_by(User.id)).first()


def month_label(today: date, months_ago: int) -> str:
    y, m = today.year, today.month - months_ago
    while m <= 0:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}"


def mid_month(today: date, months_ago: int, day: int = 15) -> datetime:
    y, m = map(int, month_label(today, months_ago).split("-"))
    return datetime(y, m, day, 12, 0, tzinfo=UTC)


def test_empty_dashboard(client):
    r = client.get(URL)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totals"] == {"entries": 0, "tags": 0, "journal_notes": 0, "rated": 0, "average_rating": None,
                              "using_now": 0}
    assert body["by_status"] == [{"value": s, "count": 0} for s in STATUSES]
    assert body["by_type"] == [] and body["top_tags"] == [] and body["recent_activity"] == []
    assert body["wishlist"] == []
    today = datetime.now(UTC).date()
    assert [m["month"] for m in body["by_month"]] == [month_label(today, i) for i in range(11, -1, -1)]
    assert all(m["added"] == 0 and m["interacted"] == 0 for m in body["by_month"])


def test_totals_and_breakdowns(client, make_entry):
    a = make_entry(name="A", status="using", rating=5, tags=["code", "open"], model_type="LLM")
    make_entry(name="B", status="using", rating=4, tags=["code"], model_type="LLM")
    make_entry(name="C", status="tried", rating=2, tags=["vision"], model_type="Vision")
    make_entry(name="D", status="archived", model_type="Audio")
    make_entry(name="E", model_type="LLM")  # wishlist by default
    client.post(f"/api/v1/entries/{a['id']}/journal", json={"body": "one"})
    client.post(f"/api/v1/entries/{a['id']}/journal", json={"body": "two"})
    # a tag no entry carries any more is not counted
    client.patch(f"/api/v1/entries/{a['id']}", json={"tags": ["code"]})
    body = client.get(URL).json()
    assert body["totals"] == {"entries": 5, "tags": 2, "journal_notes": 2, "rated": 3, "average_rating": 3.67,
                              "using_now": 2}
    assert body["by_status"] == [{"value": "wishlist", "count": 1}, {"value": "tried", "count": 1},
                                 {"value": "studied", "count": 0}, {"value": "using", "count": 2},
                                 {"value": "archived", "count": 1}]
    assert body["by_type"] == [{"value": "LLM", "count": 3}, {"value": "Audio", "count": 1},
                               {"value": "Vision", "count": 1}]
    assert body["top_tags"] == [{"value": "code", "count": 2}, {"value": "vision", "count": 1}]
    current = body["by_month"][-1]
    assert current["added"] == 5 and current["interacted"] == 0


def test_top_tags_keeps_the_fifteen_most_used(client, make_entry):
    for i in range(17):
        make_entry(name=f"M{i}", tags=[f"t{j:02d}" for j in range(i + 1)])  # t00 on 17 entries ... t16 on 1
    top = client.get(URL).json()["top_tags"]
    assert len(top) == 15
    assert top[0] == {"value": "t00", "count": 17} and top[-1] == {"value": "t14", "count": 3}
    assert [t["count"] for t in top] == sorted((t["count"] for t in top), reverse=True)


def test_months_are_bucketed_and_zero_filled(client, database):
    today = datetime.now(UTC).date()
    with database.session() as session:
        me = local_user(session)

        def add(name: str, created: datetime, interacted: date | None = None, status: str = "tried") -> Entry:
            return tracker.create_entry(session, me, EntryCreate(name=name, status=status,
                                                                 date_interacted=interacted), created_at=created)

        add("three months ago", mid_month(today, 3), interacted=mid_month(today, 2).date())
        add("three months ago too", mid_month(today, 3, day=1).replace(hour=0, minute=0, second=1))
        add("eleven months ago", mid_month(today, 11, day=28), interacted=mid_month(today, 11, day=2).date())
        add("thirteen months ago", mid_month(today, 13), interacted=mid_month(today, 13).date())
        add("this month", datetime.now(UTC) - timedelta(seconds=5), interacted=today)
        add("future interaction", mid_month(today, 12), interacted=today + timedelta(days=400))
    body = client.get(URL).json()
    months = {m["month"]: (m["added"], m["interacted"]) for m in body["by_month"]}
    assert len(months) == 12 and list(months)[-1] == month_label(today, 0)
    assert months[month_label(today, 3)] == (2, 0)
    assert months[month_label(today, 2)] == (0, 1)
    assert months[month_label(today, 11)] == (1, 1)
    assert months[month_label(today, 0)] == (1, 1)
    assert month_label(today, 13) not in months and month_label(today, 12) not in months
    assert sum(a for a, _ in months.values()) == 4 and sum(i for _, i in months.values()) == 3
    assert body["totals"]["entries"] == 6


def test_month_boundaries_are_utc(database):
    """An entry created at 23:59:59 UTC on the last day of a month belongs to that month."""
    today = date(2026, 3, 10)
    with database.session() as session:
        me = User(username="month-edges")
        session.add(me)
        session.flush()
        tracker.create_entry(session, me, EntryCreate(name="Edge Feb"),
                             created_at=datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC))
        tracker.create_entry(session, me, EntryCreate(name="Edge Mar"), created_at=datetime(2026, 3, 1, tzinfo=UTC))
        tracker.create_entry(session, me, EntryCreate(name="Edge old"),
                             created_at=datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC))
        board = insights.dashboard(session, me, today=today)
    months = {m.month: m.added for m in board.by_month}
    assert list(months)[0] == "2025-04" and list(months)[-1] == "2026-03"
    assert months["2026-02"] == 1 and months["2026-03"] == 1 and sum(months.values()) == 2


def test_recent_activity_and_wishlist(client, database):
    now = datetime.now(UTC)
    with database.session() as session:
        me = local_user(session)
        for i in range(8):
            tracker.create_entry(session, me, EntryCreate(name=f"Wish {i}"), created_at=now - timedelta(days=30 - i))
        tracker.create_entry(session, me, EntryCreate(name="Used", status="using"), created_at=now - timedelta(days=90))
    used = next(e for e in client.get("/api/v1/entries", params={"limit": 50}).json()["items"] if e["name"] == "Used")
    client.patch(f"/api/v1/entries/{used['id']}", json={"status": "archived"})
    client.post(f"/api/v1/entries/{used['id']}/journal", json={"body": "retired it"})
    body = client.get(URL).json()
    assert [e["name"] for e in body["wishlist"]] == [f"Wish {i}" for i in range(6)]
    recent = body["recent_activity"]
    assert len(recent) == 10
    assert [r["kind"] for r in recent[:2]] == ["note_added", "status_changed"]
    stamps = [r["occurred_at"] for r in recent]
    assert stamps == sorted(stamps, reverse=True)
    assert recent[0]["model_name"] == "Used" and recent[0]["model_type"] == "Other"


def test_dashboard_is_per_user(database):
    with database.session() as session:
        me, other = User(username="dash-me"), User(username="dash-other")
        session.add_all([me, other])
        session.flush()
        tracker.create_entry(session, me, EntryCreate(name="Mine", status="using", rating=2, tags=["x"]))
        tracker.create_entry(session, other, EntryCreate(name="Theirs", status="using", rating=5, tags=["y", "z"]))
        tracker.create_entry(session, other, EntryCreate(name="Theirs too"))
        board = insights.dashboard(session, me)
    assert board.totals.entries == 1 and board.totals.average_rating == 2.0 and board.totals.tags == 1
    assert [t.value for t in board.top_tags] == ["x"]
    assert board.wishlist == [] and {e.model_name for e in board.recent_activity} == {"Mine"}
