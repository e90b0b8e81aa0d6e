"""The hub demo: real datasets and real runs on the toy, trained by the real worker; planned once, for a user who
never used the hub; its jobs (and the evaluations they lead to) queue behind the user's; the fork follows its
parent's success; the museum gets its two categories; the app starts it only when asked."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modelmate.app import create_app
from modelmate.demo import hub as hub_demo
from modelmate.jobs.worker import Worker
from modelmate.models import Dataset, Job, Model, TrainingRun, User


@pytest.fixture(autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def local_user(database) -> int:
    with database.session() as s:
        return s.scalars(select(User.id).where(User.is_local.is_(True))).one()


def runs(database) -> dict[str, TrainingRun]:
    with database.session() as s:
        out = {r.name: r for r in s.scalars(select(TrainingRun).order_by(TrainingRun.id))}
        s.expunge_all()
        return out


def job_priorities(database, kind: str) -> list[int]:
    with database.session() as s:
        return list(s.scalars(select(Job.priority).where(Job.kind == kind).order_by(Job.id)))


def test_the_datasets_are_real_uploads_in_a_format_the_trainer_reads():
    for dataset in (hub_demo.SUPPORT, hub_demo.FRIENDLY, hub_demo.EMAILS):
        rows = [json.loads(line) for line in dataset.body.decode().splitlines()]
        assert len(rows) >= 12
        assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in rows)
    assert all(r["messages"][1]["content"].endswith(hub_demo._SIGN_OFF)
               for r in map(json.loads, hub_demo.FRIENDLY.body.decode().splitlines()))


def test_the_demo_family_is_trained_for_real_and_fills_the_museum(hub, database, settings):
    user_id = local_user(database)
    queued = hub_demo.plan(database, settings, user_id)
    assert len(queued) == 3
    assert hub_demo.plan(database, settings, user_id) == []  # once
    assert job_priorities(database, "train") == [hub_demo.PRIORITY] * 3
    with database.session() as s:
        assert sorted(d.name for d in s.scalars(select(Dataset))) == sorted(
            d.name for d in (hub_demo.SUPPORT, hub_demo.FRIENDLY, hub_demo.EMAILS))

    assert Worker(database, settings, kinds=["train"], lease_s=60, poll_s=0.2).run_until_idle() == 3
    done = runs(database)
    helper = done[hub_demo.HELPER.name]
    assert (helper.status, helper.training_outcome) == ("succeeded", "success") and helper.output_model_id
    assert len(helper.loss_curve_data) == 40
    slow = done[hub_demo.TOO_SLOW.name]
    assert (slow.status, slow.failure_category) == ("succeeded", "no_learning")
    short = done[hub_demo.TOO_SHORT.name]
    assert (short.status, short.training_outcome, short.failure_category) == ("failed", "failure", "invalid_data")
    museum = hub.get("/api/v1/museum").json()
    assert museum["counts"] == {"no_learning": 1, "invalid_data": 1}

    # the fork follows its parent's success: queued by the watcher, trained by the worker, both published
    stop = threading.Event()
    watcher = threading.Thread(target=hub_demo.fork_when_ready, args=(database, settings, user_id, stop))
    watcher.start()
    try:
        deadline = time.monotonic() + 30
        while hub_demo.FRIENDLIER.name not in runs(database) and time.monotonic() < deadline:
            time.sleep(0.2)
        fork = runs(database)[hub_demo.FRIENDLIER.name]
        assert fork.parent_model_id == helper.output_model_id and fork.base_model_id == helper.base_model_id
        assert job_priorities(database, "train")[-1] == hub_demo.PRIORITY
        assert Worker(database, settings, kinds=["train"], lease_s=60, poll_s=0.2).run_until_idle() == 1
        watcher.join(30)
        assert not watcher.is_alive()
    finally:
        stop.set()
        watcher.join(5)
    fork = runs(database)[hub_demo.FRIENDLIER.name]
    assert fork.status == "succeeded" and fork.output_model_id
    with database.session() as s:
        for model_id, description in ((helper.output_model_id, hub_demo.HELPER.description),
                                      (fork.output_model_id, hub_demo.FRIENDLIER.description)):
            model = s.get(Model, model_id)
            assert (model.visibility, model.description) == ("public", description)
        assert s.get(Model, fork.output_model_id).parent_model_id == helper.output_model_id
    lineage = hub.get(f"/api/v1/lineage?model_id={fork.output_model_id}").json()
    assert {e["source"] for e in lineage["edges"] if e["target"] == f"m{fork.output_model_id}"} >= {
        f"m{helper.output_model_id}"}

    # a second watcher (the next start) finds the fork and launches nothing
    assert hub_demo.fork_when_ready(database, settings, user_id, threading.Event()) is None
    assert len(runs(database)) == 4


def test_a_user_who_used_the_hub_gets_no_demo(hub, database, settings):
    body = b'{"text": "my own example"}\n' * 4
    r = hub.post("/api/v1/datasets", files={"file": ("mine.jsonl", body, "application/json")}, data={"name": "mine"})
    assert r.status_code == 201, r.text
    assert hub_demo.plan(database, settings, local_user(database)) == []
    assert runs(database) == {}


def test_no_fork_when_the_user_deleted_its_dataset(hub, database, settings):
    user_id = local_user(database)
    hub_demo.plan(database, settings, user_id)
    with database.session() as s:
        friendly = s.scalars(select(Dataset).where(Dataset.name == hub_demo.FRIENDLY.name)).one()
    assert hub.delete(f"/api/v1/datasets/{friendly.id}").status_code == 204
    assert Worker(database, settings, kinds=["train"], lease_s=60, poll_s=0.2,
                  job_ids=[r.job_id for r in runs(database).values() if r.name == hub_demo.HELPER.name]
                  ).run_until_idle() == 1
    assert hub_demo.fork_when_ready(database, settings, user_id, threading.Event()) is None
    assert hub_demo.FRIENDLIER.name not in runs(database)


def test_the_app_starts_the_demo_only_when_asked(hub, database, settings):
    assert settings.hub_demo_enabled is False  # environment "test"
    app = create_app(settings.model_copy(update={"hub_demo": True, "seed_base_models": True}), database=database)
    with TestClient(app, base_url="http://127.0.0.1:8000"):
        deadline = time.monotonic() + 30
        while len(runs(database)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert sorted(runs(database)) == sorted(r.name for r in hub_demo.PLANNED)


def test_the_demo_waits_for_the_toy(client, database, settings):
    """Without the toy (its build failed or is off) nothing is planned."""
    thread, stop = hub_demo.start(database, settings, local_user(database))
    thread.join(30)
    stop.set()
    assert not thread.is_alive() and runs(database) == {}
