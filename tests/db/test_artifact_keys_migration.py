"""Migration 0009 turns the absolute adapter URIs of earlier versions into artifact-store keys (and back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from modelmate.db import migrate
from modelmate.models import Model, TrainingRun, User


def _model(name: str, owner_id: int, kind: str, hub_info: dict) -> Model:
    return Model(name=name, name_key=f"{name} {owner_id}", developer_key=str(owner_id), kind=kind,
                 visibility="private", owner_id=owner_id, source_links=[], benchmark_scores={}, hub_info=hub_info,
                 metadata_extra={})


def test_absolute_uris_become_keys(database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = (tmp_path / "data" / "artifacts" / "runs" / "12" / "adapter").as_uri()
    with database.session() as s:
        user = User(username="keys")
        s.add(user)
        s.flush()
        base = _model("base", user.id, "base", {"key": "tiny"})
        tuned = _model("tuned", user.id, "finetuned", {"adapter": True, "artifact_uri": old, "run_id": 12})
        elsewhere = _model("imported", user.id, "finetuned", {"adapter": True, "artifact_uri": "file:///srv/x/y"})
        s.add_all([base, tuned, elsewhere])
        s.flush()
        run = TrainingRun(owner_id=user.id, base_model_id=base.id, artifact_uri=old, config={})
        s.add(run)
        s.commit()
        ids = (tuned.id, elsewhere.id, run.id)
    monkeypatch.delenv("MODELMATE_DATA_DIR", raising=False)
    migrate.downgrade(database, "0008")  # no data dir configured: keys stay keys
    with database.session() as s:
        s.execute(TrainingRun.__table__.update().where(TrainingRun.id == ids[2]).values(artifact_uri=old))
        s.commit()
    migrate.upgrade(database)
    with database.session() as s:
        infos = dict(s.execute(select(Model.id, Model.hub_info).where(Model.id.in_(ids[:2]))).all())
        assert infos[ids[0]]["artifact_uri"] == "runs/12/adapter" and infos[ids[0]]["run_id"] == 12
        assert infos[ids[1]]["artifact_uri"] == "file:///srv/x/y"  # not one of our run folders: left alone
        assert s.get(TrainingRun, ids[2]).artifact_uri == "runs/12/adapter"
    monkeypatch.setenv("MODELMATE_DATA_DIR", str(tmp_path / "data"))
    migrate.downgrade(database, "0008")
    with database.session() as s:
        # at 0008 the table lacks later columns (0010's source): read the one column, not the whole ORM row
        assert s.execute(select(TrainingRun.artifact_uri).where(TrainingRun.id == ids[2])).scalar_one() == old
    migrate.upgrade(database)
