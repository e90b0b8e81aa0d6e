"""Scenario 17 (API side): hostile text is stored and returned raw, as JSON, never as HTML."""

from __future__ import annotations

import pytest

HOSTILE = [
    "<script>alert(document.cookie)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1)) and <a href=\"javascript:alert(2)\">x</a>",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<iframe src="https://evil.example/" srcdoc="<script>alert(1)</script>"></iframe>',
    "</textarea><script>alert(1)</script>&lt;escaped&gt; &amp; \u202e reversed ü 🚀",
]


def _assert_json(resp) -> None:
    assert resp.headers["content-type"].startswith("application/json"), resp.headers["content-type"]
    assert resp.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_notes_round_trip_byte_for_byte(client, payload):
    r = client.post("/api/v1/entries", json={"name": "Hostile " + str(HOSTILE.index(payload)), "notes": payload,
                                             "description": payload, "tags": ["<b>x</b>"]})
    assert r.status_code == 201, r.text
    _assert_json(r)
    e = r.json()
    assert e["notes"] == payload and e["description"] == payload and e["tags"] == ["<b>x</b>"]

    got = client.get(f"/api/v1/entries/{e['id']}")
    _assert_json(got)
    assert got.json()["notes"] == payload

    j = client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": payload})
    assert j.status_code == 201
    _assert_json(j)
    journal = client.get(f"/api/v1/entries/{e['id']}/journal")
    _assert_json(journal)
    assert [n["body"] for n in journal.json()] == [payload]

    patched = client.patch(f"/api/v1/entries/{e['id']}", json={"notes": payload + "!"})
    _assert_json(patched)
    assert patched.json()["notes"] == payload + "!"

    listing = client.get("/api/v1/entries", params={"q": "hostile"})
    _assert_json(listing)
    assert [i["notes"] for i in listing.json()["items"]] == [payload + "!"]
    # The raw bytes on the wire are JSON-escaped text, never a live HTML document.
    assert b"<!doctype" not in got.content.lower() and not got.content.lstrip().startswith(b"<")


@pytest.mark.parametrize("link", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "DATA:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "file:///etc/passwd", "//evil.example/x", "https://ok.example/ javascript:alert(1)",
])
def test_dangerous_source_links_are_rejected(client, link):
    r = client.post("/api/v1/entries", json={"name": "Linky", "source_links": ["https://ok.example/", link]})
    assert r.status_code == 422, (link, r.text)
    _assert_json(r)
    assert r.json()["error"]["message"]
    ok = client.post("/api/v1/entries", json={"name": "Linky", "source_links": ["https://ok.example/a"]})
    assert ok.status_code == 201
    bad_patch = client.patch(f"/api/v1/entries/{ok.json()['id']}", json={"source_links": [link]})
    assert bad_patch.status_code == 422, (link, bad_patch.text)
    assert client.get(f"/api/v1/entries/{ok.json()['id']}").json()["source_links"] == ["https://ok.example/a"]


def test_errors_echoing_user_text_are_json_too(client):
    r = client.get("/api/v1/entries/<script>alert(1)</script>")
    assert r.status_code in (404, 422)
    _assert_json(r)


def test_nul_byte_in_text_is_rejected_with_422_on_every_backend(client, make_entry):
    # PostgreSQL text cannot hold NUL; both backends reject it up front with the same clear 422.
    r = client.post("/api/v1/entries", json={"name": "Nul", "notes": "a\u0000b"})
    assert r.status_code == 422, r.text
    _assert_json(r)
    assert "NUL" in r.json()["error"]["message"]
    e = make_entry(name="Clean")
    for payload in ({"notes": "x\u0000"}, {"description": "\u0000"}, {"tags": ["a\u0000"]}, {"name": "N\u0000"}):
        r = client.patch(f"/api/v1/entries/{e['id']}", json=payload)
        assert r.status_code == 422, (payload, r.text)
    r = client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": "j\u0000"})
    assert r.status_code == 422, r.text
    assert client.get(f"/api/v1/entries/{e['id']}").json()["notes"] == ""
