"""The SDK (modelmate.client) against the real app served by uvicorn on 127.0.0.1, with a real API token:
buffered points, the server's errors as ModelMateError, the context manager recording failures and interrupts."""

from __future__ import annotations

import json
import struct

import pytest

from modelmate.client import ModelMate, ModelMateError

API = "/api/v1"




def server_curve(mm: ModelMate, run_id: int) -> list[dict]:
    return mm.get_run(run_id)["loss_curve"]


def test_points_are_buffered_and_flushed(mm):
    run = mm.start_run(base_model="tiny", config={"r": 4, "lora_alpha": 8}, name="sdk run", flush_every=3,
                       flush_seconds=3600)
    run.log(1, loss=2.0, lr=1e-3)
    run.log(2, loss=1.8)
    assert run.buffered == 2 and server_curve(mm, run.id) == []  # below flush_every: nothing sent yet
    run.log(3, loss=1.7, eval_loss=1.9)
    assert run.buffered == 0 and [p["step"] for p in server_curve(mm, run.id)] == [1, 2, 3]
    run.log(4, loss=float("nan"))  # travels as "nan" (JSON has no NaN)
    out = run.finish("success")
    assert [p["step"] for p in out["loss_curve"]] == [1, 2, 3, 4]  # finish flushed the rest
    assert out["source"] == "external" and out["config"]["r"] == 4 and out["config"]["alpha"] == 8.0
    assert out["failure_category"] == "diverged"  # the native diagnosis of a NaN loss
    with pytest.raises(ModelMateError, match="has finished"):
        run.log(5, loss=1.0)


def test_server_errors_carry_the_servers_message(mm, live_server):
    with pytest.raises(ModelMateError) as err:
        mm.start_run(base_model="nobody/nothing")
    assert err.value.status == 404 and err.value.code == "unknown_base" and "nobody/nothing" in err.value.message
    bad = ModelMate(live_server, "mm_not-a-real-token")
    with pytest.raises(ModelMateError) as denied:
        bad.start_run(base_model="tiny")
    assert denied.value.status == 401
    with pytest.raises(ModelMateError, match="cannot reach ModelMate"):
        ModelMate("http://127.0.0.1:9", "x", timeout=2).start_run(base_model="tiny")


def test_context_manager_records_a_crash_and_reraises(mm):
    with pytest.raises(RuntimeError, match="dataloader exploded"), \
            mm.start_run(base_model="tiny", flush_every=100) as run:
        run.log(1, loss=2.0)
        raise RuntimeError("dataloader exploded")
    out = mm.get_run(run.id)
    assert out["status"] == "failed" and out["training_outcome"] == "failure"
    assert out["failure_category"] == "crashed" and out["error"]["type"] == "RuntimeError"
    assert "dataloader exploded" in out["failure_message"] and len(out["loss_curve"]) == 1


def test_context_manager_records_an_interrupt_as_partial(mm):
    with pytest.raises(KeyboardInterrupt), mm.start_run(base_model="tiny") as run:
        run.log(1, loss=2.0)
        raise KeyboardInterrupt
    out = mm.get_run(run.id)
    assert (out["status"], out["training_outcome"], out["failure_category"]) == ("cancelled", "partial", "cancelled")


def test_a_clean_exit_is_success_and_pickle_adapters_stay_home(mm, tmp_path):
    with mm.start_run(base_model="tiny") as run:
        run.log(1, loss=2.0)
    assert mm.get_run(run.id)["training_outcome"] == "success"
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 4}))
    (tmp_path / "adapter_model.bin").write_bytes(b"\x80\x04N.")
    other = mm.start_run(base_model="tiny")
    with pytest.raises(ModelMateError, match=r"pickle weights adapter_model\.bin"):
        other.upload_adapter(tmp_path)
    head = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (tmp_path / "adapter_model.safetensors").write_bytes(struct.pack("<Q", len(head)) + head + b"\0\0\0\0")
    out = other.finish("success", adapter_dir=tmp_path)
    assert out["artifacts"] == ["adapter_config.json", "adapter_model.safetensors"] and out["output_model_id"]
