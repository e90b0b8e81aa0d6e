"""RELIABILITY.md #41: how long do other users' writes wait while one user imports a large file?

    .venv/bin/python benchmarks/import_lock.py                      # 100k rows, CSV and JSON, SQLite, 1 round
    .venv/bin/python benchmarks/import_lock.py --rows 20000 --rounds 3
    .venv/bin/python benchmarks/import_lock.py --formats csv --cases rejected
    .venv/bin/python benchmarks/import_lock.py --pg-url $(scripts/pg.sh url)   # scratch PostgreSQL database

The real server (uvicorn in its own process). User A imports a large file (``POST /api/v1/import?dry_run=false``)
while user B, in another thread, creates small entries one after another (``POST /api/v1/entries``, 20 ms apart).
For a **rejected** file (one bad row at the very end: it must be refused without taking the write lock) and an
**accepted** one (written in short transactions), it prints the import's duration and the latency of B's writes
made during it (max and p95), next to B's latency with no import running. Target: B's max ≤ 300 ms on an idle
machine. The load average is printed: on a loaded machine every figure grows. Exit 1 with ``--strict`` when a
round misses the target or any write failed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ServerProcess, percentile, scratch_pg_database  # noqa: E402

TARGET_MS = 300.0
GAP_S = 0.02


def make_file(fmt: str, rows: int, prefix: str, *, bad_last: bool) -> bytes:
    """``rows`` entries with tags and notes; ``bad_last``: the last row has rating 9 (refused)."""
    def rating(i: int) -> int:
        return 9 if bad_last and i == rows else (i % 5) + 1
    if fmt == "csv":
        lines = ["name,developer,model_type,status,rating,tags,notes"]
        lines += [f"{prefix} {i},Lab {i % 97},LLM,tried,{rating(i)},bulk; t{i % 7},note {i}"
                  for i in range(1, rows + 1)]
        return ("\n".join(lines) + "\n").encode()
    entries = [{"name": f"{prefix} {i}", "developer": f"Lab {i % 97}", "model_type": "LLM", "status": "tried",
                "rating": rating(i), "tags": ["bulk", f"t{i % 7}"], "notes": f"note {i}"}
               for i in range(1, rows + 1)]
    return json.dumps({"format": "modelmate-export", "version": 1, "entries": entries}).encode()


def signup(base: str, username: str, setup_token: str | None) -> str:
    """A new account; returns a read+write API token for it."""
    with httpx.Client(base_url=base, timeout=60) as c:
        body = {"username": username, "email": f"{username}@example.com", "password": secrets.token_urlsafe(18)}
        if setup_token:
            body["setup_token"] = setup_token
        r = c.post("/api/v1/auth/signup", json=body)
        r.raise_for_status()
        r = c.post("/api/v1/auth/tokens", json={"name": "bench", "scopes": ["read", "write"]},
                   headers={"X-CSRF-Token": c.cookies["mm_csrf"]})
        r.raise_for_status()
        return r.json()["token"]


@dataclass
class Result:
    case: str
    fmt: str
    status: int = 0
    import_s: float = 0.0
    waits_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def writes(base: str, token: str, tag: str, until: threading.Event | None, count: int, out: Result) -> None:
    """B's small writes, one after another, until ``until`` is set (or ``count`` of them)."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c:
        i = 0
        while (until is not None and not until.is_set()) or (until is None and i < count):
            t0 = time.perf_counter()
            r = c.post("/api/v1/entries", json={"name": f"{tag} {i}", "status": "tried"})
            out.waits_ms.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 201:
                out.errors.append(f"{r.status_code}: {r.text[:200]}")
            i += 1
            time.sleep(GAP_S)


def run_case(base: str, a_token: str, b_token: str, fmt: str, case: str, rows: int, prefix: str) -> Result:
    data = make_file(fmt, rows, prefix, bad_last=case == "rejected")
    res = Result(case=case, fmt=fmt)
    done = threading.Event()

    def do_import() -> None:
        t0 = time.perf_counter()
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {a_token}"}, timeout=1800) as c:
                r = c.post("/api/v1/import", params={"dry_run": "false", "format": fmt},
                           files={"file": (f"big.{fmt}", data, "application/octet-stream")})
            res.status = r.status_code
        finally:
            res.import_s = time.perf_counter() - t0
            done.set()

    writer = threading.Thread(target=writes, args=(base, b_token, f"b {prefix}", done, 0, res))
    importer = threading.Thread(target=do_import)
    importer.start()
    writer.start()
    importer.join()
    writer.join()
    expected = 422 if case == "rejected" else 200
    if res.status != expected:
        res.errors.append(f"import answered {res.status}, expected {expected}")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--formats", default="csv,json")
    ap.add_argument("--cases", default="rejected,accepted")
    ap.add_argument("--pg-url", help="run against a scratch database on this PostgreSQL server instead")
    ap.add_argument("--strict", action="store_true", help=f"exit 1 when a max wait is over {TARGET_MS:g} ms")
    args = ap.parse_args()
    formats, cases = args.formats.split(","), args.cases.split(",")

    print(f"CPU cores: {os.cpu_count()}, load average {'/'.join(f'{x:.1f}' for x in os.getloadavg())} "
          "(a loaded machine inflates every figure)", flush=True)
    results: list[tuple[int, Result]] = []
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="mm-import-lock-"))
        stack.callback(shutil.rmtree, tmp, True)
        setup = secrets.token_urlsafe(24)
        env = {"MODELMATE_SETUP_TOKEN": setup, "MODELMATE_MAX_IMPORT_ROWS": str(max(args.rows, 100_000)),
               "MODELMATE_MAX_IMPORT_BYTES": str(512 * 1024 * 1024)}
        if args.pg_url:
            url = stack.enter_context(scratch_pg_database(args.pg_url))
            server = stack.enter_context(ServerProcess(tmp / "data", database_url=url, extra_env=env))
        else:
            server = stack.enter_context(ServerProcess(tmp / "data", extra_env=env))
        base = server.base_url
        a_token, b_token = signup(base, "importer", setup), signup(base, "writer", None)
        idle = Result(case="idle", fmt="-")
        writes(base, b_token, "warmup", None, 20, Result(case="warmup", fmt="-"))
        writes(base, b_token, "idle", None, 100, idle)
        print(f"{'postgresql' if args.pg_url else 'sqlite'}, {args.rows} rows per file, {args.rounds} round(s); "
              f"B alone: p95 {percentile(idle.waits_ms, 95):.0f} ms, max {max(idle.waits_ms):.0f} ms", flush=True)
        print(f"{'round':>5} {'format':6} {'case':9} {'status':>6} {'import s':>9} {'B writes':>8} "
              f"{'p95 ms':>8} {'max ms':>8}  load", flush=True)
        for rnd in range(1, args.rounds + 1):
            for fmt in formats:
                for case in cases:
                    res = run_case(base, a_token, b_token, fmt, case, args.rows, f"r{rnd} {fmt} {case}")
                    results.append((rnd, res))
                    print(f"{rnd:>5} {fmt:6} {case:9} {res.status:>6} {res.import_s:>9.1f} {len(res.waits_ms):>8} "
                          f"{percentile(res.waits_ms, 95):>8.0f} {max(res.waits_ms, default=0):>8.0f}  "
                          f"{os.getloadavg()[0]:.1f}", flush=True)
                    for err in res.errors[:5]:
                        print(f"      error: {err}")
        locked = server.log_text().count("database is locked")
    print(f"'database is locked' in the server log: {locked}")
    worst = max((max(r.waits_ms, default=0) for _, r in results), default=0)
    failed = any(r.errors for _, r in results) or locked
    print(f"worst wait of B's writes during an import: {worst:.0f} ms (target {TARGET_MS:g} ms)")
    if args.strict and (worst > TARGET_MS or failed):
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
