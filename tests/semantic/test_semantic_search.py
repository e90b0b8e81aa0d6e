"""Semantic and hybrid search, similar entries and the embed job, on both backends, with the real model."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from modelmate.jobs.worker import Worker
from modelmate.models import EntryEmbedding, Job
from modelmate.search import service as search_service
from modelmate.semantic import service

CATALOG = [
    dict(name="Whisper large-v3", developer="OpenAI", model_type="Audio",
         description="Automatic speech recognition: turns spoken audio into written transcripts."),
    dict(name="Phi-3 mini", developer="Microsoft", model_type="LLM",
         description="Small language model that runs on phones and laptops."),
    dict(name="Stable Diffusion XL", developer="Stability AI", model_type="Vision",
         description="Generates images from text prompts."),
    dict(name="Mistral 7B", developer="Mistral AI", model_type="LLM",
         notes="I used this to summarize a podcast transcript once."),
    dict(name="wav2vec 2.0", developer="Meta", model_type="Audio",
         description="Self-supervised speech representations for speech recognition."),
]


def run_jobs(database, settings) -> int:
    return Worker(database, settings, kinds=["embed"]).run_until_idle()


@pytest.fixture
def catalog(client, make_entry, database, settings) -> dict[str, int]:
    ids = {e["name"]: make_entry(**e)["id"] for e in CATALOG}
    assert run_jobs(database, settings) == len(CATALOG)
    return ids


def search(client, q, mode):
    r = client.get("/api/v1/search", params={"q": q, "mode": mode})
    assert r.status_code == 200, r.text
    return [h["entry"]["name"] for h in r.json()["items"]]


def embeddings(database) -> dict[int, EntryEmbedding]:
    with database.session() as s:
        return {e.entry_id: e for e in s.scalars(select(EntryEmbedding))}


def test_embeddings_are_stored_and_follow_changes(client, catalog, database, settings):
    stored = embeddings(database)
    assert set(stored) == set(catalog.values())
    whisper = stored[catalog["Whisper large-v3"]]
    assert whisper.dim == 384 and len(whisper.vector) == 384 * 4 and whisper.embedder == "all-MiniLM-L6-v2"
    vec = np.frombuffer(whisper.vector, dtype="<f4")
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-4
    r = client.patch(f"/api/v1/entries/{catalog['Whisper large-v3']}", json={"notes": "great for meeting minutes"})
    assert r.status_code == 200
    assert run_jobs(database, settings) == 1
    after = embeddings(database)[catalog["Whisper large-v3"]]
    assert after.text_hash != whisper.text_hash and after.vector != whisper.vector
    r = client.post(f"/api/v1/entries/{catalog['Phi-3 mini']}/journal", json={"body": "quantised to 4 bits"})
    assert r.status_code == 201
    assert run_jobs(database, settings) == 1
    assert embeddings(database)[catalog["Phi-3 mini"]].text_hash != stored[catalog["Phi-3 mini"]].text_hash


def test_semantic_finds_a_paraphrase_keyword_misses(client, catalog):
    q = "turn a recording of people talking into text"
    assert search(client, q, "keyword") == []
    assert search(client, q, "semantic")[0] in ("Whisper large-v3", "wav2vec 2.0")
    assert search(client, "draw a picture from a sentence", "semantic")[0] == "Stable Diffusion XL"
    assert search(client, "tiny model for a mobile phone", "semantic")[0] == "Phi-3 mini"


def test_hybrid_includes_keyword_and_semantic_hits(client, catalog):
    q = "podcast"
    keyword = search(client, q, "keyword")
    semantic = search(client, q, "semantic")
    hybrid = search(client, q, "hybrid")
    assert keyword == ["Mistral 7B"]
    assert set(keyword) <= set(hybrid) and semantic[0] in hybrid
    assert hybrid[0] == "Mistral 7B"  # first in both rankings
    r = client.get("/api/v1/search", params={"q": q, "mode": "hybrid"}).json()
    hit = next(h for h in r["items"] if h["entry"]["name"] == "Mistral 7B")
    assert any(s["field"] == "notes" for s in hit["snippets"])  # keyword highlights kept
    # filters apply to semantic ranking too
    audio = client.get("/api/v1/search", params={"q": "speech", "mode": "semantic", "model_type": "Audio"}).json()
    assert {h["entry"]["model_type"] for h in audio["items"]} == {"Audio"}


def test_similar_entries(client, catalog):
    r = client.get(f"/api/v1/entries/{catalog['Whisper large-v3']}/similar", params={"limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    names = [i["entry"]["name"] for i in body["items"]]
    assert names[0] == "wav2vec 2.0" and "Whisper large-v3" not in names and len(names) == 3
    assert body["items"][0]["score"] >= body["items"][1]["score"] and body["pending"] == 0
    assert client.get("/api/v1/entries/999999/similar").status_code == 404


def test_isolation_between_users(app, client, account_client, database, settings):
    alice = account_client("alice")
    bob = account_client("bob")
    a = alice.post("/api/v1/entries", json=CATALOG[0]).json()
    b = bob.post("/api/v1/entries", json=dict(CATALOG[0], name="Bob's Whisper")).json()
    bob.post("/api/v1/entries", json=CATALOG[2])
    run_jobs(database, settings)
    with database.session() as s:
        owners = dict(s.execute(select(EntryEmbedding.entry_id, EntryEmbedding.owner_id)).all())
    assert owners[a["id"]] == alice.user["id"] and owners[b["id"]] == bob.user["id"]
    for mode in ("semantic", "hybrid"):
        names = [h["entry"]["name"] for h in bob.get("/api/v1/search", params={"q": "speech", "mode": mode})
                 .json()["items"]]
        assert "Whisper large-v3" not in names and "Bob's Whisper" in names
    assert bob.get(f"/api/v1/entries/{a['id']}/similar").status_code == 404
    similar = alice.get(f"/api/v1/entries/{a['id']}/similar").json()["items"]
    assert similar == []  # alice has one entry; bob's near-duplicate is never a candidate


def test_embed_job_is_coalesced_and_idempotent(client, make_entry, database, settings):
    e = make_entry(name="Gemma 2 2B", developer="Google")
    client.patch(f"/api/v1/entries/{e['id']}", json={"notes": "one"})
    client.patch(f"/api/v1/entries/{e['id']}", json={"notes": "two"})
    with database.session() as s:
        queued = s.scalar(select(func.count()).select_from(Job).where(Job.kind == "embed", Job.status == "queued"))
    assert queued == 1  # three changes, one queued job
    assert run_jobs(database, settings) == 1
    first = embeddings(database)[e["id"]]
    report = service.embed_entries(database, [e["id"]])
    assert report.embedded == 0 and report.unchanged == 1
    again = embeddings(database)[e["id"]]
    assert again.updated_at == first.updated_at and again.vector == first.vector
    assert service.embed_entries(database, [e["id"]], force=True).embedded == 1


def test_semantic_can_be_turned_off(tmp_path, database):
    from fastapi.testclient import TestClient

    from modelmate.app import create_app
    from modelmate.config import Settings

    app = create_app(Settings(data_dir=tmp_path / "d", database_url=database.url, seed_demo=False,
                              environment="test", semantic_enabled=False), database=database)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        r = c.get("/api/v1/search", params={"q": "x", "mode": "semantic"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "semantic_disabled"
        assert c.get("/api/v1/search", params={"q": "x", "mode": "keyword"}).status_code == 200


def test_rrf_fusion():
    fused = search_service.rrf([[1, 2, 3], [3, 4]])
    assert [i for i, _ in fused] == [3, 1, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
