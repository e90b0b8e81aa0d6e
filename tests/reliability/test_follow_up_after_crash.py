"""Nothing lost between processes (issue 16): a worker killed right after a training run's outcome commits, before
it delivers the follow-up, loses nothing — the next worker queues the automatic evaluation, exactly once.

The worker is a real child process running the real train handler (a real training child on the toy model); its
outbox fast path is replaced by ``os._exit``, so it dies exactly between the commit and the delivery."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

from sqlalchemy import select

from modelmate.benchmarking.tasks import evaluate_trained_model
from modelmate.db.base import utcnow
from modelmate.jobs import outbox
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs.registry import EventDelivery
from modelmate.jobs.worker import Worker
from modelmate.models import Evaluation, Job, OutboxEvent, TrainingRun

CONFIG = {"max_steps": 2, "batch_size": 4, "max_seq_length": 64, "eval_split": 0.2, "logging_steps": 1,
          "warmup_ratio": 0.0}
DIED = 86

CRASHING_WORKER = textwrap.dedent(f"""
    import os
    from modelmate.config import Settings
    from modelmate.db.engine import Database
    from modelmate.jobs import outbox
    from modelmate.jobs.worker import Worker

    def die(db, settings, ids):  # the fast path, right after the outcome's commit
        print("outcome committed; dying before delivering", list(ids), flush=True)
        os._exit({DIED})

    outbox.deliver = die
    settings = Settings()
    Worker(Database.from_settings(settings), settings, kinds=["train"], lease_s=60).run_once()
    print("the worker survived", flush=True)
""")


def launch(client) -> int:
    body = "".join(f'{{"text": "Example {i}: alpha beta gamma delta epsilon zeta"}}\n' for i in range(20))
    ds = client.post("/api/v1/datasets", files={"file": ("d.jsonl", body.encode(), "application/json")},
                     data={"name": "crash", "base_model": "tiny"})
    assert ds.status_code in (200, 201), ds.text
    run = client.post("/api/v1/runs", json={"base_model": "tiny", "dataset_id": ds.json()["id"], "mode": "expert",
                                            "preset": "quick", "config": CONFIG})
    assert run.status_code == 202, run.text
    return run.json()["id"]


def evaluate_jobs(database) -> int:
    with database.session() as s:
        return s.query(Job).filter(Job.kind == "evaluate").count()


def test_a_worker_killed_between_the_outcome_and_its_follow_up_loses_nothing(hub, database, settings, tmp_path):
    run_id = launch(hub)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MODELMATE_")}
    env = {**inherited, "MODELMATE_DATABASE_URL": database.url, "MODELMATE_DATA_DIR": str(settings.data_dir),
           "MODELMATE_ENVIRONMENT": "test", "MODELMATE_TRAIN_THREADS": "1", "MODELMATE_SEMANTIC_ENABLED": "false"}
    child = subprocess.run([sys.executable, "-c", CRASHING_WORKER], env=env, capture_output=True, text=True,
                           timeout=600)
    assert child.returncode == DIED, child.stdout + child.stderr

    with database.session() as s:  # the outcome is stored, its follow-up recorded but not delivered
        run = s.get(TrainingRun, run_id)
        assert run.status == "succeeded" and run.output_model_id is not None
        model_id, train_job_id = run.output_model_id, run.job_id
        [event] = s.scalars(select(OutboxEvent).where(OutboxEvent.event == "model_trained"))
        assert event.status == "pending" and event.payload["model_id"] == model_id
        assert s.get(Job, train_job_id).status == "running"  # the dead worker still holds its lease
    assert evaluate_jobs(database) == 0

    on = settings.model_copy(update={"auto_evaluate": True, "auto_evaluate_domains": ["reading"]})
    worker = Worker(database, on, kinds=["train"], lease_s=30, poll_s=0.2)
    assert worker.run_once() is False  # no job it may run yet, but it delivers the event
    assert evaluate_jobs(database) == 2  # the trained model and its base
    with database.session() as s:
        assert s.get(OutboxEvent, event.id).status == "delivered"
        assert [e.model_id for e in s.scalars(select(Evaluation).where(Evaluation.run_id == run_id))] == [model_id]

    with database.session() as s:  # the dead worker's lease runs out: the job is retried …
        assert jobs_repo.reclaim_expired(s, now=utcnow() + timedelta(minutes=5)) == 1
    assert worker.run_once() is True
    with database.session() as s:
        job = s.get(Job, train_job_id)
        assert job.status == "succeeded" and job.result["already_finished"] is True  # … and records nothing again
        assert s.query(OutboxEvent).count() == 1

    # delivering twice never queues twice: nothing is pending, and the subscriber itself queues nothing new
    assert outbox.dispatch_pending(database, on) == 0 and outbox.deliver(database, on, [event.id]) == 0
    with database.session() as s:
        evaluate_trained_model(EventDelivery(db=database, settings=on, event_id=event.id, job_id=train_job_id,
                                             attempt=2, session=s), model_id=model_id, run_id=run_id, owner_id=None)
    assert evaluate_jobs(database) == 2
