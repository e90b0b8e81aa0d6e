"""Requests rejected before anything is queued, per-user isolation, the settings hash (the cache key), and the
leaderboards over constructed scores: ranking, comparability, delta vs base, thumbs, filters."""

from __future__ import annotations

import pytest

from modelmate.benchmarking import service
from modelmate.db.base import utcnow
from modelmate.models import Evaluation, Job, Model, ModelFeedback


def add_model(database, name: str, *, kind: str = "external", owner_id: int | None = None, visibility="public",
              base_id: int | None = None, parameters: int | None = None, scores: dict | None = None,
              adapter: bool = False) -> int:
    with database.session() as s:
        m = Model(name=name, name_key=name.lower(), developer_key="", kind=kind, owner_id=owner_id,
                  visibility=visibility, base_model_id=base_id, parameters=parameters,
                  benchmark_scores=scores or {}, hub_info={"adapter": True} if adapter else {})
        s.add(m)
        s.flush()
        return m.id


def score(value: float, settings_hash: str = "h1", stderr: float = 0.01) -> dict:
    return {"score": value, "stderr": stderr, "tasks": ["gsm8k"], "evaluation_id": None, "mode": "quick",
            "settings_hash": settings_hash, "measured_at": utcnow().isoformat()}


def jobs(database) -> int:
    with database.session() as s:
        return s.query(Job).count() + s.query(Evaluation).count()


def test_bad_requests_are_rejected_before_anything_is_queued(hub, database):
    assert hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["math", "astrology"]}).status_code == 422
    assert hub.post("/api/v1/evaluations", json={"model": "tiny", "mode": "slow"}).status_code == 422
    assert hub.post("/api/v1/evaluations", json={"model": "no-such-model"}).status_code == 404
    assert hub.post("/api/v1/evaluations", json={"model": "999999"}).status_code == 404
    external = hub.post("/api/v1/models", json={"name": "Weightless"}).json()
    r = hub.post("/api/v1/evaluations", json={"model": str(external["id"])})
    assert r.status_code == 422 and "cannot be evaluated" in r.json()["error"]["message"]
    assert jobs(database) == 0
    assert hub.get("/api/v1/leaderboards", params={"domain": "astrology"}).status_code == 422
    assert hub.get("/api/v1/leaderboards", params={"method": "magic"}).status_code == 422


def test_settings_hash_changes_with_what_makes_results_incomparable(settings):
    values, h = service.evaluation_settings(settings, "quick", ["math", "reading"])
    assert values["domains"] == ["math", "reading"] and set(values["domain_hashes"]) == {"math", "reading"}
    assert service.evaluation_settings(settings, "quick", ["reading", "math"])[1] == h
    assert service.evaluation_settings(settings, "full", ["math", "reading"])[1] != h
    other = settings.model_copy(update={"eval_quick_size": 3})
    assert service.evaluation_settings(other, "quick", ["math", "reading"])[1] != h
    no_code = settings.model_copy(update={"code_execution_enabled": False})
    assert service.evaluation_settings(no_code, "quick", ["math", "reading"])[1] == h  # no code task selected
    assert service.evaluation_settings(no_code, "quick", ["code"])[1] != service.evaluation_settings(
        settings, "quick", ["code"])[1]
    _, everything = service.evaluation_settings(settings, "quick", None)
    assert service.evaluation_settings(settings, "quick", None)[0]["domains"] == [
        "math", "code", "knowledge", "reasoning", "reading", "truthfulness", "translation"]
    assert everything != h


@pytest.fixture
def board(hub, database, account_client):
    alice = account_client("alice")  # owns the single-user data
    bob = account_client("bob")
    a, b = alice.user["id"], bob.user["id"]
    ids = {}
    ids["base"] = add_model(database, "Base 1B", kind="base", parameters=1_000, scores={"math": score(0.30)})
    ids["ft_alice"] = add_model(database, "alice-ft", kind="finetuned", owner_id=a, visibility="private",
                                base_id=ids["base"], parameters=1_000, adapter=True, scores={"math": score(0.50)})
    ids["ft_public"] = add_model(database, "public-ft", kind="finetuned", owner_id=b, base_id=ids["base"],
                                 parameters=1_000, adapter=True, scores={"math": score(0.40),
                                                                         "reading": score(0.7)})
    ids["other_settings"] = add_model(database, "Big external", parameters=70_000,
                                      scores={"math": score(0.90, "h2")})
    ids["bob_private"] = add_model(database, "bob-secret", kind="finetuned", owner_id=b, visibility="private",
                                   base_id=ids["base"], adapter=True, scores={"math": score(0.99)})
    with database.session() as s:
        s.add_all([ModelFeedback(user_id=a, model_id=ids["ft_public"], value=1),
                   ModelFeedback(user_id=b, model_id=ids["ft_public"], value=-1),
                   ModelFeedback(user_id=a, model_id=ids["base"], value=1)])
    return alice, bob, ids


def test_leaderboard_ranks_only_comparable_rows_with_delta_and_thumbs(board):
    alice, _bob, ids = board
    body = alice.get("/api/v1/leaderboards", params={"domain": "math"}).json()
    assert body["settings_hash"] == "h1"
    rows = [(r["model"]["id"], r["rank"], r["comparable"]) for r in body["rows"]]
    assert rows == [(ids["ft_alice"], 1, True), (ids["ft_public"], 2, True), (ids["base"], 3, True),
                    (ids["other_settings"], None, False)]  # 0.90 is not ranked: other settings
    first = body["rows"][0]
    assert first["delta_vs_base"] == pytest.approx(0.20) and first["base"]["id"] == ids["base"]
    assert first["method"] == "lora" and first["parameters"] == 1_000 and first["stderr"] == 0.01
    public = body["rows"][1]
    assert (public["thumbs_up"], public["thumbs_down"]) == (1, 1)
    assert body["rows"][2]["delta_vs_base"] is None and body["rows"][2]["thumbs_up"] == 1
    # filters
    lora = alice.get("/api/v1/leaderboards", params={"domain": "math", "method": "lora"}).json()["rows"]
    assert [r["model"]["id"] for r in lora] == [ids["ft_alice"], ids["ft_public"]]
    big = alice.get("/api/v1/leaderboards", params={"domain": "math", "min_params": 10_000}).json()["rows"]
    assert [(r["model"]["id"], r["rank"]) for r in big] == [(ids["other_settings"], 1)]
    family = alice.get("/api/v1/leaderboards", params={"domain": "math", "base_model_id": ids["base"]}).json()
    assert {r["model"]["id"] for r in family["rows"]} == {ids["ft_alice"], ids["ft_public"], ids["base"]}
    # overall: a model measured on other domains has another overall settings hash
    overall = alice.get("/api/v1/leaderboards", params={"domain": "overall"}).json()["rows"]
    by_id = {r["model"]["id"]: r for r in overall}
    assert by_id[ids["ft_alice"]]["score"] == pytest.approx(0.5) and by_id[ids["ft_alice"]]["rank"] == 1
    assert by_id[ids["ft_public"]]["score"] == pytest.approx(0.55) and by_id[ids["ft_public"]]["rank"] is None


def test_private_models_of_others_never_appear(board):
    alice, bob, ids = board
    for client, hidden in ((alice, ids["bob_private"]), (bob, ids["ft_alice"])):
        rows = client.get("/api/v1/leaderboards", params={"domain": "math"}).json()["rows"]
        assert hidden not in [r["model"]["id"] for r in rows]
        assert client.get(f"/api/v1/models/{hidden}/scores").status_code == 404
        assert client.post("/api/v1/evaluations", json={"model": str(hidden)}).status_code == 404
        assert client.get("/api/v1/evaluations", params={"model_id": hidden}).json()["total"] == 0
    bob_rows = bob.get("/api/v1/leaderboards", params={"domain": "math"}).json()["rows"]
    assert bob_rows[0]["model"]["id"] == ids["bob_private"] and bob_rows[0]["rank"] == 1  # his own
    scores = alice.get(f"/api/v1/models/{ids['ft_alice']}/scores").json()
    assert scores["domains"][0]["delta_vs_base"] == pytest.approx(0.2) and scores["evaluation"] is None


def test_foreign_evaluations_are_404(board, database):
    alice, bob, ids = board
    with database.session() as s:
        ev = Evaluation(owner_id=alice.user["id"], model_id=ids["ft_alice"], mode="quick", status="final",
                        tasks=["gsm8k"], settings={"domains": ["math"]}, settings_hash="x", raw_results={"gsm8k": {}})
        s.add(ev)
        s.flush()
        ev_id = ev.id
    assert alice.get(f"/api/v1/evaluations/{ev_id}").status_code == 200
    assert alice.get(f"/api/v1/evaluations/{ev_id}/raw").json() == {"gsm8k": {}}
    assert bob.get(f"/api/v1/evaluations/{ev_id}").status_code == 404
    assert bob.get(f"/api/v1/evaluations/{ev_id}/raw").status_code == 404
    assert bob.get("/api/v1/evaluations/999999").status_code == 404


def test_cancelling_a_queued_evaluation_fails_it_at_once(hub, database, account_client):
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]})
    assert r.status_code == 202
    alice = account_client("alice")  # adopts the single-user data
    bob = account_client("bob")
    assert bob.post(f"/api/v1/evaluations/{r.json()['id']}/cancel").status_code == 404
    body = alice.post(f"/api/v1/evaluations/{r.json()['id']}/cancel")
    assert body.status_code == 200, body.text
    assert body.json()["status"] == "failed" and body.json()["error"]["type"] == "Cancelled"
    assert body.json()["job_status"] == "cancelled"
    assert alice.post(f"/api/v1/evaluations/{r.json()['id']}/cancel").json()["status"] == "failed"  # idempotent
    # a failed evaluation is not a cache entry
    assert alice.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]}).status_code == 202


def test_a_partial_result_is_stored_as_partial_and_never_scored(hub, database, settings):
    """A run where one task crashed: the finished task's rows stay partial, the model's scores are untouched."""
    from modelmate.benchmarking import repository as repo

    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading", "truthfulness"]})
    row = {"task": "boolq", "domain": "reading", "metric": "acc", "filter": "none", "value": 0.5, "stderr": 0.1,
           "n_samples": 2, "n_shot": 0, "limit": 2, "harness_version": "0.4.13", "task_hash": "a" * 64,
           "chat_template_hash": None, "status": "final", "primary": True, "scale": 1.0}
    failed = {**row, "task": "truthfulqa_mc1", "domain": "truthfulness", "value": None, "status": "failed",
              "error": "RuntimeError: boom"}
    result = {"status": "partial", "rows": [row, failed], "raw": {"boolq": {"results": {}}},
              "harness_version": "0.4.13", "errors": {"truthfulqa_mc1": "RuntimeError: boom"}}
    with database.session() as s:
        evaluation = repo.get_evaluation(s, r.json()["id"])
        assert service.store_result(s, evaluation, result) == "partial"
    body = hub.get(f"/api/v1/evaluations/{r.json()['id']}").json()
    assert body["status"] == "partial" and "boom" in body["error"]["message"]
    assert sorted(x["status"] for x in body["rows"]) == ["failed", "partial"]
    with database.session() as s:
        assert s.get(Model, body["model_id"]).benchmark_scores == {}
    assert hub.get("/api/v1/leaderboards", params={"domain": "reading"}).json()["rows"] == []
    assert hub.get(f"/api/v1/models/{body['model_id']}/scores").json()["evaluation"] is None
