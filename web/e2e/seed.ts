import type { APIRequestContext } from "@playwright/test";

export interface Seeded {
  id: number;
  name: string;
}

const MODELS = [
  { name: "Llama 3.1 8B", developer: "Meta", model_type: "LLM", parameters: 8e9, license: "llama3.1", status: "using", rating: 5, tags: ["chat", "open-weights"], date_interacted: "2026-03-14", description: "Open-weights chat model; my daily driver for drafts.", hf_repo_id: "meta-llama/Llama-3.1-8B" },
  { name: "Mistral 7B Instruct", developer: "Mistral AI", model_type: "LLM", parameters: 7.3e9, license: "Apache-2.0", status: "tried", rating: 4, tags: ["chat", "open-weights", "fast"], date_interacted: "2026-02-20", description: "Small, quick, surprisingly good at following instructions." },
  { name: "Qwen2.5 Coder 32B", developer: "Alibaba", model_type: "LLM", parameters: 32e9, license: "Apache-2.0", status: "studied", rating: 4, tags: ["code", "open-weights"], date_interacted: "2026-01-28", description: "Strong code model; read the tech report on repository-level pretraining." },
  { name: "Whisper large-v3", developer: "OpenAI", model_type: "Audio", parameters: 1.55e9, license: "MIT", status: "using", rating: 5, tags: ["speech", "transcription"], date_interacted: "2026-03-02", description: "Speech recognition that just works for meeting notes." },
  { name: "CLIP ViT-L/14", developer: "OpenAI", model_type: "Vision", parameters: 4.28e8, license: "MIT", status: "studied", rating: 3, tags: ["embeddings", "vision"], date_interacted: "2025-12-10", description: "Contrastive image-text model; the zero-shot classic." },
  { name: "all-MiniLM-L6-v2", developer: "sentence-transformers", model_type: "Embedding", parameters: 2.27e7, license: "Apache-2.0", status: "using", rating: 4, tags: ["embeddings", "search"], date_interacted: "2026-03-10", description: "Tiny sentence embedder behind my notes search." },
  { name: "Stable Diffusion XL", developer: "Stability AI", model_type: "Vision", parameters: 3.5e9, license: "OpenRAIL++", status: "archived", rating: 3, tags: ["image-generation"], date_interacted: "2025-10-05", description: "Image generation; replaced by newer models." },
  { name: "Gemma 2 9B", developer: "Google", model_type: "LLM", parameters: 9e9, license: "Gemma", status: "wishlist", tags: ["chat", "open-weights"], description: "Want to compare it with Llama 3.1 8B on reasoning." },
  { name: "Phi-3.5 Vision", developer: "Microsoft", model_type: "Multimodal", parameters: 4.2e9, license: "MIT", status: "wishlist", tags: ["vision", "small"], description: "Small multimodal model worth a try for document screenshots." },
  { name: "DeepSeek-R1 Distill 14B", developer: "DeepSeek", model_type: "LLM", parameters: 14e9, license: "MIT", status: "wishlist", tags: ["reasoning"], description: "Distilled reasoning model; curious about long chains of thought." },
];

export async function resetAll(request: APIRequestContext): Promise<void> {
  for (;;) {
    const page = await (await request.get("/api/v1/entries?limit=200")).json();
    if (!page.items.length) return;
    const resp = await request.post("/api/v1/entries/bulk", { data: { ids: page.items.map((e: { id: number }) => e.id), action: "delete" } });
    if (!resp.ok()) throw new Error(`bulk delete failed: ${resp.status()} ${await resp.text()}`);
  }
}

/** A realistic log through the public API: entries, notes, journal notes and a status change or two. */
export async function seedLog(request: APIRequestContext): Promise<Seeded[]> {
  await resetAll(request);
  const out: Seeded[] = [];
  for (const m of MODELS) {
    const resp = await request.post("/api/v1/entries", { data: m });
    if (resp.status() !== 201) throw new Error(`seed failed: ${resp.status()} ${await resp.text()}`);
    const e = await resp.json();
    out.push({ id: e.id, name: e.name });
  }
  const byName = (n: string) => out.find((e) => e.name === n)!.id;
  await request.patch(`/api/v1/entries/${byName("Mistral 7B Instruct")}`, {
    data: { notes: "## Impressions\n\n- fast on CPU\n- **good** at short instructions\n\n| task | verdict |\n|---|---|\n| summaries | good |\n| code | meh |" },
  });
  await request.post(`/api/v1/entries/${byName("Llama 3.1 8B")}/journal`, { data: { body: "Tried it on meeting summaries: *very* solid." } });
  await request.post(`/api/v1/entries/${byName("Qwen2.5 Coder 32B")}/journal`, { data: { body: "Fixed a gnarly regex for me on the first try." } });
  await request.patch(`/api/v1/entries/${byName("Qwen2.5 Coder 32B")}`, { data: { status: "using" } });
  return out;
}
