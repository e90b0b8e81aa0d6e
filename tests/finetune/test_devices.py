"""The worker device's memory for the estimate's fit check: the setting wins, else this machine's memory or GPU."""

from __future__ import annotations

from modelmate.config import Settings
from modelmate.finetune import devices
from modelmate.finetune.runner import memory_limit_bytes


def test_the_setting_wins_then_this_machine(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path, environment="test")
    assert devices.device_memory_bytes(settings, "cpu") == memory_limit_bytes() > 0
    remote = settings.model_copy(update={"worker_memory_bytes": 24 * 2**30})
    assert devices.device_memory_bytes(remote, "cpu") == devices.device_memory_bytes(remote, "cuda") == 24 * 2**30
    devices.cuda_memory_bytes.cache_clear()
    monkeypatch.setattr(devices.shutil, "which", lambda name: None)  # no nvidia-smi: unknown, not a guess
    assert devices.device_memory_bytes(settings, "cuda") is None
    devices.cuda_memory_bytes.cache_clear()


def test_gpu_memory_is_read_from_nvidia_smi(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 24564\n")
    smi.chmod(0o755)
    devices.cuda_memory_bytes.cache_clear()
    monkeypatch.setattr(devices.shutil, "which", lambda name: str(smi))
    assert devices.device_memory_bytes(Settings(data_dir=tmp_path, environment="test"), "cuda") == 24564 * 2**20
    devices.cuda_memory_bytes.cache_clear()
