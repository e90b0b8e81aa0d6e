"""Migration 0003 backfills the slugs of fine-tuned models that existed before it (deduplicated per owner)."""

from __future__ import annotations

from sqlalchemy import select, text

from modelmate.db import migrate
from modelmate.models import Model, User


def _model(name: str, owner_id: int | None, kind: str = "finetuned") -> Model:
    return Model(name=name, name_key=f"{name} {owner_id}", developer_key=str(owner_id), kind=kind,
                 visibility="private", owner_id=owner_id, source_links=[], benchmark_scores={}, hub_info={},
                 metadata_extra={})


def test_backfill_on_upgrade(database):
    with database.session() as s:
        ann, bo = User(username="ann"), User(username="bo")
        s.add_all([ann, bo])
        s.flush()
        rows = [_model("My Tune", ann.id), _model("my tune", ann.id), _model("MY  TUNE!", ann.id),
                _model("My Tune", bo.id), _model("???", bo.id), _model("Llama 3", None, kind="external")]
        s.add_all(rows)
        s.commit()
        ids = [m.id for m in rows]
    migrate.downgrade(database, "0002")
    with database.engine.connect() as conn:
        assert "slug" not in [c[1] for c in conn.execute(text("SELECT * FROM models LIMIT 0")).cursor.description]
    migrate.upgrade(database)
    with database.session() as s:
        slugs = dict(s.execute(select(Model.id, Model.slug).where(Model.id.in_(ids))).all())
    assert [slugs[i] for i in ids] == ["my-tune", "my-tune-2", "my-tune-3", "my-tune", "model", None]
