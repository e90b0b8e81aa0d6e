"""Training jobs under failure (RELIABILITY #25-#30), with real ``modelmate worker`` processes and real training
children: kill -9 of a worker mid-training, a worker paused past its lease, a worker dead before its first
heartbeat, cancel while running (twice), a crashed trainer, a worker stopped with SIGTERM.

Only a worker that is meant to die holds a short lease (``LEASE_S``); every other worker holds ``LONG_LEASE_S``, so
a busy machine cannot make it miss a heartbeat and the attempt counts are exact. A lease that must run out while
its worker is paused runs out on a manual clock (``tests/manual_clock.py``), not by sleeping through it.

SQLite only: the queue and the fenced writes run on PostgreSQL in tests/jobs and tests/finetune; here the subject
is processes, and each scenario costs two trainer start-ups.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from manual_clock import ManualClock
from modelmate.db.base import utcnow
from modelmate.finetune import base_catalog as bases
from modelmate.finetune.runner import group_alive
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs.worker import Worker
from modelmate.models import Job, TrainingRun

pytestmark = pytest.mark.slow

LEASE_S = 3.0  # a worker that dies: another one re-claims its job this soon
LONG_LEASE_S = 60.0  # every other worker: never lapses on a loaded machine (heartbeats every 20 s)
STEPS = 200
CONFIG = {"max_steps": STEPS, "batch_size": 4, "max_seq_length": 64, "learning_rate": 1e-3, "eval_split": 0.1,
          "eval_steps": 60, "save_steps": 10, "logging_steps": 1, "warmup_ratio": 0.0}


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelmate.training.tiny import build_tiny, default_corpus

    out = tmp_path_factory.mktemp("tiny") / "tiny"
    return build_tiny(out, hidden_size=64, num_layers=2, num_heads=4, vocab_size=512, context_length=256,
                      seed=0, corpus=default_corpus(max_chars=150_000))


@pytest.fixture
def hub(client, settings, database, tiny_source):
    if not database.is_sqlite:
        pytest.skip("process scenarios run on SQLite (see the module docstring)")
    shutil.copytree(tiny_source, bases.tiny_dir(settings))
    bases.seed_base_models(database, settings)
    return client


class WorkerProcess:
    """``modelmate worker --kinds train`` against the test's database and data dir, with a lease of ``lease_s``."""

    def __init__(self, settings, database, log_dir: Path, name: str, lease_s: float) -> None:
        self.log_path = log_dir / f"worker-{name}.log"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MODELMATE_")}
        self.env = {**inherited, "MODELMATE_DATABASE_URL": database.url, "MODELMATE_DATA_DIR": str(settings.data_dir),
                    "MODELMATE_ENVIRONMENT": "test", "MODELMATE_JOB_LEASE_S": str(lease_s),
                    "MODELMATE_JOB_POLL_S": "0.2", "MODELMATE_TRAIN_THREADS": "1",
                    "MODELMATE_TRAIN_STOP_GRACE_S": "20", "MODELMATE_SEMANTIC_ENABLED": "false"}
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "modelmate", "worker", "--kinds", "train"],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture
def workers(settings, database, tmp_path):
    started: list[WorkerProcess] = []

    def make(name: str, lease_s: float = LONG_LEASE_S) -> WorkerProcess:
        w = WorkerProcess(settings, database, tmp_path, name, lease_s).start()
        started.append(w)
        return w

    yield make
    for w in started:
        w.stop()


def wait_for(predicate, timeout: float = 180, every: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def launch(client, rows: int = 60, config: dict | None = None) -> dict:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    body = "".join(json.dumps({"text": f"Line {i}: " + " ".join(words[(i * 3 + j) % 8] for j in range(14))}) + "\n"
                   for i in range(rows))
    ds = client.post("/api/v1/datasets", files={"file": ("d.jsonl", body.encode(), "application/json")},
                     data={"base_model": "tiny"})
    assert ds.status_code == 201, ds.text
    r = client.post("/api/v1/runs", json={"base_model": "tiny", "dataset_id": ds.json()["id"], "mode": "expert",
                                          "config": config or dict(CONFIG)})
    assert r.status_code == 202, r.text
    return r.json()


def rows(database, run_id: int) -> tuple[TrainingRun, Job]:
    with database.session() as s:
        run = s.get(TrainingRun, run_id)
        job = s.get(Job, run.job_id)
        s.expunge_all()
        return run, job


def settled(database, run_id: int, status: str) -> bool:
    """The run has ``status`` and its job has finished too (the job row is written after the run row)."""
    run, job = rows(database, run_id)
    return run.status == status and job.status not in ("queued", "running")


def curve_steps(database, run_id: int) -> list[int]:
    return [p["step"] for p in rows(database, run_id)[0].loss_curve_data or []]


def child_pgid(settings, run_id: int, attempt: int | None = None) -> int:
    path = settings.artifacts_dir / "runs" / str(run_id) / "child.json"

    def read():
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return info["pgid"] if attempt is None or info["attempt"] == attempt else None

    return wait_for(read, what="the training child")


def checkpoints(settings, run_id: int) -> list[int]:
    folder = settings.artifacts_dir / "runs" / str(run_id) / "checkpoints"
    return sorted(int(p.name.split("-")[1]) for p in folder.glob("step-*")) if folder.is_dir() else []


def assert_complete(database, run_id: int, attempts: int) -> tuple[TrainingRun, Job]:
    run, job = rows(database, run_id)
    assert run.status == "succeeded" and run.training_outcome == "success", (run.failure_message, job.error)
    assert [p["step"] for p in run.loss_curve_data] == list(range(1, STEPS + 1))  # full curve, each step once
    assert job.status == "succeeded" and job.attempts == attempts, job.log[-3000:]  # the log says what each did
    return run, job


def test_kill9_of_a_worker_mid_training_resumes_from_the_last_checkpoint(hub, database, settings, workers):
    run = launch(hub)
    a = workers("a", lease_s=LEASE_S)
    wait_for(lambda: checkpoints(settings, run["id"]) and len(curve_steps(database, run["id"])) >= 15,
             what="a checkpoint and some curve")
    pgid = child_pgid(settings, run["id"])
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=10)
    killed_at = utcnow()
    _, job = rows(database, run["id"])
    assert job.status == "running" and job.lease_expires_at <= killed_at + timedelta(seconds=LEASE_S + 0.5)
    wait_for(lambda: not group_alive(pgid), timeout=15, what="the orphaned trainer to die with its worker")
    saved = checkpoints(settings, run["id"])
    assert saved and saved[-1] < STEPS

    b = workers("b")
    wait_for(lambda: rows(database, run["id"])[1].attempts == 2, timeout=LEASE_S + 20, what="the re-claim")
    wait_for(lambda: settled(database, run["id"], "succeeded"), what="the resumed run to finish")
    run_row, job = assert_complete(database, run["id"], attempts=2)
    assert "resumed from the checkpoint at step" in job.log
    resumed = int(job.log.split("resumed from the checkpoint at step")[1].split()[0])
    assert resumed >= saved[-1] > 0
    log = (settings.artifacts_dir / "runs" / str(run["id"]) / "train.log").read_text()
    assert "attempt 1 of job" in log and "attempt 2 of job" in log
    assert "reclaimed 1 job(s) with expired leases" in b.log


def test_paused_worker_loses_its_lease_and_stops_its_own_trainer(hub, database, settings, workers):
    run = launch(hub)
    a = workers("a")
    wait_for(lambda: len(curve_steps(database, run["id"])) >= 5, what="training to start")
    pgid = child_pgid(settings, run["id"], attempt=1)
    a.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: psutil.Process(a.proc.pid).status() == psutil.STATUS_STOPPED, what="worker a to stop")
        lease_end = rows(database, run["id"])[1].lease_expires_at  # a paused worker renews nothing
        assert Worker(database, settings, clock=ManualClock(lease_end)).reclaim() == 0  # the lease holds to its end
        # another worker's reclaim just after the end moves the fencing token on
        assert Worker(database, settings, clock=ManualClock(lease_end + timedelta(milliseconds=1))).reclaim() == 1
        _, job = rows(database, run["id"])
        assert job.status == "queued" and job.error["type"] == "worker_lost"
        frozen = rows(database, run["id"])[0].loss_curve_data
        time.sleep(0.5)
        assert rows(database, run["id"])[0].loss_curve_data == frozen
    finally:
        a.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: not group_alive(pgid), timeout=20, what="the paused worker to kill its stale trainer")
    wait_for(lambda: "lease lost" in a.log, timeout=20, what="the worker to notice its lost lease")
    # the same worker then takes the job again, legitimately (attempt 2), and finishes it
    wait_for(lambda: settled(database, run["id"], "succeeded"), what="the run to finish")
    assert_complete(database, run["id"], attempts=2)


def test_worker_dead_before_its_first_heartbeat_is_reclaimed(hub, database, settings, workers):
    run = launch(hub)
    with database.session() as s:  # a worker claims the job and dies at once: no heartbeat, no trainer
        claim = jobs_repo.claim(s, "ghost:1:dead", kinds=["train"], lease_s=1.0)
    assert claim is not None and claim.attempt == 1
    workers("b")
    wait_for(lambda: settled(database, run["id"], "succeeded"), what="the run to finish")
    assert_complete(database, run["id"], attempts=2)


def test_cancel_while_running_twice_kills_the_process_group_and_keeps_the_curve(hub, database, settings, workers):
    run = launch(hub, config={**CONFIG, "max_steps": 2000, "save_steps": 500, "eval_steps": 500})
    workers("a")
    wait_for(lambda: len(curve_steps(database, run["id"])) >= 5, what="training to start")
    pgid = child_pgid(settings, run["id"])
    first = hub.post(f"/api/v1/runs/{run['id']}/cancel")
    second = hub.post(f"/api/v1/runs/{run['id']}/cancel")
    assert first.status_code == second.status_code == 200
    assert first.json()["job"]["cancel_requested"] is True and second.json()["status"] in ("running", "cancelled")
    wait_for(lambda: settled(database, run["id"], "cancelled"), timeout=60, what="the cancel")
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    body = hub.get(f"/api/v1/runs/{run['id']}").json()
    assert body["training_outcome"] == "partial" and body["failure_category"] == "cancelled"
    assert len(body["loss_curve"]) >= 5 and body["job"]["status"] == "cancelled" and body["output_model_id"] is None
    assert "adapter_model.safetensors" in body["artifacts"]  # the partial adapter is kept
    again = hub.post(f"/api/v1/runs/{run['id']}/cancel").json()
    assert again["status"] == "cancelled" and again["finished_at"] == body["finished_at"]


def test_a_trainer_that_dies_without_a_result_fails_the_run_as_crashed(hub, database, settings, workers):
    run = launch(hub, config={**CONFIG, "max_steps": 2000, "save_steps": 500, "eval_steps": 500})
    workers("a")
    wait_for(lambda: len(curve_steps(database, run["id"])) >= 3, what="training to start")
    os.killpg(child_pgid(settings, run["id"]), signal.SIGKILL)
    wait_for(lambda: settled(database, run["id"], "failed"), timeout=60, what="the failure")
    run_row, job = rows(database, run["id"])
    assert run_row.failure_category in ("crashed", "out_of_memory") and run_row.training_outcome == "failure"
    assert "signal 9" in run_row.failure_message or "memory" in run_row.failure_message
    assert run_row.error["type"] in ("ProcessCrashed", "OutOfMemory") and len(run_row.loss_curve_data) >= 3
    assert job.status == "failed" and job.attempts == 1  # a training failure is not retried


def test_sigterm_to_a_worker_hands_the_job_back_at_once(hub, database, settings, workers):
    run = launch(hub)
    a = workers("a")
    wait_for(lambda: checkpoints(settings, run["id"]) and len(curve_steps(database, run["id"])) >= 12,
             what="a checkpoint")
    pgid = child_pgid(settings, run["id"])
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(timeout=30) == 0
    assert not group_alive(pgid)
    run_row, job = rows(database, run["id"])
    assert job.status == "queued" and job.error["type"] == "worker_stopped" and run_row.status == "queued"
    workers("b")
    wait_for(lambda: settled(database, run["id"], "succeeded"), what="the run to finish")
    assert_complete(database, run["id"], attempts=2)
