"""A private tracker entry must not leak through the shared catalog.

Logging (or importing) an unknown model creates a catalog row that is private to its creator until they share it
(``PATCH /models/{id} {"visibility": "public"}``). Another user can neither list, search, suggest, fetch, score,
chart nor clash with it, and no catalog response ever says who created a row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from modelmate.db import migrate
from modelmate.db.engine import Database

SECRET = {"name": "secret-model-xyz", "developer": "Acme Secret Lab", "hf_repo_id": "acme/secret-model-xyz",
          "github_repo": "acme/secret-model-xyz", "description": "internal only", "status": "using",
          "notes": "do not tell bob"}


def _bob_sees_nothing(bob, model_id: int, secret_words: tuple[str, ...]) -> None:
    """Every place a catalog row could show up, as Bob: nothing about the row."""
    bodies: list[str] = []
    for q in ("secret", "secret-model-xyz", "acme", "Acme Secret Lab", "acme/secret-model-xyz"):
        r = bob.get("/api/v1/models", params={"q": q})
        assert r.status_code == 200 and r.json()["total"] == 0, (q, r.text)
        bodies.append(r.text)
    r = bob.get("/api/v1/models", params={"developer": "Acme Secret Lab"})
    assert r.json()["total"] == 0
    everything = bob.get("/api/v1/models", params={"limit": 200}).json()
    assert model_id not in {m["id"] for m in everything["items"]}
    bodies.append(json.dumps(everything))
    for sort in ("created", "updated"):  # "recently added" suggestions
        page = bob.get("/api/v1/models", params={"sort": sort, "order": "desc"}).json()
        assert model_id not in {m["id"] for m in page["items"]}
    for path in (f"/api/v1/models/{model_id}", f"/api/v1/models/{model_id}/scores",
                 f"/api/v1/hub/models/by-id/{model_id}", f"/api/v1/models/{model_id}/fork-template"):
        r = bob.get(path)
        assert r.status_code == 404, (path, r.text)
        bodies.append(r.text)
    assert bob.get("/api/v1/lineage", params={"model_id": model_id}).status_code == 404
    assert bob.patch(f"/api/v1/models/{model_id}", json={"visibility": "public"}).status_code == 404
    assert bob.delete(f"/api/v1/models/{model_id}").status_code == 404
    assert bob.post("/api/v1/entries", json={"model_id": model_id}).status_code == 404
    for q in ("secret", "acme", "tell"):
        r = bob.get("/api/v1/search", params={"q": q})
        assert r.status_code == 200 and r.json()["total"] == 0, r.text
        bodies.append(json.dumps({k: v for k, v in r.json().items() if k != "query"}))  # it echoes Bob's words
    bodies.append(bob.get("/api/v1/leaderboards").text)
    for body in bodies:
        for word in secret_words:
            assert word not in body.lower(), (word, body[:300])


def test_another_user_learns_nothing_of_a_private_entry(account_client):
    alice, bob = account_client("alice"), account_client("bob")
    entry = alice.post("/api/v1/entries", json=SECRET)
    assert entry.status_code == 201, entry.text
    model_id = entry.json()["model_id"]

    own = alice.get(f"/api/v1/models/{model_id}").json()
    assert own["visibility"] == "private" and own["mine"] is True and "owner_id" not in own
    assert alice.get("/api/v1/models", params={"q": "secret"}).json()["total"] == 1

    _bob_sees_nothing(bob, model_id, ("secret-model-xyz", "acme", "alice"))

    # Bob logging the very same model is no oracle: no 409, he gets a row of his own.
    mine = bob.post("/api/v1/entries", json={k: SECRET[k] for k in ("name", "developer", "hf_repo_id")})
    assert mine.status_code == 201, mine.text
    assert mine.json()["model_id"] != model_id
    created = bob.post("/api/v1/models", json={"name": "secret-model-xyz", "developer": "Acme Secret Lab",
                                                "github_repo": "acme/secret-model-xyz"})
    assert created.status_code == 409  # his own row clashes — and that one is his to know about
    assert str(model_id) not in created.text
    # Alice's row is still hers alone.
    assert alice.get(f"/api/v1/models/{model_id}").json()["mine"] is True
    assert bob.get(f"/api/v1/models/{model_id}").status_code == 404


def test_sharing_makes_it_public_without_its_creator(account_client):
    alice, bob = account_client("alice"), account_client("bob")
    model_id = alice.post("/api/v1/entries", json=SECRET).json()["model_id"]
    assert bob.get(f"/api/v1/models/{model_id}").status_code == 404

    shared = alice.patch(f"/api/v1/models/{model_id}", json={"visibility": "public"})
    assert shared.status_code == 200, shared.text
    assert shared.json()["visibility"] == "public"

    seen = bob.get(f"/api/v1/models/{model_id}")
    assert seen.status_code == 200
    body = seen.json()
    assert body["name"] == "secret-model-xyz" and body["mine"] is False and "owner_id" not in body
    assert "alice" not in seen.text.lower()
    found = bob.get("/api/v1/models", params={"q": "secret"}).json()
    assert [m["id"] for m in found["items"]] == [model_id]
    assert all("owner_id" not in m for m in found["items"]) and "alice" not in json.dumps(found).lower()
    hub_page = bob.get(f"/api/v1/hub/models/by-id/{model_id}")
    assert hub_page.status_code == 200 and "alice" not in hub_page.text.lower()
    # Bob's entries never show Alice's notes: only the shared catalog fields.
    assert bob.get("/api/v1/search", params={"q": "tell"}).json()["total"] == 0

    # Bob logs it: the shared row is reused; he cannot edit, unshare or delete it.
    entry = bob.post("/api/v1/entries", json={"name": "secret-model-xyz", "developer": "Acme Secret Lab"})
    assert entry.status_code == 201 and entry.json()["model_id"] == model_id
    assert bob.patch(f"/api/v1/models/{model_id}", json={"visibility": "private"}).status_code == 403
    # Alice cannot take it back now that Bob logs it (his entry would point at a row he cannot see).
    r = alice.patch(f"/api/v1/models/{model_id}", json={"visibility": "private"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_in_use"


def test_unshare_before_anyone_uses_it(account_client):
    alice, bob = account_client("alice"), account_client("bob")
    model_id = alice.post("/api/v1/entries", json=SECRET).json()["model_id"]
    assert alice.patch(f"/api/v1/models/{model_id}", json={"visibility": "public"}).status_code == 200
    assert bob.get(f"/api/v1/models/{model_id}").status_code == 200
    assert alice.patch(f"/api/v1/models/{model_id}", json={"visibility": "private"}).status_code == 200
    assert bob.get(f"/api/v1/models/{model_id}").status_code == 404


def test_sharing_a_name_that_is_already_public(account_client):
    alice, bob = account_client("alice"), account_client("bob")
    a = alice.post("/api/v1/entries", json={"name": "Twin"}).json()["model_id"]
    b = bob.post("/api/v1/entries", json={"name": "Twin"}).json()["model_id"]
    assert a != b
    assert alice.patch(f"/api/v1/models/{a}", json={"visibility": "public"}).status_code == 200
    r = bob.patch(f"/api/v1/models/{b}", json={"visibility": "public"})
    assert r.status_code == 409 and r.json()["error"]["details"]["existing_id"] == a  # public: fine to name
    # Logging "Twin" now finds Bob's own row first (he sees his own and the public one).
    assert bob.get(f"/api/v1/models/{b}").json()["visibility"] == "private"


def test_public_catalog_add_is_shared_without_creator(account_client):
    alice, bob = account_client("alice"), account_client("bob")
    r = alice.post("/api/v1/models", json={"name": "Open Model", "visibility": "public"})
    assert r.status_code == 201 and r.json()["visibility"] == "public"
    seen = bob.get(f"/api/v1/models/{r.json()['id']}").json()
    assert seen["mine"] is False and "owner_id" not in seen
    private = alice.post("/api/v1/models", json={"name": "Closed Model"}).json()
    assert private["visibility"] == "private"
    assert bob.get(f"/api/v1/models/{private['id']}").status_code == 404


def test_imported_models_are_private_too(account_client):
    alice, bob = account_client("alice"), account_client("bob")
    csv = "name,developer,status,notes\nsecret-import-model,Hidden Co,tried,mine\n"
    r = alice.post("/api/v1/import", params={"dry_run": "false"},
                   files={"file": ("log.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert bob.get("/api/v1/models", params={"q": "secret-import"}).json()["total"] == 0
    assert bob.get("/api/v1/models", params={"q": "hidden co"}).json()["total"] == 0
    # Bob importing the same model gets his own row (no clash, no error naming Alice's).
    r = bob.post("/api/v1/import", params={"dry_run": "false"},
                 files={"file": ("log.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text


def test_single_user_mode_still_finds_its_own_models(client):
    entry = client.post("/api/v1/entries", json={"name": "Solo Model"}).json()
    found = client.get("/api/v1/models", params={"q": "solo"}).json()
    assert [m["id"] for m in found["items"]] == [entry["model_id"]] and found["items"][0]["mine"] is True


def test_migration_makes_unshared_logged_rows_private(tmp_path: Path):
    """An existing install: rows a user created and only they log become private; rows others log stay public."""
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(db, "0003")
    now = "2026-01-01 00:00:00"
    with db.engine.begin() as conn:
        for uid, name in ((1, "alice"), (2, "bob")):
            conn.execute(text("INSERT INTO users (id, username, is_admin, is_active, is_local, created_at, "
                              "updated_at) VALUES (:i, :n, 0, 1, 0, :t, :t)"), {"i": uid, "n": name, "t": now})
        rows = [(10, "secret-model-xyz", 1), (11, "shared-by-use", 1), (12, "base row", None)]
        for mid, name, owner in rows:
            conn.execute(text(
                "INSERT INTO models (id, name, name_key, developer_key, model_type, kind, visibility, owner_id, "
                "source_links, benchmark_scores, hub_info, metadata_extra, created_at, updated_at) VALUES "
                "(:i, :n, :n, '', 'LLM', 'external', 'public', :o, '[]', '{}', '{}', '{}', :t, :t)"),
                {"i": mid, "n": name, "o": owner, "t": now})
        for eid, owner, mid in ((100, 1, 10), (101, 1, 11), (102, 2, 11)):
            conn.execute(text("INSERT INTO entries (id, owner_id, model_id, status, notes, visibility, "
                              "created_at, updated_at) VALUES (:e, :o, :m, 'tried', '', 'private', :t, :t)"),
                         {"e": eid, "o": owner, "m": mid, "t": now})
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        vis = dict(conn.execute(text("SELECT id, visibility FROM models")).all())
    assert vis == {10: "private", 11: "public", 12: "public"}
    # Bob may now create his own row with Alice's private identity.
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO models (name, name_key, developer_key, model_type, kind, visibility, owner_id, "
            "source_links, benchmark_scores, hub_info, metadata_extra, created_at, updated_at) VALUES "
            "('secret-model-xyz', 'secret-model-xyz', '', 'LLM', 'external', 'private', 2, '[]', '{}', '{}', '{}', "
            ":t, :t)"), {"t": now})
    with pytest.raises(IntegrityError):  # global uniqueness would be back: two users' private twins refuse it
        migrate.downgrade(db, "0003")
    db.dispose()


@pytest.mark.parametrize("field", ["name+developer", "hf_repo_id"])
def test_uniqueness_is_per_owner_for_private_rows(account_client, field):
    alice = account_client("alice")
    body = {"name": "Same", "hf_repo_id": "org/same"}
    assert alice.post("/api/v1/models", json=body).status_code == 201
    by_hf = field == "hf_repo_id"
    clash = {"name": "Other" if by_hf else "Same", "hf_repo_id": "org/same" if by_hf else None}
    r = alice.post("/api/v1/models", json=clash)
    assert r.status_code == 409 and r.json()["error"]["details"]["field"] == field
