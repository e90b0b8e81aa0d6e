"""The fast paths of issue 15 §4 return exactly what the plain queries return, on SQLite and PostgreSQL.

- Facets: with any filter, status/type/developer/license come from one grouped pass (each facet sums the groups
  under the other facets' filters); without filters, one GROUP BY per facet. Both are checked against a
  reference that counts, per facet, the rows of ``filtered(skip=facet)`` in Python.
- Keyword search: the per-match ownership lookup is skipped when the user owns every search document, or when a
  status/type/tag scope (the owner's own entries) already implies ownership. Results must not change, and other
  users' documents must never leak in.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Float, delete, func, literal_column, select

from modelmate.db.engine import Database
from modelmate.models import Entry, EntryTag, Model, SearchDocument, Tag, User
from modelmate.search import repository as search_repo
from modelmate.tracker import repository as repo
from modelmate.tracker.repository import pg_tsquery, pg_tsquery_compact, pg_tsv
from modelmate.tracker.schemas import EntryFilter

STATUSES = ["wishlist", "tried", "studied", "using", "archived"]
TYPES = ["LLM", "Vision", "Audio", "Embedding"]
DEVELOPERS = ["Meta", "meta", "Mistral AI", "Google", ""]  # two spellings of one key, and no developer
LICENSES = ["Apache-2.0", "MIT", "apache-2.0", None]
TAGS = ["chat", "code", "small", "rag"]


def _user(session, name: str) -> int:
    user = User(username=name, display_name=name)
    session.add(user)
    session.flush()
    return user.id


def _populate(session, owner_id: int, n: int, *, prefix: str, seed: int) -> None:
    """``n`` entries with varied facet values, tags, and a searchable document each."""
    tags = {t: Tag(owner_id=owner_id, name=t, name_key=t) for t in TAGS}
    session.add_all(tags.values())
    session.flush()
    for i in range(n):
        k = i * 7 + seed
        dev = DEVELOPERS[k % len(DEVELOPERS)]
        name = f"{prefix} Llama-3.{i} models" if i % 3 else f"{prefix} Qwen 2 {i}"
        model = Model(name=name, name_key=name.casefold(), developer=dev or None, developer_key=dev.casefold(),
                      model_type=TYPES[(k // 2) % len(TYPES)], license=LICENSES[(k // 3) % len(LICENSES)],
                      parameters=None if i % 5 == 0 else 10 ** (7 + i % 5), kind="external", visibility="private",
                      owner_id=owner_id)
        session.add(model)
        session.flush()
        entry = Entry(owner_id=owner_id, model_id=model.id, status=STATUSES[(k // 5) % len(STATUSES)],
                      rating=None if i % 4 == 0 else 1 + i % 5, notes="latency on gpu" if i % 2 else "",
                      model_name_key=model.name_key, model_type=model.model_type, model_developer=model.developer,
                      model_developer_key=model.developer_key, model_license=model.license,
                      model_parameters=model.parameters)
        session.add(entry)
        session.flush()
        chosen = [t for j, t in enumerate(TAGS) if (k >> j) & 1]
        session.add_all(EntryTag(entry_id=entry.id, tag_id=tags[t].id) for t in chosen)
        session.add(SearchDocument(entry_id=entry.id, owner_id=owner_id, name=name, developer=dev,
                                   description=f"{name} family model by {dev}", tags=" ".join(chosen),
                                   notes=entry.notes))
    session.flush()


def _reference_facets(session, owner_id: int, f: EntryFilter) -> dict[str, list[tuple[str, int]]]:
    """Each facet counted in Python over the rows of ``filtered(skip=facet)``: the definition, spelled out."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in repo.ENTRY_FACETS:
        rows = session.scalars(repo.filtered(session, owner_id, f, skip=name)).all()
        counts: Counter[str] = Counter()
        spellings: dict[str, str] = {}
        for e in rows:
            key = {"status": e.status, "model_type": e.model_type, "developer": e.model_developer_key,
                   "license": e.model_license}[name]
            if key is None or (name == "developer" and key == ""):
                continue
            counts[key] += 1
            if name == "developer" and e.model_developer is not None:
                spellings[key] = max(spellings.get(key, e.model_developer), e.model_developer)
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:repo.FACET_LIMIT]
        out[name] = [(spellings[k] if name == "developer" else k, c) for k, c in ordered
                     if (spellings.get(k) if name == "developer" else k)]
    return out


FILTERS = [
    EntryFilter(),
    EntryFilter(status=["tried"]),
    EntryFilter(status=["tried", "using"], model_type=["LLM"]),
    EntryFilter(developer=["META"]),
    EntryFilter(license=["apache-2.0"], status=["wishlist"]),
    EntryFilter(tag=["chat"]),
    EntryFilter(tag=["chat", "code"], tag_mode="all", model_type=["Vision", "Audio"]),
    EntryFilter(q="llama"),
    EntryFilter(q="gpu", status=["studied"], developer=["google"]),
    EntryFilter(min_rating=3),
]


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: ",".join(k for k, v in f.model_dump().items()
                                                              if v not in (None, [], "any")) or "none")
def test_facets_equal_the_per_facet_definition(database: Database, f: EntryFilter):
    with database.session() as s:
        alice, bob = _user(s, "alice"), _user(s, "bob")
        _populate(s, alice, 60, prefix="A", seed=0)
        _populate(s, bob, 25, prefix="B", seed=3)  # another user's rows never count
        got = repo.facet_counts(s, alice, f)
        expected = _reference_facets(s, alice, f)
        for name in repo.ENTRY_FACETS:
            assert got[name] == expected[name], name
        assert sum(c for _, c in got["status"]) > 0 or f.q  # the filters above match something


def test_developer_facet_shows_one_spelling_per_key(database: Database):
    with database.session() as s:
        alice = _user(s, "alice")
        _populate(s, alice, 40, prefix="A", seed=1)
        for f in (EntryFilter(), EntryFilter(status=["tried", "studied", "using", "wishlist", "archived"])):
            devs = dict(repo.facet_counts(s, alice, f)["developer"])
            # One row for the key "meta" (two spellings), shown with max() of its spellings as before; no "".
            assert len({"Meta", "meta"} & set(devs)) == 1 and "" not in devs
            assert devs.get("Meta", devs.get("meta")) == 16


def _keyword(s, owner_id: int, q: str, f: EntryFilter | None = None) -> tuple[list[tuple[int, float]], int]:
    ranked, total = search_repo.keyword_page(s, owner_id, q, f, limit=100, offset=0)
    return [(i, round(score, 9)) for i, score in ranked], total


@pytest.mark.parametrize("q", ["llama", "qwen", "gpu", "meta", "family", "llama gpu", "nothing-like-this"])
def test_keyword_search_same_with_and_without_other_owners(database: Database, q: str):
    """The sole-owner path (no ownership lookup) ranks and counts exactly like the checked path."""
    with database.session() as s:
        alice, bob = _user(s, "alice"), _user(s, "bob")
        _populate(s, alice, 50, prefix="A", seed=0)
        _populate(s, bob, 30, prefix="B", seed=5)
        bob_ids = set(s.scalars(select(Entry.id).where(Entry.owner_id == bob)))
        shared, shared_total = _keyword(s, alice, q)  # bob has documents: ownership checked per match
        assert not bob_ids & {i for i, _ in shared}
        bob_view, _ = _keyword(s, bob, q)
        assert {i for i, _ in bob_view} <= bob_ids
        s.execute(delete(SearchDocument).where(SearchDocument.owner_id == bob))
        s.flush()
        alone, alone_total = _keyword(s, alice, q)  # alice owns every document: the match alone
    assert alone_total == shared_total == len(shared)
    if database.is_sqlite:
        # bm25 uses corpus statistics (bob's documents change them): compare the sets, and the order on SQLite
        # against the same corpus below.
        assert {i for i, _ in alone} == {i for i, _ in shared}
    else:
        assert alone == shared  # ts_rank_cd is per document


def test_scoped_keyword_search_never_leaks_other_owners(database: Database):
    with database.session() as s:
        alice, bob = _user(s, "alice"), _user(s, "bob")
        _populate(s, alice, 40, prefix="A", seed=0)
        _populate(s, bob, 40, prefix="B", seed=0)  # same statuses, types and tag names as alice's
        bob_ids = set(s.scalars(select(Entry.id).where(Entry.owner_id == bob)))
        alice_ids = set(s.scalars(select(Entry.id).where(Entry.owner_id == alice)))
        for f in (EntryFilter(status=["tried", "using"]), EntryFilter(model_type=["LLM"]), EntryFilter(tag=["chat"]),
                  EntryFilter(status=["studied"], tag=["code", "small"])):
            ranked, total = _keyword(s, alice, "llama", f)
            ids = {i for i, _ in ranked}
            assert ids and ids <= alice_ids and not ids & bob_ids
            listed = {e.id for e in s.scalars(repo.filtered(s, alice, f.model_copy(update={"q": "llama"})))}
            assert ids == listed and total == len(listed)


def test_sole_owner_path_ranks_like_the_checked_path_on_one_corpus(database: Database, monkeypatch):
    """Same corpus, both SQL shapes (the checked one forced): identical ranking, scores and totals."""
    with database.session() as s:
        alice = _user(s, "alice")
        _populate(s, alice, 60, prefix="A", seed=2)
        queries = ("llama", "gpu", "meta family", "qwen", "a")
        fast = {q: _keyword(s, alice, q) for q in queries}
        with monkeypatch.context() as m:
            m.setattr(search_repo, "_sole_owner", lambda session, owner_id: False)
            checked = {q: _keyword(s, alice, q) for q in queries}
    assert fast == checked
    assert all(total > 0 for _, total in fast.values())


@pytest.mark.parametrize("q", ["llama", "models", "Llama-3.1", "gpu latency", "the", "qwen 2", "family by meta",
                               "lora_adapter x", "'; drop", "nothing-like-this"])
def test_compact_tsquery_matches_and_ranks_like_the_full_one(database: Database, q: str):
    """PostgreSQL: the de-duplicated tsquery finds the same documents with the same ts_rank_cd scores."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL tsquery")
    with database.session() as s:
        alice = _user(s, "alice")
        _populate(s, alice, 40, prefix="A", seed=4)

        def scores(query):
            if query is None:
                return {}
            rank = func.ts_rank_cd(literal_column(f"'{search_repo.PG_WEIGHTS}'::float4[]"), pg_tsv(), query,
                                   type_=Float)
            stmt = select(SearchDocument.entry_id, rank).where(pg_tsv().op("@@")(query))
            return {i: round(r, 6) for i, r in s.execute(stmt)}

        full, compact = scores(pg_tsquery(q)), scores(pg_tsquery_compact(s, q))
    assert compact == full
