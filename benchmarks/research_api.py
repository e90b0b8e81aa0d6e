"""Research queries at scale: seed N training runs (default 100k) with 500-point loss curves, per-domain scores
(the models' ``benchmark_scores``), per-task score rows and capability changes, start the real server and measure
p50/p95 through HTTP for the research endpoints (leaderboards per domain, museum, capability-change feed and
aggregates, advisor, research rows page, one run's curve and its curve history). Then, side by side, the comparable
operations against MLflow's own tracking store: log R runs (default 10k) with 30 params, 20 metrics and a 500-point
curve (``log_batch``), top-20 runs by a metric under a filter (``search_runs``), one curve (``get_metric_history``) —
and ModelMate's equivalents (R runs with their curves written through the ORM, one transaction per run; the top-20
leaderboard under a filter and one run's curve through HTTP), with the ratios.

    .venv/bin/python benchmarks/research_api.py                          # SQLite, 100k runs + MLflow at 10k
    .venv/bin/python benchmarks/research_api.py --runs 2000 --mlflow-runs 500 --rounds 1
    .venv/bin/python benchmarks/research_api.py --pg-url postgresql+psycopg://...   # also PostgreSQL
    .venv/bin/python benchmarks/research_api.py --skip-mlflow --skip-sqlite --pg-url ...

Seeding uses SQLAlchemy Core bulk inserts (executemany) after the migrations, on a temporary SQLite file and, with
``--pg-url``, a scratch PostgreSQL database (dropped afterwards). MLflow runs in-process against a ``sqlite:///``
store (no HTTP on its side), so its figures carry no HTTP overhead and ModelMate's do. ``--rounds N`` repeats the
measurement and reports the median p50/p95; the load average is printed with every round. Target: p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ServerProcess, load_average, percentile, scratch_pg_database, work_dir  # noqa: E402

TARGET_P95_MS = 100.0
DOMAINS = ["math", "code", "knowledge", "reasoning", "reading", "truthfulness"]
TASKS = {"math": "gsm8k", "code": "humaneval", "knowledge": "mmlu", "reasoning": "arc_challenge",
         "reading": "boolq", "truthfulness": "truthfulqa_mc2"}
CATEGORIES = ["diverged", "no_learning", "overfitting", "out_of_memory", "crashed"]
EXTRA_PARAMS = [f"extra_{i}" for i in range(24)]  # with the six the advisor reads: 30 params per run
METRICS = ([f"score_{d}" for d in DOMAINS] + ["final_loss", "final_eval_loss", "train_seconds", "tokens_per_second",
           "peak_memory_gb", "train_tokens"] + [f"metric_{i}" for i in range(8)])  # 20


def params_of(rng: random.Random) -> dict[str, Any]:
    config = {"learning_rate": rng.choice([1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3]), "r": rng.choice([4, 8, 16, 32, 64]),
              "alpha": rng.choice([8, 16, 32, 64]), "epochs": rng.choice([1, 2, 3]), "max_steps": None,
              "batch_size": rng.choice([4, 8, 16]), "max_seq_length": rng.choice([256, 512, 1024])}
    config.update({name: rng.randint(0, 1000) for name in EXTRA_PARAMS[:23]})
    return config


def curve_of(rng: random.Random, points: int) -> list[dict[str, Any]]:
    start, rate = rng.uniform(2.0, 4.0), rng.uniform(0.002, 0.02)
    out = []
    for step in range(1, points + 1):
        p: dict[str, Any] = {"step": step, "loss": round(start * math.exp(-rate * step) + 0.5 + rng.gauss(0, 0.02), 4),
                             "lr": 2e-4}
        if step % 50 == 0:
            p["eval_loss"] = round(p["loss"] + 0.1, 4)
        out.append(p)
    return out


# --- seeding ------------------------------------------------------------------------------------------------------

def seed(url: str, n: int, points: int, data_dir: Path, *, seed_value: int = 7, hot_base_share: float = 0.0) -> float:
    """Migrate, register the base models, bulk insert ``n`` runs with output models, scores, evaluations,
    per-task rows, domain capability changes and the runs' compact curves. ``hot_base_share``: that share of the runs
    is on the first base model (the rest round-robin over all). Returns the seconds it took."""
    from sqlalchemy import insert, select, text

    from modelmate.accounts.service import ensure_local_user
    from modelmate.benchmarking.service import entry_rows
    from modelmate.config import Settings
    from modelmate.db import migrate
    from modelmate.db.engine import Database
    from modelmate.finetune import base_catalog
    from modelmate.models import (
        BenchmarkResult,
        CapabilityChange,
        Dataset,
        Evaluation,
        LeaderboardEntry,
        Model,
        RunCurvePoint,
        TrainingRun,
    )
    from modelmate.training.curve_buckets import curve_buckets

    t0 = time.perf_counter()
    db = Database(url)
    migrate.upgrade(db)
    base_catalog.seed_base_models(db, Settings(data_dir=data_dir, database_url=url))
    with db.session() as s:
        user = ensure_local_user(s)
        assert user is not None
        uid = user.id
    rng = random.Random(seed_value)
    hot = random.Random(seed_value + 1)  # its own stream: the default seeding stays what it was
    now = datetime.now(UTC)
    curves = [curve_of(rng, points) for _ in range(32)]
    compact = [curve_buckets(c) for c in curves]  # what every curve writer stores (Core inserts skip them)
    with db.engine.begin() as conn:
        bases = [(i, p or 135_000_000) for i, p in conn.execute(select(Model.id, Model.parameters).where(
            Model.kind == "base").order_by(Model.id))]
        dataset_ids = conn.execute(insert(Dataset).returning(Dataset.id), [
            {"owner_id": uid, "name": f"data {i}", "format": "alpaca", "content_hash": f"{i:064x}",
             "storage_uri": f"datasets/{i}", "rows": 200 * (i + 1), "domain": DOMAINS[i % len(DOMAINS)],
             "visibility": "public"} for i in range(20)]).scalars().all()
        ids = {t: (conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar() or 0) + 1
               for t in ("models", "training_runs", "evaluations")}
        batch = 2000
        for start in range(0, n, batch):
            models, runs, evals, results, changes, entries, points_rows = [], [], [], [], [], [], []
            for i in range(start, min(start + batch, n)):
                base_id, params = bases[0 if hot_base_share and hot.random() < hot_base_share else i % len(bases)]
                created = now - timedelta(minutes=n - i)
                run_id = ids["training_runs"] + i
                roll = rng.random()
                status, outcome, category = (("succeeded", "success", None) if roll < 0.85 else
                                             ("failed", "failure", rng.choice(CATEGORIES)) if roll < 0.95 else
                                             ("cancelled", "partial", "cancelled"))
                owner = uid  # one user: a second account would end single-user mode (no login here)
                model_id = None
                if status == "succeeded":
                    model_id = ids["models"] + i
                    visibility = "private" if i % 20 == 0 else "public"
                    ev_id = ids["evaluations"] + i
                    settings_hash = "h-common" if rng.random() < 0.9 else "h-other"
                    scores = {}
                    for d in DOMAINS:
                        value, err = rng.uniform(0.1, 0.9), rng.uniform(0.005, 0.03)
                        scores[d] = {"score": value, "stderr": err, "tasks": [TASKS[d]], "evaluation_id": ev_id,
                                     "mode": "quick", "settings_hash": f"{settings_hash}-{d}",
                                     "measured_at": created.isoformat(), "backend": "hf"}
                        results.append({"evaluation_id": ev_id, "model_id": model_id, "task": TASKS[d],
                                        "domain": d, "metric": "acc", "value": value, "stderr": err,
                                        "n_samples": 100, "mode": "quick", "status": "final",
                                        "raw": {"primary": True}})
                    for d in DOMAINS[:3]:
                        delta = rng.gauss(0, 0.05)
                        changes.append({"model_id": model_id, "reference_model_id": base_id,
                                        "reference_kind": "base", "evaluation_id": ev_id, "domain": d,
                                        "value": 0.5 + delta, "reference_value": 0.5, "delta": delta,
                                        "flagged": abs(delta) > 0.08, "direction": "up" if delta > 0 else "down",
                                        "created_at": created})
                    models.append({"id": model_id, "name": f"ft-{i}", "name_key": f"ft-{i}", "developer_key": "",
                                   "kind": "finetuned", "visibility": visibility,
                                   "owner_id": owner, "base_model_id": base_id, "parameters": params,
                                   "benchmark_scores": scores, "hub_info": {"adapter": True, "run_id": run_id},
                                   "created_at": created, "updated_at": created})
                    # what the flush hook writes for a model whose scores change (Core inserts skip the ORM)
                    entries += entry_rows(Model(id=model_id, benchmark_scores=scores, visibility=visibility,
                                                owner_id=owner, base_model_id=base_id, parameters=params,
                                                kind="finetuned", hub_info={"adapter": True, "run_id": run_id}))
                    evals.append({"id": ev_id, "owner_id": owner, "model_id": model_id, "run_id": run_id,
                                  "mode": "quick", "status": "final", "tasks": list(TASKS.values()),
                                  "settings_hash": settings_hash, "created_at": created, "finished_at": created})
                curve = curves[i % len(curves)]
                points_rows += [{"run_id": run_id, "bucket": p.bucket, "loss": p.loss, "points": p.points,
                                 "last_step": p.last_step} for p in compact[i % len(curves)]]
                runs.append({"id": run_id, "owner_id": owner, "name": f"run-{i}", "base_model_id": base_id,
                             "dataset_id": dataset_ids[i % len(dataset_ids)], "status": status,
                             "training_outcome": outcome, "failure_category": category,
                             "config": params_of(rng), "loss_curve_data": curve, "output_model_id": model_id,
                             "final_loss": curve[-1]["loss"], "total_steps": points,
                             "feedback_value": -1 if rng.random() < 0.02 else None,
                             "created_at": created, "finished_at": created})
            conn.execute(insert(Model), models)
            conn.execute(insert(TrainingRun), runs)
            conn.execute(insert(Evaluation), evals)
            conn.execute(insert(BenchmarkResult), results)
            conn.execute(insert(CapabilityChange), changes)
            conn.execute(insert(LeaderboardEntry), entries)
            conn.execute(insert(RunCurvePoint), points_rows)
            print(f"  seeded {min(start + batch, n):,} runs ({time.perf_counter() - t0:.0f}s)", flush=True)
        if not db.is_sqlite:
            for table in ("models", "training_runs", "evaluations"):
                conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
    from modelmate.research.repository import rebuild_change_totals

    with db.session() as s:  # what the ORM hooks keep in step for the capability-change aggregates
        rebuild_change_totals(s)
    analyse(db)
    db.dispose()
    return time.perf_counter() - t0


def analyse(db) -> None:
    from sqlalchemy import text

    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


# --- measuring through HTTP -----------------------------------------------------------------------------------------

def scenarios(http: httpx.Client) -> list[tuple[str, str, str, Any]]:
    """(name, method, path, params/json factory)."""
    base = http.get("/api/v1/leaderboards", params={"domain": "math", "limit": 1}).json()
    bases = [r["base"]["id"] for r in base["rows"] if r.get("base")] or [None]
    museum = http.get("/api/v1/museum", params={"limit": 1}).json()
    run_id = museum["items"][0]["run_id"] if museum["items"] else 1
    rng = random.Random(11)
    out: list[tuple[str, str, str, Any]] = [
        (f"leaderboard {d}", "GET", "/api/v1/leaderboards", (lambda d=d: {"domain": d}))
        for d in ["overall", *DOMAINS]]
    out += [
        ("leaderboard math, base filter, top 20", "GET", "/api/v1/leaderboards",
         lambda: {"domain": "math", "base_model_id": bases[0], "limit": 20} if bases[0] else {"domain": "math"}),
        ("museum", "GET", "/api/v1/museum", lambda: {"offset": rng.choice([0, 0, 50, 500])}),
        ("museum category=diverged", "GET", "/api/v1/museum", lambda: {"category": "diverged"}),
        ("capability-change feed", "GET", "/api/v1/capability-changes", lambda: {"offset": rng.choice([0, 50])}),
        ("capability-change feed flagged", "GET", "/api/v1/capability-changes", lambda: {"flagged": "true"}),
        ("capability-change aggregates", "GET", "/api/v1/capability-changes/aggregates", lambda: {}),
        ("advisor", "POST", "/api/v1/advisor", lambda: {"base_model": str(bases[0] or "tiny"),
                                                          "config": {"learning_rate": 2e-4}}),
        ("research rows page (50)", "GET", "/api/v1/research/rows", lambda: {"limit": 50}),
        ("one run's curve", "GET", f"/api/v1/runs/{run_id}", lambda: {}),
        ("one run's curve history", "GET", f"/api/v1/runs/{run_id}/curve-history", lambda: {}),
    ]
    return out


def request(http: httpx.Client, method: str, path: str, args: Any) -> httpx.Response:
    if method == "POST":
        return http.post(path, json=args)
    return http.get(path, params=args)


def measure(base_url: str, requests: int, warmup: int, budget_s: float) -> list[dict[str, Any]]:
    rows = []
    with httpx.Client(base_url=base_url, timeout=120) as http:
        for name, method, path, args in scenarios(http):
            probe = request(http, method, path, args())
            if probe.status_code != 200:
                rows.append({"name": name, "skipped": f"{path} answered {probe.status_code}: {probe.text[:160]}"})
                continue
            for _ in range(warmup):
                request(http, method, path, args())
            times: list[float] = []
            deadline = time.perf_counter() + budget_s
            for _ in range(requests):
                if time.perf_counter() > deadline:
                    break
                t = time.perf_counter()
                r = request(http, method, path, args())
                times.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"{name}: {r.status_code} {r.text[:300]}")
            rows.append({"name": name, "n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95)})
    return rows


def combine(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for rows in zip(*rounds, strict=True):
        done = [r for r in rows if "skipped" not in r]
        if not done:
            out.append(rows[0])
            continue
        out.append({"name": rows[0]["name"], "n": sum(r["n"] for r in done), "p50": median(r["p50"] for r in done),
                    "p95": median(r["p95"] for r in done)})
    return out


def print_table(rows: list[dict[str, Any]], header: str) -> bool:
    print(f"\n{header}")
    print(f"{'request':40} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}  p95<={TARGET_P95_MS:g}ms")
    ok = True
    for r in rows:
        if "skipped" in r:
            print(f"{r['name']:40} SKIPPED ({r['skipped']})")
            ok = False
            continue
        passed = r["p95"] <= TARGET_P95_MS
        ok &= passed
        print(f"{r['name']:40} {r['n']:>5} {r['p50']:>8.1f} {r['p95']:>8.1f}  {'PASS' if passed else 'FAIL'}")
    return ok


def run_backend(label: str, url: str, args: argparse.Namespace, data: Path) -> bool:
    print(f"\n== {label}: seeding {args.runs:,} runs x {args.points} curve points ...", flush=True)
    secs = seed(url, args.runs, args.points, data / "seed-data")
    print(f"seeded in {secs:.1f}s (load average {load_average()})")
    ok = True
    with ServerProcess(data / f"server-{label}", database_url=url, log_path=data / f"server-{label}.log") as server:
        rounds = []
        for i in range(args.rounds):
            before = load_average()
            rounds.append(measure(server.base_url, args.requests, args.warmup, args.budget))
            ok = print_table(rounds[-1], f"round {i + 1}/{args.rounds}: {label}, {args.runs:,} runs "
                                         f"(load average {before} -> {load_average()})")
        if args.rounds > 1:
            ok = print_table(combine(rounds), f"median of {args.rounds} rounds: {label}, {args.runs:,} runs")
    return ok


# --- MLflow vs ModelMate, the comparable operations ---------------------------------------------------------------

def timed(fn, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return {"p50": percentile(times, 50), "p95": percentile(times, 95)}


def mlflow_side(n: int, points: int, repeat: int, data: Path) -> dict[str, Any]:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{data / 'mlflow.db'}")
    exp = client.create_experiment("bench", artifact_location=str(data / "mlflow-artifacts"))
    rng = random.Random(5)
    curves = [curve_of(rng, points) for _ in range(32)]
    t0 = time.perf_counter()
    run_ids = []
    for i in range(n):
        run = client.create_run(exp, run_name=f"run-{i}")
        ts = int(time.time() * 1000)
        config = params_of(rng)
        params = [Param(k, str(v)) for k, v in config.items()]
        metrics = [Metric(m, rng.uniform(0.1, 0.9), ts, 0) for m in METRICS]
        metrics += [Metric("loss", p["loss"], ts, p["step"]) for p in curves[i % len(curves)]]
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
        if (i + 1) % 1000 == 0:
            print(f"  mlflow: logged {i + 1:,} runs ({time.perf_counter() - t0:.0f}s)", flush=True)
    write_s = time.perf_counter() - t0
    top = timed(lambda: client.search_runs([exp], filter_string="params.r = '16'",
                                           order_by=["metrics.score_math DESC"], max_results=20), repeat)
    curve = timed(lambda: client.get_metric_history(run_ids[n // 2], "loss"), repeat)
    return {"write_s": write_s, "top": top, "curve": curve}


def modelmate_side(n: int, points: int, repeat: int, data: Path) -> dict[str, Any]:
    """n runs with their curves and output models written through the ORM (one transaction per run, like one
    ``log_batch`` per MLflow run), then the top-20 leaderboard under a filter and one run's curve through HTTP."""
    from modelmate.accounts.service import ensure_local_user
    from modelmate.benchmarking import service  # noqa: F401 - registers the flush hook that writes leaderboard entries
    from modelmate.config import Settings
    from modelmate.db import migrate
    from modelmate.db.engine import Database
    from modelmate.finetune import base_catalog
    from modelmate.models import Model, TrainingRun

    url = f"sqlite:///{data / 'mm-compare.db'}"
    db = Database(url)
    migrate.upgrade(db)
    base_catalog.seed_base_models(db, Settings(data_dir=data / "compare-data", database_url=url))
    with db.session() as s:
        user = ensure_local_user(s)
        assert user is not None
        uid = user.id
        base = s.query(Model).filter(Model.kind == "base").order_by(Model.id).first()
        assert base is not None
        base_id = base.id
    rng = random.Random(5)
    curves = [curve_of(rng, points) for _ in range(32)]
    t0 = time.perf_counter()
    run_ids = []
    for i in range(n):
        config = params_of(rng)
        scores = {d: {"score": rng.uniform(0.1, 0.9), "stderr": 0.01, "mode": "quick", "settings_hash": f"h-{d}",
                      "tasks": [TASKS[d]]} for d in DOMAINS}
        with db.session() as s:
            model = Model(name=f"ft-{i}", name_key=f"ft-{i}", developer_key="", kind="finetuned", owner_id=uid,
                          visibility="public", base_model_id=base_id, parameters=135_000_000,
                          benchmark_scores=scores, hub_info={"adapter": True})
            s.add(model)
            s.flush()
            curve = curves[i % len(curves)]
            run = TrainingRun(owner_id=uid, name=f"run-{i}", base_model_id=base_id, status="succeeded",
                              training_outcome="success", config=config, loss_curve_data=curve,
                              output_model_id=model.id, final_loss=curve[-1]["loss"], total_steps=points)
            s.add(run)
            s.flush()
            run_ids.append(run.id)
        if (i + 1) % 1000 == 0:
            print(f"  modelmate: wrote {i + 1:,} runs ({time.perf_counter() - t0:.0f}s)", flush=True)
    write_s = time.perf_counter() - t0
    analyse(db)
    db.dispose()
    with ServerProcess(data / "compare-server", database_url=url, log_path=data / "compare-server.log") as server, \
            httpx.Client(base_url=server.base_url, timeout=120) as http:
        def get(path: str, params: dict[str, Any]) -> None:
            r = http.get(path, params=params)
            if r.status_code != 200:
                raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")

        board = {"domain": "math", "base_model_id": base_id, "method": "lora", "limit": 20}
        get("/api/v1/leaderboards", board)
        top = timed(lambda: get("/api/v1/leaderboards", board), repeat)
        curve = timed(lambda: get(f"/api/v1/runs/{run_ids[n // 2]}", {}), repeat)
    return {"write_s": write_s, "top": top, "curve": curve}


def compare(n: int, points: int, repeat: int, data: Path) -> None:
    print(f"\n== MLflow vs ModelMate: {n:,} runs x (30 params, 20 metrics, {points}-point curve), SQLite both",
          flush=True)
    mlflow = mlflow_side(n, points, repeat, data)
    mm = modelmate_side(n, points, repeat, data)
    print(f"\nMLflow {_mlflow_version()} (in-process sqlite store) vs ModelMate (SQLite; reads through HTTP), "
          f"{n:,} runs, {repeat} repeats (load average {load_average()})")
    print(f"{'operation':44} {'MLflow':>12} {'ModelMate':>12} {'MLflow/MM':>10}")
    print(f"{'log runs (total s)':44} {mlflow['write_s']:>12.1f} {mm['write_s']:>12.1f} "
          f"{mlflow['write_s'] / mm['write_s']:>10.2f}")
    for key, label in (("top", "top-20 by a metric under a filter"), ("curve", "one run's curve")):
        for stat in ("p50", "p95"):
            a, b = mlflow[key][stat], mm[key][stat]
            print(f"{label + ' ' + stat + ' ms':44} {a:>12.1f} {b:>12.1f} {a / b:>10.2f}")


def _mlflow_version() -> str:
    import mlflow

    return str(mlflow.__version__)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--points", type=int, default=500, help="loss-curve points per run")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--requests", type=int, default=40, help="measured requests per endpoint per round")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--budget", type=float, default=30.0, help="seconds at most per endpoint per round")
    ap.add_argument("--pg-url", help="also PostgreSQL: a scratch database on this server (dropped afterwards)")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--mlflow-runs", type=int, default=10_000)
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--data-dir", type=Path, help="keep the files here (default: a temporary directory)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when any p95 misses the target")
    args = ap.parse_args()
    print(f"load average at start: {load_average()} ({os.cpu_count()} CPUs)")
    ok = True
    with ExitStack() as stack:
        data = work_dir(stack, args.data_dir, "mm-research-")
        if not args.skip_sqlite:
            ok &= run_backend("sqlite", f"sqlite:///{data / 'research.db'}", args, data)
        if args.pg_url:
            with scratch_pg_database(args.pg_url) as url:
                ok &= run_backend("postgresql", url, args, data)
        if not args.skip_mlflow:
            compare(args.mlflow_runs, args.points, max(args.requests, 20), data)
    print(f"\nload average at end: {load_average()}")
    if not ok:
        print("some p95 latencies miss the target" + ("" if args.strict else " (not --strict: exit 0)"))
        return 1 if args.strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
