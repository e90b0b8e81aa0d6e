"""research: every run's compact curve, for the curve-history band (issue 20 §5)

Revision ID: 0014
Revises: 0011 (re-chained after 0012/0013 at merge)
Create Date: 2026-12-05

``run_curve_points (run_id, bucket, loss, points, last_step)``: a run's mean training loss per log-spaced step
bucket (four per doubling of the step; ``modelmate.training.curve_buckets``), ~30–60 rows a run, rewritten by the
application whenever the run's ``loss_curve_data`` is saved. The curve-history endpoint computes its band (median,
quartiles, deciles per bucket) over these rows in SQL instead of parsing every run's JSON curve.
``ix_training_runs_base_created (base_model_id, created_at, id, status, owner_id, output_model_id, dataset_id)``
finds a base model's earlier runs, newest first, without reading the runs' long rows. Backfilled here from every
run's curve with a frozen copy of the bucketing rules (tests/db/test_migration_0014.py compares it with the
application's).
"""

from __future__ import annotations

import json
import math
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

PER_DOUBLING = 4
BATCH = 500
RUN_INDEX = ['base_model_id', 'created_at', 'id', 'status', 'owner_id', 'output_model_id', 'dataset_id']


def _start(bucket: int) -> int:
    return 0 if bucket <= 0 else math.ceil(2 ** (bucket / PER_DOUBLING) - 1e-9)


def _bucket(step: int) -> int:
    if step <= 1:
        return 0
    b = int(math.floor(PER_DOUBLING * math.log2(step)))
    while _start(b + 1) <= step:
        b += 1
    while b > 0 and _start(b) > step:
        b -= 1
    return b


def _rows(run_id: int, curve: Any) -> list[dict[str, Any]]:
    sums: dict[int, list[float]] = {}
    last: dict[int, int] = {}
    for point in curve if isinstance(curve, list) else []:
        if not isinstance(point, dict):
            continue
        step, loss = point.get('step'), point.get('loss')
        if isinstance(loss, bool) or not isinstance(loss, int | float) or not math.isfinite(float(loss)):
            continue
        if isinstance(step, bool) or not isinstance(step, int | float) or step < 0:
            continue
        b = _bucket(int(step))
        acc = sums.setdefault(b, [0.0, 0.0])
        acc[0] += float(loss)
        acc[1] += 1
        last[b] = max(last.get(b, 0), int(step))
    return [{'run_id': run_id, 'bucket': b, 'loss': acc[0] / acc[1], 'points': int(acc[1]), 'last_step': last[b]}
            for b, acc in sorted(sums.items())]


def upgrade() -> None:
    op.create_index('ix_training_runs_base_created', 'training_runs', RUN_INDEX, unique=False)
    id_type = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    table = op.create_table(
        'run_curve_points',
        sa.Column('run_id', id_type, sa.ForeignKey('training_runs.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('bucket', sa.Integer(), primary_key=True),
        sa.Column('loss', sa.Float(), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('last_step', sa.Integer(), nullable=False),
        sqlite_with_rowid=False)  # SQLite: rows clustered by (run_id, bucket); ignored elsewhere
    bind = op.get_bind()
    runs = sa.table('training_runs', sa.column('id', id_type), sa.column('loss_curve_data', sa.JSON()))
    after = 0
    while True:  # id batches: only two columns of BATCH runs in memory at a time
        batch = bind.execute(sa.select(runs.c.id, runs.c.loss_curve_data).where(runs.c.id > after)
                             .order_by(runs.c.id).limit(BATCH)).all()
        if not batch:
            break
        rows: list[dict[str, Any]] = []
        for run_id, curve in batch:
            rows += _rows(run_id, json.loads(curve) if isinstance(curve, str) else curve)
        if rows:
            op.bulk_insert(table, rows)
        after = batch[-1][0]


def downgrade() -> None:
    op.drop_table('run_curve_points')
    op.drop_index('ix_training_runs_base_created', table_name='training_runs')
