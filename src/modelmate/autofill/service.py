"""Autofill rules: parse → fetch the fixed upstream API → map → compare with an entry. Never saves anything."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from modelmate.autofill import github, hf, upstream
from modelmate.autofill import repository as repo
from modelmate.autofill.schemas import AutofillPreview, FieldDiff
from modelmate.autofill.urls import Target, parse
from modelmate.catalog.schemas import MODEL_FIELDS
from modelmate.config import Settings
from modelmate.enums import JobKind
from modelmate.errors import AppError, ValidationFailed
from modelmate.jobs import service as jobs
from modelmate.models import Entry, Job, User
from modelmate.tracker import service as tracker

log = logging.getLogger("modelmate.autofill")

DIFF_FIELDS = (*MODEL_FIELDS, "tags")
MERGED_LISTS = ("source_links", "tags")

Fetcher = Callable[[Settings, str], dict[str, Any]]
FETCHERS: dict[str, Fetcher] = {"huggingface": hf.fetch, "github": github.fetch}


def fetch_target(settings: Settings, target: Target) -> dict[str, Any]:
    return FETCHERS[target.source](settings, target.id)


def _merge_github(primary: dict[str, Any], gh: dict[str, Any]) -> None:
    """HF first; GitHub adds what HF lacks (release version, stars, homepage, description, license, links)."""
    f, g = primary["fields"], gh["fields"]
    for key in ("version", "description", "license", "github_repo"):
        if not f.get(key) and g.get(key):
            f[key] = g[key]
    f["source_links"] = _merge_list(f["source_links"], g["source_links"])
    for key in ("stars", "homepage"):
        if primary["extra"].get(key) is None:
            primary["extra"][key] = gh["extra"].get(key)


def _merge_list(current: list[str] | None, new: list[str] | None) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for v in [*(current or []), *(new or [])]:
        key = v.casefold()
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def diff(entry: Entry, fields: dict[str, Any]) -> tuple[list[FieldDiff], dict[str, Any]]:
    """Per field: current vs proposed. Lists are proposed merged with the user's own (never dropping theirs);
    a field upstream does not know (None) is not a change. Returns the diff and the proposal to show."""
    current = tracker.to_out(entry).model_dump(include=set(DIFF_FIELDS))
    proposal = dict(fields)
    out = []
    for name in DIFF_FIELDS:
        cur, new = current.get(name), fields.get(name)
        if name in MERGED_LISTS:
            merged = _merge_list(cur, new)
            proposal[name] = merged
            out.append(FieldDiff(field=name, current=cur, proposed=merged, changed=merged != list(cur or [])))
            continue
        changed = new is not None and new != cur
        out.append(FieldDiff(field=name, current=cur, proposed=new if new is not None else cur, changed=changed))
    return out, proposal


def preview(session: Session, user: User, settings: Settings, url_or_id: str,
            entry_id: int | None = None) -> AutofillPreview:
    target = parse(url_or_id)  # refuses anything but the allowlisted hosts, before any network access
    entry = tracker.get_entry(session, user, entry_id) if entry_id is not None else None
    data = fetch_target(settings, target)
    return _preview(data, entry)


def _preview(data: dict[str, Any], entry: Entry | None, warnings: list[str] | None = None) -> AutofillPreview:
    fields = data["fields"]
    changes = None
    if entry is not None:
        changes, fields = diff(entry, fields)
    return AutofillPreview(source=data["source"], id=data["id"], fields=fields, extra=data["extra"], diff=changes,
                           warnings=warnings or [])


def fetch_for_entry(settings: Settings, entry: Entry) -> tuple[dict[str, Any], list[str]]:
    """Metadata for an entry's own repositories: Hugging Face first, GitHub merged in."""
    model = entry.model
    if not model.hf_repo_id and not model.github_repo:
        raise ValidationFailed("this entry has no Hugging Face or GitHub repository to refresh from; "
                               "add hf_repo_id or github_repo first", code="no_repository")
    warnings: list[str] = []
    primary = None
    if model.hf_repo_id:
        primary = fetch_target(settings, parse(model.hf_repo_id))
    if model.github_repo:
        gh_target = parse(f"https://github.com/{model.github_repo}")
        if primary is None:
            primary = fetch_target(settings, gh_target)
        else:
            try:
                _merge_github(primary, fetch_target(settings, gh_target))
            except AppError as exc:  # HF answered; GitHub is a bonus
                warnings.append(f"GitHub: {exc.message}")
    assert primary is not None
    return primary, warnings


def refresh_entry(session: Session, user: User, settings: Settings, entry_id: int) -> AutofillPreview:
    entry = tracker.get_entry(session, user, entry_id)
    data, warnings = fetch_for_entry(settings, entry)
    return _preview(data, entry, warnings)


def start_refresh_all(session: Session, user: User, idempotency_key: str | None) -> Job:
    """Queue the "refresh all" job (one queued job per user at a time; an Idempotency-Key makes it exact)."""
    if idempotency_key:
        job, _ = jobs.enqueue(session, kind=JobKind.ENRICH, owner_id=user.id, payload={"scope": "entries"},
                              idempotency_key=idempotency_key[:128], max_attempts=2)
        return job
    return jobs.enqueue_coalesced(session, kind=JobKind.ENRICH, owner_id=user.id, payload={"scope": "entries"},
                                  key="scope")


PAUSE_S = 0.2  # between upstream calls of a refresh-all, to stay well below rate limits


def refresh_all(db, settings: Settings, owner_id: int,
                progress: Callable[[float, str], None]) -> dict[str, Any]:
    """Preview every entry of ``owner_id`` that names a repository; the job result lists the proposed changes.
    Stops early (keeping what it has) when upstream rate-limits us."""
    with db.session() as session:
        ids = repo.entries_with_repositories(session, owner_id)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    stopped = None
    for n, entry_id in enumerate(ids):
        progress(n / len(ids), f"checked {n} of {len(ids)} entries")
        with db.session() as session:
            entry = repo.get_entry(session, owner_id, entry_id)
            if entry is None:
                continue
            try:
                data, warnings = fetch_for_entry(settings, entry)
            except upstream.UpstreamRateLimited as exc:
                stopped = exc.message
                break
            except AppError as exc:
                errors.append({"entry_id": entry_id, "name": entry.model.name, "code": exc.code,
                               "message": exc.message})
                continue
            changes, _ = diff(entry, data["fields"])
        changed = [c.model_dump(mode="json") for c in changes if c.changed]
        results.append({"entry_id": entry_id, "name": entry.model.name, "source": data["source"], "id": data["id"],
                        "changes": changed, "extra": data["extra"], "warnings": warnings})
        if PAUSE_S and n + 1 < len(ids):
            time.sleep(PAUSE_S)
    return {"checked": len(results), "total": len(ids), "with_changes": sum(1 for r in results if r["changes"]),
            "entries": results, "errors": errors, "stopped": stopped}
