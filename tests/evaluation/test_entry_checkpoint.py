"""The evaluation process's checkpoint (``evaluation.entry``): every finished task's record is kept for a later
process with the same spec, never for another spec (other domains, another model, another sample size)."""

from __future__ import annotations

from modelmate.evaluation.entry import checkpointer, fingerprint, load_checkpoint


def spec(tmp_path, **over):
    return {"model": str(tmp_path / "model"), "adapter": None, "domains": ["reading"], "mode": "quick",
            "cache_dir": str(tmp_path / "cache"), "quick_size": 2, "threads": 1, "device": "cpu",
            "result_path": str(tmp_path / "result.json"), "checkpoint_path": str(tmp_path / "checkpoint.json"), **over}


def test_a_checkpoint_is_resumed_only_with_the_same_spec(tmp_path):
    first = spec(tmp_path)
    save = checkpointer(first, {})
    record = {"rows": [{"task": "boolq", "value": 0.5}], "raw": {"results": {}}, "samples": {"boolq": [1, 7]},
              "error": None, "finished": True}
    save("boolq", record)
    save("truthfulqa_mc1", {**record, "finished": False, "error": "RuntimeError: boom", "raw": None})
    resumed = load_checkpoint(spec(tmp_path, threads=2, device="cuda"))  # how it runs does not change the scores
    assert list(resumed) == ["boolq", "truthfulqa_mc1"] and resumed["boolq"] == record
    assert load_checkpoint(spec(tmp_path, domains=["reading", "math"])) == {}
    assert load_checkpoint(spec(tmp_path, quick_size=5)) == {}
    assert load_checkpoint(spec(tmp_path, adapter=str(tmp_path / "other"))) == {}
    assert load_checkpoint(spec(tmp_path, checkpoint_path=None)) == {}
    assert fingerprint(first) == fingerprint(spec(tmp_path, result_path="elsewhere.json"))


def test_a_damaged_checkpoint_is_ignored(tmp_path):
    (tmp_path / "checkpoint.json").write_text("{not json")
    assert load_checkpoint(spec(tmp_path)) == {}
