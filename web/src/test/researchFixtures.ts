// Fixtures for the research screens, shaped like H2's research API answers.
import type { AdvisorOut, CapabilityAggregates, CapabilityChange, MuseumItem, MuseumPage, ResearchRows } from "@/lib/research";

export function makeMuseumItem(over: Partial<MuseumItem> = {}): MuseumItem {
  return {
    run_id: 11,
    name: "Too hot",
    owner: "local",
    base: { id: 1, name: "Tiny base", kind: "base", owner: null, slug: null, page_path: null },
    model: null,
    status: "failed",
    source: "modelmate",
    outcome: "failure",
    failure_category: "diverged",
    failure_message: "The loss became NaN at step 3. <b>bold</b>",
    error_type: "DivergedError",
    config: { learning_rate: 0.05, r: 8, alpha: 16, epochs: 1, batch_size: 4, max_seq_length: 256, dropout: 0.05 },
    curve: [
      { step: 1, loss: 7.1 },
      { step: 2, loss: 9.4, eval_loss: 9.9 },
      { step: 3, loss: Number.NaN },
    ],
    dataset: { id: 3, name: "Support chats", domain: "chat" },
    feedback_value: null,
    feedback_comment: null,
    created_at: "2026-11-20T10:00:00Z",
    ...over,
  };
}

export const MUSEUM: MuseumPage = {
  items: [
    makeMuseumItem(),
    makeMuseumItem({
      run_id: 12,
      name: "Flatliner",
      source: "external",
      owner: "someone-else",
      status: "succeeded",
      outcome: "success",
      failure_category: "no_learning",
      failure_message: null,
      error_type: null,
      feedback_value: -1,
      feedback_comment: "did nothing",
      model: { id: 40, name: "flat", kind: "finetuned", owner: "someone-else", slug: "flat", page_path: "/m/someone-else/flat" },
    }),
  ],
  total: 2,
  counts: { diverged: 1, no_learning: 1, overfitting: 0 },
};

export function makeChange(over: Partial<CapabilityChange> = {}): CapabilityChange {
  return {
    id: 1,
    contaminated: false,
    headline: true,
    model: { id: 40, name: "Support bot", kind: "finetuned", owner: "ana", slug: "support-bot", page_path: "/m/ana/support-bot" },
    reference: { id: 1, name: "Tiny base", kind: "base", owner: null, slug: null, page_path: null },
    reference_kind: "base",
    domain: "reasoning",
    task: "arc_easy",
    metric: "acc",
    value: 0.4,
    reference_value: 0.3,
    delta: 0.1,
    relative_delta: 0.333,
    z_score: 3.2,
    p_value: 0.001,
    p_adjusted: 0.004,
    flagged: true,
    direction: "up",
    sentence: "reasoning arc_easy acc +10.0 points (+33% relative) vs base (paired, n = 300), p < 0.01",
    created_at: "2026-11-21T09:00:00Z",
    ...over,
  };
}

export const CHANGES = {
  items: [
    makeChange(),
    makeChange({ id: 2, domain: "knowledge", task: null, metric: null, delta: -0.06, direction: "down", sentence: "knowledge −6.0 points (−12% relative) vs base (paired, n = 500), p < 0.05" }),
  ],
  total: 2,
};

export const AGGREGATES: CapabilityAggregates = {
  by_training_domain: [
    { training_domain: "chat", target_domain: "reasoning", mean_delta: 0.04, n_models: 2, n_up: 1, n_down: 0 },
    { training_domain: "chat", target_domain: "knowledge", mean_delta: -0.03, n_models: 2, n_up: 0, n_down: 1 },
    { training_domain: "math", target_domain: "math", mean_delta: 0.1, n_models: 1, n_up: 1, n_down: 0 },
  ],
  by_base: [{ base: { id: 1, name: "Tiny base", kind: "base", owner: null, slug: null, page_path: null }, target_domain: "reasoning", mean_delta: 0.02, n_models: 3, n_up: 1, n_down: 0 }],
};

export const ROWS: ResearchRows = {
  columns: [
    { name: "run_id", type: "int64", description: "The run's id." },
    { name: "config.learning_rate", type: "float64", description: "Peak learning rate." },
    { name: "failure_category", type: "string", description: "Automatic failure category, if any." },
    { name: "score.reasoning", type: "float64", description: "Reasoning domain score (0-1)." },
  ],
  rows: [
    { run_id: 11, "config.learning_rate": 0.05, failure_category: "diverged", "score.reasoning": null },
    { run_id: 10, "config.learning_rate": 0.0002, failure_category: "<script>x</script>", "score.reasoning": 0.41234 },
  ],
  total: 2,
};

export const CARD = `---
dataset_info:
  features:
    - name: run_id
      dtype: int64
---
# ModelMate research runs

One row per run. <img src=x onerror="window.__pwned=1">
`;

export const ADVICE: AdvisorOut = {
  similar: [
    {
      run_id: 11,
      name: "Too hot",
      distance: 0.12,
      same_base: true,
      outcome: "failure",
      failure_category: "diverged",
      config: { learning_rate: 0.05, r: 8, alpha: 16, epochs: 1, batch_size: 4, max_seq_length: 256 },
      status: "failed",
      final_loss: null,
      final_eval_loss: null,
      scores: {},
      model: null,
    },
    {
      run_id: 10,
      name: "Fine run",
      distance: 0.8,
      same_base: true,
      outcome: "success",
      failure_category: null,
      config: { learning_rate: 0.0002, r: 8 },
      status: "succeeded",
      final_loss: 2.5,
      final_eval_loss: 2.7,
      scores: { reasoning: 0.41 },
      model: { id: 40, name: "Support bot", kind: "finetuned", owner: "ana", slug: "support-bot", page_path: "/m/ana/support-bot" },
    },
  ],
  warnings: ["1 of 2 similar runs on Tiny base diverged (learning rate ≥ 1e-2)."],
};
