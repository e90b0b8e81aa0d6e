"""RELIABILITY #40: a symbolic link in an adapter folder (to a file outside it, or to one of its own files) is never
listed, served by the Hugging Face compatible endpoint or put in the download zip; the regular files still are."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelmate.finetune.forks import copy_parent_adapter
from modelmate.hub import download
from modelmate.models import Model

API = "/api/v1"
SECRET = "root:x:0:0:the-secret-of-this-machine"
LINKS = ("passwd.txt", "copy_of_config.json", "etc")


def _adapter_folder(database, model_id: int) -> Path:
    with database.session() as s:
        uri = s.get(Model, model_id).hub_info["artifact_uri"]
    return Path(uri.removeprefix("file://"))


def _plant_links(folder: Path, outside: Path) -> None:
    outside.mkdir()
    (outside / "passwd").write_text(SECRET + "\n")
    (folder / "passwd.txt").symlink_to(outside / "passwd")  # a fake /etc/passwd outside the folder
    (folder / "copy_of_config.json").symlink_to(folder / "adapter_config.json")  # inside the folder: still a link
    (folder / "etc").symlink_to(outside, target_is_directory=True)


def test_links_are_never_listed_served_or_zipped(app, hub, me, register, database, tmp_path):
    model_id = register(me, name="Linked")
    folder = _adapter_folder(database, model_id)
    regular = sorted(p.name for p in folder.iterdir())
    _plant_links(folder, tmp_path / "outside")
    anon = TestClient(app, base_url="http://127.0.0.1:8000")

    # the zip: the regular files and the generated card, nothing else, and no byte of the secret
    r = hub.get(f"{API}/hub/models/{model_id}/download")
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = sorted(zf.namelist())
        assert names == sorted({*regular, "README.md"})
        assert all(SECRET.encode() not in zf.read(name) for name in names)

    # the Hugging Face compatible endpoint: model info siblings, the tree, resolve
    info = anon.get("/hf/api/models/local/linked").json()
    assert sorted(s["rfilename"] for s in info["siblings"]) == names
    tree = anon.get(f"/hf/api/models/local/linked/tree/{info['sha']}").json()
    assert sorted(entry["path"] for entry in tree) == names
    for name in (*LINKS, "etc/passwd"):
        for method in ("GET", "HEAD"):
            resp = anon.request(method, f"/hf/local/linked/resolve/main/{name}")
            assert resp.status_code == 404 and resp.headers["x-error-code"] == "EntryNotFound", (name, method)
            assert SECRET not in resp.text
    config = anon.get("/hf/local/linked/resolve/main/adapter_config.json")
    assert config.status_code == 200 and config.json()["peft_type"] == "LORA"


def test_weights_that_are_a_link_make_the_adapter_unavailable(app, hub, me, register, database, tmp_path):
    model_id = register(me, name="Hollow")
    folder = _adapter_folder(database, model_id)
    weights = folder / "adapter_model.safetensors"
    moved = tmp_path / "elsewhere.safetensors"
    weights.rename(moved)
    weights.symlink_to(moved)
    r = hub.get(f"{API}/hub/models/{model_id}/download")
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_unavailable"
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    assert anon.get("/hf/local/hollow/resolve/main/adapter_model.safetensors").status_code == 404


# --- the listing itself, without a trained adapter ------------------------------------------------------------------

def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    (folder / ".hidden").write_text("x")
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.txt").write_text("x")
    os.mkfifo(folder / "fifo")
    return folder


def test_listing_keeps_regular_files_of_the_folder_only(tmp_path):
    folder = _folder(tmp_path)
    _plant_links(folder, tmp_path / "outside")
    os.link(folder / "adapter_config.json", folder / "hardlinked.json")  # a hard link inside is a regular file
    assert [f.name for f in download.adapter_files(folder)] == ["adapter_config.json", "adapter_model.safetensors",
                                                                "hardlinked.json"]


def test_a_folder_that_is_a_link_serves_nothing(tmp_path):
    folder = _folder(tmp_path)
    link = tmp_path / "linked-adapter"
    link.symlink_to(folder, target_is_directory=True)
    assert download.adapter_files(link) == []


def test_a_file_swapped_for_a_link_after_the_listing_is_not_read(tmp_path):
    folder = _folder(tmp_path)
    (tmp_path / "secret").write_text(SECRET)
    files = {f.name: f for f in download.adapter_files(folder)}
    target = folder / "adapter_config.json"
    target.unlink()
    target.symlink_to(tmp_path / "secret")
    with pytest.raises(OSError):
        b"".join(files["adapter_config.json"].chunks())
    other = folder / "adapter_model.safetensors"  # replaced by another regular file: not the listed one either
    (tmp_path / "swap").write_text("12345678")
    os.replace(tmp_path / "swap", other)
    with pytest.raises(OSError):
        b"".join(files["adapter_model.safetensors"].chunks())
    other.unlink()  # a new file that reuses the freed inode is still caught by its size
    other.write_text(SECRET)
    with pytest.raises(OSError):
        b"".join(files["adapter_model.safetensors"].chunks())


def test_a_fork_never_copies_a_parent_file_that_is_a_link(tmp_path):
    folder = _folder(tmp_path)
    (tmp_path / "secret").write_text(SECRET)
    (folder / "adapter_config.json").unlink()
    (folder / "adapter_config.json").symlink_to(tmp_path / "secret")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        copy_parent_adapter(folder, run_dir)
    assert not (run_dir / "parent_adapter").exists()
