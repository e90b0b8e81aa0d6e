"""research: leaderboard entries and indexes for the research queries at scale (issue 19 §5)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

``leaderboard_entries (model_id, domain, score, stderr, settings_key, visibility, owner_id)``: one row per model and
scored domain (and ``overall``), derived from ``models.benchmark_scores`` (and a copy of the model's visibility and
owner; kept in step by the application on every change of these), so that a leaderboard reads one domain's rows through ``ix_leaderboard_entries_rank (domain,
settings_key, score DESC, model_id)`` — the most common settings by an index-only GROUP BY, the ranked page as the
first rows of the index — instead of parsing every model's scores JSON. Backfilled here from the existing scores
with a frozen copy of the rules (a score is a JSON number; overall = mean of the scored domains in sorted order,
stderr √Σe²/n when every one has a stderr, settings hash = sha256 of the domains' hashes).

``ix_training_runs_museum (created_at, id, training_outcome, failure_category, feedback_value, owner_id,
output_model_id, base_model_id)`` covers the museum's filter, counts and newest-first page and the research rows'
count without reading the runs themselves (whose curves make every row long: on SQLite a column stored after the
curve is reached only through its overflow pages);
``ix_training_runs_base_status (base_model_id, status, id)`` serves the advisor's candidates (finished runs on one
base, oldest first). See docs/performance.md.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

RUN_INDEXES = {'ix_training_runs_museum': ['created_at', 'id', 'training_outcome', 'failure_category',
                                          'feedback_value', 'owner_id', 'output_model_id', 'base_model_id'],
               'ix_training_runs_base_status': ['base_model_id', 'status', 'id']}
DOMAINS = ('math', 'code', 'knowledge', 'reasoning', 'reading', 'truthfulness')
NO_HASH = '\x01none'


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _entries(model_id: int, scores: dict[str, Any], visibility: str, owner_id: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    scored = {d: v for d, v in scores.items() if d in DOMAINS and isinstance(v, dict) and _number(v.get('score'))}
    for domain, entry in scored.items():
        out.append({'model_id': model_id, 'domain': domain, 'score': float(entry['score']),
                    'stderr': float(entry['stderr']) if _number(entry.get('stderr')) else None,
                    'settings_key': NO_HASH if entry.get('settings_hash') is None else str(entry['settings_hash']),
                    'visibility': visibility, 'owner_id': owner_id})
    if scored:
        names = sorted(scored)
        errs: list[Any] = [scored[d].get('stderr') for d in names]
        settings = {d: scored[d].get('settings_hash') for d in names}
        out.append({'model_id': model_id, 'domain': 'overall',
                    'score': sum(scored[d]['score'] for d in names) / len(names),
                    'stderr': math.sqrt(sum(e * e for e in errs)) / len(errs) if all(_number(e) for e in errs)
                    else None,
                    'settings_key': hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
                    .hexdigest(), 'visibility': visibility, 'owner_id': owner_id})
    return out


def upgrade() -> None:
    for name, columns in RUN_INDEXES.items():
        op.create_index(name, 'training_runs', columns, unique=False)
    id_type = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    table = op.create_table(
        'leaderboard_entries',
        sa.Column('model_id', id_type, sa.ForeignKey('models.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('domain', sa.String(32), primary_key=True),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('stderr', sa.Float(), nullable=True),
        sa.Column('settings_key', sa.String(200), nullable=False),
        sa.Column('visibility', sa.String(16), nullable=False),
        sa.Column('owner_id', id_type, nullable=True))
    op.create_index('ix_leaderboard_entries_rank', 'leaderboard_entries',
                    ['domain', 'settings_key', sa.text('score DESC'), 'model_id', 'visibility', 'owner_id'])
    op.create_index('ix_leaderboard_entries_score', 'leaderboard_entries', ['domain', sa.text('score DESC'), 'model_id'])
    bind = op.get_bind()
    models = sa.table('models', sa.column('id', id_type), sa.column('benchmark_scores', sa.JSON()),
                      sa.column('visibility', sa.String()), sa.column('owner_id', id_type))
    rows: list[dict[str, Any]] = []
    for model_id, scores, visibility, owner_id in bind.execute(
            sa.select(models.c.id, models.c.benchmark_scores, models.c.visibility, models.c.owner_id)):
        if isinstance(scores, str):
            scores = json.loads(scores)
        rows += _entries(model_id, scores or {}, visibility, owner_id)
        if len(rows) >= 5000:
            op.bulk_insert(table, rows)
            rows = []
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index('ix_leaderboard_entries_score', table_name='leaderboard_entries')
    op.drop_index('ix_leaderboard_entries_rank', table_name='leaderboard_entries')
    op.drop_table('leaderboard_entries')
    for name in RUN_INDEXES:
        op.drop_index(name, table_name='training_runs')
