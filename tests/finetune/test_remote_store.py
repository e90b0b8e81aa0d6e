"""Three machines sharing one database and one S3-compatible store (moto on 127.0.0.1), each with its own data
directory: server A, a worker W that sees none of A's or B's files, and server B. Upload on A → train on W → the run's
checkpoints and adapter are in the store → B shows, downloads and serves the adapter (zip and the Hugging Face
compatible API), and a fork launched on B trains on W from the stored parent adapter. A store that goes away fails
the upload with a clear 503 and leaves no row behind."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hubdata import chat_rows

from modelmate.app import create_app
from modelmate.config import Settings
from modelmate.finetune import base_catalog as bases
from modelmate.jobs.worker import Worker
from modelmate.storage.artifacts import artifact_store

CONFIG = {"max_steps": 8, "batch_size": 4, "max_seq_length": 64, "learning_rate": 5e-3, "eval_split": 0.2,
          "eval_steps": 4, "save_steps": 4, "logging_steps": 1, "warmup_ratio": 0.0, "seed": 7}


@pytest.fixture
def machines(tmp_path: Path, database, s3_url: str, tiny_source: Path):
    def settings(name: str) -> Settings:
        return Settings(data_dir=tmp_path / name, database_url=database.url, seed_demo=False, environment="test",
                        artifacts_url=s3_url, train_threads=1)

    a, w, b = settings("server-a"), settings("worker"), settings("server-b")
    shutil.copytree(tiny_source, bases.tiny_dir(a))  # the toy is built on server A only ...
    bases.seed_base_models(database, a)  # ... and published to the store by it
    assert artifact_store(a).has_dir("bases/tiny")
    with TestClient(create_app(a, database=database), base_url="http://127.0.0.1:8000") as ca, \
            TestClient(create_app(b, database=database), base_url="http://127.0.0.1:8000") as cb:
        yield {"a": ca, "b": cb, "settings": {"a": a, "w": w, "b": b}}


def _work(database, settings: Settings) -> None:
    worker = Worker(database, settings, kinds=["train"], lease_s=30, poll_s=0.2)
    assert worker.run_once() is True


def _upload(client: TestClient) -> dict:
    body = "".join(json.dumps(r) + "\n" for r in chat_rows(30))
    r = client.post("/api/v1/datasets", files={"file": ("data.jsonl", body.encode(), "application/json")},
                    data={"name": "sums", "base_model": "tiny"})
    assert r.status_code == 201, r.text
    return r.json()


def test_upload_on_a_train_on_w_download_and_fork_on_b(machines, database) -> None:
    a, b, s = machines["a"], machines["b"], machines["settings"]
    ds = _upload(a)
    store = artifact_store(s["a"])
    assert store.exists(f"datasets/{ds['content_hash']}.jsonl")
    r = a.post("/api/v1/runs", json={"mode": "expert", "base_model": "tiny", "dataset_id": ds["id"], "name": "adder",
                                     "config": CONFIG})
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    _work(database, s["w"])
    assert not (s["a"].artifacts_dir / "runs").exists() and not (s["b"].data_dir / "base_models").exists()
    run = b.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "succeeded", run
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(run["artifacts"])
    assert store.has_dir(f"runs/{run_id}/adapter") and store.has_dir(f"runs/{run_id}/checkpoints/step-000008")
    assert "attempt 1 of job" in b.get(f"/api/v1/runs/{run_id}/log").json()["text"]  # B reads W's log from the store
    model_id = run["output_model_id"]

    # server B: the page says it can be downloaded and forked; the zip streams from the store
    z = b.get(f"/api/v1/hub/models/{model_id}/download")
    assert z.status_code == 200, z.text
    names = set(zipfile.ZipFile(io.BytesIO(z.content)).namelist())
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md"} <= names
    with store.open(f"runs/{run_id}/adapter/adapter_model.safetensors") as fh:
        assert zipfile.ZipFile(io.BytesIO(z.content)).read("adapter_model.safetensors") == fh.read()

    tpl = b.get(f"/api/v1/models/{model_id}/fork-template").json()
    assert tpl["adapter_available"] is True, tpl
    fork = b.post("/api/v1/runs", json={"mode": "expert", "base_model": "tiny", "parent_model_id": model_id,
                                        "dataset_id": ds["id"], "config": {**CONFIG, "max_steps": 4}})
    assert fork.status_code == 202, fork.text
    _work(database, s["w"])
    done = b.get(f"/api/v1/runs/{fork.json()['id']}").json()
    assert done["status"] == "succeeded" and done["parent_model_id"] == model_id, done


def test_a_store_that_is_down_refuses_uploads_cleanly(machines, monkeypatch: pytest.MonkeyPatch) -> None:
    from s3_server import free_port

    a = machines["a"]
    store = artifact_store(machines["settings"]["a"])
    monkeypatch.setattr(store.fs, "put_file", lambda *args, **kwargs: (_ for _ in ()).throw(
        ConnectionError(f"Could not connect to http://127.0.0.1:{free_port()}")))
    body = "".join(json.dumps(r) + "\n" for r in chat_rows(10))
    r = a.post("/api/v1/datasets", files={"file": ("data.jsonl", body.encode(), "application/json")},
               data={"name": "down", "base_model": "tiny"})
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "store_unavailable" and "MODELMATE_ARTIFACTS_URL" in error["message"]
    assert a.get("/api/v1/datasets").json()["total"] == 0


def test_an_adapter_the_store_refuses_is_never_recorded(machines, database, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelmate.db.base import utcnow
    from modelmate.models import Job, TrainingRun
    from modelmate.storage.artifacts import FsspecStore, StoreUnavailable

    a, s = machines["a"], machines["settings"]
    ds = _upload(a)
    run_id = a.post("/api/v1/runs", json={"mode": "expert", "base_model": "tiny", "dataset_id": ds["id"],
                                          "config": {**CONFIG, "max_steps": 4}}).json()["id"]
    real = FsspecStore.put_dir

    def refuse_adapters(self, src, prefix):
        if prefix.endswith("/adapter"):
            raise StoreUnavailable("The artifact store s3://… cannot be used: connection refused. Check "
                                   "MODELMATE_ARTIFACTS_URL, the endpoint and the credentials.")
        return real(self, src, prefix)

    monkeypatch.setattr(FsspecStore, "put_dir", refuse_adapters)
    _work(database, s["w"])
    with database.session() as session:
        run = session.get(TrainingRun, run_id)
        job = session.get(Job, run.job_id)
        assert run.output_model_id is None and run.artifact_uri is None  # nothing points at unwritten files
        assert job.status == "queued" and "MODELMATE_ARTIFACTS_URL" in job.error["message"]  # retried later
    monkeypatch.setattr(FsspecStore, "put_dir", real)  # the store is back: the retry finishes the run
    with database.session() as session:
        session.get(Job, run.job_id).run_after = utcnow()
        session.commit()
    _work(database, s["w"])
    done = a.get(f"/api/v1/runs/{run_id}").json()
    assert done["status"] == "succeeded" and done["output_model_id"], done
