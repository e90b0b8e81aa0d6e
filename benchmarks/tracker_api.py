"""Tracker API latency at scale: seed N entries (default 100k, one user), start the real server, measure
p50/p95/p99 through HTTP for the list/filter/sort/facet/search requests the UI makes.

    .venv/bin/python benchmarks/tracker_api.py                      # SQLite, 100k entries
    .venv/bin/python benchmarks/tracker_api.py --entries 20000 --requests 100
    .venv/bin/python benchmarks/tracker_api.py --backend postgres --pg-url postgresql+psycopg://...
    .venv/bin/python benchmarks/tracker_api.py --strict             # exit 1 when a p95 misses the target
    .venv/bin/python benchmarks/tracker_api.py --rounds 3 --data-dir /tmp/mm-bench   # median of 3 rounds' p95

``--rounds N`` repeats the whole measurement N times against the same server and reports, per request, the
median of the rounds' p50/p95/p99 and the min/max of the per-round p95 (this box is shared and noisy). The
load average (``os.getloadavg()``) is printed with every round.

Seeding uses SQLAlchemy Core bulk inserts after running the migrations on a fresh data dir (SQLite) or a
fresh scratch database (PostgreSQL, dropped afterwards; ``--pg-keep NAME`` keeps a named one seeded between
runs instead). The FTS5 triggers maintain search_fts.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit, urlunsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ServerProcess, admin_url, load_average, percentile, scratch_pg_database, work_dir  # noqa: E402

TARGET_P95_MS = 50.0

FAMILIES = ["Llama", "Mistral", "Mixtral", "Qwen", "Gemma", "Phi", "Falcon", "BLOOM", "GPT-J", "Pythia", "OLMo",
            "DeepSeek", "Yi", "InternLM", "Baichuan", "StableLM", "Vicuna", "Zephyr", "Starcoder", "CodeLlama",
            "Whisper", "CLIP", "SigLIP", "ViT", "DINOv2", "SAM", "Stable Diffusion", "BGE", "E5", "GTE",
            "MiniLM", "Nomic Embed", "LLaVA", "Idefics", "Pixtral", "Florence", "Bark", "MusicGen", "Granite",
            "Command R", "Jamba", "Mamba", "RWKV", "T5", "Flan-T5", "BERT", "RoBERTa", "DeBERTa", "Orca", "Hermes"]
SUFFIXES = ["", "Instruct", "Chat", "Base", "Code", "Math", "Vision", "Turbo", "Mini", "Large", "XL", "Distill"]
DEVELOPERS = ["Meta", "Mistral AI", "Alibaba", "Google", "Microsoft", "TII", "BigScience", "EleutherAI", "AI2",
              "DeepSeek", "01.AI", "Shanghai AI Lab", "Baichuan", "Stability AI", "LMSYS", "Hugging Face",
              "BigCode", "OpenAI", "Apple", "NVIDIA", "IBM", "Cohere", "AI21", "BAAI", "Nomic", "Salesforce",
              "Snowflake", "Databricks", "xAI", "Anthropic Research", "Tencent", "Baidu", "Zhipu", "Moonshot",
              "Reka", "Allen Institute", "Cerebras", "Together", "Nous Research", "Independent researcher"]
TYPES = ["LLM"] * 12 + ["Vision"] * 3 + ["Audio"] * 2 + ["Embedding"] * 2 + ["Multimodal"] * 2 + ["Other"]
LICENSES = ["Apache-2.0", "MIT", "Llama 3 Community License", "CC-BY-4.0", "CC-BY-NC-4.0", "OpenRAIL-M",
            "Gemma Terms of Use", "BSD-3-Clause", "Proprietary", None, None]
STATUSES = ["wishlist"] * 3 + ["tried"] * 4 + ["studied"] * 2 + ["using"] * 2 + ["archived"]
TAG_NAMES = (["chat", "code", "open-weights", "reasoning", "multilingual", "small", "fast", "rag", "agents",
              "math", "vision", "speech", "embedding", "long-context", "instruct", "base", "quantized", "gguf",
              "on-device", "research", "production", "favourite", "to-read", "benchmarked", "fine-tuned"]
             + [f"topic-{i}" for i in range(175)])
WORDS = ["model", "good", "fast", "slow", "context", "window", "tokens", "quantised", "accuracy", "benchmark",
         "reasoning", "hallucinates", "follows", "instructions", "well", "latency", "memory", "gpu", "cpu",
         "inference", "fine-tune", "lora", "adapter", "dataset", "eval", "surprisingly", "strong", "weak",
         "at", "math", "great", "for", "code", "summarisation", "translation", "chat", "template", "license",
         "weights", "download", "tried", "compared", "against", "baseline", "results", "paper",
         "architecture", "attention", "mixture", "experts", "sliding", "rope", "scaling", "vocabulary",
         "tokenizer", "multilingual", "safety", "refusal"]


def _params(rng: random.Random) -> int | None:
    if rng.random() < 0.08:
        return None
    return int(10 ** rng.uniform(7, 12))


def _text(rng: random.Random, max_words: int) -> str:
    n = int(rng.paretovariate(1.2) * 3) if max_words else 0
    return " ".join(rng.choice(WORDS) for _ in range(min(n, max_words)))


def seed(database_url: str, n: int, *, seed_value: int = 7) -> tuple[int, float]:
    """Migrate, create the local user, bulk insert ``n`` models + entries + tags + search documents."""
    from sqlalchemy import insert, text

    from modelmate.accounts.service import ensure_local_user
    from modelmate.db import migrate
    from modelmate.db.engine import Database
    from modelmate.models import Entry, EntryTag, Model, SearchDocument, Tag

    t0 = time.perf_counter()
    db = Database(database_url)
    migrate.upgrade(db)
    with db.session() as s:
        uid = ensure_local_user(s).id
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        tag_rows = [{"owner_id": uid, "name": t, "name_key": t.casefold(), "created_at": now} for t in TAG_NAMES]
        conn.execute(insert(Tag), tag_rows)
        tag_ids = {r[1]: r[0] for r in conn.execute(text("SELECT id, name FROM tags WHERE owner_id = :u"),
                                                    {"u": uid})}
        weights = [1 / (i + 1) ** 0.9 for i in range(len(TAG_NAMES))]
        batch = 5000
        next_id = (conn.execute(text("SELECT coalesce(max(id), 0) FROM models")).scalar() or 0) + 1
        next_entry = (conn.execute(text("SELECT coalesce(max(id), 0) FROM entries")).scalar() or 0) + 1
        for start in range(0, n, batch):
            models, entries, links, docs = [], [], [], []
            for i in range(start, min(start + batch, n)):
                fam = rng.choice(FAMILIES)
                name = f"{fam} {rng.randint(1, 4)}.{rng.randint(0, 9)} {rng.choice(SUFFIXES)} #{i}".replace("  ", " ")
                dev = rng.choice(DEVELOPERS)
                mtype, params, lic = rng.choice(TYPES), _params(rng), rng.choice(LICENSES)
                desc = f"{fam} family model by {dev}. " + _text(rng, 40)
                created = now - timedelta(days=rng.uniform(0, 900))
                updated = created + timedelta(days=rng.uniform(0, 60))
                mid, eid = next_id, next_entry
                next_id += 1
                next_entry += 1
                models.append({"id": mid, "name": name, "developer": dev, "name_key": name.casefold(),
                               "developer_key": dev.casefold(), "model_type": mtype, "parameters": params,
                               "license": lic, "version": None, "description": desc, "source_links": [],
                               "hf_repo_id": None, "github_repo": None, "kind": "external",
                               "visibility": "public", "owner_id": uid, "benchmark_scores": {}, "hub_info": {},
                               "metadata_extra": {}, "created_at": created, "updated_at": created})
                notes = _text(rng, 300) if rng.random() < 0.7 else ""
                entries.append({"id": eid, "owner_id": uid, "model_id": mid, "status": rng.choice(STATUSES),
                                "date_interacted": (date(2024, 1, 1) + timedelta(days=rng.randint(0, 1000)))
                                if rng.random() < 0.8 else None,
                                "rating": rng.randint(1, 5) if rng.random() < 0.6 else None, "notes": notes,
                                "visibility": "private", "created_at": created, "updated_at": updated,
                                # the entry's copies of the catalog keys (catalog.repository.entry_copies)
                                "model_name_key": name.casefold(), "model_type": mtype, "model_developer": dev,
                                "model_developer_key": dev.casefold(), "model_license": lic,
                                "model_parameters": params})
                chosen = sorted(set(rng.choices(TAG_NAMES, weights=weights, k=rng.randint(0, 6))),
                                key=str.casefold)
                links.extend({"entry_id": eid, "tag_id": tag_ids[t]} for t in chosen)
                docs.append({"entry_id": eid, "owner_id": uid, "name": name, "developer": dev,
                             "description": " ".join(filter(None, [desc, lic, mtype])), "tags": " ".join(chosen),
                             "notes": notes})
            conn.execute(insert(Model), models)
            conn.execute(insert(Entry), entries)
            if links:
                conn.execute(insert(EntryTag), links)
            conn.execute(insert(SearchDocument), docs)
        if not db.is_sqlite:
            for seq, table in (("models_id_seq", "models"), ("entries_id_seq", "entries")):
                conn.execute(text(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))"))
    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        # Outside a transaction: planner statistics written by an ANALYZE that is rolled back are lost (and
        # autovacuum then waits for another 10 % of changes). Until 2026-12-04 this ran inside the connection's
        # implicit transaction, so every earlier PostgreSQL figure was measured without statistics.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    db.dispose()
    return uid, time.perf_counter() - t0


def scenarios(rng: random.Random) -> list[tuple[str, str, callable]]:
    """(name, path, params factory). Params vary per request so no single cached plan/page dominates."""

    def pick(seq):
        return rng.choice(seq)

    return [
        ("list default (updated desc)", "/api/v1/entries", lambda: {"offset": pick([0, 0, 50, 500])}),
        ("filter status+type+tag", "/api/v1/entries",
         lambda: {"status": pick(["tried", "using", "studied"]), "model_type": pick(["LLM", "Vision", "Audio"]),
                  "tag": pick(["chat", "code", "reasoning", "topic-3", "small"])}),
        ("sort name asc", "/api/v1/entries", lambda: {"sort": "name", "order": "asc", "offset": pick([0, 100])}),
        ("sort parameters desc", "/api/v1/entries", lambda: {"sort": "parameters", "order": "desc"}),
        ("sort rating desc", "/api/v1/entries", lambda: {"sort": "rating", "order": "desc"}),
        ("sort updated asc", "/api/v1/entries", lambda: {"sort": "updated", "order": "asc"}),
        ("text filter ?q=", "/api/v1/entries", lambda: {"q": pick(["llama", "mistral instruct", "reasoning",
                                                                   "qwen 2", "latency gpu", "whisper"])}),
        ("facets=true", "/api/v1/entries", lambda: {"facets": "true"}),
        ("facets=true + status filter", "/api/v1/entries",
         lambda: {"facets": "true", "status": pick(["tried", "using"])}),
        ("full-text /search?q=", "/api/v1/search", lambda: {"q": pick(["llama", "mistral instruct", "reasoning",
                                                                      "qwen 2", "latency gpu", "whisper"])}),
        ("/search?q= developer/tag", "/api/v1/search", lambda: {"q": pick(["meta", "google", "nvidia", "chat",
                                                                          "open weights", "lora adapter"])}),
        ("/search?q= + status filter", "/api/v1/search",
         lambda: {"q": pick(["llama", "reasoning", "latency gpu"]), "status": pick(["tried", "using"])}),
        # A word in every document ("... family model by ..."): the worst case, reported on its own.
        ("?q= very common word", "/api/v1/entries", lambda: {"q": "model"}),
        ("/search?q= very common word", "/api/v1/search", lambda: {"q": "model"}),
    ]


def measure(base_url: str, requests: int, warmup: int, budget_s: float, timeout: float = 60.0,
            only: str | None = None) -> list[dict]:
    rng = random.Random(11)
    rows = []
    with httpx.Client(base_url=base_url, timeout=timeout) as http:
        for name, path, params in scenarios(rng):
            if only and only not in name:
                continue
            try:
                row = _measure_one(http, name, path, params, requests, warmup, budget_s)
            except httpx.TimeoutException:
                row = {"name": name, "skipped": f"a request took longer than {http.timeout.read:g}s"}
            print(f"  measured {name}", flush=True)
            rows.append(row)
    return rows


def _measure_one(http: httpx.Client, name: str, path: str, params, requests: int, warmup: int,
                 budget_s: float) -> dict:
    probe = http.get(path, params=params())
    if probe.status_code != 200:
        return {"name": name, "skipped": f"{path} answered {probe.status_code}: {probe.text[:120]}"}
    for _ in range(warmup if probe.elapsed.total_seconds() < 1 else 1):
        http.get(path, params=params())
    times = []
    total = probe.json().get("total")
    deadline = time.perf_counter() + budget_s
    for _ in range(requests):
        if time.perf_counter() > deadline:
            break  # a very slow request type: report what fits in the budget (n shows it)
        p = params()
        t = time.perf_counter()
        r = http.get(path, params=p)
        times.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{name}: {r.status_code} {r.text[:300]}")
    return {"name": name, "n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
            "p99": percentile(times, 99), "total": total}


def print_table(rows: list[dict], header: str) -> bool:
    print(f"\n{header}")
    print(f"{'request':32} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'total':>8}  p95<={TARGET_P95_MS:g}ms")
    ok = True
    for r in rows:
        if "skipped" in r:
            print(f"{r['name']:32} SKIPPED ({r['skipped']})")
            continue
        passed = r["p95"] <= TARGET_P95_MS
        ok &= passed
        total = "" if r["total"] is None else r["total"]
        spread = f"  (p95 {r['p95_min']:.1f}-{r['p95_max']:.1f})" if "p95_min" in r else ""
        print(f"{r['name']:32} {r['n']:>5} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} {total!s:>8}  "
              f"{'PASS' if passed else 'FAIL'}{spread}")
    return ok


def combine_rounds(rounds: list[list[dict]]) -> list[dict]:
    """Per request: the median of the rounds' p50/p95/p99, and the min/max of the per-round p95."""
    out = []
    for rows in zip(*rounds, strict=True):
        done = [r for r in rows if "skipped" not in r]
        if not done:
            out.append(rows[0])
            continue
        p95s = [r["p95"] for r in done]
        out.append({"name": rows[0]["name"], "n": sum(r["n"] for r in done), "total": done[0]["total"],
                    "p50": median(r["p50"] for r in done), "p95": median(p95s), "p99": median(r["p99"] for r in done),
                    "p95_min": min(p95s), "p95_max": max(p95s)})
    return out


@contextmanager
def kept_pg_database(pg_url: str, name: str):
    """CREATE DATABASE ``name`` on the server of ``pg_url`` unless it exists; yield its URL; keep it afterwards."""
    import psycopg

    with psycopg.connect(admin_url(pg_url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(pg_url)._replace(path=f"/{name}"))


def _pg_seeded(url: str) -> bool:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("entries") and bool(conn.execute(text("SELECT count(*) FROM entries"))
                                                               .scalar())
    finally:
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200, help="measured requests per scenario (>= 200 for p95)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds at most per request type")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before one request counts as timed out")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", help="PostgreSQL URL whose server gets a scratch database (dropped afterwards)")
    ap.add_argument("--data-dir", type=Path, help="reuse/keep this data dir (SQLite): seeded only when empty")
    ap.add_argument("--pg-keep", metavar="NAME",
                    help="PostgreSQL: use (and keep) database NAME on the --pg-url server, seeded only when empty")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the measurement N times; report the median p50/p95/p99 and the p95 min/max")
    ap.add_argument("--only", metavar="TEXT", help="measure only the requests whose name contains TEXT")
    ap.add_argument("--strict", action="store_true", help="exit 1 when any p95 misses the target")
    args = ap.parse_args()

    with ExitStack() as stack:
        data = work_dir(stack, args.data_dir, "mm-bench-")
        if args.backend == "postgres":
            if not args.pg_url:
                ap.error("--backend postgres needs --pg-url (e.g. $(scripts/pg.sh url))")
            if args.pg_keep:
                url = stack.enter_context(kept_pg_database(args.pg_url, args.pg_keep))
            else:
                url = stack.enter_context(scratch_pg_database(args.pg_url))
            server_url = url
        else:
            url = f"sqlite:///{data / 'modelmate.db'}"
            server_url = None
        if args.backend == "sqlite" and (data / "modelmate.db").exists():
            print(f"reusing seeded database in {data}")
        elif args.backend == "postgres" and args.pg_keep and _pg_seeded(url):
            print(f"reusing seeded PostgreSQL database {args.pg_keep}")
        else:
            print(f"seeding {args.entries:,} entries ({args.backend}) ...", flush=True)
            _, secs = seed(url, args.entries)
            print(f"seeded in {secs:.1f}s")
        server = stack.enter_context(ServerProcess(data / "server-data", database_url=server_url or url,
                                                   log_path=data / "server.log"))
        rounds = []
        for i in range(args.rounds):
            t = time.perf_counter()
            before = load_average()
            rows = measure(server.base_url, args.requests, args.warmup, args.budget, args.timeout, args.only)
            rounds.append(rows)
            ok = print_table(rows, f"round {i + 1}/{args.rounds}: {args.backend}, {args.entries:,} entries, "
                                   f"{args.requests} requests/scenario, sequential, one client "
                                   f"({time.perf_counter() - t:.0f}s; load average {before} -> {load_average()})")
        if args.rounds > 1:
            ok = print_table(combine_rounds(rounds), f"median of {args.rounds} rounds ({args.backend}, "
                                                     f"{args.entries:,} entries; load average now {load_average()})")
    if not ok:
        print("\nsome p95 latencies miss the target" + ("" if args.strict else " (not --strict: exit 0)"))
        return 1 if args.strict else 0
    print("\nall p95 latencies within target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
