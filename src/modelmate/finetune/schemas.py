"""API schemas for fine-tuning: base models, training options, estimates and runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelmate.catalog.schemas import RawText
from modelmate.datasets.schemas import TrainingContamination
from modelmate.enums import EvaluationState, FailureCategory, JobStatus, RunSource, RunStatus, TrainingOutcome
from modelmate.jobs.schemas import QueueInfo

MAX_ID = 2**63 - 1


class BaseModelOut(BaseModel):
    id: int
    key: str = Field(description="Short name used by the CLI and the API (e.g. 'tiny', 'llama-3.2-1b')")
    name: str
    developer: str | None = None
    hf_repo_id: str | None = None
    architecture: str | None = None
    parameters: int | None = None
    license: str | None = None
    gated: bool = False
    toy: bool = Field(False, description="A toy model for demos and tests: it knows nothing")
    available: bool = Field(description="Ready to train on: the toy/local model is on disk, or the worker can "
                                        "download this Hugging Face model")
    unavailable_reason: str | None = None
    default_target_modules: list[str] = Field(default_factory=list)
    context_length: int | None = None
    description: str | None = None
    source: dict[str, Any] | None = Field(None, description="Where the weights came from when they were converted "
                                                            "on this server (GGUF file name, sha256, quantization, "
                                                            "stored dtype)")


class ConfigFieldOut(BaseModel):
    name: str
    type: str = Field(description="int | float | bool | choice | list")
    default: Any = None
    help: str
    group: str = Field(description="basic | advanced")
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool | None = None
    choices: list[Any] | None = None
    nullable: bool = False


class PresetOut(BaseModel):
    key: str
    title: str
    summary: str
    explanation: str
    values: dict[str, Any]


class MachineOut(BaseModel):
    """What the training workers' machine can run (probed on the API's machine unless configured)."""

    device: str = Field(description="cuda | cpu")
    gpu_name: str | None = None
    compute_capability: list[int] | None = Field(None, description="The GPU's [major, minor] (8.0+: Ampere)")
    bf16: bool
    bitsandbytes: str | None = Field(None, description="The installed bitsandbytes version")
    bitsandbytes_works: bool = Field(description="bitsandbytes' 4-bit, int8 and 8-bit optimizer kernels ran on the "
                                                 "device")
    bitsandbytes_error: str | None = None
    flash_attn: str | None = Field(None, description="The installed flash-attn version")


class RefusalOut(BaseModel):
    field: str
    code: str
    message: str
    alternatives: list[Any] = Field(default_factory=list, description="Values of the field this machine can run")


class UnavailableChoice(RefusalOut):
    value: Any = Field(description="The choice of the field this machine refuses")


class MemoryModeOut(BaseModel):
    key: str
    title: str
    summary: str
    values: dict[str, Any] = Field(description="Settings laid over the preset's")
    available: bool = Field(description="Whether this machine can run it")
    reason: str | None = Field(None, description="Why not, when it cannot")


class TrainingOptions(BaseModel):
    fields: list[ConfigFieldOut]
    presets: list[PresetOut]
    machine: MachineOut
    unavailable: list[UnavailableChoice] = Field(
        default_factory=list, description="Every choice of a setting that this machine refuses, with the reason")
    memory_modes: list[MemoryModeOut] = Field(
        default_factory=list, description="Guided mode's memory choices (standard, save memory)")


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_model: RawText = Field(min_length=1, max_length=200, description="Base model id, key (e.g. 'tiny') or "
                                                                          "Hugging Face id")
    dataset_id: int = Field(ge=1, le=MAX_ID)
    preset: RawText | None = Field(None, max_length=32)
    config: dict[str, Any] | None = Field(None, description="Field values that override the preset")
    parent_model_id: int | None = Field(None, ge=1, le=MAX_ID, description="Fork: the fine-tuned model the run "
                                                                            "would continue from")


class MemorySaverOut(BaseModel):
    label: str = Field(description="The change in plain words, e.g. 'gradient checkpointing'")
    change: dict[str, Any] = Field(description="The configuration values to set")
    peak_memory_bytes: int = Field(description="The estimated peak memory with this change")
    fits: bool = Field(description="Whether the run then fits the worker's device")


class EstimateOut(BaseModel):
    steps: int
    epochs: float
    train_tokens: int = Field(description="Tokens the whole run trains on: one pass's tokens × the passes its steps "
                                          "make (the finished run reports the same count)")
    epoch_tokens: int = Field(0, description="Tokens in one pass over the training split, each example cut to "
                                             "max_seq_length")
    tokens_per_step: int
    trainable_parameters: int
    peak_memory_bytes: int = Field(description="Peak memory of the training process (CPU: resident memory; GPU: "
                                               "GPU memory), the sum of `memory`")
    seconds: float
    device: str
    memory: dict[str, int] = Field(default_factory=dict, description="The parts of the peak in bytes: runtime, "
                                                                     "weights, adapter, activations, logits, "
                                                                     "transients")
    device_memory_bytes: int | None = Field(None, description="Memory of the worker's training device (None: "
                                                              "unknown)")
    fits: bool | None = Field(None, description="Whether the peak fits 90 % of the device's memory (None: unknown). "
                                                "A run that does not fit can still be launched; it is a warning")
    note: str | None = Field(None, description="The warning in plain words when the run does not fit, with the "
                                               "memory savers that would make it fit")
    savers: list[MemorySaverOut] = Field(default_factory=list, description="Memory savers and the peak each "
                                                                           "gives, those that fit first (only "
                                                                           "when the run does not fit)")
    notes: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(description="The resolved configuration (defaults, preset, your values)")


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RawText | None = Field(None, max_length=200)
    base_model: RawText = Field(min_length=1, max_length=200, description="Base model id, key or Hugging Face id")
    dataset_id: int = Field(ge=1, le=MAX_ID)
    mode: Literal["guided", "expert"] = "guided"
    preset: RawText | None = Field(None, max_length=32)
    config: dict[str, Any] | None = Field(None, description="Field values that override the preset")
    parent_model_id: int | None = Field(None, ge=1, le=MAX_ID, description="Fork: a fine-tuned model this run "
                                                                            "continues from")


class ModelRef(BaseModel):
    id: int
    name: str
    key: str | None = None


class DatasetRef(BaseModel):
    id: int
    name: str
    content_hash: str | None = None
    rows: int | None = None
    deleted: bool = False


class RunJob(BaseModel):
    id: int
    status: JobStatus
    progress: float
    progress_message: str | None = None
    attempts: int
    max_attempts: int
    cancel_requested: bool


class CurvePoint(BaseModel):
    model_config = ConfigDict(extra="allow")

    step: int
    loss: float | None = None
    eval_loss: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    tokens: int | None = None
    seconds: float | None = None
    epoch: float | None = None


class RunError(BaseModel):
    type: str | None = None
    message: str | None = None


class RunSummary(BaseModel):
    id: int
    name: str | None = None
    status: RunStatus
    training_outcome: TrainingOutcome | None = None
    failure_category: FailureCategory | None = None
    mode: str
    preset: str | None = None
    source: RunSource = Field(RunSource.MODELMATE, description="Where it was trained: modelmate (launched here), "
                                                               "external (logged from anywhere), mlflow (imported)")
    base_model: ModelRef | None = None
    dataset: DatasetRef | None = None
    total_steps: int | None = None
    current_step: int | None = Field(None, description="Last step on the loss curve")
    progress: float | None = None
    final_loss: float | None = None
    final_eval_loss: float | None = None
    output_model_id: int | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RunEvaluation(BaseModel):
    """The automatic evaluation of the run's output model, as it stands."""

    id: int
    model_id: int
    state: EvaluationState = Field(
        description="queued: waiting for a worker; paused: yielded to higher-priority work after some tasks; "
                    "running; done: final scores; partial: some tasks failed; failed: no scores")
    progress: float | None = None
    progress_message: str | None = None
    tasks: int = Field(description="Benchmark tasks in the evaluation")
    domains: list[str] = Field(default_factory=list, description="The domains it measures")
    all_domains: bool = Field(False, description="It measures every domain there is")
    error: str | None = None


class RunOut(RunSummary):
    failure_message: str | None = None
    config: dict[str, Any]
    parent_model_id: int | None = None
    job: RunJob | None = None
    loss_curve: list[CurvePoint] = Field(default_factory=list)
    early_stopping: list[dict[str, Any]] = Field(default_factory=list)
    estimate: dict[str, Any] = Field(default_factory=dict)
    tokens_per_second: float | None = None
    train_tokens: int | None = None
    peak_memory_bytes: int | None = None
    train_seconds: float | None = None
    environment: dict[str, Any] = Field(default_factory=dict)
    error: RunError | None = None
    artifacts: list[str] = Field(default_factory=list)
    queue: QueueInfo | None = Field(None, description="While the run is queued: its place in the queue, what runs "
                                                      "now and the estimated wait")
    evaluation: RunEvaluation | None = Field(None, description="The automatic evaluation of the trained model")
    contamination: TrainingContamination | None = Field(
        None, description="What the run's training data (its dataset and, for a fork, the parent's) overlaps among "
                          "the benchmark test sets")


class RunPage(BaseModel):
    items: list[RunSummary]
    total: int
    limit: int
    offset: int


class RunLog(BaseModel):
    text: str = Field(description="The end of the training process's log")
    truncated: bool = False


class ForkParentRef(BaseModel):
    id: int
    name: str


class ForkTemplateOut(BaseModel):
    """Everything the run builder needs to fork a fine-tuned model (POST /runs with these values)."""

    parent: ForkParentRef
    base_model: str = Field(description="The parent's base model, as RunCreate.base_model takes it (key or id)")
    base_model_id: int
    parent_model_id: int
    dataset_id: int | None = Field(None, description="The parent's dataset; null when it is not visible to you "
                                                     "(or deleted)")
    preset: str | None = None
    mode: Literal["guided", "expert"] = "expert"
    config: dict[str, Any] = Field(description="The parent's full configuration (locked fields included)")
    locked: list[str] = Field(description="Fields a fork cannot change: the adapter's shape is the parent's")
    name: str
    adapter_available: bool = Field(description="The parent's adapter is on this server (else a fork is refused)")
    unavailable_reason: str | None = None


class GGUFImportFields(BaseModel):
    """The text fields of ``POST /base-models/gguf`` (sent with the file as multipart/form-data)."""

    model_config = ConfigDict(extra="forbid")

    name: RawText = Field(min_length=1, max_length=200, description="Display name; the base model's key becomes "
                                                                    "local-<the name in lower case, dashes>")
    license: RawText | None = Field(None, max_length=100, description="The model's license (default: the one the "
                                                                      "file declares, else 'unknown')")


class GGUFImportAccepted(BaseModel):
    """A GGUF upload that passed the header checks and is queued for conversion (follow it at /jobs/{job_id})."""

    job_id: int
    status: JobStatus
    key: str = Field(description="The key the base model will have once imported")
    name: str
    file_name: str | None = Field(None, description="The uploaded file's name (metadata only)")
    size_bytes: int
    architecture: str = Field(description="The GGUF architecture, e.g. llama, qwen2")
    quantization: str = Field(description="The dominant tensor type, e.g. Q4_1 (F16/F32 when unquantized)")


# --- runs trained elsewhere (SDK, HF Trainer callback, MLflow import) ------------------------------------------------

class ExternalDataset(BaseModel):
    """What a run trained elsewhere says about its data: a fingerprint and a few stats (the data stays there)."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(None, max_length=200)
    hash: str | None = Field(None, max_length=64, description="A fingerprint of the rows (e.g. sha256 of the "
                                                              "token ids)")
    rows: int | None = Field(None, ge=0)
    tokens: int | None = Field(None, ge=0)


class ExternalRunCreate(BaseModel):
    """Start recording a run trained outside ModelMate (``POST /runs/external``)."""

    name: str | None = Field(None, max_length=200)
    external_id: str | None = Field(None, min_length=1, max_length=200,
                                    description="Your id for this run: starting again with the same id returns the "
                                                "same run")
    base_model: str = Field(min_length=1, max_length=300,
                            description="The base model: Hugging Face id, catalog key or catalog id")
    base_model_config: dict[str, Any] | None = Field(
        None, description="The base model's config.json: lets an unknown Hugging Face id be added to the catalog "
                          "(supported architectures only)")
    parent_model_id: int | None = Field(None, ge=1, description="The fine-tuned model this run continued, if any")
    peft_config: dict[str, Any] = Field(default_factory=dict, description="The LoRA/PEFT config as PEFT writes it")
    training_args: dict[str, Any] = Field(default_factory=dict,
                                          description="Training arguments (e.g. TrainingArguments.to_dict())")
    dataset: ExternalDataset | None = None
    environment: dict[str, Any] = Field(default_factory=dict, description="Library versions, device")
    total_steps: int | None = Field(None, ge=0)


class ExternalPoints(BaseModel):
    points: list[CurvePoint] = Field(max_length=10_000)


class ExternalPointsOut(BaseModel):
    run_id: int
    points: int = Field(description="Points on the run's curve now")
    added: int


class ExternalFinish(BaseModel):
    outcome: TrainingOutcome
    failure_category: FailureCategory | None = None
    message: str | None = Field(None, max_length=4000)
    error: RunError | None = None
    traceback: str | None = Field(None, max_length=20_000)
    train_seconds: float | None = Field(None, ge=0)
    train_tokens: int | None = Field(None, ge=0)
    peak_memory_bytes: int | None = Field(None, ge=0)
