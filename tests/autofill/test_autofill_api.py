"""POST /api/v1/autofill and refresh-metadata against a local fake Hub/GitHub (RELIABILITY 14–16)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from modelmate.models import Entry, Model

URL = "/api/v1/autofill"


def counts(database) -> tuple[int, int]:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Model)), s.scalar(select(func.count()).select_from(Entry))


def test_hugging_face_model_is_mapped(af_client, upstream, database):
    before = counts(database)
    r = af_client.post(URL, json={"url_or_id": "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/tree/main"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "huggingface" and body["id"] == "meta-llama/Llama-3.1-8B-Instruct"
    f = body["fields"]
    assert f["name"] == "Llama-3.1-8B-Instruct"
    assert f["developer"] == "meta-llama"
    assert f["model_type"] == "LLM"
    assert f["parameters"] == 8030261248
    assert f["license"] == "llama3.1"
    assert f["hf_repo_id"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert f["source_links"] == [f"{upstream.url}/meta-llama/Llama-3.1-8B-Instruct"]
    assert f["description"].startswith("The Meta Llama 3.1 collection of multilingual large language models")
    assert "model card" in f["description"] and "](" not in f["description"]
    assert "text-generation" in f["tags"] and "llama-3" in f["tags"]
    assert not any(":" in t for t in f["tags"]) and "safetensors" not in f["tags"]
    x = body["extra"]
    assert x["downloads"] == 5123456 and x["likes"] == 4321 and x["library"] == "transformers"
    assert x["base_model"] == "meta-llama/Llama-3.1-8B" and x["pipeline_tag"] == "text-generation"
    assert x["last_modified"].startswith("2024-09-25")
    assert body["diff"] is None
    assert counts(database) == before  # nothing saved
    paths = [p.split("?")[0] for p in upstream.requests[-2:]]
    assert paths[0] == "/api/models/meta-llama/Llama-3.1-8B-Instruct"
    assert paths[1].startswith("/meta-llama/Llama-3.1-8B-Instruct/raw/0e9e39f2")


def test_hf_model_without_card_or_safetensors(af_client):
    r = af_client.post(URL, json={"url_or_id": "openai/plain"})
    assert r.status_code == 200, r.text
    f = r.json()["fields"]
    assert f["model_type"] == "Audio" and f["license"] == "apache-2.0"
    assert f["parameters"] is None and f["description"] is None


def test_github_repository_is_mapped(af_client, upstream):
    r = af_client.post(URL, json={"url_or_id": "https://www.github.com/meta-llama/llama-models"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "github" and body["id"] == "meta-llama/llama-models"
    f = body["fields"]
    assert f["developer"] == "meta-llama" and f["version"] == "v0.2.1" and f["license"] == "Other"
    assert f["description"] == "Utilities intended for use with Llama models."
    assert f["source_links"] == ["https://github.com/meta-llama/llama-models", "https://www.llama.com/"]
    assert f["tags"] == ["llama", "llm", "meta"] and f["github_repo"] == "meta-llama/llama-models"
    assert body["extra"]["stars"] == 7345 and body["extra"]["homepage"] == "https://www.llama.com/"
    r = af_client.post(URL, json={"url_or_id": "https://github.com/acme/norelease"})
    assert r.status_code == 200 and r.json()["fields"]["version"] is None
    assert r.json()["fields"]["license"] == "MIT"
    assert upstream.requests[-1] == "/repos/acme/norelease/releases/latest"


@pytest.mark.parametrize(("value", "status", "code"), [
    ("org/missing", 404, "upstream_not_found"),
    ("org/gated", 403, "upstream_gated"),
    ("org/broken", 502, "upstream_error"),
    ("org/slow", 504, "upstream_timeout"),
    ("org/huge", 502, "upstream_too_large"),
    ("org/huge-chunked", 502, "upstream_too_large"),
    ("org/redirect", 502, "upstream_redirect_blocked"),
    ("https://github.com/acme/missing", 404, "upstream_not_found"),
    ("https://github.com/acme/broken", 502, "upstream_error"),
    ("https://github.com/acme/slow", 504, "upstream_timeout"),
    ("https://github.com/acme/huge", 502, "upstream_too_large"),
    ("https://github.com/acme/huge-chunked", 502, "upstream_too_large"),
])
def test_upstream_failures_are_clear(af_client, database, value, status, code):
    before = counts(database)
    r = af_client.post(URL, json={"url_or_id": value})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    assert counts(database) == before


def test_rate_limits_pass_retry_after_through(af_client):
    r = af_client.post(URL, json={"url_or_id": "org/limited"})
    assert r.status_code == 429 and r.headers["retry-after"] == "17"
    assert r.json()["error"]["details"] == {"retry_after": 17}
    r = af_client.post(URL, json={"url_or_id": "https://github.com/acme/limited"})
    assert r.status_code == 429
    assert 30 <= int(r.headers["retry-after"]) <= 43  # from X-RateLimit-Reset


def test_refused_urls_make_no_connection(af_client, upstream):
    """SSRF: internal addresses, look-alikes and other schemes are refused before any connection — even when
    they point at a server that is really listening (our fake, on 127.0.0.1)."""
    port = upstream.server_port
    hostile = [
        f"http://127.0.0.1:{port}/api/models/org/name", f"http://[::ffff:127.0.0.1]:{port}/org/name",
        f"http://0x7f000001:{port}/org/name", f"http://localhost:{port}/org/name", "http://169.254.169.254/latest",
        f"https://huggingface.co@127.0.0.1:{port}/org/name", f"https://user@huggingface.co@127.0.0.1:{port}/o/n",
        f"https://huggingface.co.127.0.0.1.nip.io:{port}/o/n", "https://evil.com/huggingface.co/org/name",
        "file:///etc/passwd", f"gopher://127.0.0.1:{port}/_GET", "javascript:alert(1)",
    ]
    connections, requests = upstream.connections, len(upstream.requests)
    for value in hostile:
        r = af_client.post(URL, json={"url_or_id": value})
        assert 400 <= r.status_code < 500, (value, r.status_code)
        assert r.json()["error"]["code"] == "unsupported_source", value
    assert upstream.connections == connections and len(upstream.requests) == requests


def test_diff_against_an_entry(af_client, make_entry_af):
    entry = make_entry_af(name="Llama 3.1 8B", developer="Meta", model_type="LLM", license="llama3.1",
                          tags=["chat"], source_links=["https://ai.meta.com/blog/meta-llama-3-1/"])
    r = af_client.post(URL, json={"url_or_id": "meta-llama/Llama-3.1-8B-Instruct", "entry_id": entry["id"]})
    assert r.status_code == 200, r.text
    diff = {d["field"]: d for d in r.json()["diff"]}
    assert diff["license"]["changed"] is False
    assert diff["developer"] == {"field": "developer", "current": "Meta", "proposed": "meta-llama", "changed": True}
    assert diff["parameters"]["current"] is None and diff["parameters"]["proposed"] == 8030261248
    assert diff["tags"]["proposed"][0] == "chat" and "text-generation" in diff["tags"]["proposed"]
    assert diff["source_links"]["proposed"][0] == "https://ai.meta.com/blog/meta-llama-3-1/"
    assert diff["version"]["changed"] is False  # upstream does not know: not a change
    assert r.json()["fields"]["tags"] == diff["tags"]["proposed"]
    # nothing was saved on the entry
    assert af_client.get(f"/api/v1/entries/{entry['id']}").json()["developer"] == "Meta"
    assert af_client.post(URL, json={"url_or_id": "org/name", "entry_id": 999999}).status_code == 404


def test_refresh_metadata_merges_hf_and_github(af_client, make_entry_af, upstream):
    entry = make_entry_af(name="Llama", hf_repo_id="meta-llama/Llama-3.1-8B-Instruct",
                          github_repo="meta-llama/llama-models")
    r = af_client.post(f"/api/v1/entries/{entry['id']}/refresh-metadata")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "huggingface"
    assert body["fields"]["version"] == "v0.2.1"  # from the GitHub release
    assert body["extra"]["stars"] == 7345 and body["extra"]["downloads"] == 5123456
    assert "https://github.com/meta-llama/llama-models" in body["fields"]["source_links"]
    assert any(d["field"] == "version" and d["changed"] for d in body["diff"])
    plain = make_entry_af(name="No repo")
    r = af_client.post(f"/api/v1/entries/{plain['id']}/refresh-metadata")
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_repository"
    assert af_client.post("/api/v1/entries/999999/refresh-metadata").status_code == 404


def test_refresh_all_job(af_client, make_entry_af, autofill_settings, database, monkeypatch):
    from modelmate.autofill import service
    from modelmate.jobs.worker import Worker

    monkeypatch.setattr(service, "PAUSE_S", 0)
    a = make_entry_af(name="Llama", hf_repo_id="meta-llama/Llama-3.1-8B-Instruct")
    b = make_entry_af(name="Gone", hf_repo_id="org/missing")
    make_entry_af(name="No repo")
    r = af_client.post("/api/v1/autofill/refresh-all")
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert af_client.post("/api/v1/autofill/refresh-all").json()["job_id"] == job_id  # still queued: coalesced
    worker = Worker(database, autofill_settings, kinds=["enrich"])
    assert worker.run_once()
    job = af_client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["kind"] == "enrich"
    result = job["result"]
    assert result["total"] == 2 and result["checked"] == 1 and result["with_changes"] == 1
    assert result["entries"][0]["entry_id"] == a["id"]
    assert {c["field"] for c in result["entries"][0]["changes"]} >= {"parameters", "developer"}
    assert result["errors"] == [{"entry_id": b["id"], "name": "Gone", "code": "upstream_not_found",
                                 "message": "no such model on Hugging Face (or it is private)"}]
    assert af_client.get(f"/api/v1/entries/{a['id']}").json()["parameters"] is None  # nothing saved
    assert af_client.post("/api/v1/autofill/refresh-all").json()["job_id"] != job_id  # a new run


@pytest.fixture
def make_entry_af(af_client):
    def _make(**fields) -> dict:
        r = af_client.post("/api/v1/entries", json=fields)
        assert r.status_code == 201, r.text
        return r.json()

    return _make
