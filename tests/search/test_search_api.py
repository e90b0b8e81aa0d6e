"""GET /api/v1/search on both backends: ranking, snippets, inert text, matching rules, filters, isolation."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmate.models import User
from modelmate.search import service as search_service
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryCreate, EntryFilter

URL = "/api/v1/search"


def search(client, q: str, **params) -> dict:
    r = client.get(URL, params={"q": q, **params})
    assert r.status_code == 200, (q, r.text)
    return r.json()


def names(client, q: str, **params) -> list[str]:
    return [hit["entry"]["name"] for hit in search(client, q, **params)["items"]]


def snippet(hit: dict, field: str) -> dict | None:
    return next((s for s in hit["snippets"] if s["field"] == field), None)


def joined(snip: dict) -> str:
    return "".join(s["text"] for s in snip["segments"])


def matched(snip: dict) -> list[str]:
    return [s["text"] for s in snip["segments"] if s["match"]]


def test_name_match_ranks_above_notes_match(client, make_entry):
    make_entry(name="Notes Only", notes="I compared it with falcon yesterday and it was fine.")
    make_entry(name="Falcon 40B", notes="a big model")
    body = search(client, "falcon")
    assert body["query"] == "falcon" and body["mode"] == "keyword" and body["total"] == 2
    assert [h["entry"]["name"] for h in body["items"]] == ["Falcon 40B", "Notes Only"]
    first, second = body["items"]
    assert first["score"] > second["score"]
    assert [s["field"] for s in first["snippets"]] == ["name"]
    assert [s["field"] for s in second["snippets"]] == ["notes"]


def test_snippets_mark_the_matched_words(client, make_entry):
    make_entry(name="Mistral 7B Instruct", developer="Mistral AI", tags=["chat", "open-weights"],
               description="A dense transformer with sliding window attention.",
               notes="Fast on CPU. The instruct variant follows the system prompt poorly.")
    hit = search(client, "instruct")["items"][0]
    name = snippet(hit, "name")
    assert name is not None and joined(name) == "Mistral 7B Instruct"
    assert matched(name) == ["Instruct"]
    notes = snippet(hit, "notes")
    assert notes is not None and matched(notes) == ["instruct"]
    assert "Fast on CPU" in joined(notes)
    assert snippet(hit, "developer") is None and snippet(hit, "tags") is None  # fields that did not match
    hit = search(client, "sliding mistral")["items"][0]
    assert matched(snippet(hit, "description")) == ["sliding"]
    assert {s["field"] for s in hit["snippets"]} == {"name", "developer", "description"}
    assert matched(snippet(search(client, "weights")["items"][0], "tags")) == ["weights"]


def test_notes_snippet_is_a_window_not_the_whole_text(client, make_entry):
    words = [f"word{i}" for i in range(300)]
    words[150] = "needle"
    make_entry(name="Long", notes=" ".join(words))
    notes = snippet(search(client, "needle")["items"][0], "notes")
    text = joined(notes)
    assert matched(notes) == ["needle"]
    assert len(text.split()) <= 30, text
    assert text.startswith("…") and text.endswith("…"), text
    assert "word149" in text and "word151" in text


def test_html_in_notes_comes_back_as_plain_text(client, make_entry):
    notes = 'Try <script>alert("x")</script> and <img src=x onerror=alert(2)> &amp; more'
    make_entry(name="Html Model", notes=notes)
    body = search(client, "alert")
    hit = body["items"][0]
    assert hit["entry"]["notes"] == notes
    snip = snippet(hit, "notes")
    text = joined(snip)
    assert text == notes  # verbatim: nothing escaped, nothing added, nothing dropped
    assert set(matched(snip)) == {"alert"}
    for seg in snip["segments"]:  # segments carry text only; our markers never leak
        assert set(seg) == {"text", "match"}
        assert "\ue000" not in seg["text"] and "\ue001" not in seg["text"]
    assert "<mark>" not in client.get(URL, params={"q": "alert"}).text


def test_prefix_matching(client, make_entry):
    make_entry(name="Llama 3.1 8B", developer="Meta")
    make_entry(name="Gemma 2")
    assert names(client, "lla") == ["Llama 3.1 8B"]
    assert names(client, "LLAM") == ["Llama 3.1 8B"]
    assert matched(snippet(search(client, "lla")["items"][0], "name")) == ["Llama"]
    assert names(client, "xyzzy") == []


def test_every_word_must_match(client, make_entry):
    make_entry(name="Qwen Coder", tags=["code"])
    make_entry(name="Qwen Chat", tags=["chat"])
    make_entry(name="DeepSeek Coder")
    assert sorted(names(client, "qwen")) == ["Qwen Chat", "Qwen Coder"]
    assert names(client, "qwen coder") == ["Qwen Coder"]
    assert names(client, "coder qwen") == ["Qwen Coder"]
    assert names(client, "qwen code") == ["Qwen Coder"]
    assert names(client, "qwen nothing") == []


def test_hyphenated_names(client, make_entry):
    make_entry(name="Llama-3.1-8B-Instruct", hf_repo_id="meta-llama/Llama-3.1-8B-Instruct")
    make_entry(name="Llama 2 13B")
    make_entry(name="GPT-4o mini")
    assert names(client, "llama-3.1") == ["Llama-3.1-8B-Instruct"]
    assert names(client, "Llama-3.1-8B") == ["Llama-3.1-8B-Instruct"]
    assert names(client, "meta-llama") == ["Llama-3.1-8B-Instruct"]
    assert names(client, "gpt-4o") == ["GPT-4o mini"]
    hit = search(client, "llama-3.1")["items"][0]
    assert any("Llama" in m for m in matched(snippet(hit, "name")))


def test_diacritics(client, make_entry, database):
    make_entry(name="Modèle Café", notes="Entraîné à Zürich")
    make_entry(name="Plain")
    assert names(client, "café") == ["Modèle Café"]
    assert names(client, "modèle") == ["Modèle Café"]
    assert names(client, "zürich") == ["Modèle Café"]
    assert matched(snippet(search(client, "zürich")["items"][0], "notes")) == ["Zürich"]
    if database.dialect == "sqlite":  # FTS5's unicode61 tokenizer folds diacritics; PostgreSQL 'simple' does not
        assert names(client, "cafe") == ["Modèle Café"]
        assert names(client, "zurich") == ["Modèle Café"]


def test_filters_and_pagination(client, make_entry):
    for i in range(7):
        make_entry(name=f"Phi {i}", model_type="LLM" if i % 2 else "Vision",
                   status="using" if i < 3 else "wishlist", tags=["small"] if i in (0, 5) else [])
    make_entry(name="Unrelated", status="using")
    assert search(client, "phi")["total"] == 7
    assert sorted(names(client, "phi", status="using")) == ["Phi 0", "Phi 1", "Phi 2"]
    assert sorted(names(client, "phi", status=["using", "wishlist"], model_type="Vision")) == [
        "Phi 0", "Phi 2", "Phi 4", "Phi 6"]
    assert sorted(names(client, "phi", tag="SMALL")) == ["Phi 0", "Phi 5"]
    assert names(client, "phi", tag="missing") == []
    seen: list[str] = []
    for offset in range(0, 9, 3):
        page = search(client, "phi", limit=3, offset=offset)
        assert page["total"] == 7 and page["limit"] == 3 and page["offset"] == offset
        seen += [h["entry"]["name"] for h in page["items"]]
    assert sorted(seen) == [f"Phi {i}" for i in range(7)] and len(seen) == 7
    assert search(client, "phi", offset=50)["items"] == []


def test_search_sees_journal_notes_and_updates(client, make_entry):
    e = make_entry(name="Gemma 2 9B")
    assert names(client, "quantized") == []
    client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": "Ran it quantized to 4 bits"})
    assert names(client, "quantized") == ["Gemma 2 9B"]
    client.patch(f"/api/v1/entries/{e['id']}", json={"tags": ["favourite"]})
    assert names(client, "favourite") == ["Gemma 2 9B"]
    client.delete(f"/api/v1/entries/{e['id']}")
    assert search(client, "gemma")["total"] == 0


GARBAGE = ['"', '""', "'", "NEAR(", "name:x", "notes:secret", "*", "a OR", "a AND", "NOT", "')--", "^", "-", "+",
           "(((", ")", "a:*", "!", "&&", "||", "<->", "\\", "%", "_", "\ue000", "\ue001x",
           "col:llama", "{name notes}:llama", "llama*", '"llama', "a & b | !c", "1e9", "🦙", "ﷺ", "a" * 200]


@pytest.mark.parametrize("q", GARBAGE)
def test_garbage_queries_are_200(client, make_entry, q):
    make_entry(name="Llama", notes='has "quotes", NEAR( operators and a_b c:d')
    body = search(client, q)
    assert body["total"] == len(body["items"])


@pytest.mark.parametrize("q", ["\x00", "llama\x00"])
def test_nul_in_query_is_a_clear_422(client, q):
    r = client.get(URL, params={"q": q})
    assert r.status_code == 422
    assert "NUL" in r.json()["error"]["message"]


def test_garbage_matching_is_literal(client, make_entry):
    make_entry(name="Llama", notes="near the operators")
    assert names(client, "NEAR(") == ["Llama"]
    assert names(client, "notes:llama") == []  # not a column filter: 'notes' and 'llama' must both match
    assert names(client, '"llama') == ["Llama"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(min_size=1, max_size=40))
def test_any_text_is_200(client, q):
    q = q.replace("\x00", "")  # NUL is rejected up front (test_nul_in_query_is_a_clear_422)
    if not q:
        return
    r = client.get(URL, params={"q": q})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 0


def test_query_validation(client):
    assert client.get(URL).status_code == 422
    assert client.get(URL, params={"q": ""}).status_code == 422
    assert client.get(URL, params={"q": "x" * 201}).status_code == 422
    assert client.get(URL, params={"q": "x", "mode": "telepathy"}).status_code == 422
    assert client.get(URL, params={"q": "x", "limit": 101}).status_code == 422
    assert client.get(URL, params={"q": "x", "limit": 0}).status_code == 422
    assert client.get(URL, params={"q": "x", "status": "loved"}).status_code == 422


def test_other_owners_entries_are_never_returned(database):
    """Two users in one database (service level, so it holds whatever the sign-in mode is)."""
    with database.session() as session:
        me, other = User(username="me-search"), User(username="other-search")
        session.add_all([me, other])
        session.flush()
        tracker.create_entry(session, me, EntryCreate(name="Shared Name Mine", notes="common"))
        tracker.create_entry(session, other, EntryCreate(name="Secret Llama", notes="common words and secrets",
                                                         tags=["common"]))

        def found(user: User, q: str, **kw) -> list[str]:
            return [hit.entry.name for hit in search_service.search(session, user, q, **kw).items]

        assert found(me, "secret") == []
        assert found(me, "llama") == []
        assert found(me, "common") == ["Shared Name Mine"]
        assert search_service.search(session, me, "common").total == 1
        assert found(me, "common", filters=EntryFilter(tag=["common"])) == []
        assert found(other, "common") == ["Secret Llama"]
        assert found(other, "mine") == []


def test_openapi_documents_the_response(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/search" in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert schemas["SearchMode"]["enum"] == ["keyword", "semantic", "hybrid"]
    assert set(schemas["SnippetField"]["enum"]) == {"name", "developer", "description", "tags", "notes"}
    assert set(schemas["Segment"]["properties"]) == {"text", "match"}
