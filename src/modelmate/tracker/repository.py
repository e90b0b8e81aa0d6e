"""SQL for tracker entries, tags, journal notes, events and search documents."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    Text,
    bindparam,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import QueryableAttribute, Session, selectinload
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from modelmate.catalog.repository import normalise_key
from modelmate.db.like import LIKE_ESCAPE, starts_with
from modelmate.models import Entry, EntryEvent, EntryTag, JournalNote, SearchDocument, Tag
from modelmate.tracker.fulltext import fts5_query, query_words
from modelmate.tracker.schemas import EntryFilter, SortField, SortOrder, TagMode

FACET_LIMIT = 50


# --- entries -----------------------------------------------------------------------------------------------

def get_entry(session: Session, owner_id: int, entry_id: int) -> Entry | None:
    return session.scalars(select(Entry).where(Entry.id == entry_id, Entry.owner_id == owner_id)).first()


def get_entry_for_model(session: Session, owner_id: int, model_id: int) -> Entry | None:
    return session.scalars(select(Entry).where(Entry.owner_id == owner_id, Entry.model_id == model_id)).first()


def get_entries(session: Session, owner_id: int, ids: Sequence[int]) -> list[Entry]:
    if not ids:
        return []
    return list(session.scalars(select(Entry).where(Entry.owner_id == owner_id, Entry.id.in_(list(ids)))))


def _tag_keys(names: Iterable[str]) -> list[str]:
    return sorted({normalise_key(n) for n in names if n.strip()})


def _fts_match_ids(session: Session, owner_id: int, q: str) -> Select | None:
    """Entry ids whose search document matches ``q`` (None: nothing searchable).

    SQLite: the FTS5 match alone, as an ``IN (...)`` list that SQLite builds once. Ownership is the caller's
    ``entries.owner_id`` condition. Never a join with the FTS table: SQLite may then put the join's other side
    first and run one FTS query per entry (measured: 50 s at 100k entries).
    """
    dialect = session.get_bind().dialect.name
    if dialect != "sqlite":
        return matching_entry_ids(dialect, owner_id, q)
    expr = fts5_query(q)
    if expr is None:
        return None
    return (select(literal_column("rowid")).select_from(text("search_fts"))
            .where(text("search_fts MATCH :fts_q").bindparams(bindparam("fts_q", expr))))


# The four facets counted on the entries table, and the entry column each one filters and groups by.
ENTRY_FACETS = ("status", "model_type", "developer", "license")
_ENTRY_FACET_KEYS: Mapping[str, QueryableAttribute[Any]] = {
    "status": Entry.status, "model_type": Entry.model_type, "developer": Entry.model_developer_key,
    "license": Entry.model_license}


def _facet_conditions(f: EntryFilter, cols: Mapping[str, QueryableAttribute[Any]] | ReadOnlyColumnCollection[str, Any],
                      ) -> dict[str, ColumnElement[bool]]:
    """The status/type/developer/license filters of ``f`` on ``cols`` (the entries table's key columns, or the
    same columns of the grouped facet counts): one definition for listing and faceting."""
    out: dict[str, ColumnElement[bool]] = {}
    if f.status:
        out["status"] = cols["status"].in_([s.value for s in f.status])
    if f.model_type:
        out["model_type"] = cols["model_type"].in_(f.model_type)
    if f.developer:
        out["developer"] = cols["developer"].in_([normalise_key(d) for d in f.developer])
    if f.license:
        out["license"] = func.lower(cols["license"]).in_([lic.strip().lower() for lic in f.license])
    return out


def _pg_tag_ids(session: Session, owner_id: int, keys: list[str]) -> ColumnElement[bool]:
    """PostgreSQL: ``entry_tags.tag_id IN (<ids>)`` with the owner's tag ids resolved first and written as integer
    literals. Through a name → id subquery the planner assumes an average tag (1,423 links at 100k entries) and
    probes every tagged entry by primary key (93 ms for a tag on a third of the entries); with the ids in the text
    it reads ``tag_id``'s statistics and hash-joins a bitmap scan instead (16–21 ms; docs/performance.md). Literals,
    not bound parameters: psycopg prepares a statement after five runs and a generic plan would guess again."""
    ids = session.scalars(select(Tag.id).where(Tag.owner_id == owner_id, Tag.name_key.in_(keys))).all()
    if not ids:
        return false()
    return EntryTag.tag_id.in_([literal_column(str(int(i))) for i in ids])


def filtered(session: Session, owner_id: int, f: EntryFilter, *, skip: str | Collection[str] | None = None,
             fts_driven: bool = False) -> Select:
    """SELECT Entry with every filter applied (``skip`` leaves facets' own filters out: one name or several).

    Filters use the entry's copies of the catalog keys (``Entry.model_*``), so there is never a join with
    ``models``. ``fts_driven`` (counts): with a text query on SQLite, hide the owner condition from the index
    planner so SQLite walks the (usually much shorter) list of FTS matches by rowid instead of the owner's
    whole index, probing each entry against the list.
    """
    skipped = {skip} if isinstance(skip, str) else set(skip or ())
    owner_col = Entry.owner_id
    if fts_driven and f.q and f.q.strip() and session.get_bind().dialect.name == "sqlite":
        owner_col = Entry.owner_id + 0  # type: ignore[assignment]  # SQLite's "+col": no index on owner_id
    stmt = select(Entry).where(owner_col == owner_id)
    if f.ids:
        stmt = stmt.where(Entry.id.in_(f.ids))
    for name, condition in _facet_conditions(f, _ENTRY_FACET_KEYS).items():
        if name not in skipped:
            stmt = stmt.where(condition)
    if f.tag and "tags" not in skipped:
        keys = _tag_keys(f.tag)
        if session.get_bind().dialect.name == "postgresql":
            tagged = select(EntryTag.entry_id).where(_pg_tag_ids(session, owner_id, keys))
        else:
            tagged = (select(EntryTag.entry_id).join(Tag, Tag.id == EntryTag.tag_id)
                      .where(Tag.owner_id == owner_id, Tag.name_key.in_(keys)))
        if f.tag_mode == TagMode.ALL and len(keys) > 1:
            tagged = tagged.group_by(EntryTag.entry_id).having(func.count(func.distinct(EntryTag.tag_id)) == len(keys))
        # With a status/type filter the owner's index range is short: probe each of its rows against the tag
        # list ("+ 0" on SQLite) rather than seek every tagged entry in the index (10 vs 26 ms at 100k).
        narrow = bool(f.status or f.model_type) and session.get_bind().dialect.name == "sqlite"
        stmt = stmt.where((Entry.id + 0 if narrow else Entry.id).in_(tagged))
    if f.date_from:
        stmt = stmt.where(Entry.date_interacted >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Entry.date_interacted <= f.date_to)
    if f.min_parameters is not None:
        stmt = stmt.where(Entry.model_parameters >= f.min_parameters)
    if f.max_parameters is not None:
        stmt = stmt.where(Entry.model_parameters <= f.max_parameters)
    if f.min_rating is not None:
        stmt = stmt.where(Entry.rating >= f.min_rating)
    if f.q and f.q.strip():
        ids = _fts_match_ids(session, owner_id, f.q)
        if ids is not None:
            stmt = stmt.where(Entry.id.in_(ids))
    return stmt


_SORT_COLUMNS = {
    SortField.NAME: Entry.model_name_key,
    SortField.DATE: Entry.date_interacted,
    SortField.UPDATED: Entry.updated_at,
    SortField.CREATED: Entry.created_at,
    SortField.PARAMETERS: Entry.model_parameters,
    SortField.RATING: Entry.rating,
}
# Never NULL: no NULLS LAST clause, so an index can deliver the order in both directions.
_NOT_NULL_SORTS = {SortField.NAME, SortField.UPDATED, SortField.CREATED}


def filtered_ids(session: Session, owner_id: int, f: EntryFilter) -> list[int]:
    """The ids of the owner's entries that pass the filters (unordered)."""
    return list(session.scalars(filtered(session, owner_id, f).with_only_columns(Entry.id).order_by(None)))


def count_entries(session: Session, owner_id: int, f: EntryFilter) -> int:
    stmt = filtered(session, owner_id, f, fts_driven=True)
    return session.scalar(stmt.with_only_columns(func.count()).order_by(None)) or 0


def list_entries(session: Session, owner_id: int, f: EntryFilter, *, sort: SortField, order: SortOrder,
                 limit: int, offset: int) -> tuple[list[Entry], int]:
    # The page's models come in one extra query for its ids: no join over the whole filtered set.
    stmt = filtered(session, owner_id, f).options(selectinload(Entry.model))
    total = count_entries(session, owner_id, f)
    if total == 0 or offset >= total:
        return [], total
    col = _SORT_COLUMNS[sort]
    desc = order == SortOrder.DESC
    if sort in _NOT_NULL_SORTS:
        primary = col.desc() if desc else col.asc()
    else:
        primary = col.desc().nulls_last() if desc else col.asc().nulls_last()
    # Ties break on the entry id, so the order is total and the (owner_id, key, id) indexes deliver it.
    tiebreak = Entry.id.desc() if desc else Entry.id.asc()
    items = list(session.scalars(stmt.order_by(primary, tiebreak).limit(limit).offset(offset)))
    return items, total


def facet_counts(session: Session, owner_id: int, f: EntryFilter) -> dict[str, list[tuple[str, int]]]:
    """Counts per value, each facet computed with every filter except its own (so choices stay visible).

    With any filter, status, type, developer and license come from ONE pass over the owner's entries: the
    entries that pass every other filter are grouped by (status, type, developer key, license) — a walk of the
    covering index ``ix_entries_owner_facets`` — and each facet then sums those groups under the other three
    facets' filters. Before, each facet was its own GROUP BY, and behind a status filter the developer and
    license facets looked up every filtered row (issue 15 §4). Without filters each facet is a walk of its own
    narrow covering index. Ordering and ties stay in SQL (count descending, then the key in the database's
    collation), as before. Developers are grouped by their normalised key (what the developer filter matches)
    and shown with one of their spellings.
    """
    out = _entry_facet_counts(session, owner_id, f)
    # Count links per tag id first (a walk of the (tag_id, entry_id) index, or of the filtered entries' links),
    # then name the top ones: grouping by tag name over the join sorted 300k links at 100k entries.
    counts = select(EntryTag.tag_id, func.count().label("n"))
    if _has_filters(f, skip="tags"):
        base_ids = filtered(session, owner_id, f, skip="tags").with_only_columns(Entry.id).order_by(None)
        counts = counts.where(EntryTag.entry_id.in_(base_ids))
    else:
        counts = counts.where(EntryTag.tag_id.in_(select(Tag.id).where(Tag.owner_id == owner_id)))
    per_tag = counts.group_by(EntryTag.tag_id).subquery()
    tag_stmt = (select(Tag.name, per_tag.c.n).join(per_tag, per_tag.c.tag_id == Tag.id)
                .where(Tag.owner_id == owner_id).order_by(per_tag.c.n.desc(), Tag.name).limit(FACET_LIMIT))
    out["tags"] = [(str(v), int(c)) for v, c in session.execute(tag_stmt)]
    return {k: out[k] for k in ("status", "model_type", "developer", "license", "tags")}


def _entry_facet_counts(session: Session, owner_id: int, f: EntryFilter) -> dict[str, list[tuple[str, int]]]:
    if not _has_filters(f):
        return _unfiltered_entry_facet_counts(session, owner_id)
    groups = (filtered(session, owner_id, f, skip=ENTRY_FACETS)
              .with_only_columns(*(col.label(name) for name, col in _ENTRY_FACET_KEYS.items()),
                                 func.max(Entry.model_developer).label("developer_name"), func.count().label("n"))
              .group_by(*_ENTRY_FACET_KEYS.values()).order_by(None).cte("facet_groups"))
    conditions = _facet_conditions(f, groups.c)
    n = func.sum(groups.c.n)
    branches = []
    for name in ENTRY_FACETS:
        key = groups.c[name]
        value = func.max(groups.c.developer_name) if name == "developer" else key
        present = key != "" if name == "developer" else key.is_not(None)
        branch = (select(literal(name).label("facet"), value.label("value"), n.label("n"),
                         func.row_number().over(order_by=(n.desc(), key)).label("pos"))
                  .where(present, *(c for other, c in conditions.items() if other != name))
                  .group_by(key).order_by(n.desc(), key).limit(FACET_LIMIT).subquery())
        branches.append(select(branch))
    out: dict[str, list[tuple[str, int]]] = {name: [] for name in ENTRY_FACETS}
    for facet, value, count, _ in sorted(session.execute(union_all(*branches)), key=lambda r: (r[0], r[3])):
        if value is not None and str(value) != "":
            out[facet].append((str(value), int(count)))
    return out


def _unfiltered_entry_facet_counts(session: Session, owner_id: int) -> dict[str, list[tuple[str, int]]]:
    """No filter at all: one GROUP BY per facet, each a walk of a narrow (owner_id, key…) covering index — four
    narrow walks measured ~25 % faster than the one grouped pass over the wide index (11k groups at 100k)."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in ENTRY_FACETS:
        key = _ENTRY_FACET_KEYS[name]
        value = func.max(Entry.model_developer) if name == "developer" else key
        present = key != "" if name == "developer" else key.is_not(None)
        stmt = (select(value, func.count()).where(Entry.owner_id == owner_id, present).group_by(key)
                .order_by(func.count().desc(), key).limit(FACET_LIMIT))
        out[name] = [(str(v), int(c)) for v, c in session.execute(stmt) if v is not None and str(v) != ""]
    return out


def _has_filters(f: EntryFilter, skip: str | None = None) -> bool:
    """True when some filter (other than ``skip``'s) narrows the owner's entries."""
    values = f.model_dump(exclude={"tag_mode"})
    if skip == "tags":
        values.pop("tag")
    if not (values.get("q") or "").strip():
        values.pop("q")
    return any(v not in (None, [], "") for v in values.values())


# --- tags ----------------------------------------------------------------------------------------------------

def get_or_create_tags(session: Session, owner_id: int, names: Sequence[str]) -> list[Tag]:
    wanted = {normalise_key(n): n for n in names if n.strip()}
    if not wanted:
        return []
    existing = {t.name_key: t for t in session.scalars(
        select(Tag).where(Tag.owner_id == owner_id, Tag.name_key.in_(list(wanted))))}
    for key, name in wanted.items():
        if key not in existing:
            tag = Tag(owner_id=owner_id, name=name, name_key=key)
            session.add(tag)
            existing[key] = tag
    session.flush()
    return [existing[k] for k in wanted]


def list_tags(session: Session, owner_id: int, q: str | None, limit: int) -> list[tuple[str, int]]:
    stmt = (select(Tag.name, func.count(EntryTag.entry_id))
            .outerjoin(EntryTag, EntryTag.tag_id == Tag.id)
            .where(Tag.owner_id == owner_id)
            .group_by(Tag.id, Tag.name))
    if q:
        stmt = stmt.where(Tag.name_key.like(starts_with(normalise_key(q)), escape=LIKE_ESCAPE))
    stmt = stmt.having(func.count(EntryTag.entry_id) > 0).order_by(func.count(EntryTag.entry_id).desc(), Tag.name)
    return [(n, int(c)) for n, c in session.execute(stmt.limit(limit))]


def add_tags_to_entries(session: Session, entry_ids: Sequence[int], tags: Sequence[Tag]) -> None:
    if not entry_ids or not tags:
        return
    have = {(e, t) for e, t in session.execute(select(EntryTag.entry_id, EntryTag.tag_id).where(
        EntryTag.entry_id.in_(list(entry_ids)), EntryTag.tag_id.in_([t.id for t in tags])))}
    rows = [{"entry_id": e, "tag_id": t.id} for e in entry_ids for t in tags if (e, t.id) not in have]
    if rows:
        session.execute(insert(EntryTag), rows)


def remove_tags_from_entries(session: Session, entry_ids: Sequence[int], tag_keys: Sequence[str],
                             owner_id: int) -> None:
    tag_ids = select(Tag.id).where(Tag.owner_id == owner_id, Tag.name_key.in_(list(tag_keys)))
    session.execute(delete(EntryTag).where(EntryTag.entry_id.in_(list(entry_ids)), EntryTag.tag_id.in_(tag_ids)))


# --- journal and events ---------------------------------------------------------------------------------------

def list_journal(session: Session, entry_id: int) -> list[JournalNote]:
    return list(session.scalars(select(JournalNote).where(JournalNote.entry_id == entry_id)
                                .order_by(JournalNote.created_at.desc(), JournalNote.id.desc())))


def get_journal_note(session: Session, entry_id: int, note_id: int) -> JournalNote | None:
    return session.scalars(select(JournalNote).where(JournalNote.id == note_id,
                                                     JournalNote.entry_id == entry_id)).first()


def add_event(session: Session, event: EntryEvent) -> None:
    session.add(event)


def entry_events(session: Session, owner_id: int, entry_id: int) -> list[EntryEvent]:
    return list(session.scalars(select(EntryEvent).where(EntryEvent.owner_id == owner_id,
                                                         EntryEvent.entry_id == entry_id)
                                .order_by(EntryEvent.occurred_at.desc(), EntryEvent.id.desc())))


# --- search documents -----------------------------------------------------------------------------------------

def search_document_values(entry: Entry, journal_bodies: Sequence[str]) -> dict[str, object]:
    """The columns of an entry's search document (also used by bulk writers such as the importer)."""
    model = entry.model
    return {
        "owner_id": entry.owner_id,
        "name": " ".join(filter(None, [model.name, model.hf_repo_id, model.github_repo])),
        "developer": model.developer or "",
        "description": " ".join(filter(None, [model.description, model.license, model.model_type])),
        "tags": " ".join(t.name for t in entry.tags),
        "notes": "\n\n".join([entry.notes or "", *journal_bodies]).strip(),
    }


def upsert_search_document(session: Session, entry: Entry, journal_bodies: Sequence[str]) -> None:
    values = search_document_values(entry, journal_bodies)
    doc = session.get(SearchDocument, entry.id)
    if doc is None:
        session.add(SearchDocument(entry_id=entry.id, **values))
    else:
        for k, v in values.items():
            if getattr(doc, k) != v:
                setattr(doc, k, v)
    session.flush()


def journal_bodies(session: Session, entry_id: int) -> list[str]:
    return list(session.scalars(select(JournalNote.body).where(JournalNote.entry_id == entry_id)
                                .order_by(JournalNote.created_at)))


def entries_for_model(session: Session, model_id: int) -> list[Entry]:
    return list(session.scalars(select(Entry).where(Entry.model_id == model_id)))


# --- full-text match expressions (the words come from modelmate.tracker.fulltext) --------------------------------

def matching_entry_ids(dialect: str, owner_id: int, q: str) -> Select | None:
    """A SELECT of entry ids owned by ``owner_id`` whose document matches ``q`` (None: nothing searchable)."""
    if dialect == "sqlite":
        expr = fts5_query(q)
        if expr is None:
            return None
        return (
            select(SearchDocument.entry_id)
            .where(SearchDocument.owner_id == owner_id)
            .where(SearchDocument.entry_id.in_(
                select(literal_column("rowid")).select_from(text("search_fts"))
                .where(text("search_fts MATCH :fts_q").bindparams(bindparam("fts_q", expr)))
            ))
        )
    query = pg_tsquery(q)
    if query is None:
        return None
    return (
        select(SearchDocument.entry_id)
        .where(SearchDocument.owner_id == owner_id)
        .where(pg_tsv().op("@@", return_type=Boolean)(query))
    )


def pg_tsv() -> ColumnElement:
    """The generated ``search_documents.tsv`` column (PostgreSQL only; not mapped in the ORM)."""
    return literal_column("search_documents.tsv", TSVECTOR)


def pg_tsquery(q: str) -> ColumnElement | None:
    """A PostgreSQL ``tsquery`` expression for user text (None: nothing searchable).

    Every word must match (``&&``); a word matches through any of: its word tokens as a phrase with a
    prefix on the last one, in the ``simple`` and ``english`` configurations, or PostgreSQL's own parse of
    the raw word (``phraseto_tsquery``), also with a prefix on its last lexeme. The last form is what finds
    ``llama-3.1`` (parsed as ``llama`` + ``-3.1``) and ``gpt-4o`` the way they were indexed. User text is only
    ever a bound value: ``phraseto_tsquery`` has no syntax, and the token phrases are made of ``\\w`` tokens.
    """
    words = query_words(q)
    if not words:
        return None
    combined: ColumnElement | None = None
    for i, (word, tokens) in enumerate(words):
        simple, english, parsed_prefix = pg_word_forms(i, word, tokens)
        alternatives = (simple.op("||", return_type=TSQUERY)(english)
                        .op("||", return_type=TSQUERY)(parsed_prefix))
        term = alternatives.self_group()
        combined = term if combined is None else combined.op("&&", return_type=TSQUERY)(term)
    return combined


def pg_word_forms(i: int, word: str, tokens: list[str]) -> tuple[ColumnElement, ColumnElement, ColumnElement]:
    """The three ways one word matches (see :func:`pg_tsquery`), as tsquery expressions."""
    phrase = " <-> ".join(tokens[:-1] + [tokens[-1] + ":*"])
    tq = bindparam(f"pg_tq{i}", phrase, type_=Text, unique=True)
    raw = bindparam(f"pg_w{i}", word, type_=Text, unique=True)
    parsed = func.phraseto_tsquery(literal_column("'simple'"), raw, type_=TSQUERY)
    parsed_prefix = func.coalesce(
        cast(func.nullif(cast(parsed, Text), "").concat(":*"), TSQUERY),
        cast(literal_column("''"), TSQUERY),
    )
    return (func.to_tsquery(literal_column("'simple'"), tq, type_=TSQUERY),
            func.to_tsquery(literal_column("'english'"), tq, type_=TSQUERY), parsed_prefix)


def pg_tsquery_compact(session: Session, q: str) -> ColumnElement | None:
    """The tsquery of :func:`pg_tsquery` with each word's identical forms kept once, as one constant.

    For most words the three forms are the same (``'llama':* | 'llama':* | 'llama':*``), and ``ts_rank_cd()``
    pays for every operand of every matching document: ranking 51k matches took 161 ms with the repeated
    operands and 88 ms without, with identical scores (issue 15 §4). The forms are computed by the server in one
    round trip (PostgreSQL's parsers and stemmers decide them), de-duplicated as text, and sent back as one bound
    value cast to ``tsquery`` (tsquery text output reads back as the same query). Matches are unchanged: a
    repeated alternative of an OR adds nothing, and an empty form drops out as ``||``/``&&`` drop it.
    None: nothing searchable (no words, or only words without lexemes, which match nothing either way).
    """
    words = query_words(q)
    if not words:
        return None
    forms = [cast(form, Text) for i, (word, tokens) in enumerate(words) for form in pg_word_forms(i, word, tokens)]
    texts = session.execute(select(*forms)).one()
    groups = []
    for i in range(len(words)):
        distinct: list[str] = []
        for t in texts[3 * i:3 * i + 3]:
            if t and t not in distinct:
                distinct.append(t)
        if distinct:
            groups.append(" | ".join(f"( {t} )" for t in distinct))
    if not groups:
        return None
    return cast(bindparam("pg_tsq", " & ".join(f"( {g} )" for g in groups), type_=Text, unique=True), TSQUERY)
