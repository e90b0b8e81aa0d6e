"""The server seeds the demo log on its first start when ``seed_demo`` is on, and only then."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelmate.app import create_app
from modelmate.config import Settings
from modelmate.demo.seed import load_catalog

N = len(load_catalog())


def _settings(tmp_path, database, seed: bool) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database.url, seed_demo=seed, environment="test")


def test_first_start_seeds_and_restarts_do_not(tmp_path, database):
    app = create_app(_settings(tmp_path, database, True), database=database)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        page = client.get("/api/v1/entries", params={"limit": 200, "facets": True}).json()
        assert page["total"] == N
        statuses = {f["value"]: f["count"] for f in page["facets"]["status"]}
        assert set(statuses) == {"wishlist", "tried", "studied", "using", "archived"}
        whisper = next(e for e in page["items"] if e["hf_repo_id"] == "openai/whisper-large-v3")
        assert whisper["parameters"] == 1_550_000_000 and whisper["status"] == "using"
        history = client.get(f"/api/v1/entries/{whisper['id']}/history").json()
        kinds = [h["kind"] for h in reversed(history)]  # newest first from the API
        assert kinds[0] == "added" and "status_changed" in kinds and "note_added" in kinds
        found = client.get("/api/v1/entries", params={"q": "faster-whisper"}).json()
        assert [e["name"] for e in found["items"]] == ["Whisper large-v3"]
        first_ids = sorted(e["id"] for e in page["items"])
    again = create_app(_settings(tmp_path, database, True), database=database)
    with TestClient(again, base_url="http://127.0.0.1:8000") as client:
        page = client.get("/api/v1/entries", params={"limit": 200}).json()
        assert sorted(e["id"] for e in page["items"]) == first_ids


def test_no_seed_when_turned_off(tmp_path, database):
    app = create_app(_settings(tmp_path, database, False), database=database)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/api/v1/entries").json()["total"] == 0
