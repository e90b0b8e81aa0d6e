"""The capability-change aggregates read maintained totals (``research.change_totals`` and the repository's
``refresh_change_totals``): after every kind of write they read, they equal the aggregates computed the old way (one
GROUP BY over every visible change, kept here as the reference) for every viewer — anonymous, the owners, an
admin — and migration 0012 backfills the same totals."""

from __future__ import annotations

import random

import pytest
from research_world import add_dataset, add_model, add_run
from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import aliased

from modelmate.db import migrate
from modelmate.models import (
    CapabilityChange,
    CapabilityChangeFact,
    CapabilityChangeTotal,
    Dataset,
    Model,
    TrainingRun,
    User,
)
from modelmate.research import changes
from modelmate.research import repository as repo


def _visible(model, viewer):
    if viewer is None:
        return model.visibility == "public"
    if viewer.is_admin:
        return true()
    return (model.visibility == "public") | (model.owner_id == viewer.id)


def reference(session, viewer, by: str):
    """The aggregates as computed before the totals: a GROUP BY over every visible domain-level change."""
    mine, ref = aliased(Model), aliased(Model)
    source = (select(CapabilityChange).join(mine, mine.id == CapabilityChange.model_id)
              .join(ref, ref.id == CapabilityChange.reference_model_id))
    if by == "base":
        key = mine.base_model_id
        source = source.where(mine.base_model_id.is_not(None))
    else:
        first = (select(TrainingRun.output_model_id.label("model_id"), func.min(TrainingRun.id).label("run_id"))
                 .where(TrainingRun.output_model_id.is_not(None)).group_by(TrainingRun.output_model_id).subquery())
        key = func.coalesce(func.nullif(Dataset.domain, ""), "unknown")
        source = (source.outerjoin(first, first.c.model_id == CapabilityChange.model_id)
                  .outerjoin(TrainingRun, TrainingRun.id == first.c.run_id)
                  .outerjoin(Dataset, Dataset.id == TrainingRun.dataset_id))
    flagged = {d: func.sum(case((and_(CapabilityChange.flagged.is_(True), CapabilityChange.direction == d), 1),
                                else_=0)) for d in ("up", "down")}
    stmt = (source.with_only_columns(key, CapabilityChange.domain, func.avg(CapabilityChange.delta),
                                     func.count(func.distinct(CapabilityChange.model_id)), flagged["up"],
                                     flagged["down"], maintain_column_froms=False)
            .where(CapabilityChange.task.is_(None), _visible(mine, viewer), _visible(ref, viewer))
            .group_by(key, CapabilityChange.domain))
    return sorted((k, d, float(m), int(n), int(u or 0), int(w or 0)) for k, d, m, n, u, w in session.execute(stmt))


def assert_same(database, viewers) -> int:
    compared = 0
    with database.session() as s:
        for viewer_id in viewers:
            viewer = s.get(User, viewer_id) if viewer_id is not None else None
            for by in ("training_domain", "base"):
                want = reference(s, viewer, by)
                got = sorted(repo.domain_change_aggregates(s, viewer, by=by))
                assert [g[:2] + g[3:] for g in got] == [w[:2] + w[3:] for w in want], (viewer_id, by)
                for g, w in zip(got, want, strict=True):
                    assert g[2] == pytest.approx(w[2], abs=1e-9)
                compared += len(want)
    return compared


def change_rows(rng: random.Random, domains=("math", "code", "reading")) -> list[dict]:
    out = []
    for d in domains:
        delta = rng.uniform(-0.2, 0.2)
        out.append({"domain": d, "task": None, "delta": delta, "flagged": abs(delta) > 0.08,
                    "reference_kind": "base", "direction": "up" if delta > 0 else "down"})
        out.append({"domain": d, "task": f"{d}-task", "delta": rng.uniform(-1, 1), "flagged": True,
                    "reference_kind": "base", "direction": "up"})  # task-level rows are not aggregated
    return out


@pytest.fixture
def people(account_client):
    admin = account_client("overseer")
    alice, bob = account_client("alice"), account_client("bob")
    return admin.user["id"], alice.user["id"], bob.user["id"]


def test_totals_follow_every_write_they_read(people, database):
    admin, alice, bob = people
    viewers = (None, admin, alice, bob)
    rng = random.Random(9)
    with database.session() as s:
        base = add_model(s, "Base", kind="base", visibility="public")
        other = add_model(s, "Other", kind="base", visibility="public")
        math_set = add_dataset(s, alice, "m", domain="math")
        code_set = add_dataset(s, bob, "c", domain="code")
        blank = add_dataset(s, bob, "blank", domain="")
        tunes = []
        for i in range(12):
            owner = (alice, bob, None)[i % 3]
            model = add_model(s, f"T{i}", owner_id=owner, base_id=(base, other)[i % 2].id,
                              visibility="public" if i % 4 else "private")
            add_run(s, owner or alice, model.base_model_id, output_id=model.id,
                    dataset_id=(math_set, code_set, blank, None)[i % 4] and (math_set, code_set, blank, None)[i % 4].id)
            repo.replace_changes(s, model.id, model.base_model_id, change_rows(rng))
            tunes.append(model.id)
        fork = add_model(s, "Fork", owner_id=bob, base_id=base.id, parent_id=tunes[1], visibility="private")
        repo.replace_changes(s, fork.id, tunes[1], change_rows(rng))  # against a private-ish parent
        ids = {"base": base.id, "other": other.id, "fork": fork.id, "math": math_set.id}
    assert assert_same(database, viewers) > 0
    with database.session() as s:  # changes recomputed (new deltas), and cleared
        repo.replace_changes(s, tunes[2], ids["base"], change_rows(rng, ("math", "truthfulness")))
        repo.clear_changes(s, tunes[3])
    assert_same(database, viewers)
    with database.session() as s:  # visibility and owner of a model and of a reference
        s.get(Model, tunes[0]).visibility = "public"
        s.get(Model, tunes[5]).owner_id = alice
        s.get(Model, tunes[1]).visibility = "private"  # the fork's reference
    assert_same(database, viewers)
    with database.session() as s:  # the base changes; an earlier run with another dataset becomes the first
        s.get(Model, tunes[4]).base_model_id = ids["other"]
        early = s.get(TrainingRun, s.scalar(select(func.min(TrainingRun.id))))
        early.output_model_id = tunes[6]
    assert_same(database, viewers)
    with database.session() as s:  # a dataset's domain changes; a run is deleted
        s.get(Dataset, ids["math"]).domain = "reading"
        s.delete(s.scalars(select(TrainingRun).where(TrainingRun.output_model_id == tunes[7])).first())
    assert_same(database, viewers)
    with database.session() as s:  # a model (and with it its changes) deleted
        s.delete(s.get(Model, ids["fork"]))
    assert_same(database, viewers)
    with database.session() as s:
        stored = {(t.grouping, t.key, t.domain, t.scope): t.n_models for t in s.scalars(select(CapabilityChangeTotal))}
        facts = s.scalar(select(func.count()).select_from(CapabilityChangeFact))
        repo.rebuild_change_totals(s)  # from scratch: the same non-empty totals
        rebuilt = {(t.grouping, t.key, t.domain, t.scope): t.n_models for t in s.scalars(select(CapabilityChangeTotal))}
        assert {k: v for k, v in stored.items() if v} == rebuilt
        assert s.scalar(select(func.count()).select_from(CapabilityChangeFact)) == facts


def test_a_user_never_sees_aggregates_over_another_users_private_models(people, database, account_client):
    admin, alice, bob = people
    rng = random.Random(1)
    with database.session() as s:
        base = add_model(s, "Base", kind="base", visibility="public")
        mine = add_model(s, "Alice's secret", owner_id=alice, base_id=base.id)
        repo.replace_changes(s, mine.id, base.id, change_rows(rng))
    with database.session() as s:
        assert repo.domain_change_aggregates(s, s.get(User, bob), by="base") == []
        assert repo.domain_change_aggregates(s, None, by="training_domain") == []
        assert len(repo.domain_change_aggregates(s, s.get(User, alice), by="base")) == 3
        assert len(repo.domain_change_aggregates(s, s.get(User, admin), by="training_domain")) == 3
        assert changes.aggregates(s, s.get(User, bob)).by_base == []


def test_migration_0012_backfills_the_totals(people, database):
    admin, alice, bob = people
    rng = random.Random(4)
    with database.session() as s:
        base = add_model(s, "Base", kind="base", visibility="public")
        data = add_dataset(s, alice, "m", domain="math")
        for i in range(6):
            model = add_model(s, f"T{i}", owner_id=(alice, bob)[i % 2], base_id=base.id,
                              visibility="public" if i % 3 else "private")
            add_run(s, alice, base.id, output_id=model.id, dataset_id=data.id if i % 2 else None)
            repo.replace_changes(s, model.id, base.id, change_rows(rng))
    with database.session() as s:
        before = sorted(tuple(getattr(t, c) for c in ("grouping", "key", "domain", "scope", "n_models", "n_changes",
                                                       "sum_delta_e12", "n_up", "n_down"))
                        for t in s.scalars(select(CapabilityChangeTotal)))
    assert before
    migrate.downgrade(database, "0011")
    migrate.upgrade(database)
    with database.session() as s:
        after = sorted(tuple(getattr(t, c) for c in ("grouping", "key", "domain", "scope", "n_models", "n_changes",
                                                      "sum_delta_e12", "n_up", "n_down"))
                       for t in s.scalars(select(CapabilityChangeTotal)))
    assert after == before
    assert_same(database, (None, admin, alice, bob))
