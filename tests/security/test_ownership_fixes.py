"""Ownership problems found in the existing catalog code while adding accounts (each test failed before its fix)."""

from __future__ import annotations

import secrets

from modelmate.models import Model

API = "/api/v1"


def _insert_model(database, **fields) -> int:
    with database.session() as s:
        name = fields.pop("name")
        m = Model(name=name, name_key=name.casefold(), developer_key="", source_links=[], benchmark_scores={},
                  hub_info={}, metadata_extra={}, **fields)
        s.add(m)
        s.flush()
        return m.id


def test_duplicate_check_never_reveals_another_users_private_model(app, client, account_client, database):
    alice = account_client("alice")
    bob = account_client("bob")
    marker = f"secretproject{secrets.token_hex(4)}"
    private_id = _insert_model(database, name=marker, description="internal", visibility="private",
                               owner_id=alice.user["id"], kind="finetuned")
    # Not even a 409: a clash would tell Bob that someone keeps a model by that name. He gets a row of his own.
    for path, body in ((f"{API}/entries", {"name": marker}), (f"{API}/models", {"name": marker.upper() + "x"})):
        resp = bob.post(path, json=body)
        assert resp.status_code == 201, resp.text
        assert resp.json().get("model_id", resp.json().get("id")) != private_id and "internal" not in resp.text
    # the owner still gets the helpful answer
    mine = alice.post(f"{API}/models", json={"name": marker})
    assert mine.status_code == 409 and mine.json()["error"]["details"]["existing_id"] == private_id


def test_shared_catalog_rows_without_owner_are_admin_only(app, client, account_client, database):
    admin = account_client("alice")
    bob = account_client("bob")
    shared = _insert_model(database, name="Shared base", visibility="public", owner_id=None)
    assert bob.get(f"{API}/models/{shared}").status_code == 200
    resp = bob.patch(f"{API}/models/{shared}", json={"name": "Vandalised"})
    assert resp.status_code == 403
    assert bob.delete(f"{API}/models/{shared}").status_code == 403
    assert admin.get(f"{API}/models/{shared}").json()["name"] == "Shared base"
    assert admin.patch(f"{API}/models/{shared}", json={"description": "curated"}).status_code == 200
