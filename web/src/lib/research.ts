// The research layer's screens (failure museum, capability changes, research export, advisor): API shapes, labels
// and small pure helpers (chart data, config summaries, the advisor's request body).
import type { ConfigField } from "./hub";
import { FAILURE_LABEL, failureLabel } from "./hub";
import { baseValues, changedValues, parseDraft, type Draft } from "./hubConfig";
import { apiUrl, type QueryOf } from "./api";
import type { TrainingOutcome } from "@/client";
import { DOMAIN_NAME } from "./bench";
import { enumValues, OUTCOME_LABEL, parseEnum } from "./enums";

// ---- API shapes: the generated client's (src/client, `npm run gen:client`) ----------------------------------------

import type {
  AdvisorOut,
  AdvisorRequest,
  BaseAggregate,
  CapabilityAggregates,
  CapabilityChangeOut,
  CapabilityChangePage,
  ColumnOut,
  DomainAggregate,
  MuseumItem,
  MuseumPage,
  ResearchRows,
  RunFeedbackOut,
  SimilarRun,
} from "@/client";
export type {
  AdvisorOut,
  AdvisorRequest,
  BaseAggregate,
  CapabilityAggregates,
  CapabilityChangePage,
  DomainAggregate,
  MuseumItem,
  MuseumPage,
  ResearchRows,
  RunFeedbackOut,
  SimilarRun,
};
export type CapabilityChange = CapabilityChangeOut;
export type ResearchColumn = ColumnOut;
/** A model as the research APIs name it; page_path is "/m/owner/slug" for fine-tunes, null otherwise. */
export type ResearchModelRef = CapabilityChangeOut["model"];

/** A loss-curve point as the museum sends it (the trainer's keys; NaN/Inf possible in diverged runs). */
export interface MuseumCurvePoint {
  step: number;
  loss?: number | null;
  eval_loss?: number | null;
  [key: string]: unknown;
}

// ---- labels -----------------------------------------------------------------------------------------------------

/** Museum categories in the order the chips show them: every failure category, then the runs without one. */
export const MUSEUM_CATEGORIES: readonly NonNullable<MuseumQuery["category"]>[] = [...enumValues(FAILURE_LABEL), "uncategorized"];

export const EXPORT_FORMATS = [
  { value: "parquet", label: "Parquet", hint: "columnar, typed: pandas, polars, DuckDB" },
  { value: "csv", label: "CSV", hint: "spreadsheets" },
  { value: "jsonl", label: "JSONL", hint: "one JSON object per run" },
] as const;

export function exportUrl(format: string): string {
  return apiUrl("/research/export", undefined, { format });
}

/** The config settings a museum card or an advisor row shows, in this order, with short labels. */
export const CONFIG_SUMMARY: { key: string; label: string; alt?: string[] }[] = [
  { key: "learning_rate", label: "lr", alt: ["lr"] },
  { key: "r", label: "r" },
  { key: "alpha", label: "alpha" },
  { key: "epochs", label: "epochs", alt: ["num_epochs"] },
  { key: "max_steps", label: "steps" },
  { key: "batch_size", label: "batch", alt: ["batch"] },
  { key: "max_seq_length", label: "seq len", alt: ["seq_len", "max_length"] },
];

function pick(config: Record<string, unknown>, keys: string[]): unknown {
  for (const k of keys) if (config[k] !== undefined && config[k] !== null) return config[k];
  return undefined;
}

function short(v: unknown): string {
  if (typeof v === "number") return Math.abs(v) > 0 && Math.abs(v) < 1e-2 ? Number(v.toPrecision(3)).toExponential() : String(Number(v.toPrecision(4)));
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v);
}

/** [{label, value}] of the summary settings present in a config (learning rates as 1e-4, 2e-3). */
export function configSummary(config: Record<string, unknown> | null | undefined): { key: string; label: string; value: string }[] {
  if (!config) return [];
  const out: { key: string; label: string; value: string }[] = [];
  for (const s of CONFIG_SUMMARY) {
    const v = pick(config, [s.key, ...(s.alt ?? [])]);
    if (v !== undefined) out.push({ key: s.key, label: s.label, value: short(v) });
  }
  return out;
}

// ---- museum -----------------------------------------------------------------------------------------------------

type MuseumQuery = NonNullable<QueryOf<"/museum", "get">>;
type ChangeQuery = NonNullable<QueryOf<"/capability-changes", "get">>;

export interface MuseumFilters {
  category?: NonNullable<MuseumQuery["category"]>;
  outcome?: TrainingOutcome;
  base_model_id?: number;
  q?: string;
}

export function museumFilters(params: URLSearchParams): MuseumFilters {
  const f: MuseumFilters = {};
  const category = params.get("category");
  const known = MUSEUM_CATEGORIES.find((k) => k === category);
  if (known) f.category = known;
  const outcome = parseEnum(OUTCOME_LABEL, params.get("outcome"));
  if (outcome) f.outcome = outcome;
  const base = Number(params.get("base"));
  if (base > 0) f.base_model_id = base;
  const q = params.get("q")?.trim();
  if (q) f.q = q;
  return f;
}

/** Chips: every category with runs (known ones first, in order), then any category the server adds later. */
/** Museum runs without an automatic category (here for their outcome or a thumbs down). */
export const UNCATEGORIZED = "uncategorized";

/** A chip's title: the failure category in plain words. */
export function categoryTitle(category: string): string {
  if (category === UNCATEGORIZED) return "No category";
  return failureLabel(category)?.title ?? category;
}

export function categoryChips(counts: Record<string, number> | null | undefined): { category: string; count: number }[] {
  const c = counts ?? {};
  const known = MUSEUM_CATEGORIES.filter((k) => (c[k] ?? 0) > 0).map((k) => ({ category: k as string, count: c[k] }));
  const extra = Object.keys(c)
    .filter((k) => !(MUSEUM_CATEGORIES as readonly string[]).includes(k) && c[k] > 0)
    .sort()
    .map((k) => ({ category: k, count: c[k] }));
  return [...known, ...extra];
}

/** Points with a finite train or eval loss (NaN/Inf from a diverged run cannot be drawn). */
export function drawableCurve(curve: readonly Record<string, unknown>[] | null | undefined): MuseumCurvePoint[] {
  const ok = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  return ((curve ?? []) as MuseumCurvePoint[])
    .filter((p) => ok(p.loss) || ok(p.eval_loss))
    .map((p) => ({ ...p, loss: ok(p.loss) ? p.loss : null, eval_loss: ok(p.eval_loss) ? p.eval_loss : null }));
}

// ---- capability changes -----------------------------------------------------------------------------------------

export interface ChangeFilters {
  flagged?: boolean;
  direction?: NonNullable<ChangeQuery["direction"]>;
  domain?: NonNullable<ChangeQuery["domain"]>;
}

export function changeFilters(params: URLSearchParams): ChangeFilters {
  const f: ChangeFilters = {};
  // Flagged (significant) changes by default; ?all=1 shows every comparison.
  if (params.get("all") !== "1") f.flagged = true;
  const direction = params.get("direction");
  if (direction === "up" || direction === "down") f.direction = direction;
  const domain = params.get("domain");
  const known = parseEnum(DOMAIN_NAME, domain);
  if (known) f.domain = known;
  return f;
}

/** "p < 0.001", "p = 0.03", "" when unknown. */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return "";
  if (p < 0.001) return "p < 0.001";
  if (p < 0.01) return "p < 0.01";
  return `p = ${Number(p.toPrecision(2))}`;
}

type ChangeVerdict = Pick<CapabilityChangeOut, "flagged" | "p_adjusted" | "reference_kind" | "test" | "n">;

/** How a change was tested, for people: "paired, n = 50", "unpaired z-test, n = 50", "" when unknown. */
export function testLabel(c: Pick<CapabilityChangeOut, "test" | "n">): string {
  const how = !c.test ? "" : c.test === "z" ? "unpaired z-test" : "paired";
  const n = typeof c.n === "number" && c.n > 0 ? `n = ${c.n}` : "";
  return [how, n].filter(Boolean).join(", ");
}

/**
 * What an unflagged change says instead of a number (it is not a change): "no detectable change vs its base
 * (n = 50)"; "no meaningful change …" when significant but below the minimum effect; "not tested …" when no test
 * was possible. null for a flagged change, which shows its delta.
 */
export function noChangeText(c: ChangeVerdict): string | null {
  if (c.flagged) return null;
  const kind = c.reference_kind || "reference";
  const n = typeof c.n === "number" && c.n > 0 ? ` (n = ${c.n})` : "";
  if (c.p_adjusted === null || c.p_adjusted === undefined) return `not tested vs its ${kind}${n}`;
  // significant (α = 0.05, the server's) but smaller than the minimum effect that matters
  if (c.p_adjusted < 0.05) return `no meaningful change vs its ${kind}${n}`;
  return `no detectable change vs its ${kind}${n}`;
}

/** The p-value shown beside a change: only a flagged change has one worth reading (never "p = 1"). */
export function changeP(c: Pick<CapabilityChangeOut, "flagged" | "p_adjusted">): string {
  return c.flagged ? formatP(c.p_adjusted) : "";
}

/** A model's page: its /m/owner/slug page when it has one, else the hub model page. */
export function modelHref(m: Pick<ResearchModelRef, "id" | "page_path"> | null | undefined): string | null {
  if (!m) return null;
  if (m.page_path && m.page_path.startsWith("/") && !m.page_path.startsWith("//")) return m.page_path;
  return `/hub/models/${m.id}`;
}

/**
 * The aggregates chart's data: one row per training domain, one key per target domain (its mean change in points),
 * and the target domains in a stable order. Rows whose target is the training domain itself are left out when
 * `crossOnly` (the chart is about the cross-domain effect).
 */
export function aggregateChart(rows: readonly DomainAggregate[], crossOnly = true): { data: Record<string, string | number>[]; targets: string[] } {
  const targets = new Set<string>();
  const byTraining = new Map<string, Record<string, string | number>>();
  for (const r of rows) {
    const training = r.training_domain || "unknown";
    if (crossOnly && r.target_domain === training) continue;
    if (r.mean_delta === null || r.mean_delta === undefined || !Number.isFinite(r.mean_delta)) continue;
    targets.add(r.target_domain);
    const row = byTraining.get(training) ?? { training };
    row[r.target_domain] = Math.round(r.mean_delta * 1000) / 10;
    byTraining.set(training, row);
  }
  const data = [...byTraining.values()].sort((a, b) => String(a.training).localeCompare(String(b.training)));
  return { data, targets: [...targets].sort() };
}

// ---- research export --------------------------------------------------------------------------------------------

/** A preview cell: numbers with 4 significant digits, objects as JSON, null as a dash. */
export function formatCell(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** The card's YAML front matter and its markdown body (the YAML is shown as text, the body as safe markdown). */
export function splitCard(card: string): { yaml: string | null; body: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(card);
  if (!m) return { yaml: null, body: card };
  return { yaml: m[1], body: card.slice(m[0].length) };
}

// ---- advisor ----------------------------------------------------------------------------------------------------

/**
 * What the expert builder sends the advisor: the valid fields that differ from the preset (or the defaults), so the
 * server resolves preset + overrides exactly as a launch would. Fields with an error are left out.
 */
export function advisorOverrides(fields: ConfigField[], draft: Draft, presetValues?: Record<string, unknown> | null): Record<string, unknown> {
  const { values, errors } = parseDraft(fields, draft);
  const changed = changedValues(fields, values, baseValues(fields, presetValues));
  for (const k of Object.keys(errors)) delete changed[k];
  return changed;
}

/** The advisor's request body, or null while no base model is chosen. Empty parts are left out. */
export function advisorRequest(input: { base?: string | null; preset?: string | null; config?: Record<string, unknown> | null; datasetId?: number | null }): AdvisorRequest | null {
  if (!input.base) return null;
  const body: AdvisorRequest = { base_model: input.base };
  if (input.preset) body.preset = input.preset;
  if (input.datasetId && input.datasetId > 0) body.dataset_id = input.datasetId;
  const config = Object.fromEntries(Object.entries(input.config ?? {}).filter(([, v]) => v !== null && v !== undefined));
  if (Object.keys(config).length) body.config = config;
  return body;
}
