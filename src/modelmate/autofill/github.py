"""GitHub repository metadata: a small client on httpx (base URL setting, optional token, timeout, size cap).

Calls only ``GET /repos/{owner}/{repo}`` and ``GET /repos/{owner}/{repo}/releases/latest`` on the configured
API. Redirects (renamed repositories) are followed only on the API's own host, at most three times.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from modelmate import __version__
from modelmate.autofill import upstream as up
from modelmate.config import Settings

SERVICE = "GitHub"
MAX_REDIRECTS = 3
MAX_TOPICS = 10


class _Client:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.github_api_url.rstrip("/")
        self.netloc = urlsplit(self.base).netloc.lower()
        self.timeout = settings.autofill_timeout_s
        self.max_bytes = settings.autofill_max_bytes
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": f"modelmate/{__version__}"}
        if settings.github_token:
            headers["Authorization"] = f"Bearer {settings.github_token}"
        self.http = httpx.Client(headers=headers, timeout=self.timeout, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def get_json(self, path: str, *, not_found_ok: bool = False) -> dict[str, Any] | None:
        url = f"{self.base}{path}"
        deadline = time.monotonic() + self.timeout * 2
        try:
            for _ in range(MAX_REDIRECTS + 1):
                with self.http.stream("GET", url) as r:
                    if r.status_code in (301, 302, 307, 308) and "location" in r.headers:
                        nxt = urljoin(url, r.headers["location"])
                        if urlsplit(nxt).netloc.lower() != self.netloc or not nxt.startswith(("https:", "http:")):
                            raise up.BlockedRedirect(f"{SERVICE} redirected to another host; not following it")
                        url = nxt
                        continue
                    if r.status_code == 404 and not_found_ok:
                        return None
                    if r.status_code != 200:
                        raise _from_status(r)
                    length = r.headers.get("content-length")
                    if length and length.isdigit() and int(length) > self.max_bytes:
                        raise up.UpstreamTooLarge(f"{SERVICE} sent more than {self.max_bytes // 1024} KiB")
                    body = b"".join(up.capped(r.iter_bytes(), max_bytes=self.max_bytes, deadline=deadline,
                                              service=SERVICE))
                    data = json.loads(body)
                    if not isinstance(data, dict):
                        raise up.UpstreamError(f"{SERVICE} sent an unexpected response")
                    return data
            raise up.UpstreamError(f"{SERVICE} redirected too many times")
        except httpx.TimeoutException as exc:
            raise up.UpstreamTimeout(f"{SERVICE} did not answer within {self.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise up.unreachable(SERVICE, exc) from exc
        except (ValueError, UnicodeDecodeError) as exc:  # not JSON (an HTML error page, ...)
            raise up.UpstreamError(f"{SERVICE} sent a response we could not read") from exc


def _from_status(r: httpx.Response) -> Exception:
    status = r.status_code
    remaining = r.headers.get("x-ratelimit-remaining")
    if status == 429 or (status == 403 and remaining == "0"):
        if "retry-after" in r.headers:
            wait = up.retry_after_seconds(r.headers.get("retry-after"))
        else:
            reset = r.headers.get("x-ratelimit-reset", "")
            wait = max(1, min(3600, int(reset) - int(time.time()))) if reset.isdigit() else 60
        return up.rate_limited(SERVICE, wait)
    if status == 404:
        return up.UpstreamNotFound("no such repository on GitHub (or it is private)")
    if status in (401, 403):
        return up.UpstreamForbidden(f"{SERVICE} refused access (HTTP {status}); check MODELMATE_GITHUB_TOKEN")
    return up.UpstreamError(f"{SERVICE} failed (HTTP {status}); try again later")


def fetch(settings: Settings, full_name: str) -> dict[str, Any]:
    owner, repo = full_name.split("/", 1)
    client = _Client(settings)
    try:
        data = client.get_json(f"/repos/{owner}/{repo}")
        assert data is not None
        release = client.get_json(f"/repos/{owner}/{repo}/releases/latest", not_found_ok=True)
    finally:
        client.close()
    return to_fields(data, release)


def _str(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, str | int) and str(value).strip() else None


def to_fields(data: dict[str, Any], release: dict[str, Any] | None) -> dict[str, Any]:
    lic = data.get("license") if isinstance(data.get("license"), dict) else None
    license_id = None
    if lic:
        license_id = lic.get("spdx_id") if lic.get("spdx_id") not in (None, "", "NOASSERTION") else lic.get("name")
    owner = data.get("owner")
    if not isinstance(owner, dict):
        owner = {}
    full_name = _str(data.get("full_name"), 200) or ""
    html_url = _str(data.get("html_url"), 500)
    homepage = _str(data.get("homepage"), 500)
    links = [u for u in (html_url, homepage) if u and u.startswith(("https://", "http://"))]
    topics = [t for t in (data.get("topics") or []) if isinstance(t, str) and len(t) <= 64][:MAX_TOPICS]
    fields = {
        "name": _str(data.get("name"), 200), "developer": _str(owner.get("login"), 200), "model_type": None,
        "parameters": None, "license": _str(license_id, 100),
        "version": _str(release.get("tag_name"), 100) if release else None,
        "description": _str(data.get("description"), 2000), "source_links": links, "hf_repo_id": None,
        "github_repo": full_name or None, "tags": topics,
    }
    stars = data.get("stargazers_count")
    extra = {
        "downloads": None, "likes": None, "stars": stars if isinstance(stars, int) else None, "library": None,
        "last_modified": _str(data.get("pushed_at"), 40), "base_model": None, "pipeline_tag": None,
        "homepage": homepage, "gated": False, "sha": None,
    }
    return {"source": "github", "id": full_name, "fields": fields, "extra": extra}
