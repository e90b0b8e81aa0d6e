"""Every writer of a run's curve keeps its compact curve (``run_curve_points``) in step: the training job's fenced
update, the external-run API (points appended, resent, merged) and an MLflow re-import's reset."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from modelmate.finetune import external
from modelmate.finetune import repository as repo
from modelmate.jobs import repository as jobs_repo
from modelmate.models import RunCurvePoint, TrainingRun
from modelmate.training.curve_buckets import curve_buckets

API = "/api/v1"
PEFT = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": ["q_proj"],
        "base_model_name_or_path": "/somewhere/tiny", "bias": "none", "task_type": "CAUSAL_LM"}


def stored(database, run_id: int) -> list[tuple[int, float, int, int]]:
    with database.session() as s:
        return [(p.bucket, p.loss, p.points, p.last_step) for p in s.scalars(
            select(RunCurvePoint).where(RunCurvePoint.run_id == run_id).order_by(RunCurvePoint.bucket))]


def expected(database, run_id: int) -> list[tuple[int, float, int, int]]:
    with database.session() as s:
        curve = s.get(TrainingRun, run_id).loss_curve_data
    return [(p.bucket, pytest.approx(p.loss), p.points, p.last_step) for p in curve_buckets(curve)]


@pytest.fixture
def token(hub, account_client):
    c = account_client("alice")
    return {"Authorization": "Bearer " + c.post(f"{API}/auth/tokens", json={"name": "sdk", "scopes": ["read",
                                                                                                    "write"]}
                                                   ).json()["token"]}


def test_external_points_and_mlflow_reset(hub, token, database):
    run = hub.post(f"{API}/runs/external", json={"base_model": "tiny", "peft_config": PEFT, "name": "elsewhere"},
                   headers=token).json()
    rid = run["id"]
    assert stored(database, rid) == []
    first = [{"step": s, "loss": 3.0 - s / 100} for s in range(1, 40)]
    assert hub.post(f"{API}/runs/external/{rid}/points", json={"points": first}, headers=token).status_code == 200
    after_first = stored(database, rid)
    assert after_first == expected(database, rid) and after_first[-1][3] == 39
    # a resent batch changes nothing; an eval-only point adds no training loss; a NaN loss is left out
    more = [{"step": 39, "loss": 2.61}, {"step": 40, "eval_loss": 2.5}, {"step": 41, "loss": float("nan")},
            {"step": 120, "loss": 1.0}]
    assert hub.post(f"{API}/runs/external/{rid}/points", json={"points": first}, headers=token).status_code == 200
    assert stored(database, rid) == after_first
    resp = hub.post(f"{API}/runs/external/{rid}/points", content=json.dumps({"points": more}),
                    headers={**token, "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    with database.session() as s:
        assert s.get(TrainingRun, rid).loss_curve_data[-2]["loss"] == "nan"  # kept in the full curve
    rows = stored(database, rid)
    assert rows == expected(database, rid) and rows[-1][3] == 120 and all(r[3] != 40 for r in rows)
    with database.session() as s:  # an MLflow re-import empties the curve first
        external.reset_curve(s, s.get(TrainingRun, rid))
        s.commit()
    assert stored(database, rid) == []


def test_training_job_fenced_update(hub, upload, database):
    ds = upload(hub)
    run = hub.post(f"{API}/runs", json={"base_model": "tiny", "dataset_id": ds["id"], "preset": "quick"}).json()
    with database.session() as s:
        claim = jobs_repo.claim(s, "w1", kinds=["train"], lease_s=30)
    curve = [{"step": s, "loss": 2.0 / s, "lr": 1e-4} for s in range(1, 70)]
    for upto in (10, 69):
        with database.session() as s:
            ok, _ = repo.fenced_run_update(s, job_id=claim.id, token=claim.fencing_token, lease_s=30,
                                           run_id=run["id"], values={"loss_curve_data": curve[:upto]})
            assert ok
        rows = stored(database, run["id"])
        assert rows == expected(database, run["id"]) and rows[-1][3] == upto
    with database.session() as s:  # a stale worker (lost lease) writes nothing, its compact curve neither
        ok, _ = repo.fenced_run_update(s, job_id=claim.id, token=claim.fencing_token + 1, lease_s=30,
                                       run_id=run["id"], values={"loss_curve_data": curve[:5]})
        assert not ok
    assert stored(database, run["id"])[-1][3] == 69
