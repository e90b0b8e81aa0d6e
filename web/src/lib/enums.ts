// One list of options per enum of the API, with the values typed by the generated schema (src/client). Each list is
// a Record<Enum, label>: when the server adds a value, `npm run typecheck` fails here until the value has a label.
// The key order is the order the UI lists the options in.
import type { ContaminationStatus, EntryStatus, EvalBackend, EventKind, FormatChoice, ImportFormat, ModelType, RunSource, RunStatus, SortField, TrainingOutcome } from "@/client";

export const ENTRY_STATUS_LABEL: Record<EntryStatus, string> = {
  wishlist: "Wishlist",
  tried: "Tried",
  studied: "Studied",
  using: "Using",
  archived: "Archived",
};

/** Model types are shown as they are spelled. */
export const MODEL_TYPE_LABEL: Record<ModelType, string> = {
  LLM: "LLM",
  Vision: "Vision",
  Audio: "Audio",
  Embedding: "Embedding",
  Multimodal: "Multimodal",
  Other: "Other",
};

export const EVENT_KIND_LABEL: Record<EventKind, string> = {
  added: "Added",
  status_changed: "Status changed",
  note_added: "Journal note",
  note_edited: "Note edited",
  rated: "Rated",
  updated: "Updated",
  deleted: "Deleted",
};

/** The engine that scored an evaluation (MODELMATE_EVAL_BACKEND); a stored score names hf or vllm. */
export const EVAL_BACKEND_LABEL: Record<EvalBackend, string> = {
  auto: "Auto",
  hf: "HF",
  vllm: "vLLM",
};

export const RUN_STATUS_LABEL: Record<RunStatus, string> = {
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** Where a run was trained (RunSource): launched here, logged from anywhere (SDK / Trainer callback), imported. */
export const RUN_SOURCE_LABEL: Record<RunSource, string> = {
  modelmate: "ModelMate",
  external: "External",
  mlflow: "MLflow",
};

export const OUTCOME_LABEL: Record<TrainingOutcome, string> = {
  success: "Success",
  partial: "Partial",
  failure: "Failure",
};

/** The sort orders of the entry list. */
export const SORT_LABEL: Record<SortField, string> = {
  updated: "Recently updated",
  created: "Recently added",
  date: "Date interacted",
  name: "Name",
  parameters: "Parameters",
  rating: "Rating",
};

/** The format chooser of a dataset upload (long labels) ... */
export const DATASET_FORMAT_CHOICE_LABEL: Record<FormatChoice, string> = {
  auto: "Detect automatically",
  text: 'Plain text ({"text": ...})',
  alpaca: "Alpaca (instruction / input / output)",
  sharegpt: "ShareGPT (conversations)",
  messages: "OpenAI messages",
};

/** ... and a stored dataset's format, short (a detected format is never "auto"). */
export const DATASET_FORMAT_LABEL: Record<Exclude<FormatChoice, "auto">, string> = {
  text: "Text",
  alpaca: "Alpaca",
  sharegpt: "ShareGPT",
  messages: "Messages",
};

export const IMPORT_FORMAT_LABEL: Record<ImportFormat, string> = {
  auto: "Detect format",
  csv: "CSV",
  json: "JSON",
};

/** The values of a label record, in its order. */
export function enumValues<T extends string>(labels: Record<T, unknown>): T[] {
  return Object.keys(labels) as T[];
}

/** A value of the enum when `raw` (a URL parameter, a form value, a server string) is one, else undefined. */
export function parseEnum<T extends string>(labels: Record<T, unknown>, raw: string | null | undefined): T | undefined {
  return raw != null && Object.prototype.hasOwnProperty.call(labels, raw) ? (raw as T) : undefined;
}

/** The label of a value that may be outside the enum (an older row, a newer server): the raw value then. */
export function enumLabel<T extends string>(labels: Record<T, string>, value: string | null | undefined): string {
  if (value == null) return "";
  return parseEnum(labels, value) !== undefined ? labels[value as T] : value;
}

export const CONTAMINATION_STATUS_LABEL: Record<ContaminationStatus, string> = {
  pending: "Checking…",
  running: "Checking…",
  done: "Checked",
  failed: "Check failed",
  unavailable: "Not checked: no benchmark data",
};
