"""SQL for tracker entries, tags, journal notes, events and search documents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session, contains_eager

from modelmate.catalog.repository import normalise_key
from modelmate.models import Entry, EntryEvent, EntryTag, JournalNote, Model, SearchDocument, Tag
from modelmate.search.fulltext import matching_entry_ids
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


_MODEL_FILTERS = ("model_type", "developer", "license", "min_parameters", "max_parameters")


def _needs_model(f: EntryFilter, skip: str | None = None) -> bool:
    return any(getattr(f, k) not in (None, []) and k != skip for k in _MODEL_FILTERS)


def filtered(session: Session, owner_id: int, f: EntryFilter, *, skip: str | None = None,
             join_model: bool = True) -> Select:
    """SELECT Entry JOIN Model with every filter applied (``skip`` leaves one facet's own filter out).

    ``join_model=False`` leaves the catalog out unless a model filter needs it: every entry has exactly one
    model (NOT NULL foreign key), so the inner join never changes which entries match, and counting
    100k entries without it is several times cheaper.
    """
    stmt = select(Entry).where(Entry.owner_id == owner_id)
    if join_model or _needs_model(f, skip):
        stmt = stmt.join(Model, Model.id == Entry.model_id)
    if f.ids:
        stmt = stmt.where(Entry.id.in_(f.ids))
    if f.status and skip != "status":
        stmt = stmt.where(Entry.status.in_([s.value for s in f.status]))
    if f.model_type and skip != "model_type":
        stmt = stmt.where(Model.model_type.in_(f.model_type))
    if f.developer and skip != "developer":
        stmt = stmt.where(Model.developer_key.in_([normalise_key(d) for d in f.developer]))
    if f.license and skip != "license":
        stmt = stmt.where(func.lower(Model.license).in_([lic.strip().lower() for lic in f.license]))
    if f.tag and skip != "tags":
        keys = _tag_keys(f.tag)
        tagged = (select(EntryTag.entry_id).join(Tag, Tag.id == EntryTag.tag_id)
                  .where(Tag.owner_id == owner_id, Tag.name_key.in_(keys)))
        if f.tag_mode == TagMode.ALL and len(keys) > 1:
            tagged = tagged.group_by(EntryTag.entry_id).having(func.count(func.distinct(Tag.id)) == len(keys))
        stmt = stmt.where(Entry.id.in_(tagged))
    if f.date_from:
        stmt = stmt.where(Entry.date_interacted >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Entry.date_interacted <= f.date_to)
    if f.min_parameters is not None:
        stmt = stmt.where(Model.parameters >= f.min_parameters)
    if f.max_parameters is not None:
        stmt = stmt.where(Model.parameters <= f.max_parameters)
    if f.min_rating is not None:
        stmt = stmt.where(Entry.rating >= f.min_rating)
    if f.q and f.q.strip():
        ids = matching_entry_ids(session.get_bind().dialect.name, owner_id, f.q)
        if ids is not None:
            stmt = stmt.where(Entry.id.in_(ids))
    return stmt


_SORT_COLUMNS = {
    SortField.NAME: Model.name_key,
    SortField.DATE: Entry.date_interacted,
    SortField.UPDATED: Entry.updated_at,
    SortField.CREATED: Entry.created_at,
    SortField.PARAMETERS: Model.parameters,
    SortField.RATING: Entry.rating,
}
# Never NULL: no NULLS LAST clause, so an index can deliver the order in both directions.
_NOT_NULL_SORTS = {SortField.NAME, SortField.UPDATED, SortField.CREATED}


def count_entries(session: Session, owner_id: int, f: EntryFilter) -> int:
    stmt = filtered(session, owner_id, f, join_model=False)
    return session.scalar(stmt.with_only_columns(func.count()).order_by(None)) or 0


def list_entries(session: Session, owner_id: int, f: EntryFilter, *, sort: SortField, order: SortOrder,
                 limit: int, offset: int) -> tuple[list[Entry], int]:
    # Load each entry's model from the join the filters already made (not a second, eager-load join).
    stmt = filtered(session, owner_id, f).options(contains_eager(Entry.model))
    total = count_entries(session, owner_id, f)
    col = _SORT_COLUMNS[sort]
    desc = order == SortOrder.DESC
    if sort in _NOT_NULL_SORTS:
        primary = col.desc() if desc else col.asc()
    else:
        primary = col.desc().nulls_last() if desc else col.asc().nulls_last()
    # Catalog sorts break ties on the model id (one entry per model and owner: still a total order), so the
    # catalog index on the sort key (which ends in the row id) can deliver rows in order.
    tie_col = Model.id if col.table is Model.__table__ else Entry.id
    tiebreak = tie_col.desc() if desc else tie_col.asc()
    items = list(session.scalars(stmt.order_by(primary, tiebreak).limit(limit).offset(offset)).unique())
    return items, total


_FACET_COLUMNS = {"status": Entry.status, "model_type": Model.model_type, "developer": Model.developer,
                  "license": Model.license}


def _top(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_LIMIT]


def facet_counts(session: Session, owner_id: int, f: EntryFilter) -> dict[str, list[tuple[str, int]]]:
    """Counts per value, each facet computed with every filter except its own (so choices stay visible).

    Facets whose own filter is not set all see the same set of entries: they are counted together in one
    GROUP BY pass instead of one query each.
    """
    active = {"status": bool(f.status), "model_type": bool(f.model_type), "developer": bool(f.developer),
              "license": bool(f.license)}
    out: dict[str, list[tuple[str, int]]] = {}
    shared = [name for name, on in active.items() if not on]
    if shared:
        cols = [_FACET_COLUMNS[n] for n in shared]
        needs_model = any(n != "status" for n in shared)
        base = filtered(session, owner_id, f, join_model=needs_model)
        stmt = base.with_only_columns(*cols, func.count()).group_by(*cols).order_by(None)
        sums: dict[str, dict[str, int]] = {n: {} for n in shared}
        for row in session.execute(stmt):
            c = int(row[-1])
            for i, n in enumerate(shared):
                if row[i] is not None:
                    key = str(row[i])
                    sums[n][key] = sums[n].get(key, 0) + c
        out.update({n: _top(sums[n]) for n in shared})
    for name in (n for n, on in active.items() if on):
        col = _FACET_COLUMNS[name]
        base = filtered(session, owner_id, f, skip=name, join_model=name != "status").where(col.is_not(None))
        stmt = (base.with_only_columns(col, func.count()).group_by(col)
                .order_by(func.count().desc(), col).limit(FACET_LIMIT))
        out[name] = [(str(v), int(c)) for v, c in session.execute(stmt)]
    tag_stmt = (select(Tag.name, func.count(EntryTag.entry_id))
                .join(EntryTag, EntryTag.tag_id == Tag.id)
                .where(Tag.owner_id == owner_id))
    if _has_filters(f, skip="tags"):
        base_ids = filtered(session, owner_id, f, skip="tags", join_model=False).with_only_columns(Entry.id)
        tag_stmt = tag_stmt.where(EntryTag.entry_id.in_(base_ids.order_by(None)))
    tag_stmt = (tag_stmt.group_by(Tag.id, Tag.name).order_by(func.count(EntryTag.entry_id).desc(), Tag.name)
                .limit(FACET_LIMIT))
    out["tags"] = [(str(v), int(c)) for v, c in session.execute(tag_stmt)]
    return {k: out[k] for k in ("status", "model_type", "developer", "license", "tags")}


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
        stmt = stmt.where(Tag.name_key.like(normalise_key(q).replace("%", r"\%").replace("_", r"\_") + "%",
                                            escape="\\"))
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
