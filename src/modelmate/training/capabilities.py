"""What a machine can train with, and which configuration choices it must refuse before a run starts.

``machine_capabilities()`` probes this process's machine: the device (CUDA or CPU), bf16 support, the GPU's compute
capability, whether bitsandbytes is importable *and works on the device* (a 4-bit round trip, an int8 quantization
and one 8-bit AdamW step, so a build without a backend for the device counts as missing), and whether the
``flash_attn`` package is installed. ``refusals(config, capabilities)`` is pure: every choice the machine cannot run,
each with the field, a plain-language message naming an alternative, and the alternative values.

The API and the CLI refuse such a configuration at launch (422, code ``unsupported_config``); the worker checks
again on its own machine before loading the model and fails the run at once (category ``unsupported``), so no
choice ever crashes a run midway. Probing imports torch and bitsandbytes and, on a GPU, creates a CUDA context, so
the API asks a short child process (``probe_in_subprocess``; ``python -m modelmate.training.capabilities`` prints the
JSON) instead of doing it in the server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, fields
from dataclasses import field as default
from importlib import metadata, util
from typing import Any

from modelmate.training.config import TrainingConfig

FLASH_ATTENTION_MIN_CAPABILITY = (8, 0)  # flash-attention 2: Ampere (sm80) or newer
UNSUPPORTED_CODE = "unsupported_config"  # the API's error code for a configuration this machine cannot run


@dataclass(frozen=True)
class Capabilities:
    device: str = "cpu"                          # "cuda" | "cpu"
    gpu_name: str | None = None
    compute_capability: tuple[int, int] | None = None
    bf16: bool = True                            # CPUs run bf16 (slowly); GPUs before Ampere do not
    bitsandbytes: str | None = None              # installed version, None when not importable
    bitsandbytes_works: bool = False             # 4-bit, int8 and the 8-bit optimizer ran on the device
    bitsandbytes_error: str | None = None        # why not, in one line
    flash_attn: str | None = None                # installed flash-attn version, None when absent

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["compute_capability"] = list(self.compute_capability) if self.compute_capability else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capabilities:
        """From ``as_dict``'s shape; unknown keys are ignored, missing ones take the CPU defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        cc = values.get("compute_capability")
        if cc is not None:
            values["compute_capability"] = (int(cc[0]), int(cc[1]))
        return cls(**values)


@dataclass(frozen=True)
class Refusal:
    field: str
    code: str
    message: str
    alternatives: list[Any] = default(default_factory=list)  # values of ``field`` this machine can run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _bitsandbytes_check(device: str) -> str | None:
    """None when bitsandbytes' 4-bit, int8 and 8-bit optimizer kernels run on ``device``, else why not."""
    try:
        import bitsandbytes as bnb
        import bitsandbytes.functional as bnb_f
        import torch

        x = torch.randn(64, 64, device=device)
        packed, state = bnb_f.quantize_4bit(x, quant_type="nf4")
        if not torch.isfinite(bnb_f.dequantize_4bit(packed, state)).all():
            return "its 4-bit quantization gives non-finite values on this device"
        bnb_f.int8_vectorwise_quant(x.half())
        weight = torch.nn.Parameter(torch.randn(4096, device=device))  # 8-bit state from 4096 elements on
        weight.grad = torch.randn_like(weight)
        bnb.optim.AdamW8bit([weight]).step()
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable backend"; the message says which
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    return None


def needs_bitsandbytes(config: TrainingConfig) -> bool:
    """Whether ``config`` uses a bitsandbytes feature (quantized weights or an 8-bit optimizer)."""
    return config.quantization != "none" or config.optimizer != "adamw"


def machine_capabilities(device: str | None = None, *, bitsandbytes: bool = True) -> Capabilities:
    """Probe this machine (``device``: the one a run will use; default CUDA when visible, else CPU).

    ``bitsandbytes=False`` skips bitsandbytes' kernel check (importing it and running its kernels takes ~2 s): for a
    run that uses none of its features, whose refusals never read the result."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpu_name = cc = None
    bf16 = True
    if device == "cuda":
        gpu_name = torch.cuda.get_device_name(0)
        cc = tuple(torch.cuda.get_device_capability(0))
        bf16 = bool(torch.cuda.is_bf16_supported())
    version = _version("bitsandbytes")
    if not version:
        error: str | None = "bitsandbytes is not installed"
    elif bitsandbytes:
        error = _bitsandbytes_check(device)
    else:
        error = "not checked (the run uses no bitsandbytes feature)"
    flash = _version("flash-attn") or _version("flash_attn")
    if flash and util.find_spec("flash_attn") is None:
        flash = None
    return Capabilities(device=device, gpu_name=gpu_name, compute_capability=cc,  # type: ignore[arg-type]
                        bf16=bf16, bitsandbytes=version, bitsandbytes_works=error is None, bitsandbytes_error=error,
                        flash_attn=flash)


def probe_in_subprocess(timeout: float = 180) -> Capabilities:
    """``machine_capabilities()`` run in a child process (no torch import or CUDA context in the caller)."""
    done = subprocess.run([sys.executable, "-m", "modelmate.training.capabilities"], capture_output=True,
                          text=True, timeout=timeout, check=True)
    return Capabilities.from_dict(json.loads(done.stdout.strip().splitlines()[-1]))


def effective_precision(precision: str, caps: Capabilities) -> str:
    """The number format a run trains in: ``auto`` is bf16 on a GPU with bf16, else fp32."""
    if precision == "auto":
        return "bf16" if caps.device == "cuda" and caps.bf16 else "fp32"
    return precision


def _where(caps: Capabilities) -> str:
    if caps.device == "cuda":
        cc = f", compute capability {caps.compute_capability[0]}.{caps.compute_capability[1]}" \
            if caps.compute_capability else ""
        return f"this worker's GPU ({caps.gpu_name or 'CUDA'}{cc})"
    return f"this worker's {caps.device.upper()}"


def _bnb_missing(caps: Capabilities) -> str:
    if caps.bitsandbytes is None:
        return "bitsandbytes is not installed"
    return f"bitsandbytes {caps.bitsandbytes} has no working backend on {_where(caps)} ({caps.bitsandbytes_error})"


def refusals(config: TrainingConfig, caps: Capabilities) -> list[Refusal]:
    """Every choice in ``config`` that ``caps``' machine cannot run (empty: the run can start)."""
    out: list[Refusal] = []
    precision = effective_precision(config.precision, caps)
    if config.precision == "fp16" and caps.device != "cuda":
        out.append(Refusal("precision", "fp16_needs_gpu",
                           f"precision fp16 needs a CUDA GPU (mixed precision with a gradient scaler) and "
                           f"{_where(caps)} has none: choose precision auto or fp32 (or bf16, slower on a CPU).",
                           ["auto", "fp32", "bf16"]))
    if config.precision == "bf16" and caps.device == "cuda" and not caps.bf16:
        out.append(Refusal("precision", "bf16_unsupported",
                           f"precision bf16 needs an Ampere or newer GPU and {_where(caps)} does not support it: "
                           "choose precision fp16 or fp32.", ["fp16", "fp32", "auto"]))
    if config.quantization != "none" and not caps.bitsandbytes_works:
        label = "4-bit (QLoRA)" if config.quantization == "4bit" else "8-bit"
        out.append(Refusal("quantization", "quantization_unavailable",
                           f"{label} quantization needs bitsandbytes working on the device: {_bnb_missing(caps)}. "
                           "Choose quantization none (gradient checkpointing also saves memory), or install "
                           "bitsandbytes on the worker.", ["none"]))
    if config.quantization == "8bit" and config.use_dora and caps.device != "cuda":
        # measured: PEFT's DoRA on bitsandbytes' CPU int8 layers fails at the second forward pass (the weight's
        # scale is gone once the layer has run); on CUDA PEFT supports the pair
        out.append(Refusal("use_dora", "dora_with_8bit",
                           f"DoRA on an 8-bit base model does not run on {_where(caps)} (bitsandbytes' CPU int8 "
                           "layers): turn DoRA off, or choose quantization 4bit or none.", [False]))
    if config.optimizer != "adamw" and not caps.bitsandbytes_works:
        out.append(Refusal("optimizer", "optimizer_unavailable",
                           f"the {config.optimizer} optimizer needs bitsandbytes working on the device: "
                           f"{_bnb_missing(caps)}. Choose optimizer adamw.", ["adamw"]))
    if config.attention == "flash_attention_2":
        alternatives = ["sdpa", "auto", "eager"]
        if caps.device != "cuda":
            out.append(Refusal("attention", "flash_attention_needs_gpu",
                               f"flash_attention_2 needs an NVIDIA GPU and {_where(caps)} has none: choose "
                               "attention sdpa (PyTorch's fused kernel, what auto uses).", alternatives))
        elif caps.compute_capability is not None and caps.compute_capability < FLASH_ATTENTION_MIN_CAPABILITY:
            out.append(Refusal("attention", "flash_attention_needs_ampere",
                               f"flash_attention_2 needs an Ampere or newer GPU (compute capability 8.0+), not "
                               f"{_where(caps)}: choose attention sdpa.", alternatives))
        elif caps.flash_attn is None:
            out.append(Refusal("attention", "flash_attention_not_installed",
                               "flash_attention_2 needs the flash-attn package, which is not installed on this "
                               "worker: choose attention sdpa, or install flash-attn.", alternatives))
        elif precision not in ("bf16", "fp16"):
            out.append(Refusal("attention", "flash_attention_needs_half",
                               f"flash_attention_2 runs only in bf16 or fp16, and this run trains in {precision}: "
                               "choose precision auto or bf16, or attention sdpa.", alternatives))
    return out


def describe(found: list[Refusal]) -> str:
    """One message for several refusals (the API's error message, the CLI's line, the failed run's message)."""
    return " ".join(r.message[:1].upper() + r.message[1:] for r in found)


if __name__ == "__main__":  # the probe behind probe_in_subprocess: one JSON line on stdout
    print(json.dumps(machine_capabilities().as_dict()))
