"""Parse what the user typed into ``(source, repository id)`` — or refuse it, without any network access.

Accepted: a bare Hugging Face id (``org/name``), Hugging Face model URLs (``huggingface.co``, ``hf.co``, with
or without ``www.``; ``/org/name``, ``/org/name/tree/main``, ...), GitHub repository URLs (``github.com``,
``www.github.com``; ``/owner/repo``, ``/owner/repo.git``, ``/owner/repo/tree/...``). The host must be
exactly one of these: look-alikes (``huggingface.co.evil.com``), user info (``user@host``), ports, IP
literals and every scheme but http/https are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from modelmate.errors import ValidationFailed

HF_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co", "www.hf.co"})
GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
MAX_INPUT = 500

_HF_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_LOOKS_LIKE_HOST = re.compile(r"^.+\.[A-Za-z]{2,}$|^[0-9.]+$")
_GH_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_GH_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# First path segments on huggingface.co that are not an organisation or user.
_HF_RESERVED = frozenset({
    "datasets", "spaces", "docs", "blog", "api", "models", "settings", "login", "join", "pricing", "papers",
    "organizations", "collections", "learn", "tasks", "new", "enterprise", "chat", "posts", "buckets",
})


class UnsupportedSource(ValidationFailed):
    code = "unsupported_source"


@dataclass(frozen=True)
class Target:
    source: str  # "huggingface" | "github"
    id: str  # "org/name" (HF) or "owner/repo" (GitHub)


def _hf_id(parts: list[str]) -> str:
    if len(parts) == 1:
        org, name = None, parts[0]
    else:
        org, name = parts[0], parts[1]
    for p in filter(None, [org, name]):
        if not _HF_PART.match(p) or "--" in p or ".." in p:
            raise UnsupportedSource(f"'{p}' is not a valid Hugging Face repository name")
    return f"{org}/{name}" if org else name


def _gh_id(parts: list[str]) -> str:
    owner, repo = parts[0], parts[1]
    if repo.endswith(".git"):
        repo = repo[:-4]
    if not _GH_OWNER.match(owner) or owner.endswith("-"):
        raise UnsupportedSource(f"'{owner}' is not a valid GitHub owner")
    if not _GH_REPO.match(repo) or repo in (".", ".."):
        raise UnsupportedSource(f"'{repo}' is not a valid GitHub repository name")
    return f"{owner}/{repo}"


def parse(value: str) -> Target:
    text = (value or "").strip()
    if not text:
        raise UnsupportedSource("paste a Hugging Face or GitHub link, or a Hugging Face id such as org/name")
    if len(text) > MAX_INPUT:
        raise UnsupportedSource(f"too long (at most {MAX_INPUT} characters)")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in text):
        raise UnsupportedSource("links and ids cannot contain spaces, control characters or backslashes")
    if "://" not in text and not text.startswith("//"):
        first = text.split("/", 1)[0].lower()
        if first in HF_HOSTS or first in GITHUB_HOSTS:
            text = "https://" + text  # "huggingface.co/org/name" without a scheme
        elif ":" in text or "@" in text or "%" in text or "?" in text or "#" in text:
            raise UnsupportedSource("not a Hugging Face id (org/name) or a Hugging Face / GitHub link")
        else:
            parts = text.split("/")
            if len(parts) != 2 or not all(parts):
                raise UnsupportedSource("a Hugging Face id looks like org/name (or paste the model's link)")
            if _LOOKS_LIKE_HOST.match(parts[0]):
                raise UnsupportedSource("that looks like a web address, not a Hugging Face id: only "
                                        "huggingface.co, hf.co and github.com links are supported")
            return Target("huggingface", _hf_id(parts))
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError as exc:
        raise UnsupportedSource("not a valid link") from exc
    if url.scheme.lower() not in ("https", "http"):
        raise UnsupportedSource("only https:// links to huggingface.co or github.com are supported")
    if "@" in url.netloc or port is not None or url.username or url.password:
        raise UnsupportedSource("links with a user name, password or port are not supported")
    host = url.netloc.lower()
    if host in HF_HOSTS:
        source = "huggingface"
    elif host in GITHUB_HOSTS:
        source = "github"
    else:
        raise UnsupportedSource("only huggingface.co, hf.co and github.com links are supported",
                                details={"host": host[:100]})
    path = unquote(url.path)
    if "\\" in path or any(ord(c) < 32 for c in path):
        raise UnsupportedSource("not a valid link")
    parts = [p for p in path.split("/") if p]
    if source == "huggingface":
        if not parts or parts[0].lower() in _HF_RESERVED:
            what = parts[0] if parts else "this page"
            raise UnsupportedSource(f"only Hugging Face model pages are supported (not {what})")
        if len(parts) >= 2 and parts[1] in ("tree", "blob", "resolve", "discussions", "commits"):
            parts = parts[:1]  # a legacy single-name model: /gpt2/tree/main
        return Target(source, _hf_id(parts[:2]))
    if len(parts) < 2:
        raise UnsupportedSource("a GitHub link must name a repository: https://github.com/owner/repo")
    return Target(source, _gh_id(parts[:2]))
