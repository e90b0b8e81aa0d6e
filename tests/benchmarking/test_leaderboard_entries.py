"""``leaderboard_entries`` stays in step with the models' ``benchmark_scores``: written by the flush hook when scores
are added or changed (same transaction), gone with the model, and backfilled by migration 0011 with the same rows
the application writes."""

from __future__ import annotations

from sqlalchemy import select
from test_leaderboards import score

from modelmate.benchmarking import service
from modelmate.db import migrate
from modelmate.models import LeaderboardEntry, Model


def entries(database) -> dict[tuple[int, str], tuple[float, float | None, str]]:
    with database.session() as s:
        return {(e.model_id, e.domain): (e.score, e.stderr, e.settings_key)
                for e in s.scalars(select(LeaderboardEntry))}


def expected(database) -> dict[tuple[int, str], tuple[float, float | None, str]]:
    with database.session() as s:
        rows = [r for m in s.scalars(select(Model)) for r in service.entry_rows(m)]
    return {(r["model_id"], r["domain"]): (r["score"], r["stderr"], r["settings_key"]) for r in rows}


def add(database, name: str, scores: dict) -> int:
    with database.session() as s:
        m = Model(name=name, name_key=name.lower(), developer_key="", kind="external", benchmark_scores=scores)
        s.add(m)
        s.flush()
        return m.id


def test_entries_follow_the_scores(database):
    a = add(database, "A", {"math": score(0.5, "h1", stderr=0.01), "code": score(0.3, "h2", stderr=None)})
    b = add(database, "B", {"reading": {"score": "n/a"}})  # not a number: no entry
    got = entries(database)
    assert set(got) == {(a, "math"), (a, "code"), (a, "overall")}
    assert got[(a, "math")] == (0.5, 0.01, "h1") and got[(a, "overall")][:2] == (0.4, None)
    assert got == expected(database)
    with database.session() as s:  # scores change (as store_result does): rewritten in the same flush
        model = s.get(Model, b)
        model.benchmark_scores = {**model.benchmark_scores, "math": score(0.7, "h1", stderr=0.02)}
    assert entries(database)[(b, "math")] == (0.7, 0.02, "h1") and (b, "overall") in entries(database)
    with database.session() as s:
        model = s.get(Model, a)
        model.benchmark_scores = {}
    assert {k for k in entries(database) if k[0] == a} == set()
    with database.session() as s:
        s.delete(s.get(Model, b))
    assert entries(database) == {}


def test_migration_backfills_the_same_rows(database):
    for i in range(5):
        add(database, f"M{i}", {"math": score(0.1 * i, "h1"), "code": score(0.2, f"h{i % 2}", stderr=None),
                                "reading": {**score(0.3), "settings_hash": None}})
    want = expected(database)
    assert entries(database) == want and len(want) == 20
    migrate.downgrade(database, "-1")  # before 0011: no table
    migrate.upgrade(database)
    assert entries(database) == want


def test_entries_follow_the_models_visibility(database):
    a = add(database, "Shy", {"math": score(0.5, "h1")})
    with database.session() as s:
        model = s.get(Model, a)
        model.visibility, model.owner_id = "private", None
    with database.session() as s:
        assert {(e.visibility, e.owner_id) for e in s.scalars(select(LeaderboardEntry))} == {("private", None)}
