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

``capability_change_facts`` (per model and target domain: its domain-level changes' count, Σ delta·10¹², flagged
up/down, training domain, base and scope: 0 everyone, an owner's id, -1 admins only) and ``capability_change_totals``
(their sums per grouping, key, domain and scope): the capability-change aggregates become a sum over the totals of
the scopes a viewer may see instead of a pass over every change. Backfilled here from the existing changes with a
frozen copy of the rules (``research.repository.change_facts``).
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


def _scope(mv: str, mo: int | None, rv: str, ro: int | None) -> int:
    owners = {o for v, o in ((mv, mo), (rv, ro)) if v != 'public'}
    if not owners:
        return 0
    owner = owners.pop()
    return owner if owner is not None and not owners else -1


def _change_totals(id_type: Any) -> None:
    facts = op.create_table(
        'capability_change_facts',
        sa.Column('model_id', id_type, primary_key=True), sa.Column('domain', sa.String(32), primary_key=True),
        sa.Column('training_domain', sa.String(64), nullable=False), sa.Column('base_id', id_type, nullable=True),
        sa.Column('scope', sa.BigInteger(), nullable=False), sa.Column('n_changes', sa.Integer(), nullable=False),
        sa.Column('sum_delta_e12', sa.BigInteger(), nullable=False), sa.Column('n_up', sa.Integer(), nullable=False),
        sa.Column('n_down', sa.Integer(), nullable=False))
    counters = ('n_models', 'n_changes', 'sum_delta_e12', 'n_up', 'n_down')
    totals = op.create_table(
        'capability_change_totals',
        sa.Column('grouping', sa.String(16), primary_key=True), sa.Column('key', sa.String(64), primary_key=True),
        sa.Column('domain', sa.String(32), primary_key=True), sa.Column('scope', sa.BigInteger(), primary_key=True),
        *[sa.Column(c, sa.BigInteger(), nullable=False) for c in counters])
    changes = sa.table('capability_changes', sa.column('model_id', id_type), sa.column('reference_model_id', id_type),
                       sa.column('domain', sa.String()), sa.column('task', sa.String()),
                       sa.column('delta', sa.Float()), sa.column('flagged', sa.Boolean()),
                       sa.column('direction', sa.String()))
    models = sa.table('models', sa.column('id', id_type), sa.column('visibility', sa.String()),
                      sa.column('owner_id', id_type), sa.column('base_model_id', id_type))
    runs = sa.table('training_runs', sa.column('id', id_type), sa.column('output_model_id', id_type),
                    sa.column('dataset_id', id_type))
    datasets = sa.table('datasets', sa.column('id', id_type), sa.column('domain', sa.String()))
    mine, ref = models.alias('mine'), models.alias('ref')
    first = (sa.select(runs.c.output_model_id.label('model_id'), sa.func.min(runs.c.id).label('run_id'))
             .where(runs.c.output_model_id.is_not(None)).group_by(runs.c.output_model_id).subquery())
    run = runs.alias('first_run')
    stmt = (sa.select(changes.c.model_id, changes.c.domain, changes.c.delta, changes.c.flagged, changes.c.direction,
                      mine.c.visibility, mine.c.owner_id, mine.c.base_model_id, ref.c.visibility, ref.c.owner_id,
                      datasets.c.domain)
            .select_from(changes.join(mine, mine.c.id == changes.c.model_id)
                         .join(ref, ref.c.id == changes.c.reference_model_id)
                         .outerjoin(first, first.c.model_id == changes.c.model_id)
                         .outerjoin(run, run.c.id == first.c.run_id)
                         .outerjoin(datasets, datasets.c.id == run.c.dataset_id))
            .where(changes.c.task.is_(None)))
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for model_id, domain, delta, flagged, direction, mv, mo, base_id, rv, ro, trained in op.get_bind().execute(stmt):
        f = found.setdefault((model_id, domain), {
            'model_id': model_id, 'domain': domain, 'training_domain': trained or 'unknown', 'base_id': base_id,
            'scope': _scope(mv, mo, rv, ro), 'n_changes': 0, 'sum_delta_e12': 0, 'n_up': 0, 'n_down': 0})
        f['n_changes'] += 1
        f['sum_delta_e12'] += round(delta * 10**12)
        f['n_up'] += int(bool(flagged) and direction == 'up')
        f['n_down'] += int(bool(flagged) and direction == 'down')
    sums: dict[tuple[str, str, str, int], list[int]] = {}
    for f in found.values():
        keys = [('training_domain', f['training_domain'])] + ([('base', str(f['base_id']))] if f['base_id'] else [])
        for grouping, key in keys:
            total = sums.setdefault((grouping, key, f['domain'], f['scope']), [0, 0, 0, 0, 0])
            for i, v in enumerate((1, f['n_changes'], f['sum_delta_e12'], f['n_up'], f['n_down'])):
                total[i] += v
    rows = list(found.values())
    for start in range(0, len(rows), 5000):
        op.bulk_insert(facts, rows[start:start + 5000])
    op.bulk_insert(totals, [{'grouping': g, 'key': k, 'domain': d, 'scope': sc, **dict(zip(counters, v, strict=True))}
                            for (g, k, d, sc), v in sums.items()])


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
    _change_totals(id_type)


def downgrade() -> None:
    op.drop_table('capability_change_totals')
    op.drop_table('capability_change_facts')
    op.drop_index('ix_models_visible', table_name='models')
    op.drop_index('ix_training_runs_in_museum', table_name='training_runs')
    op.drop_index('ix_leaderboard_entries_base', table_name='leaderboard_entries')
    with op.batch_alter_table('leaderboard_entries') as batch:
        batch.drop_column('method')
        batch.drop_column('parameters')
        batch.drop_column('base_model_id')
