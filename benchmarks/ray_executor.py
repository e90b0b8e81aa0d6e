"""Overhead of the Ray executor over the local one for the same toy training (target: ratio <= 1.15).

- ``local``: what the local executor does — :class:`~modelmate.finetune.runner.ChildProcess` runs
  ``python -m modelmate.training.entry`` on local paths (the base model and the dataset read in place from a
  ``file://`` store), timed from ``start()`` to ``finish()``.
- ``ray``: :class:`~modelmate.finetune.ray_process.RayProcess` on a private local Ray cluster (started once, not
  timed) with the same ``file://`` store: a Ray task, the channel actor, inputs materialized (in place for a local
  store), the same child process on the node, every checkpoint and the adapter and the log sealed into the store,
  events and log relayed — timed from ``start()`` to ``finish()``.

Both train the same toy Llama (hidden 64, 2 layers, random init) on the same 200 records with the same config and
thread count. One untimed warm-up of each, then ``--rounds`` rounds alternating the order; the median of each side
and their ratio are printed with the load average (run it on a quiet machine).

    .venv/bin/python benchmarks/ray_executor.py [--rounds 3] [--steps 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"]
TARGET = 1.15


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def _config(steps: int) -> dict[str, Any]:
    return {"max_steps": steps, "batch_size": 4, "max_seq_length": 64, "learning_rate": 1e-3,
            "save_steps": max(1, steps // 3), "eval_steps": max(1, steps // 2)}


def _spec(steps: int, threads: int, base: Any, data: Any, out: str, ckpt: str) -> dict[str, Any]:
    return {"config": _config(steps), "base_model": base, "dataset_path": data, "eval_split": 0.1, "seed": 1,
            "output_dir": out, "checkpoint_dir": ckpt, "target_modules": ["q_proj", "v_proj"],
            "model_card": {"name": "bench", "base_model": "tiny", "datasets": ["toy"], "license": "mit", "toy": True},
            "threads": threads, "resume": True}


def run_local(work: Path, store, steps: int, threads: int, n: int) -> float:
    from modelmate.finetune.runner import ChildProcess, child_env
    from modelmate.jsonutil import write_json_atomic

    run_dir = work / f"local-{n}"
    run_dir.mkdir()
    spec = _spec(steps, threads, str(store.path("bases/tiny")), str(store.path("datasets/toy.jsonl")),
                 str(run_dir / "adapter"), str(run_dir / "checkpoints"))
    write_json_atomic(run_dir / "spec.json", spec)
    child = ChildProcess(run_dir / "spec.json", cwd=run_dir, log_path=run_dir / "train.log",
                         env=child_env(threads, {"MODELMATE_PARENT_PID": str(os.getpid())}))
    started = time.perf_counter()
    child.start()
    result = None
    while not child.exited():
        for event in child.drain(0.25):
            result = event if event["type"] == "result" else result
    code = child.finish()
    result = next((e for e in child.drain(0) if e["type"] == "result"), result)
    seconds = time.perf_counter() - started
    assert code == 0 and result and result["outcome"] == "success", (code, result)
    return seconds


def run_ray(work: Path, store, steps: int, threads: int, n: int) -> float:
    from modelmate.finetune.ray_process import RayProcess
    from modelmate.storage.staging import artifact_ref

    spec = _spec(steps, threads, artifact_ref("dir", "bases/tiny"), artifact_ref("file", "datasets/toy.jsonl"),
                 "adapter", "checkpoints")
    staging = {"store_url": store.url, "checkpoints": {"path": "checkpoints", "prefix": f"runs/{n}/checkpoints"},
               "outputs": [{"artifact": "dir", "path": "adapter", "key": f"runs/{n}/adapter"}],
               "log": {"path": "train.log", "key": f"runs/{n}/train.log"}}
    thread_env = {k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    proc = RayProcess(entry_module="modelmate.training.entry", spec=spec, staging=staging, env=thread_env,
                      resources={"num_cpus": 1}, ray_address=None, name=f"bench-{n}", log_path=work / f"ray-{n}.log")
    started = time.perf_counter()
    proc.start()
    result = None
    while not proc.exited():
        for event in proc.drain(0.25):
            result = event if event["type"] == "result" else result
    code = proc.finish()
    result = next((e for e in proc.drain(0) if e["type"] == "result"), result)
    seconds = time.perf_counter() - started
    assert code == 0 and result and result["outcome"] == "success", (code, result, proc.error)
    assert store.has_dir(f"runs/{n}/adapter")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    work = Path(tempfile.mkdtemp(prefix="mm-ray-bench-", dir="/tmp"))
    try:
        return _main(work, args)
    finally:
        import ray

        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def _main(work: Path, args: argparse.Namespace) -> int:
    import ray

    from modelmate.storage.artifacts import open_store
    from modelmate.training.data import canonical_bytes
    from modelmate.training.tiny import build_tiny, default_corpus

    print(f"before: {load_average()}")
    tiny = build_tiny(work / "tiny", hidden_size=64, num_layers=2, num_heads=4, vocab_size=512, context_length=256,
                      seed=0, corpus=default_corpus(max_chars=150_000))
    store = open_store((work / "store").as_uri())
    store.put_dir(tiny, "bases/tiny")
    records = [{"text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + i % 40))} for i in range(200)]
    (work / "data.jsonl").write_bytes(canonical_bytes(records))
    store.put_file(work / "data.jsonl", "datasets/toy.jsonl")

    os.environ["MODELMATE_DATA_DIR"] = str(work / "node")  # the node's work dirs and cache (workers inherit it)
    started = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _temp_dir=str(work / "ray"))  # a private cluster, never someone else's
    print(f"local Ray cluster started in {time.perf_counter() - started:.1f} s (not timed below)")

    sides = {"local": run_local, "ray": run_ray}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for name, fn in sides.items():
        print(f"warm-up {name}: {fn(work, store, args.steps, args.threads, 0 if name == 'ray' else 100):.2f} s")
    for r in range(1, args.rounds + 1):
        order = list(sides) if r % 2 else list(reversed(sides))
        for name in order:
            seconds = sides[name](work, store, args.steps, args.threads, r if name == "ray" else 100 + r)
            times[name].append(seconds)
            print(f"round {r} {name}: {seconds:.2f} s")
    local, remote = statistics.median(times["local"]), statistics.median(times["ray"])
    ratio = remote / local
    print(f"toy training, {args.steps} steps, {args.threads} thread(s), {args.rounds} rounds")
    print(f"local executor (ChildProcess): median {local:.2f} s  {[round(t, 2) for t in times['local']]}")
    print(f"ray executor (RayProcess):     median {remote:.2f} s  {[round(t, 2) for t in times['ray']]}")
    print(f"ratio ray/local: {ratio:.3f} (target <= {TARGET}) {'ok' if ratio <= TARGET else 'MISSED'}")
    print(f"after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
