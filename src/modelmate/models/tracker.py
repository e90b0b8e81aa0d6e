"""Per-user tracker data: entries, tags, journal notes, events, search documents, embeddings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from modelmate.db.base import Base, IdType, JSONType, UTCDateTime, utcnow


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (Index("uq_tags_owner_key", "owner_id", "name_key", unique=True),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EntryTag(Base):
    __tablename__ = "entry_tags"
    __table_args__ = (Index("ix_entry_tags_tag", "tag_id", "entry_id"),)

    entry_id: Mapped[int] = mapped_column(IdType, ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(IdType, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint("status IN ('wishlist','tried','studied','using','archived')", name="status"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating"),
        CheckConstraint("visibility IN ('private','public')", name="visibility"),
        Index("uq_entries_owner_model", "owner_id", "model_id", unique=True),
        # Status/type filters and their counts use its prefix; the four entry facets walk all of it, covered
        # (migration 0007; it replaced ix_entries_owner_status (owner_id, status, model_type)).
        Index("ix_entries_owner_facets", "owner_id", "status", "model_type", "model_developer_key", "model_license",
              "model_developer"),
        Index("ix_entries_owner_updated", "owner_id", "updated_at"),
        Index("ix_entries_owner_date", "owner_id", "date_interacted"),
        Index("ix_entries_owner_rating", "owner_id", "rating"),
        Index("ix_entries_owner_created", "owner_id", "created_at"),
        Index("ix_entries_model", "model_id"),
        # Sorts and facets on the copied catalog keys (the trailing id makes the order total and index-served).
        Index("ix_entries_owner_name", "owner_id", "model_name_key", "id"),
        Index("ix_entries_owner_parameters", "owner_id", "model_parameters", "id"),
        # PostgreSQL only (migration 0007): the nullable sorts run "DESC NULLS LAST", an order a default B-tree
        # can't deliver (walked backwards it gives NULLS FIRST), so PostgreSQL sorted all 100k rows per request.
        Index("ix_entries_owner_parameters_desc", "owner_id", text("model_parameters DESC NULLS LAST"),
              text("id DESC")).ddl_if(dialect="postgresql"),
        Index("ix_entries_owner_rating_desc", "owner_id", text("rating DESC NULLS LAST"),
              text("id DESC")).ddl_if(dialect="postgresql"),
        Index("ix_entries_owner_type", "owner_id", "model_type"),
        Index("ix_entries_owner_developer", "owner_id", "model_developer_key", "model_developer"),
        Index("ix_entries_owner_license", "owner_id", "model_license"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default="wishlist")
    date_interacted: Mapped[date | None] = mapped_column(Date)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    notes: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Copies of the catalog model's sort/filter/facet keys, so listing, counting and faceting 100k entries never
    # joins ``models``. Written with the entry (``catalog.repository.entry_copies``) and rewritten for every
    # entry of a model when the model changes (``catalog.repository.sync_entry_copies``).
    model_name_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    model_type: Mapped[str] = mapped_column(String(32), default="Other", server_default="Other")
    model_developer: Mapped[str | None] = mapped_column(String(200))
    model_developer_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    model_license: Mapped[str | None] = mapped_column(String(100))
    model_parameters: Mapped[int | None] = mapped_column(BigInteger)

    model = relationship("Model", lazy="joined", innerjoin=True)
    tags = relationship("Tag", secondary="entry_tags", lazy="selectin", order_by="Tag.name_key")


class JournalNote(Base):
    """Timestamped note on an entry, so the timeline can replay your thoughts."""

    __tablename__ = "journal_notes"
    __table_args__ = (Index("ix_journal_notes_entry", "entry_id", "created_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    entry_id: Mapped[int] = mapped_column(IdType, ForeignKey("entries.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EntryEvent(Base):
    """Append-only history of an entry: added, status changed, note added, rated, updated, deleted."""

    __tablename__ = "entry_events"
    __table_args__ = (
        Index("ix_entry_events_owner_time", "owner_id", "occurred_at"),
        Index("ix_entry_events_entry", "entry_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    entry_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("entries.id", ondelete="SET NULL"))
    model_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("models.id", ondelete="SET NULL"))
    model_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchDocument(Base):
    """Denormalised text of one entry (model fields + tags + notes + journal) for full-text search.

    On SQLite an FTS5 external-content table ``search_fts`` indexes it (kept in sync by triggers);
    on PostgreSQL a generated ``tsvector`` column with a GIN index does.
    """

    __tablename__ = "search_documents"

    entry_id: Mapped[int] = mapped_column(IdType, ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text, default="")
    developer: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class EntryEmbedding(Base):
    """Sentence embedding of an entry's text (float32 little-endian bytes; never pickled)."""

    __tablename__ = "entry_embeddings"

    entry_id: Mapped[int] = mapped_column(IdType, ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    embedder: Mapped[str] = mapped_column(String(100))
    dim: Mapped[int] = mapped_column()
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    text_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportBatch(Base):
    """A large import being written in short transactions (``transfer.batches``).

    ``staging``: the validated rows are being copied into ``import_staged_rows`` — nothing of the import is
    visible yet; a crash or failure discards the batch. ``applying``: the import is decided (one short commit flips
    the state); its staged rows are applied chunk by chunk, each chunk deleting its staged rows in the same
    transaction, and a crash is finished at the next start. The row is deleted when the import is done.
    """

    __tablename__ = "import_batches"
    __table_args__ = (CheckConstraint("state IN ('staging','applying')", name="state"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="staging")
    total_rows: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportStagedRow(Base):
    """One validated import row waiting to be applied (its ``TransferRow`` as JSON and the fields the file set)."""

    __tablename__ = "import_staged_rows"

    batch_id: Mapped[int] = mapped_column(IdType, ForeignKey("import_batches.id", ondelete="CASCADE"),
                                          primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    row_no: Mapped[int] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    fields: Mapped[list[str]] = mapped_column(JSONType)
