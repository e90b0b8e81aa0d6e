from __future__ import annotations


def test_create_entry_creates_catalog_model(client):
    resp = client.post("/api/v1/entries", json={
        "name": "Llama 3.1 8B", "developer": "Meta", "model_type": "LLM", "parameters": 8_030_000_000,
        "hf_repo_id": "meta-llama/Llama-3.1-8B", "status": "tried", "rating": 4, "tags": ["open", "Chat", "chat"],
        "notes": "# Good\n<script>alert(1)</script>", "source_links": ["https://ai.meta.com/llama/"],
        "date_interacted": "2026-10-01", "license": "Llama 3.1 Community License", "version": "3.1",
    })
    assert resp.status_code == 201, resp.text
    entry = resp.json()
    assert entry["tags"] == ["Chat", "open"]
    assert entry["notes"] == "# Good\n<script>alert(1)</script>"  # stored raw
    assert entry["parameters"] == 8_030_000_000
    model = client.get(f"/api/v1/models/{entry['model_id']}").json()
    assert model["hf_repo_id"] == "meta-llama/Llama-3.1-8B"
    assert model["kind"] == "external"


def test_seventy_billion_parameters_fit(client, make_entry):
    e = make_entry(name="Llama 3.1 405B", parameters=405_000_000_000)
    assert client.get(f"/api/v1/entries/{e['id']}").json()["parameters"] == 405_000_000_000


def test_duplicate_entry_is_409_with_existing_id(client, make_entry):
    e = make_entry(name="Mistral 7B", developer="Mistral AI")
    resp = client.post("/api/v1/entries", json={"name": "mistral  7b", "developer": "MISTRAL AI"})
    assert resp.status_code == 409
    body = resp.json()["error"]
    assert body["code"] == "duplicate_entry"
    assert body["details"]["existing_id"] == e["id"]


def test_duplicate_model_by_hf_id_and_github(client):
    r = client.post("/api/v1/models", json={"name": "A", "hf_repo_id": "org/a", "github_repo": "org/a-code"})
    assert r.status_code == 201
    r2 = client.post("/api/v1/models", json={"name": "B", "hf_repo_id": "ORG/A"})
    assert r2.status_code == 409 and r2.json()["error"]["details"]["existing_id"] == r.json()["id"]
    r3 = client.post("/api/v1/models", json={"name": "C", "github_repo": "Org/A-Code"})
    assert r3.status_code == 409 and r3.json()["error"]["details"]["field"] == "github_repo"


def test_entry_for_known_model_links_to_it(client):
    m = client.post("/api/v1/models", json={"name": "Phi-3-mini", "hf_repo_id": "microsoft/Phi-3-mini-4k-instruct"})
    e = client.post("/api/v1/entries", json={"name": "phi 3", "hf_repo_id": "microsoft/phi-3-mini-4k-instruct"})
    assert e.status_code == 201
    assert e.json()["model_id"] == m.json()["id"]
    e2 = client.post("/api/v1/entries", json={"model_id": m.json()["id"]})
    assert e2.status_code == 409


def test_update_entry_fields_and_history(client, make_entry):
    e = make_entry(name="Qwen2.5 7B", status="wishlist")
    r = client.patch(f"/api/v1/entries/{e['id']}", json={"status": "using", "rating": 5, "tags": ["code"],
                                                          "developer": "Alibaba"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["rating"], body["tags"], body["developer"]) == ("using", 5, ["code"], "Alibaba")
    kinds = [h["kind"] for h in client.get(f"/api/v1/entries/{e['id']}/history").json()]
    assert kinds[-1] == "added"
    assert {"status_changed", "rated", "updated"} <= set(kinds)
    status_change = next(h for h in client.get(f"/api/v1/entries/{e['id']}/history").json()
                         if h["kind"] == "status_changed")
    assert (status_change["from_status"], status_change["to_status"]) == ("wishlist", "using")


def test_update_to_clashing_identity_is_409(client, make_entry):
    make_entry(name="A", hf_repo_id="x/a")
    b = make_entry(name="B")
    r = client.patch(f"/api/v1/entries/{b['id']}", json={"hf_repo_id": "X/A"})
    assert r.status_code == 409


def test_validation_errors_are_422_with_message(client):
    for payload in ({"name": ""}, {"name": "x", "rating": 6}, {"name": "x", "status": "loved"},
                    {"name": "x", "parameters": -1}, {"name": "x", "source_links": ["javascript:alert(1)"]},
                    {"name": "x", "hf_repo_id": "../../etc/passwd"}, {}, {"name": "x", "unknown": 1}):
        r = client.post("/api/v1/entries", json=payload)
        assert r.status_code == 422, (payload, r.text)
        assert r.json()["error"]["message"]


def test_missing_entry_is_404(client):
    for method, url in (("get", "/api/v1/entries/999"), ("patch", "/api/v1/entries/999"),
                        ("delete", "/api/v1/entries/999"), ("get", "/api/v1/entries/999/journal")):
        r = client.request(method.upper(), url, json={} if method == "patch" else None)
        assert r.status_code == 404, (method, url, r.text)
        assert r.json()["error"]["code"] == "not_found"


def test_delete_entry(client, make_entry):
    e = make_entry(name="Gone")
    assert client.delete(f"/api/v1/entries/{e['id']}").status_code == 204
    assert client.get(f"/api/v1/entries/{e['id']}").status_code == 404


def test_journal_notes(client, make_entry):
    e = make_entry(name="Gemma 2 9B")
    n = client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": "first try: *fast*"})
    assert n.status_code == 201
    client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": "second"})
    notes = client.get(f"/api/v1/entries/{e['id']}/journal").json()
    assert [x["body"] for x in notes] == ["second", "first try: *fast*"]
    r = client.patch(f"/api/v1/entries/{e['id']}/journal/{n.json()['id']}", json={"body": "edited"})
    assert r.status_code == 200 and r.json()["body"] == "edited"
    assert client.post(f"/api/v1/entries/{e['id']}/journal", json={"body": "   "}).status_code == 422
    assert client.delete(f"/api/v1/entries/{e['id']}/journal/{n.json()['id']}").status_code == 204
    assert len(client.get(f"/api/v1/entries/{e['id']}/journal").json()) == 1


def test_list_filters_sort_and_facets(client, make_entry):
    make_entry(name="Alpha", model_type="LLM", status="tried", tags=["code", "open"], parameters=7_000_000_000,
               rating=3, date_interacted="2026-01-10", developer="Org A", license="MIT")
    make_entry(name="Beta", model_type="Vision", status="using", tags=["open"], parameters=300_000_000,
               rating=5, date_interacted="2026-03-05", developer="Org B", license="Apache-2.0")
    make_entry(name="Gamma", model_type="LLM", status="wishlist", tags=["code"], parameters=70_000_000_000,
               date_interacted="2026-05-20", developer="Org A")

    def names(**params):
        r = client.get("/api/v1/entries", params=params)
        assert r.status_code == 200, r.text
        return [i["name"] for i in r.json()["items"]]

    assert names(sort="name", order="asc") == ["Alpha", "Beta", "Gamma"]
    assert names(sort="parameters", order="desc") == ["Gamma", "Alpha", "Beta"]
    assert names(sort="rating", order="desc") == ["Beta", "Alpha", "Gamma"]  # nulls last
    assert names(status=["tried", "using"], sort="name", order="asc") == ["Alpha", "Beta"]
    assert names(model_type="LLM", sort="name", order="asc") == ["Alpha", "Gamma"]
    assert names(tag=["code", "open"], tag_mode="all") == ["Alpha"]
    assert sorted(names(tag=["code", "open"], tag_mode="any")) == ["Alpha", "Beta", "Gamma"]
    # Unknown tags (PostgreSQL resolves tag names to ids first): "any" ignores them, "all" and alone match nothing.
    assert sorted(names(tag=["open", "no-such-tag"], tag_mode="any")) == ["Alpha", "Beta"]
    assert names(tag=["open", "no-such-tag"], tag_mode="all") == []
    assert names(tag=["no-such-tag"]) == []
    assert names(date_from="2026-02-01", date_to="2026-04-01") == ["Beta"]
    assert names(developer="org a", sort="name", order="asc") == ["Alpha", "Gamma"]
    assert names(license="mit") == ["Alpha"]
    assert names(min_parameters=1_000_000_000, max_parameters=10_000_000_000) == ["Alpha"]
    assert names(q="gam") == ["Gamma"]
    page = client.get("/api/v1/entries", params={"limit": 2, "offset": 2, "sort": "name", "order": "asc"}).json()
    assert page["total"] == 3 and [i["name"] for i in page["items"]] == ["Gamma"]
    facets = client.get("/api/v1/entries", params={"facets": True, "status": "tried"}).json()["facets"]
    assert {f["value"]: f["count"] for f in facets["status"]} == {"tried": 1, "using": 1, "wishlist": 1}
    assert {f["value"]: f["count"] for f in facets["tags"]} == {"code": 1, "open": 1}


def test_fulltext_query_syntax_is_inert(client, make_entry):
    make_entry(name="Safe", notes='has "quotes" and NEAR( operators')
    for q in ['"', "NEAR(", "name:x", "*", "a OR", "')--", "^", "-", "  "]:
        r = client.get("/api/v1/entries", params={"q": q})
        assert r.status_code == 200, (q, r.text)


def test_bulk_actions(client, make_entry):
    a, b = make_entry(name="A"), make_entry(name="B")
    r = client.post("/api/v1/entries/bulk", json={"ids": [a["id"], b["id"]], "action": "set_status",
                                                   "status": "archived"})
    assert r.json() == {"action": "set_status", "affected": 2}
    r = client.post("/api/v1/entries/bulk", json={"ids": [a["id"], b["id"]], "action": "add_tags", "tags": ["x"]})
    assert client.get(f"/api/v1/entries/{a['id']}").json()["tags"] == ["x"]
    r = client.post("/api/v1/entries/bulk", json={"ids": [a["id"], 9999], "action": "delete"})
    assert r.status_code == 404
    assert client.get(f"/api/v1/entries/{a['id']}").status_code == 200  # all-or-nothing
    r = client.post("/api/v1/entries/bulk", json={"ids": [a["id"]], "action": "remove_tags", "tags": ["X"]})
    assert client.get(f"/api/v1/entries/{a['id']}").json()["tags"] == []
    r = client.post("/api/v1/entries/bulk", json={"ids": [a["id"], b["id"]], "action": "delete"})
    assert r.json()["affected"] == 2
    assert client.get("/api/v1/entries").json()["total"] == 0


def test_tags_autocomplete(client, make_entry):
    make_entry(name="A", tags=["coding", "chat"])
    make_entry(name="B", tags=["coding"])
    assert client.get("/api/v1/tags", params={"q": "co"}).json() == [{"name": "coding", "count": 2}]
