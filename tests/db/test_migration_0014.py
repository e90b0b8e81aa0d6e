"""Migration 0014: ``run_curve_points`` backfilled from every run's curve with the application's bucketing (its frozen
copy is compared with :mod:`modelmate.training.curve_buckets`), and dropped again on downgrade."""

from __future__ import annotations

import importlib.util
import random

import pytest
from sqlalchemy import inspect, select

from modelmate.db import migrate
from modelmate.models import Model, RunCurvePoint, TrainingRun, User
from modelmate.training.curve_buckets import curve_buckets

VERSIONS = migrate.__file__.replace("migrate.py", "migrations/versions/0014_run_curve_points.py")


def _frozen():
    spec = importlib.util.spec_from_file_location("m0014", VERSIONS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frozen_copy_matches_the_application() -> None:
    frozen, rng = _frozen(), random.Random(3)
    for step in range(0, 200_000, 7):
        assert frozen._bucket(step) == curve_buckets([{"step": step, "loss": 1.0}])[0].bucket
    curve = [{"step": s, "loss": rng.random()} for s in range(0, 3000, 3)] + [
        {"step": 4000, "loss": "nan"}, {"step": 4001, "eval_loss": 1.0}, {"step": True, "loss": 1.0}, "junk"]
    want = [{"run_id": 1, "bucket": p.bucket, "loss": pytest.approx(p.loss), "points": p.points,
             "last_step": p.last_step} for p in curve_buckets(curve)]
    assert frozen._rows(1, curve) == want


def test_backfill_and_downgrade(database) -> None:
    rng = random.Random(5)
    curves = [[{"step": s, "loss": rng.uniform(0.5, 3)} for s in range(1, n)] for n in (2, 50, 900)] + [[]]
    with database.session() as s:
        user = User(username="curves")
        s.add(user)
        s.flush()
        base = Model(name="b", name_key="b", developer_key="", kind="base", visibility="public", source_links=[],
                     benchmark_scores={}, hub_info={}, metadata_extra={})
        s.add(base)
        s.flush()
        runs = [TrainingRun(owner_id=user.id, base_model_id=base.id, config={}, loss_curve_data=c) for c in curves]
        s.add_all(runs)
        s.commit()
        ids = [r.id for r in runs]
    migrate.downgrade(database, "0013")
    with database.engine.connect() as conn:
        assert "run_curve_points" not in inspect(conn).get_table_names()
        assert "ix_training_runs_base_created" not in {i["name"] for i in inspect(conn).get_indexes("training_runs")}
    migrate.upgrade(database)
    with database.session() as s:
        for run_id, curve in zip(ids, curves, strict=True):
            got = [(p.bucket, p.loss, p.points, p.last_step) for p in s.scalars(
                select(RunCurvePoint).where(RunCurvePoint.run_id == run_id).order_by(RunCurvePoint.bucket))]
            assert got == [(p.bucket, pytest.approx(p.loss), p.points, p.last_step) for p in curve_buckets(curve)]
        assert s.scalar(select(RunCurvePoint.run_id).where(RunCurvePoint.run_id == ids[3])) is None
