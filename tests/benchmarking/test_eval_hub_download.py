"""An evaluation of a model known only by its Hugging Face id: the evaluate job handler (the worker, not the child)
pulls it from a fake Hub on 127.0.0.1 with ``hf_pull`` and the child evaluates the local snapshot; a model that
cannot be downloaded fails the evaluation with a plain message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_hf_hub import FakeHub
from modelmate.benchmarking.tasks import evaluation_dir
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import hf_pull
from modelmate.jobs.worker import Worker

HF_ID = "acme/tiny-eval"


@pytest.fixture(autouse=True)
def _no_ambient_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "MODELMATE_HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))


def test_an_evaluation_of_a_hub_model_downloads_it_in_the_worker(hub, benchmark_dir, database, settings,
                                                                 tiny_source):
    with FakeHub() as fake:
        fake.add_repo(HF_ID, tiny_source, extra={"pytorch_model.bin": b"pickle", "modeling_x.py": b"import os\n"})
        with database.session() as s:
            ids = [bases.register_pulled(s, settings, hf_id, tiny_source).id for hf_id in (HF_ID, "acme/withdrawn")]
        queued = [hub.post("/api/v1/evaluations", json={"model": str(i), "mode": "quick", "domains": ["reading"]})
                  for i in ids]
        assert [r.status_code for r in queued] == [202, 202], [r.text for r in queued]
        worker = Worker(database, settings.model_copy(update={"hf_endpoint": fake.url}), kinds=["evaluate"],
                        lease_s=30, poll_s=0.2)
        assert worker.run_until_idle() == 2
        assert not fake.requested_files() & {"pytorch_model.bin", "modeling_x.py"}

    ok, gone = (hub.get(f"/api/v1/evaluations/{r.json()['id']}").json() for r in queued)
    assert ok["status"] == "final", ok
    snapshot = hf_pull.cached_snapshot(settings, HF_ID)
    spec = json.loads((evaluation_dir(settings, ok["id"]) / "spec.json").read_text())
    assert snapshot is not None and spec["model"] == str(snapshot)  # the child got a local directory
    assert gone["status"] == "failed" and gone["error"]["type"] == "DownloadFailed"
    assert gone["error"]["message"].startswith("Cannot download acme/withdrawn: ")
    assert "was not found on" in gone["error"]["message"]
