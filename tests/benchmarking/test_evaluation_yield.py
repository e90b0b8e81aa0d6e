"""A background evaluation (the hub demo's, queued below user work) yields between benchmark tasks when user work is
waiting, with the real worker and real quick evaluations of the toy: it checkpoints its finished tasks, goes back to
the queue (not a failed attempt), lets the user's job run, then resumes without redoing the finished tasks and ends
with exactly the scores of an uninterrupted evaluation."""

from __future__ import annotations

import json

import pytest

from modelmate.benchmarking import repository as bench_repo
from modelmate.benchmarking import service as bench_service
from modelmate.benchmarking.tasks import evaluation_dir
from modelmate.enums import JobKind
from modelmate.jobs import queue, registry
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs import service as jobs
from modelmate.jobs.queue import BACKGROUND_PRIORITY
from modelmate.jobs.worker import Worker
from modelmate.models import Evaluation, Job

DOMAINS = ["reading", "truthfulness"]  # boolq, truthfulqa_mc1, truthfulqa_mc2
USER_WORK: list[int] = []


@registry.register("t-user-work")
def _user_work(ctx):
    USER_WORK.append(ctx.job_id)
    return {"ok": True}


def queue_background_evaluation(database, settings, model_id: int) -> tuple[int, int]:
    """An evaluation queued as the demo's automatic evaluations are (``benchmarking.service.enqueue`` with the
    background priority), without the cache lookup (the uninterrupted one has the same settings)."""
    with database.session() as s:
        values, settings_hash = bench_service.evaluation_settings(settings, "quick", DOMAINS)
        evaluation = bench_repo.add_evaluation(s, {
            "owner_id": None, "model_id": model_id, "mode": "quick", "status": "running",
            "tasks": ["boolq", "truthfulqa_mc1", "truthfulqa_mc2"], "settings": values,
            "settings_hash": settings_hash, "harness_version": values["harness_version"]})
        job, _ = jobs.enqueue(s, kind=JobKind.EVALUATE, owner_id=None, payload={"evaluation_id": evaluation.id},
                              max_attempts=2, priority=BACKGROUND_PRIORITY)
        evaluation.job_id = job.id
        return evaluation.id, job.id


def scores(database, evaluation_id: int) -> dict:
    with database.session() as s:
        return {(r.task, r.metric): (r.value, r.stderr, r.n_samples, r.task_hash, r.status)
                for r in bench_repo.rows_of(s, evaluation_id)}


@pytest.mark.slow
def test_background_evaluation_yields_to_user_work_and_resumes_with_the_same_scores(hub, benchmark_dir, database,
                                                                                     settings):
    # the reference: one uninterrupted evaluation
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "mode": "quick", "domains": DOMAINS})
    assert r.status_code == 202, r.text
    reference = r.json()
    Worker(database, settings, kinds=["evaluate"], lease_s=30, poll_s=0.2).run_once()
    assert hub.get(f"/api/v1/evaluations/{reference['id']}").json()["status"] == "final"
    expected = scores(database, reference["id"])
    assert len(expected) >= 3

    evaluation_id, job_id = queue_background_evaluation(database, settings, reference["model_id"])
    with database.session() as s:  # a user's job arrives (queued after the evaluation, at the user priority)
        user_job, _ = jobs_repo.insert(s, kind="t-user-work", payload={}, owner_id=None)
        user_job_id = user_job.id
    assert user_job_id > job_id

    # a worker that takes the evaluation first: after its first task it sees the user's job waiting and yields
    Worker(database, settings, lease_s=30, poll_s=0.2, job_ids=[job_id]).run_once()
    with database.session() as s:
        job = s.get(Job, job_id)
        assert job.status == "queued" and job.attempts == 0 and job.error is None  # not a failed attempt
        assert job.started_at is not None and "Paused after 1 of 3" in (job.progress_message or "")
        assert queue.paused(job) and queue.queue_info(s, job, viewer_id=0).paused
        assert s.get(Evaluation, evaluation_id).status == "running"
    checkpoint = json.loads((evaluation_dir(settings, evaluation_id) / "checkpoint.json").read_text())
    assert list(checkpoint["tasks"]) == ["boolq"]
    shown = hub.get(f"/api/v1/evaluations/{evaluation_id}").json()
    assert shown["status"] == "running" and shown["job_status"] == "queued"

    # any worker now runs the user's job first, then the evaluation resumes from its checkpoint
    worker = Worker(database, settings, lease_s=30, poll_s=0.2, kinds=["evaluate", "t-user-work"])
    assert worker.run_once() is True
    assert USER_WORK[-1] == user_job_id
    with database.session() as s:
        assert s.get(Job, job_id).status == "queued"
    assert worker.run_once() is True
    with database.session() as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded" and job.attempts == 1
        assert s.get(Evaluation, evaluation_id).status == "final"
        log = job.log
    assert "task boolq done earlier: taken from the checkpoint, not run again" in log
    assert "truthfulqa_mc1 done earlier" not in log
    assert not (evaluation_dir(settings, evaluation_id) / "checkpoint.json").exists()
    assert scores(database, evaluation_id) == expected  # the same scores as the uninterrupted evaluation
    raw = hub.get(f"/api/v1/evaluations/{evaluation_id}/raw").json()
    assert set(raw) == {"boolq", "truthfulqa_mc1", "truthfulqa_mc2"}


def test_user_evaluation_does_not_yield_to_work_of_its_own_priority(hub, benchmark_dir, database, settings):
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "mode": "quick", "domains": ["reading"]})
    job_id = r.json()["job_id"]
    with database.session() as s:
        jobs_repo.insert(s, kind="t-user-work", payload={}, owner_id=None)
    Worker(database, settings, lease_s=30, poll_s=0.2, job_ids=[job_id]).run_once()
    assert hub.get(f"/api/v1/evaluations/{r.json()['id']}").json()["status"] == "final"
