"""GET /api/v1/compare on both backends: values in order, differs flags, set semantics, id validation."""

from __future__ import annotations

import pytest

from modelmate.errors import NotFoundError
from modelmate.insights import service as insights
from modelmate.models import User
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryCreate

URL = "/api/v1/compare"
FIELDS = ["name", "developer", "model_type", "parameters", "license", "version", "status", "rating",
          "date_interacted", "tags", "hf_repo_id", "github_repo", "source_links", "description", "notes_length",
          "journal_count", "created_at"]


def compare(client, *ids) -> dict:
    r = client.get(URL, params={"ids": list(ids)})
    assert r.status_code == 200, r.text
    return r.json()


def by_field(body: dict) -> dict[str, dict]:
    return {f["field"]: f for f in body["fields"]}


def test_compare_two_entries(client, make_entry):
    a = make_entry(name="Llama 3.1 8B", developer="Meta", model_type="LLM", parameters=8_000_000_000,
                   license="Llama 3.1", status="using", rating=5, tags=["open", "Chat"], notes="<b>great</b>",
                   date_interacted="2026-10-01", source_links=["https://a.example/x", "https://b.example/y"])
    b = make_entry(name="Mistral 7B", developer="Mistral AI", model_type="LLM", parameters=7_000_000_000,
                   license="Apache-2.0", status="using", rating=4, tags=["chat", "OPEN"], notes="",
                   date_interacted="2026-10-01", source_links=["https://b.example/y", "https://a.example/x"])
    client.post(f"/api/v1/entries/{b['id']}/journal", json={"body": "one"})
    client.post(f"/api/v1/entries/{b['id']}/journal", json={"body": "two"})
    body = compare(client, b["id"], a["id"])
    assert [e["id"] for e in body["entries"]] == [b["id"], a["id"]]  # the requested order
    assert [f["field"] for f in body["fields"]] == FIELDS
    f = by_field(body)
    assert all(isinstance(x["label"], str) and x["label"] for x in body["fields"])
    assert f["name"]["values"] == ["Mistral 7B", "Llama 3.1 8B"] and f["name"]["differs"] is True
    assert f["parameters"]["values"] == [7_000_000_000, 8_000_000_000] and f["parameters"]["differs"]
    assert f["model_type"] == {"field": "model_type", "label": f["model_type"]["label"], "values": ["LLM", "LLM"],
                               "differs": False}
    assert f["status"]["differs"] is False and f["rating"]["differs"] is True
    assert f["date_interacted"]["values"] == ["2026-10-01", "2026-10-01"] and not f["date_interacted"]["differs"]
    # tags are one set per user (the first spelling wins) and compare as sets: same tags, other order → equal
    assert f["tags"]["values"] == [["Chat", "open"], ["Chat", "open"]] and f["tags"]["differs"] is False
    assert f["source_links"]["differs"] is False
    assert f["notes_length"]["values"] == [0, len("<b>great</b>")] and f["notes_length"]["differs"]
    assert f["journal_count"]["values"] == [2, 0] and f["journal_count"]["differs"]
    assert f["version"]["values"] == [None, None] and f["version"]["differs"] is False
    assert f["created_at"]["values"] == [e["created_at"] for e in body["entries"]] and f["created_at"]["differs"]
    assert f["description"]["values"] == [None, None] and not f["description"]["differs"]


def test_compare_four_entries_and_tag_sets(client, make_entry):
    ids = [make_entry(name=f"M{i}", tags=tags)["id"]
           for i, tags in enumerate([["a", "b"], ["B", "A"], ["a", "b"], ["a", "b"]])]
    f = by_field(compare(client, *ids))
    assert f["tags"]["differs"] is False
    assert f["developer"]["values"] == [None] * 4 and f["developer"]["differs"] is False
    extra = make_entry(name="M4", tags=["a", "b", "c"])["id"]
    f = by_field(compare(client, ids[0], ids[1], extra))
    assert f["tags"]["differs"] is True
    f = by_field(compare(client, ids[0], make_entry(name="M5", tags=["a"])["id"]))
    assert f["tags"]["differs"] is True


@pytest.mark.parametrize("count", [0, 1, 5])
def test_wrong_number_of_ids_is_422(client, make_entry, count):
    ids = [make_entry(name=f"E{i}")["id"] for i in range(count)]
    r = client.get(URL, params={"ids": ids})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "compare_count"
    assert "2 to 4" in r.json()["error"]["message"]


def test_duplicate_ids_are_422(client, make_entry):
    a, b = make_entry(name="A")["id"], make_entry(name="B")["id"]
    for ids in ([a, a], [a, b, a]):
        r = client.get(URL, params={"ids": ids})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "compare_duplicates"
        assert str(a) in r.json()["error"]["message"]


def test_unknown_ids_are_404(client, make_entry):
    a = make_entry(name="A")["id"]
    r = client.get(URL, params={"ids": [a, 999_999]})
    assert r.status_code == 404
    assert r.json()["error"]["details"] == {"missing": [999_999]}


def test_malformed_ids_are_422(client):
    for ids in (["x", "y"], [0, 1], [2**64, 1]):
        r = client.get(URL, params={"ids": ids})
        assert r.status_code == 422, (ids, r.text)


def test_other_users_entries_are_not_found(database):
    with database.session() as session:
        me, other = User(username="cmp-me"), User(username="cmp-other")
        session.add_all([me, other])
        session.flush()
        mine = tracker.create_entry(session, me, EntryCreate(name="Mine"))
        mine2 = tracker.create_entry(session, me, EntryCreate(name="Mine 2"))
        theirs = tracker.create_entry(session, other, EntryCreate(name="Theirs"))
        assert [e.name for e in insights.compare(session, me, [mine2.id, mine.id]).entries] == ["Mine 2", "Mine"]
        with pytest.raises(NotFoundError) as exc:
            insights.compare(session, me, [mine.id, theirs.id])
        assert exc.value.details == {"missing": [theirs.id]}
