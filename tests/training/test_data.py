"""Reading, detecting and normalising dataset files; canonical form; split; encoding with label masking; stats."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ml_fixtures import make_tokenizer
from modelmate.training import model_specs
from modelmate.training.data import (
    IGNORE_INDEX,
    MAX_ERRORS,
    DataError,
    DataErrors,
    canonical_bytes,
    content_hash,
    detect_format,
    encode_record,
    iter_raw_records,
    load_dataset_file,
    normalize,
    read_canonical,
    sniff_file_type,
    split_indices,
)
from modelmate.training.stats import dataset_stats, histogram, truncated_tokens

CONVO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What does the model do?"},
         {"role": "assistant", "content": "The model reads the answer."}, {"role": "user", "content": "And?"},
         {"role": "assistant", "content": "It learns today."}]


def _jsonl(tmp_path: Path, rows: list, name: str = "d.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _load(path: Path, fmt: str | None = None, max_rows: int = 1000, **kw):
    return load_dataset_file(path, filename=path.name, fmt=fmt, max_rows=max_rows, **kw)


# --- formats --------------------------------------------------------------------------------------------------


def test_each_format_is_detected_and_normalised(tmp_path):
    cases = {
        "text": ({"text": "Hello there."}, {"text": "Hello there."}),
        "alpaca": ({"instruction": "Add", "input": "2 and 3", "output": "5", "system": "Maths."},
                   {"messages": [{"role": "system", "content": "Maths."},
                                 {"role": "user", "content": "Add\n\n2 and 3"},
                                 {"role": "assistant", "content": "5"}]}),
        "sharegpt": ({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]},
                     {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}),
        "messages": ({"messages": [{"role": "developer", "content": "Rules."},
                                   {"role": "user", "content": [{"type": "text", "text": "Hi "},
                                                                {"type": "text", "text": "you"}]},
                                   {"role": "assistant", "content": "Hello"}]},
                     {"messages": [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Hi you"},
                                   {"role": "assistant", "content": "Hello"}]}),
    }
    for fmt, (raw, canonical) in cases.items():
        assert detect_format(raw) == fmt
        assert normalize(raw, fmt, 1) == canonical
        loaded = _load(_jsonl(tmp_path, [raw] * 3, f"{fmt}.jsonl"))
        assert (loaded.format, loaded.file_type, loaded.records) == (fmt, "jsonl", [canonical] * 3)
    assert normalize({"instruction": "Say hi", "input": "", "output": "hi"}, "alpaca", 1)["messages"][0] == \
        {"role": "user", "content": "Say hi"}
    assert detect_format({"prompt": "x", "completion": "y"}) is None


@pytest.mark.parametrize("fmt,raw,column,message", [
    ("text", {"text": "   "}, "text", "missing or empty"),
    ("text", {"text": {"a": 1}}, "text", "must be text"),
    ("alpaca", {"instruction": "x"}, "output", "missing or empty"),
    ("sharegpt", {"conversations": [{"from": "alien", "value": "x"}]}, "conversations[0].from", "unknown speaker"),
    ("sharegpt", {"conversations": "not json"}, "conversations", "not valid JSON"),
    ("messages", {"messages": [{"role": "user", "content": "x"}]}, "messages", "no assistant reply"),
    ("messages", {"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role", "unsupported role"),
    ("messages", {"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "y"},
                               {"role": "assistant", "content": "z"}]}, "messages[1]", "system message"),
    ("messages", {"messages": [{"role": "user", "content": [{"type": "image_url"}]},
                               {"role": "assistant", "content": "z"}]}, "messages[0].content", "text content"),
    ("messages", {"messages": []}, "messages", "non-empty list"),
])
def test_bad_records_name_row_and_field(fmt, raw, column, message):
    with pytest.raises(DataError) as info:
        normalize(raw, fmt, 7)
    assert (info.value.row, info.value.column) == (7, column)
    assert message in info.value.message and str(info.value).startswith(f"row 7, column {column!r}: ")


def test_missing_required_fields_are_reported_per_row_and_capped(tmp_path):
    rows = [{"instruction": "q", "output": "a"}] * 3 + [{"instruction": "q", "output": ""}] * 30
    with pytest.raises(DataErrors) as info:
        _load(_jsonl(tmp_path, rows))
    assert len(info.value.errors) == MAX_ERRORS and info.value.total >= MAX_ERRORS
    assert [e.row for e in info.value.errors[:2]] == [4, 5] and info.value.errors[0].column == "output"
    # a forced format checks its own fields
    with pytest.raises(DataErrors) as info:
        _load(_jsonl(tmp_path, [{"text": "hello"}]), fmt="alpaca")
    assert info.value.errors[0].column == "instruction"
    with pytest.raises(DataErrors, match="could not recognise the format"):
        _load(_jsonl(tmp_path, [{"prompt": "x"}]))


# --- JSONL ----------------------------------------------------------------------------------------------------


def test_malformed_jsonl_at_row_50001_is_named(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        for i in range(50_000):
            fh.write(json.dumps({"text": f"row {i}"}) + "\n")
        fh.write('{"text": "broken\n')
        fh.write(json.dumps({"text": "after"}) + "\n")
    with pytest.raises(DataErrors) as info:
        _load(path, max_rows=100_000)
    err = info.value.errors[-1]
    assert err.row == 50_001 and "not valid JSON" in err.message


def test_jsonl_line_too_long_too_deep_not_object_bad_utf8_and_nan(tmp_path):
    long_line = tmp_path / "long.jsonl"
    long_line.write_bytes(b'{"text": "ok"}\n{"text": "' + b"x" * 3_000_000 + b'"}\n')
    with pytest.raises(DataError) as info:
        list(iter_raw_records(long_line, "jsonl", max_line_bytes=1_000_000))
    assert info.value.row == 2 and "longer than 1000000 bytes" in info.value.message

    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"text": "a"}\n\n{"text": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(DataError) as info:
        list(iter_raw_records(deep, "jsonl"))
    assert info.value.row == 3 and "nested" in info.value.message  # blank line 2 still counts as a line
    moderately = tmp_path / "deep2.jsonl"
    moderately.write_text('{"text": ' + "[" * 30 + "]" * 30 + "}\n")
    with pytest.raises(DataError, match="nested more than"):
        list(iter_raw_records(moderately, "jsonl"))

    for body, expected in [(b"[1, 2]\n", "must be a JSON object"), (b'{"text": "caf\xe9"}\n', "UTF-8"),
                           (b'{"text": NaN}\n', "NaN is not allowed")]:
        path = tmp_path / "bad.jsonl"
        path.write_bytes(b'{"text": "fine"}\n' + body)
        with pytest.raises(DataError) as info:
            list(iter_raw_records(path, "jsonl"))
        assert info.value.row == 2 and expected in info.value.message


def test_jsonl_with_bom_and_blank_lines(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + b'{"text": "a"}\r\n\r\n{"text": "b"}\r\n')
    assert list(iter_raw_records(path, "jsonl")) == [(1, {"text": "a"}), (3, {"text": "b"})]


# --- CSV ------------------------------------------------------------------------------------------------------


def test_csv_with_bom_crlf_and_embedded_newlines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(codecs.BOM_UTF8 + b'instruction,input,output\r\n"Write\r\ntwo lines",,"one\r\ntwo"\r\n'
                     b'Add,"1, 2",3\r\n')
    loaded = _load(path)
    assert loaded.format == "alpaca" and loaded.file_type == "csv" and loaded.fields == ["instruction", "input",
                                                                                         "output"]
    assert loaded.records[0]["messages"][0]["content"] == "Write\r\ntwo lines"
    assert loaded.records[0]["messages"][1]["content"] == "one\r\ntwo"
    assert loaded.records[1]["messages"][0]["content"] == "Add\n\n1, 2"


def test_csv_non_utf8_names_row_and_column(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"text,source\nhello,web\nfine,caf\xe9\n")
    with pytest.raises(DataErrors) as info:
        _load(path)
    err = info.value.errors[-1]
    assert (err.row, err.column) == (2, "source") and "UTF-8" in err.message


def test_csv_messages_as_json_cells_and_too_many_values(tmp_path):
    path = tmp_path / "m.csv"
    cell = json.dumps([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])
    path.write_text('messages\n"' + cell.replace('"', '""') + '"\n', encoding="utf-8")
    assert _load(path).records == [{"messages": [{"role": "user", "content": "Hi"},
                                                 {"role": "assistant", "content": "Yo"}]}]
    path.write_text("text\nok\nbad,extra\n")
    with pytest.raises(DataErrors) as info:
        _load(path)
    assert info.value.errors[-1].row == 2 and "header has 1 columns" in info.value.errors[-1].message


# --- Parquet --------------------------------------------------------------------------------------------------


def test_parquet_text_and_nested_messages(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": [f"sentence {i}" for i in range(2500)]}), path, row_group_size=1000)
    loaded = _load(path, max_rows=10_000)
    assert loaded.file_type == "parquet" and len(loaded.records) == 2500
    assert loaded.records[2499] == {"text": "sentence 2499"}

    nested = tmp_path / "m.parquet"
    pq.write_table(pa.Table.from_pylist([{"messages": CONVO}, {"messages": CONVO[1:3]}]), nested)
    loaded = _load(nested)
    assert loaded.format == "messages" and loaded.records[1] == {"messages": CONVO[1:3]}

    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1" + b"\x00" * 100)
    with pytest.raises(DataErrors, match="not a readable Parquet file"):
        _load(broken)


def test_sniff_file_type_by_content_then_name():
    assert sniff_file_type("x.jsonl", b"PAR1....") == "parquet"
    assert sniff_file_type("data.CSV", b"a,b\n") == "csv"
    assert sniff_file_type(None, b'\xef\xbb\xbf  {"text": 1}') == "jsonl"
    assert sniff_file_type("../../x", b"text,label\n") == "csv"
    with pytest.raises(DataError, match="not a Parquet file"):
        sniff_file_type("a.parquet", b"{}")
    with pytest.raises(DataError, match="unrecognised file type"):
        sniff_file_type("blob", b"\x00\x01\x02 binary stuff")
    with pytest.raises(DataError, match="empty"):
        sniff_file_type(None, b"")


def test_max_rows_and_empty_files(tmp_path):
    with pytest.raises(DataErrors) as info:
        _load(_jsonl(tmp_path, [{"text": "a"}] * 11), max_rows=10)
    assert info.value.errors[-1].row == 11 and "more than 10 rows" in info.value.errors[-1].message
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(DataErrors, match="no rows"):
        _load(empty)


# --- canonical form and split ---------------------------------------------------------------------------------


def test_canonical_bytes_are_stable_and_roundtrip(tmp_path):
    a = canonical_bytes([{"messages": [{"content": "héllo", "role": "user"}]}, {"text": "x"}])
    b = canonical_bytes([{"messages": [{"role": "user", "content": "héllo"}]}, {"text": "x"}])
    assert a == b and a.endswith(b"\n") and "héllo".encode() in a
    assert content_hash(a) == content_hash(b) and len(content_hash(a)) == 64
    path = tmp_path / "c.jsonl"
    path.write_bytes(a)
    assert read_canonical(path) == [{"messages": [{"role": "user", "content": "héllo"}]}, {"text": "x"}]


def test_split_indices_is_deterministic_and_disjoint():
    train, held = split_indices(100, 0.1, 42)
    assert (train, held) == split_indices(100, 0.1, 42)
    assert len(held) == 10 and sorted(train + held) == list(range(100)) and not set(train) & set(held)
    assert split_indices(100, 0.1, 7)[1] != held
    assert split_indices(2, 0.1, 0)[1] and len(split_indices(2, 0.1, 0)[0]) == 1
    assert split_indices(5, 0.0, 0) == ([0, 1, 2, 3, 4], [])
    assert split_indices(1, 0.5, 0) == ([0], []) and split_indices(0, 0.1, 0) == ([], [])


# --- encoding -------------------------------------------------------------------------------------------------


def _labelled_text(tok, ids, labels):
    return tok.decode([i for i, label in zip(ids, labels, strict=True) if label != IGNORE_INDEX])


def test_encode_text_labels_everything_with_bos_and_eos():
    tok = make_tokenizer()
    ids, labels = encode_record({"text": "The model reads the answer."}, tok, 512)
    assert ids == labels and ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.decode(ids[1:-1]) == "The model reads the answer."
    short, short_labels = encode_record({"text": "The model reads the answer."}, tok, 4)
    assert short == ids[:4] == short_labels


def test_encode_messages_trains_only_assistant_turns():
    tok = make_tokenizer()
    ids, labels = encode_record({"messages": CONVO}, tok, 512)
    assert len(ids) == len(labels)
    assert tok.decode(ids).startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert _labelled_text(tok, ids, labels) == ("The model reads the answer.<|im_end|>\nIt learns today."
                                               "<|im_end|>\n<|endoftext|>")
    # prompts are masked: no user or system words appear among labelled tokens
    first_label = next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
    assert "What does the model do?" in tok.decode(ids[:first_label])


@pytest.mark.parametrize("template,expected", [
    (model_specs.LLAMA3_CHAT_TEMPLATE, "The model reads the answer.<|eot_id|>It learns today.<|eot_id|>"),
    (model_specs.MISTRAL_CHAT_TEMPLATE, " The model reads the answer.<|endoftext|> It learns today.<|endoftext|>"),
    (model_specs.QWEN25_CHAT_TEMPLATE, "The model reads the answer.<|im_end|>\nIt learns today.<|im_end|>\n"),
])
def test_label_masking_with_the_real_models_templates(template, expected):
    tok = make_tokenizer(template)
    ids, labels = encode_record({"messages": CONVO}, tok, 2048)
    text = _labelled_text(tok, ids, labels)
    assert text.removesuffix("<|endoftext|>") == expected.removesuffix("<|endoftext|>")
    assert "What does" not in text and "Be brief" not in text


def test_conversations_need_a_chat_template():
    with pytest.raises(DataError, match="no chat template"):
        encode_record({"messages": CONVO}, make_tokenizer(None), 512)
    assert encode_record({"text": "plain text"}, make_tokenizer(None), 512)[0]


def test_truncation_keeps_ids_and_labels_aligned():
    tok = make_tokenizer()
    ids, labels = encode_record({"messages": CONVO}, tok, 20)
    assert len(ids) == len(labels) == 20 and all(label == IGNORE_INDEX for label in labels)


# --- stats ----------------------------------------------------------------------------------------------------


def test_dataset_stats_without_and_with_a_tokenizer():
    records = [{"messages": CONVO}, {"messages": CONVO[1:3]}, {"text": "Every student learns."}]
    plain = dataset_stats(records, fields=["messages", "text"])
    assert plain["rows"] == 3 and plain["tokens"] is None and plain["histogram_unit"] == "chars"
    assert plain["roles"] == {"system": 1, "user": 3, "assistant": 3}
    assert plain["chars"]["max"] == sum(len(m["content"]) for m in CONVO)
    assert sum(b["count"] for b in plain["histogram"]) == 3 and plain["fields"] == ["messages", "text"]

    tok = make_tokenizer()
    stats = dataset_stats(records, tok, eval_indices=[1])
    lengths = [len(encode_record(r, tok, 10**9)[0]) for r in records]
    assert stats["tokens"]["total"] == sum(lengths) and stats["tokens"]["max"] == max(lengths)
    assert stats["tokens"]["eval_total"] == lengths[1]
    assert stats["tokens"]["train_total"] == lengths[0] + lengths[2]
    assert 0 < stats["tokens"]["labelled"] < stats["tokens"]["total"]
    assert stats["histogram_unit"] == "tokens" and sum(b["count"] for b in stats["histogram"]) == 3

    sampled = dataset_stats(records * 10, tok, max_token_rows=10)
    assert sampled["tokens"]["sampled"] == 10 and sampled["rows"] == 30


def test_histogram_and_truncated_token_estimate():
    hist = histogram([1, 2, 3, 10, 10, 100], bins=10)
    assert sum(b["count"] for b in hist) == 6 and hist[0]["lo"] == 1 and hist[-1]["hi"] >= 100
    assert histogram([]) == [] and histogram([5, 5]) == [{"lo": 5, "hi": 5, "count": 2}]
    assert truncated_tokens([{"lo": 100, "hi": 100, "count": 3}], 50) == 150
