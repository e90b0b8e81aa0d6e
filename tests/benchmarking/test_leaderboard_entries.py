"""``leaderboard_entries`` stays in step with the models' ``benchmark_scores`` (and the copies of their visibility,
owner, base, parameters and method): written by the flush hook when these are added or changed (same transaction),
gone with the model, and backfilled by migrations 0011 (the entries) and 0012 (the filter columns) with the same rows
the application writes."""

from __future__ import annotations

from sqlalchemy import inspect, select
from test_leaderboards import score

from modelmate.benchmarking import service
from modelmate.db import migrate
from modelmate.models import LeaderboardEntry, Model


def entries(database) -> dict[tuple[int, str], tuple[float, float | None, str]]:
    with database.session() as s:
        return {(e.model_id, e.domain): (e.score, e.stderr, e.settings_key)
                for e in s.scalars(select(LeaderboardEntry))}


COPIED = ("visibility", "owner_id", "base_model_id", "parameters", "method")


def copies(database) -> dict[tuple[int, str], tuple]:
    with database.session() as s:
        return {(e.model_id, e.domain): tuple(getattr(e, c) for c in COPIED)
                for e in s.scalars(select(LeaderboardEntry))}


def expected(database) -> dict[tuple[int, str], tuple[float, float | None, str]]:
    with database.session() as s:
        rows = [r for m in s.scalars(select(Model)) for r in service.entry_rows(m)]
    return {(r["model_id"], r["domain"]): (r["score"], r["stderr"], r["settings_key"]) for r in rows}


def expected_copies(database) -> dict[tuple[int, str], tuple]:
    with database.session() as s:
        rows = [r for m in s.scalars(select(Model)) for r in service.entry_rows(m)]
    return {(r["model_id"], r["domain"]): tuple(r[c] for c in COPIED) for r in rows}


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
    migrate.downgrade(database, "0010")  # before 0011: no table
    migrate.upgrade(database)
    assert entries(database) == want


def test_entries_follow_the_models_visibility(database):
    a = add(database, "Shy", {"math": score(0.5, "h1")})
    with database.session() as s:
        model = s.get(Model, a)
        model.visibility, model.owner_id = "private", None
    with database.session() as s:
        assert {(e.visibility, e.owner_id) for e in s.scalars(select(LeaderboardEntry))} == {("private", None)}


def test_entries_copy_what_the_filters_read(database):
    """Base, parameters and method (``method_of``: base, lora with an adapter, finetuned, external) are copied, and
    rewritten when any of them changes on the model."""
    base = add(database, "Base", {"math": score(0.4, "h1")})
    tune = add(database, "Tune", {"math": score(0.6, "h1")})
    with database.session() as s:
        s.get(Model, base).kind = "base"
        s.get(Model, base).parameters = 1_000
        model = s.get(Model, tune)
        model.kind, model.base_model_id, model.parameters, model.hub_info = "finetuned", base, 1_000, {"adapter": 1}
    got = copies(database)
    assert got[(base, "math")][2:] == (None, 1_000, "base")
    assert got[(tune, "math")][2:] == (base, 1_000, "lora") == got[(tune, "overall")][2:]
    with database.session() as s:  # no adapter any more: a full fine-tune; the size corrected
        model = s.get(Model, tune)
        model.hub_info, model.parameters = {"adapter": None}, 2_000
    assert copies(database)[(tune, "math")][2:] == (base, 2_000, "finetuned")
    with database.session() as s:
        s.get(Model, tune).kind = "external"
    assert copies(database)[(tune, "math")][4] == "external"
    assert copies(database) == expected_copies(database)


def test_migration_0012_adds_and_backfills_the_filter_columns(database):
    base = add(database, "Base", {"math": score(0.4, "h1")})
    with database.session() as s:
        s.get(Model, base).kind = "base"
        for i, hub in enumerate(({"adapter": True}, {"adapter": ""}, None)):
            s.add(Model(name=f"T{i}", name_key=f"t{i}", developer_key="", kind="finetuned", base_model_id=base,
                        parameters=10 * i, hub_info=hub, benchmark_scores={"math": score(0.5, "h1"),
                                                                          "code": score(0.1, "h2")}))
    want, want_copies = expected(database), expected_copies(database)
    assert {c[4] for c in want_copies.values()} == {"base", "lora", "finetuned"}
    migrate.downgrade(database, "0011")
    with database.engine.connect() as conn:
        names = {c["name"] for c in inspect(conn).get_columns("leaderboard_entries")}
    assert "method" not in names and "base_model_id" not in names
    migrate.upgrade(database)
    assert entries(database) == want and copies(database) == want_copies
