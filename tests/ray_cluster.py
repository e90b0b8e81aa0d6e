"""A private local Ray cluster for tests: ``ray start --head --block`` on 127.0.0.1 with 2 CPUs, its own ports and
temp dir, torn down by stopping ITS processes only (``ray stop`` would stop every cluster of this user on the
machine). The node's processes get the environment given (the S3 settings of the store, a data dir of their own)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from s3_server import free_port


class RayCluster:
    def __init__(self, env: dict[str, str] | None = None, num_cpus: int = 2) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="mmray-", dir="/tmp"))  # short: socket paths must stay < 108 bytes
        self.node_data = self.temp / "node"
        self.extra_env = dict(env or {})
        self.num_cpus = num_cpus
        self.head: subprocess.Popen[bytes] | None = None
        self.address = ""
        self._log = None

    def start(self) -> RayCluster:
        ports: set[int] = set()
        while len(ports) < 6:  # distinct: a port just freed can be handed out twice
            ports.add(free_port())
        port, *others = sorted(ports)
        env = {**os.environ, **self.extra_env, "MODELMATE_DATA_DIR": str(self.node_data),
               "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)
        names = ("ray-client-server-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                 "runtime-env-agent-port", "metrics-export-port")
        argv = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--node-ip-address",
                "127.0.0.1", "--port", str(port), "--num-cpus", str(self.num_cpus), "--include-dashboard", "false",
                "--temp-dir", str(self.temp / "ray"), "--disable-usage-stats",
                *[f"--{name}={p}" for name, p in zip(names, others, strict=True)],
                "--min-worker-port", "0", "--max-worker-port", "0"]
        log_path = self.temp / "ray-start.log"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.head = subprocess.Popen(argv, env=env, stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in log_path.read_text(errors="replace"):
            if self.head.poll() is not None or time.monotonic() > deadline:  # ray.init would wait forever
                text = log_path.read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"ray start failed: {text}")
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        if self.head is not None:
            try:
                procs = [psutil.Process(self.head.pid), *psutil.Process(self.head.pid).children(recursive=True)]
            except psutil.Error:
                procs = []
            self.head.terminate()  # `ray start --block` stops the processes it started
            _, alive = psutil.wait_procs(procs, timeout=20)
            for proc in alive:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.head.wait(timeout=10)
            self.head = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.temp, ignore_errors=True)


def training_children() -> list[psutil.Process]:
    """Running ``modelmate.training.entry`` processes (on this machine: the local cluster's nodes)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if "modelmate.training.entry" in (proc.info["cmdline"] or []):
                found.append(proc)
    return found
