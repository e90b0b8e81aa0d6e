"""The quick preset on a real model: ``modelmate train --base smollm2-135m-instruct --preset quick`` on 500 GSM8K
train examples, as a user runs it (the CLI, a fresh data directory, the real worker path), timed from the command's
start to its end (target: ≤ 10 minutes on a 2-core CPU), with the held-out loss before training (the base model on
the run's own held-out rows, computed with the trainer's evaluation) and after it.

    .venv/bin/python benchmarks/quick_train.py [--rows 500] [--threads 2]

Run it on a quiet machine: the load average is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from real_model import BENCHMARKS, REPO, load_average, smollm2_dir


def dataset(rows: int, path: Path) -> None:
    """``rows`` seeded GSM8K train examples (no test question) as chat records."""
    import random

    from modelmate.demo.hub_data import load_gsm8k, normalise, worked_solution

    train, test_questions, _ = load_gsm8k(BENCHMARKS)
    clean = [r for r in train if normalise(r["question"]) not in test_questions]
    random.Random(7).shuffle(clean)
    with path.open("w", encoding="utf-8") as fh:
        for r in clean[:rows]:
            fh.write(json.dumps({"messages": [{"role": "user", "content": r["question"]},
                                              {"role": "assistant", "content": worked_solution(r["answer"])}]})
                     + "\n")


def baseline_eval_loss(model_dir: Path, canonical: Path, threads: int) -> float:
    """The base model's held-out loss on the run's held-out rows (same split, same packing, same loss)."""
    import torch

    from modelmate.training.config import resolve_config
    from modelmate.training.data import read_canonical, split_indices
    from modelmate.training.loop import Run
    from modelmate.training.results import TrainJob

    torch.set_num_threads(threads)
    config = resolve_config("quick")
    records = read_canonical(canonical)
    train_idx, eval_idx = split_indices(len(records), config.eval_split, config.seed)
    with tempfile.TemporaryDirectory() as tmp:
        job = TrainJob(config=config, base_model=str(model_dir), train_records=[records[i] for i in train_idx],
                       eval_records=[records[i] for i in eval_idx], output_dir=Path(tmp) / "out",
                       checkpoint_dir=Path(tmp) / "ckpt", target_modules=[], model_card={})
        run = Run(job, on_event=lambda e: None, should_stop=lambda: False)
        run.setup(resume=False)
        return run.evaluate()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    model_dir = smollm2_dir()
    work = Path(tempfile.mkdtemp(prefix="mm-quick-train-"))
    try:
        data = work / "gsm8k-train.jsonl"
        dataset(args.rows, data)
        # the built-in model where a server's first start installs it
        shutil.copytree(model_dir, work / "data" / "base_models" / "smollm2-135m-instruct")
        env = {**os.environ, "MODELMATE_DATA_DIR": str(work / "data"), "MODELMATE_SEED_DEMO": "false",
               "MODELMATE_AUTO_EVALUATE": "false", "MODELMATE_TRAIN_THREADS": str(args.threads)}
        print(f"{args.rows} GSM8K train examples; {args.threads} threads; {load_average()}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run([str(REPO / ".venv" / "bin" / "modelmate"), "train", "--base", "smollm2-135m-instruct",
                               "--dataset", str(data), "--preset", "quick", "--name", "quick preset benchmark",
                               "--wait"], env=env, capture_output=True, text=True, timeout=3600)
        wall = time.perf_counter() - started
        print(proc.stdout[-3000:])
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            return 1
        with sqlite3.connect(work / "data" / "modelmate.db") as db:
            curve_json, final_eval, tokens, tps, peak, seconds = db.execute(
                "select loss_curve_data, final_eval_loss, train_tokens, tokens_per_second, peak_memory_bytes, "
                "train_seconds from training_runs order by id desc limit 1").fetchone()
            canonical = next((work / "data" / "artifacts" / "runs").glob("*/dataset.jsonl"))
            before = baseline_eval_loss(model_dir, canonical, args.threads)
        curve = json.loads(curve_json)
        evals = [(p["step"], p["eval_loss"]) for p in curve if p.get("eval_loss") is not None]
        print(f"wall time of `modelmate train --preset quick --wait`: {wall / 60:.1f} min (target <= 10); "
              f"training {seconds:.0f}s, {tokens:,} tokens at {tps:.0f} tokens/s, peak RSS {peak / 2**30:.1f} GiB")
        print(f"held-out loss: {before:.4f} before training -> " +
              " -> ".join(f"{loss:.4f} (step {step})" for step, loss in evals) +
              f"; drop {before - final_eval:.4f} ({100 * (before - final_eval) / before:.1f}%)")
        print(load_average())
        return 0 if wall <= 600 and final_eval < before else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
