// Fine-tuning hub: the API shapes the screens use, and small pure helpers (labels, 422 field errors, ids).
import type { FailureCategory as ApiFailureCategory } from "@/client";
import { ApiError } from "./api";
import type { ConfigFieldOut, CurvePoint, DatasetOut } from "./types";
import { DATASET_FORMAT_LABEL, parseEnum } from "./enums";

// ---- API shapes: the generated client's, plus the free-form parts (dataset stats) spelled out ----------------

export type FieldType = "int" | "float" | "bool" | "choice" | "list";

/** One TrainingConfig field as GET /training/options describes it (exclusive_maximum: if the server ever adds it). */
export type ConfigField = ConfigFieldOut & { exclusive_maximum?: boolean | null };

export interface HistogramBin {
  lo: number;
  hi: number;
  count: number;
}

export interface TokenSummary {
  total?: number;
  mean?: number;
  p50?: number;
  p95?: number;
  max?: number;
  labelled?: number;
  train_total?: number;
  eval_total?: number;
}

/** DatasetOut.stats (training/stats.py dataset_stats). */
export interface DatasetStats {
  rows?: number;
  chars?: { total?: number; mean?: number; p50?: number; p95?: number; max?: number } | null;
  tokens?: TokenSummary | null;
  histogram?: HistogramBin[];
  histogram_unit?: string | null;
  fields?: string[];
  roles?: Record<string, number>;
  turns?: number;
  empty_rows?: number;
}

// ---- labels ---------------------------------------------------------------------------------------------------

/** A failure category: the server's one `FailureCategory` enum (modelmate/enums.py), from the generated schema. */
export type FailureCategory = ApiFailureCategory;

/** Failure categories in plain words: what happened and what to try (in the order the museum's chips show them). */
export const FAILURE_LABEL: Record<FailureCategory, { title: string; hint: string }> = {
  diverged: { title: "Training diverged", hint: "The loss became NaN or exploded. Try a lower learning rate or a smaller batch." },
  no_learning: { title: "The model did not learn", hint: "The loss barely moved. Try a higher learning rate, more steps or cleaner data." },
  overfitting: { title: "Overfitting", hint: "The eval loss rose while the train loss fell. Try fewer epochs, more data or early stopping." },
  forgetting: { title: "Forgetting", hint: "The model lost general ability. Try a lower learning rate or a smaller rank." },
  out_of_memory: { title: "Out of memory", hint: "Lower the batch size or the maximum sequence length, or pick a smaller base model." },
  crashed: { title: "The training process crashed", hint: "See the error and the log below." },
  invalid_data: { title: "The data could not be used", hint: "Check the dataset: every row needs text the base model's tokenizer can use." },
  cancelled: { title: "Cancelled", hint: "Stopped on request. The weights trained so far were saved when possible." },
  worker_lost: { title: "The worker stopped", hint: "The server or worker went away during training. Launch the run again." },
  unsupported: { title: "Not supported on this machine", hint: "A chosen option (quantization, attention kernel, optimizer or precision) cannot run on the worker's machine. Launch again with the alternative the message names." },
};

export function failureLabel(category: string | null | undefined): { title: string; hint: string } | null {
  if (!category) return null;
  const known = parseEnum(FAILURE_LABEL, category);
  return known ? FAILURE_LABEL[known] : { title: category.replace(/_/g, " "), hint: "" };
}

export function isActive(status: string | null | undefined): boolean {
  return status === "queued" || status === "running";
}

/** A stored dataset's format in short words (a format outside the list shows as it is). */
export const FORMAT_LABEL: Readonly<Record<string, string>> = DATASET_FORMAT_LABEL;

/** "max_steps" → "Max steps". */
export function humanize(name: string): string {
  const s = name.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const FIELD_LABEL: Record<string, string> = {
  r: "LoRA rank",
  alpha: "LoRA alpha",
  dropout: "LoRA dropout",
  use_dora: "Use DoRA",
  use_rslora: "Use rsLoRA",
  lr_scheduler: "Learning-rate schedule",
  max_seq_length: "Max sequence length",
  max_grad_norm: "Max gradient norm",
  attention: "Attention kernel",
};

/** The label of a config field in forms: a readable name (the field's own name is shown next to it). */
export function fieldLabel(name: string): string {
  return FIELD_LABEL[name] ?? humanize(name);
}

// ---- errors ---------------------------------------------------------------------------------------------------

export interface RowError {
  row?: number | null;
  column?: string | null;
  message: string;
}

/** The row errors of a failed dataset upload (422 details.errors), or [] when the error has none. */
export function rowErrors(err: unknown): RowError[] {
  if (!(err instanceof ApiError)) return [];
  const d = err.details as { errors?: unknown } | unknown[] | null;
  const list = Array.isArray(d) ? d : d && typeof d === "object" && Array.isArray((d as { errors?: unknown }).errors) ? ((d as { errors: unknown[] }).errors) : [];
  return list
    .filter((e): e is Record<string, unknown> => !!e && typeof e === "object")
    .map((e) => ({
      row: typeof e.row === "number" ? e.row : null,
      column: typeof e.column === "string" ? e.column : null,
      message: String(e.message ?? e.msg ?? ""),
    }))
    .filter((e) => e.message);
}

/**
 * Per-field messages out of a 422: FastAPI's request validation (`details: [{loc, msg}]`) and our
 * ValidationFailed (`details: {errors: [{field | loc, message}]}` or `{field, ...}`). `known` is the set of config
 * field names: a loc like ["body", "config", "r"] maps to "r". Anything that names no known field goes under "".
 */
export function fieldErrors(err: unknown, known: Iterable<string>): Record<string, string> {
  if (!(err instanceof ApiError) || err.status !== 422) return {};
  const names = new Set(known);
  const out: Record<string, string> = {};
  const d = err.details as unknown;
  const list: unknown[] = Array.isArray(d)
    ? d
    : d && typeof d === "object"
      ? Array.isArray((d as { errors?: unknown }).errors)
        ? (d as { errors: unknown[] }).errors
        : [d]
      : [];
  const add = (field: string, msg: string) => {
    if (!msg) return;
    out[field] = out[field] ? `${out[field]}; ${msg}` : msg;
  };
  for (const item of list) {
    if (!item || typeof item !== "object") continue;
    const e = item as Record<string, unknown>;
    const msg = String(e.message ?? e.msg ?? "");
    const parts: string[] = [];
    for (const key of ["field", "loc", "column", "name"]) {
      const v = e[key];
      if (typeof v === "string") parts.push(...v.split("."));
      else if (Array.isArray(v)) parts.push(...v.map(String));
    }
    const hit = parts.find((p) => names.has(p));
    add(hit ?? "", msg);
  }
  if (Object.keys(out).length === 0) add("", err.message);
  return out;
}

// ---- misc -----------------------------------------------------------------------------------------------------

/** An Idempotency-Key: crypto.randomUUID where the page is a secure context, else the same v4 layout by hand. */
export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The last curve point that has a value for `key`. */
export function lastWith(curve: CurvePoint[], key: keyof CurvePoint): CurvePoint | undefined {
  for (let i = curve.length - 1; i >= 0; i--) {
    const v = curve[i][key];
    if (v !== null && v !== undefined) return curve[i];
  }
  return undefined;
}

/** A dataset's token summary: from its stats, else the first tokenizer's entry of token_counts. */
export function datasetTokens(d: Pick<DatasetOut, "stats" | "token_counts">): (TokenSummary & { tokenizer?: string }) | null {
  const stats = (d.stats ?? {}) as DatasetStats;
  const keys = Object.keys(d.token_counts ?? {});
  const tokenizer = keys[0];
  if (stats.tokens) return { ...stats.tokens, tokenizer };
  if (tokenizer) return { ...(d.token_counts[tokenizer] as TokenSummary), tokenizer };
  return null;
}
