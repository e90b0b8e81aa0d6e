"""ModelMateCallback on a real ``transformers.Trainer`` run (the toy tiny Llama with a PEFT LoRA adapter) against the
real server on 127.0.0.1 with a real API token: the run appears with every logged point, source external, outcome
success, the adapter in the store and the output model, whose automatic evaluation the worker then runs; a crash
inside the training loop is a failure (crashed), a NaN loss a failure (diverged)."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

from modelmate.integrations import ModelMateCallback
from modelmate.jobs.worker import Worker
from modelmate.models import BenchmarkResult, Evaluation

API = "/api/v1"




def make_trainer(tiny_source, tmp_path, *, steps: int = 4, callbacks=(), **args) -> Trainer:
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_source)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_source),
                           LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                                      task_type="CAUSAL_LM"))
    texts = [f"Example {i}: alpha beta gamma delta epsilon zeta eta theta" for i in range(24)]
    rows = []
    for text in texts:
        ids = tokenizer(text)["input_ids"][:12]
        ids = ids + [ids[-1]] * (12 - len(ids))
        rows.append({"input_ids": ids, "attention_mask": [1] * 12, "labels": ids})
    options = {"eval_strategy": "steps", "eval_steps": 2, **args}
    arguments = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=4, learning_rate=1e-3,
        logging_steps=1, per_device_eval_batch_size=4, save_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True, seed=3, hub_token="hf_secret_do_not_send", **options)
    return Trainer(model=model, args=arguments, train_dataset=rows[:20], eval_dataset=rows[20:],
                   callbacks=list(callbacks))


@pytest.mark.slow
@pytest.mark.e2e
def test_a_trainer_run_is_recorded_evaluated_and_exported(mm, hub, tiny_source, tmp_path, database, settings,
                                                          benchmark_dir):
    trainer = make_trainer(tiny_source, tmp_path)
    callback = ModelMateCallback(client=mm, base_model="tiny", name="trainer run").attach(trainer)
    trainer.train()
    run = mm.get_run(callback.run.id)
    assert run["source"] == "external" and run["status"] == "succeeded" and run["training_outcome"] == "success"
    logged = {h["step"]: h for h in trainer.state.log_history if "loss" in h or "eval_loss" in h}
    assert [p["step"] for p in run["loss_curve"]] == sorted(logged) == [1, 2, 3, 4]
    for point in run["loss_curve"]:
        for key in ("loss", "eval_loss"):
            expected = [h[key] for h in trainer.state.log_history if h["step"] == point["step"] and key in h]
            assert point.get(key) == (expected[0] if expected else None), (point, key)
    assert run["loss_curve"][0]["lr"] > 0 and run["loss_curve"][1]["eval_loss"] is not None
    config = run["config"]
    assert (config["r"], config["alpha"], config["max_steps"], config["batch_size"]) == (4, 8.0, 4, 4)
    assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]
    assert "hub_token" not in json.dumps(config)  # secrets never leave the training machine
    dataset = config["external"]["dataset"]
    assert dataset["rows"] == 20 and dataset["tokens"] == 240 and len(dataset["hash"]) == 64
    assert run["environment"]["transformers"] and run["environment"]["peft"] and run["environment"]["device"] == "cpu"
    assert run["artifacts"] == ["adapter_config.json", "adapter_model.safetensors"]
    model_id = run["output_model_id"]
    assert model_id is not None and run["train_seconds"] > 0

    # the automatic evaluation, exactly as after a native run: the worker delivers model_trained and evaluates
    on = settings.model_copy(update={"auto_evaluate": True, "auto_evaluate_domains": ["reading"]})
    assert Worker(database, on, kinds=["evaluate"], lease_s=30, poll_s=0.2).run_until_idle() == 2  # model + base
    with database.session() as s:
        evaluation = s.query(Evaluation).filter(Evaluation.model_id == model_id).one()
        assert evaluation.status == "final" and evaluation.run_id == run["id"]
        assert s.query(BenchmarkResult).filter(BenchmarkResult.model_id == model_id).count() > 0
    assert mm.get_run(run["id"])["evaluation"]["state"] == "done"
    changes = mm.request("GET", "/capability-changes", params={"model_id": model_id})  # vs its base, as native
    assert changes["total"] > 0 and {i["reference"]["id"] for i in changes["items"]} == {run["base_model"]["id"]}


def test_export_carries_the_external_run(mm, hub, tiny_source, tmp_path):
    trainer = make_trainer(tiny_source, tmp_path, steps=2, eval_strategy="no")
    ModelMateCallback(client=mm, base_model="tiny", upload_adapter=False).attach(trainer)
    trainer.train()
    raw = mm._http.get("/research/export", params={"format": "parquet"})
    table = pq.read_table(io.BytesIO(raw.content)).to_pylist()
    assert [(r["source"], r["outcome"], r["steps"], r["config.r"]) for r in table] == [("external", "success", 2, 4)]


class Explode(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 3:
            raise RuntimeError("injected failure at step 3")


class Poison(TrainerCallback):
    """Turns the adapter's weights into NaN after step 2: the next loss is NaN."""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step == 2:
            with torch.no_grad():
                for name, param in model.named_parameters():
                    if "lora_" in name:
                        param.fill_(float("nan"))


def test_a_crash_inside_the_training_loop_is_a_failure(mm, hub, tiny_source, tmp_path):
    trainer = make_trainer(tiny_source, tmp_path, steps=6, callbacks=[Explode()])
    callback = ModelMateCallback(client=mm, base_model="tiny").attach(trainer)
    with pytest.raises(RuntimeError, match="injected failure"):
        trainer.train()
    run = mm.get_run(callback.run.id)
    assert (run["status"], run["training_outcome"], run["failure_category"]) == ("failed", "failure", "crashed")
    assert run["error"]["type"] == "RuntimeError" and "injected failure at step 3" in run["failure_message"]
    assert [p["step"] for p in run["loss_curve"]] == [1, 2]  # step 3 never got to its log
    assert run["output_model_id"] is None and run["artifacts"] == []


def test_a_nan_loss_is_a_diverged_failure(mm, hub, tiny_source, tmp_path):
    trainer = make_trainer(tiny_source, tmp_path, steps=6, callbacks=[Poison()], eval_strategy="no",
                           logging_nan_inf_filter=False)
    callback = ModelMateCallback(client=mm, base_model="tiny").attach(trainer)
    trainer.train()
    assert trainer.state.global_step == 3  # the callback stopped the run at the first NaN
    run = mm.get_run(callback.run.id)
    assert (run["status"], run["training_outcome"], run["failure_category"]) == ("failed", "failure", "diverged")
    assert "step 3" in run["failure_message"] and run["output_model_id"] is None
