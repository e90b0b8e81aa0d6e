// Capability changes: only a flagged change shows a number, a p-value and a colour; an unflagged one says there is
// no detectable change (with the number of paired documents), never "+0.0 … p = 1".
import { describe, expect, it } from "vitest";
import type { CapabilityChangeOut } from "@/lib/modelPage";
import { changeSentence } from "@/lib/modelPage";
import { changeP, noChangeText, testLabel } from "@/lib/research";
import { ChangeItem, changeHeadline } from "@/pages/hub/Changes";
import { renderWithProviders } from "./render";
import { screen } from "@testing-library/react";

function change(over: Partial<CapabilityChangeOut>): CapabilityChangeOut {
  return {
    id: 1,
    contaminated: false,
    headline: true,
    model: { id: 2, name: "A", kind: "finetuned" },
    reference: { id: 1, name: "tiny", kind: "base" },
    reference_kind: "base",
    domain: "reading",
    task: null,
    metric: null,
    value: 0.66,
    reference_value: 0.5,
    delta: 0.16,
    relative_delta: 0.32,
    z_score: null,
    p_value: 0.0078,
    p_adjusted: 0.0078,
    test: "mcnemar",
    n: 50,
    flagged: true,
    direction: "up",
    sentence: null,
    created_at: "2026-12-04T10:00:00Z",
    ...over,
  };
}

const quiet = change({ flagged: false, delta: 0, relative_delta: 0, direction: null, p_value: 1, p_adjusted: 1, value: 0.5 });

describe("capability change verdicts", () => {
  it("labels the test and the number of paired documents", () => {
    expect(testLabel(change({}))).toBe("paired, n = 50");
    expect(testLabel(change({ test: "z", n: 40 }))).toBe("unpaired z-test, n = 40");
    expect(testLabel(change({ test: null, n: null }))).toBe("");
  });

  it("says 'no detectable change' for an unflagged change and shows no p-value", () => {
    expect(noChangeText(quiet)).toBe("no detectable change vs its base (n = 50)");
    expect(noChangeText(change({ flagged: false, p_adjusted: null, test: null, n: null }))).toBe("not tested vs its base");
    expect(noChangeText(change({}))).toBeNull();
    expect(noChangeText(change({ flagged: false, p_adjusted: 1e-6, n: 2000 }))).toBe("no meaningful change vs its base (n = 2000)");
    expect(changeP(quiet)).toBe("");
    expect(changeP(change({}))).toBe("p < 0.01");
  });

  it("builds headlines and sentences that never read '+0 … p = 1'", () => {
    expect(changeHeadline(quiet)).toBe("Reading (domain mean): no detectable change vs its base (n = 50)");
    expect(changeHeadline(change({}))).toMatch(/^Reading \(domain mean\): \+16\.0 .* vs its base .*— paired, n = 50$/);
    expect(changeSentence(quiet)).toBe("Reading: no detectable change vs its base (n = 50)");
    expect(changeSentence(change({}))).toBe("Reading +16.0 points vs base (paired, n = 50), p = 0.0078");
  });

  it("colours only a flagged change", () => {
    renderWithProviders(
      <ul>
        <ChangeItem change={quiet} />
      </ul>,
    );
    const item = screen.getByTestId("change-item");
    expect(item.className).not.toMatch(/emerald|red/);
    expect(screen.getByTestId("change-sentence")).toHaveTextContent("no detectable change vs its base (n = 50)");
    expect(item).not.toHaveTextContent("p = 1");
  });
});
