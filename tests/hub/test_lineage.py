"""Lineage graph: families (base → fine-tunes → forks), datasets, per-domain deltas, and visibility (an invisible
model never appears, not even as an id)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from modelmate.models import Model

API = "/api/v1"


def set_scores(database, model_id: int, scores: dict[str, float]) -> None:
    with database.session() as s:
        model = s.get(Model, model_id)
        model.benchmark_scores = {d: {"score": v, "stderr": 0.01, "tasks": ["t"]} for d, v in scores.items()}
        s.commit()


def publish(client, model_id: int) -> None:
    assert client.patch(f"{API}/hub/models/{model_id}", json={"visibility": "public"}).status_code == 200


def ids(graph: dict) -> set[str]:
    return {n["id"] for n in graph["nodes"]}


def edges(graph: dict) -> dict[tuple[str, str], dict]:
    return {(e["source"], e["target"]): e for e in graph["edges"]}


def test_family_graph_deltas_and_visibility(app, hub, register, account_client, upload, database):
    alice = account_client("alice")
    bob = account_client("bob")
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    base_id = next(m for m in alice.get(f"{API}/base-models").json() if m["key"] == "tiny")["id"]
    ds = upload(alice, name="alice data")
    a = register(alice.user["id"], name="A", dataset_id=ds["id"])
    b = register(alice.user["id"], name="B", parent_model_id=a)  # a fork of A
    c = register(alice.user["id"], name="C secret", parent_model_id=a)  # a private fork
    d = register(bob.user["id"], name="D bob")  # bob's private model, same base
    for m in (a, b):
        publish(alice, m)
    set_scores(database, base_id, {"reasoning": 0.30, "math": 0.10})
    set_scores(database, a, {"reasoning": 0.40, "math": 0.10, "code": 0.2})
    set_scores(database, b, {"reasoning": 0.55})

    g = alice.get(f"{API}/lineage", params={"model_id": b}).json()
    assert g["focus"] == f"m{b}"
    assert ids(g) == {f"m{base_id}", f"m{a}", f"m{b}", f"m{c}", f"d{ds['id']}"}
    e = edges(g)
    assert e[(f"m{base_id}", f"m{a}")]["type"] == "finetune"
    assert e[(f"m{base_id}", f"m{a}")]["deltas"] == pytest.approx({"reasoning": 0.10, "math": 0.0})
    assert e[(f"m{a}", f"m{b}")]["type"] == "fork"
    assert e[(f"m{a}", f"m{b}")]["deltas"] == pytest.approx({"reasoning": 0.15})
    assert e[(f"m{a}", f"m{c}")]["type"] == "fork" and e[(f"m{a}", f"m{c}")]["deltas"] == {}
    assert e[(f"d{ds['id']}", f"m{a}")]["type"] == "data"
    nodes = {n["id"]: n for n in g["nodes"]}
    assert nodes[f"m{base_id}"]["type"] == "base" and nodes[f"m{a}"]["type"] == "finetuned"
    assert nodes[f"m{a}"]["page_path"] == "/m/alice/a" and nodes[f"m{a}"]["outcome"] == "success"
    assert nodes[f"m{b}"]["scores"] == {"reasoning": 0.55}
    assert nodes[f"d{ds['id']}"]["type"] == "dataset" and nodes[f"d{ds['id']}"]["label"] == "alice data"
    assert f"m{d}" not in ids(g)  # bob's private model shares the base but is not alice's to see

    for who in (bob, anon):  # A and B are public; C, the private dataset and bob's model (for anon) are not
        g = who.get(f"{API}/lineage", params={"model_id": a}).json()
        assert ids(g) >= {f"m{base_id}", f"m{a}", f"m{b}"}
        assert f"m{c}" not in ids(g) and f"d{ds['id']}" not in ids(g)
        assert f'"m{c}"' not in who.get(f"{API}/lineage", params={"model_id": a}).text
        assert "C secret" not in who.get(f"{API}/lineage").text
        assert who.get(f"{API}/lineage", params={"model_id": c}).status_code == 404
    assert f"m{d}" in ids(bob.get(f"{API}/lineage", params={"model_id": a}).json())  # bob sees his own
    assert f"m{d}" not in ids(anon.get(f"{API}/lineage", params={"model_id": a}).json())

    everything = anon.get(f"{API}/lineage").json()  # no model: every visible fine-tune's family
    assert everything["focus"] is None
    assert ids(everything) == {f"m{base_id}", f"m{a}", f"m{b}"}
    assert alice.get(f"{API}/lineage", params={"model_id": 999999}).status_code == 404


def test_public_fork_of_a_private_parent_hangs_from_the_base(app, hub, register, account_client):
    alice = account_client("alice")
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    base_id = next(m for m in alice.get(f"{API}/base-models").json() if m["key"] == "tiny")["id"]
    parent = register(alice.user["id"], name="Private parent")
    child = register(alice.user["id"], name="Public child", parent_model_id=parent)
    publish(alice, child)
    g = anon.get(f"{API}/lineage", params={"model_id": child}).json()
    assert ids(g) == {f"m{base_id}", f"m{child}"}
    assert [(e["source"], e["target"], e["type"]) for e in g["edges"]] == [(f"m{base_id}", f"m{child}", "finetune")]
    assert "Private parent" not in anon.get(f"{API}/hub/models/by-id/{child}").text  # parent ref hidden too
    assert anon.get(f"{API}/hub/models/by-id/{child}").json()["model"]["parent"] is None
    assert alice.get(f"{API}/hub/models/by-id/{child}").json()["model"]["parent"]["id"] == parent
