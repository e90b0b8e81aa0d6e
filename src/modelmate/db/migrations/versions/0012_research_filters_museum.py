"""research: leaderboard filter columns and the museum's partial index (issue 19 §5)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

``leaderboard_entries`` gains a copy of the model's ``base_model_id``, ``parameters`` and method (base, lora,
finetuned, external: ``leaderboard.method_of``), kept in step by the application's flush hook like the visibility,
so that a filtered board (``base_model_id``, ``min_params``/``max_params``, ``method``) reads the entries alone
through ``ix_leaderboard_entries_base (domain, base_model_id, settings_key, score DESC, model_id, visibility,
owner_id, parameters, method)`` instead of joining ``models`` for every entry of the domain. Backfilled here from
the models with a frozen copy of the method rule.

``ix_training_runs_in_museum``: the museum's covering index restricted to the museum's runs (its rule as the index
condition), so that its category counts and total read the ~15 % of runs in the museum, not every run.
``ix_models_visible (id, visibility, owner_id)``: the visibility checks made through a join (a run's output model
for the research rows' count, a capability change's model and reference) read this index, not the long model rows.
See docs/performance.md.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

MUSEUM_WHERE = ("training_outcome IN ('failure', 'partial') OR failure_category IS NOT NULL "
                "OR feedback_value = -1")
MUSEUM_COLUMNS = ['created_at', 'id', 'training_outcome', 'failure_category', 'feedback_value', 'owner_id',
                  'output_model_id', 'base_model_id']
BASE_INDEX: list[Any] = ['domain', 'base_model_id', 'settings_key', sa.text('score DESC'), 'model_id', 'visibility', 'owner_id',
              'parameters', 'method']


def _method(kind: str, hub_info: Any) -> str:
    if isinstance(hub_info, str):
        hub_info = json.loads(hub_info)
    if kind == 'base':
        return 'base'
    if kind == 'finetuned':
        return 'lora' if (hub_info or {}).get('adapter') else 'finetuned'
    return 'external'


def upgrade() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.add_column('leaderboard_entries', sa.Column('base_model_id', id_type, nullable=True))
    op.add_column('leaderboard_entries', sa.Column('parameters', sa.BigInteger(), nullable=True))
    op.add_column('leaderboard_entries', sa.Column('method', sa.String(16), nullable=True))
    bind = op.get_bind()
    models = sa.table('models', sa.column('id', id_type), sa.column('kind', sa.String()),
                      sa.column('hub_info', sa.JSON()), sa.column('base_model_id', id_type),
                      sa.column('parameters', sa.BigInteger()))
    entries = sa.table('leaderboard_entries', sa.column('model_id', id_type), sa.column('base_model_id', id_type),
                       sa.column('parameters', sa.BigInteger()), sa.column('method', sa.String()))
    scored = sa.select(entries.c.model_id).distinct().scalar_subquery()
    update = (entries.update().where(entries.c.model_id == sa.bindparam('m_id'))
              .values(base_model_id=sa.bindparam('m_base'), parameters=sa.bindparam('m_params'),
                      method=sa.bindparam('m_method')))
    rows: list[dict[str, Any]] = []
    for model_id, kind, hub_info, base_id, params in bind.execute(
            sa.select(models.c.id, models.c.kind, models.c.hub_info, models.c.base_model_id, models.c.parameters)
            .where(models.c.id.in_(scored))):
        rows.append({'m_id': model_id, 'm_base': base_id, 'm_params': params, 'm_method': _method(kind, hub_info)})
        if len(rows) >= 5000:
            bind.execute(update, rows)
            rows = []
    if rows:
        bind.execute(update, rows)
    op.create_index('ix_leaderboard_entries_base', 'leaderboard_entries', BASE_INDEX)
    op.create_index('ix_training_runs_in_museum', 'training_runs', MUSEUM_COLUMNS,
                    sqlite_where=sa.text(MUSEUM_WHERE), postgresql_where=sa.text(MUSEUM_WHERE))
    op.create_index('ix_models_visible', 'models', ['id', 'visibility', 'owner_id'])


def downgrade() -> None:
    op.drop_index('ix_models_visible', table_name='models')
    op.drop_index('ix_training_runs_in_museum', table_name='training_runs')
    op.drop_index('ix_leaderboard_entries_base', table_name='leaderboard_entries')
    with op.batch_alter_table('leaderboard_entries') as batch:
        batch.drop_column('method')
        batch.drop_column('parameters')
        batch.drop_column('base_model_id')
