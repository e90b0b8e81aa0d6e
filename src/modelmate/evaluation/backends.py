"""The engine an evaluation runs on (setting ``MODELMATE_EVAL_BACKEND``, :class:`~modelmate.enums.EvalBackend`).

* ``hf``: lm-eval's Hugging Face model (our :class:`~.fastlm.FastLM`), on any device; the adapter is merged into the
  weights.
* ``vllm``: lm-eval's vLLM model (``lm_eval.models.vllm_causallms.VLLM``), on a CUDA GPU with the ``vllm`` package;
  the adapter is served as a LoRA (``lora_local_path``), not merged.
* ``auto``: ``vllm`` where both the package and a CUDA GPU are present, else ``hf``.

Asking for ``vllm`` where it cannot run is refused before any work (:class:`BackendUnavailable`, whose message names
``MODELMATE_EVAL_BACKEND=hf`` as the fix). Both engines score the same documents with the same prompts, shots and
generation budget: the task hash does not depend on the engine (see docs/benchmarking.md, "Engines").

:func:`vllm_model_args` is what we pass to lm-eval's VLLM, a pure function (testable without vLLM).
"""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from modelmate.enums import EvalBackend

# vLLM accepts only these LoRA ranks for max_lora_rank (vllm.config.lora MaxLoRARanks); an adapter's r must fit.
VLLM_LORA_RANKS: tuple[int, ...] = (1, 8, 16, 32, 64, 128, 256, 320, 512)
DEFAULT_GPU_MEMORY_UTILIZATION = 0.8
FIX = "set MODELMATE_EVAL_BACKEND=hf (or auto) to evaluate with the Hugging Face engine"


class BackendUnavailable(ValueError):
    """The evaluation engine that was asked for cannot run here (or cannot run this model)."""


def vllm_installed() -> bool:
    return find_spec("vllm") is not None


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def vllm_unavailable_reason(*, installed: bool | None = None, cuda: bool | None = None) -> str | None:
    """Why vLLM cannot run on this machine, or None when it can (``installed``/``cuda`` override the probes)."""
    installed = vllm_installed() if installed is None else installed
    cuda = cuda_available() if cuda is None else cuda
    missing = [what for what, ok in (("the vllm package is not installed", installed),
                                     ("no CUDA GPU is visible", cuda)) if not ok]
    return " and ".join(missing) if missing else None



def recorded_engine(value: Any) -> str | None:
    """A stored engine name (hf or vllm) from a result row or an evaluation's settings; None for anything else
    (rows from before engines were recorded, or a value that is not an engine)."""
    return value if isinstance(value, str) and value in (EvalBackend.HF, EvalBackend.VLLM) else None


def resolve_backend(requested: str | EvalBackend | None, *, installed: bool | None = None,
                    cuda: bool | None = None) -> EvalBackend:
    """The engine an evaluation runs on here: ``hf`` or ``vllm``. ``auto`` (or None) falls back to ``hf`` where vLLM
    cannot run; an explicit ``vllm`` that cannot run raises :class:`BackendUnavailable` with the fix."""
    try:
        wanted = EvalBackend(requested or EvalBackend.AUTO)
    except ValueError:
        raise BackendUnavailable(f"unknown evaluation backend {requested!r}; use one of "
                                 f"{', '.join(b.value for b in EvalBackend)} (MODELMATE_EVAL_BACKEND)") from None
    if wanted == EvalBackend.HF:
        return EvalBackend.HF
    reason = vllm_unavailable_reason(installed=installed, cuda=cuda)
    if reason is None:
        return EvalBackend.VLLM
    if wanted == EvalBackend.AUTO:
        return EvalBackend.HF
    raise BackendUnavailable(f"MODELMATE_EVAL_BACKEND=vllm, but vLLM cannot run on this machine: {reason}; {FIX}")


def describe(requested: str | EvalBackend | None, resolved: EvalBackend) -> str:
    """One line for the evaluation's log: ``evaluation backend: hf (MODELMATE_EVAL_BACKEND=auto; vllm: ...)``."""
    wanted = str(EvalBackend(requested or EvalBackend.AUTO))
    note = ""
    if wanted == EvalBackend.AUTO and resolved == EvalBackend.HF:
        note = f"; vllm not used: {vllm_unavailable_reason()}"
    return f"evaluation backend: {resolved} (MODELMATE_EVAL_BACKEND={wanted}{note})"


# --- vLLM -----------------------------------------------------------------------------------------------------------

def adapter_rank(adapter_dir: Path) -> int:
    """The LoRA rank ``r`` of a PEFT adapter directory (its ``adapter_config.json``)."""
    path = Path(adapter_dir) / "adapter_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"the adapter at {adapter_dir} has no readable adapter_config.json ({exc})") from None
    if config.get("use_dora"):
        raise BackendUnavailable(f"the adapter at {adapter_dir} is a DoRA adapter, which vLLM does not serve; {FIX}")
    ranks = [config.get("r")] + list((config.get("rank_pattern") or {}).values())
    ranks = [r for r in ranks if isinstance(r, int) and not isinstance(r, bool)]
    if not ranks or min(ranks) < 1:
        raise BackendUnavailable(f"the adapter at {adapter_dir} has no LoRA rank r in adapter_config.json")
    return max(ranks)


def max_lora_rank(rank: int) -> int:
    """The smallest rank vLLM accepts as ``max_lora_rank`` that holds an adapter of rank ``rank``."""
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise BackendUnavailable(f"the adapter's LoRA rank {rank} is above vLLM's largest ({VLLM_LORA_RANKS[-1]}); "
                             f"{FIX}")


def vllm_model_args(model_dir: Path, adapter_dir: Path | None = None, *, dtype: str = "auto", seed: int = 1234,
                    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION, max_model_len: int | None = None,
                    batch_size: int | str = "auto", max_gen_toks: int = 256) -> dict[str, Any]:
    """The keyword arguments of ``lm_eval.models.vllm_causallms.VLLM`` for a local base model (+ a PEFT LoRA adapter,
    served unmerged through ``lora_local_path`` with ``max_lora_rank`` fitted to its rank). No remote code; the
    tokenizer is the base model's (as the HF engine uses). Pure: nothing is loaded."""
    if dtype not in ("auto", "float16", "bfloat16", "float32"):
        raise ValueError(f"dtype {dtype!r}: use auto, float16, bfloat16 or float32")
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError("gpu_memory_utilization is a fraction of the GPU's memory, in (0, 1]")
    if max_model_len is not None and max_model_len < 2:
        raise ValueError("max_model_len must be at least 2 tokens")
    args: dict[str, Any] = {
        "pretrained": str(model_dir), "tokenizer": str(model_dir), "trust_remote_code": False, "dtype": dtype,
        "seed": int(seed), "gpu_memory_utilization": float(gpu_memory_utilization), "max_model_len": max_model_len,
        "batch_size": batch_size, "max_gen_toks": int(max_gen_toks), "tensor_parallel_size": 1,
        "data_parallel_size": 1}
    if adapter_dir is not None:
        args["lora_local_path"] = str(adapter_dir)
        args["max_lora_rank"] = max_lora_rank(adapter_rank(Path(adapter_dir)))
    return args


def load_vllm(model_dir: Path, adapter_dir: Path | None = None, **options: Any) -> Any:
    """lm-eval's VLLM model over a local model directory (+ LoRA adapter): see :func:`vllm_model_args`."""
    reason = vllm_unavailable_reason()
    if reason is not None:
        raise BackendUnavailable(f"vLLM cannot run on this machine: {reason}; {FIX}")
    from lm_eval.models.vllm_causallms import VLLM  # lazy: needs the vllm package (CUDA only)

    return VLLM(**vllm_model_args(model_dir, adapter_dir, **options))
