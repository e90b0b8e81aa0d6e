"""A real MLflow SQLite tracking store, written by ``mlflow`` itself, for the import tests.

Experiment "sft" holds five runs (their MLflow run ids in the returned dict, by role):

* ``finished``: Hugging Face TrainingArguments-style params, a 12-step loss/learning_rate/grad_norm curve with eval_loss
  every 4 steps, and a real PEFT LoRA adapter (safetensors) logged under ``model/adapter`` next to a ``.bin`` decoy;
* ``failed``: a loss that blows up to NaN, ended FAILED;
* ``killed``: three steps, ended KILLED;
* ``running``: still running;
* ``odd``: unrecognised params and values ModelMate cannot take (an SGD optimizer, a rank of 1024), FINISHED.

Experiment "other" holds two more finished runs: ``other``, whose base model is not in the catalog but whose
config.json entries were logged (as the Hugging Face MLflowCallback does), and ``nobase``, which names no base model.
"""

from __future__ import annotations

from pathlib import Path

FINISHED_PARAMS = {
    "model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", "learning_rate": "0.0002", "lora_r": "16",
    "lora_alpha": "32", "lora_dropout": "0.1", "num_train_epochs": "2.0", "max_steps": "-1",
    "per_device_train_batch_size": "4", "gradient_accumulation_steps": "2", "warmup_ratio": "0.05",
    "lr_scheduler_type": "SchedulerType.COSINE", "weight_decay": "0.01", "max_grad_norm": "0.5", "seed": "7",
    "max_seq_length": "1024", "target_modules": "{'v_proj', 'q_proj'}", "bf16": "True", "fp16": "False",
    "gradient_checkpointing": "True", "optim": "adamw_bnb_8bit", "load_in_4bit": "True", "output_dir": "out",
}
ODD_PARAMS = {"base_model_name_or_path": "Qwen/Qwen2.5-0.5B", "_name_or_path": "ignored/when-base-given",
              "optim": "sgd", "r": "1024", "lora_alpha": "16", "my_custom_flag": "yes",
              "dataloader_num_workers": "0"}
# What the Hugging Face MLflowCallback logs of a base model's config.json: enough to add it to the catalog.
MODEL_CONFIG_PARAMS = {"_name_or_path": "acme/tiny-llama", "architectures": "['LlamaForCausalLM']",
                       "hidden_size": "64", "num_hidden_layers": "2", "num_attention_heads": "4",
                       "num_key_value_heads": "4", "intermediate_size": "128", "vocab_size": "512",
                       "max_position_embeddings": "256", "tie_word_embeddings": "False"}


def write_adapter(directory: Path) -> Path:
    """A real (tiny) PEFT LoRA adapter: adapter_config.json + adapter_model.safetensors."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32))
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    model.save_pretrained(directory)
    assert (directory / "adapter_model.safetensors").is_file()
    return directory


def build_store(root: Path) -> tuple[str, dict[str, str]]:
    """(tracking URI, run ids by role)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri)
    sft = client.create_experiment("sft", artifact_location=(root / "artifacts").as_uri())
    other = client.create_experiment("other", artifact_location=(root / "artifacts-other").as_uri())
    ids: dict[str, str] = {}
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(experiment_id=sft, run_name="smollm2-lora") as run:
            ids["finished"] = run.info.run_id
            mlflow.log_params(FINISHED_PARAMS)
            for step in range(1, 13):
                mlflow.log_metrics({"loss": 2.0 - 0.1 * step, "learning_rate": 2e-4 * (1 - step / 13),
                                    "grad_norm": 1.0 + step / 10, "epoch": step / 6}, step=step)
                if step % 4 == 0:
                    mlflow.log_metric("eval_loss", 2.1 - 0.1 * step, step=step)
            mlflow.log_metrics({"train_loss": 1.4, "train_runtime": 12.5}, step=12)
            adapter = write_adapter(root / "adapter-src" / "adapter")
            (adapter / "training_args.bin").write_bytes(b"pickle: never downloaded")
            mlflow.log_artifacts(str(adapter), "model/adapter")
        with mlflow.start_run(experiment_id=sft, run_name="diverged") as run:
            ids["failed"] = run.info.run_id
            mlflow.log_params({"model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", "learning_rate": "0.005"})
            for step, loss in enumerate([2.0, 2.5, 9.0, 40.0, float("nan")], start=1):
                mlflow.log_metric("loss", loss, step=step)
            mlflow.end_run(status="FAILED")
        with mlflow.start_run(experiment_id=sft, run_name="stopped") as run:
            ids["killed"] = run.info.run_id
            mlflow.log_params({"learning_rate": "1e-4", "model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"})
            for step in (1, 2, 3):
                mlflow.log_metric("loss", 2.0 - step / 10, step=step)
            mlflow.end_run(status="KILLED")
        with mlflow.start_run(experiment_id=sft, run_name="odd") as run:
            ids["odd"] = run.info.run_id
            mlflow.log_params(ODD_PARAMS)
            mlflow.log_metric("loss", 1.0, step=1)
        with mlflow.start_run(experiment_id=other, run_name="elsewhere") as run:
            ids["other"] = run.info.run_id
            mlflow.log_params({"learning_rate": "3e-4", **MODEL_CONFIG_PARAMS})
            mlflow.log_metric("loss", 1.5, step=1)
        with mlflow.start_run(experiment_id=other, run_name="no-base") as run:
            ids["nobase"] = run.info.run_id
            mlflow.log_param("learning_rate", "3e-4")
            mlflow.log_metric("loss", 1.5, step=1)
    finally:
        mlflow.set_tracking_uri(previous)
    running = client.create_run(sft, run_name="in-progress")
    ids["running"] = running.info.run_id
    client.log_metric(ids["running"], "loss", 2.0, step=1)
    return uri, ids
