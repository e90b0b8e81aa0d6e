"""Automatic evaluation after training (setting on): the trained model is queued on every configured domain and
its base once; both run for real; the base's final evaluation is then reused (no new job) — also by the API.
With the setting off (the test default) nothing is queued."""

from __future__ import annotations

import json

import pytest

from modelmate.benchmarking import service
from modelmate.jobs.worker import Worker
from modelmate.models import Evaluation, Job, Model, TrainingRun

CONFIG = {"max_steps": 2, "batch_size": 4, "max_seq_length": 64, "eval_split": 0.2, "logging_steps": 1,
          "warmup_ratio": 0.0}


def launch(client) -> dict:
    """Upload a small dataset and launch a run on the toy; returns the queued run."""
    rows = [{"text": f"Example {i}: alpha beta gamma delta epsilon zeta"} for i in range(20)]
    body = "".join(json.dumps(r) + "\n" for r in rows)
    ds = client.post("/api/v1/datasets", files={"file": ("d.jsonl", body.encode(), "application/json")},
                     data={"name": "auto", "base_model": "tiny"})
    assert ds.status_code in (200, 201), ds.text
    run = client.post("/api/v1/runs", json={"base_model": "tiny", "dataset_id": ds.json()["id"], "mode": "expert",
                                            "preset": "quick", "config": CONFIG})
    assert run.status_code == 202, run.text
    return run.json()


def train_once(client, database, settings) -> dict:
    run = launch(client)
    assert Worker(database, settings, kinds=["train"], lease_s=30, poll_s=0.2).run_once() is True
    body = client.get(f"/api/v1/runs/{run['id']}").json()
    assert body["status"] == "succeeded", body
    return body


def evaluations(database) -> list[tuple[int, int, str, int | None]]:
    with database.session() as s:
        return [(e.id, e.model_id, e.status, e.run_id) for e in s.query(Evaluation).order_by(Evaluation.id)]


def test_no_automatic_evaluation_when_the_setting_is_off(hub, database, settings):
    assert settings.auto_evaluate_enabled is False  # environment "test"
    run = train_once(hub, database, settings)
    assert evaluations(database) == []
    assert run["evaluation"] is None  # the run page claims no evaluation


@pytest.mark.slow
@pytest.mark.e2e
def test_trained_model_and_its_base_are_evaluated_after_training(hub, benchmark_dir, database, settings):
    on = settings.model_copy(update={"auto_evaluate": True, "auto_evaluate_domains": ["reading"]})
    run = train_once(hub, database, on)
    output_id = run["output_model_id"]
    with database.session() as s:
        base_id = s.get(Model, output_id).base_model_id
        assert s.query(Job).filter(Job.kind == "evaluate").count() == 2
    queued = evaluations(database)
    assert [(m, st, r) for _, m, st, r in queued] == [(output_id, "running", run["id"]), (base_id, "running", None)]
    shown = hub.get(f"/api/v1/runs/{run['id']}").json()["evaluation"]  # the run page follows the real state
    assert shown["id"] == queued[0][0] and shown["state"] == "queued" and shown["domains"] == ["reading"]
    assert shown["all_domains"] is False and shown["tasks"] == 1
    worker = Worker(database, on, kinds=["evaluate"], lease_s=30, poll_s=0.2)
    assert worker.run_until_idle() == 2
    assert [st for _, _, st, _ in evaluations(database)] == ["final", "final"]
    shown = hub.get(f"/api/v1/runs/{run['id']}").json()["evaluation"]
    assert shown["state"] == "done" and shown["progress"] == 1.0 and shown["model_id"] == output_id

    scores = hub.get(f"/api/v1/models/{output_id}/scores").json()
    reading = scores["domains"][0]
    assert reading["domain"] == "reading" and reading["score"] is not None
    assert reading["base_score"] is not None  # the same settings: a delta vs base
    assert reading["delta_vs_base"] == reading["score"] - reading["base_score"]

    # the base's baseline is cached: evaluating it again (or another trained model's base) queues nothing
    with database.session() as s:
        again = service.enqueue_after_training(s, on, output_id, owner_id=None, run_id=run["id"])
        assert again == [queued[0][0], queued[1][0]]
        assert s.query(Job).filter(Job.kind == "evaluate").count() == 2
    cached = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]})
    assert cached.status_code == 200 and cached.json()["id"] == queued[1][0] and cached.json()["cached"] is True


def test_automatic_evaluation_covers_every_domain_by_default(hub, database, settings):
    on = settings.model_copy(update={"auto_evaluate": True})
    with database.session() as s:
        tiny = s.query(Model).filter(Model.kind == "base").all()
        tiny_id = next(m.id for m in tiny if (m.hub_info or {}).get("key") == "tiny")
        ids = service.enqueue_after_training(s, on, tiny_id, owner_id=None, run_id=None)
        evaluation = s.get(Evaluation, ids[0])
        assert evaluation.settings["domains"] == ["math", "code", "knowledge", "reasoning", "reading", "truthfulness",
                                                  "translation"]
        assert evaluation.mode == "quick" and len(ids) == 1  # a base has no base of its own


def test_automatic_evaluations_keep_the_training_jobs_priority(hub, database, settings):
    """Background training (the hub demo queues below zero) must not push its evaluations ahead of users' jobs."""
    on = settings.model_copy(update={"auto_evaluate": True, "auto_evaluate_domains": ["reading"]})
    run = launch(hub)
    with database.session() as s:
        s.get(Job, s.get(TrainingRun, run["id"]).job_id).priority = -10
        s.commit()
    assert Worker(database, on, kinds=["train"], lease_s=30, poll_s=0.2).run_once() is True
    with database.session() as s:
        assert [j.priority for j in s.query(Job).filter(Job.kind == "evaluate")] == [-10, -10]
