"""initial platform schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22

The whole platform's schema: users, catalog models (with research lineage fields), tracker
entries/tags/journal/events, search documents (+ FTS5 on SQLite, tsvector+GIN on PostgreSQL),
embeddings, datasets, jobs, training runs, evaluations, benchmark results, capability changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('display_name', sa.String(length=128), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_local', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=128), nullable=False),
    sa.Column('scopes', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_prefix'), ['prefix'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('datasets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('storage_uri', sa.String(length=500), nullable=False),
    sa.Column('original_filename', sa.String(length=300), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('train_rows', sa.BigInteger(), nullable=True),
    sa.Column('eval_rows', sa.BigInteger(), nullable=True),
    sa.Column('token_counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('stats', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('domain', sa.String(length=32), nullable=True),
    sa.Column('license', sa.String(length=100), nullable=True),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('parent_dataset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("format IN ('text','alpaca','sharegpt','messages')", name=op.f('ck_datasets_format')),
    sa.CheckConstraint("visibility IN ('private','public')", name=op.f('ck_datasets_visibility')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_datasets_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_dataset_id'], ['datasets.id'], name=op.f('fk_datasets_parent_dataset_id_datasets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets'))
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index('ix_datasets_hash', ['content_hash'], unique=False)
        batch_op.create_index('ix_datasets_owner', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_datasets_parent_dataset_id'), ['parent_dataset_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fencing_token', sa.BigInteger(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('progress_message', sa.String(length=500), nullable=True),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued','running','succeeded','failed','cancelled')", name=op.f('ck_jobs_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_jobs_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_claim', ['status', 'run_after', 'priority', 'id'], unique=False)
        batch_op.create_index('ix_jobs_lease', ['status', 'lease_expires_at'], unique=False)
        batch_op.create_index('ix_jobs_owner', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index('uq_jobs_idempotency', ['owner_id', 'idempotency_key'], unique=True)

    op.create_table('models',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('developer', sa.String(length=200), nullable=True),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('developer_key', sa.String(length=200), nullable=False),
    sa.Column('model_type', sa.String(length=32), nullable=False),
    sa.Column('parameters', sa.BigInteger(), nullable=True),
    sa.Column('license', sa.String(length=100), nullable=True),
    sa.Column('version', sa.String(length=100), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source_links', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('hf_repo_id', sa.String(length=200), nullable=True),
    sa.Column('github_repo', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('parent_model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('base_model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('benchmark_scores', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('hub_info', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('metadata_extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('metadata_refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('external','base','finetuned')", name=op.f('ck_models_kind')),
    sa.CheckConstraint("visibility IN ('private','public')", name=op.f('ck_models_visibility')),
    sa.CheckConstraint('parameters IS NULL OR parameters >= 0', name=op.f('ck_models_parameters_nonneg')),
    sa.ForeignKeyConstraint(['base_model_id'], ['models.id'], name=op.f('fk_models_base_model_id_models'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_models_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_model_id'], ['models.id'], name=op.f('fk_models_parent_model_id_models'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models'))
    )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_models_base_model_id'), ['base_model_id'], unique=False)
        batch_op.create_index('ix_models_model_type', ['model_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_models_parameters', ['parameters'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_parent_model_id'), ['parent_model_id'], unique=False)
        batch_op.create_index('uq_models_name_developer', ['name_key', 'developer_key'], unique=True)

    op.create_table('tags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('name_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_tags_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags'))
    )
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.create_index('uq_tags_owner_key', ['owner_id', 'name_key'], unique=True)

    op.create_table('user_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('session_hash', sa.String(length=128), nullable=False),
    sa.Column('csrf_hash', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('session_hash', name=op.f('uq_user_sessions_session_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('date_interacted', sa.Date(), nullable=True),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('model_name_key', sa.String(length=200), server_default='', nullable=False),
    sa.Column('model_type', sa.String(length=32), server_default='Other', nullable=False),
    sa.Column('model_developer', sa.String(length=200), nullable=True),
    sa.Column('model_developer_key', sa.String(length=200), server_default='', nullable=False),
    sa.Column('model_license', sa.String(length=100), nullable=True),
    sa.Column('model_parameters', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("status IN ('wishlist','tried','studied','using','archived')", name=op.f('ck_entries_status')),
    sa.CheckConstraint("visibility IN ('private','public')", name=op.f('ck_entries_visibility')),
    sa.CheckConstraint('rating IS NULL OR (rating >= 1 AND rating <= 5)', name=op.f('ck_entries_rating')),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_entries_model_id_models'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_entries_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entries'))
    )
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.create_index('ix_entries_model', ['model_id'], unique=False)
        batch_op.create_index('ix_entries_owner_created', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_entries_owner_date', ['owner_id', 'date_interacted'], unique=False)
        batch_op.create_index('ix_entries_owner_rating', ['owner_id', 'rating'], unique=False)
        batch_op.create_index('ix_entries_owner_status', ['owner_id', 'status', 'model_type'], unique=False)
        batch_op.create_index('ix_entries_owner_updated', ['owner_id', 'updated_at'], unique=False)
        batch_op.create_index('uq_entries_owner_model', ['owner_id', 'model_id'], unique=True)
        batch_op.create_index('ix_entries_owner_name', ['owner_id', 'model_name_key', 'id'], unique=False)
        batch_op.create_index('ix_entries_owner_parameters', ['owner_id', 'model_parameters', 'id'], unique=False)
        batch_op.create_index('ix_entries_owner_type', ['owner_id', 'model_type'], unique=False)
        batch_op.create_index('ix_entries_owner_developer', ['owner_id', 'model_developer_key', 'model_developer'],
                              unique=False)
        batch_op.create_index('ix_entries_owner_license', ['owner_id', 'model_license'], unique=False)

    op.create_table('training_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('output_model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('base_model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('parent_model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('dataset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('dataset_hash', sa.String(length=64), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('preset', sa.String(length=32), nullable=True),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('training_outcome', sa.String(length=16), nullable=True),
    sa.Column('failure_category', sa.String(length=32), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('loss_curve_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('early_stopping', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('environment', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('estimate', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tokens_per_second', sa.Float(), nullable=True),
    sa.Column('train_tokens', sa.BigInteger(), nullable=True),
    sa.Column('peak_memory_bytes', sa.BigInteger(), nullable=True),
    sa.Column('train_seconds', sa.Float(), nullable=True),
    sa.Column('final_loss', sa.Float(), nullable=True),
    sa.Column('final_eval_loss', sa.Float(), nullable=True),
    sa.Column('artifact_uri', sa.String(length=500), nullable=True),
    sa.Column('feedback_value', sa.Integer(), nullable=True),
    sa.Column('feedback_comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued','running','succeeded','failed','cancelled')", name=op.f('ck_training_runs_status')),
    sa.CheckConstraint("training_outcome IS NULL OR training_outcome IN ('success','failure','partial')", name=op.f('ck_training_runs_outcome')),
    sa.ForeignKeyConstraint(['base_model_id'], ['models.id'], name=op.f('fk_training_runs_base_model_id_models'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_training_runs_dataset_id_datasets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_training_runs_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['output_model_id'], ['models.id'], name=op.f('fk_training_runs_output_model_id_models'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_training_runs_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_model_id'], ['models.id'], name=op.f('fk_training_runs_parent_model_id_models'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_runs'))
    )
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_runs_base_model_id'), ['base_model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_runs_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_runs_job_id'), ['job_id'], unique=False)
        batch_op.create_index('ix_training_runs_outcome', ['training_outcome', 'failure_category'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_runs_output_model_id'), ['output_model_id'], unique=False)
        batch_op.create_index('ix_training_runs_owner', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_runs_parent_model_id'), ['parent_model_id'], unique=False)

    op.create_table('entry_embeddings',
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('embedder', sa.String(length=100), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_entry_embeddings_entry_id_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_entry_embeddings_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_entry_embeddings'))
    )
    with op.batch_alter_table('entry_embeddings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entry_embeddings_owner_id'), ['owner_id'], unique=False)

    op.create_table('entry_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('model_name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_entry_events_entry_id_entries'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_entry_events_model_id_models'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_entry_events_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entry_events'))
    )
    with op.batch_alter_table('entry_events', schema=None) as batch_op:
        batch_op.create_index('ix_entry_events_entry', ['entry_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_entry_events_owner_time', ['owner_id', 'occurred_at'], unique=False)

    op.create_table('entry_tags',
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_entry_tags_entry_id_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_entry_tags_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'tag_id', name=op.f('pk_entry_tags'))
    )
    with op.batch_alter_table('entry_tags', schema=None) as batch_op:
        batch_op.create_index('ix_entry_tags_tag', ['tag_id', 'entry_id'], unique=False)

    op.create_table('evaluations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tasks', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('settings_hash', sa.String(length=64), nullable=True),
    sa.Column('harness_version', sa.String(length=32), nullable=True),
    sa.Column('raw_results', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('running','final','partial','failed')", name=op.f('ck_evaluations_status')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_evaluations_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_evaluations_model_id_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_evaluations_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['training_runs.id'], name=op.f('fk_evaluations_run_id_training_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_evaluations_cache', ['model_id', 'settings_hash'], unique=False)
        batch_op.create_index('ix_evaluations_model', ['model_id', 'created_at'], unique=False)

    op.create_table('journal_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_journal_notes_entry_id_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_journal_notes_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_notes'))
    )
    with op.batch_alter_table('journal_notes', schema=None) as batch_op:
        batch_op.create_index('ix_journal_notes_entry', ['entry_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_notes_owner_id'), ['owner_id'], unique=False)

    op.create_table('model_feedback',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('value IN (-1, 1)', name=op.f('ck_model_feedback_value')),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_model_feedback_model_id_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['training_runs.id'], name=op.f('fk_model_feedback_run_id_training_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_model_feedback_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_feedback'))
    )
    with op.batch_alter_table('model_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_feedback_model_id'), ['model_id'], unique=False)
        batch_op.create_index('uq_model_feedback_user_model', ['user_id', 'model_id'], unique=True)

    op.create_table('search_documents',
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('developer', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_search_documents_entry_id_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_search_documents_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_search_documents'))
    )
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_documents_owner_id'), ['owner_id'], unique=False)

    op.create_table('benchmark_results',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('evaluation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task', sa.String(length=100), nullable=False),
    sa.Column('domain', sa.String(length=32), nullable=False),
    sa.Column('metric', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('stderr', sa.Float(), nullable=True),
    sa.Column('n_samples', sa.Integer(), nullable=True),
    sa.Column('n_shot', sa.Integer(), nullable=True),
    sa.Column('sample_limit', sa.Integer(), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('harness_version', sa.String(length=32), nullable=True),
    sa.Column('task_hash', sa.String(length=64), nullable=True),
    sa.Column('chat_template_hash', sa.String(length=64), nullable=True),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_benchmark_results_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_benchmark_results_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_benchmark_results'))
    )
    with op.batch_alter_table('benchmark_results', schema=None) as batch_op:
        batch_op.create_index('ix_benchmark_results_board', ['domain', 'task', 'metric', 'task_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_benchmark_results_evaluation_id'), ['evaluation_id'], unique=False)
        batch_op.create_index('ix_benchmark_results_model', ['model_id', 'domain', 'task'], unique=False)

    op.create_table('capability_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference_model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference_kind', sa.String(length=16), nullable=False),
    sa.Column('evaluation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('domain', sa.String(length=32), nullable=False),
    sa.Column('task', sa.String(length=100), nullable=True),
    sa.Column('metric', sa.String(length=100), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('reference_value', sa.Float(), nullable=True),
    sa.Column('delta', sa.Float(), nullable=False),
    sa.Column('relative_delta', sa.Float(), nullable=True),
    sa.Column('z_score', sa.Float(), nullable=True),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('p_adjusted', sa.Float(), nullable=True),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=True),
    sa.Column('sentence', sa.Text(), nullable=True),
    sa.Column('reviewed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_capability_changes_evaluation_id_evaluations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_capability_changes_model_id_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reference_model_id'], ['models.id'], name=op.f('fk_capability_changes_reference_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capability_changes'))
    )
    with op.batch_alter_table('capability_changes', schema=None) as batch_op:
        batch_op.create_index('ix_capability_changes_flagged', ['flagged', 'created_at'], unique=False)
        batch_op.create_index('ix_capability_changes_model', ['model_id', 'created_at'], unique=False)

    # Case-insensitive uniqueness of hub / GitHub ids (expression indexes work on both backends).
    op.create_index("uq_models_hf_repo_key", "models", [sa.text("lower(hf_repo_id)")], unique=True)
    op.create_index("uq_models_github_repo_key", "models", [sa.text("lower(github_repo)")], unique=True)
    _create_fulltext()


def _create_fulltext() -> None:
    """Full-text index over search_documents: FTS5 on SQLite, tsvector + GIN on PostgreSQL."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "name, developer, description, tags, notes, "
            "content='search_documents', content_rowid='entry_id', "
            "tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
        )
        op.execute(
            "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
            "INSERT INTO search_fts(rowid, name, developer, description, tags, notes) "
            "VALUES (new.entry_id, new.name, new.developer, new.description, new.tags, new.notes); END"
        )
        op.execute(
            "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, name, developer, description, tags, notes) "
            "VALUES ('delete', old.entry_id, old.name, old.developer, old.description, old.tags, old.notes); END"
        )
        op.execute(
            "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, name, developer, description, tags, notes) "
            "VALUES ('delete', old.entry_id, old.name, old.developer, old.description, old.tags, old.notes); "
            "INSERT INTO search_fts(rowid, name, developer, description, tags, notes) "
            "VALUES (new.entry_id, new.name, new.developer, new.description, new.tags, new.notes); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', coalesce(name, '')), 'A') || "
            "setweight(to_tsvector('simple', coalesce(developer, '')), 'B') || "
            "setweight(to_tsvector('simple', coalesce(tags, '')), 'B') || "
            "setweight(to_tsvector('english', coalesce(description, '')), 'C') || "
            "setweight(to_tsvector('english', coalesce(notes, '')), 'D')) STORED"
        )
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index("uq_models_github_repo_key", table_name="models")
    op.drop_index("uq_models_hf_repo_key", table_name="models")
    with op.batch_alter_table('capability_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_capability_changes_model')
        batch_op.drop_index('ix_capability_changes_flagged')

    op.drop_table('capability_changes')
    with op.batch_alter_table('benchmark_results', schema=None) as batch_op:
        batch_op.drop_index('ix_benchmark_results_model')
        batch_op.drop_index(batch_op.f('ix_benchmark_results_evaluation_id'))
        batch_op.drop_index('ix_benchmark_results_board')

    op.drop_table('benchmark_results')
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_documents_owner_id'))

    op.drop_table('search_documents')
    with op.batch_alter_table('model_feedback', schema=None) as batch_op:
        batch_op.drop_index('uq_model_feedback_user_model')
        batch_op.drop_index(batch_op.f('ix_model_feedback_model_id'))

    op.drop_table('model_feedback')
    with op.batch_alter_table('journal_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_notes_owner_id'))
        batch_op.drop_index('ix_journal_notes_entry')

    op.drop_table('journal_notes')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluations_model')
        batch_op.drop_index('ix_evaluations_cache')

    op.drop_table('evaluations')
    with op.batch_alter_table('entry_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_tags_tag')

    op.drop_table('entry_tags')
    with op.batch_alter_table('entry_events', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_events_owner_time')
        batch_op.drop_index('ix_entry_events_entry')

    op.drop_table('entry_events')
    with op.batch_alter_table('entry_embeddings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entry_embeddings_owner_id'))

    op.drop_table('entry_embeddings')
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_runs_parent_model_id'))
        batch_op.drop_index('ix_training_runs_owner')
        batch_op.drop_index(batch_op.f('ix_training_runs_output_model_id'))
        batch_op.drop_index('ix_training_runs_outcome')
        batch_op.drop_index(batch_op.f('ix_training_runs_job_id'))
        batch_op.drop_index(batch_op.f('ix_training_runs_dataset_id'))
        batch_op.drop_index(batch_op.f('ix_training_runs_base_model_id'))

    op.drop_table('training_runs')
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index('ix_entries_owner_license')
        batch_op.drop_index('ix_entries_owner_developer')
        batch_op.drop_index('ix_entries_owner_type')
        batch_op.drop_index('ix_entries_owner_parameters')
        batch_op.drop_index('ix_entries_owner_name')
        batch_op.drop_index('uq_entries_owner_model')
        batch_op.drop_index('ix_entries_owner_updated')
        batch_op.drop_index('ix_entries_owner_status')
        batch_op.drop_index('ix_entries_owner_rating')
        batch_op.drop_index('ix_entries_owner_date')
        batch_op.drop_index('ix_entries_owner_created')
        batch_op.drop_index('ix_entries_model')

    op.drop_table('entries')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))

    op.drop_table('user_sessions')
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.drop_index('uq_tags_owner_key')

    op.drop_table('tags')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_index('uq_models_name_developer')
        batch_op.drop_index(batch_op.f('ix_models_parent_model_id'))
        batch_op.drop_index('ix_models_parameters')
        batch_op.drop_index(batch_op.f('ix_models_owner_id'))
        batch_op.drop_index('ix_models_model_type')
        batch_op.drop_index(batch_op.f('ix_models_base_model_id'))

    op.drop_table('models')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('uq_jobs_idempotency')
        batch_op.drop_index('ix_jobs_owner')
        batch_op.drop_index('ix_jobs_lease')
        batch_op.drop_index('ix_jobs_claim')

    op.drop_table('jobs')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_parent_dataset_id'))
        batch_op.drop_index('ix_datasets_owner')
        batch_op.drop_index('ix_datasets_hash')

    op.drop_table('datasets')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
        batch_op.drop_index(batch_op.f('ix_api_tokens_prefix'))

    op.drop_table('api_tokens')
    op.drop_table('users')
