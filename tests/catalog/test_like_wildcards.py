"""``%``, ``_`` and ``\\`` in a ``q`` text filter match only themselves (SQLite and PostgreSQL): the catalog
(``GET /models``), datasets (``GET /datasets``), tag autocomplete (``GET /tags``) and the timeline all escape them
with the one helper in ``modelmate.db.like``."""

from __future__ import annotations

import pytest

from modelmate.db.like import contains, escape_like, starts_with

API = "/api/v1"
NAMES = ["Plain model", "100% pure", "snake_case net", "back\\slash lm", "abc"]


@pytest.mark.parametrize(("text", "escaped"), [("50%", "50\\%"), ("a_b", "a\\_b"), ("c:\\x", "c:\\\\x"),
                                                ("\\%", "\\\\\\%"), ("plain", "plain"), ("", "")])
def test_escape_like(text, escaped):
    assert escape_like(text) == escaped
    assert contains(text) == f"%{escaped}%" and starts_with(text) == f"{escaped}%"


def _names(client, path: str, **params) -> set[str]:
    resp = client.get(f"{API}/{path}", params={"limit": 200, **params})
    assert resp.status_code == 200, resp.text
    return {item["name"] for item in resp.json()["items"]}


def test_catalog_search_treats_wildcards_literally(client):
    for name in NAMES:
        assert client.post(f"{API}/models", json={"name": name}).status_code == 201
    assert _names(client, "models", q="%") == {"100% pure"}
    assert _names(client, "models", q="_") == {"snake_case net"}
    assert _names(client, "models", q="0%") == {"100% pure"}
    assert _names(client, "models", q="e_c") == {"snake_case net"}
    assert _names(client, "models", q="k\\s") == {"back\\slash lm"}
    assert _names(client, "models", q="%%") == set() and _names(client, "models", q="a%c") == set()
    assert _names(client, "models", q="__") == set()
    assert _names(client, "models", q="PLAIN") == {"Plain model"}  # still case-insensitive


def test_dataset_search_treats_wildcards_literally(client):
    for i, name in enumerate(NAMES):
        body = b'{"text": "row %d"}\n' % i * 3  # distinct content: identical uploads are one dataset
        resp = client.post(f"{API}/datasets", files={"file": ("d.jsonl", body, "application/octet-stream")},
                           data={"name": name})
        assert resp.status_code == 201, resp.text
    assert _names(client, "datasets", q="%") == {"100% pure"}
    assert _names(client, "datasets", q="_") == {"snake_case net"}
    assert _names(client, "datasets", q="\\") == {"back\\slash lm"}
    assert _names(client, "datasets", q="a_c") == set()
    assert _names(client, "datasets", q="ABC") == {"abc"}


def test_tag_autocomplete_and_timeline_use_the_same_escaping(client, make_entry):
    make_entry(name="Percent 100%", tags=["a_b", "axb", "back\\tag"])
    make_entry(name="Other", tags=["a%z"])
    tags = lambda q: {t["name"] for t in client.get(f"{API}/tags", params={"q": q}).json()}  # noqa: E731
    assert tags("a_") == {"a_b"} and tags("a%") == {"a%z"} and tags("back\\") == {"back\\tag"}
    assert tags("%") == set() and tags("_") == set()
    timeline = client.get(f"{API}/timeline", params={"q": "0%"})
    assert timeline.status_code == 200, timeline.text
    assert {e["model_name"] for m in timeline.json()["months"] for e in m["events"]} == {"Percent 100%"}
