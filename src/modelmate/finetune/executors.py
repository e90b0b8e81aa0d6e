"""Where a job's child process runs: on this machine (:class:`~modelmate.finetune.runner.ChildProcess`) or as a task
on a Ray cluster (:class:`~modelmate.finetune.ray_process.RayProcess`, ``MODELMATE_EXECUTOR=ray``).

Both look the same to the train and evaluate handlers. The local child reads a spec with this machine's paths; a
Ray task reads its inputs from the artifact store and writes its outputs there, so its spec names them by key
(:class:`RemoteSpec`): the dataset ``datasets/<sha256>.jsonl``, the base model ``bases/<key>`` when ModelMate
published it to a remote store (with a local store — one machine, or a folder every node mounts — its path), a
fork's parent adapter ``runs/<id>/adapter``; outputs are paths in the node's work folder that the node uploads
(the adapter, evaluation results) before it reports the result. The worker that holds the job's lease does every
database write; the Ray task never connects to the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmate.config import Settings
from modelmate.datasets.service import dataset_key
from modelmate.finetune import adapters
from modelmate.finetune.runner import ChildProcess, child_env
from modelmate.storage.staging import artifact_ref

if TYPE_CHECKING:  # Ray is optional: imported where a run uses it
    from modelmate.finetune.ray_process import RayProcess  # lazy: type-only (Ray is optional)

GIB = 1024**3


@dataclass
class RemoteSpec:
    spec: dict[str, Any]
    staging: dict[str, Any]
    name: str
    resources: dict[str, Any] = field(default_factory=dict)


def uses_ray(settings: Settings) -> bool:
    return settings.executor == "ray"


def start(settings: Settings, *, entry_module: str, spec_path: Path, cwd: Path, log_path: Path,
          env: dict[str, str], remote: RemoteSpec | None = None, argv: list[str] | None = None):
    """A started child: local, or (``MODELMATE_EXECUTOR=ray`` and a ``remote`` spec) a Ray task."""
    child: ChildProcess | RayProcess
    if uses_ray(settings) and remote is not None:
        from modelmate.finetune.ray_process import RayProcess  # lazy: start-up (ray)

        node_env = {k: v for k, v in env.items() if k != "MODELMATE_PARENT_PID"}  # the node's parent is Ray's worker
        threads = settings.train_threads
        if threads:
            node_env.update({name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        child = RayProcess(entry_module=entry_module, spec=remote.spec, staging=remote.staging, env=node_env,
                           resources=remote.resources, ray_address=settings.ray_address, name=remote.name,
                           log_path=log_path)
    else:
        child = ChildProcess(spec_path, cwd=cwd, log_path=log_path, env=child_env(settings.train_threads, env),
                             argv=argv)
    child.start()
    return child


def resources(settings: Settings, estimate: dict[str, Any] | None, *, workers: int = 1) -> dict[str, Any]:
    """What the Ray task asks for: CPUs (the training threads), a GPU when the estimate was made for one, and the
    estimated peak memory (with a margin; none when there is no estimate)."""
    estimate = estimate or {}
    out: dict[str, Any] = {"num_cpus": max(1, int(settings.train_threads or 1))}
    if estimate.get("device") == "cuda":
        out["num_gpus"] = 1
    peak = estimate.get("peak_memory_bytes")
    if isinstance(peak, int | float) and peak > 0 and workers == 1:
        out["memory"] = int(peak * 1.25) + GIB // 2
    return out


def train_remote_spec(settings: Settings, spec_json: dict[str, Any], *, run_id: int, dataset_hash: str | None,
                      base_key: str | None, parent_key: str | None, estimate: dict[str, Any] | None) -> RemoteSpec:
    """The training spec for a Ray node: inputs by key, outputs in its work folder (see the module docs)."""
    spec = dict(spec_json)
    if dataset_hash:
        spec["dataset_path"] = artifact_ref("file", dataset_key(dataset_hash))
    if base_key:
        spec["base_model"] = artifact_ref("dir", base_key)
    spec["init_adapter"] = artifact_ref("dir", parent_key) if parent_key else None
    spec["output_dir"], spec["checkpoint_dir"] = "adapter", "checkpoints"
    staging = {"store_url": settings.artifacts_store_url,
               "checkpoints": {"path": "checkpoints", "prefix": adapters.run_checkpoints_key(run_id)},
               "outputs": [{"artifact": "dir", "path": "adapter", "key": adapters.run_adapter_key(run_id)}],
               "log": {"path": "train.log", "key": adapters.run_log_key(run_id)}}
    workers = int((spec.get("config") or {}).get("workers") or 1)
    return RemoteSpec(spec=spec, staging=staging, name=f"modelmate-run-{int(run_id)}",
                      resources=resources(settings, estimate, workers=workers))


def evaluation_output(evaluation_id: int, name: str) -> dict[str, str]:
    """A file of an evaluation's folder and its store key (``evaluations/<id>/<name>``), as staging takes it."""
    return {"artifact": "file", "path": name, "key": f"evaluations/{int(evaluation_id)}/{name}"}


def eval_remote_spec(settings: Settings, spec: dict[str, Any], *, evaluation_id: int, base_key: str | None,
                     adapter_key: str | None) -> RemoteSpec:
    """The evaluation spec for a Ray node: the model (and adapter) by key, results uploaded under
    ``evaluations/<id>/``."""
    out = dict(spec)
    if base_key:
        out["model"] = artifact_ref("dir", base_key)
    if adapter_key:
        out["adapter"] = artifact_ref("dir", adapter_key)
    out["result_path"], out["checkpoint_path"], out["cache_dir"] = "result.json", "checkpoint.json", "cache"
    staging = {"store_url": settings.artifacts_store_url, "checkpoints": None,
               "outputs": [evaluation_output(evaluation_id, "result.json")],
               "log": evaluation_output(evaluation_id, "eval.log")}
    return RemoteSpec(spec=out, staging=staging, name=f"modelmate-evaluation-{int(evaluation_id)}",
                      resources=resources(settings, None))
