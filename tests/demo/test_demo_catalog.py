"""The shipped demo catalog: real models, valid against the API schemas, and a consistent plan of dates."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from modelmate.catalog.schemas import HF_REPO_RE, MAX_PARAMETERS, ModelCreate
from modelmate.demo.seed import WINDOW_DAYS, load_catalog, parse_item, plan_log, raw_catalog
from modelmate.enums import EntryStatus, EventKind, ModelType

RAW = raw_catalog()["models"]


def test_every_model_validates_against_the_api_schema():
    assert len(RAW) >= 38
    for item in RAW:
        model = ModelCreate.model_validate(item["model"])  # extra="forbid": no stray keys either
        assert model.developer and model.description, model.name
        assert model.license, model.name
        assert model.source_links, f"{model.name} has no source link"
        assert all(link.startswith("https://") for link in model.source_links), model.name
        assert model.description.endswith("."), model.name


def test_names_and_repository_ids_are_unique():
    names = Counter(i["model"]["name"].casefold() for i in RAW)
    hf = Counter(i["model"]["hf_repo_id"].lower() for i in RAW if i["model"]["hf_repo_id"])
    gh = Counter(i["model"]["github_repo"].lower() for i in RAW if i["model"]["github_repo"])
    assert [n for n, c in names.items() if c > 1] == []
    assert [n for n, c in hf.items() if c > 1] == []
    assert [n for n, c in gh.items() if c > 1] == []
    assert len(hf) >= 35


def test_repository_ids_look_like_hugging_face_ids():
    for item in RAW:
        repo = item["model"]["hf_repo_id"]
        if repo is not None:
            assert HF_REPO_RE.match(repo) and repo.count("/") == 1, repo


def test_parameter_counts_need_big_integers_and_stay_unknown_for_closed_models():
    params = {i["model"]["name"]: i["model"]["parameters"] for i in RAW}
    assert all(p is None or (isinstance(p, int) and 0 < p <= MAX_PARAMETERS) for p in params.values())
    assert sum(1 for p in params.values() if p is not None and p > 2**31) >= 5
    assert params["Llama 3.1 8B Instruct"] == 8_030_000_000
    assert params["DeepSeek-V3"] == 671_000_000_000
    assert params["all-MiniLM-L6-v2"] == 22_700_000
    for item in RAW:  # closed models: no published count, no downloadable weights
        if item["model"]["license"] == "proprietary":
            assert item["model"]["parameters"] is None and item["model"]["hf_repo_id"] is None


def test_catalog_covers_every_kind_of_model_and_every_status():
    items = load_catalog()
    types = Counter(i.model["model_type"] for i in items)
    for t in (ModelType.LLM, ModelType.VISION, ModelType.AUDIO, ModelType.EMBEDDING, ModelType.MULTIMODAL):
        assert types[t.value] >= 3, t
    statuses = Counter(i.status for i in items)
    assert set(statuses) == {s.value for s in EntryStatus}
    assert min(statuses.values()) >= 4
    assert all(len(i.journal) <= 3 for i in items)
    assert any("```" in i.notes for i in items) and any("\n- " in i.notes for i in items)
    assert any("https://" in i.notes for i in items)


@pytest.mark.parametrize("change, message", [
    ({"log": {"path": ["wishlist", "loved"]}}, "unknown status"),
    ({"log": {"path": ["tried"]}}, "needs a rating"),
    ({"log": {"path": ["wishlist"], "rating": 4}}, "never tried"),
    ({"log": {"path": ["tried", "tried"], "rating": 4}}, "repeats"),
    ({"log": {"path": ["tried"], "rating": 9}}, "1 to 5"),
])
def test_bad_diary_is_rejected(change, message):
    raw = {"model": dict(RAW[0]["model"]), **change}
    with pytest.raises(ValueError, match=message):
        parse_item(raw)


def test_bad_model_facts_are_rejected():
    raw = {"model": {**RAW[0]["model"], "hf_repo_id": "not a repo/id"}, "log": RAW[0]["log"]}
    with pytest.raises(ValidationError):
        parse_item(raw)


def _check_plan(plans, today: date) -> None:
    start = datetime.combine(today - timedelta(days=WINDOW_DAYS), time(0), tzinfo=UTC)
    end = datetime.combine(today, time(0), tzinfo=UTC)
    for p in plans:
        times = [e.at for e in p.events]
        assert times == sorted(times), p.item.model["name"]
        assert p.events[0].kind == EventKind.ADDED and p.events[0].at == p.created_at
        assert start <= p.created_at and p.updated_at == times[-1] < end
        walk = [p.events[0].to_status] + [e.to_status for e in p.events if e.kind == EventKind.STATUS_CHANGED]
        assert tuple(walk) == p.item.path


def test_plan_is_deterministic_spread_and_within_the_window():
    today = date(2026, 11, 22)
    plans = plan_log(today)
    assert [(p.item.model["name"], p.created_at, p.updated_at) for p in plans] == \
        [(p.item.model["name"], p.created_at, p.updated_at) for p in plan_log(today)]
    assert [p.created_at for p in plan_log(today, seed=99)] != [p.created_at for p in plans]
    _check_plan(plans, today)
    months = {(p.created_at.year, p.created_at.month) for p in plans}
    assert len(months) >= 8


def test_plan_never_logs_a_model_before_its_release():
    today = date(2025, 3, 1)  # the window then starts before DeepSeek-R1 (January 2025) came out
    plans = plan_log(today)
    _check_plan(plans, today)
    for p in plans:
        if p.item.released:
            assert p.created_at.date() >= p.item.released, p.item.model["name"]
    r1 = next(p for p in plans if p.item.model["name"] == "DeepSeek-R1")
    assert r1.created_at.date() >= date(2025, 1, 15)
