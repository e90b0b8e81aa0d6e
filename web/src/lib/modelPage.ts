// The model page (/m/:owner/:name) and the lineage graph: API shapes (H1's hub API, H2's capability changes, H3's
// fork template and demo) and small pure helpers: the Hugging Face snippet, the demo's request body, capability
// callout tones.
import { domainLabel, formatDelta } from "./bench";
import { noChangeText, testLabel } from "./research";
import type { CurvePoint } from "./types";

// ---- API shapes: the generated client's (src/client, `npm run gen:client`) ------------------------------------

import type { CapabilityChangeOut, ChatMessage, DatasetCard, ForkTemplateOut, LineageEdge, LineageNode, ModelInfo, Permissions, RunInfo } from "@/client";
import type { components } from "@/client";

export type {
  CapabilityChangeOut,
  CapabilityChangePage,
  FeedbackBlock,
  FeedbackItem,
  LineageOut,
  ModelPageOut,
} from "@/client";
export type HubModelRef = components["schemas"]["modelmate__hub__schemas__ModelRef"];
export type PageModel = ModelInfo;
export type PageRun = RunInfo;
export type PageDataset = DatasetCard;
export type PagePermissions = Permissions;
export type ForkTemplate = ForkTemplateOut;
export type LineageNodeOut = LineageNode;
export type LineageEdgeOut = LineageEdge;
export type LineageNodeType = "base" | "finetuned" | "external" | "dataset";
export type LineageEdgeType = "finetune" | "fork" | "data";

/** The run's loss curve as the charts read it. */
export function runCurve(run: Pick<RunInfo, "curve">): CurvePoint[] {
  return (run.curve ?? []) as unknown as CurvePoint[];
}

// ---- helpers ---------------------------------------------------------------------------------------------------

/** The page of a model: its hub page when it has one, else the old catalog page. */
export function modelHref(ref: Pick<HubModelRef, "id" | "page_path">): string {
  return ref.page_path || `/hub/models/${ref.id}`;
}

/** "/m/<owner>/<slug>" (each part URL-encoded). */
export function pagePath(owner: string, slug: string): string {
  return `/m/${encodeURIComponent(owner)}/${encodeURIComponent(slug)}`;
}

/** Python that fetches the model from this server with the Hugging Face client (and loads it with peft). */
export function hfSnippet(origin: string, repoId: string, opts: { private?: boolean; baseRepo?: string | null } = {}): string {
  const endpoint = `${origin.replace(/\/+$/, "")}/hf`;
  const token = opts.private ? `,\n    token="<your ModelMate API token>",  # a private model: create a token in Settings` : "";
  const lines = [
    "from huggingface_hub import snapshot_download",
    "",
    "path = snapshot_download(",
    `    repo_id=${JSON.stringify(repoId)},`,
    `    endpoint=${JSON.stringify(endpoint)}${token}`,
    ")",
  ];
  if (opts.baseRepo) {
    lines.push(
      "",
      "# The files are a LoRA adapter: load it on its base model.",
      "from peft import PeftModel",
      "from transformers import AutoModelForCausalLM, AutoTokenizer",
      "",
      `base = AutoModelForCausalLM.from_pretrained(${JSON.stringify(opts.baseRepo)})`,
      "model = PeftModel.from_pretrained(base, path)",
      "tokenizer = AutoTokenizer.from_pretrained(path)",
    );
  }
  return lines.join("\n");
}

export type Tone = "up" | "down" | "flat";

/** The tone of a capability change: its direction, else the sign of its delta. */
export function changeTone(c: Pick<CapabilityChangeOut, "direction" | "delta">): Tone {
  if (c.direction === "up" || c.direction === "down") return c.direction;
  if (c.delta == null || !Number.isFinite(c.delta) || c.delta === 0) return "flat";
  return c.delta > 0 ? "up" : "down";
}

/** The sentence of a change, or one built from its numbers when the API gave none. */
export function changeSentence(c: CapabilityChangeOut): string {
  if (c.sentence) return c.sentence;
  const what = c.task ? `${domainLabel(c.domain)} (${c.task})` : domainLabel(c.domain);
  const none = noChangeText(c); // unflagged: never "+0.0 points … p = 1"
  if (none) return `${what}: ${none}`;
  const how = testLabel(c);
  const p = c.p_adjusted ?? c.p_value;
  return `${what} ${formatDelta(c.delta)} points vs ${c.reference_kind || "reference"}${how ? ` (${how})` : ""}${p != null ? `, p = ${p.toPrecision(2)}` : ""}`;
}

/** Flagged changes first, the biggest effects first; domain aggregates before single tasks. */
export function sortChanges(items: CapabilityChangeOut[]): CapabilityChangeOut[] {
  return [...items].sort(
    (a, b) =>
      Number(b.flagged) - Number(a.flagged) ||
      Number(!!a.task) - Number(!!b.task) ||
      Math.abs(b.delta ?? 0) - Math.abs(a.delta ?? 0) ||
      a.id - b.id,
  );
}

export interface DeltaItem {
  domain: string;
  label: string;
  value: number;
  /** In points, signed: "+2.1", "−0.4", "0.0". */
  text: string;
  tone: Tone;
}

/** An edge's per-domain deltas, the largest changes first (ties by domain name). */
export function deltaItems(deltas: Record<string, number | null> | null | undefined): DeltaItem[] {
  const items = Object.entries(deltas ?? {}).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1]));
  items.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]) || a[0].localeCompare(b[0]));
  return items.map(([d, v]) => {
    const text = formatDelta(v);
    return { domain: d, label: domainLabel(d), value: v, text, tone: text === "0.0" ? "flat" : v > 0 ? "up" : "down" };
  });
}

/** Short text for an edge: "Reasoning +2.1 · Reading −0.4" (the largest changes first, at most `max`). */
export function deltaLabel(deltas: Record<string, number | null> | null | undefined, max = 3): string {
  const items = deltaItems(deltas);
  const shown = items.slice(0, max).map((i) => `${i.label} ${i.text}`);
  if (items.length > max) shown.push(`+${items.length - max} more`);
  return shown.join(" · ");
}

/** The demo's generation settings, with the server's limits. */
export interface DemoSettings {
  max_new_tokens: number;
  temperature: number;
  top_p: number;
  seed: number | null;
}

export const DEMO_DEFAULTS: DemoSettings = { max_new_tokens: 64, temperature: 0.7, top_p: 0.95, seed: null };
export const DEMO_LIMITS = { max_new_tokens: 256, temperature: 2, prompt_chars: 4000 } as const;

export type { ChatMessage };

/** Settings clamped to the server's limits (bad numbers fall back to the defaults). */
export function clampSettings(s: Partial<DemoSettings>): DemoSettings {
  const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  return {
    max_new_tokens: Math.round(Math.min(DEMO_LIMITS.max_new_tokens, Math.max(1, num(s.max_new_tokens, DEMO_DEFAULTS.max_new_tokens)))),
    temperature: Math.min(DEMO_LIMITS.temperature, Math.max(0, num(s.temperature, DEMO_DEFAULTS.temperature))),
    top_p: Math.min(1, Math.max(0.01, num(s.top_p, DEMO_DEFAULTS.top_p))),
    seed: s.seed === null || s.seed === undefined || !Number.isFinite(s.seed) ? null : Math.round(s.seed),
  };
}

/** The body of POST /models/{id}/generate: the conversation so far and the settings. */
export function generateBody(messages: ChatMessage[], settings: Partial<DemoSettings>): Record<string, unknown> {
  const s = clampSettings(settings);
  return {
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    max_new_tokens: s.max_new_tokens,
    temperature: s.temperature,
    top_p: s.top_p,
    ...(s.seed !== null ? { seed: s.seed } : {}),
  };
}

/** The characters of a conversation (what the server limits). */
export function promptChars(messages: ChatMessage[]): number {
  return messages.reduce((n, m) => n + m.content.length, 0);
}

/** Dataset samples as readable text: conversations as "role: content" lines, records as "field: value" lines. */
export function sampleText(sample: Record<string, unknown>): string {
  const msgs = (sample.messages ?? sample.conversations) as unknown;
  if (Array.isArray(msgs)) {
    return msgs
      .map((m) => {
        const o = (m ?? {}) as Record<string, unknown>;
        return `${String(o.role ?? o.from ?? "?")}: ${String(o.content ?? o.value ?? "")}`;
      })
      .join("\n");
  }
  return Object.entries(sample)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("\n");
}
