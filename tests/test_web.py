"""Serving the built UI: static assets, SPA fallback for deep links, JSON 404 for the API, "not built" page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelmate import web
from modelmate.app import create_app

INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head>' \
        '<body><div id="root"></div></body></html>'


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    d = tmp_path / "web_dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text(INDEX)
    (d / "assets" / "index-abc123.js").write_text("console.log('modelmate')")
    (d / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return d


@pytest.fixture
def web_client(settings, database, dist: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(web, "DEFAULT_DIST", dist)
    with TestClient(create_app(settings, database=database), base_url="http://127.0.0.1:8000") as c:
        yield c


def test_root_and_deep_links_serve_index(web_client: TestClient) -> None:
    for path in ("/", "/models", "/entries/42", "/timeline?kind=added", "/compare?ids=1&ids=2", "/m/alice/tiny-chat",
                 "/hub/runs/7", "/hub/train/expert", "/hub/leaderboards/"):
        resp = web_client.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in resp.text, path
        assert resp.headers["cache-control"] == "no-cache"


def test_assets_are_served_with_long_cache(web_client: TestClient) -> None:
    resp = web_client.get("/assets/index-abc123.js")
    assert resp.status_code == 200
    assert resp.text == "console.log('modelmate')"
    assert "immutable" in resp.headers["cache-control"]
    missing = web_client.get("/assets/nope.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_top_level_build_files_are_served(web_client: TestClient) -> None:
    resp = web_client.get("/favicon.svg")
    assert resp.status_code == 200
    assert resp.text.startswith("<svg")
    # never a way out of the build directory: the SPA's "not found" page, with a 404
    resp = web_client.get("/..%2f..%2fetc%2fpasswd")
    assert resp.status_code == 404
    assert '<div id="root">' in resp.text


def test_paths_that_are_no_app_route_are_404_with_the_spa(web_client: TestClient) -> None:
    """A mistyped or stale link renders the SPA's "Page not found" view, but answers 404 (not a soft 200)."""
    for path in ("/nope", "/a/b/c.d", "/models/3", "/m/alice", "/m/alice/x/extra", "/hub/nope", "/hub/runs/7/x"):
        resp = web_client.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in resp.text, path
        assert web_client.head(path).status_code == 404, path


def test_server_routes_match_the_spa_router() -> None:
    """web.APP_ROUTES lists exactly the paths of web/src/App.tsx (when this checkout has the UI sources)."""
    app_tsx = Path(__file__).resolve().parents[1] / "web" / "src" / "App.tsx"
    if not app_tsx.is_file():
        pytest.skip("no web/ sources in this checkout")
    paths = set(re.findall(r'path: "([^"*]+)"', app_tsx.read_text()))
    spa = {re.sub(r":[^/]+", "*", p) for p in paths} | {""}
    assert spa == set(web.APP_ROUTES)


def test_unknown_api_paths_stay_json_404(web_client: TestClient) -> None:
    for path in ("/api/v1/nope", "/api/v1/entries/1/nope", "/api", "/api/"):
        resp = web_client.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["content-type"].startswith("application/json")
        assert resp.json()["error"]["code"] == "not_found"


def test_api_and_docs_still_work(web_client: TestClient) -> None:
    assert web_client.get("/api/v1/health").json()["status"] == "ok"
    assert web_client.get("/api/v1/openapi.json").json()["info"]["title"] == "ModelMate"
    assert web_client.get("/docs").status_code == 200


def test_non_get_on_ui_paths_is_not_the_spa(web_client: TestClient) -> None:
    resp = web_client.post("/models", json={})
    assert resp.status_code in (404, 405)
    assert resp.json()["error"]["code"] in ("not_found", "method_not_allowed")


def test_missing_build_serves_helpful_page(settings, database, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "DEFAULT_DIST", tmp_path / "absent")
    with TestClient(create_app(settings, database=database), base_url="http://127.0.0.1:8000") as c:
        for path in ("/", "/entries/3"):
            resp = c.get(path)
            assert resp.status_code == 200
            assert "has not been built" in resp.text
            assert "npm run build" in resp.text
        assert c.get("/nope").status_code == 404
        assert c.get("/api/v1/nope").status_code == 404


def test_build_appearing_later_is_picked_up(settings, database, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "later"
    monkeypatch.setattr(web, "DEFAULT_DIST", dist)
    with TestClient(create_app(settings, database=database), base_url="http://127.0.0.1:8000") as c:
        assert "has not been built" in c.get("/").text
        (dist / "assets").mkdir(parents=True)
        (dist / "index.html").write_text(INDEX)
        (dist / "assets" / "x.css").write_text("body{}")
        assert '<div id="root">' in c.get("/models").text
        assert c.get("/assets/x.css").text == "body{}"
