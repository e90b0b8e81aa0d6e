"""Lossless round trip: export → import into an empty catalog → export again gives the same file."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transfer_helpers import count_entries, export_text, import_bytes, make_user, wipe, without_exported_at

from modelmate.accounts.service import ensure_local_user
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryCreate
from modelmate.transfer.schemas import ExportFormat, ImportFormat

NASTY = ["=1+2", "+44 20", "-5", "@SUM(A1:A2)", "\tindented", "\rcarriage", "'=already quoted", "''@x", "'plain",
         "a;b", "a\\;b\\", "semi; colon, comma", 'He said "hi", ok', "line1\nline2\r\nline3\r", "ünïcødé 模型 🚀",
         "<script>alert(1)</script>", "  spaced  ", "\\", ";", "'"]
chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
text = st.one_of(st.sampled_from(NASTY), st.text(chars, max_size=30))
one_line = text.filter(lambda s: s.strip() != "")
tag = st.one_of(st.sampled_from(["=t", "+plus", "-minus", "@at", "a;b", "x,y", "back\\slash", "模型", "'=q"]),
                st.text(chars, min_size=1, max_size=20)).filter(lambda s: 0 < len(" ".join(s.split())) <= 64)
link = st.builds(lambda p: "https://example.com/" + p,
                 st.text(st.characters(categories=("L", "N"), include_characters=";,=+-@'\\/%?&#"), max_size=20))
stamp = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))
note = st.tuples(one_line, stamp, stamp)
entry = st.fixed_dictionaries({
    "name": one_line, "developer": st.none() | text, "model_type": st.sampled_from(["LLM", "Vision", "Other"]),
    "parameters": st.none() | st.integers(0, 10**15), "license": st.none() | text.map(lambda s: s[:100]),
    "version": st.none() | text, "description": st.none() | text, "source_links": st.lists(link, max_size=3),
    "hf_repo_id": st.none() | st.from_regex(r"[a-z][a-z0-9]{0,8}/[A-Za-z0-9][A-Za-z0-9._-]{0,10}", fullmatch=True)
    .filter(lambda s: ".." not in s),
    "status": st.sampled_from(["wishlist", "tried", "studied", "using", "archived"]),
    "date_interacted": st.none() | st.dates(), "rating": st.none() | st.integers(1, 5),
    "tags": st.lists(tag, max_size=4), "notes": text,
    "created": stamp, "updated": stamp, "journal": st.lists(note, max_size=3),
})


def _seed(db, specs: list[dict]) -> int:
    """Write the generated entries through the tracker service; returns how many were made."""
    made = 0
    seen_hf: set[str] = set()
    with db.session() as s:
        user = ensure_local_user(s)
        for i, spec in enumerate(specs):
            fields = {k: v for k, v in spec.items() if k not in ("created", "updated", "journal")}
            fields["name"] = f"{spec['name']} #{i}"[:200]
            if fields["hf_repo_id"] and fields["hf_repo_id"].lower() in seen_hf:
                fields["hf_repo_id"] = None
            if fields["hf_repo_id"]:
                seen_hf.add(fields["hf_repo_id"].lower())
            e = tracker.create_entry(s, user, EntryCreate(**fields), created_at=spec["created"])
            for body, created, updated in spec["journal"]:
                n = tracker.add_journal(s, user, e.id, body, at=created)
                n.updated_at = updated
            e.updated_at = spec["updated"]
            made += 1
    return made


def _roundtrip(database, specs: list[dict], fmt: ExportFormat) -> None:
    wipe(database)
    n = _seed(database, specs)
    first = export_text(database, fmt)
    wipe(database)
    assert count_entries(database) == 0
    report = import_bytes(database, first.encode(), filename=f"x.{fmt.value}")
    assert report.errors == [], report.errors[:3]
    assert (report.created, report.total_rows, report.committed) == (n, n, True)
    second = export_text(database, fmt)
    if fmt == ExportFormat.JSON:
        assert without_exported_at(second) == without_exported_at(first)
        records = json.loads(first)["entries"]
    else:
        assert second == first
        records = list(csv.DictReader(io.StringIO(first.lstrip("\ufeff"), newline="")))
    assert len(records) == n
    # the export really carries the data (journal bodies come back exactly)
    for spec, rec in zip(sorted(specs, key=lambda s: s["created"]), sorted(records, key=lambda r: r["created_at"]),
                         strict=False):
        journal = rec["journal"] if fmt == ExportFormat.JSON else json.loads(rec["journal"] or "[]")
        assert sorted(j["body"] for j in journal) == sorted(b for b, _, _ in spec["journal"])


HYPO = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@HYPO
@given(specs=st.lists(entry, min_size=1, max_size=4))
def test_json_round_trip_is_lossless(database, specs):
    _roundtrip(database, specs, ExportFormat.JSON)


@HYPO
@given(specs=st.lists(entry, min_size=1, max_size=4))
def test_csv_round_trip_is_lossless(database, specs):
    _roundtrip(database, specs, ExportFormat.CSV)


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_another_user_gets_the_same_log(database, fmt):
    specs = [{"name": "Llama 3.1 8B", "developer": "Meta", "model_type": "LLM", "parameters": 8_030_000_000,
              "license": None, "version": "3.1", "description": "=cmd|' /C calc'!A0", "source_links": [],
              "hf_repo_id": "meta-llama/Llama-3.1-8B", "status": "using", "date_interacted": None, "rating": 5,
              "tags": ["chat", "a;b"], "notes": "line\nline", "created": datetime(2025, 1, 2, 3, 4, 5, 6, UTC),
              "updated": datetime(2025, 2, 1, tzinfo=UTC),
              "journal": [("first", datetime(2025, 1, 3, tzinfo=UTC), datetime(2025, 1, 4, tzinfo=UTC))]}]
    _seed(database, specs)
    mine = export_text(database, fmt)
    bob = make_user(database, "bob")
    report = import_bytes(database, mine.encode(), fmt=ImportFormat(fmt.value), user_id=bob)
    assert (report.created, report.errors) == (1, [])
    theirs = export_text(database, fmt, user_id=bob)
    if fmt == ExportFormat.JSON:
        assert without_exported_at(theirs) == without_exported_at(mine)
    else:
        assert theirs == mine
    assert count_entries(database, bob) == 1
