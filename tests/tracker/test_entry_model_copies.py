"""Entries keep copies of their catalog model's sort/filter keys (``Entry.model_*``): filters, sorts and facets
must follow the catalog model when it is edited — through the entry or through /models — and after an import."""

from __future__ import annotations


def _names(client, **params) -> list[str]:
    resp = client.get("/api/v1/entries", params=params)
    assert resp.status_code == 200, resp.text
    return [e["name"] for e in resp.json()["items"]]


def test_filters_and_sorts_follow_model_edits(client, make_entry):
    a = make_entry(name="Alpha", developer="Meta", model_type="LLM", parameters=7_000_000_000, license="MIT")
    make_entry(name="Beta", developer="Google", model_type="Vision", parameters=1_000_000_000)
    assert _names(client, sort="name", order="asc") == ["Alpha", "Beta"]

    # Edit through the entry: name, developer, type, size and license all change on the catalog row.
    r = client.patch(f"/api/v1/entries/{a['id']}", json={"name": "Zeta", "developer": "Mistral AI",
                                                         "model_type": "Audio", "parameters": 500,
                                                         "license": "Apache-2.0"})
    assert r.status_code == 200, r.text
    assert _names(client, sort="name", order="asc") == ["Beta", "Zeta"]
    assert _names(client, sort="parameters", order="desc") == ["Beta", "Zeta"]
    assert _names(client, developer="mistral ai") == ["Zeta"]
    assert _names(client, developer="Meta") == []
    assert _names(client, model_type="Audio") == ["Zeta"]
    assert _names(client, license="apache-2.0") == ["Zeta"]
    assert _names(client, max_parameters=1000) == ["Zeta"]
    facets = client.get("/api/v1/entries", params={"facets": True}).json()["facets"]
    assert {f["value"] for f in facets["developer"]} == {"Google", "Mistral AI"}
    assert {f["value"] for f in facets["license"]} == {"Apache-2.0"}

    # Edit through the catalog endpoint.
    r = client.patch(f"/api/v1/models/{a['model_id']}", json={"name": "Aardvark", "model_type": "LLM"})
    assert r.status_code == 200, r.text
    assert _names(client, sort="name", order="asc") == ["Aardvark", "Beta"]
    assert _names(client, model_type="LLM") == ["Aardvark"]


def test_text_filter_and_tag_filter_with_status(client, make_entry):
    make_entry(name="Qwen 2 7B", status="tried", model_type="LLM", tags=["chat"], notes="fast on gpu")
    make_entry(name="Qwen 2 VL", status="tried", model_type="Vision", tags=["chat"])
    make_entry(name="Phi 3", status="using", model_type="LLM", tags=["chat"], notes="gpu latency")
    assert _names(client, status="tried", model_type="LLM", tag="chat") == ["Qwen 2 7B"]
    assert sorted(_names(client, q="gpu")) == ["Phi 3", "Qwen 2 7B"]
    r = client.get("/api/v1/entries", params={"q": "gpu", "status": "tried"}).json()
    assert r["total"] == 1 and [e["name"] for e in r["items"]] == ["Qwen 2 7B"]
    r = client.get("/api/v1/entries", params={"q": "gpu", "offset": 5}).json()
    assert r["total"] == 2 and r["items"] == []
