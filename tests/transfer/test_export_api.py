"""GET /api/v1/export: every field, a download, and CSV cells that cannot run as spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import re

from modelmate.transfer.csvio import COLUMNS, guard, unguard


def _nasty_entry(client, make_entry) -> dict:
    e = make_entry(name="-Model", developer="@evil", notes="=HYPERLINK(\"http://x\",\"y\")", tags=["+t", "ok"],
                   description="\tTabbed", version="+1", license="-", rating=3, status="tried",
                   source_links=["https://example.com/a;b"], parameters=7_000_000_000, date_interacted="2026-01-02")
    r = client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": "@note\nsecond line"})
    assert r.status_code == 201
    return e


def test_json_export_has_every_field_and_is_a_download(client, make_entry):
    e = _nasty_entry(client, make_entry)
    r = client.get("/api/v1/export", params={"format": "json"})
    assert r.status_code == 200
    assert re.fullmatch(r'attachment; filename="modelmate-export-\d{8}\.json"', r.headers["content-disposition"])
    doc = r.json()
    assert (doc["format"], doc["version"]) == ("modelmate-export", 1) and doc["exported_at"]
    [rec] = doc["entries"]
    assert set(rec) == set(COLUMNS)
    assert "id" not in rec and "owner_id" not in rec
    # JSON is never altered: values exactly as stored
    assert (rec["name"], rec["developer"], rec["notes"]) == ("-Model", "@evil", e["notes"])
    assert rec["description"] == "\tTabbed" and rec["version"] == "+1"
    assert rec["tags"] == ["+t", "ok"] and rec["parameters"] == 7_000_000_000
    assert rec["created_at"].startswith(e["created_at"][:19])
    [note] = rec["journal"]
    assert note["body"] == "@note\nsecond line" and note["created_at"] and note["updated_at"]


def test_csv_export_guards_formula_cells(client, make_entry):
    _nasty_entry(client, make_entry)
    r = client.get("/api/v1/export", params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="modelmate-export-\d{8}\.csv"', r.headers["content-disposition"])
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(COLUMNS)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["name"] == "'-Model" and row["developer"] == "'@evil"
    assert row["notes"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert row["description"] == "'\tTabbed" and row["version"] == "'+1" and row["license"] == "'-"
    assert row["tags"] == "'+t; ok"
    assert row["source_links"] == "https://example.com/a\\;b"
    assert row["parameters"] == "7000000000" and row["rating"] == "3"  # numbers untouched
    for cell in rows[1]:
        assert not cell or cell[0] not in "=+-@\t\r", cell


def test_guard_is_a_bijection():
    for value in ["=1", "'=1", "''=1", "'", "''", "'a", "a", "", "-", "\r", "'\t", "@"]:
        assert unguard(guard(value)) == value
        assert not guard(value) or guard(value)[0] not in "=+-@\t\r"


def test_export_is_per_user(account_client):
    alice, bob = account_client("alice"), account_client("bob")
    assert alice.post("/api/v1/entries", json={"name": "Mine", "notes": "secret"}).status_code == 201
    assert bob.get("/api/v1/export", params={"format": "json"}).json()["entries"] == []
    assert "Mine" not in bob.get("/api/v1/export", params={"format": "csv"}).text
    assert [e["name"] for e in alice.get("/api/v1/export?format=json").json()["entries"]] == ["Mine"]
