"""The curve-history endpoint at scale (issue 20 §5): seed N runs (default 100k, 500-point curves, their compact
curves) with ``--hot-share`` of them (default 0.4: 40k runs) on one base model, start the real server and measure
p50/p95 through HTTP of ``GET /runs/{id}/curve-history`` for the newest run on that base (every other run on it is
earlier: the band is the newest 500 of ~40k), a run in the middle of its history, an early run (300
earlier runs, band over all of them) and the newest run on an ordinary base. Target p95 <= 100 ms (the issue-19
target for research endpoints). The seeding is benchmarks/research_api.py's.

    .venv/bin/python benchmarks/curve_history.py                         # SQLite, 100k runs
    .venv/bin/python benchmarks/curve_history.py --runs 5000 --rounds 1
    .venv/bin/python benchmarks/curve_history.py --pg-url postgresql+psycopg://... [--skip-sqlite]

``--rounds N`` repeats the measurement and reports the median p50/p95; the load average is printed every round.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from statistics import median

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ServerProcess, load_average, percentile, scratch_pg_database, work_dir  # noqa: E402
from research_api import TARGET_P95_MS, seed  # noqa: E402


def targets(url: str) -> list[tuple[str, int]]:
    """(label, run id): the runs whose history is measured, chosen in the database."""
    from sqlalchemy import func, select

    from modelmate.db.engine import Database
    from modelmate.models import TrainingRun

    db = Database(url)
    with db.session() as s:
        per_base = s.execute(select(TrainingRun.base_model_id, func.count()).group_by(TrainingRun.base_model_id)
                             .order_by(func.count().desc())).all()
        hot, hot_n = per_base[0]
        other = per_base[-1][0]

        def nth(base: int, k: int) -> int:
            return int(s.scalar(select(TrainingRun.id).where(TrainingRun.base_model_id == base)
                                .order_by(TrainingRun.created_at, TrainingRun.id).offset(k).limit(1)))

        out = [(f"newest on the busiest base ({hot_n - 1:,} earlier)", nth(hot, hot_n - 1)),
               (f"middle of the busiest base ({hot_n // 2:,} earlier)", nth(hot, hot_n // 2)),
               ("early on the busiest base (300 earlier)", nth(hot, min(300, hot_n - 1))),
               ("newest on the quietest base", nth(other, s.scalar(select(func.count()).where(
                   TrainingRun.base_model_id == other)) - 1))]
    db.dispose()
    return out


def measure(base_url: str, runs: list[tuple[str, int]], requests: int, warmup: int) -> list[dict]:
    rows = []
    with httpx.Client(base_url=base_url, timeout=120) as http:
        for label, run_id in runs:
            path = f"/api/v1/runs/{run_id}/curve-history"
            probe = http.get(path)
            if probe.status_code != 200:
                raise SystemExit(f"{label}: {probe.status_code} {probe.text[:300]}")
            body = probe.json()
            for _ in range(warmup):
                http.get(path)
            times = []
            for _ in range(requests):
                t = time.perf_counter()
                assert http.get(path).status_code == 200
                times.append((time.perf_counter() - t) * 1000)
            rows.append({"name": label, "n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
                         "band": f"{body['band_runs']:,}/{body['earlier_runs']:,} runs, {len(body['band'])} buckets, "
                                 f"{len(body['same_dataset'])} same-dataset"})
    return rows


def table(rows: list[dict], header: str) -> bool:
    print(f"\n{header}")
    print(f"{'run':48} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}  p95<={TARGET_P95_MS:g}ms  band")
    ok = True
    for r in rows:
        passed = r["p95"] <= TARGET_P95_MS
        ok &= passed
        print(f"{r['name']:48} {r['n']:>4} {r['p50']:>8.1f} {r['p95']:>8.1f}  {'PASS' if passed else 'FAIL':9}  "
              f"{r['band']}")
    return ok


def backend(label: str, url: str, args: argparse.Namespace, data: Path) -> bool:
    print(f"\n== {label}: seeding {args.runs:,} runs x {args.points} points, {args.hot_share:.0%} on one base ...",
          flush=True)
    if args.reuse and label == "sqlite" and (data / "curves.db").exists():
        print("reusing the database seeded earlier in --data-dir")
    else:
        secs = seed(url, args.runs, args.points, data / f"seed-{label}", hot_base_share=args.hot_share)
        print(f"seeded in {secs:.1f}s (load average {load_average()})")
    runs = targets(url)
    ok = True
    with ServerProcess(data / f"server-{label}", database_url=url, log_path=data / f"server-{label}.log") as server:
        rounds = []
        for i in range(args.rounds):
            before = load_average()
            rounds.append(measure(server.base_url, runs, args.requests, args.warmup))
            ok = table(rounds[-1], f"round {i + 1}/{args.rounds}: {label}, {args.runs:,} runs "
                                   f"(load average {before} -> {load_average()})")
        if args.rounds > 1:
            merged = [{**rows[0], "n": sum(r["n"] for r in rows), "p50": median(r["p50"] for r in rows),
                       "p95": median(r["p95"] for r in rows)} for rows in zip(*rounds, strict=True)]
            ok = table(merged, f"median of {args.rounds} rounds: {label}, {args.runs:,} runs")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--points", type=int, default=500)
    ap.add_argument("--hot-share", type=float, default=0.4, help="share of the runs on one base model")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--pg-url", help="also PostgreSQL: a scratch database on this server (dropped afterwards)")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--reuse", action="store_true",
                    help="SQLite: measure the database a previous run left in --data-dir")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a p95 misses the target")
    args = ap.parse_args()
    print(f"load average at start: {load_average()}")
    ok = True
    with ExitStack() as stack:
        data = work_dir(stack, args.data_dir, "mm-curves-")
        if not args.skip_sqlite:
            ok &= backend("sqlite", f"sqlite:///{data / 'curves.db'}", args, data)
        if args.pg_url:
            with scratch_pg_database(args.pg_url) as url:
                ok &= backend("postgresql", url, args, data)
    print(f"\nload average at end: {load_average()}")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
