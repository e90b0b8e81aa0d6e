"""GET /api/v1/jobs: owner only (another user's job is 404), filters; the worker runs with the app."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from modelmate.app import create_app
from modelmate.config import Settings
from modelmate.jobs import repository as repo


def test_jobs_are_private_to_their_owner(app, client, account_client, database):
    alice = account_client("alice")
    bob = account_client("bob")
    with database.session() as s:
        a_job, _ = repo.insert(s, kind="enrich", payload={"scope": "entries"}, owner_id=alice.user["id"])
        repo.insert(s, kind="embed", payload={"entry_id": 1}, owner_id=bob.user["id"])
    r = alice.get(f"/api/v1/jobs/{a_job.id}")
    assert r.status_code == 200 and r.json()["kind"] == "enrich" and r.json()["status"] == "queued"
    assert bob.get(f"/api/v1/jobs/{a_job.id}").status_code == 404
    assert bob.post(f"/api/v1/jobs/{a_job.id}/cancel").status_code == 404
    assert [j["id"] for j in alice.get("/api/v1/jobs").json()["items"]] == [a_job.id]
    assert alice.get("/api/v1/jobs", params={"kind": "embed"}).json()["total"] == 0
    assert bob.get("/api/v1/jobs", params={"kind": "embed", "status": "queued"}).json()["total"] == 1
    assert alice.get("/api/v1/jobs", params={"status": "nonsense"}).status_code == 422
    r = alice.post(f"/api/v1/jobs/{a_job.id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def test_lifespan_starts_and_stops_the_worker(tmp_path, database):
    settings = Settings(data_dir=tmp_path / "d", database_url=database.url, seed_demo=False, environment="test",
                        run_worker=True, semantic_enabled=False)
    app = create_app(settings, database=database)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        worker = app.state.worker
        assert worker is not None and worker.running
        entry = c.post("/api/v1/entries", json={"name": "Worker test"}).json()
        jobs = c.get("/api/v1/jobs", params={"kind": "embed"}).json()["items"]
        assert len(jobs) == 1
        deadline = time.monotonic() + 20
        while c.get(f"/api/v1/jobs/{jobs[0]['id']}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline, "the worker did not run the job"
            time.sleep(0.1)
        assert c.get(f"/api/v1/jobs/{jobs[0]['id']}").json()["result"] == {"skipped": "semantic search is turned off"}
        assert entry["id"]
    assert not worker.running
    default = create_app(Settings(data_dir=tmp_path / "e", database_url=database.url, seed_demo=False,
                                  environment="test"), database=database)
    with TestClient(default, base_url="http://127.0.0.1:8000"):
        assert default.state.worker is None  # tests run jobs explicitly unless they ask for the worker
