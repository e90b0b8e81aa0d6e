"""Requests rejected before anything is queued, per-user isolation, the settings hash (the cache key), and the
leaderboards over constructed scores: ranking, comparability, delta vs base, thumbs, filters."""

from __future__ import annotations

import pytest

from modelmate.benchmarking import leaderboard, service
from modelmate.benchmarking import repository as repo
from modelmate.benchmarking.schemas import LeaderboardRow, RefOut
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


def _row(model_id: int, value: float | None, stderr: float | None, comparable: bool = True) -> LeaderboardRow:
    return LeaderboardRow(rank=None, model=RefOut(id=model_id, name=f"m{model_id}", kind="external"),
                          method="external", score=value, stderr=stderr, comparable=comparable)


def test_overlapping_confidence_intervals_share_a_rank():
    """Known case: 0.80 ± 1.96·0.01 = [0.7804, 0.8196] overlaps 0.78's [0.7604, 0.7996] → both rank 1 (≈);
    0.60 is far below → rank 3 (competition ranking); 0.595 with no stderr sits inside 0.60's interval → 3 ≈;
    0.50 with no stderr vs 0.595 with none: distinct points → rank 5. Unranked rows stay unranked."""
    rows = [_row(1, 0.80, 0.01), _row(2, 0.78, 0.01), _row(3, 0.60, 0.01), _row(4, 0.595, None),
            _row(5, 0.50, None), _row(6, 0.99, 0.01, comparable=False)]
    leaderboard.assign_ranks(rows)
    assert [(r.rank, r.tied) for r in rows] == [(1, False), (1, True), (3, False), (3, True), (5, False),
                                                (None, False)]
    # intervals that only just miss: 0.80 - 1.96·0.005 = 0.7902 > 0.78 + 1.96·0.005 = 0.7898 → apart
    rows = [_row(1, 0.80, 0.005), _row(2, 0.78, 0.005)]
    leaderboard.assign_ranks(rows)
    assert [(r.rank, r.tied) for r in rows] == [(1, False), (2, False)]
    # equal scores tie even without errors
    rows = [_row(1, 0.5, None), _row(2, 0.5, None)]
    leaderboard.assign_ranks(rows)
    assert [(r.rank, r.tied) for r in rows] == [(1, False), (1, True)]


def test_leaderboard_api_marks_ties_and_small_samples(hub, database, account_client):
    client = account_client("carol")
    full = {**score(0.62, "h9", stderr=0.02), "mode": "full"}
    ids = [add_model(database, "Tie A", scores={"reading": score(0.64, "h9", stderr=0.02)}),
           add_model(database, "Tie B", scores={"reading": full}),
           add_model(database, "Far C", scores={"reading": score(0.20, "h9", stderr=0.02)})]
    body = client.get("/api/v1/leaderboards", params={"domain": "reading"}).json()
    assert body["min_documents"] == leaderboard.MIN_DOCUMENTS == 100
    got = {r["model"]["id"]: (r["rank"], r["tied"], r["small_sample"], r["mode"]) for r in body["rows"]}
    assert got == {ids[0]: (1, False, True, "quick"), ids[1]: (1, True, False, "full"),
                   ids[2]: (3, False, True, "quick")}


def test_documents_behind_a_score_come_from_its_evaluation_rows(hub, database, settings):
    """A final quick evaluation of 2 + 3 documents in reading (two tasks; two metrics of one task share its
    documents) → n_documents 5 on the leaderboard, a small sample."""
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]})
    base = {"task": "boolq", "domain": "reading", "metric": "acc", "filter": "none", "value": 0.5, "stderr": 0.1,
            "n_samples": 2, "n_shot": 0, "limit": 2, "harness_version": "0.4.13", "task_hash": "a" * 64,
            "chat_template_hash": None, "status": "final", "primary": True, "scale": 1.0}
    rows = [base, {**base, "metric": "acc_norm", "primary": False},
            {**base, "task": "other_reading_task", "n_samples": 3, "limit": 3, "primary": False}]
    result = {"status": "final", "rows": rows, "raw": {"boolq": {"results": {}}}, "harness_version": "0.4.13"}
    with database.session() as s:
        evaluation = repo.get_evaluation(s, r.json()["id"])
        assert service.store_result(s, evaluation, result) == "final"
        assert repo.documents_per_domain(s, [evaluation.id]) == {(evaluation.id, "reading"): 5}
    rows = hub.get("/api/v1/leaderboards", params={"domain": "reading"}).json()["rows"]
    assert len(rows) == 1
    assert rows[0]["n_documents"] == 5 and rows[0]["small_sample"] is True and rows[0]["mode"] == "quick"
    overall = hub.get("/api/v1/leaderboards", params={"domain": "overall"}).json()["rows"]
    assert overall[0]["n_documents"] == 5
