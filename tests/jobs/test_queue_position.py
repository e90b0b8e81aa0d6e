"""The queue as users see it, on both backends, with the real worker and real training of the toy: user work runs
before background (hub demo) work queued earlier; the queue-position API (position, what runs now, the wait);
another user's job is never named; a queued run says "queued since", and is never "started" before it starts."""

from __future__ import annotations

import json

from modelmate.demo import hub_runs as demo_hub
from modelmate.finetune import service as finetune
from modelmate.finetune.schemas import RunCreate
from modelmate.jobs import queue
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs.worker import Worker
from modelmate.models import Job, User

CONFIG = {"max_steps": 2, "batch_size": 4, "max_seq_length": 64, "eval_split": 0.0, "logging_steps": 1}


def launch(client, dataset_id: int, name: str) -> dict:
    r = client.post("/api/v1/runs", json={"base_model": "tiny", "dataset_id": dataset_id, "mode": "expert",
                                          "preset": "quick", "config": dict(CONFIG), "name": name})
    assert r.status_code == 202, r.text
    return r.json()


def launch_demo(database, settings, owner_id: int, dataset_id: int, name: str) -> tuple[int, int]:
    """A run queued the way the hub demo queues its runs (``demo.hub_runs._launch``): (run id, job id)."""
    with database.session() as s:
        user = s.get(User, owner_id)
        payload = RunCreate(name=name, base_model="tiny", dataset_id=dataset_id, mode="expert", preset="quick",
                            config=dict(CONFIG))
        run = finetune.create_run(s, settings, user, payload, priority=demo_hub.PRIORITY)
        return run.id, run.job_id


def upload(client, name: str) -> dict:
    rows = [{"text": f"Example {i}: " + " ".join(["alpha", "beta", "gamma", "delta"][(i + j) % 4] for j in range(8))}
            for i in range(12)]
    body = "".join(json.dumps(r) + "\n" for r in rows)
    r = client.post("/api/v1/datasets", files={"file": ("data.jsonl", body.encode(), "application/json")},
                    data={"name": name, "base_model": "tiny"})
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_user_run_goes_ahead_of_demo_work_queued_before_it(hub, database, settings, account_client):
    alice = account_client("alice")
    ds = upload(alice, "alice data")
    demo_run, demo_job = launch_demo(database, settings, alice.user["id"], ds["id"], "Math tutor (demo)")
    mine = launch(alice, ds["id"], "my own run")
    assert demo_job < mine["job"]["id"]  # the demo was queued first

    # the demo run's page: second in the queue, behind my run (named: it is mine), queued since its launch
    page = alice.get(f"/api/v1/runs/{demo_run}").json()
    assert page["status"] == "queued" and page["started_at"] is None
    q = page["queue"]
    assert q["position"] == 2 and q["ahead"] == 1 and q["priority"] == demo_hub.PRIORITY < queue.USER_PRIORITY
    assert q["next_up"][0]["label"] == "my own run" and q["next_up"][0]["mine"] is True
    assert q["queued_since"] is not None and q["running"] == [] and q["paused"] is False
    assert q["wait_s"] is not None and q["wait_s"] > 0  # my run's estimate
    mine_page = alice.get(f"/api/v1/runs/{mine['id']}").json()
    assert mine_page["queue"]["position"] == 1 and mine_page["queue"]["ahead"] == 0

    worker = Worker(database, settings.model_copy(update={"train_threads": 1}), kinds=["train"], lease_s=30,
                    poll_s=0.2)
    assert worker.run_once() is True
    assert alice.get(f"/api/v1/runs/{mine['id']}").json()["status"] == "succeeded"
    after = alice.get(f"/api/v1/runs/{demo_run}").json()
    assert after["status"] == "queued" and after["queue"]["position"] == 1  # the demo waited
    assert worker.run_once() is True
    done = alice.get(f"/api/v1/runs/{demo_run}").json()
    assert done["status"] == "succeeded" and done["queue"] is None and done["started_at"] is not None
    with database.session() as s:
        jobs = {j.id: j for j in s.query(Job).filter(Job.id.in_([demo_job, mine["job"]["id"]]))}
        assert jobs[mine["job"]["id"]].finished_at <= jobs[demo_job].started_at  # user work first


def test_queue_api_names_only_your_own_jobs(hub, database, settings, account_client):
    alice = account_client("alice")
    bob = account_client("bob")
    a_ds = upload(alice, "alice data")
    b_ds = upload(bob, "bob data")
    secret = launch(alice, a_ds["id"], "alice secret project")
    queued_secret = launch(alice, a_ds["id"], "alice second secret")
    bobs = launch(bob, b_ds["id"], "bob's run")
    # a worker holds alice's first run (a real claim: running, leased)
    with database.session() as s:
        claim = jobs_repo.claim(s, "test-worker", kinds=["train"], lease_s=60, job_ids=[secret["job"]["id"]])
        assert claim is not None
        jobs_repo.heartbeat(s, claim.id, claim.fencing_token, lease_s=60, progress=0.5, message="step 1 of 2")

    r = bob.get(f"/api/v1/jobs/{bobs['job']['id']}/queue")
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["status"] == "queued" and q["position"] == 2 and q["ahead"] == 1
    assert [n["label"] for n in q["running"]] == [queue.ANOTHER_USER]
    assert q["running"][0]["kind"] == "train" and q["running"][0]["progress"] == 0.5
    assert q["running"][0]["progress_message"] is None and q["running"][0]["mine"] is False
    assert [n["label"] for n in q["next_up"]] == [queue.ANOTHER_USER]
    assert "secret" not in r.text
    # bob's run page says the same, never alice's names
    page = bob.get(f"/api/v1/runs/{bobs['id']}")
    assert page.json()["queue"]["position"] == 2 and "secret" not in page.text

    # alice sees her own jobs by name, with the running one's message
    mine = alice.get(f"/api/v1/jobs/{queued_secret['job']['id']}/queue").json()
    assert mine["position"] == 1 and mine["running"][0]["label"] == "alice secret project"
    assert mine["running"][0]["progress_message"] == "step 1 of 2" and mine["running"][0]["mine"] is True
    assert mine["wait_s"] is not None and mine["wait_s"] > 0

    # someone else's job is 404; a job that is not queued has position 0
    assert bob.get(f"/api/v1/jobs/{secret['job']['id']}/queue").status_code == 404
    running = alice.get(f"/api/v1/jobs/{secret['job']['id']}/queue").json()
    assert running["status"] == "running" and running["position"] == 0 and running["running"] == []


def test_remaining_time_from_progress_or_estimate():
    from datetime import timedelta

    from modelmate.db.base import utcnow

    now = utcnow()
    job = Job(kind="train", status="running", progress=0.25, attempts=1, started_at=now - timedelta(seconds=60))
    assert queue.remaining_s(job, 1000.0, now) == 180.0  # 60 s for a quarter: 180 s for the rest
    job.started_at = now - timedelta(seconds=1)  # too early to extrapolate: the estimate's remainder
    assert queue.remaining_s(job, 1000.0, now) == 750.0
    job.attempts = 2  # resumed after a pause: elapsed time since the first start says little
    job.started_at = now - timedelta(seconds=600)
    assert queue.remaining_s(job, 1000.0, now) == 750.0
    assert queue.remaining_s(Job(kind="evaluate", status="running", progress=0.0, attempts=1, started_at=now),
                             None, now) is None
    assert queue.remaining_s(Job(kind="train", status="queued", progress=0.0), 42.0, now) == 42.0
