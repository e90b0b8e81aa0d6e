"""A fake Hugging Face Hub on 127.0.0.1 that speaks what the real ``huggingface_hub`` (2.x) client needs.

It serves model repositories from directories (plus extra in-memory files) with the Hub's API shapes:

* ``GET /api/models/{org}/{name}[/revision/{rev}]``: model info (``id``, ``sha``, ``siblings``, ``gated``…);
* ``GET /api/models/{org}/{name}/tree/{rev}[/{path}]``: the file list (``type``, ``path``, ``size``, ``oid``,
  ``lfs``);
* ``HEAD|GET /{org}/{name}/resolve/{rev}/{path}``: the file, with ``X-Repo-Commit``, ``ETag`` (its sha256),
  ``Content-Length``, ``Accept-Ranges: bytes``; ``Range: bytes=a-[b]`` answers 206 with ``Content-Range``.

and the Hub's errors (``X-Error-Code`` / ``X-Error-Message`` headers): a missing or hidden repository is 401
(anonymous) or 404 (with a token) ``RepoNotFound``; a gated repository's files are 401 (anonymous) or 403 (a token
without access) ``GatedRepo`` while its info and file list stay public; an unknown revision is 404
``RevisionNotFound``; a missing file 404 ``EntryNotFound``; an unknown token 401 "Invalid credentials in
Authorization header" everywhere.

Test switches: ``tokens`` (the valid ones), a repository's ``granted`` tokens, ``cut_once(...)`` (the next GET of a
file stops after N body bytes and the connection is dropped; ``then_down`` makes the Hub answer 503 afterwards, as
in an outage, until ``down`` is set back to False), ``down`` and ``throttle_bps`` (file bodies are sent at about
that many bytes per second, so a test can watch a download in progress). Every request is in ``log``.

Use it from any test (``tests/`` is on ``sys.path``)::

    from fake_hf_hub import FakeHub

    with FakeHub() as hub:
        hub.add_repo("acme/model", some_dir, extra={"pytorch_model.bin": b"..."})
        snapshot_download("acme/model", endpoint=hub.url, cache_dir=...)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".msgpack", ".h5", ".onnx")
CHUNK = 1 << 20


def sha256_of(source: Path | bytes) -> str:
    digest = hashlib.sha256()
    if isinstance(source, bytes):
        digest.update(source)
        return digest.hexdigest()
    with open(source, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FakeFile:
    name: str
    source: Path | bytes
    size: int
    sha256: str

    def open(self) -> BinaryIO:
        return io.BytesIO(self.source) if isinstance(self.source, bytes) else open(self.source, "rb")


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, FakeFile]
    gated: bool = False
    private: bool = False
    granted: set[str] = field(default_factory=set)

    @property
    def commit(self) -> str:
        digest = hashlib.sha1()
        for name in sorted(self.files):
            digest.update(f"{name}\0{self.files[name].sha256}\n".encode())
        return digest.hexdigest()


@dataclass
class Logged:
    method: str
    path: str
    range: str | None
    token: str | None
    status: int = 0
    sent: int = 0  # body bytes written

    @property
    def filename(self) -> str | None:
        """The repository file of a ``resolve`` request."""
        parts = self.path.split("/resolve/", 1)
        return parts[1].split("/", 1)[1] if len(parts) == 2 and "/" in parts[1] else None


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.tokens: set[str] = set()
        self.log: list[Logged] = []
        self.down = False
        self.throttle_bps: float | None = None
        self._cuts: dict[tuple[str, str], tuple[int, bool]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- setup ---------------------------------------------------------------------------------------------------

    def add_repo(self, repo_id: str, directory: Path | None = None, *, extra: dict[str, bytes] | None = None,
                 gated: bool = False, private: bool = False, granted: set[str] | None = None) -> FakeRepo:
        files: dict[str, FakeFile] = {}
        if directory is not None:
            for path in sorted(Path(directory).rglob("*")):
                if path.is_file():
                    name = path.relative_to(directory).as_posix()
                    files[name] = FakeFile(name, path, path.stat().st_size, sha256_of(path))
        for name, content in (extra or {}).items():
            files[name] = FakeFile(name, content, len(content), sha256_of(content))
        repo = FakeRepo(repo_id, files, gated=gated, private=private, granted=set(granted or ()))
        self.repos[repo_id] = repo
        return repo

    def cut_once(self, repo_id: str, filename: str, after_bytes: int, *, then_down: bool = False) -> None:
        """The next GET of ``filename`` sends ``after_bytes`` of its body, then the connection drops."""
        with self._lock:
            self._cuts[(repo_id, filename)] = (after_bytes, then_down)

    def requests(self, method: str | None = None, filename: str | None = None) -> list[Logged]:
        with self._lock:
            entries = list(self.log)
        return [e for e in entries if (method is None or e.method == method)
                and (filename is None or e.filename == filename)]

    def requested_files(self) -> set[str]:
        """Every repository file a HEAD or GET asked for."""
        return {e.filename for e in self.requests() if e.filename is not None}

    # --- server --------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake Hub is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-hf-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)

    def _take_cut(self, repo_id: str, filename: str) -> tuple[int, bool] | None:
        with self._lock:
            return self._cuts.pop((repo_id, filename), None)


class _HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    # --- plumbing ------------------------------------------------------------------------------------------------

    def _token(self) -> str | None:
        kind, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if kind.lower() != "bearer":
            return None
        return value.strip() or None

    def _handle(self) -> None:
        path = unquote(urlsplit(self.path).path)
        entry = Logged(self.command, path, self.headers.get("Range"), self._token())
        self.fake._record(entry)
        try:
            if self.fake.down:
                raise _HubError(503, None, "Service Unavailable")
            token = entry.token
            if token is not None and token not in self.fake.tokens:
                raise _HubError(401, None, INVALID_CREDENTIALS)
            parts = path.strip("/").split("/")
            if len(parts) >= 3 and parts[:2] == ["api", "models"]:
                self._api(parts[2:], token, entry)
            elif len(parts) >= 5 and parts[2] == "resolve":
                self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), token, entry)
            else:
                raise _HubError(404, "RepoNotFound", "Repository not found")
        except _HubError as exc:
            entry.status = exc.status
            body = json.dumps({"error": exc.message}).encode()
            self.send_response(exc.status)
            if exc.code:
                self.send_header("X-Error-Code", exc.code)
            self.send_header("X-Error-Message", exc.message)
            for key, value in exc.headers.items():
                self.send_header(key, value)
            self._send_body(body, "application/json")

    def _send_body(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, entry: Logged, headers: dict[str, str] | None = None) -> None:
        entry.status = 200
        self.send_response(200)
        self._send_body(json.dumps(data).encode(), "application/json", headers)

    def _repo(self, repo_id: str, token: str | None) -> FakeRepo:
        repo = self.fake.repos.get(repo_id)
        if repo is None or (repo.private and token not in repo.granted):
            raise _HubError(401 if token is None else 404, "RepoNotFound", "Repository not found")
        return repo

    @staticmethod
    def _revision(repo: FakeRepo, revision: str) -> None:
        if revision not in ("main", repo.commit):
            raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")

    # --- routes --------------------------------------------------------------------------------------------------

    def _api(self, rest: list[str], token: str | None, entry: Logged) -> None:
        if len(rest) < 2:
            raise _HubError(404, "RepoNotFound", "Repository not found")
        repo = self._repo(f"{rest[0]}/{rest[1]}", token)
        tail = rest[2:]
        if not tail or tail[0] == "revision":
            self._revision(repo, tail[1] if len(tail) > 1 else "main")
            self._json(self._info(repo), entry)
        elif tail[0] == "tree" and len(tail) >= 2:
            self._revision(repo, tail[1])
            prefix = "/".join(tail[2:]).strip("/")
            self._json([self._tree_entry(f) for f in repo.files.values()
                        if not prefix or f.name.startswith(prefix + "/")], entry, {"X-Repo-Commit": repo.commit})
        else:
            raise _HubError(404, None, "Not found")

    @staticmethod
    def _info(repo: FakeRepo) -> dict[str, Any]:
        org = repo.repo_id.split("/")[0]
        return {"_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id,
                "modelId": repo.repo_id, "author": org, "sha": repo.commit, "private": repo.private,
                "gated": "manual" if repo.gated else False, "disabled": False, "downloads": 0, "likes": 0,
                "library_name": "transformers", "pipeline_tag": "text-generation", "tags": ["transformers"],
                "createdAt": "2025-01-01T00:00:00.000Z", "lastModified": "2025-01-01T00:00:00.000Z",
                "cardData": {"license": "apache-2.0"},
                "siblings": [{"rfilename": name} for name in sorted(repo.files)]}

    @staticmethod
    def _tree_entry(f: FakeFile) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": hashlib.sha1(f.sha256.encode()).hexdigest(),
                                 "size": f.size, "path": f.name}
        if f.name.endswith(LFS_SUFFIXES):
            entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
        return entry

    def _resolve(self, repo_id: str, revision: str, filename: str, token: str | None, entry: Logged) -> None:
        repo = self._repo(repo_id, token)
        self._revision(repo, revision)
        if repo.gated and token not in repo.granted:
            if token is None:
                raise _HubError(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access "
                                                  "to it and be authenticated to access it. Please log in.")
            raise _HubError(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in the "
                                              f"authorized list. Visit https://huggingface.co/{repo_id} to ask "
                                              "for access.")
        f = repo.files.get(filename)
        if f is None:
            raise _HubError(404, "EntryNotFound", f"{filename} does not exist on {revision}",
                            {"X-Repo-Commit": repo.commit})
        start, end = 0, f.size - 1
        status = 200
        wanted = self.headers.get("Range") if self.command == "GET" else None
        if wanted:
            start, end = self._range(wanted, f.size)
            status = 206
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{f.sha256}"', "Accept-Ranges": "bytes",
                   "Content-Length": str(max(0, end - start + 1)), "Content-Type": "application/octet-stream"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{f.size}"
        entry.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        cut = self.fake._take_cut(repo_id, filename)
        limit = end - start + 1 if cut is None else min(cut[0], end - start + 1)
        throttle = self.fake.throttle_bps
        chunk = CHUNK if not throttle else max(1024, int(throttle / 20))
        with f.open() as fh:
            fh.seek(start)
            while entry.sent < limit:
                if throttle:
                    time.sleep(chunk / throttle)
                block = fh.read(min(chunk, limit - entry.sent))
                if not block:
                    break
                try:
                    self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    return
                entry.sent += len(block)
        if cut is not None:  # drop the connection mid-body, as a network failure would
            self.wfile.flush()
            self.close_connection = True
            if cut[1]:
                self.fake.down = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _range(header: str, size: int) -> tuple[int, int]:
        unit, _, spec = header.partition("=")
        first, _, last = spec.partition("-")
        try:
            if unit.strip() != "bytes" or "," in spec:
                raise ValueError(header)
            start = int(first) if first else size - int(last)
            end = int(last) if first and last else size - 1
        except ValueError:
            start, end = size, size
        if start < 0 or start >= size or end < start:
            raise _HubError(416, None, "Range Not Satisfiable", {"Content-Range": f"bytes */{size}"})
        return start, min(end, size - 1)
