"""hub: model slugs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Fine-tuned models get a URL name (``slug``) unique per owner: their page is ``/m/<owner>/<slug>`` and their
repo id on the hub (download, Hugging Face compatible endpoint) ``<owner>/<slug>``. Existing fine-tuned rows are
backfilled here (slugify(name), deduplicated per owner with -2, -3…); other kinds keep a NULL slug.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# A frozen copy of modelmate.catalog.slugs as it was when this revision was written: a migration imports no
# application code, so a later change to how new slugs are made never changes what this backfill did.
_MAX_SLUG = 96
_OUTSIDE = re.compile(r"[^a-z0-9._-]+")


def _slugify(name: str | None) -> str:
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii").lower()
    slug = _OUTSIDE.sub("-", text).strip("-.")
    slug = slug[:_MAX_SLUG].strip("-.")
    return slug or "model"


def _dedupe(base: str, taken: Callable[[str], bool]) -> str:
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        suffix = f"-{n}"
        candidate = base[:_MAX_SLUG - len(suffix)].rstrip("-.") + suffix
    return candidate


def upgrade() -> None:
    # Plain ALTER TABLE (no batch table rebuild: rebuilding `models` would drop its expression indexes and, with
    # foreign keys on, touch every table that references it).
    op.add_column('models', sa.Column('slug', sa.String(length=200), nullable=True))
    models = sa.table('models', sa.column('id', sa.BigInteger()), sa.column('name', sa.String()),
                      sa.column('owner_id', sa.BigInteger()), sa.column('kind', sa.String()),
                      sa.column('slug', sa.String()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(models.c.id, models.c.name, models.c.owner_id)
                        .where(models.c.kind == 'finetuned').order_by(models.c.id)).all()
    used: dict[object, set[str]] = {}
    for model_id, name, owner_id in rows:
        taken = used.setdefault(owner_id, set())
        slug = _dedupe(_slugify(name), taken.__contains__)
        taken.add(slug)
        conn.execute(models.update().where(models.c.id == model_id).values(slug=slug))
    op.create_index('uq_models_owner_slug', 'models', ['owner_id', 'slug'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_models_owner_slug', table_name='models')
    op.drop_column('models', 'slug')  # SQLite >= 3.35 drops a column in place
