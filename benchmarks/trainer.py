"""Fine-tuning throughput: our trainer (packing into token budgets) vs the Hugging Face Trainer, three ways.

One toy Llama (hidden 256, 4 layers, byte-level BPE trained locally; random init) and one dataset of text records
with a long-tailed length distribution (16..max tokens, log-normal: most short, a few long), made of a set of
unique examples repeated and interleaved. Every method trains the SAME LoRA (r 8, q/v projections, AdamW,
cosine schedule) over the SAME examples once, in the same number of optimizer steps (the HF batch size is chosen
so its step count matches ours), after a few warm-up steps that are not timed:

- ``hf-padded``:     HF ``Trainer``, every example padded to the maximum length (``DataCollatorForSeq2Seq``,
                     ``padding="max_length"``)
- ``hf-dynamic``:    HF ``Trainer``, padded to the longest example of each batch (``padding="longest"``,
                     DataCollatorWithPadding-style)
- ``hf-flattening``: HF ``Trainer`` with ``DataCollatorWithFlattening`` (each batch one row, position ids)
- ``ours``:          ``modelmate.training.trainer.train`` (token-budget bins, rows of max length, position ids,
                     loss only where labels exist)

Throughput is real tokens per second: tokens that carry a loss (non-padding, labelled), identical for every
method, divided by the wall time of the training loop. Each method runs in its own subprocess, so its peak RSS
(``ru_maxrss``) is its own; methods run one after another in one invocation (``--rounds`` repeats the whole
comparison in rotated order and keeps each method's best, which damps noise from other processes).

    .venv/bin/python benchmarks/trainer.py --quick             # smoke run, ~1 minute
    .venv/bin/python benchmarks/trainer.py                     # 1,200 examples, max length 512, 2 threads
    .venv/bin/python benchmarks/trainer.py --rounds 2 --strict # exit 1 when a target is missed
    .venv/bin/python benchmarks/trainer.py --model smollm2     # the real SmolLM2-135M (30 layers, GQA, 49k vocab)

With ``--model smollm2`` the same comparison runs on SmolLM2-135M-Instruct (converted once from its GGUF wheel,
see ``benchmarks/real_model.py``): a real architecture whose 49k-token vocabulary makes the output head a large
share of the work, so where the loss is computed matters. Its defaults are smaller (192 examples, max length 384).

Targets: ours ≥ 2.0× hf-padded, ≥ 1.4× hf-dynamic, ≥ 0.95× hf-flattening.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("hf-padded", "hf-dynamic", "hf-flattening", "ours")
TARGETS = {"hf-padded": 2.0, "hf-dynamic": 1.4, "hf-flattening": 0.95}
WARMUP_STEPS = 3
WORDS = [
    "model", "data", "train", "loss", "token", "batch", "layer", "weight", "adapter", "rank", "learning", "rate",
    "schedule", "step", "epoch", "gradient", "memory", "sequence", "attention", "head", "vector", "matrix",
    "value", "python", "function", "return", "class", "import", "the", "a", "of", "to", "and", "in", "is", "for",
    "on", "with", "as", "by", "at", "from", "that", "this", "it", "be", "are", "was"
]


# ----------------------------------------------------------------------------------------------- setup (parent)

def make_records(unique: int, repeats: int, max_len: int, seed: int) -> list[dict]:
    """Texts whose token lengths follow a long tail; ``unique`` examples repeated ``repeats`` times, interleaved."""
    rng = random.Random(seed)
    base = []
    for _ in range(unique):
        words = int(min(max_len, max(12, rng.lognormvariate(math.log(70), 0.9))) * 0.8)
        base.append({"text": " ".join(rng.choice(WORDS) for _ in range(words))})
    return [base[i] for _ in range(repeats) for i in range(unique)]


def plan(args, model_dir: Path, records: list[dict]) -> dict:
    from modelmate.training.config import plan_steps, resolve_config
    from modelmate.training.data import encode_record
    from modelmate.training.packing import count_label_tokens
    from modelmate.training.tiny import load_base_model

    _, tokenizer = load_base_model(str(model_dir))
    encoded = [encode_record(r, tokenizer, args.max_len) for r in records]
    lengths = [len(ids) for ids, _ in encoded]
    config = resolve_config(None, {"batch_size": args.batch_size, "max_seq_length": args.max_len, "epochs": 1,
                                   "learning_rate": 2e-4, "r": 8, "alpha": 16, "dropout": 0.05, "eval_split": 0,
                                   "logging_steps": 10, "save_steps": 100_000, "warmup_ratio": 0.03,
                                   "packing": True, "seed": 42, "precision": "fp32"})
    steps = plan_steps(config, len(records), sum(lengths))
    return {"config": config.model_dump(mode="json"), "steps": steps, "hf_batch": math.ceil(len(records) / steps),
            "label_tokens": sum(count_label_tokens(labels) for _, labels in encoded),
            "tokens": sum(lengths), "examples": len(records), "min_len": min(lengths), "max_len": max(lengths),
            "mean_len": sum(lengths) / len(lengths), "median_len": sorted(lengths)[len(lengths) // 2]}


def run_method(method: str, spec_path: Path, threads: int) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, __file__, "--worker", method, "--spec", str(spec_path)],
                          capture_output=True, text=True, env=env, timeout=3600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{method} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------------------------- workers (child)

def _hf_worker(method: str, spec: dict) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        DataCollatorForSeq2Seq,
        DataCollatorWithFlattening,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from modelmate.training.data import encode_record, read_canonical
    from modelmate.training.tiny import load_base_model

    cfg = spec["config"]
    _, tokenizer = load_base_model(spec["model_dir"])
    data = [dict(zip(("input_ids", "labels"), encode_record(r, tokenizer, cfg["max_seq_length"]), strict=True))
            for r in read_canonical(Path(spec["dataset"]))]
    if method == "hf-padded":
        collator = DataCollatorForSeq2Seq(tokenizer, padding="max_length", max_length=cfg["max_seq_length"],
                                          label_pad_token_id=-100)
    elif method == "hf-dynamic":
        collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
    else:
        collator = DataCollatorWithFlattening()

    class Clock(TrainerCallback):
        began = ended = 0.0
        steps = 0

        def on_train_begin(self, args, state, control, **kwargs):
            Clock.began = time.perf_counter()

        def on_train_end(self, args, state, control, **kwargs):
            Clock.ended = time.perf_counter()
            Clock.steps = state.global_step

    # the weights in the dtype ours loads them in (a bf16 checkpoint would otherwise load as bf16 under fp32)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg["precision"], torch.float32)

    def trainer(max_steps: int) -> Trainer:
        model, _ = load_base_model(spec["model_dir"], dtype=dtype)  # use_cache=False: flattening needs it too
        torch.manual_seed(cfg["seed"])
        model = get_peft_model(model, LoraConfig(r=cfg["r"], lora_alpha=cfg["alpha"], lora_dropout=cfg["dropout"],
                                                 target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
        args = TrainingArguments(
            output_dir=spec["work"] + f"/{method}", per_device_train_batch_size=spec["hf_batch"],
            num_train_epochs=1, max_steps=max_steps, learning_rate=cfg["learning_rate"],
            lr_scheduler_type="cosine", warmup_steps=math.ceil(0.03 * spec["steps"]), max_grad_norm=1.0,
            logging_steps=10, save_strategy="no", eval_strategy="no", report_to=[], disable_tqdm=True,
            use_cpu=not torch.cuda.is_available(), dataloader_pin_memory=False, seed=cfg["seed"],
            remove_unused_columns=False, optim="adamw_torch", skip_memory_metrics=True,
            bf16=cfg["precision"] == "bf16", fp16=cfg["precision"] == "fp16")
        return Trainer(model=model, args=args, train_dataset=data, data_collator=collator, callbacks=[Clock()])

    trainer(WARMUP_STEPS).train()
    result = trainer(-1).train()
    return {"seconds": Clock.ended - Clock.began, "steps": Clock.steps, "final_loss": result.training_loss}


def _ours_worker(spec: dict) -> dict:
    from modelmate.training.config import TrainingConfig
    from modelmate.training.data import read_canonical
    from modelmate.training.trainer import TrainJob, train

    records = read_canonical(Path(spec["dataset"]))
    work = Path(spec["work"]) / "ours"
    clock: dict[str, float] = {}

    def on_event(event: dict) -> None:
        if event["type"] == "started":
            clock["began"] = time.perf_counter()
        elif event["type"] == "step":
            clock["ended"] = time.perf_counter()
            clock["steps"] = event["step"]

    def job(config: TrainingConfig, name: str) -> TrainJob:
        return TrainJob(config=config, base_model=spec["model_dir"], train_records=records, eval_records=[],
                        output_dir=work / name / "adapter", checkpoint_dir=work / name / "checkpoints",
                        target_modules=["q_proj", "v_proj"], model_card={"name": "benchmark", "toy": True})

    config = TrainingConfig.model_validate(spec["config"])
    warm = train(job(config.model_copy(update={"max_steps": WARMUP_STEPS}), "warmup"), on_event=lambda e: None,
                 resume=False)
    assert warm.outcome == "success", warm.message
    result = train(job(config, "timed"), on_event=on_event, resume=False)
    assert result.outcome == "success", result.message
    return {"seconds": clock["ended"] - clock["began"], "steps": clock["steps"], "final_loss": result.final_loss}


def worker(method: str, spec_path: Path) -> None:
    import torch

    spec = json.loads(spec_path.read_text())
    torch.set_num_threads(spec["threads"])
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    out = _ours_worker(spec) if method == "ours" else _hf_worker(method, spec)
    out.update(method=method, peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
               tokens_per_second=spec["label_tokens"] / out["seconds"],
               device="cuda" if torch.cuda.is_available() else "cpu", threads=torch.get_num_threads())
    if torch.cuda.is_available():
        out["peak_gpu_bytes"] = int(torch.cuda.max_memory_allocated())
    print(json.dumps(out), flush=True)


# ----------------------------------------------------------------------------------------------- report

def report(plan_info: dict, results: dict[str, dict]) -> list[str]:
    mib = 2**20
    print(f"\n{'method':<15}{'steps':>7}{'examples':>10}{'label tokens':>14}{'seconds':>10}{'tokens/s':>11}"
          f"{'vs padded':>11}{'peak RSS':>11}{'final loss':>12}")
    padded = results["hf-padded"]["tokens_per_second"]
    for method in METHODS:
        r = results[method]
        print(f"{method:<15}{r['steps']:>7}{plan_info['examples']:>10}{plan_info['label_tokens']:>14,}"
              f"{r['seconds']:>10.2f}{r['tokens_per_second']:>11,.0f}{r['tokens_per_second'] / padded:>10.2f}x"
              f"{r['peak_rss_bytes'] / mib:>8.0f} MiB{r['final_loss']:>12.4f}")
    print()
    misses = []
    ours = results["ours"]["tokens_per_second"]
    for method, target in TARGETS.items():
        ratio = ours / results[method]["tokens_per_second"]
        ok = ratio >= target
        print(f"ours / {method:<14} {ratio:5.2f}x   target >= {target:.2f}x   {'ok' if ok else 'MISSED'}")
        if not ok:
            misses.append(method)
    return misses


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (fewer, shorter examples)")
    ap.add_argument("--unique", type=int, default=400, help="unique examples")
    ap.add_argument("--repeats", type=int, default=3, help="times the unique examples are repeated (interleaved)")
    ap.add_argument("--max-len", type=int, default=512, help="maximum example length in tokens")
    ap.add_argument("--batch-size", type=int, default=8, help="our batch size (token budget = batch x max len)")
    ap.add_argument("--model", choices=("toy", "smollm2"), default="toy",
                    help="toy: a random-init toy Llama built here; smollm2: the real SmolLM2-135M-Instruct")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="repeat the comparison, keep each method's best")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.spec)
        return 0
    if args.quick:
        args.unique, args.repeats, args.max_len = 96, 2, 256
    elif args.model == "smollm2" and "--unique" not in sys.argv:
        args.unique, args.repeats, args.max_len = 96, 2, 384

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from modelmate.training.data import canonical_bytes
    from modelmate.training.tiny import build_tiny, default_corpus

    with tempfile.TemporaryDirectory(prefix="mm-bench-trainer-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        if args.model == "smollm2":
            from real_model import load_average, smollm2_dir

            model_dir = smollm2_dir()
            print(f"SmolLM2-135M-Instruct ({model_dir}); {load_average()}")
        else:
            model_dir = build_tiny(work / "tiny", hidden_size=args.hidden, num_layers=args.layers, num_heads=4,
                                   vocab_size=4096, context_length=max(512, args.max_len), seed=0,
                                   corpus=default_corpus(max_chars=600_000))
        records = make_records(args.unique, args.repeats, args.max_len, seed=1)
        (work / "data.jsonl").write_bytes(canonical_bytes(records))
        info = plan(args, model_dir, records)
        spec = {**info, "model_dir": str(model_dir), "dataset": str(work / "data.jsonl"), "work": str(work),
                "threads": args.threads}
        spec_path = work / "spec.json"
        spec_path.write_text(json.dumps(spec))
        what = "SmolLM2-135M" if args.model == "smollm2" else f"toy Llama hidden {args.hidden} x {args.layers} layers"
        print(f"{what}; {info['examples']} examples "
              f"({args.unique} unique x {args.repeats}); lengths {info['min_len']}..{info['max_len']} "
              f"(median {info['median_len']}, mean {info['mean_len']:.0f}); {info['tokens']:,} tokens, "
              f"{info['label_tokens']:,} labelled; {info['steps']} optimizer steps per method (ours: budget "
              f"{args.batch_size} x {args.max_len} tokens; HF: batch {info['hf_batch']}); {args.threads} threads; "
              f"setup {time.perf_counter() - started:.1f}s")
        methods = [m for m in args.methods.split(",") if m]
        best: dict[str, dict] = {}
        for round_no in range(args.rounds):
            order = methods[round_no % len(methods):] + methods[:round_no % len(methods)]
            for method in order:
                r = run_method(method, spec_path, args.threads)
                print(f"  round {round_no + 1}: {method:<14} {r['tokens_per_second']:>9,.0f} tokens/s "
                      f"({r['seconds']:.2f}s, {r['steps']} steps, {r['device']}, {r['threads']} threads)", flush=True)
                if method not in best or r["tokens_per_second"] > best[method]["tokens_per_second"]:
                    best[method] = r
        if set(METHODS) - set(best):
            return 0
        misses = report(info, best)
        if args.model == "smollm2":
            from real_model import load_average

            print(load_average())
    return 1 if misses and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
