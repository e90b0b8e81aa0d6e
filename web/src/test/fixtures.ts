import type { EntryOut } from "@/lib/types";

export function makeEntry(over: Partial<EntryOut> = {}): EntryOut {
  return {
    id: 1,
    model_id: 1,
    name: "Llama 3.1 8B",
    developer: "Meta",
    model_type: "LLM",
    parameters: 8_000_000_000,
    license: "llama3.1",
    version: "3.1",
    description: "An open-weights chat model.",
    source_links: [],
    hf_repo_id: "meta-llama/Llama-3.1-8B",
    github_repo: null,
    kind: "external",
    status: "using",
    date_interacted: "2026-03-14",
    rating: 4,
    tags: ["chat", "open-weights"],
    notes: "",
    visibility: "private",
    created_at: "2026-03-01T10:00:00Z",
    updated_at: "2026-03-14T10:00:00Z",
    ...over,
  };
}
