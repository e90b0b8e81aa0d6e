"""The leaderboard computed in SQL (filters, the most common settings, competition ranks with ties, pages) agrees
with the Python definition (``entry_for`` + ``assign_ranks``) on many constructed models, and pages through it."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from test_leaderboards import add_model, score

from modelmate.benchmarking import leaderboard, service
from modelmate.benchmarking.schemas import LeaderboardRow, RefOut
from modelmate.models import Model


def reference(database, domain: str) -> list[tuple[int, int | None, bool, bool]]:
    """(model id, rank, tied, comparable) in leaderboard order, the way the Python implementation ranked them."""
    with database.session() as s:
        models = [m for m in s.query(Model).order_by(Model.id).all() if m.visibility == "public"]
        entries = [(m, e) for m in models if (e := service.entry_for(m, domain)) is not None]
    counts = Counter(e.get("settings_hash") for _, e in entries)
    common = max(counts.items(), key=lambda kv: (kv[1], str(kv[0])))[0] if counts else None
    rows = [LeaderboardRow(rank=None, model=RefOut(id=m.id, name=m.name, kind=m.kind), method="external",
                           score=e["score"], stderr=e.get("stderr"), comparable=e.get("settings_hash") == common)
            for m, e in entries]
    rows.sort(key=lambda r: (not r.comparable, -(r.score or 0.0), r.model.id))
    leaderboard.assign_ranks(rows)
    return [(r.model.id, r.rank, r.tied, r.comparable) for r in rows]


@pytest.fixture
def crowd(database):
    """60 public models: scores on a coarse grid (many equal scores and overlapping intervals), stderr sometimes
    missing or zero, three settings hashes, some domains missing (other overall settings)."""
    rng = random.Random(3)
    for i in range(60):
        scores = {}
        for domain in ("math", "reading", "code"):
            if rng.random() < 0.8:
                err = rng.choice([0.0, None, 0.005, 0.01, 0.03])
                scores[domain] = score(round(rng.uniform(0.2, 0.8), 2), rng.choice(["h1", "h1", "h2", "h3"]),
                                       stderr=err)
        add_model(database, f"Model {i}", scores=scores)
    return database


@pytest.mark.parametrize("domain", ["math", "code", "overall"])
def test_sql_ranks_match_the_python_definition(hub, crowd, domain):
    body = hub.get("/api/v1/leaderboards", params={"domain": domain, "limit": leaderboard.MAX_LIMIT}).json()
    got = [(r["model"]["id"], r["rank"], r["tied"], r["comparable"]) for r in body["rows"]]
    want = reference(crowd, domain)
    assert got == want and body["total"] == len(want) > 20
    assert any(not c for _, _, _, c in got)  # unranked rows exist
    if domain != "overall":
        assert any(t for _, _, t, _ in got)  # and ties


def test_pages_concatenate_to_the_whole_leaderboard(hub, crowd):
    whole = hub.get("/api/v1/leaderboards", params={"domain": "overall", "limit": 500}).json()
    pages, offset = [], 0
    while True:
        body = hub.get("/api/v1/leaderboards", params={"domain": "overall", "limit": 7, "offset": offset}).json()
        assert body["total"] == whole["total"] and body["limit"] == 7 and body["offset"] == offset
        assert body["settings_hash"] == whole["settings_hash"]
        if not body["rows"]:
            break
        assert len(body["rows"]) <= 7
        pages += body["rows"]
        offset += 7
    assert pages == whole["rows"]  # ranks and ties across page boundaries are those of the whole board


def test_page_size_is_bounded(hub):
    assert hub.get("/api/v1/leaderboards").json()["limit"] == leaderboard.LIMIT
    for bad in ({"limit": 0}, {"limit": leaderboard.MAX_LIMIT + 1}, {"offset": -1}):
        assert hub.get("/api/v1/leaderboards", params=bad).status_code == 422
