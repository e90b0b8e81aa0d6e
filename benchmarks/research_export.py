"""The complete research export (``modelmate research export --format hf-dataset``) at two sizes: does its memory
stay flat while the data grows? Seeds a fresh SQLite data dir with N runs (each with a P-point loss curve, a public
output model and 4 per-task score rows), runs the real CLI in a child process and prints wall time, rows per second
and the child's peak RSS, small and large side by side with their ratios.

    .venv/bin/python benchmarks/research_export.py                       # 2000 runs x 500 points vs 200 x 500
    .venv/bin/python benchmarks/research_export.py --runs 10000 --points 500 --small 1000
    .venv/bin/python benchmarks/research_export.py --format parquet      # the single-file runs export, for contrast

The export reads runs in keyset batches of 500 and writes each table's Parquet shards as it goes, so the peak RSS
should barely move with the number of points (the single-file formats hold every row at once).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert


def seed(data_dir: Path, runs: int, points: int) -> float:
    from modelmate.db import migrate
    from modelmate.db.engine import Database
    from modelmate.models import BenchmarkResult, Evaluation, Model, TrainingRun, User

    started = time.perf_counter()
    db = Database(f"sqlite:///{data_dir / 'modelmate.db'}")
    migrate.upgrade(db)
    rng = random.Random(7)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as s:
        admin = User(username="admin", is_admin=True)
        s.add(admin)
        s.flush()
        base = Model(name="Base", name_key="base", developer_key="", kind="base", visibility="public",
                     source_links=[], benchmark_scores={}, hub_info={}, metadata_extra={})
        s.add(base)
        s.flush()
        admin_id, base_id = admin.id, base.id
    for start in range(0, runs, 500):
        n = min(500, runs - start)
        with db.session() as s:
            models = s.execute(insert(Model).returning(Model.id), [
                {"name": f"ft-{start + i}", "name_key": f"ft-{start + i}", "developer_key": "", "kind": "finetuned",
                 "visibility": "public", "owner_id": admin_id, "base_model_id": base_id, "source_links": [],
                 "benchmark_scores": {}, "hub_info": {}, "metadata_extra": {}} for i in range(n)]).scalars().all()
            s.execute(insert(TrainingRun), [
                {"owner_id": admin_id, "name": f"run {start + i}", "base_model_id": base_id, "output_model_id": m,
                 "config": {"learning_rate": 2e-4, "r": 8}, "status": "succeeded", "training_outcome": "success",
                 "loss_curve_data": [{"step": k + 1, "loss": 3.0 - k / points + rng.random() / 10,
                                      "eval_loss": 3.1 - k / points if k % 50 == 0 else None, "lr": 2e-4,
                                      "grad_norm": 1 + rng.random(), "tokens": 512 * (k + 1), "seconds": 0.3 * k}
                                     for k in range(points)],
                 "early_stopping": [], "environment": {}, "estimate": {}, "created_at": t0 + timedelta(seconds=i)}
                for i, m in enumerate(models)])
            evals = s.execute(insert(Evaluation).returning(Evaluation.id), [
                {"model_id": m, "mode": "quick", "status": "final", "tasks": [], "settings": {"backend": "hf"},
                 "settings_hash": "h" * 64, "finished_at": t0} for m in models]).scalars().all()
            s.execute(insert(BenchmarkResult), [
                {"evaluation_id": e, "model_id": m, "task": task, "domain": domain, "metric": "acc,none",
                 "value": rng.random(), "stderr": 0.01, "n_samples": 100, "n_shot": 0, "mode": "quick",
                 "status": "final", "raw": {"primary": True}, "created_at": t0}
                for e, m in zip(evals, models, strict=True)
                for task, domain in (("gsm8k", "math"), ("boolq", "reading"), ("arc_easy", "reasoning"),
                                     ("mbpp", "code"))])
    db.dispose()
    return time.perf_counter() - started


def export(data_dir: Path, fmt: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of the real CLI in a child process."""
    out = data_dir / ("export" if fmt == "hf-dataset" else "export.parquet")
    env = {**os.environ, "MODELMATE_DATA_DIR": str(data_dir), "MODELMATE_SEED_DEMO": "false"}
    args = [sys.executable, "-m", "modelmate", "research", "export", "--format", fmt, "--out", str(out)]
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    output = proc.stdout.read().decode() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"export failed:\n{output}")
    print("   ", output.strip().splitlines()[-1][:160])
    return elapsed, usage.ru_maxrss * 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--small", type=int, default=200, help="runs of the small export")
    parser.add_argument("--points", type=int, default=500, help="curve points per run")
    parser.add_argument("--format", default="hf-dataset", choices=["hf-dataset", "parquet"])
    args = parser.parse_args()
    results = {}
    for label, runs in (("small", args.small), ("large", args.runs)):
        with tempfile.TemporaryDirectory(prefix="mm-export-bench-") as tmp:
            seconds = seed(Path(tmp), runs, args.points)
            print(f"{label}: seeded {runs} runs x {args.points} points in {seconds:.1f} s")
            results[label] = (runs, *export(Path(tmp), args.format))
    print(f"\n{'export':>8} {'runs':>8} {'points':>11} {'seconds':>9} {'points/s':>10} {'peak RSS MiB':>13}")
    for label, (runs, seconds, rss) in results.items():
        pts = runs * args.points
        print(f"{label:>8} {runs:>8} {pts:>11} {seconds:>9.1f} {pts / seconds:>10.0f} {rss / 2**20:>13.0f}")
    (rs, ss, small_rss), (rl, sl, large_rss) = results["small"], results["large"]
    print(f"{'ratio':>8} {rl / rs:>8.1f}x {'':>11} {sl / ss:>8.1f}x {'':>10} {large_rss / small_rss:>12.2f}x")


if __name__ == "__main__":
    main()
