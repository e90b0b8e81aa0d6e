"""artifacts: the database keeps store-relative keys, not absolute paths (issue 16 §1)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Adapters were recorded as absolute ``file:///<data_dir>/artifacts/runs/<id>/adapter`` URIs (``training_runs
.artifact_uri`` and the output model's ``hub_info.artifact_uri``), which only the machine that trained them could
read. They become the key ``runs/<id>/adapter`` of the artifact store (``MODELMATE_ARTIFACTS_URL``; a local store
keeps the very same folder, so nothing moves on disk). A URI that does not end in ``runs/<n>/adapter`` (an adapter
registered from elsewhere) is left as it is. Downgrading writes absolute URIs back under the given data directory
only if one is configured (``MODELMATE_DATA_DIR``); otherwise the keys stay (older code reads them as missing).

Self-contained: no application code is imported, so this file means the same thing whatever the app becomes.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_ADAPTER = re.compile(r"^(?:file://)?/.*/(runs/\d+/adapter)/?$")


def _key(uri: str | None) -> str | None:
    match = _ADAPTER.match(uri or "")
    return match.group(1) if match else None


def _json(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _rewrite(convert) -> None:
    bind = op.get_bind()
    runs = sa.table('training_runs', sa.column('id', sa.Integer), sa.column('artifact_uri', sa.String))
    for row in bind.execute(sa.select(runs.c.id, runs.c.artifact_uri).where(runs.c.artifact_uri.is_not(None))):
        new = convert(row.artifact_uri)
        if new is not None and new != row.artifact_uri:
            bind.execute(runs.update().where(runs.c.id == row.id).values(artifact_uri=new))
    models = sa.table('models', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                      sa.column('hub_info', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')))
    for row in bind.execute(sa.select(models.c.id, models.c.hub_info).where(models.c.kind == 'finetuned')):
        info = _json(row.hub_info)
        if not isinstance(info, dict) or not info.get('artifact_uri'):
            continue
        new = convert(str(info['artifact_uri']))
        if new is not None and new != info['artifact_uri']:
            info = {**info, 'artifact_uri': new}
            bind.execute(models.update().where(models.c.id == row.id).values(hub_info=info))


def upgrade() -> None:
    _rewrite(_key)


def downgrade() -> None:
    data_dir = os.environ.get('MODELMATE_DATA_DIR')
    if not data_dir:
        return
    root = Path(data_dir).expanduser().resolve() / 'artifacts'

    def back(uri: str) -> str | None:
        return (root / uri).as_uri() if re.fullmatch(r"runs/\d+/adapter", uri or "") else None

    _rewrite(back)
