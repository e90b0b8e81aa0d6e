"""The worker downloads a Hugging Face base model on demand: a run on a base model that is only a Hugging Face id
is pulled by the job handler (the parent, not the training child) from a fake Hub on 127.0.0.1, the job's message
shows the download, and the child trains from the local snapshot. Cancel during the download, and a download that
cannot succeed, end the run with a plain message."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from hubdata import chat_rows

from fake_hf_hub import FakeHub
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import hf_pull
from modelmate.jobs.worker import Worker
from modelmate.models import Job, Model, TrainingRun

HF_ID = "acme/tiny-chat"
CONFIG = {"max_steps": 4, "batch_size": 4, "max_seq_length": 64, "learning_rate": 1e-3, "eval_split": 0.2,
          "eval_steps": 4, "save_steps": 4, "logging_steps": 1, "warmup_ratio": 0.0}


@pytest.fixture(autouse=True)
def _no_ambient_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "MODELMATE_HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))


def register_hub_base(database, settings, hf_id: str, source: Path) -> int:
    """A base model known only by its Hugging Face id (as ``models pull`` registers one; nothing on disk yet)."""
    with database.session() as session:
        row = bases.register_pulled(session, settings, hf_id, source)
        return row.id


def worker(database, settings, endpoint: str) -> Worker:
    return Worker(database, settings.model_copy(update={"train_threads": 1, "hf_endpoint": endpoint}),
                  kinds=["train"], lease_s=30, poll_s=0.2)


def launch(client, dataset_id: int, base: str) -> dict:
    r = client.post("/api/v1/runs", json={"base_model": base, "dataset_id": dataset_id, "mode": "expert",
                                          "preset": "quick", "config": dict(CONFIG)})
    assert r.status_code == 202, r.text
    return r.json()


def follow(client, run_id: int, thread: threading.Thread, timeout: float = 300) -> tuple[dict, list[str]]:
    """Poll the run (as the run page does) until the worker thread ends; the job messages seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        job = client.get(f"/api/v1/runs/{run_id}").json().get("job") or {}
        if job.get("progress_message") and job["progress_message"] not in seen:
            seen.append(job["progress_message"])
        time.sleep(0.05)
    thread.join(timeout=5)
    assert not thread.is_alive(), "the worker did not finish"
    return client.get(f"/api/v1/runs/{run_id}").json(), seen


def test_a_run_on_a_hub_base_downloads_it_first_and_trains_from_the_snapshot(hub, upload, database, settings,
                                                                             tiny_source):
    with FakeHub() as fake:
        fake.add_repo(HF_ID, tiny_source, extra={"pytorch_model.bin": b"pickle", "optimizer.pt": b"pickle",
                                                 "modeling_evil.py": b"import os\n"})
        fake.throttle_bps = 250_000  # about 2.5 s for the toy's weights: long enough to watch
        base_id = register_hub_base(database, settings, HF_ID, tiny_source)
        with database.session() as s:
            assert bases.pending_download(settings, s.get(Model, base_id)) == HF_ID
        ds = upload(hub, chat_rows(30), name="chats")
        run = launch(hub, ds["id"], HF_ID)
        assert run["base_model"]["id"] == base_id
        thread = threading.Thread(target=worker(database, settings, fake.url).run_once)
        thread.start()
        body, seen = follow(hub, run["id"], thread)
        assert not fake.requested_files() & {"pytorch_model.bin", "optimizer.pt", "modeling_evil.py"}
        assert len(fake.requests("GET", "model.safetensors")) == 1

    assert body["status"] == "succeeded", body
    assert any(m.startswith(f"downloading {HF_ID}") for m in seen), seen
    snapshot = hf_pull.cached_snapshot(settings, HF_ID)
    assert snapshot is not None and snapshot.is_relative_to(settings.data_dir / "hf_cache")
    spec = json.loads((settings.artifacts_dir / "runs" / str(run["id"]) / "spec.json").read_text())
    assert spec["base_model"] == str(snapshot)  # the child got the local snapshot, not the Hugging Face id
    assert [p["step"] for p in body["loss_curve"]] == [1, 2, 3, 4]
    with database.session() as s:
        log = s.get(Job, run["job"]["id"]).log or ""
        assert bases.pending_download(settings, s.get(Model, base_id)) is None  # the next run starts at once
        assert bases.model_source(settings, s.get(Model, base_id)) == str(snapshot)
    assert f"downloading the base model {HF_ID}" in log and f"downloaded {HF_ID}" in log


def test_cancel_during_the_download_cancels_the_run(hub, upload, database, settings, tiny_source):
    with FakeHub() as fake:
        fake.add_repo(HF_ID, tiny_source)
        fake.throttle_bps = 120_000
        register_hub_base(database, settings, HF_ID, tiny_source)
        run = launch(hub, upload(hub, chat_rows(30))["id"], HF_ID)
        thread = threading.Thread(target=worker(database, settings, fake.url).run_once)
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = (hub.get(f"/api/v1/runs/{run['id']}").json().get("job") or {}).get("progress_message") or ""
            if message.startswith(f"downloading {HF_ID}"):
                break
            time.sleep(0.05)
        assert hub.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 200
        body, _ = follow(hub, run["id"], thread)
    assert body["status"] == "cancelled", body
    assert "while downloading the base model" in body["failure_message"] and body["job"]["status"] == "cancelled"
    assert not (settings.artifacts_dir / "runs" / str(run["id"]) / "spec.json").exists()  # never trained


def test_a_base_that_cannot_be_downloaded_fails_the_run_once_with_a_plain_message(hub, upload, database, settings,
                                                                                  tiny_source):
    with FakeHub() as fake:  # the repository is gone from the Hub
        register_hub_base(database, settings, "acme/withdrawn", tiny_source)
        run = launch(hub, upload(hub, chat_rows(30))["id"], "acme/withdrawn")
        assert worker(database, settings, fake.url).run_once() is True
    body = hub.get(f"/api/v1/runs/{run['id']}").json()
    assert body["status"] == "failed" and body["failure_category"] == "crashed"
    assert body["failure_message"].startswith("Cannot download the base model acme/withdrawn: ")
    assert "was not found on" in body["failure_message"] and "or it is private" in body["failure_message"]
    assert body["error"]["type"] == "PullError"
    with database.session() as s:
        assert s.get(TrainingRun, run["id"]).error["code"] == "not_found"
    assert body["job"]["status"] == "failed" and body["job"]["attempts"] == 1  # not retried
