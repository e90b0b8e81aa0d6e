"""Progress of a Hugging Face download (:mod:`modelmate.finetune.hf_pull`): byte counts from our own file downloads
and from ``huggingface_hub.snapshot_download``'s progress bars folded into one stream of dicts, and the one-line
description the CLI and the job messages show ("downloading org/name: 1.2 of 2.5 GB, about 40 s left")."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from modelmate.humanize import duration

Progress = Callable[[dict[str, Any]], None]


class ProgressTracker:
    """Folds byte counts from our own downloads and from ``snapshot_download``'s bars into progress dicts."""

    def __init__(self, repo_id: str, on_progress: Progress | None, interval: float) -> None:
        self.repo_id, self.on_progress, self.interval = repo_id, on_progress, interval
        self.lock = threading.Lock()
        self.emit_lock = threading.Lock()
        self.error: BaseException | None = None
        self.phase = "resolving"
        self.file: str | None = None
        self.total = self.files_total = self.files_done = 0
        self.own = self.resumed = self.received = 0
        self.hf_bars: dict[int, int] = {}
        self.first_byte: float | None = None
        self.last_emit = 0.0

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def set_phase(self, phase: str, file: str | None = None) -> None:
        with self.lock:
            self.phase, self.file = phase, file
        self.emit(force=True)

    def add_done(self, n: int, *, resumed: bool = False) -> None:
        with self.lock:
            self.own += n
            if resumed:
                self.resumed += n
        self.emit()

    def file_finished(self) -> None:
        with self.lock:
            self.files_done += 1
        self.emit()

    def _update(self, role: str, bar: _Bar, n: int, *, initial: bool = False) -> None:
        self.check()
        with self.lock:
            if role == "own":
                self.own += n
                if initial:
                    self.resumed += n
                else:
                    self.received += n
            elif bar.unit == "B":
                self.hf_bars[id(bar)] = bar.n
            if n > 0 and not initial and self.first_byte is None:
                self.first_byte = time.monotonic()
        self.emit()

    def snapshot(self) -> dict[str, Any]:
        hf = max(self.hf_bars.values(), default=0)
        done = min(self.own + hf, self.total) if self.total else self.own + hf
        elapsed = time.monotonic() - self.first_byte if self.first_byte is not None else 0.0
        moved = self.received + hf
        rate = moved / elapsed if elapsed > 0.5 and moved > 0 else None
        eta = (self.total - done) / rate if rate and self.total and self.phase == "downloading" else None
        return {"repo_id": self.repo_id, "phase": self.phase, "file": self.file, "bytes_done": done,
                "bytes_total": self.total, "files_done": self.files_done, "files_total": self.files_total,
                "resumed_bytes": self.resumed, "bytes_per_s": rate, "eta_s": eta}

    def emit(self, *, force: bool = False) -> None:
        if self.on_progress is None:
            return
        self.check()
        with self.lock:
            now = time.monotonic()
            if not force and now - self.last_emit < self.interval:
                return
            self.last_emit = now
            event = self.snapshot()
        with self.emit_lock:
            try:
                self.on_progress(event)
            except BaseException as exc:
                with self.lock:
                    self.error = self.error or exc
                raise

    def bar_class(self, role: str) -> type[_Bar]:
        """A tqdm look-alike class bound to this tracker (``own``: our file downloads; ``hf``: snapshot_download)."""
        return type(f"_{role.capitalize()}Bar", (_Bar,), {"tracker": self, "role": role})


class _Bar:
    """Enough of ``tqdm`` for ``huggingface_hub`` (``http_get``, ``snapshot_download``, ``hf_thread_map``); it draws
    nothing and forwards counts to its tracker. Unknown tqdm methods are accepted and do nothing."""

    tracker: ProgressTracker
    role: str

    def __init__(self, iterable: Any = None, *args: Any, **kwargs: Any) -> None:
        self.iterable = iterable
        self.total = kwargs.get("total")
        self.unit = kwargs.get("unit", "it")
        self.desc = kwargs.get("desc") or ""
        self.disable = False
        self.n = 0
        initial = int(kwargs.get("initial") or 0)
        if initial:
            self.n = initial
            self.tracker._update(self.role, self, initial, initial=True)

    def update(self, n: float | None = 1) -> bool:
        step = int(n or 0)
        self.n += step
        self.tracker._update(self.role, self, step)
        return True

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update(1)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        return False

    @property
    def format_dict(self) -> dict[str, Any]:
        return {"n": self.n, "total": self.total, "rate": None, "elapsed": 0.0, "unit": self.unit}

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    set_description_str = set_description

    def reset(self, total: float | None = None) -> None:
        self.n = 0
        if total is not None:
            self.total = total

    def __getattr__(self, name: str) -> Any:  # close, refresh, set_postfix_str, clear, … : nothing to draw
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


def _size(n: float, unit: tuple[float, str] | None = None) -> str:
    div, _ = unit or _unit(n)
    return f"{n / div:.1f}" if div > 1 else f"{n:.0f}"


def _unit(n: float) -> tuple[float, str]:
    for div, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= div:
            return div, name
    return 1, "bytes"


def human_bytes(n: float) -> str:
    div, name = _unit(n)
    return f"{_size(n, (div, name))} {name}"


def describe(event: dict[str, Any]) -> str:
    """One line for a job message or a log: ``downloading org/name: 1.2 of 2.5 GB, about 40 s left``."""
    repo_id, phase = event.get("repo_id"), event.get("phase")
    if phase == "waiting":
        return f"downloading {repo_id}: waiting for another download of it on this machine"
    if phase == "resolving":
        return f"downloading {repo_id}: looking up its files"
    if phase == "verifying":
        return f"downloading {repo_id}: checking the files"
    total, done = int(event.get("bytes_total") or 0), int(event.get("bytes_done") or 0)
    if phase == "done":
        return f"downloaded {repo_id} ({human_bytes(total)})"
    if not total:
        return f"downloading {repo_id}"
    div, name = _unit(total)
    text = f"downloading {repo_id}: {_size(done, (div, name))} of {_size(total, (div, name))} {name}"
    eta = event.get("eta_s")
    left = isinstance(eta, int | float) and eta >= 0.5 and done < total
    return text + (f", about {duration(eta)} left" if left else "")


def fraction(event: dict[str, Any]) -> float:
    total = int(event.get("bytes_total") or 0)
    return min(1.0, int(event.get("bytes_done") or 0) / total) if total else 0.0
