// Fixtures for the benchmarking screens, shaped like the API's answers (benchmarking/schemas.py).
import type { BenchRow, BoardRow, DomainScore, EvaluationOut, Leaderboard, ModelScores } from "@/lib/bench";

export function makeRow(over: Partial<BenchRow> = {}): BenchRow {
  return {
    task: "gsm8k",
    domain: "math",
    metric: "exact_match,strict-match",
    value: 0.512,
    stderr: 0.021,
    n_samples: 100,
    n_shot: 5,
    sample_limit: 100,
    mode: "quick",
    status: "final",
    primary: true,
    harness_version: "0.4.13",
    task_hash: "abc123",
    ...over,
  };
}

export const ROWS: BenchRow[] = [
  makeRow(),
  makeRow({ metric: "exact_match,flexible-extract", value: 0.55, primary: false }),
  makeRow({ task: "arc_challenge", domain: "reasoning", metric: "acc_norm,none", value: 0.38, stderr: 0.014, n_shot: 25 }),
  makeRow({ task: "mmlu", domain: "knowledge", metric: "acc,none", value: 0.41, stderr: null, n_samples: 40, status: "partial" }),
  makeRow({ task: "humaneval", domain: "code", metric: "pass@1,create_test", value: null, stderr: null, n_samples: null, status: "failed", error: "code execution is disabled" }),
];

export function makeDomain(domain: string, score: number | null, over: Partial<DomainScore> = {}): DomainScore {
  return { domain, score, stderr: 0.02, tasks: [], evaluation_id: 11, mode: "quick", measured_at: "2026-11-20T10:00:00Z", ...over };
}

export function makeEvaluation(over: Partial<EvaluationOut> = {}): EvaluationOut {
  return {
    id: 11,
    model_id: 5,
    model_name: "tiny-chat",
    mode: "quick",
    status: "final",
    cached: false,
    domains: ["math", "reasoning", "knowledge", "code"],
    tasks: [],
    progress: 1,
    progress_message: null,
    created_at: "2026-11-20T09:55:00Z",
    finished_at: "2026-11-20T10:00:00Z",
    rows: ROWS,
    ...over,
  };
}

export const SCORES: ModelScores = {
  model_id: 5,
  base_model_id: 2,
  domains: [
    makeDomain("overall", 0.43, { base_score: 0.4, delta_vs_base: 0.03 }),
    makeDomain("reasoning", 0.38, { base_score: 0.4, delta_vs_base: -0.02 }),
    makeDomain("math", 0.512, { base_score: 0.45, delta_vs_base: 0.062 }),
    makeDomain("knowledge", 0.41, { base_score: 0.41, delta_vs_base: 0 }),
  ],
  evaluation: makeEvaluation(),
};

export function makeBoardRow(over: Partial<BoardRow> = {}): BoardRow {
  return {
    rank: 1,
    contaminated: false,
    model: { id: 5, name: "tiny-chat", kind: "finetuned" },
    base: { id: 2, name: "Tiny base" },
    parameters: 1_100_000_000,
    method: "lora",
    score: 0.52,
    stderr: 0.02,
    delta_vs_base: 0.031,
    measured_at: "2026-11-20T10:00:00Z",
    thumbs_up: 3,
    thumbs_down: 1,
    comparable: true,
    settings_hash: "s1",
    tied: false,
    mode: "full",
    n_documents: 1200,
    small_sample: false,
    ...over,
  };
}

export const BOARD: Leaderboard = {
  domain: "overall",
  settings_hash: "s1",
  min_documents: 100,
  hidden_contaminated: 0,
  include_contaminated: false,
  rows: [
    makeBoardRow(),
    // 0.49 ± 1.96·0.02 overlaps 0.52 ± 1.96·0.02: tied, rank 1 (≈)
    makeBoardRow({ rank: 1, tied: true, model: { id: 2, name: "Tiny base", kind: "base" }, base: null, method: "base", score: 0.49, delta_vs_base: null }),
    makeBoardRow({ rank: 3, model: { id: 7, name: "tiny-worse", kind: "finetuned" }, score: 0.4, delta_vs_base: -0.09, mode: "quick", n_documents: 40, small_sample: true }),
    makeBoardRow({ rank: null, model: { id: 9, name: "other-settings", kind: "finetuned" }, score: 0.7, comparable: false, settings_hash: "s2" }),
  ],
  total: 4,
  limit: 100,
  offset: 0,
};
