"""A fresh install's first start, as `make run` does it, timed until the hub demo is trained and evaluated.

Starts the real server (``uvicorn modelmate.app:create_app``) on a new data directory with the demo on and the local
benchmark mirror, then follows what a new user would see, printing a timeline:

1. the built-in SmolLM2-135M-Instruct installed from its GGUF wheel (base-model list: ready);
2. the hub demo's runs trained on it by the in-process worker (the museum gets its two failures);
3. the automatic evaluations of the base and of the published **Math tutor (demo)** on all seven domains;
4. the published model's chat demo asked "What is the capital of France?" (greedy) — it must answer Paris;
5. its scores on its model page and on the leaderboards, and the capability-change feed with its p-values.

    .venv/bin/python benchmarks/first_start.py [--timeout-min 90] [--keep]

It exits 1 when a check fails or the demo is not evaluated within the timeout. About 30-45 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import ServerProcess
from real_model import BENCHMARKS, load_average

API = "/api/v1"
TUTOR = "Math tutor (demo)"


def chat(base: str, model_id: int, question: str) -> str:
    body = {"messages": [{"role": "user", "content": question}], "temperature": 0, "max_new_tokens": 48}
    text = []
    with httpx.stream("POST", f"{base}{API}/models/{model_id}/generate", json=body, timeout=300,
                      headers={"Origin": base}) as response:
        response.raise_for_status()
        kind = ""
        for line in response.iter_lines():  # server-sent events: "event: token" then "data: {...}"
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                event = json.loads(line[5:])
                if kind == "token":
                    text.append(event.get("text", ""))
                elif kind == "error":
                    raise RuntimeError(f"generation failed: {event.get('message')}")
    return "".join(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timeout-min", type=float, default=90)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mm-first-start-"))
    env = {"MODELMATE_SEED_DEMO": "true", "MODELMATE_ENVIRONMENT": "development",
           "MODELMATE_BENCHMARK_DATA_DIR": str(BENCHMARKS), "MODELMATE_LOG_LEVEL": "info"}
    failures: list[str] = []
    started = time.monotonic()

    def at() -> str:
        return f"{(time.monotonic() - started) / 60:5.1f} min"

    print(f"fresh data dir {work}; {load_average()}", flush=True)
    server = ServerProcess(work / "data", extra_env=env, log_path=work / "server.log")
    try:
        server.start(timeout=120)
        base = server.base_url
        client = httpx.Client(base_url=base + API, timeout=30, headers={"Origin": base})
        print(f"{at()}  server up at {base} (the UI answers at once)", flush=True)
        seen: set[str] = set()
        deadline = started + args.timeout_min * 60
        tutor_model = None
        while time.monotonic() < deadline:
            bases = {b["key"]: b for b in client.get("/base-models").json()}
            smol = bases.get("smollm2-135m-instruct", {})
            if "installed" not in seen and smol.get("available") and smol.get("source"):
                seen.add("installed")
                print(f"{at()}  SmolLM2-135M-Instruct installed: {smol['source']}", flush=True)
            runs = {r["name"]: r for r in client.get("/runs", params={"limit": 50}).json()["items"]}
            for name, run in runs.items():
                key = f"run:{name}:{run['status']}"
                if run["status"] in ("succeeded", "failed") and key not in seen:
                    seen.add(key)
                    print(f"{at()}  run '{name}': {run['status']} ({run.get('failure_category') or 'healthy'}), "
                          f"final loss {run.get('final_loss')}, held-out {run.get('final_eval_loss')}", flush=True)
            tutor = runs.get(TUTOR)
            if tutor and tutor.get("output_model_id"):
                tutor_model = tutor["output_model_id"]
            evaluations = client.get("/evaluations", params={"limit": 50}).json()["items"]
            for ev in evaluations:
                key = f"eval:{ev['id']}:{ev['status']}"
                if ev["status"] != "running" and key not in seen:
                    seen.add(key)
                    print(f"{at()}  evaluation {ev['id']} of model {ev['model_id']}: {ev['status']}", flush=True)
            done = {ev["model_id"] for ev in evaluations if ev["status"] in ("final", "partial")}
            if tutor_model and tutor_model in done and bases.get("smollm2-135m-instruct", {}).get("id") in done:
                break
            time.sleep(10)
        else:
            failures.append(f"the demo was not trained and evaluated within {args.timeout_min} min")
        if tutor_model:
            answer = chat(base, tutor_model, "What is the capital of France?")
            print(f"{at()}  chat with '{TUTOR}': What is the capital of France? -> {answer!r}", flush=True)
            if "paris" not in answer.lower():
                failures.append(f"the demo model did not answer Paris: {answer!r}")
            info = client.get(f"/hub/models/by-id/{tutor_model}").json()["model"]
            print(f"{at()}  model page /m/{info['owner']}/{info['slug']}: base {(info.get('base') or {}).get('name')},"
                  f" {info['visibility']}, toy: {info['toy']}")
            if "SmolLM2" not in str((info.get("base") or {}).get("name")) or info["visibility"] != "public":
                failures.append(f"the published demo model is not a public SmolLM2 fine-tune: {info}")
            scores = client.get(f"/models/{tutor_model}/scores").json()
            for block in scores.get("domains") or []:
                print(f"        {block['domain']:<13} {block['score']}  ± {block['stderr']}  ({block['mode']})")
            if not [b for b in scores.get("domains") or [] if b.get("score") is not None]:
                failures.append("no scores on the demo model's page")
            for domain in ("overall", "reasoning"):
                board = client.get("/leaderboards", params={"domain": domain}).json()
                ranked = [row for row in board.get("rows", []) if row["model"]["id"] == tutor_model]
                print(f"{at()}  {domain} leaderboard: {len(board.get('rows', []))} rows; the tutor "
                      f"{'is' if ranked else 'is NOT'} on it (small-sample warning below "
                      f"{board.get('min_documents')} documents)")
                for row in board.get("rows", []):  # the paired rules: ties share a rank ("≈"), small N is flagged
                    print(f"        {'≈' if row.get('tied') else ' '}{row.get('rank')}  {row['model']['name']:<28} "
                          f"{row.get('score')} ± {row.get('stderr')}  n = {row.get('n_documents')}"
                          f"{'  SMALL SAMPLE' if row.get('small_sample') else ''}")
                if domain == "overall" and not ranked:
                    failures.append("the demo model is not on the overall leaderboard")
        changes = client.get("/capability-changes", params={"limit": 100}).json()
        flagged = [item for item in changes.get("items", []) if item.get("flagged")]
        print(f"{at()}  capability changes: {changes.get('total')} comparisons, {len(flagged)} flagged as "
              f"significant (Holm-adjusted p < 0.05 and at least 2 points)")
        tests: dict[str, int] = {}
        for item in changes.get("items", []):
            tests[str(item.get("test"))] = tests.get(str(item.get("test")), 0) + 1
        print(f"        tests used: {tests} (paired: mcnemar, permutation, randomization; z: unpaired fallback)")
        for item in flagged + [item for item in changes.get("items", []) if item.get("task") is None
                               and not item.get("flagged")]:
            print(f"        {item.get('sentence')} (raw p = {item.get('p_value')}, test {item.get('test')})")
        if tests.get("z"):  # every demo evaluation stores per-document outcomes: no comparison should be unpaired
            failures.append(f"{tests['z']} capability comparisons fell back to the unpaired z-test")
        museum = client.get("/museum").json()
        print(f"{at()}  museum: {museum.get('counts')}")
        if museum.get("counts") != {"no_learning": 1, "invalid_data": 1}:
            failures.append(f"museum counts {museum.get('counts')}")
    finally:
        server.stop()
        print(f"{at()}  {load_average()}; server log: {work / 'server.log'}")
        if not args.keep and not failures:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
