"""``POST /api/v1/base-models/gguf``: administrators upload a GGUF file, an ``import_model`` job converts and registers
it. The real SmolLM2-135M-Instruct GGUF (98 MB, Q4_1) is converted once (about 25 s, SQLite only); the refusals use
a copy cut short, a text file, and a tiny GGUF written here with the ``gguf`` package (a valid header, nothing a
model can be loaded from)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelmate.app import create_app
from modelmate.enums import JobKind
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import import_service
from modelmate.jobs import registry
from modelmate.jobs import service as jobs_service
from modelmate.jobs.worker import Worker
from modelmate.models import Job, Model

API = "/api/v1"
GGUF_URL = f"{API}/base-models/gguf"


def _post(client, path: Path | None = None, *, name: str | None = "My import", content: bytes | None = None,
          filename: str | None = None, license: str | None = None):
    data = {k: v for k, v in {"name": name, "license": license}.items() if v is not None}
    if content is None and path is None:  # a multipart form without a file part
        return client.post(GGUF_URL, files={k: (None, v) for k, v in data.items()})
    if content is not None:
        return client.post(GGUF_URL, data=data, files={"file": (filename or "model.gguf", content,
                                                                 "application/octet-stream")})
    with path.open("rb") as fh:
        return client.post(GGUF_URL, data=data, files={"file": (filename or path.name, fh, "application/octet-stream")})


def _run_imports(database, settings) -> int:
    return Worker(database, settings, kinds=[JobKind.IMPORT_MODEL.value], lease_s=60, poll_s=0.2).run_until_idle()


def _uploads(settings) -> list[Path]:
    folder = import_service.upload_dir(settings)
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _counts(database) -> tuple[int, int]:
    """(jobs, base-model rows)."""
    with database.session() as s:
        return s.query(Job).count(), s.query(Model).filter(Model.kind == "base").count()


def tiny_gguf(path: Path) -> Path:
    """A GGUF with a valid llama header and one small tensor: it passes the header checks, nothing loads it."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("toy")
    writer.add_context_length(64)
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _error(resp) -> str:
    return resp.json()["error"]["message"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_admin_imports_a_real_gguf_and_it_becomes_a_ready_base_model(client, settings, database, smollm2_gguf,
                                                                     monkeypatch):
    if not database.is_sqlite:
        pytest.skip("the conversion takes ~25 s: once is enough (the refusals below run on both backends)")
    resp = _post(client, smollm2_gguf, name="SmolLM2 upload", license="apache-2.0")
    assert resp.status_code == 202, resp.text
    accepted = resp.json()
    assert accepted["key"] == "local-smollm2-upload" and accepted["status"] == "queued"
    assert accepted["architecture"] == "llama" and accepted["quantization"] == "Q4_1"
    assert accepted["file_name"] == smollm2_gguf.name and accepted["size_bytes"] == smollm2_gguf.stat().st_size
    (upload,) = _uploads(settings)  # a private copy under a generated name, never the client's
    assert stat.S_IMODE(upload.stat().st_mode) == 0o600 and smollm2_gguf.stem not in upload.name
    job = client.get(f"{API}/jobs/{accepted['job_id']}").json()
    assert job["kind"] == "import_model" and job["status"] == "queued"
    busy = _post(client, content=smollm2_gguf.read_bytes(), filename="again.gguf", name="SmolLM2 upload")
    assert busy.status_code == 409 and "already queued" in _error(busy)
    assert len(_uploads(settings)) == 1  # the refused upload is gone, the queued one stays

    messages: list[tuple[float, str | None]] = []
    original = registry.JobContext.progress

    def spy(self, fraction, message=None):
        messages.append((fraction, message))
        return original(self, fraction, message)

    monkeypatch.setattr(registry.JobContext, "progress", spy)
    assert _run_imports(database, settings) == 1
    job = client.get(f"{API}/jobs/{accepted['job_id']}").json()
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["progress_message"] == "imported: base model local-smollm2-upload is ready"
    assert job["result"]["quantization"] == "Q4_1" and job["result"]["stored_dtype"] == "bfloat16"
    texts = [m for _, m in messages if m]
    assert any(t.startswith(f"hashing {smollm2_gguf.name} (sha256): ") and t.endswith("100%") for t in texts)
    assert any(t.startswith("dequantizing") for t in texts) and any(t.startswith("writing safetensors") for t in texts)
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions)
    assert _uploads(settings) == []

    base = next(m for m in client.get(f"{API}/base-models").json() if m["key"] == "local-smollm2-upload")
    assert base["available"] and base["unavailable_reason"] is None and base["name"] == "SmolLM2 upload"
    assert base["architecture"] == "LlamaForCausalLM" and base["parameters"] > 100_000_000
    assert base["license"] == "apache-2.0"
    source = base["source"]
    assert source["file"] == smollm2_gguf.name and source["quantization"] == "Q4_1"
    assert source["stored_dtype"] == "bfloat16"
    assert source["sha256"] == hashlib.sha256(smollm2_gguf.read_bytes()).hexdigest()
    assert (bases.managed_dir(settings, "local-smollm2-upload") / "model.safetensors").is_file()

    taken = _post(client, content=smollm2_gguf.read_bytes(), filename="x.gguf", name="SmolLM2 upload")
    assert taken.status_code == 409 and "is taken" in _error(taken) and _uploads(settings) == []


def test_non_admins_get_403_and_anonymous_callers_401_before_anything_is_read(app, client, account_client,
                                                                              settings, database, tmp_path):
    account_client("alice")  # the first account is the administrator
    bob = account_client("bob")
    gguf_file = tiny_gguf(tmp_path / "toy.gguf")
    resp = _post(bob, gguf_file)
    assert resp.status_code == 403 and "only administrators" in _error(resp)
    with TestClient(app, base_url="http://127.0.0.1:8000") as anonymous:
        anon = _post(anonymous, gguf_file)
    assert anon.status_code == 401
    assert _counts(database) == (0, 0) and _uploads(settings) == []


def test_files_that_are_not_importable_get_422_and_leave_nothing(client, settings, database, smollm2_gguf, tmp_path):
    text = _post(client, content=b"just some text, not a model\n" * 100, filename="notes.txt")
    assert text.status_code == 422 and _error(text) == (
        "notes.txt is not a GGUF file (it does not start with the GGUF signature)")
    assert text.json()["error"]["details"]["errors"][0]["field"] == "file"
    cut = tmp_path / "cut.gguf"
    with smollm2_gguf.open("rb") as src:
        cut.write_bytes(src.read(50 * 1024 * 1024))
    truncated = _post(client, cut, filename="SmolLM2-135M-Instruct.Q4_1.gguf")
    assert truncated.status_code == 422
    assert _error(truncated).startswith("SmolLM2-135M-Instruct.Q4_1.gguf is truncated")
    no_name = _post(client, content=b"GGUF", name=None)
    assert no_name.status_code == 422 and "name" in _error(no_name)
    blank = _post(client, content=b"GGUF", name="\x01 ")
    assert blank.status_code == 422 and "name" in _error(blank)
    no_file = _post(client)
    assert no_file.status_code == 422 and "no file" in _error(no_file)
    not_multipart = client.post(GGUF_URL, json={"name": "x"})
    assert not_multipart.status_code == 422 and "multipart/form-data" in _error(not_multipart)
    cut_form = client.post(GGUF_URL, headers={"Content-Type": "multipart/form-data; boundary=b"}, content=(
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nCut\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.gguf"\r\n\r\n' + cut.read_bytes()[:4096]))
    assert cut_form.status_code == 422 and "closing boundary is missing" in _error(cut_form)
    assert _counts(database) == (0, 0) and _uploads(settings) == []
    assert not (settings.data_dir / "base_models").exists()


@pytest.fixture
def small_cap(settings, database):
    capped = settings.model_copy(update={"max_gguf_bytes": 1024 * 1024})
    with TestClient(create_app(capped, database=database), base_url="http://127.0.0.1:8000") as c:
        yield c, capped


def test_an_upload_over_the_size_cap_gets_413_and_leaves_nothing(small_cap, database):
    client, settings = small_cap
    over_by_a_little = _post(client, content=b"GGUF" + b"\0" * (1024 * 1024), filename="big.gguf")
    assert over_by_a_little.status_code == 413 and "larger than 1,048,576 bytes" in _error(over_by_a_little)

    def chunks():  # no Content-Length: the cap is counted while the file streams in
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.gguf\"\r\n\r\n"
        for _ in range(40):
            yield b"\0" * 65536

    streamed = client.post(GGUF_URL, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413
    far_over = _post(client, content=b"\0" * (3 * 1024 * 1024), filename="huge.gguf")  # the request-wide cap
    assert far_over.status_code == 413
    assert _counts(database) == (0, 0) and _uploads(settings) == []


def test_a_taken_name_gets_409(client, settings, database, tmp_path):
    gguf_file = tiny_gguf(tmp_path / "toy.gguf")
    with database.session() as s:  # an import of the same name is already queued
        jobs_service.enqueue(s, kind=JobKind.IMPORT_MODEL, owner_id=None, max_attempts=1,
                             payload={"upload": "gguf-x.gguf", "name": "Busy", "key": "local-busy"})
    busy = _post(client, gguf_file, name="Busy")
    assert busy.status_code == 409 and "already queued" in _error(busy)
    tiny_dir = bases.managed_dir(settings, "local-on-disk")
    tiny_dir.mkdir(parents=True)
    on_disk = _post(client, gguf_file, name="On disk")
    assert on_disk.status_code == 409 and "model directory" in _error(on_disk)
    assert _counts(database) == (1, 0) and _uploads(settings) == []


def test_a_conversion_failure_fails_the_job_with_a_plain_message_and_leaves_nothing(client, settings, database,
                                                                                  tmp_path):
    resp = _post(client, tiny_gguf(tmp_path / "toy.gguf"), name="Header only")
    assert resp.status_code == 202, resp.text
    assert _run_imports(database, settings) == 1
    job = client.get(f"{API}/jobs/{resp.json()['job_id']}").json()
    assert job["status"] == "failed" and job["attempts"] == 1
    assert job["error"]["message"].startswith("transformers could not load toy.gguf")
    assert "traceback" not in job["error"]
    assert _uploads(settings) == [] and _counts(database) == (1, 0)
    assert not bases.managed_dir(settings, "local-header-only").exists()
    assert not any((settings.data_dir / "base_models").glob(".local-header-only*"))


def test_uploads_left_by_a_crash_are_swept_but_active_ones_kept(settings, database):
    folder = import_service.upload_dir(settings)
    folder.mkdir(parents=True)
    stale, active, fresh = folder / "gguf-stale.gguf", folder / "gguf-active.gguf", folder / "gguf-fresh.gguf"
    for path in (stale, active, fresh):
        path.write_bytes(b"GGUF")
    for path in (stale, active):
        os.utime(path, (1, 1))
    with database.session() as s:
        jobs_service.enqueue(s, kind=JobKind.IMPORT_MODEL, owner_id=None, max_attempts=1,
                             payload={"upload": active.name, "name": "A", "key": "local-a"})
    assert import_service.sweep_uploads(database, settings) == 1
    assert _uploads(settings) == [active, fresh]
    assert import_service.upload_path(settings, "../modelmate.db") is None
