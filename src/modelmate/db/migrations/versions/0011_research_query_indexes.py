"""research: indexes for the research queries at scale (issue 19 §5)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

``ix_training_runs_created (created_at, id)`` gives the museum its newest-first page without sorting every run;
``ix_training_runs_base_status (base_model_id, status, id)`` serves the advisor's candidates (finished runs on one
base, oldest first); ``ix_training_runs_output_model (output_model_id, id)`` serves the joins from a model to its
(first) run (capability-change aggregates by training domain, a model's run). See docs/performance.md.
"""

from __future__ import annotations

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

INDEXES = {'ix_training_runs_created': ['created_at', 'id'],
           'ix_training_runs_base_status': ['base_model_id', 'status', 'id'],
           'ix_training_runs_output_model': ['output_model_id', 'id']}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'training_runs', columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='training_runs')
