"""research: per-document outcomes and paired capability tests

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Every evaluation keeps each scored document's per-metric outcome (``document_outcomes``: one row per evaluation,
leaf task and document, matched across evaluations by lm-eval's ``doc_hash``), so any two evaluations with the same
settings can be compared with a paired test. Capability changes record the test used and the number of paired
documents (``test``, ``n``); existing rows keep NULL there (they were computed with the unpaired z-test).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_outcomes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('evaluation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task', sa.String(length=100), nullable=False),
    sa.Column('doc_id', sa.Integer(), nullable=False),
    sa.Column('doc_hash', sa.String(length=64), nullable=False),
    sa.Column('metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
              nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'],
                            name=op.f('fk_document_outcomes_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_outcomes'))
    )
    op.create_index('uq_document_outcomes_doc', 'document_outcomes', ['evaluation_id', 'task', 'doc_id'],
                    unique=True)
    # Plain ALTER TABLE ADD COLUMN (nullable): no batch rebuild of the table on SQLite
    op.add_column('capability_changes', sa.Column('test', sa.String(length=32), nullable=True))
    op.add_column('capability_changes', sa.Column('n', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('capability_changes', 'n')  # SQLite >= 3.35 drops a column in place
    op.drop_column('capability_changes', 'test')
    op.drop_index('uq_document_outcomes_doc', table_name='document_outcomes')
    op.drop_table('document_outcomes')
