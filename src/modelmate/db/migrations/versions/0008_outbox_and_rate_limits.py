"""jobs: a transactional outbox for follow-up work; accounts: login rate limits in the database (issue 16 §4)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

``outbox_events``: a job writes one row per subscriber of an event (``model_trained``, ``evaluation_stored``) in
the same transaction that records its outcome; a worker delivers each row once (``modelmate.jobs.outbox``), so a
crash between the outcome's commit and the follow-up (the automatic evaluation) no longer loses the follow-up.

``rate_limit_events`` / ``rate_limit_streaks``: the login and signup limits' counters
(``modelmate.accounts.ratelimit.DatabaseBackend``), shared by every server process using this database. Times are
wall-clock epoch seconds; rows past ``expires_at`` are pruned.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'outbox_events',
        sa.Column('id', ID, nullable=False),
        sa.Column('event', sa.String(length=32), nullable=False),
        sa.Column('subscriber', sa.String(length=200), nullable=False),
        sa.Column('payload', JSON, nullable=False),
        sa.Column('job_id', ID, nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claim_token', sa.BigInteger(), nullable=False),
        sa.Column('claimed_by', sa.String(length=128), nullable=True),
        sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('error', JSON, nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending','delivered','failed')", name=op.f('ck_outbox_events_status')),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_outbox_events_job_id_jobs'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events')),
    )
    op.create_index('ix_outbox_events_pending', 'outbox_events', ['status', 'available_at', 'id'], unique=False)
    op.create_index(op.f('ix_outbox_events_job_id'), 'outbox_events', ['job_id'], unique=False)
    op.create_table(
        'rate_limit_events',
        sa.Column('id', ID, nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_limit_events')),
    )
    op.create_index('ix_rate_limit_events_key_at', 'rate_limit_events', ['key', 'at'], unique=False)
    op.create_index(op.f('ix_rate_limit_events_expires_at'), 'rate_limit_events', ['expires_at'], unique=False)
    op.create_table(
        'rate_limit_streaks',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('last_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_streaks')),
    )
    op.create_index(op.f('ix_rate_limit_streaks_expires_at'), 'rate_limit_streaks', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_rate_limit_streaks_expires_at'), table_name='rate_limit_streaks')
    op.drop_table('rate_limit_streaks')
    op.drop_index(op.f('ix_rate_limit_events_expires_at'), table_name='rate_limit_events')
    op.drop_index('ix_rate_limit_events_key_at', table_name='rate_limit_events')
    op.drop_table('rate_limit_events')
    op.drop_index(op.f('ix_outbox_events_job_id'), table_name='outbox_events')
    op.drop_index('ix_outbox_events_pending', table_name='outbox_events')
    op.drop_table('outbox_events')
