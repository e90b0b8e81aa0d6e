// Benchmarking (lm-eval): the API shapes the screens use, labels and small pure helpers.
// The API shapes: the generated client's (src/client, regenerated with `npm run gen:client`).
import type { Domain as ApiDomain } from "@/client";
import { enumValues } from "./enums";
import type { DomainScore, EvaluationOut } from "./types";
export type {
  BenchmarkRowOut as BenchRow,
  DomainScore,
  EvaluationOut,
  EvaluationPage,
  Leaderboard,
  LeaderboardRow as BoardRow,
  ModelScores,
  RefOut,
} from "./types";

/** A benchmark domain: the server's one `Domain` enum (modelmate/enums.py), from the generated schema. */
export type Domain = ApiDomain;

/** The domains in display order with their names: a domain the server adds breaks typecheck until it is named. */
export const DOMAIN_NAME: Record<Domain, string> = {
  math: "Math",
  code: "Code",
  knowledge: "Knowledge",
  reasoning: "Reasoning",
  reading: "Reading",
  truthfulness: "Truthfulness",
  translation: "Translation",
};
export const DOMAINS = enumValues(DOMAIN_NAME);
export const BOARD_TABS = ["overall", ...DOMAINS] as const;

export const DOMAIN_LABEL: Readonly<Record<string, string>> = { overall: "Overall", ...DOMAIN_NAME };

export function domainLabel(d: string): string {
  return DOMAIN_LABEL[d] ?? d.charAt(0).toUpperCase() + d.slice(1);
}

/**
 * One colour per domain, everywhere a chart tells domains apart (Tableau 10 hues: distinct from each other, in light
 * and dark mode, and for the common colour-vision deficiencies). Red and green are left out on purpose: on the
 * capability pages they mean loss and gain.
 */
export const DOMAIN_COLOR: Record<Domain, string> = {
  math: "#4e79a7",
  code: "#f28e2b",
  knowledge: "#76b7b2",
  reasoning: "#b07aa1",
  reading: "#edc948",
  truthfulness: "#ff9da7",
  translation: "#9c755f",
};

/** A domain's colour; any domain outside the seven gets a neutral grey. */
export function domainColor(d: string): string {
  return (DOMAIN_COLOR as Record<string, string>)[d] ?? "#bab0ac";
}

/** Human names of lm-eval metrics ("acc,none" → "accuracy"); the filter after the comma is dropped when "none". */
export const METRIC_LABEL: Record<string, string> = {
  acc: "accuracy",
  acc_norm: "normalised accuracy",
  exact_match: "exact match",
  em: "exact match",
  f1: "F1",
  mc1: "accuracy (one true answer)",
  mc2: "accuracy (several true answers)",
  chrf: "chrF",
  bleu: "BLEU",
  ter: "TER",
  "pass@1": "pass@1",
  "pass_at_1": "pass@1",
  "pass@10": "pass@10",
  word_perplexity: "word perplexity",
  perplexity: "perplexity",
};

/** "acc_norm,none" → "normalised accuracy"; "exact_match,strict-match" → "exact match (strict-match)". */
export function metricLabel(metric: string | null | undefined): string {
  if (!metric) return "";
  const { name, filter } = splitMetric(metric);
  const label = METRIC_LABEL[name] ?? name.replace(/_/g, " ");
  return filter && filter !== "none" ? `${label} (${filter})` : label;
}

/** The unit of every score difference in the UI: percentage points of a 0–100 score. */
export const DELTA_UNIT = "pp";
export const DELTA_UNIT_LONG = "percentage points";

export type EvaluationStatus = "running" | "final" | "partial" | "failed";

// ---- helpers ----------------------------------------------------------------------------------------------------

export function isEvaluating(status: string | null | undefined): boolean {
  return status === "running" || status === "queued";
}

/** 0..1 progress of an evaluation (its job's); null when unknown. */
export function evaluationProgress(e: Pick<EvaluationOut, "progress">): number | null {
  const p = e.progress ?? null;
  if (p === null || !Number.isFinite(p)) return null;
  return Math.min(1, Math.max(0, p));
}

/** A score: 0..1 values (accuracies) as percentages with one decimal, anything else with 4 significant digits. */
export function formatScore(v: number | null | undefined, unitInterval = true): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (unitInterval && v >= 0 && v <= 1) return (v * 100).toFixed(1);
  return Number(v.toPrecision(4)).toString();
}

/** "± 1.2" for a stderr on the same scale as formatScore, "" when there is none. */
export function formatStderr(v: number | null | undefined, unitInterval = true): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "";
  return `± ${unitInterval && v <= 1 ? (v * 100).toFixed(1) : Number(v.toPrecision(3)).toString()}`;
}

/** A delta in points (0..1 scores → percentage points), signed: "+2.1", "−0.4", "0.0". */
export function formatDelta(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const pts = Math.abs(v) <= 1 ? v * 100 : v;
  const s = Math.abs(pts).toFixed(1);
  if (s === "0.0") return "0.0";
  return pts > 0 ? `+${s}` : `−${s}`;
}

export function deltaTone(v: number | null | undefined): "up" | "down" | "flat" {
  if (v === null || v === undefined || !Number.isFinite(v) || Math.abs(v) < 5e-4) return "flat";
  return v > 0 ? "up" : "down";
}

/** "acc_norm,none" → { name: "acc_norm", filter: "none" }. */
export function splitMetric(metric: string): { name: string; filter: string | null } {
  const i = metric.indexOf(",");
  return i < 0 ? { name: metric, filter: null } : { name: metric.slice(0, i), filter: metric.slice(i + 1) };
}

export const ROW_STATUS_LABEL: Record<string, string> = {
  final: "Final",
  partial: "Partial",
  failed: "Failed",
  skipped: "Skipped",
  running: "Running",
};

/** Radar data: one point per domain (the 7 domains, in order, then any other), the model's score and the base's. */
export interface RadarPoint {
  domain: string;
  label: string;
  model: number | null;
  base: number | null;
}

export function radarData(domains: DomainScore[]): RadarPoint[] {
  const order = (d: string) => {
    const i = (DOMAINS as readonly string[]).indexOf(d);
    return i < 0 ? DOMAINS.length : i;
  };
  return domains
    .filter((d) => d.domain !== "overall")
    .sort((a, b) => order(a.domain) - order(b.domain) || a.domain.localeCompare(b.domain))
    .map((d) => ({ domain: d.domain, label: domainLabel(d.domain), model: d.score ?? null, base: d.base_score ?? null }));
}

/** The error message of an evaluation's error object, if any. */
export function evaluationError(e: Pick<EvaluationOut, "error">): string | null {
  const m = e.error?.message;
  return typeof m === "string" && m ? m : null;
}
