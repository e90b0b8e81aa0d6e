"""The hub demo: real datasets (GSM8K train rows, never test rows) and real runs, trained by the real worker (on the
toy here, for speed; the first-start benchmark trains them on SmolLM2); planned once, for a user who never used the
hub; its jobs (and the evaluations they lead to) queue behind the user's; the fork follows its parent's success; the
museum gets its two categories; the app starts it on SmolLM2 only when asked and once SmolLM2 is installed."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modelmate.app import create_app
from modelmate.demo import hub_data
from modelmate.demo import hub_runs as hub_demo
from modelmate.jobs.worker import Worker
from modelmate.models import Dataset, Job, Model, TrainingRun, User


@pytest.fixture(autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def local_user(database) -> int:
    with database.session() as s:
        return s.scalars(select(User.id).where(User.is_local.is_(True))).one()


def runs(database) -> dict[str, TrainingRun]:
    with database.session() as s:
        out = {r.name: r for r in s.scalars(select(TrainingRun).order_by(TrainingRun.id))}
        s.expunge_all()
        return out


def job_priorities(database, kind: str) -> list[int]:
    with database.session() as s:
        return list(s.scalars(select(Job.priority).where(Job.kind == kind).order_by(Job.id)))


@pytest.fixture
def settings(settings, benchmark_dir):
    return settings.model_copy(update={"benchmark_data_dir": benchmark_dir})


@pytest.fixture(scope="session")
def benchmark_dir():
    from bench_data import require_benchmarks

    return require_benchmarks()


def _rows(dataset) -> list[dict]:
    return [json.loads(line) for line in dataset.body.decode().splitlines()]


def test_the_datasets_are_gsm8k_train_rows_in_a_format_the_trainer_reads(benchmark_dir):
    worked, short = hub_data.math_datasets(benchmark_dir)
    test_questions = {hub_data.normalise(json.loads(line)["question"])
                      for line in (benchmark_dir / "gsm8k" / "test.jsonl").read_text().splitlines()}
    train = {json.loads(line)["question"] for line in (benchmark_dir / "gsm8k" / "train.jsonl").read_text()
             .splitlines()}
    for dataset, size in ((worked, hub_data.WORKED_ROWS), (short, hub_data.ANSWER_ONLY_ROWS),
                          (hub_data.EMAILS, 12)):
        rows = _rows(dataset)
        assert len(rows) == size
        assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in rows)
    questions = [r["messages"][0]["content"] for r in _rows(worked) + _rows(short)]
    assert len(set(questions)) == len(questions)  # the two sets are disjoint
    assert all(q in train and hub_data.normalise(q) not in test_questions for q in questions)
    assert all(r["messages"][1]["content"].splitlines()[-1].startswith("#### ") and "<<" not in
               r["messages"][1]["content"] for r in _rows(worked))
    assert all(r["messages"][1]["content"].startswith("The answer is ") for r in _rows(short))
    assert hub_data.math_datasets(benchmark_dir)[0].body == worked.body  # the same rows on every install


def test_a_train_row_that_is_a_test_question_is_never_used(benchmark_dir, tmp_path):
    mirror = tmp_path / "gsm8k"
    mirror.mkdir()
    test_lines = (benchmark_dir / "gsm8k" / "test.jsonl").read_text().splitlines()
    train_lines = (benchmark_dir / "gsm8k" / "train.jsonl").read_text().splitlines()
    planted = [json.loads(line) for line in test_lines[:50]]
    for row in planted:  # reformatted, so only a normalised comparison finds them
        row["question"] = "  " + row["question"].upper().replace(" ", "  ") + " "
    (mirror / "test.jsonl").write_text("\n".join(test_lines) + "\n")
    (mirror / "train.jsonl").write_text("\n".join([json.dumps(r) for r in planted] + train_lines[:800]) + "\n")
    worked, short = hub_data.math_datasets(tmp_path)
    used = {hub_data.normalise(r["messages"][0]["content"]) for r in _rows(worked) + _rows(short)}
    assert not used & {hub_data.normalise(json.loads(line)["question"]) for line in test_lines}
    assert "50 train questions that also appear in the test split were excluded" in worked.description


@pytest.mark.slow
@pytest.mark.e2e
def test_the_demo_family_is_trained_for_real_and_fills_the_museum(hub, database, settings):
    user_id = local_user(database)
    queued = hub_demo.plan(database, settings, user_id, base="tiny")
    assert len(queued) == 3
    assert hub_demo.plan(database, settings, user_id, base="tiny") == []  # once
    assert job_priorities(database, "train") == [hub_demo.PRIORITY] * 3
    with database.session() as s:
        assert sorted(d.name for d in s.scalars(select(Dataset))) == sorted(
            [hub_data.WORKED_NAME, hub_data.ANSWER_ONLY_NAME, hub_data.EMAILS.name])

    assert Worker(database, settings, kinds=["train"], lease_s=60, poll_s=0.2).run_until_idle() == 3
    done = runs(database)
    helper = done[hub_demo.HELPER.name]
    assert (helper.status, helper.training_outcome) == ("succeeded", "success") and helper.output_model_id
    assert len(helper.loss_curve_data) == 24
    slow = done[hub_demo.TOO_SLOW.name]
    assert (slow.status, slow.failure_category) == ("succeeded", "no_learning")
    short = done[hub_demo.TOO_SHORT.name]
    assert (short.status, short.training_outcome, short.failure_category) == ("failed", "failure", "invalid_data")
    museum = hub.get("/api/v1/museum").json()
    assert museum["counts"] == {"no_learning": 1, "invalid_data": 1}

    # the fork follows its parent's success: queued by the watcher, trained by the worker, both published
    stop = threading.Event()
    watcher = threading.Thread(target=hub_demo.fork_when_ready, args=(database, settings, user_id, stop),
                               kwargs={"base": "tiny"})
    watcher.start()
    try:
        deadline = time.monotonic() + 30
        while hub_demo.FRIENDLIER.name not in runs(database) and time.monotonic() < deadline:
            time.sleep(0.2)
        fork = runs(database)[hub_demo.FRIENDLIER.name]
        assert fork.parent_model_id == helper.output_model_id and fork.base_model_id == helper.base_model_id
        assert job_priorities(database, "train")[-1] == hub_demo.PRIORITY
        assert Worker(database, settings, kinds=["train"], lease_s=60, poll_s=0.2).run_until_idle() == 1
        watcher.join(30)
        assert not watcher.is_alive()
    finally:
        stop.set()
        watcher.join(5)
    fork = runs(database)[hub_demo.FRIENDLIER.name]
    assert fork.status == "succeeded" and fork.output_model_id
    with database.session() as s:
        for model_id, description in ((helper.output_model_id, hub_demo.HELPER.description),
                                      (fork.output_model_id, hub_demo.FRIENDLIER.description)):
            model = s.get(Model, model_id)
            assert (model.visibility, model.description) == ("public", description)
        assert s.get(Model, fork.output_model_id).parent_model_id == helper.output_model_id
    lineage = hub.get(f"/api/v1/lineage?model_id={fork.output_model_id}").json()
    assert {e["source"] for e in lineage["edges"] if e["target"] == f"m{fork.output_model_id}"} >= {
        f"m{helper.output_model_id}"}

    # a second watcher (the next start) finds the fork and launches nothing
    assert hub_demo.fork_when_ready(database, settings, user_id, threading.Event(), base="tiny") is None
    assert len(runs(database)) == 4


def test_a_user_who_used_the_hub_gets_no_demo(hub, database, settings):
    body = b'{"text": "my own example"}\n' * 4
    r = hub.post("/api/v1/datasets", files={"file": ("mine.jsonl", body, "application/json")}, data={"name": "mine"})
    assert r.status_code == 201, r.text
    assert hub_demo.plan(database, settings, local_user(database), base="tiny") == []
    assert runs(database) == {}


def test_no_fork_when_the_user_deleted_its_dataset(hub, database, settings):
    user_id = local_user(database)
    hub_demo.plan(database, settings, user_id, base="tiny")
    with database.session() as s:
        answer_only = s.scalars(select(Dataset).where(Dataset.name == hub_data.ANSWER_ONLY_NAME)).one()
    assert hub.delete(f"/api/v1/datasets/{answer_only.id}").status_code == 204
    assert Worker(database, settings, kinds=["train"], lease_s=60, poll_s=0.2,
                  job_ids=[r.job_id for r in runs(database).values() if r.name == hub_demo.HELPER.name]
                  ).run_until_idle() == 1
    assert hub_demo.fork_when_ready(database, settings, user_id, threading.Event(), base="tiny") is None
    assert hub_demo.FRIENDLIER.name not in runs(database)


@pytest.mark.slow
def test_the_app_starts_the_demo_on_smollm2_only_when_asked(client, database, settings, smollm2_installed):
    """``smollm2_installed``: what the first start's install leaves behind."""
    assert settings.hub_demo_enabled is False and settings.builtin_models_on_start is False  # environment "test"
    app = create_app(settings.model_copy(update={"hub_demo": True, "seed_base_models": True,
                                                 "install_builtin_models": True}), database=database)
    with TestClient(app, base_url="http://127.0.0.1:8000"):
        deadline = time.monotonic() + 30
        while len(runs(database)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    planned = runs(database)
    assert sorted(planned) == sorted(r.name for r in hub_demo.PLANNED)
    with database.session() as s:
        bases = {s.get(Model, r.base_model_id).hub_info["key"] for r in planned.values()}
    assert bases == {"smollm2-135m-instruct"}
    assert all(r.config["learning_rate"] in (3e-4, 1e-6) for r in planned.values())  # the real model's rates


def test_the_demo_waits_for_its_base_model(client, database, settings):
    """Without SmolLM2 installed (its wheel is missing, or the install failed) nothing is planned."""
    thread, stop = hub_demo.start(database, settings, local_user(database))
    thread.join(30)
    stop.set()
    assert not thread.is_alive() and runs(database) == {}
