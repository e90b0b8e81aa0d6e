"""catalog: rows created by logging are private until shared

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

A private tracker entry for an unknown model used to create a *public* catalog row carrying the creator's id, which
every other user could find (``GET /models?q=``). Catalog rows that users create are now private to their creator
until shared (``PATCH /models/{id} {"visibility": "public"}``), and their identity (name + developer, HF id, GitHub
repo) is unique among public rows and per owner among private rows, so a private row never makes another user's
create fail (a 409 would reveal it).

Existing installs: an external row created by a user (``owner_id`` set) that nothing of anyone else references (no
other user's entry, no training run, no derived model) becomes private to its creator. Rows that other users
already log stay public (making them private would take them away from those users); the API no longer shows
who created any row. Rows without an owner (base models, the demo catalog) stay public.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

PUBLIC = sa.text("visibility = 'public'")
PRIVATE = sa.text("visibility = 'private'")

PRIVATISE = """
UPDATE models SET visibility = 'private'
WHERE visibility = 'public' AND owner_id IS NOT NULL AND kind = 'external'
  AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.model_id = models.id AND e.owner_id <> models.owner_id)
  AND NOT EXISTS (SELECT 1 FROM training_runs r WHERE r.base_model_id = models.id OR r.parent_model_id = models.id
                                                   OR r.output_model_id = models.id)
  AND NOT EXISTS (SELECT 1 FROM models d WHERE d.parent_model_id = models.id OR d.base_model_id = models.id)
"""


def _drop_global() -> None:
    op.drop_index('uq_models_name_developer', table_name='models')
    op.drop_index('uq_models_hf_repo_key', table_name='models')
    op.drop_index('uq_models_github_repo_key', table_name='models')


def upgrade() -> None:
    # Plain CREATE/DROP INDEX (no batch rebuild of `models`: see 0003).
    _drop_global()
    op.execute(PRIVATISE)
    op.create_index('uq_models_name_developer', 'models', ['name_key', 'developer_key'], unique=True,
                    sqlite_where=PUBLIC, postgresql_where=PUBLIC)
    op.create_index('uq_models_private_name_developer', 'models', ['owner_id', 'name_key', 'developer_key'],
                    unique=True, sqlite_where=PRIVATE, postgresql_where=PRIVATE)
    op.create_index('uq_models_hf_repo_key', 'models', [sa.text('lower(hf_repo_id)')], unique=True,
                    sqlite_where=PUBLIC, postgresql_where=PUBLIC)
    op.create_index('uq_models_github_repo_key', 'models', [sa.text('lower(github_repo)')], unique=True,
                    sqlite_where=PUBLIC, postgresql_where=PUBLIC)
    op.create_index('uq_models_private_hf_repo_key', 'models', ['owner_id', sa.text('lower(hf_repo_id)')],
                    unique=True, sqlite_where=PRIVATE, postgresql_where=PRIVATE)
    op.create_index('uq_models_private_github_repo_key', 'models', ['owner_id', sa.text('lower(github_repo)')],
                    unique=True, sqlite_where=PRIVATE, postgresql_where=PRIVATE)
    # Plain lookup indexes: duplicate checks ask "public OR the viewer's own", which no partial index answers
    # (without them every check scanned the whole table: an import of 100k rows slowed to ~200 rows/s).
    op.create_index('ix_models_name_developer', 'models', ['name_key', 'developer_key'])
    op.create_index('ix_models_hf_repo_key', 'models', [sa.text('lower(hf_repo_id)')])
    op.create_index('ix_models_github_repo_key', 'models', [sa.text('lower(github_repo)')])


def downgrade() -> None:
    for name in ('ix_models_github_repo_key', 'ix_models_hf_repo_key', 'ix_models_name_developer'):
        op.drop_index(name, table_name='models')
    # Global uniqueness comes back; it fails (as it should) if two users made private rows with one identity.
    for name in ('uq_models_private_github_repo_key', 'uq_models_private_hf_repo_key',
                 'uq_models_private_name_developer'):
        op.drop_index(name, table_name='models')
    _drop_global()
    op.create_index('uq_models_name_developer', 'models', ['name_key', 'developer_key'], unique=True)
    op.create_index('uq_models_hf_repo_key', 'models', [sa.text('lower(hf_repo_id)')], unique=True)
    op.create_index('uq_models_github_repo_key', 'models', [sa.text('lower(github_repo)')], unique=True)
