"""RELIABILITY.md #36, full length: 50 concurrent writers for 60 s against the real server.

    .venv/bin/python benchmarks/sqlite_soak.py                    # SQLite, 50 clients, 60 s
    .venv/bin/python benchmarks/sqlite_soak.py --clients 80 --seconds 120
    .venv/bin/python benchmarks/sqlite_soak.py --pg-url $(scripts/pg.sh url)   # scratch PostgreSQL database

Each client creates entries, PATCHes status/rating/notes, adds journal notes and bulk-tags, keeping a ledger
of acknowledged (2xx) writes; afterwards every acknowledged write must be in the database. Prints ops/s,
p50/p95/p99 latency per operation and the error count; exits 1 on any error or lost write.
(tests/reliability/test_concurrent_writers.py runs the same workload for ~8 s.)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ServerProcess, percentile, run_writers, scratch_pg_database, verify_ledgers  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--pg-url", help="run against a scratch database on this PostgreSQL server instead")
    args = ap.parse_args()

    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="mm-soak-"))
        stack.callback(shutil.rmtree, tmp, True)
        if args.pg_url:
            url = stack.enter_context(scratch_pg_database(args.pg_url))
            server = stack.enter_context(ServerProcess(tmp / "data", database_url=url))
        else:
            url = f"sqlite:///{tmp / 'data' / 'modelmate.db'}"
            server = stack.enter_context(ServerProcess(tmp / "data"))
        print(f"{args.clients} writers for {args.seconds:g}s against {server.base_url} "
              f"({'postgresql' if args.pg_url else 'sqlite'}) ...", flush=True)
        t0 = time.perf_counter()
        ledgers = run_writers(server.base_url, clients=args.clients, duration=args.seconds)
        elapsed = time.perf_counter() - t0
        problems = verify_ledgers(url, ledgers)
        log = server.log_text()

    ops = sum(led.ops for led in ledgers)
    errors = [e for led in ledgers for e in led.errors + led.transport_errors]
    print(f"\n{ops} acknowledged writes in {elapsed:.1f}s = {ops / elapsed:.1f} ops/s")
    print(f"{'operation':10} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    kinds = sorted({k for led in ledgers for k in led.latencies})
    for kind in [*kinds, "all"]:
        lat = [x * 1000 for led in ledgers for k, v in led.latencies.items() if kind in (k, "all") for x in v]
        print(f"{kind:10} {len(lat):>6} {percentile(lat, 50):>8.1f} {percentile(lat, 95):>8.1f} "
              f"{percentile(lat, 99):>8.1f} {max(lat, default=0):>8.1f}")
    locked = sum("database is locked" in e for e in errors) + log.count("database is locked")
    print(f"\nerrors: {len(errors)} (database is locked: {locked}); lost or phantom writes: {len(problems)}")
    for line in (errors + problems)[:20]:
        print("  ", line)
    return 1 if errors or problems or locked else 0


if __name__ == "__main__":
    sys.exit(main())
