"""import: staged batches, so a large import never holds the write lock for long

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

A validated import is copied into ``import_staged_rows`` in short transactions (``import_batches.state =
'staging'``: nothing visible, discarded on failure or at the next start), decided by one short commit
(``'applying'``), then applied chunk by chunk (each chunk deletes its staged rows in the same transaction; a crash
is finished at the next start). See ``modelmate.transfer.batches`` and RELIABILITY.md #41.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'import_batches',
        sa.Column('id', ID, nullable=False),
        sa.Column('owner_id', ID, nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('total_rows', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('staging','applying')", name=op.f('ck_import_batches_state')),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_import_batches_owner_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batches')),
    )
    op.create_index(op.f('ix_import_batches_owner_id'), 'import_batches', ['owner_id'], unique=False)
    op.create_table(
        'import_staged_rows',
        sa.Column('batch_id', ID, nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('row_no', sa.Integer(), nullable=False),
        sa.Column('data', JSON, nullable=False),
        sa.Column('fields', JSON, nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['import_batches.id'],
                                name=op.f('fk_import_staged_rows_batch_id_import_batches'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('batch_id', 'seq', name=op.f('pk_import_staged_rows')),
    )


def downgrade() -> None:
    op.drop_table('import_staged_rows')
    op.drop_index(op.f('ix_import_batches_owner_id'), table_name='import_batches')
    op.drop_table('import_batches')
