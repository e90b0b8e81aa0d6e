"""The Hugging Face compatible endpoint at /hf, exercised with the REAL ``huggingface_hub`` client against a real
uvicorn server on 127.0.0.1, and the fetched snapshot loaded with the real ``peft``."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_download import assert_adapter_loads_and_changes_logits, store_scores

API = "/api/v1"
ROW = {"task": "arc_easy", "domain": "reasoning", "metric": "acc_norm", "filter": "none", "value": 0.31,
       "stderr": 0.04, "status": "final", "primary": True}


def fetch(live_server: str, repo_id: str, cache: Path, token):
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=repo_id, endpoint=f"{live_server}/hf", cache_dir=cache, token=token))


def test_snapshot_download_private_then_public(app, hub, register, account_client, live_server, tiny_source,
                                               tmp_path, database):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    alice = account_client("alice")
    bob = account_client("bob")
    alice_token = alice.post(f"{API}/auth/tokens", json={"name": "hf", "scopes": ["read"]}).json()["token"]
    bob_token = bob.post(f"{API}/auth/tokens", json={"name": "hf", "scopes": ["read"]}).json()["token"]
    model_id = register(alice.user["id"], name="HF Tune")
    store_scores(database, model_id, [ROW])
    repo_id = "alice/hf-tune"

    # private: anonymous and another user's token get the Hub's "repository not found"; so does a foreign HF token
    for token in (False, bob_token, "hf_" + "x" * 34):
        with pytest.raises(RepositoryNotFoundError):
            fetch(live_server, repo_id, tmp_path / f"cache-{str(token)[:4]}", token)
    # the owner's ModelMate API token fetches it
    snap = fetch(live_server, repo_id, tmp_path / "cache-alice", alice_token)
    files = sorted(p.name for p in snap.iterdir())
    zipped = alice.get(f"{API}/hub/models/{model_id}/download")
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(zipped.content)) as zf:
        assert sorted(zf.namelist()) == files  # the same files as the zip download
        assert zf.read("README.md") == (snap / "README.md").read_bytes()
        assert zf.read("adapter_model.safetensors") == (snap / "adapter_model.safetensors").read_bytes()
    assert "model-index" in (snap / "README.md").read_text()
    assert_adapter_loads_and_changes_logits(tiny_source, snap)

    info = HfApi(endpoint=f"{live_server}/hf", token=alice_token).model_info(repo_id)
    assert info.id == repo_id and info.private is True and len(info.sha) == 40
    assert snap.name == info.sha  # the snapshot folder is named after our commit id
    assert sorted(s.rfilename for s in info.siblings) == files
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=f"{live_server}/hf", token=False).model_info(repo_id)

    # published: anyone fetches it, no token needed; the commit is stable while nothing changes
    assert alice.patch(f"{API}/hub/models/{model_id}", json={"visibility": "public"}).status_code == 200
    anon_snap = fetch(live_server, repo_id, tmp_path / "cache-anon", False)
    assert anon_snap.name == info.sha
    assert (anon_snap / "adapter_model.safetensors").read_bytes() == (snap / "adapter_model.safetensors").read_bytes()
    # new scores change the card, hence the commit; the client picks the new revision up
    store_scores(database, model_id, [{**ROW, "value": 0.6}])
    newer = fetch(live_server, repo_id, tmp_path / "cache-anon", False)
    assert newer.name != info.sha and "0.6" in (newer / "README.md").read_text()


def test_hf_errors_are_hub_shaped_and_win_over_the_ui(app, hub, me, register):
    model_id = register(me, name="Local one")
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    r = anon.get("/hf/api/models/nobody/nothing")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    assert r.headers["content-type"].startswith("application/json")  # not the SPA's index.html
    assert anon.get("/hf/nobody/nothing/resolve/main/README.md").headers["x-error-code"] == "RepoNotFound"
    other = anon.get("/hf/some/unknown/path")
    assert other.status_code == 404 and other.headers["content-type"].startswith("application/json")
    # single-user mode: the local user is everyone (as in the rest of the app)
    info = anon.get("/hf/api/models/local/local-one").json()
    assert info["id"] == "local/local-one" and info["modelmate"]["model_id"] == model_id
    sha = info["sha"]
    tree = anon.get(f"/hf/api/models/local/local-one/tree/{sha}").json()
    assert {"type", "path", "size", "oid"} <= set(tree[0])
    head = anon.head("/hf/local/local-one/resolve/main/adapter_config.json")
    assert head.status_code == 200 and head.headers["x-repo-commit"] == sha and head.headers["etag"]
    got = anon.get(f"/hf/local/local-one/resolve/{sha}/adapter_config.json")
    assert int(head.headers["content-length"]) == len(got.content) and got.json()["peft_type"] == "LORA"
    missing = anon.get("/hf/local/local-one/resolve/main/pytorch_model.bin")
    assert missing.status_code == 404 and missing.headers["x-error-code"] == "EntryNotFound"
    bad_rev = anon.get("/hf/api/models/local/local-one/revision/v9")
    assert bad_rev.status_code == 404 and bad_rev.headers["x-error-code"] == "RevisionNotFound"
    unknown = "mm_abcdefgh_" + "A" * 43  # a ModelMate token's shape, but no such token: refused, not ignored
    assert anon.get("/hf/api/models/local/local-one", headers={"Authorization": f"Bearer {unknown}"}).status_code == 401
    foreign = anon.get("/hf/api/models/local/local-one", headers={"Authorization": "Bearer hf_" + "x" * 34})
    assert foreign.status_code == 200  # a Hugging Face token the client sent by itself is ignored
