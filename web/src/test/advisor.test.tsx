import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { AdvisorPanel } from "@/components/hub/AdvisorPanel";
import { ADVISOR_DEBOUNCE_MS } from "@/lib/researchQueries";
import { renderWithProviders } from "./render";
import { ADVICE } from "./researchFixtures";

afterEach(() => {
  vi.unstubAllGlobals();
});

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function stubAdvisor(answer: (body: Record<string, unknown>) => Response) {
  const bodies: Record<string, unknown>[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      expect(String(input)).toBe("/api/v1/advisor");
      expect(init?.method).toBe("POST");
      const body = JSON.parse(String(init?.body));
      bodies.push(body);
      return answer(body);
    }),
  );
  return bodies;
}

describe("advisor panel", () => {
  it("shows warnings and similar runs with their outcomes", async () => {
    const bodies = stubAdvisor(() => json(ADVICE));
    renderWithProviders(<AdvisorPanel base="tiny" preset="quick" datasetId={3} config={{ learning_rate: 0.05 }} />);
    const warning = await screen.findByTestId("advisor-warning", {}, { timeout: 3000 });
    expect(warning).toHaveTextContent("1 of 2 similar runs on Tiny base diverged");
    const runs = screen.getAllByTestId("advisor-run");
    expect(runs).toHaveLength(2);
    expect(runs[0]).toHaveAttribute("data-category", "diverged");
    expect(within(runs[0]).getByText("Training diverged")).toBeInTheDocument();
    expect(within(runs[0]).getByRole("link", { name: "Too hot" })).toHaveAttribute("href", "/hub/runs/11");
    expect(runs[1]).toHaveTextContent("Reasoning 41.0");
    expect(within(runs[1]).getByRole("link", { name: "model" })).toHaveAttribute("href", "/m/ana/support-bot");
    expect(bodies).toEqual([{ base_model: "tiny", preset: "quick", dataset_id: 3, config: { learning_rate: 0.05 } }]);
  });

  it("asks nothing without a base model", async () => {
    const bodies = stubAdvisor(() => json(ADVICE));
    renderWithProviders(<AdvisorPanel base="" />);
    await new Promise((r) => setTimeout(r, ADVISOR_DEBOUNCE_MS + 100));
    expect(screen.queryByTestId("advisor")).toBeNull();
    expect(bodies).toHaveLength(0);
  });

  it("refreshes once, debounced, after a burst of changes", async () => {
    const bodies = stubAdvisor((b) => json({ similar: [], warnings: b.config ? ["careful"] : [] }));
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const wrapper = ({ children }: { children: React.ReactNode }) => (
      <QueryClientProvider client={qc}>
        <MemoryRouter>{children}</MemoryRouter>
      </QueryClientProvider>
    );
    const view = render(<AdvisorPanel base="tiny" />, { wrapper });
    expect(await screen.findByTestId("advisor-empty", {}, { timeout: 3000 })).toHaveTextContent("No similar runs yet");
    expect(bodies).toHaveLength(1);
    for (const lr of [0.001, 0.01, 0.05]) {
      view.rerender(<AdvisorPanel base="tiny" config={{ learning_rate: lr }} />);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await screen.findByTestId("advisor-warning", {}, { timeout: 3000 })).toHaveTextContent("careful");
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toEqual({ base_model: "tiny", config: { learning_rate: 0.05 } });
  });

  it("says so quietly when the server cannot advise", async () => {
    stubAdvisor(() => json({ error: { code: "validation_failed", message: "unknown base model" } }, 422));
    renderWithProviders(<AdvisorPanel base="nope" />);
    expect(await screen.findByTestId("advisor-error", {}, { timeout: 3000 })).toHaveTextContent("unknown base model");
  });
});
