"""The research API on data built in the database: the capability hook (vs base, vs parent, dependents,
forgetting), the feed and its aggregates, the museum, run feedback, the research dataset and the advisor — with
per-user visibility throughout."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
import yaml
from research_world import add_dataset, add_model, add_outcomes, add_run, add_scores

from modelmate.models import CapabilityChange, Model, ModelFeedback, TrainingRun
from modelmate.research import changes, export

API = "/api/v1"
BASE_ROWS = [("gsm8k", "math", 0.30, 0.01), ("boolq", "reading", 0.70, 0.01), ("arc_easy", "reasoning", 0.50, 0.01)]
# trained on math: math up, reading collapses (forgetting), reasoning unchanged
CHILD_ROWS = [("gsm8k", "math", 0.45, 0.01), ("boolq", "reading", 0.40, 0.01), ("arc_easy", "reasoning", 0.505, 0.01)]


@pytest.fixture
def world(account_client, database):
    admin = account_client("overseer")  # the first account is the admin
    assert admin.user["is_admin"]
    alice, bob = account_client("alice"), account_client("bob")
    assert not alice.user["is_admin"] and not bob.user["is_admin"]
    with database.session() as s:
        base = add_model(s, "Base", kind="base", visibility="public")
        data = add_dataset(s, alice.user["id"], "math set", domain="math")
        child = add_model(s, "Alice math", owner_id=alice.user["id"], base_id=base.id)
        run = add_run(s, alice.user["id"], base.id, name="alice math run", output_id=child.id, dataset_id=data.id)
        add_scores(s, base.id, BASE_ROWS)
        add_scores(s, child.id, CHILD_ROWS)
        ids = {"base": base.id, "child": child.id, "run": run.id, "dataset": data.id}
    alice.admin = admin
    return alice, bob, ids


def change_rows(database, model_id):
    with database.session() as s:
        rows = s.query(CapabilityChange).filter(CapabilityChange.model_id == model_id).all()
        return {(r.domain, r.task): r for r in rows}


def test_hook_compares_with_base_flags_changes_and_sets_forgetting(world, database):
    alice, _, ids = world
    with database.session() as s:
        assert changes.recompute(s, ids["child"]) == 6  # 3 tasks + 3 domain aggregates
    rows = change_rows(database, ids["child"])
    assert set(rows) == {("math", "gsm8k"), ("math", None), ("reading", "boolq"), ("reading", None),
                         ("reasoning", "arc_easy"), ("reasoning", None)}
    assert all(r.reference_model_id == ids["base"] and r.reference_kind == "base" for r in rows.values())
    up, down, flat = rows[("math", "gsm8k")], rows[("reading", "boolq")], rows[("reasoning", "arc_easy")]
    assert up.flagged and up.direction == "up" and up.delta == pytest.approx(0.15)
    # no per-document outcomes: the unpaired z-test
    assert up.sentence == "gsm8k acc +15.0 points (+50% relative) vs base (unpaired z-test), p < 0.001"
    assert up.test == "z" and flat.test == "z"
    assert down.flagged and down.direction == "down" and down.p_adjusted < 0.001
    assert not flat.flagged  # +0.005: neither significant nor large
    assert all(r.evaluation_id is not None for r in rows.values())
    with database.session() as s:
        assert s.get(TrainingRun, ids["run"]).failure_category == "forgetting"  # reading ≠ the data's math
        # recomputing replaces the pair's rows (no duplicates)
        changes.recompute(s, ids["child"])
    assert len(change_rows(database, ids["child"])) == 6


def test_stored_outcomes_make_the_test_paired_and_the_feed_says_which(world, database):
    """With per-document outcomes on both sides (the same 50 boolq documents), the hook uses McNemar: 8 documents
    the child now gets right, none it gets wrong — flagged although the unpaired z-test would not flag it."""
    alice, _, ids = world
    reference = [1.0] * 25 + [0.0] * 25
    mine = [1.0] * 33 + [0.0] * 17
    with database.session() as s:
        base_ev = add_scores(s, ids["base"], [("boolq", "reading", 0.50, 0.0714)])
        child_ev = add_scores(s, ids["child"], [("boolq", "reading", 0.66, 0.0677)])
        add_outcomes(s, base_ev, "boolq", reference)
        add_outcomes(s, child_ev, "boolq", mine)
        changes.recompute(s, ids["child"])
    rows = change_rows(database, ids["child"])
    boolq = rows[("reading", "boolq")]
    assert boolq.test == "mcnemar" and boolq.n == 50 and boolq.p_value == pytest.approx(2 / 256)
    assert boolq.flagged
    assert boolq.sentence.startswith("boolq acc +16.0 points (+32% relative) vs base (paired, n = 50), p = 0.0")
    assert rows[("math", "gsm8k")].test == "z"  # the older evaluations kept no outcomes: the z-test, recorded
    feed = alice.get(f"{API}/capability-changes", params={"model_id": ids["child"], "domain": "reading"}).json()
    assert {(i["task"], i["test"], i["n"]) for i in feed["items"]} == {("boolq", "mcnemar", 50),
                                                                      (None, "mcnemar", 50)}


def test_a_plan_made_outside_the_lock_is_recomputed_when_an_evaluation_was_stored_since(world, database):
    """after_evaluation computes the tests without the write lock, then stores them under it: an evaluation stored
    in between makes the stored rows the recomputed ones, never the stale plan's."""
    _, _, ids = world
    with database.session() as s:
        child, base = s.get(Model, ids["child"]), s.get(Model, ids["base"])
        plan = changes.plan_pair(s, child, base, "base")
    assert {(c.task, c.flagged) for c in plan.comparisons if c.task == "gsm8k"} == {("gsm8k", True)}
    with database.session() as s:  # the child is evaluated again meanwhile: math back to the base's level
        add_scores(s, ids["child"], [("gsm8k", "math", 0.30, 0.01)])
    with database.session() as s:
        stored = changes.store_pair(s, plan)
    assert {c.task: c.flagged for c in stored}["gsm8k"] is False
    assert not change_rows(database, ids["child"])[("math", "gsm8k")].flagged
    with database.session() as s:  # an unchanged plan is stored as computed
        fresh = changes.plan_pair(s, s.get(Model, ids["child"]), s.get(Model, ids["base"]), "base")
    with database.session() as s:
        assert changes.store_pair(s, fresh) is fresh.comparisons


def test_evaluating_a_base_recomputes_its_fine_tunes_and_forks_use_their_parent(world, database):
    alice, _, ids = world
    with database.session() as s:
        fork = add_model(s, "Alice fork", owner_id=alice.user["id"], base_id=ids["base"], parent_id=ids["child"])
        add_run(s, alice.user["id"], ids["base"], name="fork run", output_id=fork.id, parent_id=ids["child"],
                dataset_id=ids["dataset"])
        add_scores(s, fork.id, [("gsm8k", "math", 0.60, 0.01), ("boolq", "reading", 0.41, 0.01)])
        fork_id = fork.id
        changes.recompute(s, ids["base"])  # the base was (re)evaluated: its fine-tune is compared again
    assert len(change_rows(database, ids["child"])) == 6
    assert change_rows(database, fork_id) == {}  # the fork's reference is its parent, not the base
    with database.session() as s:
        changes.recompute(s, ids["child"])  # the parent evaluated: the fork is compared with it
    fork_rows = change_rows(database, fork_id)
    assert fork_rows[("math", "gsm8k")].reference_model_id == ids["child"]
    assert fork_rows[("math", "gsm8k")].reference_kind == "parent" and fork_rows[("math", "gsm8k")].flagged
    assert not fork_rows[("reading", "boolq")].flagged  # 0.41 vs the parent's 0.40
    assert fork_rows[("math", "gsm8k")].sentence.endswith("vs parent (unpaired z-test), p < 0.001")
    with database.session() as s:
        assert s.get(TrainingRun, ids["run"]).failure_category == "forgetting"
        fork_run = s.query(TrainingRun).filter(TrainingRun.output_model_id == fork_id).one()
        assert fork_run.failure_category is None  # nothing dropped vs its parent


def test_forgetting_is_cleared_when_the_evidence_is_gone_and_never_overrides(world, database):
    _, _, ids = world
    with database.session() as s:
        changes.recompute(s, ids["child"])
        assert s.get(TrainingRun, ids["run"]).failure_category == "forgetting"
        add_scores(s, ids["child"], [("gsm8k", "math", 0.45, 0.01), ("boolq", "reading", 0.70, 0.01),
                                     ("arc_easy", "reasoning", 0.5, 0.01)])
        changes.recompute(s, ids["child"])
        assert s.get(TrainingRun, ids["run"]).failure_category is None
        s.get(TrainingRun, ids["run"]).failure_category = "overfitting"
        add_scores(s, ids["child"], CHILD_ROWS)
        changes.recompute(s, ids["child"])
        assert s.get(TrainingRun, ids["run"]).failure_category == "overfitting"


def test_quick_and_full_scores_are_never_compared(world, database):
    _, _, ids = world
    with database.session() as s:
        add_scores(s, ids["child"], CHILD_ROWS, mode="full")  # the base was only measured in quick mode
        changes.recompute(s, ids["child"])
    assert change_rows(database, ids["child"]) == {}


def test_feed_shows_only_visible_models_with_filters(world, database, client):
    alice, bob, ids = world
    with database.session() as s:
        changes.recompute(s, ids["child"])
    mine = alice.get(f"{API}/capability-changes", params={"flagged": True}).json()
    assert mine["total"] == 4 and all(i["flagged"] for i in mine["items"])
    item = next(i for i in mine["items"] if i["task"] == "boolq")
    assert item["model"]["id"] == ids["child"] and item["reference"]["id"] == ids["base"]
    assert item["reference"]["kind"] == "base" and item["direction"] == "down" and item["model"]["owner"] == "alice"
    down = alice.get(f"{API}/capability-changes", params={"direction": "down", "domain": "reading"}).json()
    assert {i["task"] for i in down["items"]} == {"boolq", None}
    assert alice.get(f"{API}/capability-changes", params={"model_id": ids["child"]}).json()["total"] == 6
    # private: bob and anonymous see nothing, and naming the model is 404
    assert bob.get(f"{API}/capability-changes").json() == {"items": [], "total": 0}
    assert client.get(f"{API}/capability-changes").json()["total"] == 0
    assert bob.get(f"{API}/capability-changes", params={"model_id": ids["child"]}).status_code == 404
    assert bob.get(f"{API}/capability-changes/aggregates").json() == {"by_training_domain": [], "by_base": []}
    with database.session() as s:
        s.get(Model, ids["child"]).visibility = "public"
    assert client.get(f"{API}/capability-changes").json()["total"] == 6
    assert bob.get(f"{API}/capability-changes", params={"model_id": ids["child"]}).json()["total"] == 6


def test_aggregates_by_training_domain_and_base(world, database):
    alice, _, ids = world
    with database.session() as s:
        changes.recompute(s, ids["child"])
    agg = alice.get(f"{API}/capability-changes/aggregates").json()
    rows = {(r["training_domain"], r["target_domain"]): r for r in agg["by_training_domain"]}
    assert rows[("math", "reading")]["mean_delta"] == pytest.approx(-0.30)
    assert rows[("math", "reading")]["n_down"] == 1 and rows[("math", "reading")]["n_models"] == 1
    assert rows[("math", "math")]["n_up"] == 1 and rows[("math", "reasoning")]["n_up"] == 0
    by_base = {(r["base"]["id"], r["target_domain"]): r for r in agg["by_base"]}
    assert by_base[(ids["base"], "math")]["mean_delta"] == pytest.approx(0.15)


def test_museum_rules_visibility_filters_and_counts(world, database, client):
    alice, bob, ids = world
    long_curve = [{"step": i, "loss": 2.0} for i in range(1, 1001)]
    with database.session() as s:
        bob_id = bob.user["id"]
        add_run(s, alice.user["id"], ids["base"], name="exploded", status="failed", outcome="failure",
                category="diverged", config={"learning_rate": 0.05}, curve=long_curve,
                error={"type": "TrainingFailure", "message": "nan"}, failure_message="Training diverged")
        add_run(s, alice.user["id"], ids["base"], name="flat one", category="no_learning")
        add_run(s, alice.user["id"], ids["base"], name="fine but disliked", feedback_value=-1,
                feedback_comment="=useless")
        add_run(s, alice.user["id"], ids["base"], name="healthy")  # not in the museum
        add_run(s, bob_id, ids["base"], name="bob oom", status="failed", outcome="failure",
                category="out_of_memory")
        public = add_model(s, "Bob public", owner_id=bob_id, base_id=ids["base"], visibility="public")
        add_run(s, bob_id, ids["base"], name="bob partial public", outcome="partial", output_id=public.id)
    page = alice.get(f"{API}/museum").json()
    names = [i["name"] for i in page["items"]]  # alice's own + bob's public one, newest first
    assert names == ["bob partial public", "fine but disliked", "flat one", "exploded"]
    assert page["total"] == 4
    assert page["counts"] == {"uncategorized": 2, "no_learning": 1, "diverged": 1}
    exploded = page["items"][-1]
    assert exploded["failure_category"] == "diverged" and exploded["error_type"] == "TrainingFailure"
    assert exploded["config"]["learning_rate"] == 0.05 and exploded["failure_message"] == "Training diverged"
    assert len(exploded["curve"]) == 200 and exploded["curve"][0]["step"] == 1 and exploded["curve"][-1]["step"] == 1000
    assert exploded["base"]["id"] == ids["base"] and exploded["owner"] == "alice"
    assert page["items"][1]["feedback_comment"] == "=useless"  # inert, raw
    only = alice.get(f"{API}/museum", params={"category": "diverged"}).json()
    assert [i["name"] for i in only["items"]] == ["exploded"] and only["counts"] == page["counts"]
    assert alice.get(f"{API}/museum", params={"category": "uncategorized"}).json()["total"] == 2
    assert alice.get(f"{API}/museum", params={"outcome": "partial"}).json()["total"] == 1
    assert [i["name"] for i in alice.get(f"{API}/museum", params={"q": "FLAT"}).json()["items"]] == ["flat one"]
    assert alice.get(f"{API}/museum", params={"q": "%"}).json()["total"] == 0  # no LIKE wildcards
    assert alice.get(f"{API}/museum", params={"base_model_id": ids["child"]}).json()["total"] == 0
    bob_page = bob.get(f"{API}/museum").json()
    assert [i["name"] for i in bob_page["items"]] == ["bob partial public", "bob oom"]
    assert alice.admin.get(f"{API}/museum").json()["total"] == 5  # an admin sees every run
    assert client.get(f"{API}/museum").status_code == 401


def test_run_feedback_owner_only_mirrored_on_the_model_and_joins_the_museum(world, database):
    alice, bob, ids = world
    assert alice.get(f"{API}/museum").json()["total"] == 0
    r = bob.put(f"{API}/runs/{ids['run']}/feedback", json={"value": -1})
    assert r.status_code == 404
    r = alice.put(f"{API}/runs/{ids['run']}/feedback", json={"value": -1, "comment": "<b>meh</b>"})
    assert r.status_code == 200, r.text
    assert r.json()["feedback_value"] == -1 and r.json()["feedback_comment"] == "<b>meh</b>"
    assert [i["run_id"] for i in alice.get(f"{API}/museum").json()["items"]] == [ids["run"]]
    with database.session() as s:
        fb = s.query(ModelFeedback).filter(ModelFeedback.model_id == ids["child"]).one()
        assert (fb.user_id, fb.value, fb.comment, fb.run_id) == (alice.user["id"], -1, "<b>meh</b>", ids["run"])
    assert alice.put(f"{API}/runs/{ids['run']}/feedback", json={"value": 1}).json()["feedback_value"] == 1
    assert alice.get(f"{API}/museum").json()["total"] == 0
    assert alice.put(f"{API}/runs/{ids['run']}/feedback", json={"value": 0}).status_code == 422
    assert bob.delete(f"{API}/runs/{ids['run']}/feedback").status_code == 404
    assert alice.delete(f"{API}/runs/{ids['run']}/feedback").status_code == 204
    with database.session() as s:
        assert s.query(ModelFeedback).count() == 0
        assert s.get(TrainingRun, ids["run"]).feedback_value is None


def test_research_rows_card_and_every_format(world, database, client):
    alice, bob, ids = world
    with database.session() as s:
        add_run(s, alice.user["id"], ids["base"], name="=HYPERLINK(1)", status="failed", outcome="failure",
                category="diverged", config={"learning_rate": 0.1})
        changes.recompute(s, ids["child"])
    preview = alice.get(f"{API}/research/rows").json()
    names = [c["name"] for c in preview["columns"]]
    assert preview["total"] == 2 and len(preview["rows"]) == 2
    for needed in ("run_id", "config.learning_rate", "config.r", "dataset_rows", "dataset_domain", "outcome",
                   "failure_category", "final_loss", "score.math", "delta_parent.math", "delta_base.reading",
                   "feedback_value", "owner_id"):
        assert needed in names, needed
    assert "owner" not in names and "username" not in json.dumps(preview["rows"])
    first = next(r for r in preview["rows"] if r["run_id"] == ids["run"])
    assert first["score.math"] == pytest.approx(0.45) and first["delta_base.math"] == pytest.approx(0.15)
    assert first["delta_base.reading"] == pytest.approx(-0.30) and first["delta_parent.math"] is None
    assert first["config.target_modules"] == "q_proj,v_proj" and first["dataset_domain"] == "math"
    assert first["failure_category"] == "forgetting" and first["dataset_rows"] == 100
    # a run recorded before a setting existed shows the setting's default (how it trained), not an empty cell
    assert first["config.quantization"] == "none" and first["config.gradient_checkpointing"] is False
    assert first["config.optimizer"] == "adamw" and first["config.attention"] == "auto"

    card = alice.get(f"{API}/research/card")
    assert card.status_code == 200 and card.headers["content-type"].startswith("text/markdown")
    front = yaml.safe_load(card.text.split("---\n")[1])
    assert [c["name"] for c in front["columns"]] == names and front["num_rows"] == 2
    assert all(c["description"] and c["type"] in ("int", "float", "string", "bool", "timestamp")
               for c in front["columns"])

    pq_resp = alice.get(f"{API}/research/export", params={"format": "parquet"})
    assert pq_resp.status_code == 200 and "attachment" in pq_resp.headers["content-disposition"]
    table = pq.read_table(io.BytesIO(pq_resp.content))
    assert table.num_rows == 2 and table.column_names == names
    assert table.schema.field("config.learning_rate").metadata[b"description"]
    assert sorted(table.column("run_id").to_pylist())[0] == ids["run"]

    csv_resp = alice.get(f"{API}/research/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(csv_resp.text)))
    assert csv_resp.headers["content-type"].startswith("text/csv") and len(rows) == 2
    assert any(r["name"] == "'=HYPERLINK(1)" for r in rows)  # a formula stays inert in a spreadsheet

    jsonl = alice.get(f"{API}/research/export", params={"format": "jsonl"})
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert {r["name"] for r in lines} == {"alice math run", "=HYPERLINK(1)"}
    assert set(lines[0]) == set(names)

    # bob sees none of alice's private runs
    assert bob.get(f"{API}/research/rows").json()["total"] == 0
    assert bob.get(f"{API}/research/export", params={"format": "jsonl"}).text == ""
    assert len(export.columns()) == len(names)


def test_advisor_finds_similar_runs_and_warns(world, database, client):
    alice, bob, ids = world
    with database.session() as s:
        tiny = s.query(Model).filter(Model.kind == "base", Model.visibility == "public").first()
        assert tiny.id == ids["base"]
        for i, lr in enumerate((0.01, 0.008)):
            add_run(s, alice.user["id"], ids["base"], name=f"hot {i}", status="failed", outcome="failure",
                    category="diverged", config={"learning_rate": lr}, dataset_id=ids["dataset"])
        add_run(s, alice.user["id"], ids["base"], name="hot ok", config={"learning_rate": 0.01},
                dataset_id=ids["dataset"])
        add_run(s, bob.user["id"], ids["base"], name="bob private", status="failed", outcome="failure",
                category="diverged", config={"learning_rate": 0.01})
        other = add_model(s, "Other base", kind="base", visibility="public")
        add_run(s, alice.user["id"], other.id, name="other base", config={"learning_rate": 0.01})
    config = {"learning_rate": 0.01, "r": 8, "alpha": 16, "batch_size": 4, "max_seq_length": 256, "epochs": 1}
    body = {"base_model": str(ids["base"]), "config": config,
            "dataset_id": ids["dataset"]}
    r = alice.post(f"{API}/advisor", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    names = [x["name"] for x in out["similar"]]
    assert set(names[:3]) == {"hot 0", "hot ok", "hot 1"} and names[3] == "alice math run"
    assert "bob private" not in names and "other base" not in names
    assert all(x["same_base"] for x in out["similar"])
    assert out["similar"][0]["distance"] == 0.0 and out["similar"][0]["config"]["learning_rate"] == 0.01
    math_run = next(x for x in out["similar"] if x["name"] == "alice math run")
    assert math_run["scores"]["math"] == pytest.approx(0.45) and math_run["model"]["id"] == ids["child"]
    assert "A run with this configuration on Base failed before" in out["warnings"][0]
    # the math run (learning rate 2e-4, 1.7 decades away) is listed but not "near"
    assert "2 of 3 similar runs on Base diverged (learning rate ≥ 0.008)." in out["warnings"]
    calm = alice.post(f"{API}/advisor", json={"base_model": str(ids["base"]), "config": {"learning_rate": 1e-5}})
    assert calm.status_code == 200 and not any("diverged" in w for w in calm.json()["warnings"])
    bad = alice.post(f"{API}/advisor", json={"base_model": str(ids["base"]), "config": {"learning_rate": -1}})
    assert bad.status_code == 200 and "not valid yet" in bad.json()["warnings"][0]
    # bob: none of alice's private runs; alice's dataset is 404
    assert bob.post(f"{API}/advisor", json={"base_model": str(ids["base"])}).json()["similar"][0]["name"] == \
        "bob private"
    assert bob.post(f"{API}/advisor", json=body).status_code == 404
