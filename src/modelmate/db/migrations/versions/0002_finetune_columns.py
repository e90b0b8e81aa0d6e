"""fine-tuning engine columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Datasets are soft-deleted (runs keep using their immutable content-addressed snapshot, and the research
database never loses the data a run was trained on) and remember the uploaded file type. Training runs get a
display name and their planned number of optimiser steps.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_type', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('total_steps', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.drop_column('total_steps')
        batch_op.drop_column('name')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('file_type')
