import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { LocationProbe } from "@/test/render";
import type { CapabilityChangeOut, FeedbackBlock, ModelPageOut } from "@/lib/modelPage";
import ModelPage from "@/pages/hub/ModelPage";

function makePage(over: Partial<ModelPageOut> = {}): ModelPageOut {
  return {
    model: {
      id: 12,
      name: "Support bot",
      slug: "support-bot",
      owner: "alice",
      kind: "finetuned",
      visibility: "private",
      description: "Answers <b>support</b> questions.",
      license: "apache-2.0",
      parameters: 900_000,
      base: { id: 1, name: "Tiny toy", kind: "base", owner: null, slug: null, page_path: null },
      parent: { id: 9, name: "Parent bot", kind: "finetuned", owner: "alice", slug: "parent-bot", page_path: "/m/alice/parent-bot" },
      toy: true,
      created_at: "2026-11-22T10:00:00Z",
      repo_id: "alice/support-bot",
    },
    run: {
      id: 33,
      name: "Support bot",
      status: "succeeded",
      mode: "expert",
      preset: "quick",
      config: { r: 8, learning_rate: 0.002 },
      training_outcome: "success",
      failure_category: null,
      failure_message: null,
      curve: [
        { step: 1, loss: 4.2 },
        { step: 2, loss: 3.9, eval_loss: 4.0 },
      ],
      train_seconds: 12,
      tokens_per_second: 5000,
      final_loss: 3.9,
      final_eval_loss: 4.0,
      train_tokens: 60000,
      environment: {},
    },
    dataset: {
      id: 4,
      name: "Support chats",
      format: "messages",
      rows: 40,
      train_rows: 32,
      eval_rows: 8,
      token_counts: {},
      stats: { tokens: { total: 1200, mean: 30, max: 44 } },
      domain: "support",
      license: null,
      samples: [{ messages: [{ role: "user", content: "<script>x()</script> reset?" }, { role: "assistant", content: "Settings." }] }],
    },
    feedback: { up: 2, down: 1, mine: null, recent: [{ user: "bob", value: -1, comment: "Too terse.", created_at: "2026-11-22T11:00:00Z" }] },
    permissions: { can_edit: true, can_feedback: true, can_download: true, can_fork: true, can_demo: true },
    ...over,
  };
}

const changes: CapabilityChangeOut[] = [
  {
    id: 1,
    contaminated: false,
    headline: true,
    model: { id: 12, name: "Support bot", kind: "finetuned" },
    reference: { id: 9, name: "Parent bot", kind: "finetuned", page_path: "/m/alice/parent-bot" },
    reference_kind: "parent",
    domain: "reasoning",
    task: null,
    metric: null,
    value: 0.6,
    reference_value: 0.5,
    delta: 0.1,
    relative_delta: 0.2,
    z_score: 4,
    p_value: 0.0001,
    p_adjusted: 0.001,
    flagged: true,
    direction: "up",
    sentence: "reasoning acc +8.0 points (+20% relative) vs parent (paired, n = 200), p < 0.01",
    created_at: "2026-11-22T12:00:00Z",
  },
  {
    id: 2,
    contaminated: false,
    headline: true,
    model: { id: 12, name: "Support bot", kind: "finetuned" },
    reference: { id: 9, name: "Parent bot", kind: "finetuned", page_path: "/m/alice/parent-bot" },
    reference_kind: "parent",
    domain: "truthfulness",
    task: "truthfulqa_mc1",
    metric: "acc,none",
    value: 0.2,
    reference_value: 0.3,
    delta: -0.1,
    relative_delta: -0.33,
    z_score: -3,
    p_value: 0.002,
    p_adjusted: 0.008,
    flagged: true,
    direction: "down",
    sentence: "truthfulness acc −10.0 points (−33% relative) vs parent (paired, n = 200), p < 0.01",
    created_at: "2026-11-22T12:00:00Z",
  },
  { ...({} as CapabilityChangeOut), id: 3, model: { id: 12, name: "Support bot", kind: "finetuned" }, reference: { id: 9, name: "Parent bot", kind: "finetuned" }, reference_kind: "parent", domain: "reading", delta: 0.01, flagged: false, created_at: "2026-11-22T12:00:00Z" },
];

type Call = { method: string; url: string; body: unknown };

function mockApi(page: ModelPageOut) {
  const calls: Call[] = [];
  let feedback: FeedbackBlock = page.feedback;
  let current = page;
  const json = (data: unknown, status = 200) => new Response(JSON.stringify(data), { status, headers: { "Content-Type": "application/json" } });
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? "GET";
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, url, body });
    if (url.startsWith("/api/v1/hub/models/alice/support-bot")) return json({ ...current, feedback });
    if (url === "/api/v1/hub/models/12/feedback" && method === "PUT") {
      const b = body as { value: number; comment: string | null };
      feedback = { ...feedback, up: feedback.up + (b.value > 0 ? 1 : 0), down: feedback.down + (b.value < 0 ? 1 : 0), mine: { value: b.value, comment: b.comment } };
      return json(feedback);
    }
    if (url === "/api/v1/hub/models/12" && method === "PATCH") {
      current = { ...current, model: { ...current.model, ...(body as object) } };
      return json({ ...current, feedback });
    }
    if (url.startsWith("/api/v1/capability-changes")) return json({ items: changes, total: changes.length });
    if (url.startsWith("/api/v1/lineage")) return json({ focus: "m12", nodes: [], edges: [] });
    if (url.startsWith("/api/v1/training/options")) return json({ fields: [], presets: [] });
    if (url.startsWith("/api/v1/models/1")) return json({ id: 1, name: "Tiny toy", hf_repo_id: null });
    return json({ error: { code: "not_found", message: "no" } }, 404);
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

function renderPage() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={["/m/alice/support-bot"]}>
        <Routes>
          <Route
            path="*"
            element={
              <>
                <Routes>
                  <Route path="/m/:owner/:name" element={<ModelPage />} />
                  <Route path="*" element={<p>elsewhere</p>} />
                </Routes>
                <LocationProbe />
              </>
            }
          />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

beforeEach(() => {
  // recharts' ResponsiveContainer and @xyflow measure their box.
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      unobserve() {}
      disconnect() {}
    },
  );
});

afterEach(() => vi.unstubAllGlobals());

describe("ModelPage", () => {
  it("shows every section of the model's story, user text inert", async () => {
    mockApi(makePage());
    const { container } = renderPage();
    expect(await screen.findByRole("heading", { name: "Support bot" })).toBeInTheDocument();
    expect(screen.getByTestId("model-description")).toHaveTextContent("Answers <b>support</b> questions.");
    expect(container.querySelector("b, script")).toBeNull();
    expect(screen.getByTestId("ref-base")).toHaveTextContent("Tiny toy");
    expect(screen.getByTestId("ref-forked-from")).toHaveAttribute("href", "/m/alice/parent-bot");
    expect(screen.getByTestId("run-numbers")).toHaveTextContent("3.9");
    expect(screen.getByTestId("loss-chart")).toHaveAttribute("data-points", "2");
    expect(screen.getByTestId("config-table")).toHaveTextContent("learning_rate");
    expect(screen.getByTestId("dataset-card")).toHaveTextContent("32 train, 8 held out");
    expect(screen.getByTestId("dataset-sample")).toHaveTextContent("user: <script>x()</script> reset?");
    expect(screen.getByTestId("download")).toHaveAttribute("href", "/api/v1/hub/models/12/download");
    expect(screen.getByTestId("hf-code")).toHaveTextContent('repo_id="alice/support-bot"');
    expect(screen.getByTestId("hf-code")).toHaveTextContent(`endpoint="${window.location.origin}/hf"`);
    expect(screen.getByTestId("demo-panel")).toBeInTheDocument();
    expect(screen.getByTestId("benchmarks")).toBeInTheDocument();
    expect(screen.getByTestId("lineage-section")).toBeInTheDocument();

    const callouts = await screen.findAllByTestId("capability-callout");
    expect(callouts).toHaveLength(2);
    expect(callouts[0]).toHaveAttribute("data-tone", "up");
    expect(callouts[0]).toHaveTextContent("reasoning acc +8.0 points (+20% relative) vs parent (paired, n = 200), p < 0.01");
    expect(callouts[1]).toHaveAttribute("data-tone", "down");

    const fb = screen.getByTestId("feedback");
    expect(within(fb).getByTestId("thumbs-up")).toHaveAttribute("data-count", "2");
    expect(within(fb).getByTestId("feedback-item")).toHaveTextContent("Too terse.");
  });

  it("records a thumb with the comment, and updates the counts", async () => {
    const calls = mockApi(makePage());
    renderPage();
    await screen.findByTestId("feedback");
    await userEvent.type(screen.getByLabelText("Comment (optional)"), "Good answers");
    await userEvent.click(screen.getByTestId("thumbs-up"));
    await waitFor(() => expect(screen.getByTestId("thumbs-up")).toHaveAttribute("aria-pressed", "true"));
    expect(screen.getByTestId("thumbs-up")).toHaveAttribute("data-count", "3");
    expect(calls.find((c) => c.method === "PUT")).toEqual({ method: "PUT", url: "/api/v1/hub/models/12/feedback", body: { value: 1, comment: "Good answers" } });
  });

  it("publishes for the owner", async () => {
    const calls = mockApi(makePage());
    renderPage();
    const toggle = await screen.findByTestId("publish-toggle");
    expect(screen.getByTestId("visibility")).toHaveTextContent("Private");
    await userEvent.click(toggle);
    await waitFor(() => expect(screen.getByTestId("visibility")).toHaveTextContent("Public"));
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ visibility: "public" });
    expect(screen.getByTestId("publish-toggle")).toHaveTextContent("Make private");
  });

  it("opens the builder with the fork template on Fork", async () => {
    mockApi(makePage());
    renderPage();
    await userEvent.click(await screen.findByTestId("fork"));
    expect(screen.getByTestId("location")).toHaveTextContent("/hub/train/expert?fork=12");
  });

  it("hides owner and signed-in actions from an anonymous visitor", async () => {
    mockApi(makePage({ permissions: { can_edit: false, can_feedback: false, can_download: true, can_fork: false, can_demo: false } }));
    renderPage();
    await screen.findByRole("heading", { name: "Support bot" });
    expect(screen.queryByTestId("publish-toggle")).toBeNull();
    expect(screen.queryByTestId("fork")).toBeNull();
    expect(screen.getByTestId("thumbs-up")).toBeDisabled();
    expect(screen.getByText("Sign in to give feedback.")).toBeInTheDocument();
    expect(screen.getByTestId("demo-unavailable")).toBeInTheDocument();
  });

  it("says plainly when there is no such model", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ error: { code: "not_found", message: "No such model" } }), { status: 404, headers: { "Content-Type": "application/json" } })));
    renderPage();
    expect(await screen.findByText("No such model")).toBeInTheDocument();
    expect(screen.getByText(/There is no model alice\/support-bot you can see/)).toBeInTheDocument();
  });
});
