"""The research queries as they were made fast (issue 19 §5), against what they answered before on small data: the
museum through its partial index (same runs, counts and totals as the rule applied in Python), the research rows'
``offset`` pages (slices of the full preview), the advisor reading only its candidates' configs (same distances as
the formula term by term), and the models' visibility index."""

from __future__ import annotations

import math
import random

import pytest
from research_world import add_dataset, add_model, add_run
from sqlalchemy import func, select, text

from modelmate.enums import FINISHED_RUN_STATUSES
from modelmate.models import TrainingRun, User
from modelmate.research import advisor
from modelmate.research import repository as repo

API = "/api/v1"


@pytest.fixture
def runs(account_client, database):
    """A mix of runs in and out of the museum, alice's and bob's, with public and private output models."""
    admin = account_client("overseer")
    alice, bob = account_client("alice"), account_client("bob")
    rng = random.Random(3)
    with database.session() as s:
        base = add_model(s, "Base", kind="base", visibility="public")
        for i in range(60):
            owner = (alice if i % 3 else bob).user["id"]
            output = None
            if i % 4 == 0:
                output = add_model(s, f"out {i}", owner_id=owner, base_id=base.id,
                                   visibility="public" if i % 8 == 0 else "private").id
            outcome = rng.choice(["success", "failure", "partial", None])
            add_run(s, owner, base.id, name=f"run {i}", output_id=output, outcome=outcome,
                    status={"success": "succeeded", "failure": "failed", "partial": "cancelled"}.get(outcome,
                                                                                               "running"),
                    category=rng.choice([None, None, "diverged", "no_learning"]),
                    feedback_value=rng.choice([None, None, 1, -1]))
    alice.admin = admin
    return alice, bob, base.id


def in_museum(run: TrainingRun) -> bool:
    """The museum's rule as the module documents it."""
    return (run.training_outcome in ("failure", "partial") or run.failure_category is not None
            or run.feedback_value == -1)


def test_museum_equals_its_rule_for_every_viewer(runs, database):
    alice, bob, _ = runs
    with database.session() as s:
        every = list(s.scalars(select(TrainingRun)))
        models = repo.models_by_id(s, {r.output_model_id or 0 for r in every})
    for viewer in (alice, bob, alice.admin):
        me = viewer.user
        seen = [r for r in every if in_museum(r) and (me["is_admin"] or r.owner_id == me["id"] or (
            r.output_model_id and models[r.output_model_id].visibility == "public"))]
        seen.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        page = viewer.get(f"{API}/museum", params={"limit": 200}).json()
        assert [i["run_id"] for i in page["items"]] == [r.id for r in seen]
        assert page["total"] == len(seen) and len(seen) > 0
        counts: dict[str, int] = {}
        for r in seen:
            counts[r.failure_category or "uncategorized"] = counts.get(r.failure_category or "uncategorized", 0) + 1
        assert page["counts"] == counts
        second = viewer.get(f"{API}/museum", params={"limit": 5, "offset": 5}).json()
        assert [i["run_id"] for i in second["items"]] == [r.id for r in seen[5:10]]


def test_the_museum_query_reads_the_partial_index(runs, database):
    if not database.is_sqlite:
        pytest.skip("the plan is checked on SQLite (PostgreSQL chooses by its statistics)")
    alice, *_ = runs
    with database.session() as s:
        query = repo.visible_runs_query(_user(s, alice.user["id"])).where(repo.museum_condition())
        sql = select(func.count()).select_from(query.subquery()).compile(
            s.get_bind(), compile_kwargs={"literal_binds": True})
        s.execute(text("ANALYZE"))
        plan = " ".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    assert "ix_training_runs_in_museum" in plan, plan


def _user(s, user_id: int) -> User:
    user = s.get(User, user_id)
    assert user is not None
    return user


def test_research_rows_offset_pages_are_slices_of_the_preview(runs, database):
    alice, bob, _ = runs
    full = alice.get(f"{API}/research/rows", params={"limit": 500}).json()
    ids = [r["run_id"] for r in full["rows"]]
    assert ids == sorted(ids) and len(ids) == full["total"] > 10
    for offset, limit in ((0, 7), (7, 7), (len(ids) - 3, 7), (len(ids), 5), (len(ids) + 10, 5)):
        page = alice.get(f"{API}/research/rows", params={"limit": limit, "offset": offset}).json()
        assert page["total"] == full["total"]
        assert page["rows"] == full["rows"][offset:offset + limit]
    everything = alice.admin.get(f"{API}/research/rows", params={"limit": 500}).json()
    assert everything["total"] == 60 > full["total"]  # the admin's count reads every run (no join)
    with database.session() as s:
        every = list(s.scalars(select(TrainingRun).order_by(TrainingRun.id)))
        models = repo.models_by_id(s, {r.output_model_id or 0 for r in every})
    for viewer in (alice, bob):
        want = [r.id for r in every if r.owner_id == viewer.user["id"] or (
            r.output_model_id and models[r.output_model_id].visibility == "public")]
        page = viewer.get(f"{API}/research/rows", params={"limit": 500}).json()
        assert [r["run_id"] for r in page["rows"]] == want and page["total"] == len(want)
    assert alice.get(f"{API}/research/rows", params={"offset": -1}).status_code == 422


def reference_distance(mine, theirs, my_rows, their_rows) -> float:
    """The advisor's distance as it was written before it took its logarithms once (kept as the reference)."""
    def pos(v):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            return None
        return float(v)

    def term(a, b, log, scale):
        a, b = pos(a), pos(b)
        return None if a is None or b is None else abs(log(a) - log(b)) / scale

    terms = [term(mine.get("learning_rate"), theirs.get("learning_rate"), math.log10, 1.0),
             term(mine.get("r"), theirs.get("r"), math.log2, 2.0),
             term(mine.get("batch_size"), theirs.get("batch_size"), math.log2, 2.0),
             term(mine.get("max_seq_length"), theirs.get("max_seq_length"), math.log2, 2.0),
             term(my_rows, their_rows, math.log10, 2.0)]
    if mine.get("max_steps") is None and theirs.get("max_steps") is None:
        terms.append(term(mine.get("epochs"), theirs.get("epochs"), math.log2, 1.0))
    return math.sqrt(sum(t * t for t in terms if t is not None))


def test_advisor_distance_equals_the_formula_exactly():
    rng = random.Random(5)
    values = [None, 0, -1, True, "x", float("nan"), float("inf"), 1, 2, 3.5, 1e-4, 2e-4, 8, 16, 256, 1024]

    def config():
        return {k: rng.choice(values) for k in ("learning_rate", "r", "batch_size", "max_seq_length", "epochs",
                                                "max_steps") if rng.random() < 0.9}

    for _ in range(3000):
        mine, theirs = config(), config()
        rows = rng.choice([None, 0, 10, 1000]), rng.choice([None, 5, 10, 2000])
        assert advisor.Distance(mine, rows[0])(theirs, rows[1]) == reference_distance(mine, theirs, *rows)
        assert advisor.distance(mine, theirs, *rows) == reference_distance(mine, theirs, *rows)


def test_advisor_candidates_are_the_visible_finished_runs_without_their_curves(runs, database):
    alice, bob, base_id = runs
    with database.session() as s:
        data = add_dataset(s, alice.user["id"], "sized", rows=1234)
        add_run(s, alice.user["id"], base_id, name="with data", dataset_id=data.id, config={"r": 64})
        viewer = _user(s, alice.user["id"])
        got = repo.advisor_candidates(s, viewer, base_model_id=base_id, limit=2000)
        want = [r for r, _ in s.execute(repo.visible_runs_query(viewer).add_columns(TrainingRun.id)
                                        .where(TrainingRun.base_model_id == base_id,
                                               TrainingRun.status.in_(FINISHED_RUN_STATUSES))
                                        .order_by(TrainingRun.id))]
        assert [c[0] for c in got] == [r.id for r in want]
        assert [(c[1], c[2], c[3]) for c in got] == [(r.config, r.dataset_id, r.failure_category) for r in want]
        assert repo.dataset_rows(s, {data.id}) == {data.id: 1234}
        assert set(repo.runs_by_id(s, [got[0][0]])) == {got[0][0]}
