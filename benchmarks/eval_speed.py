"""A quick evaluation of a real model on all seven domains: wall time, and agreement with plain lm-eval.

Runs ModelMate's benchmark runner (``load_model`` → FastLM: prefix-cached log-likelihoods, early-exit batched greedy
generation, adapters merged) on SmolLM2-135M-Instruct over every suite in quick mode (target: ≤ 20 minutes on a
2-core CPU), then plain ``lm_eval.simple_evaluate`` with lm-eval's own ``HFLM`` (``--plain-batch-size``, default 1) on
the same model object and the same documents (the runner's seeded sample, passed as ``samples``), and prints both
wall times, the speed-up and, per task and metric, the two values. Accuracies, exact match, pass@1 and chrF/BLEU
(computed from the generated texts) must be identical; TruthfulQA MC2 (a probability mass) equal to 1e-6. The
generated texts are compared one by one as well.

    .venv/bin/python benchmarks/eval_speed.py                       # ours + plain, all domains (~45 min here)
    .venv/bin/python benchmarks/eval_speed.py --no-plain            # only our wall time (~10 min)
    .venv/bin/python benchmarks/eval_speed.py --domains reading,truthfulness --quick-size 10
    .venv/bin/python benchmarks/eval_speed.py --mode full --tasks arc_easy,piqa --no-plain   # whole test sets

Run it on a quiet machine: the load average is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

from real_model import BENCHMARKS, load_average, smollm2_dir

CONTINUOUS = {("truthfulqa_mc2", "acc")}


def _values(results: dict) -> dict[tuple[str, str], float]:
    out = {}
    for section in ("results", "groups"):
        for task, metrics in (results.get(section) or {}).items():
            for key, value in metrics.items():
                if "," in key and "_stderr" not in key and isinstance(value, int | float):
                    metric, filt = key.split(",", 1)
                    out[(task, f"{metric},{filt}")] = float(value)
    return out


def _texts(results: dict) -> dict[tuple[str, int], str]:
    out = {}
    for task, samples in (results.get("samples") or {}).items():
        for sample in samples:
            resp = sample["resps"][0][0] if sample["resps"] and sample["resps"][0] else None
            if isinstance(resp, str):
                out[(task, sample["doc_id"])] = resp
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="a model directory (default: SmolLM2-135M-Instruct)")
    ap.add_argument("--domains", default="", help="comma-separated domains (default: all seven)")
    ap.add_argument("--tasks", default="", help="comma-separated task names instead of domains")
    ap.add_argument("--mode", choices=("quick", "full"), default="quick")
    ap.add_argument("--quick-size", type=int, default=None, help="documents per task (default: each suite's own)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-plain", action="store_true", help="skip the plain lm-eval comparison")
    ap.add_argument("--plain-batch-size", type=int, default=1)
    ap.add_argument("--data-dir", type=Path, default=BENCHMARKS)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from modelmate.evaluation import suites
    from modelmate.evaluation.mirror import prepare
    from modelmate.evaluation.runner import load_model, run_benchmarks

    model_dir = args.model or smollm2_dir()
    domains = [d for d in args.domains.split(",") if d] or None
    tasks = [t for t in args.tasks.split(",") if t] or None
    cache = Path(tempfile.mkdtemp(prefix="mm-eval-speed-"))
    try:
        print(f"model {model_dir}; {args.threads} threads; {load_average()}", flush=True)
        started = time.perf_counter()
        lm = load_model(model_dir)
        loaded = time.perf_counter() - started
        task_times: dict[str, float] = {}

        def progress(event: dict) -> None:
            if event["type"] == "task_finished":
                task_times[event["task"]] = event["seconds"]
                print(f"  {event['task']:<16} {event['seconds']:>7.1f}s  ({event['index'] + 1} of {event['total']})",
                      flush=True)

        run = run_benchmarks(lm, domains=domains, tasks=tasks, mode=args.mode, data_dir=args.data_dir,
                             cache_dir=cache, quick_size=args.quick_size, log_samples=True, on_progress=progress)
        ours_s = time.perf_counter() - started
        print(f"ours: {run.status}, {ours_s / 60:.1f} min wall (model load {loaded:.1f}s); {load_average()}",
              flush=True)
        if run.errors:
            print(f"errors: {json.dumps(run.errors)[:2000]}")
        ours_values: dict = {}
        ours_texts: dict = {}
        for raw in run.raw.values():
            ours_values.update(_values(raw))
            ours_texts.update(_texts(raw))
        if args.no_plain:
            print(f"\n{'task':<34}{'metric':<28}{'value':>8}{'stderr':>9}{'n':>6}")
            for row in sorted(run.rows, key=lambda r: (r.task, r.metric, r.filter)):
                err = f"{row.stderr:9.4f}" if row.stderr is not None else f"{'-':>9}"
                value = f"{row.value:8.4f}" if row.value is not None else f"{'-':>8}"
                print(f"{row.task:<34}{row.metric + ',' + row.filter:<28}{value}{err}{row.n_samples or '-':>6}")
            return 0 if run.status == "final" else 1

        selected = suites.select(domains, tasks)
        names = [leaf.task for spec in selected for leaf in spec.leaves]
        manager = TaskManager(include_path=str(prepare(selected, args.data_dir, cache).include_path),
                              include_defaults=False)
        plain_lm = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, device="cpu", batch_size=args.plain_batch_size)
        gen_kwargs = None
        t0 = time.perf_counter()
        plain = simple_evaluate(model=plain_lm, tasks=names, task_manager=manager, samples=run.samples or None,
                                log_samples=True, confirm_run_unsafe_code=True, gen_kwargs=gen_kwargs)
        plain_s = time.perf_counter() - t0 + loaded
        plain_values, plain_texts = _values(plain), _texts(plain)
        # HumanEval on a model with a short context gets a lowered budget in our runner only; SmolLM2's fits
        print(f"\n{'task':<34}{'metric':<28}{'ours':>10}{'plain':>10}  same")
        differ = 0
        for key in sorted(set(ours_values) & set(plain_values)):
            a, b = ours_values[key], plain_values[key]
            same = math.isclose(a, b, abs_tol=1e-6) if (key[0], key[1].split(",")[0]) in CONTINUOUS else a == b
            differ += not same
            print(f"{key[0]:<34}{key[1]:<28}{a:>10.4f}{b:>10.4f}  {'yes' if same else 'NO'}")
        texts_same = sum(ours_texts.get(k) == v for k, v in plain_texts.items())
        print(f"\nmetrics compared: {len(set(ours_values) & set(plain_values))}, differing: {differ}")
        print(f"generated texts identical: {texts_same} of {len(plain_texts)}")
        print(f"wall time: ours {ours_s / 60:.1f} min, plain lm-eval (HFLM batch {args.plain_batch_size}) "
              f"{plain_s / 60:.1f} min, speed-up {plain_s / ours_s:.2f}x; {load_average()}")
        return 0 if differ == 0 and texts_same == len(plain_texts) else 1
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
