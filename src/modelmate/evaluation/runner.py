"""Run benchmark suites with lm-evaluation-harness and flatten the results into one row per task and metric.

Each suite entry (a task, or a group such as ``mmlu``) is one ``lm_eval.simple_evaluate`` call on the same model,
so progress is reported per task and a crash in one task cannot erase the others. Rows of finished tasks are
``final`` only when the whole run finished; after any failure they stay ``partial`` (RELIABILITY.md #35). Code tasks
are ``skipped`` (never scored 0) when code execution is disabled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from modelmate.enums import EvalBackend, EvaluationStatus, ResultStatus

from . import backends, mirror, sandbox, suites
from .outcomes import doc_outcomes
from .suites import TaskSpec

log = logging.getLogger(__name__)

Mode = Literal["quick", "full"]
ProgressCallback = Callable[[dict[str, Any]], None]
DEFAULT_SEED = 1234
UNSAFE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


class UnsafeModelError(ValueError):
    """A model or adapter directory holds pickle-based weights, or no safetensors weights at all."""


@dataclass
class BenchmarkRow:
    task: str  # lm-eval task or group name
    domain: str
    metric: str
    filter: str
    value: float | None
    stderr: float | None
    n_samples: int | None  # documents scored
    n_shot: int | None
    limit: int | None  # quick mode: the per-task sample size; full mode: None
    harness_version: str
    task_hash: str | None
    chat_template_hash: str | None
    status: ResultStatus
    primary: bool = False  # the headline metric of this task
    scale: float = 1.0
    higher_is_better: bool = True
    group: str | None = None  # the suite entry this row belongs to, for subtasks of a group
    error: str | None = None
    backend: str = EvalBackend.HF.value  # the engine that scored it (hf | vllm); not part of the task hash

    @property
    def key(self) -> str:
        """lm-eval's results key, ``<metric>,<filter>`` (e.g. ``exact_match,strict-match``)."""
        return f"{self.metric},{self.filter}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchmarkRun:
    status: EvaluationStatus  # final, partial or failed: the run is over
    mode: Mode
    rows: list[BenchmarkRow]
    raw: dict[str, dict[str, Any]]  # suite entry -> lm-eval results JSON, as returned (per-sample logs removed)
    samples: dict[str, list[int]]  # quick mode: leaf task -> evaluated document indices
    data_source: str  # "mirror:<path>" or "huggingface"
    harness_version: str
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    # leaf task -> one entry per scored document (see .outcomes): what paired significance tests compare
    outcomes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    backend: str = EvalBackend.HF.value  # hf | vllm

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": [r.to_dict() for r in self.rows]}

    def raw_json(self) -> str:
        from lm_eval.utils import handle_non_serializable

        return json.dumps(self.raw, default=handle_non_serializable, sort_keys=True)


# --------------------------------------------------------------------------------------------------- the model


def check_safetensors_dir(path: Path, *, what: str = "model") -> None:
    path = Path(path)
    if not path.is_dir():
        raise UnsafeModelError(f"{what} directory {path} does not exist")
    unsafe = sorted(p.name for p in path.rglob("*") if p.suffix.lower() in UNSAFE_WEIGHT_SUFFIXES)
    if unsafe:
        raise UnsafeModelError(f"{what} directory {path} holds pickle-based files ({', '.join(unsafe[:5])}); "
                               "only safetensors weights are loaded")
    if not any(path.rglob("*.safetensors")):
        raise UnsafeModelError(f"{what} directory {path} has no .safetensors weights")


def load_model(model_dir: Path, adapter_dir: Path | None = None, *, backend: str = EvalBackend.HF,
               device: str = "cpu", batch_size: int = 8, max_length: int | None = None, dtype: str | None = None,
               seed: int = DEFAULT_SEED, gpu_memory_utilization: float = backends.DEFAULT_GPU_MEMORY_UTILIZATION):
    """An lm-eval model over a local model directory (+ a PEFT adapter): safetensors only, no remote code.

    ``backend`` ``hf`` (a resolved one, see :func:`.backends.resolve_backend`): a :class:`~.fastlm.FastLM` (lm-eval's
    ``HFLM`` with prefix-cached log-likelihoods and early-exit batched generation; ``batch_size`` applies where it
    falls back to HFLM's own code), the adapter merged into the weights, ``dtype`` default float32. ``vllm``:
    lm-eval's VLLM (:func:`.backends.load_vllm`; the adapter served as a LoRA, ``max_length`` its max_model_len,
    ``dtype`` default auto, ``device`` ignored: vLLM uses the visible CUDA GPU)."""
    check_safetensors_dir(model_dir)
    if adapter_dir is not None:
        check_safetensors_dir(adapter_dir, what="adapter")
    if EvalBackend(backend) == EvalBackend.VLLM:
        return backends.load_vllm(model_dir, adapter_dir, dtype=dtype or "auto", seed=seed,
                                  gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_length)
    if EvalBackend(backend) != EvalBackend.HF:
        raise ValueError(f"load_model needs a resolved backend (hf or vllm), not {backend!r}")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .fastlm import FastLM  # lazy: start-up (lm-eval, torch)

    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(model_dir, use_safetensors=True, trust_remote_code=False,
                                                 dtype=getattr(torch, dtype or "float32"))
    if adapter_dir is not None:
        from peft import PeftModel

        # W + BA folded into W: the same function, without the adapter's extra matmuls on every token
        model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=False).merge_and_unload()
    model.eval()
    model.to(device)  # type: ignore[arg-type]  # transformers types the wrapped .to() as taking only a model
    return FastLM(pretrained=model, tokenizer=tokenizer, device=device, batch_size=batch_size, max_length=max_length)


def backend_of(lm: Any) -> EvalBackend:
    """The engine of an lm-eval model: ``vllm`` for lm-eval's VLLM, else ``hf``."""
    module = type(lm).__module__ or ""
    return EvalBackend.VLLM if module.startswith("lm_eval.models.vllm") else EvalBackend.HF


def chat_template_hash(lm: Any, apply_chat_template: bool) -> str | None:
    """sha256 of the chat template the prompts went through; None when no template was applied."""
    if not apply_chat_template:
        return None
    template = getattr(getattr(lm, "tokenizer", None), "chat_template", None)
    if not template:
        return None
    text = template if isinstance(template, str) else json.dumps(template, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------------------- helpers


def default_mode(device: str) -> Mode:
    """Quick (a seeded sample per task) on CPU, full on an accelerator."""
    return "quick" if device == "cpu" else "full"


def harness_version() -> str:
    return version("lm_eval")


def quick_indices(task: str, n_docs: int, size: int, seed: int = DEFAULT_SEED) -> list[int]:
    """The fixed, seeded sample of a task's documents evaluated in quick mode (same seed → same documents)."""
    rng = random.Random(f"{seed}:{task}")
    return sorted(rng.sample(range(n_docs), min(size, n_docs)))


def _data_fingerprint(task_obj: Any) -> str:
    dataset: Any = getattr(task_obj, "dataset", None)  # lm-eval's datasets.DatasetDict (untyped)
    parts = []
    for split in sorted(getattr(dataset, "keys", dict)()):
        # Hub/cache-backed datasets have a deterministic fingerprint; in-memory ones (custom loaders) a random one
        part = getattr(dataset[split], "_fingerprint", None) if getattr(dataset[split], "cache_files", None) else None
        if part is None:
            part = hashlib.sha256(json.dumps(list(dataset[split]), sort_keys=True, default=str).encode()).hexdigest()
        parts.append(f"{split}:{part}")
    return ";".join(parts)


def task_hash(leaf: suites.Leaf, data: str, indices: list[int] | None, n_shot: int | None,
              max_gen_toks: int | None = None) -> str:
    """sha256 of the task's configs and helper code, its data, the evaluated documents and the shot count (and a
    generation budget lowered to fit the model, see :func:`fit_generation_budget`)."""
    digest = hashlib.sha256()
    for path in mirror.config_chain(suites.TASKS_DIR / leaf.config_file):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    settings: dict[str, Any] = {"data": data, "samples": indices, "n_shot": n_shot}
    if max_gen_toks is not None:
        settings["max_gen_toks"] = max_gen_toks
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


def fit_generation_budget(lm: Any, task_objs: Iterable[Any], gen_kwargs: dict[str, Any] | None) -> int | None:
    """The ``max_gen_toks`` to use instead of the tasks' own when a generation task asks for at least as many new
    tokens as the model's whole context holds (HumanEval's 1024 on a 512-token model): lm-eval refuses that outright.
    The budget becomes half the context, so the prompt keeps the other half. None: the tasks' own settings fit."""
    max_length = getattr(lm, "max_length", None)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        return None
    default = getattr(lm, "max_gen_toks", 256)
    asked = 0
    for task_obj in task_objs:
        if task_obj.get_config("output_type") != "generate_until":
            continue
        kwargs = {**(task_obj.get_config("generation_kwargs") or {}), **(gen_kwargs or {})}
        asked = max(asked, _int(kwargs.get("max_gen_toks", default)) or 0)
    return max_length // 2 if asked >= max_length else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN -> None


# -------------------------------------------------------------------------------------------------- rows


@dataclass
class _Context:
    harness: str
    chat_hash: str | None
    backend: str = EvalBackend.HF.value


def _skipped_or_failed_rows(spec: TaskSpec, ctx: _Context, status: ResultStatus, reason: str) -> list[BenchmarkRow]:
    names = [spec.name] if spec.group_score else []
    names += [leaf.task for leaf in spec.leaves] if spec.is_group else [spec.name]
    return [
        BenchmarkRow(task=name, domain=spec.domain, metric=m.name, filter=m.filter, value=None, stderr=None,
                     n_samples=None, n_shot=spec.n_shot, limit=None, harness_version=ctx.harness, task_hash=None,
                     chat_template_hash=ctx.chat_hash, status=status, primary=m.primary,
                     scale=m.scale, higher_is_better=m.higher_is_better,
                     group=spec.name if name != spec.name else None, error=reason, backend=ctx.backend)
        for name in names for m in spec.metrics
    ]


def _result_rows(spec: TaskSpec, results: dict[str, Any], ctx: _Context, hashes: dict[str, str],
                 limits: dict[str, int | None], status: ResultStatus) -> list[BenchmarkRow]:
    rows = []
    n_samples = {task: (counts or {}).get("effective") for task, counts in (results.get("n-samples") or {}).items()}
    n_shots = results.get("n-shot") or {}
    entries: list[tuple[str, dict[str, Any], bool]] = []
    if spec.is_group and spec.name in (results.get("groups") or {}):
        entries.append((spec.name, results["groups"][spec.name], True))
    for leaf in spec.leaves:
        entries.append((leaf.task, (results.get("results") or {}).get(leaf.task, {}), False))
    row_hash: str | None
    for name, metrics, is_group_row in entries:
        if is_group_row:
            leaves = [leaf.task for leaf in spec.leaves]
            n = sum(n_samples.get(t) or 0 for t in leaves)
            group_hash = hashlib.sha256("".join(hashes.get(t, "") for t in leaves).encode()).hexdigest()
            limit = limits.get(leaves[0])
            row_hash, n_shot = group_hash, spec.n_shot
        else:
            n, row_hash, limit = n_samples.get(name), hashes.get(name), limits.get(name)
            n_shot = n_shots.get(name, spec.n_shot)
        for m in spec.metrics:
            key = f"{m.name},{m.filter}"
            value = _float(metrics.get(key))
            rows.append(BenchmarkRow(
                task=name, domain=spec.domain, metric=m.name, filter=m.filter, value=value,
                stderr=_float(metrics.get(f"{m.name}_stderr,{m.filter}")), n_samples=n, n_shot=_int(n_shot),
                limit=limit, harness_version=ctx.harness, task_hash=row_hash, chat_template_hash=ctx.chat_hash,
                status=status if value is not None else ResultStatus.FAILED, primary=m.primary, scale=m.scale,
                higher_is_better=m.higher_is_better, group=spec.name if name != spec.name else None,
                error=None if value is not None else f"lm-eval reported no value for {key}", backend=ctx.backend,
            ))
    return rows


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -------------------------------------------------------------------------------------------------- the run


def _evaluate_unit(lm: Any, manager: Any, unit: Any, *, samples: dict[str, list[int]] | None,
                   bootstrap_iters: int, log_samples: bool, gen_kwargs: dict[str, Any] | None,
                   apply_chat_template: bool, confirm_run_unsafe_code: bool) -> dict[str, Any]:
    """``lm_eval.simple_evaluate`` (0.4.13) for one task or group on a ready model, step for step: the same seeds,
    the same task preparation (generation overrides, default 0 shots, few-shot seed), ``lm_eval.evaluator.evaluate``
    and the same ``config``/``git_hash``/``date`` entries. The environment description that simple_evaluate adds on
    every call (it runs ``torch.utils.collect_env``, about half a second of subprocesses) is added once per run by
    the caller. ``benchmarks/eval_overhead.py`` and the tests check that the metrics equal simple_evaluate's."""
    import numpy as np
    from lm_eval.defaults import DEFAULT_OTHER_SEED, DEFAULT_RANDOM_SEED
    from lm_eval.evaluator import evaluate
    from lm_eval.loggers.utils import get_git_commit_hash
    from lm_eval.utils import set_torch_seed

    started = time.time()
    random.seed(DEFAULT_RANDOM_SEED)
    np.random.seed(DEFAULT_OTHER_SEED)
    set_torch_seed(DEFAULT_OTHER_SEED)
    loaded = manager.load([unit])
    for task_obj in loaded["tasks"].values():
        if gen_kwargs and task_obj.get_config("output_type") == "generate_until":
            task_obj.set_config(key="generation_kwargs", value=gen_kwargs, update=True)
        if task_obj.get_config("num_fewshot") is None:
            task_obj.set_config(key="num_fewshot", value=0)
        task_obj.set_fewshot_seed(seed=DEFAULT_OTHER_SEED)
    results = evaluate(lm=lm, task_dict=loaded, samples=samples, bootstrap_iters=bootstrap_iters,
                       log_samples=log_samples, apply_chat_template=apply_chat_template,
                       fewshot_as_multiturn=True, confirm_run_unsafe_code=confirm_run_unsafe_code)
    if results is None:
        raise RuntimeError("lm-eval returned no results (not the main process)")
    results = dict(results)
    config: dict[str, Any] = {"model": getattr(getattr(lm, "config", None), "_name_or_path", type(lm).__name__),
                              "model_args": None}
    if hasattr(lm, "get_model_info"):
        config.update(lm.get_model_info())
    config.update({"batch_size": getattr(lm, "batch_size", None), "batch_sizes": [], "device": None,
                   "use_cache": None, "limit": None, "bootstrap_iters": bootstrap_iters, "gen_kwargs": gen_kwargs,
                   "random_seed": DEFAULT_RANDOM_SEED, "numpy_seed": DEFAULT_OTHER_SEED,
                   "torch_seed": DEFAULT_OTHER_SEED, "fewshot_seed": DEFAULT_OTHER_SEED})
    results["config"] = config
    results["git_hash"] = get_git_commit_hash()
    results["date"] = started
    return results


def _progress_reporter(emit: ProgressCallback, base_event: dict[str, Any], started: float):
    """``(done, total)`` documents of the running task -> a ``task_progress`` event with an ETA."""

    def report(done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        eta = round(elapsed / done * (total - done), 1) if done else None
        emit({"type": "task_progress", **base_event, "docs_done": done, "docs_total": total,
              "seconds": round(elapsed, 1), "eta_s": eta})

    return report


def _jsonable(value: Any) -> Any:
    """lm-eval's results as they are stored (the final result goes through the same conversion)."""
    from lm_eval.utils import handle_non_serializable

    return json.loads(json.dumps(value, default=handle_non_serializable, sort_keys=True))


def _environment(lm: Any) -> dict[str, Any]:
    """What simple_evaluate adds about the environment and the tokenizer (computed once per run)."""
    from lm_eval.loggers.utils import add_env_info, add_tokenizer_info

    info: dict[str, Any] = {}
    add_env_info(info)
    add_tokenizer_info(info, lm)
    return info


def run_benchmarks(
    model: Any,
    *,
    domains: list[str] | None = None,
    tasks: list[str] | None = None,
    mode: Mode = "quick",
    data_dir: Path | None = None,
    cache_dir: Path,
    code_execution_enabled: bool = True,
    quick_size: int | None = None,
    seed: int = DEFAULT_SEED,
    gen_kwargs: dict[str, Any] | None = None,
    apply_chat_template: bool = False,
    bootstrap_iters: int = 100_000,
    log_samples: bool = False,
    on_progress: ProgressCallback | None = None,
    resume: dict[str, dict[str, Any]] | None = None,
    on_task_done: Callable[[str, dict[str, Any]], None] | None = None,
) -> BenchmarkRun:
    """Evaluate ``model`` (an lm-eval ``LM``, e.g. from :func:`load_model`) on the selected suites.

    ``data_dir``: the local benchmark-data mirror (None: the Hugging Face datasets). ``cache_dir``: where converted
    mirror data and overlay configs live (e.g. ``<data_dir>/benchmark_cache``). ``quick_size`` overrides every
    task's quick-mode sample size. ``on_progress`` receives JSON-able events; ``task_finished`` events carry the
    task's rows with status ``partial`` — they become ``final`` only in the returned run, once every task finished.
    Every document's outcome is collected from lm-eval's logged samples into ``BenchmarkRun.outcomes`` (always);
    ``log_samples`` also keeps lm-eval's full logged samples in ``raw``.

    Checkpoints: ``on_task_done(name, record)`` receives each finished or failed task's record (rows, raw results,
    sampled documents, error; JSON-able) before its ``task_finished``/``task_failed`` event, and ``resume`` maps task
    names to such records from an earlier, interrupted run: those tasks are not run again (every task is seeded on
    its own, so the scores are those an uninterrupted run gets), and their events carry ``"resumed": true``.
    """
    from lm_eval.tasks import TaskManager

    started = time.monotonic()
    emit = on_progress or (lambda _event: None)
    specs = suites.select(domains, tasks)
    ctx = _Context(harness_version(), chat_template_hash(model, apply_chat_template), backend_of(model).value)
    runnable = [s for s in specs if code_execution_enabled or not s.requires_code_execution]
    source = mirror.prepare(runnable, data_dir, Path(cache_dir))
    manager = TaskManager(include_path=str(source.include_path), include_defaults=False)
    data_source = f"mirror:{source.mirror}" if source.mirror else "huggingface"
    emit({"type": "started", "tasks": [s.name for s in specs], "mode": mode, "data_source": data_source,
          "total": len(specs), "backend": ctx.backend})
    log.info("evaluating %d suite(s) on the %s backend (%s mode)", len(specs), ctx.backend, mode)

    rows: list[BenchmarkRow] = []
    raw: dict[str, dict[str, Any]] = {}
    all_samples: dict[str, list[int]] = {}
    outcomes: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    finished: list[str] = []
    env_info: dict[str, Any] | None = None
    for index, spec in enumerate(specs):
        base_event = {"task": spec.name, "domain": spec.domain, "index": index, "total": len(specs)}
        if spec not in runnable:
            reason = "code execution is disabled (setting code_execution_enabled)"
            rows += _skipped_or_failed_rows(spec, ctx, ResultStatus.SKIPPED, reason)
            emit({"type": "task_skipped", **base_event, "reason": reason})
            continue
        done = (resume or {}).get(spec.name)
        if done is not None:
            rows += [BenchmarkRow(**row) for row in done["rows"]]
            if done.get("raw") is not None:
                raw[spec.name] = done["raw"]
            all_samples.update(done.get("samples") or {})
            outcomes.update(done.get("outcomes") or {})
            if done.get("error"):
                errors[spec.name] = done["error"]
            if done.get("finished"):
                finished.append(spec.name)
                emit({"type": "task_finished", **base_event, "seconds": 0.0, "resumed": True, "rows": done["rows"]})
            else:
                emit({"type": "task_failed", **base_event, "resumed": True,
                      "error": {"type": "TaskFailed", "message": done.get("error") or "failed"}})
            continue
        emit({"type": "task_started", **base_event})
        t0 = time.monotonic()
        if hasattr(model, "progress"):  # documents done inside the task, with an ETA
            model.progress = _progress_reporter(emit, base_event, t0)
        try:
            loaded = manager.load([spec.name])
            unit = loaded["groups"][spec.name] if spec.is_group else loaded["tasks"][spec.name]
            samples, limits, hashes = {}, {}, {}
            budget = fit_generation_budget(model, (loaded["tasks"][leaf.task] for leaf in spec.leaves), gen_kwargs)
            unit_gen_kwargs = gen_kwargs if budget is None else {**(gen_kwargs or {}), "max_gen_toks": budget}
            if budget is not None:
                log.info("benchmark task %s: generation budget lowered to %d tokens to fit the model's %d-token "
                         "context", spec.name, budget, model.max_length)
            for leaf in spec.leaves:
                task_obj = loaded["tasks"][leaf.task]
                n_docs = len(task_obj.eval_docs)
                indices = None
                if mode == "quick":
                    indices = quick_indices(leaf.task, n_docs, quick_size or spec.quick_size, seed)
                    samples[leaf.task] = indices
                limits[leaf.task] = len(indices) if indices is not None else None
                data = source.data_hashes.get(leaf.task) or _data_fingerprint(task_obj)
                hashes[leaf.task] = task_hash(leaf, data, indices, spec.n_shot, budget)
            with sandbox.code_execution(code_execution_enabled):
                results = _evaluate_unit(
                    model, manager, unit, samples=samples or None, bootstrap_iters=bootstrap_iters,
                    log_samples=True, gen_kwargs=unit_gen_kwargs, apply_chat_template=apply_chat_template,
                    confirm_run_unsafe_code=spec.requires_code_execution and code_execution_enabled,
                )
            if env_info is None:
                env_info = _environment(model)
            results.update(env_info)
        except Exception as exc:  # one task's crash never erases the others
            message = f"{type(exc).__name__}: {exc}"
            errors[spec.name] = message
            failed_rows = _skipped_or_failed_rows(spec, ctx, ResultStatus.FAILED, message)
            rows += failed_rows
            log.warning("benchmark task %s failed: %s", spec.name, message)
            if on_task_done is not None:
                on_task_done(spec.name, {"rows": [r.to_dict() for r in failed_rows], "raw": None, "samples": {},
                                         "error": message, "finished": False})
            emit({"type": "task_failed", **base_event, "error": {
                "type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc(limit=20)}})
            continue
        finally:
            if hasattr(model, "progress"):
                model.progress = None
        raw[spec.name] = {k: v for k, v in dict(results).items() if k != "samples" or log_samples}
        all_samples.update(samples)
        task_outcomes = doc_outcomes(results.get("samples"), [(m.name, m.filter) for m in spec.metrics])
        outcomes.update(task_outcomes)
        task_rows = _result_rows(spec, results, ctx, hashes, limits, ResultStatus.PARTIAL)
        rows += task_rows
        finished.append(spec.name)
        missing = [r.error for r in task_rows if r.status == ResultStatus.FAILED]
        if missing:  # a metric lm-eval did not produce: the task is not complete
            errors[spec.name] = "; ".join(str(m) for m in missing)
        if on_task_done is not None:
            on_task_done(spec.name, {"rows": [r.to_dict() for r in task_rows], "raw": _jsonable(raw[spec.name]),
                                     "samples": samples, "outcomes": task_outcomes, "error": errors.get(spec.name),
                                     "finished": True})
        emit({"type": "task_finished", **base_event, "seconds": round(time.monotonic() - t0, 3),
              "rows": [r.to_dict() for r in task_rows]})

    status = EvaluationStatus.FINAL if not errors else (EvaluationStatus.PARTIAL if finished
                                                        else EvaluationStatus.FAILED)
    if status == EvaluationStatus.FINAL:
        for row in rows:
            if row.status == ResultStatus.PARTIAL:
                row.status = ResultStatus.FINAL
    emit({"type": "finished", "status": status, "errors": errors})
    return BenchmarkRun(status=status, mode=mode, rows=rows, raw=raw, samples=all_samples, data_source=data_source,
                        harness_version=ctx.harness, errors=errors, seconds=round(time.monotonic() - started, 3),
                        outcomes=outcomes, backend=ctx.backend)


# ------------------------------------------------------------------------------------------ a quick check (GPU)


def quick_evaluate(model_dir: Path, adapter_dir: Path | None = None, *, backend: str = EvalBackend.AUTO,
                   tasks: list[str], limit: int = 20, data_dir: Path | None = None, cache_dir: Path | None = None,
                   device: str | None = None, max_length: int | None = None) -> dict[str, Any]:
    """Evaluate a local model (+ adapter) on ``tasks`` (suite names, e.g. ``["arc_easy", "gsm8k"]``), ``limit``
    seeded documents each, with ``backend`` (auto | hf | vllm, resolved here: an impossible ``vllm`` raises
    :class:`~.backends.BackendUnavailable` before anything loads). For benchmark scripts (benchmarks/gpu_check.py)::

        {"backend": "vllm", "status": "final", "scores": {task: {"metric,filter": value}}, "errors": {...},
         "documents": {task: n}, "load_seconds": 12.3, "eval_seconds": 4.5, "seconds": 16.8}

    ``device`` (hf only): default cuda when visible, else cpu. ``cache_dir``: default a folder in the temp dir.
    """
    import tempfile

    resolved = backends.resolve_backend(backend)
    device = device or ("cuda" if backends.cuda_available() else "cpu")
    started = time.monotonic()
    lm = load_model(Path(model_dir), Path(adapter_dir) if adapter_dir else None, backend=resolved, device=device,
                    max_length=max_length)
    loaded = time.monotonic()
    run = run_benchmarks(lm, tasks=list(tasks), mode="quick", quick_size=limit, data_dir=data_dir,
                         cache_dir=Path(cache_dir or Path(tempfile.gettempdir()) / "modelmate-quick-eval"),
                         bootstrap_iters=0)
    done = time.monotonic()
    scores: dict[str, dict[str, float | None]] = {}
    documents: dict[str, int | None] = {}
    for row in run.rows:
        scores.setdefault(row.task, {})[row.key] = row.value
        documents[row.task] = row.n_samples
    return {"backend": resolved.value, "status": str(run.status), "scores": scores, "errors": run.errors,
            "documents": documents, "load_seconds": round(loaded - started, 3),
            "eval_seconds": round(done - loaded, 3), "seconds": round(done - started, 3)}
