import { describe, expect, it } from "vitest";
import type { CapabilityChangeOut } from "@/lib/modelPage";
import { changeSentence, changeTone, clampSettings, deltaItems, deltaLabel, generateBody, hfSnippet, pagePath, sampleText, sortChanges } from "@/lib/modelPage";

function change(over: Partial<CapabilityChangeOut>): CapabilityChangeOut {
  return {
    id: 1,
    contaminated: false,
    headline: true,
    model: { id: 2, name: "A", kind: "finetuned" },
    reference: { id: 1, name: "tiny", kind: "base" },
    reference_kind: "base",
    domain: "reasoning",
    task: null,
    metric: null,
    value: 0.5,
    reference_value: 0.4,
    delta: 0.1,
    relative_delta: 0.25,
    z_score: 3,
    p_value: 0.001,
    p_adjusted: 0.004,
    flagged: true,
    direction: "up",
    sentence: null,
    created_at: "2026-11-22T10:00:00Z",
    ...over,
  };
}

describe("hfSnippet", () => {
  it("points snapshot_download at this server's /hf endpoint with the repo id", () => {
    const code = hfSnippet("http://127.0.0.1:8000/", "alice/support-bot");
    expect(code).toContain('repo_id="alice/support-bot"');
    expect(code).toContain('endpoint="http://127.0.0.1:8000/hf"');
    expect(code).not.toContain("token=");
    expect(code).not.toContain("PeftModel");
  });

  it("adds a token line for a private model and the peft loading for a known base", () => {
    const code = hfSnippet("https://mm.example", "bob/x", { private: true, baseRepo: "Qwen/Qwen2.5-0.5B" });
    expect(code).toContain('token="<your ModelMate API token>"');
    expect(code).toContain('AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-0.5B")');
    expect(code).toContain("PeftModel.from_pretrained(base, path)");
  });

  it("quotes odd repo ids safely", () => {
    expect(hfSnippet("http://h", 'a/b"c')).toContain('repo_id="a/b\\"c"');
  });
});

describe("pagePath", () => {
  it("encodes both parts", () => {
    expect(pagePath("al ice", "x/y")).toBe("/m/al%20ice/x%2Fy");
  });
});

describe("demo settings", () => {
  it("clamps to the server's limits and falls back on bad numbers", () => {
    expect(clampSettings({ max_new_tokens: 9999, temperature: -1, top_p: 5, seed: 3.6 })).toEqual({ max_new_tokens: 256, temperature: 0, top_p: 1, seed: 4 });
    expect(clampSettings({ max_new_tokens: Number.NaN })).toMatchObject({ max_new_tokens: 64, temperature: 0.7, seed: null });
  });

  it("builds the generate body with the messages and no seed unless one is set", () => {
    const body = generateBody([{ role: "user", content: "hi" }], { temperature: 0 });
    expect(body).toEqual({ messages: [{ role: "user", content: "hi" }], max_new_tokens: 64, temperature: 0, top_p: 0.95 });
    expect(generateBody([], { seed: 7 })).toMatchObject({ seed: 7 });
  });
});

describe("capability changes", () => {
  it("tones by direction, else by the sign of the delta", () => {
    expect(changeTone(change({ direction: "down", delta: 0.2 }))).toBe("down");
    expect(changeTone(change({ direction: null, delta: -0.1 }))).toBe("down");
    expect(changeTone(change({ direction: null, delta: 0 }))).toBe("flat");
  });

  it("uses the API's sentence, else builds one", () => {
    expect(changeSentence(change({ sentence: "reasoning acc +25% vs base, p < 0.01" }))).toBe("reasoning acc +25% vs base, p < 0.01");
    expect(changeSentence(change({ task: "arc_easy" }))).toBe("Reasoning (arc_easy) +10.0 points vs base, p = 0.0040");
  });

  it("sorts flagged first, domain aggregates before tasks, bigger effects first", () => {
    const items = [
      change({ id: 1, flagged: false, delta: 0.5 }),
      change({ id: 2, task: "arc_easy", delta: 0.3 }),
      change({ id: 3, delta: -0.05 }),
      change({ id: 4, delta: 0.2 }),
    ];
    expect(sortChanges(items).map((c) => c.id)).toEqual([4, 3, 2, 1]);
  });
});

describe("deltaLabel", () => {
  it("shows the biggest changes first, in points, and counts the rest", () => {
    expect(deltaLabel({ math: 0.01, reasoning: -0.2, reading: 0.05, code: 0.001 }, 2)).toBe("Reasoning −20.0 · Reading +5.0 · +2 more");
    expect(deltaLabel(null)).toBe("");
  });

  it("gives each delta a tone; a change that rounds to 0.0 points is flat", () => {
    expect(deltaItems({ math: 0.0001, code: -0.03, reading: 0.2, bad: null }).map((d) => [d.domain, d.text, d.tone])).toEqual([
      ["reading", "+20.0", "up"],
      ["code", "−3.0", "down"],
      ["math", "0.0", "flat"],
    ]);
  });
});

describe("sampleText", () => {
  it("renders conversations as role lines and records as field lines", () => {
    expect(sampleText({ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] })).toBe("user: hi\nassistant: hello");
    expect(sampleText({ instruction: "add", output: 3 })).toBe("instruction: add\noutput: 3");
  });
});
