"""ACCEPTANCE, on CPU and both backends: API → job → worker → a real quick evaluation of the toy tiny Llama in a
child process (two documents per task, real rows from the benchmark mirror) → a final evaluation with its rows and
raw results → the model's per-domain scores; a second request reuses the cached evaluation. Plus the failures an
evaluation must survive: broken weights (failed, never final), a crashed child, a cancel."""

from __future__ import annotations

import signal
import threading
import time

import psutil
import pytest

from modelmate.finetune import base_catalog as bases
from modelmate.models import DocumentOutcome, Job, Model

DOMAINS = ["reading", "truthfulness"]


def job_count(database) -> int:
    with database.session() as s:
        return s.query(Job).filter(Job.kind == "evaluate").count()


def scores_of(database, model_id: int) -> dict:
    with database.session() as s:
        return dict(s.get(Model, model_id).benchmark_scores or {})


def test_acceptance_quick_evaluation_is_stored_scored_and_cached(hub, benchmark_dir, database, settings, eval_worker):
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "mode": "quick", "domains": DOMAINS})
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "running" and queued["cached"] is False and queued["job_status"] == "queued"
    assert queued["tasks"] == ["boolq", "truthfulqa_mc1", "truthfulqa_mc2"] and queued["domains"] == DOMAINS
    assert eval_worker().run_once() is True

    body = hub.get(f"/api/v1/evaluations/{queued['id']}").json()
    assert body["status"] == "final", body
    assert body["job_status"] == "succeeded" and body["progress"] == 1.0 and body["error"] is None
    rows = {(row["task"], row["metric"]): row for row in body["rows"]}
    boolq = rows[("boolq", "acc,none")]
    assert boolq["status"] == "final" and 0.0 <= boolq["value"] <= 1.0 and boolq["stderr"] is not None
    assert boolq["n_samples"] == 2 and boolq["sample_limit"] == 2 and boolq["n_shot"] == 0 and boolq["primary"]
    assert len(boolq["task_hash"]) == 64 and boolq["harness_version"] == body["harness_version"]
    assert {"truthfulqa_mc1", "truthfulqa_mc2"} <= {t for t, _ in rows}
    assert all(row["status"] == "final" for row in body["rows"])

    # every scored document's outcome is stored (what paired capability tests compare), consistent with the rows
    with database.session() as s:
        outcomes = s.query(DocumentOutcome).filter(DocumentOutcome.evaluation_id == queued["id"]).all()
    by_task: dict[str, list] = {}
    for o in outcomes:
        by_task.setdefault(o.task, []).append(o)
    assert {t: len(v) for t, v in by_task.items()} == {"boolq": 2, "truthfulqa_mc1": 2, "truthfulqa_mc2": 2}
    assert all(len(o.doc_hash) == 64 for o in outcomes)
    assert sum(o.metrics["acc,none"] for o in by_task["boolq"]) / 2 == boolq["value"]
    assert {o.metrics["acc,none"] for o in by_task["boolq"] + by_task["truthfulqa_mc1"]} <= {0.0, 1.0}
    mc2 = [o.metrics["acc,none"] for o in by_task["truthfulqa_mc2"]]
    assert sum(mc2) / 2 == pytest.approx(rows[("truthfulqa_mc2", "acc,none")]["value"])

    raw = hub.get(f"/api/v1/evaluations/{queued['id']}/raw").json()
    assert set(raw) == {"boolq", "truthfulqa_mc1", "truthfulqa_mc2"}
    assert raw["boolq"]["results"]["boolq"]["acc,none"] == boolq["value"]  # kept as lm-eval returned it

    tiny_id = body["model_id"]
    scores = scores_of(database, tiny_id)
    assert set(scores) == set(DOMAINS)
    assert scores["reading"]["score"] == boolq["value"] and scores["reading"]["evaluation_id"] == queued["id"]
    assert scores["reading"]["settings_hash"] == body["settings"]["domain_hashes"]["reading"]
    assert scores["truthfulness"]["tasks"] == ["truthfulqa_mc1", "truthfulqa_mc2"]
    summary = hub.get(f"/api/v1/models/{tiny_id}/scores").json()
    assert [d["domain"] for d in summary["domains"]] == ["reading", "truthfulness"]
    assert summary["evaluation"]["id"] == queued["id"] and summary["evaluation"]["rows"]

    # the same settings again: the cached final evaluation, nothing new queued
    before = job_count(database)
    again = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": list(reversed(DOMAINS))})
    assert again.status_code == 200 and again.json()["cached"] is True and again.json()["id"] == queued["id"]
    assert job_count(database) == before
    listed = hub.get("/api/v1/evaluations", params={"model_id": tiny_id}).json()
    assert listed["total"] == 1 and listed["items"][0]["status"] == "final"

    board = hub.get("/api/v1/leaderboards", params={"domain": "reading"}).json()
    assert board["rows"][0]["model"]["id"] == tiny_id and board["rows"][0]["rank"] == 1
    assert board["rows"][0]["comparable"] is True and board["rows"][0]["method"] == "base"


def test_broken_weights_give_a_failed_evaluation_never_final(hub, benchmark_dir, database, settings, eval_worker):
    (bases.tiny_dir(settings) / "model.safetensors").write_bytes(b"not a safetensors file at all")
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]})
    assert r.status_code == 202, r.text
    eval_worker().run_once()
    body = hub.get(f"/api/v1/evaluations/{r.json()['id']}").json()
    assert body["status"] == "failed" and body["job_status"] == "failed"
    assert body["error"]["message"] and "traceback" not in body["error"]
    assert not [row for row in body["rows"] if row["status"] == "final"]
    assert scores_of(database, body["model_id"]) == {}
    # not a cache entry: asking again queues a new evaluation
    assert hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]}).status_code == 202


def _kill_child_when_started(stop: threading.Event, how: str, client=None, evaluation_id: int | None = None) -> None:
    me = psutil.Process()
    while not stop.is_set():
        for child in me.children(recursive=True):
            try:
                cmdline = child.cmdline()
            except psutil.Error:
                continue
            if "modelmate.evaluation.entry" in cmdline:
                time.sleep(1.0)
                if how == "kill":
                    child.send_signal(signal.SIGKILL)
                else:
                    client.post(f"/api/v1/evaluations/{evaluation_id}/cancel")
                return
        time.sleep(0.05)


def test_a_crashed_evaluation_process_fails_the_evaluation(hub, benchmark_dir, database, settings, eval_worker):
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]})
    stop = threading.Event()
    killer = threading.Thread(target=_kill_child_when_started, args=(stop, "kill"), daemon=True)
    killer.start()
    try:
        eval_worker().run_once()
    finally:
        stop.set()
        killer.join(5)
    body = hub.get(f"/api/v1/evaluations/{r.json()['id']}").json()
    assert body["status"] == "failed" and body["error"]["type"] == "ProcessCrashed", body
    assert "signal 9" in body["error"]["message"] and body["job_status"] == "failed"
    assert body["rows"] == [] and scores_of(database, body["model_id"]) == {}


def test_cancel_kills_the_evaluation_process(hub, benchmark_dir, database, settings, eval_worker):
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]})
    stop = threading.Event()
    killer = threading.Thread(target=_kill_child_when_started, args=(stop, "cancel", hub, r.json()["id"]),
                              daemon=True)
    killer.start()
    try:
        eval_worker().run_once()
    finally:
        stop.set()
        killer.join(5)
    body = hub.get(f"/api/v1/evaluations/{r.json()['id']}").json()
    assert body["status"] == "failed" and body["error"]["type"] == "Cancelled" and body["job_status"] == "cancelled"
    assert not [p for p in psutil.Process().children(recursive=True)
                if "modelmate.evaluation.entry" in " ".join(p.cmdline())]
