"""Fixtures for the hub tests: ONE real LoRA adapter trained by the real trainer (``modelmate.training.trainer.train``)
on the root conftest's toy tiny Llama, built once per session; per test, the toy is
installed as the ``tiny`` base model and runs are registered through ``finetune.service.register_output_model``
(exactly what the training job does when a run succeeds) with a copy of that adapter as their artifact."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def text_rows(n: int = 24) -> list[dict]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    return [{"text": f"Example {i}: " + " ".join(words[(i + j) % len(words)] for j in range(12))} for i in range(n)]


@dataclass(frozen=True)
class Trained:
    adapter: Path
    result: object  # TrainResult


@pytest.fixture(scope="session")
def trained(tiny_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A real adapter: 6 optimiser steps of LoRA (r 4) on the toy, a high learning rate so it moves the logits."""
    from modelmate.training.config import resolve_config
    from modelmate.training.trainer import TrainJob, train

    root = tmp_path_factory.mktemp("trained")
    records = text_rows()
    config = resolve_config(None, {"max_steps": 6, "batch_size": 2, "max_seq_length": 32, "learning_rate": 1e-2,
                                   "r": 4, "alpha": 8, "logging_steps": 1, "eval_steps": 3, "save_steps": 100,
                                   "seed": 1, "warmup_ratio": 0.0})
    job = TrainJob(config=config, base_model=str(tiny_source), train_records=records[:20], eval_records=records[20:],
                   output_dir=root / "adapter", checkpoint_dir=root / "checkpoints",
                   target_modules=["q_proj", "v_proj"],
                   model_card={"name": "hub test", "base_model": "tiny", "datasets": [], "toy": True})
    result = train(job, on_event=lambda _e: None, resume=False)
    assert result.outcome == "success", result.message
    return Trained(adapter=root / "adapter", result=result)


@pytest.fixture
def upload():
    def _upload(client, *, name: str = "hub data", rows: list[dict] | None = None) -> dict:
        body = "".join(json.dumps(r) + "\n" for r in (rows if rows is not None else text_rows()))
        r = client.post("/api/v1/datasets", files={"file": ("data.jsonl", body.encode(), "application/json")},
                        data={"name": name, "base_model": "tiny"})
        assert r.status_code in (200, 201), r.text
        return r.json()

    return _upload


@pytest.fixture
def register(database, settings, trained):
    """``register(owner_id, name=..., dataset_id=..., parent_model_id=..., adapter=True)`` → the fine-tuned model's
    id: a finished run row (the trained run's config and curve) + a copy of the real adapter, registered by
    ``finetune.service.register_output_model``."""
    from modelmate.finetune import repository as ft_repo
    from modelmate.finetune import service as ft
    from modelmate.models import TrainingRun

    def _register(owner_id: int, *, name: str = "My tune", dataset_id: int | None = None,
                  parent_model_id: int | None = None, adapter: bool = True) -> int:
        r = trained.result
        with database.session() as s:
            base = ft_repo.base_by_key(s, "tiny")
            assert base is not None
            dataset_hash = None
            if dataset_id is not None:
                dataset_hash = ft_repo.dataset_by_id(s, dataset_id).content_hash
            run = TrainingRun(owner_id=owner_id, name=name, base_model_id=base.id, parent_model_id=parent_model_id,
                              dataset_id=dataset_id, dataset_hash=dataset_hash, mode="expert", preset=None,
                              config={"r": 4, "alpha": 8, "learning_rate": 1e-2, "max_steps": 6},
                              status="succeeded", training_outcome="success", loss_curve_data=list(r.curve),
                              early_stopping=[], environment=dict(r.environment), estimate={},
                              tokens_per_second=r.tokens_per_second, train_tokens=r.train_tokens,
                              train_seconds=r.seconds, final_loss=r.final_loss, final_eval_loss=r.final_eval_loss,
                              total_steps=r.total_steps)
            s.add(run)
            s.flush()
            out = ft.run_dir(settings, run.id) / "adapter"
            if adapter:
                shutil.copytree(trained.adapter, out)
            run.artifact_uri = out.as_uri()
            model = ft.register_output_model(s, run, artifact_uri=out.as_uri(), toy=True)
            s.commit()
            return model.id

    return _register


@pytest.fixture
def me(hub, database) -> int:
    """The single-user mode's local user id (the ``client`` fixture acts as it)."""
    from sqlalchemy import select

    from modelmate.models import User

    with database.session() as s:
        return s.scalars(select(User.id).where(User.is_local.is_(True))).one()
