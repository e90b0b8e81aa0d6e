"""A local fake of the Hugging Face Hub and GitHub REST APIs on 127.0.0.1 (the outside world, recorded shapes).

Responses follow the documented APIs: ``GET /api/models/{repo_id}`` (Hub), ``GET /{repo_id}/raw/{rev}/README.md``,
``GET /repos/{owner}/{repo}`` and ``GET /repos/{owner}/{repo}/releases/latest`` (GitHub). Special repository
names produce upstream failures. Every request and every TCP connection is counted.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIG = 5 * 1024 * 1024

HF_MODEL = {
    "_id": "66969b2d3a4f5c0b1e2d3f4a",
    "id": "meta-llama/Llama-3.1-8B-Instruct",
    "modelId": "meta-llama/Llama-3.1-8B-Instruct",
    "author": "meta-llama",
    "sha": "0e9e39f249a16976918f6564b8830bc894c89659",
    "lastModified": "2024-09-25T17:00:57.000Z",
    "createdAt": "2024-07-18T08:56:00.000Z",
    "private": False,
    "gated": "manual",
    "disabled": False,
    "downloads": 5123456,
    "likes": 4321,
    "library_name": "transformers",
    "tags": ["transformers", "safetensors", "llama", "text-generation", "facebook", "meta", "pytorch", "llama-3",
             "conversational", "en", "de", "arxiv:2204.05149", "base_model:meta-llama/Llama-3.1-8B",
             "base_model:finetune:meta-llama/Llama-3.1-8B", "license:llama3.1", "autotrain_compatible",
             "text-generation-inference", "endpoints_compatible", "region:us"],
    "pipeline_tag": "text-generation",
    "cardData": {"language": ["en", "de"], "license": "llama3.1", "base_model": "meta-llama/Llama-3.1-8B",
                 "pipeline_tag": "text-generation", "tags": ["facebook", "meta", "pytorch", "llama", "llama-3"],
                 "datasets": []},
    "config": {"architectures": ["LlamaForCausalLM"], "model_type": "llama"},
    "transformersInfo": {"auto_model": "AutoModelForCausalLM", "pipeline_tag": "text-generation",
                         "processor": "AutoTokenizer"},
    "safetensors": {"parameters": {"BF16": 8030261248}, "total": 8030261248},
    "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "README.md"}, {"rfilename": "config.json"},
                 {"rfilename": "model-00001-of-00004.safetensors"}],
    "spaces": [],
    "usedStorage": 16060522496,
}

README = """---
license: llama3.1
base_model: meta-llama/Llama-3.1-8B
---

# Llama 3.1 8B Instruct

![banner](https://example.com/banner.png)

The Meta Llama 3.1 collection of multilingual large language models is a collection of pretrained and
instruction tuned generative models in 8B, 70B and 405B sizes. See the [model card](https://example.com) for more.

## Intended use
"""

GH_REPO = {
    "id": 626805178, "node_id": "R_kgDOJVxxx", "name": "llama-models", "full_name": "meta-llama/llama-models",
    "private": False, "owner": {"login": "meta-llama", "id": 153379578, "type": "Organization"},
    "html_url": "https://github.com/meta-llama/llama-models",
    "description": "Utilities intended for use with Llama models.", "fork": False,
    "homepage": "https://www.llama.com/", "size": 1234, "stargazers_count": 7345, "watchers_count": 7345,
    "language": "Python", "forks_count": 1200, "open_issues_count": 90,
    "license": {"key": "other", "name": "Other", "spdx_id": "NOASSERTION", "url": None, "node_id": "MDc6TGljZW5zZTA="},
    "topics": ["llama", "llm", "meta"], "visibility": "public", "default_branch": "main",
    "created_at": "2024-04-12T00:00:00Z", "updated_at": "2024-11-01T00:00:00Z", "pushed_at": "2024-10-30T12:00:00Z",
}
GH_REPO_MIT = {**GH_REPO, "name": "tool", "full_name": "acme/tool", "owner": {"login": "acme", "id": 1},
               "html_url": "https://github.com/acme/tool", "homepage": "",
               "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT", "url": None, "node_id": "x"}}
GH_RELEASE = {"id": 1, "tag_name": "v0.2.1", "name": "0.2.1", "draft": False, "prerelease": False,
              "published_at": "2024-10-01T00:00:00Z"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer  # type: ignore[assignment]

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes | dict, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def _chunked_big(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"<p>" + b"x" * 65536 + b"</p>"
        try:
            for _ in range(BIG // len(chunk) + 1):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.requests.append(self.path)
        path = self.path.split("?", 1)[0]
        if path.startswith("/api/models/"):
            return self._hf(path[len("/api/models/"):])
        if "/raw/" in path and path.endswith("/README.md"):
            return self._send(200, self.server.readme.encode(), content_type="text/plain; charset=utf-8")
        if path.startswith("/repos/"):
            return self._gh(path[len("/repos/"):])
        self._send(404, {"message": "Not Found"})

    def _failure(self, name: str, service: str) -> bool:
        if name == "missing":
            if service == "hf":
                self._send(404, {"error": "Repository not found"},
                           {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
            else:
                self._send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        elif name == "gated":
            self._send(401, {"error": "Access to model is restricted."},
                       {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access to model is restricted."})
        elif name == "limited":
            if service == "hf":
                self._send(429, {"error": "rate limited"}, {"Retry-After": "17"})
            else:
                reset = str(int(time.time()) + 42)
                self._send(403, {"message": "API rate limit exceeded"},
                           {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
        elif name == "broken":
            self._send(500, b"<html>Internal Server Error</html>", content_type="text/html")
        elif name == "slow":
            time.sleep(3)
            self._send(200, {})
        elif name == "huge":
            self._send(200, b"<html>" + b"a" * BIG + b"</html>", content_type="text/html")
        elif name == "huge-chunked":
            self._chunked_big()
        elif name == "redirect":
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_port}/api/models/org/name")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            return False
        return True

    def _hf(self, repo_id: str) -> None:
        repo_id = repo_id.split("/revision/")[0]
        name = repo_id.rsplit("/", 1)[-1]
        if self._failure(name, "hf"):
            return
        body = dict(HF_MODEL, id=repo_id, modelId=repo_id, author=repo_id.split("/")[0])
        if name == "plain":  # no card, no safetensors
            body = {k: v for k, v in body.items() if k not in ("cardData", "safetensors")}
            body["siblings"] = [{"rfilename": "config.json"}]
            body["pipeline_tag"] = "automatic-speech-recognition"
            body["tags"] = ["transformers", "whisper", "license:apache-2.0"]
        self._send(200, body)

    def _gh(self, rest: str) -> None:
        parts = rest.split("/")
        owner, repo = parts[0], parts[1]
        if self._failure(repo, "gh"):
            return
        base = GH_REPO if owner == "meta-llama" else dict(GH_REPO_MIT, name=repo, full_name=f"{owner}/{repo}",
                                                          html_url=f"https://github.com/{owner}/{repo}")
        if len(parts) == 2:
            return self._send(200, base)
        if parts[2:] == ["releases", "latest"]:
            if repo == "norelease":
                return self._send(404, {"message": "Not Found"})
            return self._send(200, GH_RELEASE)
        self._send(404, {"message": "Not Found"})


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[str] = []
        self.connections = 0
        self.readme = README

    def get_request(self):
        conn = super().get_request()
        self.connections += 1
        return conn

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def start(self) -> FakeServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
