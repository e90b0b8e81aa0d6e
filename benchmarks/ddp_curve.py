"""Multi-worker training (Ray Train, gloo on CPUs) against one worker: the same curve, and what it costs.

Trains one toy Llama (random init, built here) on the same records with ``workers=1`` and ``workers=2`` and the
same global batch (``batch_size * gradient_accumulation_steps`` examples per step), each as a user's run does it:
``python -m modelmate.training.entry spec.json`` in its own process. The 2-worker run connects to a local Ray
cluster this script starts once (so cluster start-up is not counted; Ray Train's worker start-up is). Prints:

- the per-step curve difference between the two runs: max absolute and max relative difference of the training
  loss, the held-out loss and the gradient norm over all steps (dropout is 0, so only float summation order differs;
  tests/training/test_distributed.py explains the tolerance it asserts);
- the largest difference between the two saved adapters' LoRA tensors;
- wall time of each run (the whole process: imports, model load, Ray Train start-up for 2 workers), its training
  time (the trainer's own seconds) and its training throughput (tokens/s).

``--rounds`` repeats both runs in alternating order and keeps each one's best time (the differences are the same
every round: the runs are deterministic). ``--threads`` is per worker, so by default one worker trains on one core
and two workers on two; compare with ``--threads 2`` for one worker against two of one thread each by hand.

    .venv/bin/python benchmarks/ddp_curve.py                    # 20 steps, toy hidden 128, ~1 minute
    .venv/bin/python benchmarks/ddp_curve.py --rounds 2 --steps 40 --hidden 256

Run it on a quiet machine: the load average is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "model", "data", "train", "loss", "token", "batch", "layer", "weight", "adapter", "rank", "learning", "rate",
    "schedule", "step", "epoch", "gradient", "memory", "sequence", "attention", "head", "vector", "matrix"
]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def records(n: int) -> list[dict]:
    import random

    rng = random.Random(0)
    return [{"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 60)))} for _ in range(n)]


def write_spec(work: Path, name: str, args, model_dir: Path, data: Path, workers: int) -> Path:
    config = {"max_steps": args.steps, "batch_size": args.batch_size,
              "gradient_accumulation_steps": args.accumulation, "max_seq_length": args.max_len,
              "learning_rate": 1e-3, "dropout": 0.0, "eval_steps": max(1, args.steps // 4),
              "save_steps": args.steps, "seed": 7, "workers": workers}
    spec = {"config": config, "base_model": str(model_dir), "dataset_path": str(data), "eval_split": 0.1, "seed": 7,
            "output_dir": str(work / name / "adapter"), "checkpoint_dir": str(work / name / "checkpoints"),
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "threads": args.threads,
            "model_card": {"name": name, "toy": True}, "resume": False}
    path = work / f"{name}.json"
    path.write_text(json.dumps(spec))
    return path


def run_entry(spec: Path, env: dict[str, str]) -> tuple[dict, float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "modelmate.training.entry", str(spec)], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=1800)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"{spec.name}: exit {proc.returncode}\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.splitlines()[-1])
    if result.get("outcome") != "success":
        raise SystemExit(f"{spec.name}: {result.get('message')}\n{proc.stderr[-4000:]}")
    return result, wall


def differences(one: list[dict], two: list[dict], key: str) -> tuple[float, float]:
    pairs = [(a[key], b[key]) for a, b in zip(one, two, strict=True) if a[key] is not None and b[key] is not None]
    if not pairs:
        return 0.0, 0.0
    return (max(abs(a - b) for a, b in pairs), max(abs(a - b) / max(abs(a), 1e-12) for a, b in pairs))


def adapter_difference(one: Path, two: Path) -> tuple[float, float]:
    from safetensors.torch import load_file

    a, b = load_file(str(one / "adapter_model.safetensors")), load_file(str(two / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    return (max((a[k] - b[k]).abs().max().item() for k in a), max(a[k].abs().max().item() for k in a))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--accumulation", type=int, default=2)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (and CPUs reserved)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mm-ddp-curve-"))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> int:
    import ray

    from modelmate.training.data import canonical_bytes
    from modelmate.training.tiny import build_tiny, default_corpus

    print(load_average(), flush=True)
    model_dir = build_tiny(work / "tiny", hidden_size=args.hidden, num_layers=args.layers, num_heads=4,
                           vocab_size=1024, context_length=max(256, args.max_len), seed=0,
                           corpus=default_corpus(max_chars=150_000))
    data = work / "data.jsonl"
    data.write_bytes(canonical_bytes(records(args.rows)))
    previous = signal.getsignal(signal.SIGTERM)
    ray.init(address="local", num_cpus=max(2, 2 * args.threads), include_dashboard=False, log_to_driver=False)
    signal.signal(signal.SIGTERM, previous)
    try:
        address = ray.get_runtime_context().gcs_address
        specs = {1: write_spec(work, "one", args, model_dir, data, 1),
                 2: write_spec(work, "two", args, model_dir, data, 2)}
        best: dict[int, tuple[float, dict]] = {}
        results: dict[int, dict] = {}
        for round_ in range(args.rounds):
            for workers in ((1, 2) if round_ % 2 == 0 else (2, 1)):
                env = {"RAY_ADDRESS": address} if workers > 1 else {}
                result, wall = run_entry(specs[workers], env)
                results[workers] = result
                if workers not in best or wall < best[workers][0]:
                    best[workers] = (wall, result)
    finally:
        ray.shutdown()

    one, two = results[1]["curve"], results[2]["curve"]
    print(f"\n{len(one)} steps, global batch {args.batch_size} x {args.accumulation} micro-batches, max length "
          f"{args.max_len}, toy hidden {args.hidden} x {args.layers} layers, {args.threads} thread(s) per worker")
    print(f"{'curve (2 workers vs 1)':28} {'max abs':>10} {'max rel':>10}")
    for key in ("loss", "eval_loss", "grad_norm"):
        absolute, relative = differences(one, two, key)
        print(f"{key:28} {absolute:10.2e} {relative:10.2e}")
    diff, scale = adapter_difference(work / "one" / "adapter", work / "two" / "adapter")
    print(f"{'adapter tensors':28} {diff:10.2e} {diff / scale:10.2e}   (largest element {scale:.3g})")
    same_tokens = [r["tokens"] for r in one] == [r["tokens"] for r in two]
    print(f"tokens per step identical: {same_tokens}")
    print(f"\n{'workers':8} {'wall s':>8} {'train s':>8} {'tokens/s':>10}   (best of {args.rounds})")
    for workers in (1, 2):
        wall, result = best[workers]
        print(f"{workers:<8} {wall:8.1f} {result['seconds']:8.1f} {result['tokens_per_second'] or 0:10.0f}")
    print(load_average())
    return 0


if __name__ == "__main__":
    sys.exit(main())
