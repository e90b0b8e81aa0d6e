"""training runs logged from anywhere: ``source`` and ``external_id`` (issue 19 §1–3)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

``training_runs.source``: where the run was trained — ``modelmate`` (launched here; every existing row),
``external`` (logged through ``/api/v1/runs/external`` by the SDK or the HF Trainer callback) or ``mlflow``
(imported from an MLflow tracking store). ``external_id``: the run's id over there, unique per (owner, source,
external id) so that an import or a retried start finds the run it made before (NULLs never collide).

Self-contained: no application code is imported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('training_runs') as batch:
        batch.add_column(sa.Column('source', sa.String(length=16), server_default='modelmate', nullable=False))
        batch.add_column(sa.Column('external_id', sa.String(length=200), nullable=True))
        batch.create_check_constraint(op.f('ck_training_runs_source'), "source IN ('modelmate','external','mlflow')")
    op.create_index('uq_training_runs_external', 'training_runs', ['owner_id', 'source', 'external_id'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('uq_training_runs_external', table_name='training_runs')
    with op.batch_alter_table('training_runs') as batch:
        batch.drop_constraint('ck_training_runs_source', type_='check')
        batch.drop_column('external_id')
        batch.drop_column('source')
