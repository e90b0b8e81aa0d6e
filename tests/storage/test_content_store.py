"""The content-addressed store: names from hashes only, atomic writes, dedup, capped temporary copies."""

from __future__ import annotations

import hashlib
import io
import os
import time

import pytest

from modelmate.storage import ContentStore, StoreError, TooLarge


def test_put_bytes_names_by_hash_and_dedups(tmp_path):
    store = ContentStore(tmp_path)
    first = store.put_bytes("datasets", b"hello\n", ".jsonl")
    digest = hashlib.sha256(b"hello\n").hexdigest()
    assert (first.digest, first.uri, first.created, first.size) == (digest, f"datasets/{digest}.jsonl", True, 6)
    assert first.path.read_bytes() == b"hello\n" and first.path.stat().st_mode & 0o777 == 0o400
    again = store.put_bytes("datasets", b"hello\n", ".jsonl")
    assert not again.created and again.path == first.path
    assert sorted(p.name for p in (tmp_path / "datasets").iterdir()) == [f"{digest}.jsonl"]  # no temp left
    assert store.resolve(first.uri) == first.path and store.exists(first.uri)


@pytest.mark.parametrize("uri", ["../x", "datasets/../../etc/passwd", "datasets/abc.jsonl", "/etc/passwd",
                                 "Datasets/" + "0" * 64, "datasets/" + "0" * 64 + ".json/..", ""])
def test_only_well_formed_uris_resolve(tmp_path, uri):
    with pytest.raises(StoreError):
        ContentStore(tmp_path).resolve(uri)


def test_bad_names_are_refused(tmp_path):
    store = ContentStore(tmp_path)
    for namespace, suffix in (("../up", ""), ("ok", "/x"), ("ok", ".a/b"), ("", "")):
        with pytest.raises(StoreError):
            store.put_bytes(namespace, b"x", suffix)


def test_temp_file_is_removed_even_on_error_and_copy_is_capped(tmp_path):
    store = ContentStore(tmp_path)
    with store.temp_file(".upload") as path:
        assert store.copy_capped(io.BytesIO(b"a" * 100), path, 100) == 100 and path.stat().st_size == 100
    assert not path.exists()
    with pytest.raises(TooLarge), store.temp_file() as path:
        store.copy_capped(io.BytesIO(b"a" * (3 * 1024 * 1024)), path, 2 * 1024 * 1024)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_sweep_removes_only_old_temporary_files(tmp_path):
    store = ContentStore(tmp_path)
    kept = store.put_bytes("datasets", b"keep", ".jsonl").path
    old = tmp_path / "datasets" / ".tmp-crashed.jsonl"
    old.write_bytes(b"half")
    fresh = tmp_path / "tmp" / ".tmp-inflight"
    fresh.parent.mkdir()
    fresh.write_bytes(b"busy")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert store.sweep_temp(older_than_s=3600) == 1
    assert not old.exists() and fresh.exists() and kept.exists()
