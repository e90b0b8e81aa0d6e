"""Model pages by owner/slug and by id, publishing, feedback — on a real registered adapter, both backends."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modelmate.catalog.slugs import dedupe, slugify
from modelmate.models import ModelFeedback, TrainingRun

API = "/api/v1"


@pytest.mark.parametrize(("name", "slug"), [
    ("My Tune", "my-tune"), ("  --Hello, World!!  ", "hello-world"), ("a.b_c-d", "a.b_c-d"), ("Ünïcödé ✨", "unicode"),
    ("...", "model"), ("", "model"), ("x" * 300, "x" * 96), ("v1.0.", "v1.0"), ("日本語", "model")])
def test_slugify(name, slug):
    assert slugify(name) == slug


def test_dedupe_keeps_the_limit():
    taken = {"a", "a-2", "x" * 96}
    assert dedupe("a", taken.__contains__) == "a-3"
    assert dedupe("b", taken.__contains__) == "b"
    long = dedupe("x" * 96, taken.__contains__)
    assert long == "x" * 94 + "-2" and len(long) <= 96


def test_page_by_slug_and_id_for_the_owner(hub, me, register, upload):
    ds = upload(hub, name="Greek letters")
    owner_id = me
    model_id = register(owner_id, name="My Tune!", dataset_id=ds["id"])
    twin_id = register(owner_id, name="My Tune!")  # same name, same owner → (2) in the name, -2 in the slug

    page = hub.get(f"{API}/hub/models/by-id/{model_id}").json()
    m = page["model"]
    assert m["slug"] == "my-tune" and m["kind"] == "finetuned" and m["visibility"] == "private" and m["toy"] is True
    assert m["repo_id"] == f"{m['owner']}/my-tune"
    assert m["base"]["name"] and m["base"]["kind"] == "base" and m["base"]["page_path"] is None
    assert m["parent"] is None
    same = hub.get(f"{API}/hub/models/{m['owner']}/my-tune").json()
    assert same["model"]["id"] == model_id
    twin = hub.get(f"{API}/hub/models/by-id/{twin_id}").json()["model"]
    assert twin["slug"] == "my-tune-2" and twin["name"] == "My Tune! (2)"

    run = page["run"]
    assert run["status"] == "succeeded" and run["training_outcome"] == "success"
    assert len(run["curve"]) == 6 and run["curve"][-1]["step"] == 6 and run["config"]["r"] == 4
    assert run["final_loss"] is not None and run["environment"]
    card = page["dataset"]
    assert card["id"] == ds["id"] and card["name"] == "Greek letters" and card["rows"] == 24
    assert 1 <= len(card["samples"]) <= 3 and "alpha" in card["samples"][0]["text"]
    assert page["permissions"] == {"can_edit": True, "can_feedback": True, "can_download": True, "can_fork": True,
                                   "can_demo": True}
    assert page["feedback"] == {"up": 0, "down": 0, "mine": None, "recent": []}


def test_visibility_publish_and_isolation(app, hub, register, account_client, upload):
    alice = account_client("alice")
    bob = account_client("bob")
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    ds = upload(alice, name="alice private data")
    model_id = register(alice.user["id"], name="Secret sauce", dataset_id=ds["id"])
    url = f"{API}/hub/models/alice/secret-sauce"

    assert alice.get(url).status_code == 200
    for who in (bob, anon):  # private: 404 for everyone else, by slug and by id
        assert who.get(url).status_code == 404
        assert who.get(f"{API}/hub/models/by-id/{model_id}").status_code == 404
    assert bob.patch(f"{API}/hub/models/{model_id}", json={"visibility": "public"}).status_code == 404
    assert anon.patch(f"{API}/hub/models/{model_id}", json={"visibility": "public"}).status_code == 401

    published = alice.patch(f"{API}/hub/models/{model_id}",
                            json={"visibility": "public", "description": "<b>tuned</b> on letters"})
    assert published.status_code == 200, published.text
    assert published.json()["model"]["visibility"] == "public"
    for who in (bob, anon):
        page = who.get(url)
        assert page.status_code == 200
        body = page.json()
        assert body["model"]["description"] == "<b>tuned</b> on letters"  # stored raw, served as JSON
        assert body["dataset"] is None  # the dataset stays private
        assert body["permissions"]["can_edit"] is False
    assert anon.get(url).json()["permissions"]["can_feedback"] is False
    assert bob.get(url).json()["permissions"]["can_feedback"] is True
    # unpublish: gone again
    assert alice.patch(f"{API}/hub/models/{model_id}", json={"visibility": "private"}).status_code == 200
    assert bob.get(url).status_code == 404
    assert alice.patch(f"{API}/hub/models/{model_id}", json={"visibility": "secret"}).status_code == 422
    assert anon.get(f"{API}/hub/models/nobody/secret-sauce").status_code == 404


def test_feedback_counts_mine_and_owner_mirror(app, hub, register, account_client, database):
    alice = account_client("alice")
    bob = account_client("bob")
    model_id = register(alice.user["id"], name="Feedback me")
    fb = f"{API}/hub/models/{model_id}/feedback"
    assert bob.put(fb, json={"value": 1}).status_code == 404  # private: bob cannot even see it
    alice.patch(f"{API}/hub/models/{model_id}", json={"visibility": "public"})

    r = bob.put(fb, json={"value": 1, "comment": "nice <script>alert(1)</script>"})
    assert r.status_code == 200, r.text
    assert r.json()["up"] == 1 and r.json()["mine"] == {"value": 1, "comment": "nice <script>alert(1)</script>"}
    r = alice.put(fb, json={"value": -1, "comment": "diverged a bit"})
    assert r.json()["up"] == 1 and r.json()["down"] == 1
    assert [(f["user"], f["value"]) for f in r.json()["recent"]] == [("alice", -1), ("bob", 1)]
    r = bob.put(fb, json={"value": -1})  # replaces bob's thumbs
    assert (r.json()["up"], r.json()["down"], r.json()["mine"]) == (0, 2, {"value": -1, "comment": None})
    assert bob.put(fb, json={"value": 0}).status_code == 422
    assert bob.put(fb, json={"value": 1, "comment": "x" * 2001}).status_code == 422
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    assert anon.put(fb, json={"value": 1}).status_code == 401

    with database.session() as s:  # the owner's thumbs are mirrored into the run (the research dataset reads it)
        run = s.scalars(select(TrainingRun).where(TrainingRun.output_model_id == model_id)).one()
        assert (run.feedback_value, run.feedback_comment) == (-1, "diverged a bit")
        assert s.scalars(select(ModelFeedback).where(ModelFeedback.model_id == model_id)).all()[0].run_id == run.id

    assert bob.delete(fb).status_code == 204
    assert alice.delete(fb).status_code == 204
    page = bob.get(f"{API}/hub/models/by-id/{model_id}").json()
    assert page["feedback"] == {"up": 0, "down": 0, "mine": None, "recent": []}
    with database.session() as s:
        run = s.scalars(select(TrainingRun).where(TrainingRun.output_model_id == model_id)).one()
        assert run.feedback_value is None and run.feedback_comment is None


def test_missing_adapter_turns_download_and_fork_off(hub, me, register):
    model_id = register(me, name="No files", adapter=False)
    page = hub.get(f"{API}/hub/models/by-id/{model_id}").json()
    assert page["permissions"]["can_download"] is False and page["permissions"]["can_fork"] is False
    r = hub.get(f"{API}/hub/models/{model_id}/download")
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_unavailable"


def test_base_model_page_by_id(hub):
    base = next(m for m in hub.get(f"{API}/base-models").json() if m["key"] == "tiny")
    page = hub.get(f"{API}/hub/models/by-id/{base['id']}").json()
    assert page["model"]["kind"] == "base" and page["model"]["slug"] is None and page["run"] is None
    assert page["permissions"]["can_download"] is False
