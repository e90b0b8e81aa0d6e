"""Several machines, simulated on this one with real processes and real engines (RELIABILITY #42–#45):

- PostgreSQL (a fresh database), an S3-compatible server on 127.0.0.1 (moto) as the artifact store, a local Ray
  cluster (``ray start --head``, 2 CPUs) whose node has a data dir of its own;
- two ModelMate servers (``modelmate serve``) with different data dirs, and a job worker
  (``modelmate worker --executor ray``) with a third one, which sees none of the servers' files.

The whole flow: upload a dataset on server A → train on Ray → ``kill -9`` of the Ray worker process mid-training →
the job is retried and resumes from the checkpoint in the store, finishing with each step once in its curve → the
automatic evaluation runs on Ray → publish → on server B: the page, the zip download and ``snapshot_download`` of
the adapter through B's Hugging Face compatible API → fork on B, trained on Ray from the stored parent adapter.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench_data import BENCHMARKS
from modelmate.storage.artifacts import open_store
from modelmate.storage.staging import stored_steps
from pg_fresh import fresh_database
from ray_cluster import RayCluster, training_children
from s3_server import apply_env, free_port, restore_env

pytest.importorskip("ray")
PG_URL = os.environ.get("MODELMATE_TEST_POSTGRES_URL")
pytestmark = [pytest.mark.pg, pytest.mark.slow, pytest.mark.process, pytest.mark.e2e, pytest.mark.timeout(900)]
BIN = Path(sys.executable).parent
CONFIG = {"max_steps": 200, "batch_size": 2, "max_seq_length": 48, "learning_rate": 1e-3, "save_steps": 10,
          "eval_steps": 1000, "logging_steps": 1, "warmup_ratio": 0.0, "seed": 3}
ROWS = [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                      {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]} for i in range(40)]


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (set MODELMATE_TEST_POSTGRES_URL; make test does)")
    with fresh_database(PG_URL, "mm_cluster") as url:
        yield url


class Process:
    """A ModelMate process (server or worker) with its own data dir; its output goes to a log file."""

    def __init__(self, name: str, root: Path, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.data_dir = name, root / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"{name}.log"
        self.env = {**env, "MODELMATE_DATA_DIR": str(self.data_dir)}
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _server(name: str, root: Path, env: dict[str, str]) -> tuple[Process, str]:
    port = free_port()
    server = Process(name, root, [str(BIN / "modelmate"), "serve", "--port", str(port)], env)
    return server, f"http://127.0.0.1:{port}"


def _wait(check, what: str, timeout: float, *logs: Process):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(f"--- {p.name}\n{p.log()}" for p in logs))


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def deployment(database_url: str, s3_server, tiny_source: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("machines")
    bucket = f"mm-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    store_url = f"s3://{bucket}/artifacts"
    env = {**os.environ, **s3_server.env(), "MODELMATE_DATABASE_URL": database_url,
           "MODELMATE_ARTIFACTS_URL": store_url, "MODELMATE_ENVIRONMENT": "production",
           "MODELMATE_SEED_DEMO": "false", "MODELMATE_RUN_WORKER": "false", "MODELMATE_SEMANTIC_ENABLED": "false",
           "MODELMATE_INSTALL_BUILTIN_MODELS": "false", "MODELMATE_HUB_DEMO": "false",
           "MODELMATE_AUTO_EVALUATE": "true", "MODELMATE_AUTO_EVALUATE_DOMAINS": '["reading"]',
           "MODELMATE_EVAL_QUICK_SIZE": "8", "MODELMATE_BENCHMARK_DATA_DIR": str(BENCHMARKS),
           "MODELMATE_TRAIN_THREADS": "1", "MODELMATE_JOB_LEASE_S": "20", "MODELMATE_JOB_POLL_S": "0.5"}
    for key in ("MODELMATE_TEST_POSTGRES_URL", "RAY_ADDRESS"):
        env.pop(key, None)
    cluster = RayCluster(env={k: v for k, v in s3_server.env().items()}).start()
    a, url_a = _server("server-a", root, env)
    b, url_b = _server("server-b", root, env)
    worker = Process("worker", root, [str(BIN / "modelmate"), "worker", "--executor", "ray", "--ray-address",
                                      cluster.address], env)
    shutil.copytree(tiny_source, a.data_dir / "base_models" / "tiny")  # the toy exists on server A only
    processes = [a, b, worker]
    previous = apply_env(s3_server.env())  # this test reads the store too
    try:
        a.start()
        _wait(lambda: _up(url_a), "server A", 120, a)  # migrates, seeds the base models, publishes the toy
        b.start()
        _wait(lambda: _up(url_b), "server B", 120, b)
        worker.start()
        yield {"a": url_a, "b": url_b, "store": open_store(store_url), "worker": worker, "servers": (a, b),
               "cluster": cluster, "processes": processes}
    finally:
        for proc in processes:
            proc.stop()
        cluster.stop()
        restore_env(previous)


def _run(url: str, run_id: int) -> dict:
    return httpx.get(f"{url}/api/v1/runs/{run_id}", timeout=10).json()


def test_the_whole_flow_across_machines(deployment) -> None:
    a, b, store = deployment["a"], deployment["b"], deployment["store"]
    logs = deployment["processes"]
    assert store.has_dir("bases/tiny")  # published by server A at start

    body = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
    ds = httpx.post(f"{a}/api/v1/datasets", files={"file": ("sums.jsonl", body, "application/json")},
                    data={"name": "sums", "base_model": "tiny"}, timeout=60)
    assert ds.status_code == 201, ds.text
    ds = ds.json()
    r = httpx.post(f"{a}/api/v1/runs", json={"mode": "expert", "base_model": "tiny", "dataset_id": ds["id"],
                                             "name": "adder", "config": CONFIG}, timeout=30)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]

    # kill -9 the Ray worker process running the training once a checkpoint is in the store
    prefix = f"runs/{run_id}/checkpoints"
    _wait(lambda: stored_steps(store, prefix), "a stored checkpoint", 300, *logs)
    children = _wait(training_children, "the trainer on the Ray node", 30, *logs)
    ray_worker = children[0].parent()
    assert ray_worker is not None and "ray" in " ".join(ray_worker.cmdline()).lower()
    killed_at = _run(a, run_id)["current_step"]
    os.kill(ray_worker.pid, signal.SIGKILL)

    run = _wait(lambda: (r := _run(a, run_id))["status"] in ("succeeded", "failed") and r, "the run", 600, *logs)
    assert run["status"] == "succeeded", (run, deployment["worker"].log())
    assert run["job"]["attempts"] == 2, run["job"]
    steps = [p["step"] for p in run["loss_curve"]]
    assert steps == list(range(1, CONFIG["max_steps"] + 1)), f"killed at {killed_at}: {steps}"
    log_text = httpx.get(f"{b}/api/v1/runs/{run_id}/log", timeout=10).json()["text"]
    assert "restored the checkpoint of step" in log_text, log_text[-2000:]  # on the new Ray worker, from the store
    model_id = run["output_model_id"]

    # the automatic evaluation ran on Ray: the model and its base have final scores
    evaluation = _wait(lambda: (e := _run(b, run_id).get("evaluation")) and e["state"] == "done" and e,
                       "the automatic evaluation", 900, *logs)
    assert evaluation["model_id"] == model_id
    scores = _wait(lambda: (d := httpx.get(f"{b}/api/v1/models/{model_id}/scores", timeout=10).json()["domains"])
                   and d[0]["base_score"] is not None and d, "the base model's evaluation", 600, *logs)
    assert scores[0]["domain"] == "reading" and scores[0]["score"] is not None
    assert store.exists(f"evaluations/{evaluation['id']}/result.json")

    # publish on A; B serves the page, the zip and the Hugging Face API from the store
    page = httpx.patch(f"{a}/api/v1/hub/models/{model_id}", json={"visibility": "public"}, timeout=30)
    assert page.status_code == 200, page.text
    info = page.json()["model"]
    shown = httpx.get(f"{b}/api/v1/hub/models/{info['owner']}/{info['slug']}", timeout=30).json()
    assert shown["permissions"]["can_download"] and shown["permissions"]["can_fork"]
    z = httpx.get(f"{b}/api/v1/hub/models/{model_id}/download", timeout=60)
    assert z.status_code == 200, z.text
    with store.open(f"runs/{run_id}/adapter/adapter_model.safetensors") as fh:
        weights = fh.read()
    assert zipfile.ZipFile(io.BytesIO(z.content)).read("adapter_model.safetensors") == weights

    from huggingface_hub import snapshot_download

    local = Path(snapshot_download(repo_id=info["repo_id"], endpoint=f"{b}/hf",
                                   cache_dir=deployment["worker"].data_dir.parent / "hf-cache"))
    assert (local / "adapter_model.safetensors").read_bytes() == weights
    assert (local / "adapter_config.json").is_file() and (local / "README.md").is_file()

    # fork on B: trained on Ray from the parent adapter in the store
    fork = httpx.post(f"{b}/api/v1/runs", json={"mode": "expert", "base_model": "tiny", "parent_model_id": model_id,
                                                "dataset_id": ds["id"], "config": {**CONFIG, "max_steps": 6}},
                      timeout=30)
    assert fork.status_code == 202, fork.text
    done = _wait(lambda: (r := _run(b, fork.json()["id"]))["status"] in ("succeeded", "failed") and r, "the fork",
                 600, *logs)
    assert done["status"] == "succeeded" and done["parent_model_id"] == model_id, done

    # the worker saw none of the servers' files, and the servers none of the training's
    worker_dir = deployment["worker"].data_dir
    assert not (worker_dir / "base_models").exists()
    for server in deployment["servers"]:
        assert not (server.data_dir / "artifacts" / "runs").exists()
