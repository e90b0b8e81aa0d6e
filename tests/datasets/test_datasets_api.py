"""POST/GET/DELETE /api/v1/datasets on SQLite and PostgreSQL: formats, caps, validation, names, dedup, isolation."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dataset_helpers import API, CAP, artifact_files, jsonl, upload
from sqlalchemy import func, select

from ml_fixtures import make_tokenizer
from modelmate.datasets.schemas import UPLOAD_FORM_OVERHEAD
from modelmate.models import Dataset, Model
from modelmate.training.data import encode_record, read_canonical, split_indices
from modelmate.training.model_specs import CHATML_CHAT_TEMPLATE
from modelmate.training.stats import dataset_stats

ALPACA = [{"instruction": f"Say {i}", "input": "", "output": f"The number {i}."} for i in range(30)]
CONVO = [{"role": "user", "content": "What does the model do?"}, {"role": "assistant", "content": "It learns."}]


def _count(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Dataset))


def _parquet(records: list[dict]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), buf)
    return buf.getvalue()


# --- uploads of every file type and format ---------------------------------------------------------------------


@pytest.mark.parametrize("filename,content,fmt,file_type,rows", [
    ("alpaca.jsonl", jsonl(ALPACA), "alpaca", "jsonl", 30),
    ("chat.jsonl", jsonl([{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]}] * 4),
     "sharegpt", "jsonl", 4),
    ("notes.csv", b"\xef\xbb\xbftext\r\n\"first\r\nline\"\r\nsecond\r\n", "text", "csv", 2),
    ("msgs.parquet", _parquet([{"messages": CONVO}] * 12), "messages", "parquet", 12),
])
def test_upload_each_file_type(client, settings, database, filename, content, fmt, file_type, rows):
    resp = upload(client, filename, content, description="first try", domain="maths", license="mit")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["format"], body["file_type"], body["rows"]) == (fmt, file_type, rows)
    assert body["name"] == filename.rsplit(".", 1)[0] and body["original_filename"] == filename
    assert (body["description"], body["domain"], body["license"], body["visibility"]) == \
        ("first try", "maths", "mit", "private")
    train, held = split_indices(rows, 0.1, 42)
    assert (body["train_rows"], body["eval_rows"]) == (len(train), len(held))
    assert body["size_bytes"] == len(content)
    assert body["stats"]["rows"] == rows and sum(b["count"] for b in body["stats"]["histogram"]) == rows
    assert body["token_counts"] == {} and body["stats"]["tokens"] is None  # no base model on this machine
    # stored content-addressed: the canonical file's sha256 is the dataset's hash and its name
    files = artifact_files(settings)
    assert [p.relative_to(settings.artifacts_dir).as_posix() for p in files] == \
        [f"datasets/{body['content_hash']}.jsonl"]
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == body["content_hash"]
    assert len(read_canonical(files[0])) == rows
    assert client.get(f"{API}/datasets/{body['id']}").json() == body


def test_token_counts_use_the_local_base_models_tokenizer(client, tokenizer_base):
    rows = [{"messages": CONVO}, {"text": "The model reads the answer."}] * 5
    resp = upload(client, "mix.jsonl", jsonl([{"messages": CONVO}] * 10))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    tok = tokenizer_base["tokenizer"]
    records = [{"messages": CONVO}] * 10
    expected = dataset_stats(records, tok, eval_indices=split_indices(10, 0.1, 42)[1])["tokens"]
    counts = body["token_counts"]["tiny"]
    assert counts["total"] == expected["total"] == 10 * len(encode_record(records[0], tok, 10**9)[0])
    assert counts["train_total"] + counts["eval_total"] == counts["total"] and counts["tokenizer"] == "tiny"
    assert body["stats"]["histogram_unit"] == "tokens" and body["stats"]["tokens"]["labelled"] > 0
    # naming the base model explicitly (by id) works the same; an unknown one is a 422
    again = upload(client, "text.jsonl", jsonl(rows[1::2]), base_model=str(tokenizer_base["id"]))
    assert again.status_code == 201 and again.json()["token_counts"]["tiny"]["total"] > 0
    bad = upload(client, "text2.jsonl", jsonl([{"text": "other"}]), base_model="no-such-model")
    assert bad.status_code == 422 and bad.json()["error"]["details"]["errors"][0]["column"] == "base_model"


def test_a_tokenizer_without_chat_template_uses_the_specs(client, database, tmp_path):
    path = tmp_path / "bare-tokenizer"
    make_tokenizer(None).save_pretrained(path)
    with database.session() as s:
        s.add(Model(name="Bare base", name_key="bare base", developer_key="", model_type="LLM", kind="base",
                    visibility="public", hub_info={"key": "bare", "local_path": str(path),
                                                   "chat_template": CHATML_CHAT_TEMPLATE}))
    resp = upload(client, "chat.jsonl", jsonl([{"messages": CONVO}] * 3), base_model="BARE")
    assert resp.status_code == 201, resp.text
    expected = len(encode_record({"messages": CONVO}, make_tokenizer(), 10**9)[0])
    assert resp.json()["token_counts"]["bare"]["total"] == 3 * expected


def test_forced_format_is_checked(client, database):
    resp = upload(client, "a.jsonl", jsonl([{"text": "plain"}]), format="alpaca")
    assert resp.status_code == 422
    assert resp.json()["error"]["details"]["errors"][0] == {"row": 1, "column": "instruction",
                                                            "message": "is missing or empty"}
    assert upload(client, "a.jsonl", jsonl([{"text": "plain"}]), format="text").status_code == 201


# --- size caps ------------------------------------------------------------------------------------------------


def _chunked_multipart(total: int, boundary: str = "mmboundary"):
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jsonl\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    line = json.dumps({"text": "x" * 1000}).encode() + b"\n"
    sent = 0
    while sent < total:
        yield line * 64
        sent += len(line) * 64
    yield f"\r\n--{boundary}--\r\n".encode()


def test_oversized_upload_is_413_while_streaming_and_leaves_no_file(small_client, database, tmp_path, monkeypatch):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where the multipart parser would spool the file
    resp = small_client.post(f"{API}/datasets", content=_chunked_multipart(5 * 1024 * 1024),
                             headers={"Content-Type": "multipart/form-data; boundary=mmboundary"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"
    assert artifact_files(small_client.settings) == [] and list(spool.iterdir()) == []
    assert _count(database) == 0


def test_uploads_above_the_default_request_cap_are_accepted(client):
    content = jsonl([{"text": "z" * 1000 + str(i)} for i in range(3000)])  # ~3 MB > the 2 MiB default body cap
    resp = upload(client, "big.jsonl", content)
    assert resp.status_code == 201, resp.text
    assert resp.json()["rows"] == 3000 and resp.json()["size_bytes"] == len(content)


def test_file_just_over_the_cap_is_413_with_no_temp_file(small_client, database):
    content = jsonl([{"text": "y" * 1000}] * 2100)  # ~2.1 MB: inside the body cap, over the 2 MiB file cap
    assert CAP < len(content) < CAP + UPLOAD_FORM_OVERHEAD
    resp = upload(small_client, "big.jsonl", content)
    assert resp.status_code == 413, resp.text
    assert artifact_files(small_client.settings) == [] and _count(database) == 0
    ok = upload(small_client, "ok.jsonl", jsonl([{"text": "y" * 1000}] * 10))
    assert ok.status_code == 201


def test_multipart_bombs_are_refused_fast(client, database):
    many = b"".join(b'--bb\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(10_000))
    huge_header = (b'--bb\r\nContent-Disposition: form-data; name="file"; filename="' + b"a" * 1_000_000
                   + b'"\r\n\r\n{"text": "x"}\n\r\n')
    huge_field = (b'--bb\r\nContent-Disposition: form-data; name="description"\r\n\r\n' + b"d" * 2_000_000
                  + b"\r\n")
    for body in (many, huge_header, huge_field):
        resp = client.post(f"{API}/datasets", content=body + b"--bb--\r\n",
                           headers={"Content-Type": "multipart/form-data; boundary=bb"})
        assert resp.status_code in (400, 413), resp.text
    assert _count(database) == 0


# --- validation -----------------------------------------------------------------------------------------------


def test_bad_rows_are_422_naming_row_and_column_and_nothing_is_written(client, settings, database):
    resp = upload(client, "latin1.csv", b"text,source\nhello,web\nfine,caf\xe9\n")
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"]["errors"] == [{"row": 2, "column": "source",
                                           "message": "not valid UTF-8 text; save the file as UTF-8"}]
    lines = jsonl([{"text": "ok"}] * 4) + b'{"text": "broken\n'
    resp = upload(client, "broken.jsonl", lines)
    assert resp.status_code == 422 and resp.json()["error"]["details"]["errors"][0]["row"] == 5
    missing = jsonl([{"instruction": "q", "output": "a"}, {"instruction": "q2"}])
    resp = upload(client, "missing.jsonl", missing)
    assert resp.json()["error"]["details"]["errors"] == [{"row": 2, "column": "output",
                                                          "message": "is missing or empty"}]
    deep = b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n"
    resp = upload(client, "deep.jsonl", deep)
    assert resp.status_code == 422 and "nested" in resp.json()["error"]["details"]["errors"][0]["message"]
    for content in (b"", b"\x00\x01\x02garbage"):
        assert upload(client, "blob", content).status_code == 422
    assert _count(database) == 0
    assert [p for p in artifact_files(settings)] == []


@pytest.mark.parametrize("filename", ["../../x", "..\\x", "%2e%2e%2f", "/etc/passwd", "nul\x00byte.jsonl", "CON",
                                      "x" * 300 + ".jsonl", "<script>alert(1)</script>.jsonl"])
def test_hostile_filenames_are_metadata_only(client, settings, tmp_path, filename):
    content = jsonl([{"text": f"content for {filename!r}"}])
    resp = upload(client, filename, content)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    files = artifact_files(settings)
    assert [p.relative_to(settings.artifacts_dir).as_posix() for p in files] == \
        [f"datasets/{body['content_hash']}.jsonl"]
    assert "\x00" not in (body["original_filename"] or "") and len(body["original_filename"] or "") <= 300
    assert body["name"] and len(body["name"]) <= 200 and "/" not in body["name"]
    assert not (tmp_path / "x").exists() and not (settings.data_dir.parent / "x").exists()
    if filename == "<script>alert(1)</script>.jsonl":
        assert body["original_filename"] == filename  # kept raw, served as JSON (inert)


def test_raw_control_characters_in_names_are_dropped(client, settings):
    body = (b'--bb\r\nContent-Disposition: form-data; name="file"; filename="a\x00b/../c\x01.jsonl"\r\n'
            b'Content-Type: application/octet-stream\r\n\r\n{"text": "raw nul"}\n\r\n'
            b'--bb\r\nContent-Disposition: form-data; name="description"\r\n\r\nhas a \x00 NUL\r\n--bb--\r\n')
    resp = client.post(f"{API}/datasets", content=body, headers={"Content-Type": "multipart/form-data; boundary=bb"})
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert (out["original_filename"], out["name"], out["description"]) == ("ab/../c.jsonl", "c", "has a  NUL")
    assert [p.name for p in artifact_files(settings)] == [f"{out['content_hash']}.jsonl"]


# --- dedup, isolation, delete, preview ------------------------------------------------------------------------


def test_same_content_is_stored_once(client, account_client, settings):
    alice = account_client("alice")
    first = upload(alice, "a.jsonl", jsonl(ALPACA))
    again = upload(alice, "renamed.csv.jsonl", jsonl(ALPACA) + b"\n")  # same records: same canonical bytes
    assert first.status_code == 201 and again.status_code == 200 and again.json()["id"] == first.json()["id"]
    bob = account_client("bob")
    theirs = upload(bob, "b.jsonl", jsonl(ALPACA))
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert theirs.json()["content_hash"] == first.json()["content_hash"]
    assert len(artifact_files(settings)) == 1


def test_other_users_private_datasets_are_404(client, account_client):
    alice, bob = account_client("alice"), account_client("bob")
    private = upload(alice, "mine.jsonl", jsonl(ALPACA)).json()
    public = upload(alice, "shared.jsonl", jsonl(ALPACA[:10]), visibility="public").json()
    for path in (f"/datasets/{private['id']}", f"/datasets/{private['id']}/preview"):
        resp = bob.get(API + path)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert bob.delete(f"{API}/datasets/{private['id']}").status_code == 404
    assert bob.get(f"{API}/datasets/{public['id']}").status_code == 200
    assert bob.get(f"{API}/datasets/{public['id']}/preview").json()["total"] == 10
    assert bob.delete(f"{API}/datasets/{public['id']}").status_code == 403
    listed = bob.get(f"{API}/datasets").json()
    assert [d["id"] for d in listed["items"]] == [public["id"]] and listed["total"] == 1
    assert bob.get(f"{API}/datasets", params={"mine": True}).json()["total"] == 0
    assert alice.get(f"{API}/datasets").json()["total"] == 2
    assert alice.get(f"{API}/datasets", params={"q": "SHARED"}).json()["items"][0]["id"] == public["id"]


def test_anonymous_uploads_are_refused_once_accounts_exist(app, client, account_client, database):
    account_client("alice")
    from fastapi.testclient import TestClient

    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    assert upload(anon, "a.jsonl", jsonl(ALPACA)).status_code == 401
    assert upload(anon, "bad.jsonl", b"{not json\n").status_code == 401  # refused before the file is read
    assert anon.get(f"{API}/datasets").status_code == 401
    assert _count(database) == 0


def test_soft_delete_hides_the_dataset_but_keeps_row_and_file(client, settings, database):
    body = upload(client, "a.jsonl", jsonl(ALPACA)).json()
    assert client.delete(f"{API}/datasets/{body['id']}").status_code == 204
    assert client.get(f"{API}/datasets/{body['id']}").status_code == 404
    assert client.get(f"{API}/datasets").json()["total"] == 0
    assert client.delete(f"{API}/datasets/{body['id']}").status_code == 404
    with database.session() as s:
        row = s.get(Dataset, body["id"])
        assert row.deleted_at is not None and row.content_hash == body["content_hash"]
    (path,) = artifact_files(settings)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == body["content_hash"]
    # uploading it again makes a new dataset that reuses the stored file
    again = upload(client, "a.jsonl", jsonl(ALPACA))
    assert again.status_code == 201 and again.json()["id"] != body["id"] and len(artifact_files(settings)) == 1


def test_preview_pages_through_canonical_rows(client):
    body = upload(client, "a.jsonl", jsonl(ALPACA)).json()
    page = client.get(f"{API}/datasets/{body['id']}/preview", params={"offset": 28, "limit": 5}).json()
    assert page["total"] == 30 and page["offset"] == 28 and page["limit"] == 5 and len(page["rows"]) == 2
    assert page["rows"][0] == {"messages": [{"role": "user", "content": "Say 28"},
                                            {"role": "assistant", "content": "The number 28."}]}
    first = client.get(f"{API}/datasets/{body['id']}/preview").json()
    assert len(first["rows"]) == 20 and first["rows"][0]["messages"][0]["content"] == "Say 0"
    assert client.get(f"{API}/datasets/{body['id']}/preview", params={"limit": 101}).status_code == 422
    assert client.get(f"{API}/datasets/999999/preview").status_code == 404
