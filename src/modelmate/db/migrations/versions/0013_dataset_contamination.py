"""datasets: benchmark-contamination checks (issue 20)

Revision ID: 0013
Revises: 0011

``dataset_contamination``: a dataset's latest check (status pending/running/done/failed/unavailable, message, the
benchmark index version, the report JSON, the job, when requested/checked). ``contamination_overlaps``: per
(dataset, leaf task) the overlapping test documents/rows/exact matches with the task's suite entry, domain and
title, indexed by (domain, dataset_id) so that the leaderboards and the capability feed ask in SQL whether a model's
training data overlaps a domain. Nothing to backfill: existing datasets show "Not checked" until checked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    json_type = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
    op.create_table(
        'dataset_contamination',
        sa.Column('dataset_id', id_type, sa.ForeignKey('datasets.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('index_version', sa.String(200), nullable=True),
        sa.Column('report', json_type, nullable=True),
        sa.Column('job_id', id_type, sa.ForeignKey('jobs.id', ondelete='SET NULL'), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending','running','done','failed','unavailable')",
                           name='ck_dataset_contamination_status'))
    op.create_table(
        'contamination_overlaps',
        sa.Column('dataset_id', id_type, sa.ForeignKey('datasets.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('task', sa.String(100), primary_key=True),
        sa.Column('suite_task', sa.String(100), nullable=False),
        sa.Column('domain', sa.String(32), nullable=False),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('documents', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('exact', sa.Integer(), nullable=False))
    op.create_index('ix_contamination_overlaps_domain', 'contamination_overlaps', ['domain', 'dataset_id'])


def downgrade() -> None:
    op.drop_index('ix_contamination_overlaps_domain', table_name='contamination_overlaps')
    op.drop_table('contamination_overlaps')
    op.drop_table('dataset_contamination')
