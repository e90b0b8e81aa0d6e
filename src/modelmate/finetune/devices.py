"""How much memory the worker's training device has, for the estimate's "will it fit" check.

The API process may not be the worker and must not import torch to find out, so: ``MODELMATE_WORKER_MEMORY_BYTES``
when set (remote workers, a GPU the API host does not have), else on a CUDA host the first GPU's total memory as
``nvidia-smi`` reports it, else the memory a training child may use here (``runner.memory_limit_bytes``: the cgroup
limit or the machine's RAM).
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from modelmate.config import Settings
from modelmate.finetune.runner import memory_limit_bytes


@functools.lru_cache(maxsize=1)
def cuda_memory_bytes() -> int | None:
    """Total memory of the first GPU (``nvidia-smi``, cached); None when it cannot be read."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return int(out.split()[0]) * 2**20  # MiB
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def device_memory_bytes(settings: Settings, device: str) -> int | None:
    """The memory a run on ``device`` ("cpu" or "cuda") may use; None when unknown."""
    if settings.worker_memory_bytes:
        return settings.worker_memory_bytes
    if device == "cuda":
        return cuda_memory_bytes()
    return memory_limit_bytes() or None
