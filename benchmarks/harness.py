"""Shared by the benchmarks and tests/reliability: run the REAL server in a subprocess, drive it with
concurrent writers that keep a ledger of acknowledged writes, and check that ledger against the database.

Nothing here is mocked: the server is ``uvicorn modelmate.app:create_app --factory`` in its own process,
clients are httpx over loopback TCP, and verification reads the database directly.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

LOCKED = "database is locked"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One real uvicorn server process on a free loopback port."""

    def __init__(self, data_dir: Path, *, database_url: str | None = None, log_path: Path | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or (self.data_dir.parent / f"server-{self.port}.log")
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELMATE_")}
        env.update({"MODELMATE_DATA_DIR": str(self.data_dir), "MODELMATE_SEED_DEMO": "false",
                    "MODELMATE_ENVIRONMENT": "test", "PYTHONUNBUFFERED": "1", **self.extra_env})
        if self.database_url:
            env["MODELMATE_DATABASE_URL"] = self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "modelmate.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")
            try:
                if httpx.get(self.base_url + "/api/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become healthy in {timeout}s:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, printed with every benchmark's figures."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def work_dir(stack: ExitStack, keep: Path | None, prefix: str) -> Path:
    """``keep`` (created when missing, left in place), or a temporary directory removed when ``stack`` closes."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return keep
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    stack.callback(shutil.rmtree, tmp, True)
    return tmp


# --- PostgreSQL: a throwaway database of our own (the pytest fixture truncates the shared one) ----------------

def admin_url(url: str) -> str:
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    return urlunsplit(parts._replace(path="/postgres"))


@contextmanager
def scratch_pg_database(pg_url: str) -> Iterator[str]:
    """CREATE DATABASE mm_rel_<random> on the server of ``pg_url``; yield its SQLAlchemy URL; drop it after."""
    import psycopg

    name = f"mm_rel_{secrets.token_hex(4)}"
    admin = admin_url(pg_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(pg_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- concurrent writers with a ledger of acknowledged writes ----------------------------------------------------

@dataclass
class EntryState:
    status: str = "wishlist"
    rating: int | None = None
    notes: str = ""
    tags: set[str] = field(default_factory=set)
    journal_ids: set[int] = field(default_factory=set)


@dataclass
class Ledger:
    """What one client was told succeeded (2xx), plus what it had in flight when it stopped."""

    client: int
    entries: dict[int, EntryState] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    ops: int = 0
    # The one request that was sent but never answered (server killed): (kind, entry_id, payload).
    in_flight: tuple[str, int | None, dict] | None = None


STATUSES = ["wishlist", "tried", "studied", "using", "archived"]
NASTY = ["plain note", "<script>alert(1)</script>", "ünïcödé ✓ 🚀", "line1\nline2", "'; DROP TABLE entries; --"]


def _record(ledger: Ledger, kind: str, started: float) -> None:
    ledger.latencies.setdefault(kind, []).append(time.perf_counter() - started)
    ledger.ops += 1


def writer(base_url: str, ledger: Ledger, stop: threading.Event, *, seed: int, max_ops: int | None = None,
           timeout: float = 120.0, stop_on_transport_error: bool = False) -> None:
    """One client: create entries, PATCH status/rating/notes, add journal notes, bulk-tag its own entries."""
    rng = random.Random(seed)
    c = ledger.client
    n_created = 0
    with httpx.Client(base_url=base_url, timeout=timeout) as http:
        while not stop.is_set() and (max_ops is None or ledger.ops < max_ops):
            own = list(ledger.entries)
            roll = rng.random()
            if not own or roll < 0.25:
                kind, entry_id = "create", None
                payload = {"name": f"rel-c{c}-e{n_created}", "developer": f"client {c}",
                           "model_type": rng.choice(["LLM", "Vision", "Audio"]), "status": "wishlist",
                           "notes": rng.choice(NASTY), "tags": [f"c{c}-start"]}
                n_created += 1
                req = ("POST", "/api/v1/entries", payload)
            elif roll < 0.60:
                kind, entry_id = "patch", rng.choice(own)
                payload = rng.choice([{"status": rng.choice(STATUSES)}, {"rating": rng.randint(1, 5)},
                                      {"notes": f"{rng.choice(NASTY)} #{ledger.ops}"},
                                      {"status": rng.choice(STATUSES), "rating": rng.randint(1, 5)}])
                req = ("PATCH", f"/api/v1/entries/{entry_id}", payload)
            elif roll < 0.85:
                kind, entry_id = "journal", rng.choice(own)
                payload = {"body": f"journal c{c} op{ledger.ops} {rng.choice(NASTY)}"}
                req = ("POST", f"/api/v1/entries/{entry_id}/journal", payload)
            else:
                kind, entry_id = "bulk_tag", None
                ids = rng.sample(own, min(len(own), rng.randint(1, 5)))
                payload = {"ids": ids, "action": "add_tags", "tags": [f"c{c}-t{rng.randint(0, 9)}"]}
                req = ("POST", "/api/v1/entries/bulk", payload)
            ledger.in_flight = (kind, entry_id, payload)
            started = time.perf_counter()
            try:
                resp = http.request(req[0], req[1], json=req[2])
            except httpx.HTTPError as exc:
                ledger.transport_errors.append(f"{kind} after {time.perf_counter() - started:.1f}s: "
                                               f"{type(exc).__name__}: {exc}")
                if stop_on_transport_error:
                    return
                ledger.in_flight = None
                continue
            if resp.status_code >= 300 or LOCKED in resp.text:
                ledger.errors.append(f"{kind} {req[1]} -> {resp.status_code} after "
                                     f"{time.perf_counter() - started:.1f}s: {resp.text[:300]}")
                ledger.in_flight = None
                continue
            body = resp.json()
            if kind == "create":
                ledger.entries[body["id"]] = EntryState(status="wishlist", notes=payload["notes"],
                                                        tags={f"c{c}-start"})
            elif kind == "patch":
                st = ledger.entries[entry_id]
                for key in ("status", "rating", "notes"):
                    if key in payload:
                        setattr(st, key, payload[key])
            elif kind == "journal":
                ledger.entries[entry_id].journal_ids.add(body["id"])
            else:
                for i in payload["ids"]:
                    ledger.entries[i].tags.update(payload["tags"])
            ledger.in_flight = None
            _record(ledger, kind, started)


def run_writers(base_url: str, *, clients: int, duration: float | None = None, max_ops: int | None = None,
                kill_after: float | None = None, on_kill=None, seed: int = 1) -> list[Ledger]:
    """Run ``clients`` writer threads for ``duration`` seconds (or ``max_ops`` each).

    With ``kill_after``, ``on_kill()`` is called after that many seconds while the writers are still busy;
    writers then stop at their first transport error, keeping the request they had in flight.
    """
    ledgers = [Ledger(client=i) for i in range(clients)]
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(base_url, led, stop),
                                kwargs={"seed": seed * 1000 + led.client, "max_ops": max_ops,
                                        "stop_on_transport_error": kill_after is not None},
                                daemon=True) for led in ledgers]
    for t in threads:
        t.start()
    if kill_after is not None:
        time.sleep(kill_after)
        on_kill()
        stop.set()
    elif duration is not None:
        time.sleep(duration)
        stop.set()
    for t in threads:
        t.join(timeout=180)
    if any(t.is_alive() for t in threads):
        raise RuntimeError("writer threads did not finish")
    return ledgers


# --- verification -----------------------------------------------------------------------------------------------

def verify_ledgers(database_url: str, ledgers: list[Ledger], *, allow_in_flight: bool = False) -> list[str]:
    """Every acknowledged write must be in the database. Returns human-readable problems (empty: all good).

    ``allow_in_flight``: the request a client had in flight when the server died may or may not have
    committed; both outcomes are accepted for that one request, and nothing else.
    """
    from sqlalchemy import create_engine, text

    problems: list[str] = []
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            for led in ledgers:
                prefix = f"rel-c{led.client}-e%"
                rows = conn.execute(text(
                    "SELECT e.id, e.status, e.rating, e.notes FROM entries e JOIN models m ON m.id = e.model_id "
                    "WHERE m.name LIKE :p"), {"p": prefix}).all()
                db_entries = {r[0]: r for r in rows}
                flight = led.in_flight if allow_in_flight else None
                extra = set(db_entries) - set(led.entries)
                if extra and not (flight and flight[0] == "create" and len(extra) == 1):
                    problems.append(f"client {led.client}: unacknowledged entries in DB: {sorted(extra)}")
                for eid, st in led.entries.items():
                    row = db_entries.get(eid)
                    if row is None:
                        problems.append(f"client {led.client}: acknowledged entry {eid} is missing")
                        continue
                    expected = {"status": st.status, "rating": st.rating, "notes": st.notes}
                    got = {"status": row[1], "rating": row[2], "notes": row[3]}
                    if got != expected:
                        alt = dict(expected)
                        if flight and flight[0] == "patch" and flight[1] == eid:
                            alt.update({k: v for k, v in flight[2].items() if k in alt})
                        if got != alt:
                            problems.append(f"client {led.client}: entry {eid} is {got}, last acknowledged {expected}")
                    notes = {r[0] for r in conn.execute(text(
                        "SELECT id FROM journal_notes WHERE entry_id = :e"), {"e": eid})}
                    if not st.journal_ids <= notes:
                        problems.append(f"client {led.client}: entry {eid} lost journal notes "
                                        f"{sorted(st.journal_ids - notes)}")
                    surplus = notes - st.journal_ids
                    if surplus and not (flight and flight[0] == "journal" and flight[1] == eid
                                        and len(surplus) == 1):
                        problems.append(f"client {led.client}: entry {eid} has unacknowledged notes {sorted(surplus)}")
                    tags = {r[0] for r in conn.execute(text(
                        "SELECT t.name FROM entry_tags et JOIN tags t ON t.id = et.tag_id WHERE et.entry_id = :e"),
                        {"e": eid})}
                    if not st.tags <= tags:
                        problems.append(f"client {led.client}: entry {eid} lost tags {sorted(st.tags - tags)}")
    finally:
        engine.dispose()
    return problems


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)
