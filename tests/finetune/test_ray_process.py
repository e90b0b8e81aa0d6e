"""The Ray executor for real: a private local Ray cluster (``ray start --head`` on 127.0.0.1, 2 CPUs, its own ports
and temp dir), the artifact store on a real S3-compatible server (moto on 127.0.0.1), toy trainings run through
:class:`~modelmate.finetune.ray_process.RayProcess` — to the end, killed on the node mid-run and resumed by a new
attempt, stopped gracefully, stopped at once."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelmate.finetune.runner import CurveState
from modelmate.storage.artifacts import ArtifactStore, open_store
from modelmate.storage.staging import artifact_ref, stored_steps
from modelmate.training.data import canonical_bytes
from ray_cluster import RayCluster
from s3_server import S3Server, apply_env, restore_env

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from modelmate.finetune.ray_process import LOST_CODE, RayProcess, connect  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.process]

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"]
ENTRY = "modelmate.training.entry"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server().start(tmp_path_factory.mktemp("moto") / "moto.log")
    previous = apply_env(server.env())  # the driver (this process) uses the store too
    yield server
    restore_env(previous)
    server.stop()


@pytest.fixture(scope="module")
def cluster(s3: S3Server) -> Iterator[Path]:
    """A private Ray head node; its workers get the S3 settings and a data dir of their own (yielded)."""
    ray_cluster = RayCluster(env=s3.env()).start()
    try:
        connect(ray_cluster.address)
        yield ray_cluster.node_data
    finally:
        ray.shutdown()
        ray_cluster.stop()


@pytest.fixture(scope="module")
def store_url(s3: S3Server, tiny_source: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bucket with the toy base model and a dataset, as the control plane would have stored them."""
    bucket = f"mm-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(bucket)
    url = f"s3://{bucket}/artifacts"
    store = open_store(url)
    store.put_dir(tiny_source, "bases/tiny")
    data = tmp_path_factory.mktemp("data") / "data.jsonl"
    records = [{"text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + i % 17))} for i in range(40)]
    data.write_bytes(canonical_bytes(records))
    store.put_file(data, "datasets/toy.jsonl")
    return url


def _job(url: str, run: str, tmp_path: Path, **config: Any) -> RayProcess:
    values = {"max_steps": 6, "batch_size": 2, "max_seq_length": 32, "learning_rate": 1e-3, "save_steps": 2,
              "eval_steps": 3}
    values.update(config)
    spec = {"config": values, "base_model": artifact_ref("dir", "bases/tiny"),
            "dataset_path": artifact_ref("file", "datasets/toy.jsonl"), "eval_split": 0.1, "seed": 1,
            "output_dir": "adapter", "checkpoint_dir": "checkpoints", "target_modules": ["q_proj", "v_proj"],
            "model_card": {"name": "ray test", "base_model": "tiny", "datasets": ["toy"], "license": "mit",
                           "toy": True}, "threads": 1, "resume": True}
    staging = {"store_url": url, "checkpoints": {"path": "checkpoints", "prefix": f"runs/{run}/checkpoints"},
               "outputs": [{"artifact": "dir", "path": "adapter", "key": f"runs/{run}/adapter"}],
               "log": {"path": "train.log", "key": f"runs/{run}/train.log"}}
    return RayProcess(entry_module=ENTRY, spec=spec, staging=staging, env={"OMP_NUM_THREADS": "1"},
                      resources={"num_cpus": 1}, ray_address=None, name=f"run-{run}", log_path=tmp_path / "train.log")


def _supervise(proc: RayProcess, on_event=None, timeout: float = 180) -> tuple[int, list[dict[str, Any]]]:
    """What a job handler does: drain until the task ended, then finish."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not proc.exited():
        assert time.monotonic() < deadline, f"no end in {timeout} s; events: {[e['type'] for e in events]}"
        for event in proc.drain(0.25):
            events.append(event)
            if on_event is not None:
                on_event(event)
        proc.sample_memory()
    code = proc.finish()
    for event in proc.drain(0):
        events.append(event)
        if on_event is not None:
            on_event(event)
    return code, events


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def _trainers(marker: str) -> list[int]:
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if ENTRY in cmd and any(marker in part for part in cmd):
            with contextlib.suppress(psutil.Error):
                if p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p.info["pid"])
    return found


def test_a_training_runs_on_ray_with_its_files_in_s3(cluster, store_url, tmp_path) -> None:
    store: ArtifactStore = open_store(store_url)
    proc = _job(store_url, "1", tmp_path)
    sealed_at_result: list[bool] = []

    def check(event: dict[str, Any]) -> None:
        if event["type"] == "result":  # the adapter must be in the store before the driver hears of the result
            sealed_at_result.append(store.has_dir("runs/1/adapter"))

    proc.start()
    proc.log("--- attempt 1: started on ray")
    code, events = _supervise(proc, check)
    assert (code, proc.lost, proc.error) == (0, False, None)
    types = [e["type"] for e in events if e["type"] != "log"]
    assert types[0] == "started" and types[-1] == "result", types
    assert events[-1]["outcome"] == "success", events[-1]["message"]
    assert [e["step"] for e in events if e["type"] == "step"] == [1, 2, 3, 4, 5, 6]
    assert sealed_at_result == [True]
    assert any(e["type"] == "checkpoint" and e["stored"] for e in events)
    assert stored_steps(store, "runs/1/checkpoints")  # the newest ones are kept for a resume
    assert store.manifest("runs/1/adapter") is not None
    assert proc.proc.pid and proc.proc.returncode == 0 and proc.node["pid"] != os.getpid()
    assert proc.peak_rss > 0 and proc.memory_limit > 0
    local_log = (tmp_path / "train.log").read_text()
    assert "--- attempt 1: started on ray" in local_log and "--- ray node" in local_log
    assert "stored 1 output(s): runs/1/adapter" in local_log
    stored_log = store.open("runs/1/train.log").read().decode()
    assert "--- ray node" in stored_log and "--- inputs ready" in stored_log
    assert _gone(proc.proc.pid)


def test_a_killed_ray_worker_is_lost_and_a_new_attempt_resumes_from_the_store(cluster, store_url, tmp_path) -> None:
    store = open_store(store_url)
    state = CurveState()
    steps_seen: list[int] = []
    first = _job(store_url, "2", tmp_path, max_steps=80, save_steps=4, eval_steps=100)
    killed: list[int] = []

    def kill_after_a_stored_checkpoint(event: dict[str, Any]) -> None:
        state.apply(event)
        if event["type"] == "step":
            steps_seen.append(event["step"])
        if event["type"] == "checkpoint" and event.get("stored") and not killed:
            killed.append(event["step"])
            os.kill(first.node["pid"], signal.SIGKILL)  # the Ray worker running the task, not the trainer

    first.start()
    code, events = _supervise(first, kill_after_a_stored_checkpoint)
    assert killed, [e["type"] for e in events]
    assert (code, first.lost, first.retryable) == (LOST_CODE, True, True), first.error
    assert first.error["type"] == "WorkerCrashedError", first.error
    assert not any(e["type"] == "result" for e in events)
    assert _gone(first.proc.pid), "the trainer outlived its Ray worker"
    stored = stored_steps(store, "runs/2/checkpoints")
    assert stored and stored[-1] >= killed[0]
    shutil.rmtree(cluster / "ray-work" / "run-2")  # the next attempt as if on another machine: only the store has it

    second = _job(store_url, "2", tmp_path, max_steps=80, save_steps=4, eval_steps=100)  # attempt 2
    second.start()
    code, events = _supervise(second, lambda e: (state.apply(e), e["type"] == "step" and steps_seen.append(e["step"])))
    assert (code, second.lost) == (0, False), second.error
    started = next(e for e in events if e["type"] == "started")
    assert started["resumed_from_step"] == stored[-1] > 0
    assert events[-1]["type"] == "result" and events[-1]["outcome"] == "success"
    assert [p["step"] for p in state.curve] == list(range(1, 81))  # every step once across both attempts
    assert min(s for s in steps_seen[len(steps_seen) - (80 - stored[-1]):]) == stored[-1] + 1
    assert store.has_dir("runs/2/adapter")
    assert not _trainers("ray-work/run-2")


def test_sigterm_reaches_the_trainer_on_the_node_and_a_partial_adapter_is_stored(cluster, store_url, tmp_path) -> None:
    store = open_store(store_url)
    proc = _job(store_url, "3", tmp_path, max_steps=200, save_steps=50, eval_steps=1000)
    sent: list[bool] = []

    def stop_after_first_step(event: dict[str, Any]) -> None:
        if event["type"] == "step" and not sent:
            sent.append(True)
            proc.signal_group(signal.SIGTERM)

    proc.start()
    code, events = _supervise(proc, stop_after_first_step)
    result = events[-1]
    assert (code, result["type"], result["outcome"], result["failure_category"]) == (0, "result", "partial",
                                                                                     "cancelled")
    assert result["steps"] < 200
    assert store.has_dir("runs/3/adapter")


def test_sigkill_stops_the_task_and_its_trainer_at_once(cluster, store_url, tmp_path) -> None:
    proc = _job(store_url, "4", tmp_path, max_steps=500, save_steps=1000, eval_steps=1000)
    proc.start()
    deadline = time.monotonic() + 120
    while not any(e["type"] == "step" for e in proc.drain(0.25)):
        assert time.monotonic() < deadline and not proc.exited()
    child = proc.proc.pid
    proc.signal_group(signal.SIGKILL)
    code = proc.finish(eof_wait_s=0)
    assert (code, proc.lost) == (-signal.SIGKILL, False)
    assert _gone(child), "the trainer outlived the cancelled Ray task"


def test_a_missing_input_is_a_node_error_not_a_lost_worker(cluster, store_url, tmp_path) -> None:
    proc = _job(store_url, "5", tmp_path)
    proc.spec["base_model"] = artifact_ref("dir", "bases/never-stored")
    proc.start()
    code, events = _supervise(proc)
    assert (code, proc.lost, proc.retryable, events) == (1, False, False, [])
    assert proc.error["type"] == "ArtifactMissing" and "bases/never-stored" in proc.error["message"]
    assert "preparing the job failed: ArtifactMissing" in (tmp_path / "train.log").read_text()
