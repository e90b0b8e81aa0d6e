// The curve-history card's words and chart rows (pure: the card and its tests read them from here).
import type { CurveHistoryOut } from "@/lib/types";

export interface BandRow {
  step: number;
  runs: number;
  median: number;
  p25p75: [number, number];
  p10p90: [number, number];
}

export function bandRows(history: CurveHistoryOut): BandRow[] {
  return history.band.map((b) => ({
    step: b.step,
    runs: b.runs,
    median: b.median,
    p25p75: [b.p25, b.p75],
    p10p90: [b.p10, b.p90],
  }));
}

const plural = (n: number, one: string, many: string) => `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/** "The band is made of 1,000 earlier runs (the newest of 23,456)". */
export function bandLegend(history: CurveHistoryOut): string {
  if (history.earlier_runs === 0) return "No earlier run on this base model that you can see has a loss curve.";
  const made = `The band is made of ${plural(history.band_runs, "earlier run", "earlier runs")} on this base model`;
  return history.band_runs < history.earlier_runs
    ? `${made} (the newest of ${history.earlier_runs_more ? "more than " : ""}${history.earlier_runs.toLocaleString("en-US")} you can see).`
    : `${made} that you can see.`;
}

export function sameDatasetLegend(history: CurveHistoryOut): string | null {
  const n = history.same_dataset.length;
  return n === 0 ? null : `Thin lines: ${plural(n, "earlier run", "earlier runs")} on the same dataset (newest first).`;
}

export const X_AXIS_NOTE =
  "x: training step on a log scale (curves line up by absolute step; each point is a run's mean loss over a step range).";
