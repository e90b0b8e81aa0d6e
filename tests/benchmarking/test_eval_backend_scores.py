"""The evaluation engine in the server: ``MODELMATE_EVAL_BACKEND=vllm`` where vLLM cannot run is refused before
anything is queued (API 422, CLI exit 1) and fails a worker's evaluation with the fix; the engine is recorded with
the evaluation's settings, its rows and the model's domain scores, and shown by the API; it is not part of any
settings hash, so hf and vllm scores share the cache key and are ranked together on the leaderboards (the rule of
docs/benchmarking.md, "Engines")."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from modelmate.benchmarking import repository as repo
from modelmate.benchmarking import service
from modelmate.cli import app as cli
from modelmate.enums import EvalBackend
from modelmate.models import Evaluation, Job, Model

FIX = "MODELMATE_EVAL_BACKEND=hf"


def queued(database) -> int:
    with database.session() as s:
        return s.query(Job).count() + s.query(Evaluation).count()


def test_the_settings_hash_does_not_depend_on_the_engine(settings):
    hashes = {backend: service.evaluation_settings(settings.model_copy(update={"eval_backend": backend}), "quick",
                                                   ["reading", "math"]) for backend in EvalBackend}
    assert len({h for _, h in hashes.values()}) == 1
    assert len({str(values["domain_hashes"]) for values, _ in hashes.values()}) == 1


def test_the_api_refuses_vllm_where_it_cannot_run(hub, database, settings):
    settings.eval_backend = EvalBackend.VLLM  # this machine: no vllm package, no GPU
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]})
    assert r.status_code == 422
    error = r.json()["error"]
    assert FIX in error["message"] and "vllm package is not installed" in error["message"]
    assert queued(database) == 0
    settings.eval_backend = EvalBackend.HF
    assert hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]}).status_code == 202


def test_a_worker_that_cannot_run_vllm_fails_the_evaluation_with_the_fix(hub, database, settings, eval_worker,
                                                                       benchmark_dir):
    r = hub.post("/api/v1/evaluations", json={"model": "tiny", "domains": ["reading"]})
    assert r.status_code == 202, r.text
    settings.eval_backend = EvalBackend.VLLM  # the worker's machine is configured for vLLM but cannot run it
    eval_worker().run_once()
    body = hub.get(f"/api/v1/evaluations/{r.json()['id']}").json()
    assert body["status"] == "failed" and body["job_status"] == "failed"
    assert FIX in body["error"]["message"] and body["rows"] == []


def test_the_cli_refuses_vllm_where_it_cannot_run(hub, settings, database, tmp_path):
    if not database.is_sqlite:
        pytest.skip("one backend is enough for the CLI's own work")
    env = {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
           "MODELMATE_ENVIRONMENT": "test", "MODELMATE_SEMANTIC_ENABLED": "false", "MODELMATE_EVAL_BACKEND": "vllm",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    result = CliRunner().invoke(cli, ["eval", "--model", "tiny", "--domains", "reading", "--wait"], env=env)
    assert result.exit_code == 1 and FIX in " ".join(result.output.split())
    assert queued(database) == 0


def _model(database, name: str) -> int:
    with database.session() as s:
        m = Model(name=name, name_key=name.lower(), developer_key="", kind="external", benchmark_scores={})
        s.add(m)
        s.flush()
        return m.id


def _store(database, settings, model_id: int, backend: str, value: float) -> int:
    """A final quick reading evaluation scored by ``backend`` (its settings as the server computes them for a
    server configured with that engine)."""
    values, settings_hash = service.evaluation_settings(settings.model_copy(update={"eval_backend": backend}),
                                                        "quick", ["reading"])
    row = {"task": "boolq", "domain": "reading", "metric": "acc", "filter": "none", "value": value, "stderr": 0.01,
           "n_samples": 200, "n_shot": 0, "limit": 200, "harness_version": values["harness_version"],
           "task_hash": "a" * 64, "chat_template_hash": None, "status": "final", "primary": True, "scale": 1.0,
           "backend": backend}
    with database.session() as s:
        evaluation = repo.add_evaluation(s, {
            "owner_id": None, "model_id": model_id, "mode": "quick", "status": "running", "tasks": ["boolq"],
            "settings": values, "settings_hash": settings_hash, "harness_version": values["harness_version"]})
        assert service.store_result(s, evaluation, {"status": "final", "rows": [row], "raw": {},
                                                    "harness_version": values["harness_version"],
                                                    "backend": backend}) == "final"
        return evaluation.id


def test_hf_and_vllm_scores_are_ranked_together_and_each_shows_its_engine(hub, database, settings):
    on_vllm, on_hf = _model(database, "Scored on vLLM"), _model(database, "Scored on HF")
    vllm_eval = _store(database, settings, on_vllm, "vllm", 0.80)
    _store(database, settings, on_hf, "hf", 0.50)

    body = hub.get("/api/v1/leaderboards", params={"domain": "reading"}).json()
    rows = {r["model"]["id"]: r for r in body["rows"]}
    assert (rows[on_vllm]["rank"], rows[on_vllm]["comparable"], rows[on_vllm]["backends"]) == (1, True, ["vllm"])
    assert (rows[on_hf]["rank"], rows[on_hf]["comparable"], rows[on_hf]["backends"]) == (2, True, ["hf"])
    assert rows[on_vllm]["settings_hash"] == rows[on_hf]["settings_hash"] == body["settings_hash"]
    overall = hub.get("/api/v1/leaderboards", params={"domain": "overall"}).json()
    overall = {r["model"]["id"]: r for r in overall["rows"]}
    assert [overall[m]["rank"] for m in (on_vllm, on_hf)] == [1, 2]
    assert [overall[m]["backends"] for m in (on_vllm, on_hf)] == [["vllm"], ["hf"]]

    # recorded with the settings, the rows and the domain score; shown where the settings are shown
    scores = hub.get(f"/api/v1/models/{on_vllm}/scores").json()
    assert scores["domains"][0]["backend"] == "vllm"
    assert scores["evaluation"]["settings"]["backend"] == "vllm"
    assert {r["backend"] for r in scores["evaluation"]["rows"]} == {"vllm"}
    evaluation = hub.get(f"/api/v1/evaluations/{vllm_eval}").json()
    assert evaluation["settings"]["backend"] == "vllm" and evaluation["rows"][0]["backend"] == "vllm"
    with database.session() as s:
        assert s.get(Model, on_hf).benchmark_scores["reading"]["backend"] == "hf"


def test_an_unknown_engine_in_a_result_is_not_recorded(hub, database, settings):
    model_id = _model(database, "Odd")
    evaluation_id = _store(database, settings, model_id, "hf", 0.5)
    with database.session() as s:
        evaluation = repo.get_evaluation(s, evaluation_id)
        evaluation.status = "running"
        service.store_result(s, evaluation, {"status": "final", "rows": [], "raw": {}, "backend": "<script>"})
        assert evaluation.settings["backend"] == "hf"


def test_an_overall_score_names_each_engine_of_its_domains():
    from modelmate.benchmarking import service  # the entry rules live with the leaderboard rows' flush hook

    domain = {"score": 0.5, "stderr": 0.01, "settings_hash": "h", "measured_at": "2026-01-01T00:00:00"}
    mixed = service.overall_entry({"reading": {**domain, "backend": "vllm"}, "math": {**domain, "backend": "hf"}})
    assert mixed is not None and mixed["backends"] == ["hf", "vllm"]
    older = service.overall_entry({"reading": domain, "math": {**domain, "backend": "hf"}})  # before engines
    assert older is not None and older["backends"] == ["hf"]
