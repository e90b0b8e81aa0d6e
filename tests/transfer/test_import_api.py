"""POST /api/v1/import: per-row report, all-or-nothing, ownership, limits, awkward files."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from modelmate.app import create_app

HEADER = "name,developer,status,rating,parameters,date_interacted,tags,notes,source_links\n"


def _entries(client) -> list[dict]:
    return client.get("/api/v1/entries", params={"limit": 200, "sort": "created", "order": "asc"}).json()["items"]


def test_csv_preview_writes_nothing_and_commit_writes(client, upload):
    data = HEADER + 'Llama,Meta,tried,4,8000000000,2026-01-02,"chat; open","# hi"\nMistral 7B,,using,,,,,,\n'
    r = upload(data)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["format"], rep["total_rows"], rep["valid_rows"], rep["created"], rep["committed"]) == \
        ("csv", 2, 2, 2, False)
    assert rep["preview"][0]["tags"] == ["chat", "open"] and rep["preview"][1]["status"] == "using"
    assert _entries(client) == []
    r = upload(data, dry_run=False)
    assert r.status_code == 200 and r.json()["committed"] is True
    items = _entries(client)
    assert [(e["name"], e["rating"], e["parameters"], e["tags"]) for e in items] == [
        ("Llama", 4, 8_000_000_000, ["chat", "open"]), ("Mistral 7B", None, None, [])]
    history = client.get(f"/api/v1/entries/{items[0]['id']}/history").json()
    assert [h["kind"] for h in history] == ["added"]


def test_error_report_names_rows_and_columns(client, upload):
    data = (HEADER
            + "Good,Dev,tried,5,,,,,\n"
            + "Bad type,Dev,tried,five,,,,,\n"
            + "Bad status,Dev,loved,,,,,,\n"
            + "Rating nine,Dev,tried,9,,,,,\n"
            + "Bad date,Dev,tried,,,2026-13-45,,,\n"
            + "Negative,Dev,tried,,-5,,,,\n"
            + "Bad link,Dev,tried,,,,,,javascript:alert(1)\n"
            + ",Dev,tried,,,,,,\n"
            + "Good,dev,using,,,,,,\n")
    rep = upload(data).json()
    assert rep["total_rows"] == 9 and rep["valid_rows"] == 1 and rep["committed"] is False
    got = {(e["row"], e["column"]) for e in rep["errors"]}
    assert {(2, "rating"), (3, "status"), (4, "rating"), (5, "date_interacted"), (6, "parameters"),
            (7, "source_links")} <= got
    assert any(e["row"] == 8 for e in rep["errors"])  # no name
    dup = [e for e in rep["errors"] if e["row"] == 9]
    assert dup and "row 1" in dup[0]["message"]  # the same model twice in one file
    assert "(got 'five')" in next(e["message"] for e in rep["errors"] if e["row"] == 2)
    assert rep["error_count"] == len(rep["errors"])


def test_all_or_nothing(client, upload, make_entry):
    make_entry(name="Existing", rating=2)
    before = _entries(client)
    data = HEADER + "Existing,,tried,5,,,,,\nNew one,,tried,,,,,,\nBroken,,tried,9,,,,,\n"
    r = upload(data, dry_run=False)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_failed" and "nothing was imported" in err["message"]
    report = err["details"]
    assert report["committed"] is False and report["errors"][0]["row"] == 3
    assert (report["created"], report["updated"]) == (1, 1)  # what would have happened
    assert _entries(client) == before


def test_ids_and_owners_in_the_file_are_ignored(account_client):
    alice, bob = account_client("alice"), account_client("bob")
    theirs = bob.post("/api/v1/entries", json={"name": "Bob model", "status": "tried"}).json()
    mine = alice.post("/api/v1/entries", json={"name": "Mine"}).json()
    doc = {"format": "modelmate-export", "version": 1, "entries": [
        {"id": theirs["id"], "owner_id": bob.user["id"], "user_id": bob.user["id"], "model_id": theirs["model_id"],
         "name": "Imported", "status": "using",
         "journal": [{"body": "n", "entry_id": theirs["id"], "owner_id": bob.user["id"]}]},
        {"id": mine["id"], "owner_id": bob.user["id"], "name": "Mine", "status": "archived"},
    ]}
    r = alice.post("/api/v1/import", params={"dry_run": "false"},
                   files={"file": ("log.json", json.dumps(doc).encode(), "application/json")})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["created"], rep["updated"]) == (1, 1)
    assert any("ignored field 'owner_id'" in w for w in rep["warnings"])
    names = {e["name"]: e for e in alice.get("/api/v1/entries").json()["items"]}
    assert set(names) == {"Imported", "Mine"}
    assert names["Imported"]["model_id"] != theirs["model_id"] and names["Mine"]["status"] == "archived"
    assert len(alice.get(f"/api/v1/entries/{names['Imported']['id']}/journal").json()) == 1
    bobs = bob.get("/api/v1/entries").json()["items"]
    assert [(e["id"], e["name"], e["status"]) for e in bobs] == [(theirs["id"], "Bob model", "tried")]
    assert bob.get(f"/api/v1/entries/{theirs['id']}/journal").json() == []


def test_json_wrong_types_are_row_errors(upload):
    doc = {"entries": [{"name": "A", "rating": "five"}, {"name": "B", "tags": "not-a-list"},
                       {"name": ["x"]}, "just a string", {"name": "C", "journal": [{"body": "  "}]},
                       {"name": "D", "created_at": "yesterday"}, {"name": "E", "parameters": 1.5}]}
    rep = upload(json.dumps(doc), filename="x.json").json()
    got = {(e["row"], e["column"]) for e in rep["errors"]}
    assert {(1, "rating"), (2, "tags"), (3, "name"), (4, None), (5, "journal"), (6, "created_at"),
            (7, "parameters")} <= got
    assert rep["valid_rows"] == 0


def test_reimport_creates_no_duplicates_and_detects_changes(client, upload, make_entry):
    e = make_entry(name="Qwen2.5 7B", developer="Alibaba", hf_repo_id="Qwen/Qwen2.5-7B", tags=["a"])
    client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": "note"})
    make_entry(name="Phi-3", github_repo="microsoft/phi3")
    for fmt in ("csv", "json"):
        exported = client.get("/api/v1/export", params={"format": fmt}).content
        rep = upload(exported, filename=f"x.{fmt}", dry_run=False).json()
        assert (rep["created"], rep["updated"], rep["unchanged"], rep["errors"]) == (0, 0, 2, []), rep
    doc = client.get("/api/v1/export", params={"format": "json"}).json()
    doc["entries"][0]["rating"] = 5
    doc["entries"][0]["journal"].append({"body": "added later", "created_at": "2026-03-01T10:00:00Z"})
    doc["entries"][1]["name"] = "phi 3 renamed"  # matched by github_repo, renamed
    rep = upload(json.dumps(doc), filename="x.json", dry_run=False).json()
    assert (rep["created"], rep["updated"], rep["unchanged"]) == (0, 2, 0), rep
    items = _entries(client)
    assert len(items) == 2 and items[0]["rating"] == 5 and items[1]["name"] == "phi 3 renamed"
    notes = client.get(f"/api/v1/entries/{items[0]['id']}/journal").json()
    assert sorted(n["body"] for n in notes) == ["added later", "note"]


def test_csv_bom_crlf_and_embedded_newlines(client, upload):
    data = ("\ufeffname,notes,tags\r\n"
            '"Multi","line one\r\nline ""two""\nthree",x\r\n'
            "Plain,,\r\n").encode()
    rep = upload(data, dry_run=False).json()
    assert (rep["total_rows"], rep["created"], rep["errors"]) == (2, 2, []), rep
    items = _entries(client)
    assert items[0]["notes"] == 'line one\r\nline "two"\nthree' and items[0]["tags"] == ["x"]


def test_non_utf8_bytes_are_422_with_row_and_column(client, upload):
    data = b"name,notes\nFine,ok\nLatin,caf" + b"\xe9\n"
    for dry_run in (True, False):
        r = upload(data, dry_run=dry_run)
        assert r.status_code == 422, r.text
        msg = r.json()["error"]["message"]
        assert "UTF-8" in msg and "row 2" in msg and "notes" in msg
    r = upload(b'{"entries": [{"name": "caf\xe9"}]}', filename="x.json")
    assert r.status_code == 422 and "line 1" in r.json()["error"]["message"]
    assert _entries(client) == []


def test_formula_guard_is_undone_on_import(client, upload):
    data = "name,notes,tags\n'-Model,'=1+2,'@x; +y\nPlain,'quoted,\n"
    upload(data, dry_run=False)
    items = _entries(client)
    assert (items[0]["name"], items[0]["notes"], items[0]["tags"]) == ("-Model", "=1+2", ["+y", "@x"])
    assert items[1]["notes"] == "'quoted"


def test_unknown_columns_warn_and_missing_name_column_is_422(upload):
    rep = upload("name,colour,id\nA,red,99\n").json()
    assert rep["valid_rows"] == 1
    assert any("colour" in w for w in rep["warnings"]) and any("id" in w for w in rep["warnings"])
    r = upload("title,status\nA,tried\n")
    assert r.status_code == 422 and "'name' column" in r.json()["error"]["message"]
    assert upload(b"").status_code == 422


def test_invalid_and_deep_json_are_422(upload):
    r = upload('{"entries": [{"name": "a"},\n  ]}', filename="x.json")
    assert r.status_code == 422 and "line 2, column 3" in r.json()["error"]["message"]
    r = upload("[" * 200_000 + "]" * 200_000, filename="x.json")
    assert r.status_code == 422
    r = upload('{"entries": [' + '{"name": "a", "notes": ' + "[" * 100 + "]" * 100 + "}]}", filename="x.json")
    assert r.status_code == 422 and "nested too deeply" in r.json()["error"]["message"]
    r = upload('{"version": 7, "entries": []}', filename="x.json")
    assert r.status_code == 422 and "version 7" in r.json()["error"]["message"]


def _app_client(settings, database, **overrides):
    return TestClient(create_app(settings.model_copy(update=overrides), database=database),
                      base_url="http://127.0.0.1:8000")


def test_too_large_upload_is_413(settings, database):
    with _app_client(settings, database, max_import_bytes=2048) as c:
        r = c.post("/api/v1/import", files={"file": ("x.csv", b"name\n" + b"x" * 10_000, "text/csv")})
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"
        assert c.get("/api/v1/entries").json()["total"] == 0


def test_a_million_rows_is_refused_fast(settings, database):
    with _app_client(settings, database, max_import_rows=1000) as c:
        for name, data in (("x.csv", b"name\n" + b"m\n" * 1_000_000),
                           ("x.json", b"[" + b"{}," * 999_999 + b"{}]")):
            start = time.monotonic()
            r = c.post("/api/v1/import", files={"file": (name, data)}, params={"dry_run": "false"})
            assert r.status_code == 422, r.text
            assert r.json()["error"]["message"] == "too many rows (max 1000)"
            assert time.monotonic() - start < 10
        assert c.get("/api/v1/entries").json()["total"] == 0


def test_bulk_import_queues_one_embedding_sweep(client, upload, database):
    from sqlalchemy import select

    from modelmate.models import Job

    data = HEADER + "Alpha,Dev,tried,,,,,,\nBeta,Dev,tried,,,,,,\n"
    assert upload(data).status_code == 200  # a preview queues nothing
    with database.session() as s:
        assert s.scalars(select(Job).where(Job.payload["scope"].as_string() == "owner")).all() == []
    assert upload(data, dry_run=False).json()["created"] == 2
    with database.session() as s:
        sweeps = s.scalars(select(Job).where(Job.kind == "embed")).all()
        assert [j.payload for j in sweeps if "scope" in j.payload] == [{"scope": "owner", "force": False}]
