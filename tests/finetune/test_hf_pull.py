"""Base models from the Hugging Face Hub: :func:`modelmate.finetune.hf_pull.pull` and ``modelmate models pull``,
with the REAL ``huggingface_hub`` client against a fake Hub on 127.0.0.1 (``tests/fake_hf_hub.py``).

Safe files only (the request log is the proof), an interrupted download resumed with an HTTP Range request, the
Hub's errors as plain messages, the CLI's registration, and SmolLM2 pulled, registered and answering "Paris"."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fake_hf_hub import FakeHub, sha256_of
from modelmate.cli import app as cli
from modelmate.config import Settings
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import hf_pull
from modelmate.models import Model

runner = CliRunner()

# Files a real repository may hold that must never be requested (pickle, other frameworks, code, git metadata).
UNSAFE = {"pytorch_model.bin": b"pickle, not weights", "training_args.bin": b"pickle", "optimizer.pt": b"pickle",
          "rng_state.pkl": b"pickle", "last.ckpt": b"pickle", "flax_model.msgpack": b"flax", "tf_model.h5": b"keras",
          "model.onnx": b"onnx", ".gitattributes": b"*.bin filter=lfs\n", "modeling_custom.py": b"import os\n",
          "LICENSE.py": b"import os\n", "original/consolidated.00.pth": b"pickle"}
NEVER = set(UNSAFE) | {"consolidated.safetensors", "modelmate_toy.json", "modelmate_import.json"}
TINY = "acme/tiny-llama"
BIG = "acme/big-llama"


@pytest.fixture(autouse=True)
def _no_ambient_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No token from this machine's environment or ``hf auth login`` reaches the fake Hub."""
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "MODELMATE_HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))


@pytest.fixture
def fake_hub(tiny_source: Path) -> Iterator[FakeHub]:
    with FakeHub() as hub:
        hub.add_repo(TINY, tiny_source, extra={**UNSAFE, "consolidated.safetensors":
                                               (tiny_source / "model.safetensors").read_bytes()})
        yield hub


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory, tiny_source: Path) -> Path:
    """A repository with 24 MB of safetensors (more than two of the client's 10 MB read chunks)."""
    import numpy as np
    from safetensors.numpy import save_file

    out = tmp_path_factory.mktemp("big") / "big"
    out.mkdir()
    shutil.copy(tiny_source / "config.json", out / "config.json")
    save_file({"w": np.arange(6_000_000, dtype=np.float32)}, str(out / "model.safetensors"))
    return out


def settings_for(tmp_path: Path, endpoint: str, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", hf_endpoint=endpoint, environment="test", **kw)


def expected_files(source: Path) -> set[str]:
    return {p.name for p in source.iterdir() if p.is_file() and not p.name.startswith("modelmate_")}


def assert_only_safe_requests(hub: FakeHub) -> None:
    asked = hub.requested_files()
    assert asked and not asked & NEVER, asked & NEVER
    assert all("/" not in name and not name.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt", ".py"))
               for name in asked)


def test_pull_fetches_only_safe_files_into_a_private_cache(fake_hub, tmp_path, tiny_source):
    settings = settings_for(tmp_path, fake_hub.url)
    events: list[dict] = []
    path = hf_pull.pull(settings, TINY, on_progress=events.append, progress_interval_s=0)

    wanted = expected_files(tiny_source)
    assert {p.name for p in path.iterdir()} == wanted
    for name in wanted:
        assert sha256_of(path / name) == sha256_of(tiny_source / name)
    assert_only_safe_requests(fake_hub)
    assert path.is_relative_to(settings.data_dir / "hf_cache")
    assert stat.S_IMODE((settings.data_dir / "hf_cache").stat().st_mode) == 0o700
    assert hf_pull.repo_id_of(path) == TINY

    # progress: resolving → downloading → verifying → done; bytes only go up and end at the total
    phases = [e["phase"] for e in events]
    assert phases[0] == "resolving" and phases[-1] == "done" and "downloading" in phases and "verifying" in phases
    total = sum((tiny_source / name).stat().st_size for name in wanted)
    done = [e["bytes_done"] for e in events if e["bytes_total"]]
    assert done == sorted(done) and events[-1]["bytes_done"] == events[-1]["bytes_total"] == total
    assert events[-1]["files_done"] == events[-1]["files_total"] == len(wanted)
    assert hf_pull.describe(events[-1]) == f"downloaded {TINY} ({hf_pull.human_bytes(total)})"
    middle = next(e for e in events if e["phase"] == "downloading" and e["bytes_total"])
    assert hf_pull.describe(middle).startswith(f"downloading {TINY}: ") and " of " in hf_pull.describe(middle)

    # found offline afterwards; pulling again downloads nothing
    assert hf_pull.cached_snapshot(settings, TINY) == path
    assert hf_pull.cached_snapshot(settings, "acme/other") is None
    before = len(fake_hub.requests("GET"))
    assert hf_pull.pull(settings, TINY) == path
    assert hf_pull.pull(settings, TINY, revision=path.name) == path  # a commit id: the same snapshot
    assert all(e.filename is None for e in fake_hub.requests("GET")[before:])  # API calls, no file bodies
    assert hf_pull.cached_snapshot(settings, TINY, revision="main") == path
    assert hf_pull.cached_snapshot(settings, TINY, revision=path.name) == path


def test_interrupted_download_resumes_with_a_range_request(tmp_path, big_source):
    size = (big_source / "model.safetensors").stat().st_size
    with FakeHub() as hub:
        hub.add_repo(BIG, big_source, extra=UNSAFE)
        settings = settings_for(tmp_path, hub.url)
        # the connection drops after 15 MB, then the Hub is down: the pull fails, the bytes so far are kept
        hub.cut_once(BIG, "model.safetensors", 15_000_000, then_down=True)
        with pytest.raises(hf_pull.PullError) as failed:
            hf_pull.pull(settings, BIG)
        assert failed.value.code == "hub_error" and "resumes where it stopped" in failed.value.message
        partial = next((settings.data_dir / "hf_cache" / ".modelmate" / "partial").rglob("*.part"))
        kept = partial.stat().st_size
        assert 0 < kept <= 15_000_000
        assert hf_pull.cached_snapshot(settings, BIG) is None

        first = [(g.range, g.status) for g in hub.requests("GET", "model.safetensors")]
        assert first == [(None, 200), (f"bytes={kept}-", 503)]  # the client's own retry met the outage

        hub.down = False
        hub.log.clear()
        events: list[dict] = []
        path = hf_pull.pull(settings, BIG, on_progress=events.append, progress_interval_s=0)
        (get,) = hub.requests("GET", "model.safetensors")
        assert get.range == f"bytes={kept}-" and get.status == 206
        assert get.sent == size - kept  # only the missing bytes came again
        assert sha256_of(path / "model.safetensors") == sha256_of(big_source / "model.safetensors")
        assert events[-1]["resumed_bytes"] >= kept and events[-1]["bytes_done"] == events[-1]["bytes_total"]
        assert not partial.exists() and hf_pull.cached_snapshot(settings, BIG) == path
        assert_only_safe_requests(hub)

        # a dropped connection within one pull: huggingface_hub's own retry continues with a Range request
        shutil.rmtree(settings.data_dir / "hf_cache")
        hub.log.clear()
        hub.cut_once(BIG, "model.safetensors", 12_000_000)
        path = hf_pull.pull(settings, BIG)
        ranges = [g.range for g in hub.requests("GET", "model.safetensors")]
        assert ranges[0] is None and len(ranges) == 2 and ranges[1].startswith("bytes=")
        assert sha256_of(path / "model.safetensors") == sha256_of(big_source / "model.safetensors")


def test_a_progress_callback_that_raises_stops_the_pull_and_a_new_pull_resumes(tmp_path, big_source):
    class Stop(Exception):
        pass

    def stop_after_first_chunk(event: dict) -> None:
        if event["file"] == "model.safetensors" and event["bytes_done"] > 20_000_000:
            raise Stop("cancelled by the user")

    with FakeHub() as hub:
        hub.add_repo(BIG, big_source)
        settings = settings_for(tmp_path, hub.url)
        with pytest.raises(Stop):  # the caller's own exception, unchanged (a cancel, a lost lease)
            hf_pull.pull(settings, BIG, on_progress=stop_after_first_chunk, progress_interval_s=0)
        partial = next((settings.data_dir / "hf_cache" / ".modelmate" / "partial").rglob("*.part"))
        kept = partial.stat().st_size
        assert kept > 0 and hf_pull.cached_snapshot(settings, BIG) is None
        path = hf_pull.pull(settings, BIG)
        assert hub.requests("GET", "model.safetensors")[-1].range == f"bytes={kept}-"
        assert sha256_of(path / "model.safetensors") == sha256_of(big_source / "model.safetensors")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hub_failures_are_plain_messages_with_a_code(tmp_path, tiny_source):
    config = json.loads((tiny_source / "config.json").read_text())
    weights = (tiny_source / "model.safetensors").read_bytes()
    gpt2 = json.dumps({**config, "architectures": ["GPT2LMHeadModel"]}).encode()
    remote = json.dumps({**config, "auto_map": {"AutoModelForCausalLM": "modeling_custom.Custom"}}).encode()
    with FakeHub() as hub:
        hub.tokens = {"hf_granted", "hf_other"}
        hub.add_repo("meta/gated", tiny_source, gated=True, granted={"hf_granted"})
        hub.add_repo(TINY, tiny_source)
        hub.add_repo("acme/pickled", extra={"config.json": json.dumps(config).encode(), "pytorch_model.bin": b"x"})
        hub.add_repo("acme/gpt2", extra={"config.json": gpt2, "model.safetensors": weights})
        hub.add_repo("acme/remote", extra={"config.json": remote, "model.safetensors": weights})
        settings = settings_for(tmp_path, hub.url)

        def error(repo_id: str, **kw) -> hf_pull.PullError:
            with pytest.raises(hf_pull.PullError) as caught:
                hf_pull.pull(settings, repo_id, **kw)
            return caught.value

        gated = error("meta/gated")
        assert gated.code == "gated" and "gated on Hugging Face" in gated.message
        assert "accept the license at https://huggingface.co/meta/gated" in gated.message
        assert "MODELMATE_HF_TOKEN" in gated.message
        not_yet = error("meta/gated", token="hf_other")
        assert not_yet.code == "gated" and "no access yet" in not_yet.message
        assert hf_pull.pull(settings, "meta/gated", token="hf_granted").is_dir()
        assert hf_pull.pull(settings_for(tmp_path / "t", hub.url, hf_token="hf_granted"), "meta/gated").is_dir()

        missing = error("acme/missing")
        assert missing.code == "not_found" and "not found" in missing.message and "private" in missing.message
        assert error("acme/missing", token="hf_other").code == "not_found"
        bad = error(TINY, token="hf_wrong")
        assert bad.code == "bad_token" and "401 invalid credentials" in bad.message
        rev = error(TINY, revision="v9")
        assert rev.code == "revision_not_found" and "'v9'" in rev.message
        assert error("not a repo id").code == "invalid_id"
        pickled = error("acme/pickled")
        assert pickled.code == "no_safetensors" and "safetensors only" in pickled.message
        gpt = error("acme/gpt2")
        assert gpt.code == "unsupported_architecture" and "GPT2LMHeadModel" in gpt.message
        assert error("acme/remote").code == "unsafe"
        # refused before any weights moved: only the granted pulls asked for model.safetensors; never the pickle
        weights_asked = {e.path.split("/resolve/")[0] for e in hub.requests(filename="model.safetensors")}
        assert weights_asked == {"/meta/gated"}
        assert "pytorch_model.bin" not in hub.requested_files()
        # evaluation pulls any safe architecture
        assert hf_pull.pull(settings, "acme/gpt2", check_architecture=False).is_dir()

    nobody = settings_for(tmp_path, f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    with pytest.raises(hf_pull.PullError) as caught:
        hf_pull.pull(nobody, TINY)
    assert caught.value.code == "unreachable" and f"cannot reach the Hugging Face Hub at {nobody.hf_endpoint}" \
        in caught.value.message


# --- the CLI ------------------------------------------------------------------------------------------------------

def _env(settings: Settings, tmp_path: Path, endpoint: str) -> dict[str, str]:
    return {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
            "MODELMATE_ENVIRONMENT": "test", "MODELMATE_SEMANTIC_ENABLED": "false", "MODELMATE_HF_ENDPOINT": endpoint,
            "HF_ENDPOINT": endpoint, "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"),
            "COLUMNS": "200"}


def _rows(database, hf_id: str) -> list[Model]:
    with database.session() as s:
        return list(s.query(Model).filter(Model.hf_repo_id == hf_id).all())


def test_cli_pull_registers_a_hub_model_and_refuses_gated_missing_and_bad_token(fake_hub, client, settings,
                                                                               database, tmp_path, tiny_source):
    fake_hub.tokens = {"hf_someone"}
    fake_hub.add_repo("meta/gated", tiny_source, gated=True)
    env = _env(settings, tmp_path, fake_hub.url)

    gated = runner.invoke(cli, ["models", "pull", "meta/gated"], env=env)
    assert gated.exit_code == 2, gated.output
    assert "gated on Hugging Face" in gated.output and "https://huggingface.co/meta/gated" in gated.output
    assert _rows(database, "meta/gated") == []
    missing = runner.invoke(cli, ["models", "pull", "acme/nothing-here"], env=env)
    assert missing.exit_code == 2 and "not found" in missing.output and _rows(database, "acme/nothing-here") == []
    bad = runner.invoke(cli, ["models", "pull", TINY, "--token", "hf_wrong"], env=env)
    assert bad.exit_code == 2 and "401 invalid credentials" in bad.output and _rows(database, TINY) == []

    pulled = runner.invoke(cli, ["models", "pull", TINY], env=env)
    assert pulled.exit_code == 0, pulled.output
    assert "registered as base model hf-acme-tiny-llama" in pulled.output
    assert "--base hf-acme-tiny-llama" in pulled.output
    assert_only_safe_requests(fake_hub)
    (row,) = _rows(database, TINY)
    assert row.kind == "base" and row.hub_info["key"] == "hf-acme-tiny-llama" and row.developer == "acme"
    assert row.hub_info["architecture"] == "LlamaForCausalLM" and row.parameters and not row.hub_info["local_path"]
    snapshot = hf_pull.cached_snapshot(settings, TINY)
    assert snapshot is not None and bases.model_source(settings, row) == str(snapshot)
    assert bases.pending_download(settings, row) is None
    listed = next(m for m in client.get("/api/v1/base-models").json() if m["key"] == "hf-acme-tiny-llama")
    assert listed["available"] and listed["hf_repo_id"] == TINY

    again = runner.invoke(cli, ["models", "pull", TINY], env=env)  # refreshes, does not duplicate
    assert again.exit_code == 0, again.output
    assert len(_rows(database, TINY)) == 1


def test_smollm2_pulled_from_the_hub_is_registered_and_answers(smollm2_dir, client, settings, database, tmp_path):
    """The real pretrained model: the fake Hub serves the converted SmolLM2 (plus files that must never be fetched);
    `modelmate models pull` downloads and registers it as the registry's smollm2 base model, and it answers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not database.is_sqlite:
        pytest.skip("one backend is enough for a 270 MB download (the registration is covered on both)")
    hf_id = "HuggingFaceTB/SmolLM2-135M-Instruct"
    with FakeHub() as hub:
        hub.add_repo(hf_id, smollm2_dir, extra=UNSAFE)
        result = runner.invoke(cli, ["models", "pull", hf_id], env=_env(settings, tmp_path, hub.url))
        assert result.exit_code == 0, result.output
        assert_only_safe_requests(hub)
    assert "registered as base model smollm2-135m-instruct" in result.output
    (row,) = _rows(database, hf_id)
    assert row.hub_info["key"] == "smollm2-135m-instruct" and row.name == "SmolLM2 135M Instruct"
    path = Path(bases.model_source(settings, row))
    assert path == hf_pull.cached_snapshot(settings, hf_id) and path.is_relative_to(settings.data_dir / "hf_cache")
    digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    assert digest == sha256_of(smollm2_dir / "model.safetensors")
    smol = next(m for m in client.get("/api/v1/base-models").json() if m["key"] == "smollm2-135m-instruct")
    assert smol["available"]

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=16, do_sample=False)
    answer = tokenizer.decode(out[0][prompt["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer, answer
