"""The fine-tuning API on both backends: base models, options, estimates, launching (422 before anything is
queued, 404 for unknown or foreign objects, Idempotency-Key), cancelling a queued run, isolation, reconciling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelmate.db.base import utcnow
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as repo
from modelmate.finetune import service
from modelmate.jobs import repository as jobs_repo
from modelmate.models import Job, TrainingRun

QUICK = {"max_steps": 4, "batch_size": 4, "max_seq_length": 64}


def launch(client, dataset_id: int, **fields):
    headers = {"Idempotency-Key": fields.pop("key")} if "key" in fields else {}
    body = {"base_model": "tiny", "dataset_id": dataset_id, "preset": "quick", "config": dict(QUICK), **fields}
    return client.post("/api/v1/runs", json=body, headers=headers)


def counts(database) -> tuple[int, int]:
    with database.session() as s:
        return s.query(Job).filter(Job.kind == "train").count(), s.query(TrainingRun).count()


def test_base_models_are_seeded_once_with_the_toy_labelled(hub, settings, database):
    models = hub.get("/api/v1/base-models").json()
    keys = [m["key"] for m in models]
    assert keys[0] == "tiny" and len(keys) == 10
    assert {"smollm2-135m-instruct", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "mistral-7b-v0.3",
            "phi-3-mini", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-7b"} <= set(keys)
    tiny = models[0]
    assert tiny["toy"] is True and tiny["available"] is True and "toy" in tiny["name"].lower()
    assert "TOY" in tiny["description"] and tiny["default_target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    llama = next(m for m in models if m["key"] == "llama-3.2-1b")
    assert llama["hf_repo_id"] == "meta-llama/Llama-3.2-1B" and llama["gated"] and not llama["toy"]
    assert llama["available"] is False and "MODELMATE_HF_TOKEN" in llama["unavailable_reason"]
    qwen = next(m for m in models if m["key"] == "qwen2.5-0.5b")
    assert qwen["available"] is True and qwen["parameters"] == 494_032_768
    bases.seed_base_models(database, settings)  # idempotent
    bases.seed_base_models(database, settings)
    assert len(hub.get("/api/v1/base-models").json()) == 10
    catalog = hub.get("/api/v1/models", params={"kind": "base", "limit": 100}).json()
    assert catalog["total"] == 10


def test_seeding_adopts_a_public_catalog_row_for_the_same_repository(client, settings, database):
    r = client.post("/api/v1/models", json={"name": "Qwen 0.5B (mine)", "hf_repo_id": "qwen/qwen2.5-0.5b",
                                                   "visibility": "public"})
    assert r.status_code == 201
    bases.seed_base_models(database, settings)
    models = client.get("/api/v1/base-models").json()
    adopted = next(m for m in models if m["key"] == "qwen2.5-0.5b")
    assert adopted["id"] == r.json()["id"] and adopted["architecture"] == "Qwen2ForCausalLM"
    assert "tiny" not in [m["key"] for m in models]  # not built in this data dir


def test_training_options_explain_every_field(client):
    body = client.get("/api/v1/training/options").json()
    fields = {f["name"]: f for f in body["fields"]}
    assert {"r", "alpha", "learning_rate", "epochs", "max_steps", "packing", "eval_split"} <= set(fields)
    assert all(f["help"] and len(f["help"]) > 10 for f in body["fields"])
    assert fields["r"]["minimum"] == 1 and fields["lr_scheduler"]["choices"]
    assert [p["key"] for p in body["presets"]] == ["quick", "balanced", "thorough"]
    assert all(p["explanation"] for p in body["presets"])


def test_estimate_before_launch(hub, upload):
    ds = upload(hub)
    r = hub.post("/api/v1/training/estimate", json={"base_model": "tiny", "dataset_id": ds["id"], "preset": "quick"})
    assert r.status_code == 200, r.text
    est = r.json()
    assert est["steps"] >= 1 and est["seconds"] > 0 and est["peak_memory_bytes"] > 0 and est["device"] == "cpu"
    assert est["config"]["r"] == 8 and any("TOY" in n for n in est["notes"])
    assert est["device_memory_bytes"] > 0 and isinstance(est["fits"], bool)  # this machine's memory
    bad = hub.post("/api/v1/training/estimate", json={"base_model": "tiny", "dataset_id": ds["id"],
                                                      "config": {"learning_rate": -1}})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["errors"][0]["field"] == "learning_rate"
    assert hub.post("/api/v1/training/estimate", json={"base_model": "nope", "dataset_id": ds["id"]}).status_code == 404
    assert hub.post("/api/v1/training/estimate", json={"base_model": "tiny", "dataset_id": 999}).status_code == 404


def test_estimate_warns_when_the_run_will_not_fit_the_worker_and_launch_still_works(hub, upload, settings):
    """MODELMATE_WORKER_MEMORY_BYTES is the worker's memory: a toy run (~0.45 GiB) on a 0.3 GiB worker is a warning
    with the memory savers that would help, never a refusal; on a big worker it fits."""
    ds = upload(hub)
    body = {"base_model": "tiny", "dataset_id": ds["id"], "preset": "quick", "config": dict(QUICK)}
    settings.worker_memory_bytes = 300 * 2**20
    est = hub.post("/api/v1/training/estimate", json=body).json()
    assert est["device_memory_bytes"] == 300 * 2**20 and est["fits"] is False
    assert sum(est["memory"].values()) == est["peak_memory_bytes"] > 300 * 2**20
    assert "0.3 GiB" in est["note"] and f"{est['peak_memory_bytes'] / 2**30:.1f} GiB" in est["note"]
    assert est["savers"] and all(s["peak_memory_bytes"] < est["peak_memory_bytes"] for s in est["savers"])
    assert "gradient checkpointing" in {s["label"] for s in est["savers"]}
    run = launch(hub, ds["id"])
    assert run.status_code == 202, run.text  # warned, not refused
    assert run.json()["estimate"]["fits"] is False
    settings.worker_memory_bytes = 64 * 2**30
    roomy = hub.post("/api/v1/training/estimate", json=body).json()
    assert roomy["fits"] is True and roomy["note"] is None and roomy["savers"] == []
    assert roomy["peak_memory_bytes"] == est["peak_memory_bytes"]


def test_launch_writes_run_and_job_together(hub, upload, database):
    ds = upload(hub)
    r = launch(hub, ds["id"], name="my first run")
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "queued" and run["name"] == "my first run" and run["mode"] == "guided"
    assert run["base_model"]["key"] == "tiny" and run["dataset"]["content_hash"] == ds["content_hash"]
    assert run["job"]["status"] == "queued" and run["job"]["attempts"] == 0 and run["job"]["max_attempts"] == 3
    assert run["config"]["max_steps"] == 4 and run["total_steps"] == 4 and run["estimate"]["steps"] == 4
    assert run["loss_curve"] == [] and run["training_outcome"] is None
    with database.session() as s:
        job = s.get(Job, run["job"]["id"])
        assert job.kind == "train" and job.payload == {"run_id": run["id"]}
    page = hub.get("/api/v1/runs").json()
    assert page["total"] == 1 and page["items"][0]["id"] == run["id"]
    assert hub.get("/api/v1/runs", params={"status": "failed"}).json()["total"] == 0
    assert hub.get(f"/api/v1/runs/{run['id']}/log").json() == {"text": "", "truncated": False}


@pytest.mark.parametrize("change, field", [
    ({"config": {"learning_rate": -1}}, "learning_rate"),
    ({"config": {"r": 0}}, "r"),
    ({"config": {"epochs": 1e9, "max_steps": None}}, "epochs"),
    ({"config": {"batch_size": 10_000}}, "batch_size"),
    ({"config": {"target_modules": ["q_proj; rm -rf /"]}}, "target_modules"),
    ({"config": {"no_such_setting": 1}}, "no_such_setting"),
    ({"preset": "yolo"}, "preset"),
])
def test_bad_config_is_422_and_nothing_is_queued(hub, upload, database, change, field):
    ds = upload(hub)
    body = {"base_model": "tiny", "dataset_id": ds["id"], "preset": "quick", **change}
    r = hub.post("/api/v1/runs", json=body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_config" and err["details"]["errors"][0]["field"].startswith(field)
    assert counts(database) == (0, 0)


def test_nul_characters_in_text_fields_are_422_on_every_backend(hub, upload, database):
    """PostgreSQL text cannot hold NUL: such input must be refused before any query uses it."""
    ds = upload(hub)
    for change in ({"base_model": "ti\u0000ny"}, {"name": "a\u0000b"}, {"preset": "qu\u0000ick"}):
        body = {"base_model": "tiny", "dataset_id": ds["id"], **change}
        assert hub.post("/api/v1/runs", json=body).status_code == 422
    estimate = {"base_model": "\u0000", "dataset_id": ds["id"]}
    assert hub.post("/api/v1/training/estimate", json=estimate).status_code == 422
    assert hub.post("/api/v1/evaluations", json={"model": "ti\u0000ny"}).status_code == 422
    assert hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["ma\u0000th"]}).status_code == 422
    assert counts(database) == (0, 0)


def test_unknown_or_foreign_objects_are_404_and_nothing_is_queued(hub, upload, database, account_client):
    ds = upload(hub)
    assert launch(hub, 99999).status_code == 404
    assert launch(hub, ds["id"], base_model="no-such-model").status_code == 404
    assert launch(hub, ds["id"], base_model="123456").status_code == 404
    assert launch(hub, ds["id"], parent_model_id=123456).status_code == 404
    external = hub.post("/api/v1/models", json={"name": "Some external model"}).json()
    assert launch(hub, ds["id"], base_model=str(external["id"])).status_code == 404
    alice = account_client("alice")  # alice now owns the single-user data (the dataset above) ...
    bob = account_client("bob")
    assert launch(bob, ds["id"]).status_code == 404  # ... so for bob it is someone else's private dataset
    deleted = upload(alice, [{"text": "just one row of text"}, {"text": "and a second one"}], name="gone")
    assert alice.delete(f"/api/v1/datasets/{deleted['id']}").status_code == 204
    assert launch(alice, deleted["id"]).status_code == 404
    assert counts(database) == (0, 0)


def test_idempotency_key_gives_one_run_and_one_job(hub, upload, database):
    ds = upload(hub)
    first = launch(hub, ds["id"], key="launch-1")
    again = launch(hub, ds["id"], key="launch-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and first.json()["job"]["id"] == again.json()["job"]["id"]
    assert counts(database) == (1, 1)
    other = launch(hub, ds["id"], key="launch-2")
    assert other.json()["id"] != first.json()["id"]
    assert counts(database) == (2, 2)
    with database.session() as s:  # a key used for another kind of job is not a training run
        owner_id = s.get(TrainingRun, first.json()["id"]).owner_id
        jobs_repo.insert(s, kind="embed", payload={"scope": "owner"}, owner_id=owner_id, idempotency_key="elsewhere")
    reused = launch(hub, ds["id"], key="elsewhere")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
    assert counts(database) == (2, 2)


def test_cancel_a_queued_run_is_immediate_and_idempotent(hub, upload, database):
    ds = upload(hub)
    run = launch(hub, ds["id"]).json()
    first = hub.post(f"/api/v1/runs/{run['id']}/cancel")
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "cancelled" and body["job"]["status"] == "cancelled"
    assert body["failure_category"] == "cancelled" and body["finished_at"]
    second = hub.post(f"/api/v1/runs/{run['id']}/cancel").json()
    assert second["status"] == "cancelled" and second["finished_at"] == body["finished_at"]
    events = hub.get(f"/api/v1/runs/{run['id']}/events")
    assert events.status_code == 200 and events.headers["content-type"].startswith("text/event-stream")
    assert events.text.count("event: run") == 1 and "event: end" in events.text and '"cancelled"' in events.text


def test_another_users_run_is_404_everywhere(hub, upload, account_client):
    alice = account_client("alice")
    bob = account_client("bob")
    ds = upload(alice, name="alice data")
    run = launch(alice, ds["id"]).json()
    rid = run["id"]
    for method, path in (("get", f"/api/v1/runs/{rid}"), ("get", f"/api/v1/runs/{rid}/log"),
                         ("get", f"/api/v1/runs/{rid}/events"), ("post", f"/api/v1/runs/{rid}/cancel")):
        r = getattr(bob, method)(path)
        assert r.status_code == 404, (path, r.text)
    assert bob.get("/api/v1/runs").json()["total"] == 0
    assert bob.post("/api/v1/training/estimate", json={"base_model": "tiny", "dataset_id": ds["id"]}).status_code == 404
    assert alice.get(f"/api/v1/runs/{rid}").json()["status"] == "queued"  # bob's cancel did nothing


def test_open_runs_follow_their_job_after_a_lost_worker(hub, upload, database):
    ds = upload(hub)
    run = launch(hub, ds["id"]).json()
    with database.session() as s:
        job = s.get(Job, run["job"]["id"])
        job.max_attempts = 2
    for attempt in (1, 2):
        with database.session() as s:
            claim = jobs_repo.claim(s, f"w{attempt}", kinds=["train"], lease_s=0.01)
        with database.session() as s:  # the worker marks the run running (fenced), then dies
            ok, _ = repo.fenced_run_update(s, job_id=claim.id, token=claim.fencing_token, lease_s=0.01,
                                           run_id=run["id"], values={"status": "running"})
            assert ok
        with database.session() as s:
            assert jobs_repo.reclaim_expired(s, now=utcnow() + timedelta(seconds=1)) == 1
        body = hub.get(f"/api/v1/runs/{run['id']}").json()
        if attempt == 1:
            assert body["status"] == "queued" and body["job"]["attempts"] == 1  # mirrors the re-queued job
            assert service.reconcile_runs(database) == 1
            with database.session() as s:
                assert s.get(TrainingRun, run["id"]).status == "queued"
    assert service.reconcile_runs(database) == 1
    body = hub.get(f"/api/v1/runs/{run['id']}").json()
    assert body["status"] == "failed" and body["failure_category"] == "worker_lost"
    assert "worker lost" in body["failure_message"] and body["finished_at"]
    assert service.reconcile_runs(database) == 0


def test_app_start_reconciles_runs_left_open(hub, upload, database, settings):
    from fastapi.testclient import TestClient

    from modelmate.app import create_app

    ds = upload(hub)
    lost = launch(hub, ds["id"]).json()
    cancelled = launch(hub, ds["id"]).json()
    waiting = launch(hub, ds["id"]).json()
    with database.session() as s:  # what a server that died mid-job leaves behind
        for run_id, status, error in ((lost["id"], "failed", {"type": "worker_lost", "message": "gone"}),
                                      (cancelled["id"], "cancelled", None), (waiting["id"], "queued", None)):
            run = s.get(TrainingRun, run_id)
            run.status = "running"
            job = s.get(Job, run.job_id)
            job.status, job.error = status, error
    with TestClient(create_app(settings, database=database), base_url="http://127.0.0.1:8000") as again:
        states = {r["id"]: r for r in again.get("/api/v1/runs").json()["items"]}
    with database.session() as s:
        assert s.get(TrainingRun, lost["id"]).status == "failed"
        assert s.get(TrainingRun, cancelled["id"]).status == "cancelled"
        assert s.get(TrainingRun, waiting["id"]).status == "queued"
    assert states[lost["id"]]["failure_category"] == "worker_lost"
