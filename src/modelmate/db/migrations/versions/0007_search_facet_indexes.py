"""tracker: one covering index for the entry facets; NULLS LAST sort indexes on PostgreSQL (issue 15 §4)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

``ix_entries_owner_facets (owner_id, status, model_type, model_developer_key, model_license, model_developer)``
replaces ``ix_entries_owner_status (owner_id, status, model_type)``: it has the same leading columns (status and
type filters and their counts use it as before) and covers the one grouped pass that now computes the status,
type, developer and license facets (``tracker.repository.facet_counts``), so a status filter no longer costs a
row lookup per filtered entry.

PostgreSQL only: ``ix_entries_owner_parameters_desc`` and ``ix_entries_owner_rating_desc`` deliver the
``DESC NULLS LAST`` order of the nullable sorts (size, rating) that the ascending B-trees can't (walked backwards they
give NULLS FIRST), so a sort stops after one page instead of sorting every entry. SQLite has no NULLS LAST in index
definitions (and orders these sorts through its own indexes). See docs/performance.md (2026-12-04).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

DESC_NULLS_LAST = {'ix_entries_owner_parameters_desc': 'model_parameters', 'ix_entries_owner_rating_desc': 'rating'}
FACET_COLUMNS = ['owner_id', 'status', 'model_type', 'model_developer_key', 'model_license', 'model_developer']


def upgrade() -> None:
    # Plain CREATE/DROP INDEX on both backends: no batch rebuild of the table on SQLite.
    op.create_index('ix_entries_owner_facets', 'entries', FACET_COLUMNS, unique=False)
    op.drop_index('ix_entries_owner_status', table_name='entries')
    if op.get_bind().dialect.name == 'postgresql':
        for name, column in DESC_NULLS_LAST.items():
            op.create_index(name, 'entries', ['owner_id', sa.text(f'{column} DESC NULLS LAST'), sa.text('id DESC')])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name in DESC_NULLS_LAST:
            op.drop_index(name, table_name='entries')
    op.create_index('ix_entries_owner_status', 'entries', ['owner_id', 'status', 'model_type'], unique=False)
    op.drop_index('ix_entries_owner_facets', table_name='entries')
