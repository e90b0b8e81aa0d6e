"""Where a run happened: library versions, device, threads, and a peak-memory sampler.

Everything here is cheap and side-effect free except :func:`configure_threads`, which sets torch's thread counts.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import sys
import threading
from importlib import metadata

LIBRARIES = ("torch", "transformers", "peft", "accelerate", "safetensors", "tokenizers")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pick_device() -> str:
    """``cuda`` when a CUDA GPU is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def configure_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (and one inter-op thread); returns the number in use."""
    import torch

    if threads:
        torch.set_num_threads(int(threads))
        # allowed only once per process, before any parallel work: ignore if already set
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    return torch.get_num_threads()


def describe_environment(device: str | None = None) -> dict:
    """A JSON-able description of the software and hardware a run used."""
    import torch

    device = device or pick_device()
    env: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "device": device,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "versions": {name: _version(name) for name in LIBRARIES},
    }
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env["gpu"] = {"name": props.name, "memory_bytes": int(props.total_memory),
                      "capability": f"{props.major}.{props.minor}", "cuda": torch.version.cuda,
                      "bf16": bool(torch.cuda.is_bf16_supported())}
    with contextlib.suppress(AttributeError, OSError):  # not on Linux
        env["affinity_cpus"] = len(os.sched_getaffinity(0))
    return env


def current_rss() -> int:
    """Resident set size of this process in bytes (0 if it cannot be read)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - best effort: memory reporting never breaks a run
        return 0


def maxrss_bytes() -> int:
    """The process's lifetime peak RSS as the kernel reports it (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class PeakMemory:
    """Samples this process's RSS on a background thread; ``peak`` is the largest value seen.

    ``ru_maxrss`` would be simpler but it covers the whole life of the process, which is wrong when ``train`` is
    called inside a long-lived process (tests, the worker); the sampler measures only the run's own window.
    On CUDA the allocator's peak is added under ``gpu_peak``.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = current_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> int:
        rss = current_rss()
        if rss > self.peak:
            self.peak = rss
        return self.peak

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sample()

    @staticmethod
    def gpu_peak() -> int | None:
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.max_memory_allocated())
        return None
