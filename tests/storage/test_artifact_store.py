"""The artifact store on local disk and on a real S3-compatible server (moto on 127.0.0.1), and the local cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelmate.storage.artifacts import (
    MANIFEST,
    ArtifactMissing,
    LocalStore,
    StoreUnavailable,
    check_key,
    open_store,
)
from modelmate.storage.cache import LocalCache


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "file":
        return open_store((tmp_path / "store").as_uri())
    return open_store(request.getfixturevalue("s3_url"))


def _folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "adapter_model.safetensors").write_bytes(os.urandom(4096))
    (root / "adapter_config.json").write_text('{"r": 8}')
    (root / "sub" / "notes.txt").write_text("hello")
    return root


def test_files_round_trip(store, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 3000)
    store.put_file(src, "runs/1/train.log")
    store.put_bytes(b"{}", "evaluations/2/results.json")
    assert store.exists("runs/1/train.log") and store.size("runs/1/train.log") == 3000
    assert store.get_file("runs/1/train.log", tmp_path / "copy.bin").read_bytes() == b"x" * 3000
    with store.open("evaluations/2/results.json") as fh:
        assert fh.read() == b"{}"
    assert store.list("runs") == ["runs/1/train.log"]
    store.delete("runs/1")
    assert not store.exists("runs/1/train.log")
    with pytest.raises(ArtifactMissing):
        store.open("runs/1/train.log")
    with pytest.raises(ArtifactMissing):
        store.get_file("nope/x", tmp_path / "n")


def test_a_directory_exists_only_once_sealed(store, tmp_path: Path) -> None:
    src = _folder(tmp_path / "adapter")
    store.put_file(src / "adapter_config.json", "runs/7/adapter/adapter_config.json")  # a crash before the seal
    assert not store.has_dir("runs/7/adapter")
    with pytest.raises(ArtifactMissing):
        store.get_dir("runs/7/adapter", tmp_path / "out0")
    manifest = store.put_dir(src, "runs/7/adapter")
    assert {f["path"] for f in manifest["files"]} == {"adapter_model.safetensors", "adapter_config.json",
                                                     "sub/notes.txt"}
    assert store.has_dir("runs/7/adapter")
    out = tmp_path / "out"
    store.get_dir("runs/7/adapter", out)
    assert (out / "sub" / "notes.txt").read_text() == "hello"
    assert (out / "adapter_model.safetensors").read_bytes() == (src / "adapter_model.safetensors").read_bytes()
    assert oct(out.stat().st_mode & 0o777) == "0o700"
    assert oct((out / "adapter_config.json").stat().st_mode & 0o777) == "0o600"


def test_a_corrupted_object_is_refused(store, tmp_path: Path) -> None:
    src = _folder(tmp_path / "adapter")
    store.put_dir(src, "runs/8/adapter")
    store.put_bytes(b"tampered", "runs/8/adapter/adapter_config.json")
    with pytest.raises(StoreUnavailable, match="does not match its manifest"):
        store.get_dir("runs/8/adapter", tmp_path / "out")


def test_symlinks_are_never_stored(tmp_path: Path) -> None:
    src = _folder(tmp_path / "adapter")
    (tmp_path / "secret").write_text("private")
    (src / "link").symlink_to(tmp_path / "secret")
    store = open_store((tmp_path / "store").as_uri())
    manifest = store.put_dir(src, "runs/9/adapter")
    assert "link" not in {f["path"] for f in manifest["files"]}
    assert not (tmp_path / "store" / "runs" / "9" / "adapter" / "link").exists()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a/.", "a b", "..", "a/\x00"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


def test_urls() -> None:
    assert isinstance(open_store("file:///tmp/somewhere"), LocalStore)
    for bad in ("http://x/y", "s3://", "file://host/share", "ftp://a"):
        with pytest.raises(ValueError):
            open_store(bad)


def test_unreachable_s3_gives_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from s3_server import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = open_store("s3://nowhere/prefix", storage_options={"config_kwargs": {"retries": {"max_attempts": 1},
                                                                                "connect_timeout": 1}})
    with pytest.raises(StoreUnavailable, match="cannot be used.*MODELMATE_ARTIFACTS_URL"):
        store.check()


def test_a_missing_bucket_is_reported(s3_url: str) -> None:
    bucket = s3_url.split("/")[2]
    store = open_store(f"s3://{bucket}-missing/prefix")
    with pytest.raises((StoreUnavailable, ArtifactMissing)):
        store.check()


# --- the cache -----------------------------------------------------------------------------------------------------

def test_the_cache_fetches_once_and_verifies(s3_url: str, tmp_path: Path) -> None:
    store = open_store(s3_url)
    store.put_dir(_folder(tmp_path / "adapter"), "runs/3/adapter")
    cache = LocalCache(tmp_path / "cache", max_bytes=10**9)
    first = cache.dir(store, "runs/3/adapter")
    assert (first / "adapter_config.json").read_text() == '{"r": 8}'
    stamp = (first / ".cache.json").stat().st_mtime_ns
    (first / "adapter_model.safetensors").chmod(0o600)
    inode = (first / "adapter_model.safetensors").stat().st_ino
    again = cache.dir(store, "runs/3/adapter")
    assert again == first and (again / "adapter_model.safetensors").stat().st_ino == inode  # a hit: no new download
    assert (first / ".cache.json").stat().st_mtime_ns >= stamp
    # a new version of the same key (a re-sealed directory) is fetched again
    (tmp_path / "adapter" / "adapter_config.json").write_text('{"r": 16}')
    store.put_dir(tmp_path / "adapter", "runs/3/adapter")
    assert (cache.dir(store, "runs/3/adapter") / "adapter_config.json").read_text() == '{"r": 16}'
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tmp-")]


def test_the_cache_keeps_under_its_cap(s3_url: str, tmp_path: Path) -> None:
    store = open_store(s3_url)
    for i in range(3):
        folder = tmp_path / f"a{i}"
        folder.mkdir()
        (folder / "w.bin").write_bytes(os.urandom(50_000))
        store.put_dir(folder, f"runs/{i}/adapter")
    cache = LocalCache(tmp_path / "cache", max_bytes=120_000, keep_recent_s=0)
    paths = [cache.dir(store, f"runs/{i}/adapter") for i in range(3)]
    assert cache.size() <= 120_000
    assert paths[2].is_dir() and not paths[0].exists()  # the least recently used went first
    assert (cache.dir(store, "runs/0/adapter") / "w.bin").stat().st_size == 50_000  # fetched again on demand


def test_a_local_store_is_used_in_place(tmp_path: Path) -> None:
    store = open_store((tmp_path / "store").as_uri())
    src = _folder(tmp_path / "store" / "runs" / "4" / "adapter")
    store.put_dir(src, "runs/4/adapter")  # written in place: only the manifest is added
    assert json.loads((src / MANIFEST).read_text())["files"]
    cache = LocalCache(tmp_path / "cache", max_bytes=1)
    assert cache.dir(store, "runs/4/adapter") == src
    assert not (tmp_path / "cache").exists()
    legacy = _folder(tmp_path / "store" / "runs" / "5" / "adapter")  # written before directories were sealed
    assert cache.dir(store, "runs/5/adapter") == legacy
    with pytest.raises(ArtifactMissing):
        cache.dir(store, "runs/6/adapter")
