"""A read-only endpoint the Hugging Face client understands, mounted at ``/hf`` (outside ``/api/v1``)::

    from huggingface_hub import snapshot_download
    snapshot_download("alice/my-model", endpoint="http://modelmate.local:8000/hf")

What ``huggingface_hub`` (2.4.0) calls, and what we answer:

* ``GET /hf/api/models/{owner}/{slug}[/revision/{rev}]`` → model info: ``id``, ``sha`` (the commit), ``siblings``
  (``rfilename``, ``size``), ``private``, ``tags``, ``library_name``, ``cardData``...;
* ``GET /hf/api/models/{owner}/{slug}/tree/{rev}`` → the file list (``type: file``, ``path``, ``size``, ``oid``);
* ``HEAD|GET /hf/{owner}/{slug}/resolve/{rev}/{filename}`` → the file, with ``X-Repo-Commit``, ``ETag`` (the file's
  sha256) and ``Content-Length`` (the client refuses files without the first two).

The only revisions are ``main`` and the current commit id (a stable hash of the files: see ``hub/download.py``).
Public models answer anyone; a private one only ``Authorization: Bearer <ModelMate API token>`` of its owner
(single-user mode, where nobody signs in, behaves like the rest of the app: everything is the local user's).
Anything else is the Hub's 404 (``X-Error-Code: RepoNotFound``), so the client raises ``RepositoryNotFoundError``.
A token that is not a ModelMate token (a Hugging Face ``hf_...`` token the client sends by itself) is ignored.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from modelmate.accounts import security
from modelmate.accounts import service as accounts
from modelmate.accounts.service import Principal
from modelmate.api.deps import DatabaseDep, SessionDep
from modelmate.errors import AppError
from modelmate.hub import download
from modelmate.hub import service as hub
from modelmate.models import User

router = APIRouter(prefix="/hf", include_in_schema=False)

DEFAULT_REVISION = "main"


class _HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self, commit: str | None = None) -> JSONResponse:
        headers = {"X-Error-Code": self.code} if self.code else {}
        if commit:
            headers["X-Repo-Commit"] = commit
        return JSONResponse({"error": self.message}, status_code=self.status, headers=headers,
                            media_type="application/json")


def _token(db: DatabaseDep, authorization: Annotated[str | None, Header()] = None) -> Principal | _HubError | None:
    """A ModelMate API token's principal, resolved (like the API's middleware does) before the request's session
    opens; None without one; the 401 to answer for a ModelMate token that is invalid, expired or revoked."""
    if authorization:
        kind, _, value = authorization.strip().partition(" ")
        token = value.strip()
        if kind.lower() == "bearer" and security.looks_like_api_token(token):
            principal = accounts.resolve_api_token(db, token)
            return principal or _HubError(401, None, "Invalid credentials in Authorization header")
    return None


Token = Annotated[Principal | _HubError | None, Depends(_token)]  # declare it before SessionDep


def _viewer(session: Session, token: Principal | _HubError | None) -> User | None:
    if isinstance(token, _HubError):
        raise token
    if token is not None:
        user = session.get(User, token.user_id)
        return user if user is not None and user.is_active else None
    if accounts.auth_mode(session) == "accounts":
        return None
    return accounts.ensure_local_user(session)


def _bundle(request: Request, session: Session, token: Principal | _HubError | None, owner: str, name: str,
            revision: str) -> download.Bundle:
    viewer = _viewer(session, token)
    not_found = _HubError(404, "RepoNotFound", f"Repository not found: {owner[:64]}/{name[:200]}")
    try:
        model = hub.get_by_repo(session, viewer, owner, name)
        found = download.bundle(session, request.app.state.settings, model)
    except AppError:
        raise not_found from None
    if revision not in (DEFAULT_REVISION, found.commit):
        raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {revision[:100]}")
    return found


def _info(b: download.Bundle, request: Request) -> dict:
    model = b.model
    return {
        "_id": f"modelmate-{model.id}", "id": f"{b.owner}/{model.slug}", "modelId": f"{b.owner}/{model.slug}",
        "author": b.owner, "sha": b.commit, "private": model.visibility != "public", "gated": False,
        "disabled": False, "downloads": 0, "likes": 0, "library_name": "peft", "pipeline_tag": "text-generation",
        "tags": ["modelmate", "peft", "lora"] + (["toy"] if (model.hub_info or {}).get("toy") else []),
        "createdAt": model.created_at.isoformat().replace("+00:00", "Z"),
        "lastModified": (model.updated_at or model.created_at).isoformat().replace("+00:00", "Z"),
        "cardData": {"library_name": "peft", "license": model.license or "other"},
        "siblings": [{"rfilename": f.name, "size": f.size} for f in b.files],
        "modelmate": {"model_id": model.id, "page": str(request.base_url).rstrip("/") + f"/m/{b.owner}/{model.slug}"},
    }


@router.get("/api/models/{owner}/{name}")
@router.get("/api/models/{owner}/{name}/revision/{revision}")
def model_info(owner: str, name: str, request: Request, token: Token, session: SessionDep,
               revision: str = DEFAULT_REVISION) -> Response:
    try:
        b = _bundle(request, session, token, owner, name, revision)
    except _HubError as exc:
        return exc.response()
    return JSONResponse(_info(b, request))


@router.get("/api/models/{owner}/{name}/tree/{revision}")
@router.get("/api/models/{owner}/{name}/tree/{revision}/{path:path}")
def tree(owner: str, name: str, revision: str, request: Request, token: Token, session: SessionDep,
         path: str = "") -> Response:
    try:
        b = _bundle(request, session, token, owner, name, revision)
    except _HubError as exc:
        return exc.response()
    if path.strip("/"):
        return _HubError(404, "EntryNotFound", f"{path[:200]} does not exist on {revision}").response(b.commit)
    return JSONResponse([{"type": "file", "path": f.name, "size": f.size, "oid": f.sha256[:40]} for f in b.files],
                        headers={"X-Repo-Commit": b.commit})


@router.api_route("/{owner}/{name}/resolve/{revision}/{filename:path}", methods=["GET", "HEAD"])
def resolve(owner: str, name: str, revision: str, filename: str, request: Request, token: Token,
            session: SessionDep) -> Response:
    try:
        b = _bundle(request, session, token, owner, name, revision)
    except _HubError as exc:
        return exc.response()
    f = b.file(filename)
    if f is None:
        return _HubError(404, "EntryNotFound", f"{filename[:200]} does not exist on {revision}").response(b.commit)
    headers = {"X-Repo-Commit": b.commit, "ETag": f'"{f.sha256}"', "Content-Length": str(f.size),
               "Accept-Ranges": "none", "Cache-Control": "private, max-age=0",
               "Content-Disposition": f"inline; filename*=UTF-8''{quote(f.name)}"}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    return StreamingResponse(f.chunks(), headers=headers, media_type="application/octet-stream")


@router.api_route("/{rest:path}", methods=["GET", "HEAD"])
def not_a_hub_route(rest: str) -> Response:
    """Anything else under /hf is the Hub's 404 (JSON), never the web UI's page."""
    return _HubError(404, "RepoNotFound", "Repository not found").response()
