import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { DomainRadar } from "@/components/hub/BenchCharts";
import { DomainScoreList, LeaderboardTable, TaskTable } from "@/components/hub/BenchPieces";
import { ModelBenchmarks } from "@/components/hub/ModelBenchmarks";
import Leaderboards, { boardQuery } from "@/pages/hub/Leaderboards";
import RunPage from "@/pages/hub/RunPage";
import { formatDelta, formatScore, radarData } from "@/lib/bench";
import { renderWithProviders } from "./render";
import { BOARD, makeBoardRow, makeEvaluation, makeRow, ROWS, SCORES } from "./benchFixtures";
import { makeRun } from "./hubFixtures";

afterEach(() => {
  vi.unstubAllGlobals();
});

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const notFound = () => json({ error: { code: "not_found", message: "no such resource" } }, 404);

type Call = { method: string; url: string; body: unknown };

function stubFetch(handler: (c: Call) => Response) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const call = { method: init?.method ?? "GET", url: String(input), body: init?.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(call);
    return handler(call);
  });
  vi.stubGlobal("fetch", fn);
  return calls;
}

function renderAt(path: string, route: string, element: React.ReactElement) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[route]}>
        <Routes>
          <Route path={path} element={element} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("benchmark helpers", () => {
  it("formats 0..1 scores as percentages and deltas as signed points", () => {
    expect(formatScore(0.512)).toBe("51.2");
    expect(formatScore(null)).toBe("—");
    expect(formatScore(12.345)).toBe("12.35");
    expect(formatDelta(0.031)).toBe("+3.1");
    expect(formatDelta(-0.09)).toBe("−9.0");
    expect(formatDelta(0)).toBe("0.0");
  });

  it("builds radar points in domain order, without overall, with the base series", () => {
    const data = radarData(SCORES.domains);
    expect(data.map((p) => p.domain)).toEqual(["math", "knowledge", "reasoning"]);
    expect(data[0]).toMatchObject({ label: "Math", model: 0.512, base: 0.45 });
  });
});

describe("domain radar", () => {
  it("draws the model and, when known, the base model as a second series", () => {
    const { container, unmount } = render(<DomainRadar data={radarData(SCORES.domains)} modelName="tiny-chat" baseName="Tiny base" width={480} />);
    expect(container.querySelectorAll(".recharts-radar")).toHaveLength(2);
    expect(screen.getByText("tiny-chat")).toBeInTheDocument();
    expect(screen.getByText("Tiny base")).toBeInTheDocument();
    expect(screen.getByText("Math")).toBeInTheDocument();
    unmount();
    const noBase = radarData(SCORES.domains.map((d) => ({ ...d, base_score: null })));
    const again = render(<DomainRadar data={noBase} modelName="tiny-chat" width={480} />);
    expect(again.container.querySelectorAll(".recharts-radar")).toHaveLength(1);
    expect(screen.queryByText("Base model")).toBeNull();
  });

  it("lists the domain scores with the delta vs the base, coloured", () => {
    render(<DomainScoreList domains={SCORES.domains} />);
    const items = screen.getAllByTestId("domain-score");
    expect(items.map((i) => i.dataset.domain)).toEqual(["overall", "math", "knowledge", "reasoning"]);
    const math = items[1];
    expect(math).toHaveTextContent("51.2");
    expect(within(math).getByTestId("delta")).toHaveAttribute("data-tone", "up");
    expect(within(math).getByTestId("delta")).toHaveTextContent("+6.2");
    expect(within(items[3]).getByTestId("delta")).toHaveAttribute("data-tone", "down");
    expect(within(items[2]).getByTestId("delta")).toHaveAttribute("data-tone", "flat");
  });
});

describe("task table", () => {
  it("shows value ± stderr, n, shots and sample limit, and marks partial and failed rows as not final", () => {
    render(<TaskTable rows={ROWS} />);
    const rows = screen.getAllByTestId("task-row");
    expect(rows).toHaveLength(5);
    const gsm = rows.find((r) => r.textContent?.includes("strict-match"))!;
    expect(gsm).toHaveAttribute("data-status", "final");
    expect(within(gsm).getByTestId("task-value")).toHaveTextContent("51.2± 2.1");
    expect(gsm).toHaveTextContent("100");
    expect(within(gsm).getByTestId("row-status")).toHaveTextContent("Final");

    const partial = rows.find((r) => r.dataset.status === "partial")!;
    expect(partial).toHaveTextContent("mmlu");
    expect(within(partial).getByTestId("row-status")).toHaveTextContent("Partial");
    expect(within(partial).getByTestId("task-value")).toHaveTextContent("(not final)");
    expect(within(partial).getByTestId("task-value").className).toContain("italic");

    const failed = rows.find((r) => r.dataset.status === "failed")!;
    expect(within(failed).getByTestId("row-status")).toHaveTextContent("Failed");
    expect(within(failed).getByTestId("task-value")).toHaveTextContent("—");
    expect(failed).toHaveTextContent("code execution is disabled");
  });

  it("can hide the secondary metrics, but never the rows that are not final", () => {
    render(<TaskTable rows={ROWS} allMetrics={false} />);
    const rows = screen.getAllByTestId("task-row");
    expect(rows).toHaveLength(4);
    expect(screen.queryByText(/flexible-extract/)).toBeNull();
    expect(rows.filter((r) => r.dataset.status !== "final")).toHaveLength(2);
  });

  it("shows the engine that scored each row, or a dash for rows stored before engines were recorded", () => {
    render(<TaskTable rows={[makeRow({ backend: "vllm" }), makeRow({ task: "older", backend: null })]} />);
    const engines = screen.getAllByTestId("task-engine").map((c) => c.textContent);
    expect(engines).toEqual(["vLLM", "—"]); // gsm8k, then older
  });

  it("says 'all' for a task run without a sample limit", () => {
    render(<TaskTable rows={[makeRow({ sample_limit: null })]} />);
    expect(screen.getByTestId("task-row")).toHaveTextContent("all");
  });
});

describe("leaderboard table", () => {
  it("ranks comparable rows, greys and unranks the others with an explanation", () => {
    renderWithProviders(<LeaderboardTable rows={BOARD.rows} />);
    const rows = screen.getAllByTestId("board-row");
    expect(rows.map((r) => within(r).getByTestId("board-rank").textContent)).toEqual(["1", "≈1", "3", "—"]);
    expect(within(rows[1]).getByTestId("board-rank")).toHaveAttribute("data-tied", "true");
    expect(within(rows[1]).getByLabelText("Rank 1, tied with the row above")).toBeInTheDocument();
    expect(within(rows[2]).getByTestId("small-sample")).toHaveTextContent("Small sample: 40 documents");
    expect(within(rows[0]).queryByTestId("small-sample")).toBeNull();
    const odd = rows[3];
    expect(odd).toHaveAttribute("data-comparable", "false");
    expect(odd.className).toContain("opacity-70");
    expect(within(odd).getByTestId("not-comparable")).toHaveTextContent("Not comparable");
    expect(within(odd).getByTestId("not-comparable").getAttribute("title")).toMatch(/different settings/);
    expect(within(rows[0]).queryByTestId("not-comparable")).toBeNull();
  });

  it("ranks rows of both engines together and names each row's engine", () => {
    renderWithProviders(
      <LeaderboardTable
        rows={[
          makeBoardRow({ backends: ["vllm"] }),
          makeBoardRow({ rank: 2, model: { id: 8, name: "on-hf" }, backends: ["hf"] }),
          makeBoardRow({ rank: 3, model: { id: 9, name: "both" }, backends: ["hf", "vllm"] }),
          makeBoardRow({ rank: 4, model: { id: 10, name: "older" }, backends: [] }),
        ]}
      />,
    );
    const rows = screen.getAllByTestId("board-row");
    expect(rows.map((r) => within(r).getByTestId("board-rank").textContent)).toEqual(["1", "2", "3", "4"]);
    expect(rows.slice(0, 3).map((r) => within(r).getByTestId("board-engine").textContent)).toEqual([" · vLLM", " · HF", " · HF + vLLM"]);
    expect(within(rows[0]).getByTestId("board-engine").getAttribute("title")).toMatch(/ranked together/);
    expect(within(rows[3]).queryByTestId("board-engine")).toBeNull();
  });

  it("links the model and base, shows score ± stderr, the delta coloured, the size and the votes", () => {
    renderWithProviders(<LeaderboardTable rows={[makeBoardRow(), makeBoardRow({ model: { id: 8, name: "worse" }, delta_vs_base: -0.05 })]} />);
    const [first, second] = screen.getAllByTestId("board-row");
    expect(within(first).getByRole("link", { name: "tiny-chat" })).toHaveAttribute("href", "/hub/models/5");
    expect(within(first).getByRole("link", { name: "Tiny base" })).toHaveAttribute("href", "/hub/models/2");
    expect(within(first).getByTestId("board-score")).toHaveTextContent("52.0± 2.0");
    expect(within(first).getByTestId("delta")).toHaveAttribute("data-tone", "up");
    expect(within(first).getByTestId("delta").className).toContain("emerald");
    expect(within(second).getByTestId("delta")).toHaveAttribute("data-tone", "down");
    expect(within(second).getByTestId("delta").className).toContain("red");
    expect(first).toHaveTextContent("1.1B");
    expect(within(first).getByLabelText("3 thumbs up")).toBeInTheDocument();
  });
});

describe("leaderboards page", () => {
  it("maps the URL to the API query", () => {
    expect(boardQuery(new URLSearchParams(""))).toEqual({ domain: "overall" });
    expect(boardQuery(new URLSearchParams("domain=math&size=1-4b&base=2&method=lora"))).toEqual({
      domain: "math",
      base_model_id: 2,
      min_params: 1e9,
      max_params: 4e9,
      method: "lora",
    });
    expect(boardQuery(new URLSearchParams("domain=nonsense")).domain).toBe("overall");
  });

  it("switches domain with the tab bar and filters by size, asking the API each time", async () => {
    const user = userEvent.setup();
    const calls = stubFetch((c) => {
      if (c.url.startsWith("/api/v1/leaderboards")) return json(BOARD);
      if (c.url.startsWith("/api/v1/base-models")) return json([{ id: 2, key: "tiny", name: "Tiny base", available: true, gated: false, toy: true }]);
      return notFound();
    });
    renderAt("/hub/leaderboards", "/hub/leaderboards", <Leaderboards />);
    await waitFor(() => expect(screen.getAllByTestId("board-row")).toHaveLength(4));
    expect(screen.getByTestId("not-comparable-note")).toHaveTextContent("1 row is greyed and unranked");
    expect(screen.getByTestId("small-sample-warning")).toHaveTextContent("1 of these 4 scores come from a small sample (fewer than 100 documents per domain");
    expect(screen.getByTestId("tie-note")).toHaveTextContent("confidence intervals overlap");
    expect(screen.getByRole("tab", { name: "Overall" })).toHaveAttribute("aria-selected", "true");
    expect(screen.getAllByRole("tab").map((t) => t.textContent)).toEqual([
      "Overall",
      "Math",
      "Code",
      "Knowledge",
      "Reasoning",
      "Reading",
      "Truthfulness",
      "Translation",
    ]);

    await user.click(screen.getByRole("tab", { name: "Math" }));
    await waitFor(() => expect(calls.some((c) => c.url === "/api/v1/leaderboards?domain=math")).toBe(true));
    expect(screen.getByRole("tab", { name: "Math" })).toHaveAttribute("aria-selected", "true");

    await user.selectOptions(screen.getByLabelText("Size"), "1-4b");
    await waitFor(() =>
      expect(calls.some((c) => c.url === "/api/v1/leaderboards?domain=math&min_params=1000000000&max_params=4000000000")).toBe(true),
    );
    await waitFor(() => expect(screen.getByRole("option", { name: "Tiny base" })).toBeInTheDocument());
    await user.selectOptions(screen.getByLabelText("Base model"), "2");
    await waitFor(() => expect(calls.some((c) => c.url.includes("base_model_id=2"))).toBe(true));
  });
});

describe("model benchmarks section", () => {
  it("shows the radar, the domain scores and the per-task table of the latest final evaluation", async () => {
    stubFetch((c) => {
      if (c.url === "/api/v1/models/5/scores") return json(SCORES);
      if (c.url.startsWith("/api/v1/evaluations?")) return json({ items: [makeEvaluation()], total: 1 });
      return notFound();
    });
    renderWithProviders(<ModelBenchmarks modelId={5} modelName="tiny-chat" baseName="Tiny base" />);
    await waitFor(() => expect(screen.getAllByTestId("task-row").length).toBeGreaterThan(0));
    expect(await screen.findByTestId("domain-radar")).toBeInTheDocument();
    expect(screen.getAllByTestId("domain-score")).toHaveLength(4);
    // Main metrics first: the secondary gsm8k metric is one click away.
    expect(screen.getAllByTestId("task-row")).toHaveLength(4);
    await userEvent.setup().click(screen.getByTestId("all-metrics"));
    expect(screen.getAllByTestId("task-row")).toHaveLength(5);
    expect(screen.getByText(/against the base model Tiny base/)).toBeInTheDocument();
  });

  it("names the engine recorded with the measured evaluation's settings", async () => {
    const measured = makeEvaluation({ settings: { ...makeEvaluation().settings, backend: "vllm" } });
    stubFetch((c) => {
      if (c.url === "/api/v1/models/5/scores") return json({ ...SCORES, evaluation: { ...SCORES.evaluation, ...measured, rows: SCORES.evaluation?.rows } });
      if (c.url.startsWith("/api/v1/evaluations?")) return json({ items: [measured], total: 1 });
      return notFound();
    });
    renderWithProviders(<ModelBenchmarks modelId={5} modelName="tiny-chat" baseName="Tiny base" />);
    expect(await screen.findByText(/\(quick, on vLLM\)/)).toBeInTheDocument();
  });

  it("evaluates on request, follows the progress every poll and shows the scores once final", async () => {
    const user = userEvent.setup();
    let gets = 0;
    let done = false;
    const calls = stubFetch((c) => {
      if (c.url === "/api/v1/models/5/scores") return done ? json(SCORES) : notFound();
      if (c.url.startsWith("/api/v1/evaluations?")) return json({ items: [], total: 0 });
      if (c.url === "/api/v1/evaluations" && c.method === "POST")
        return json(makeEvaluation({ id: 12, status: "running", progress: 0, rows: [], finished_at: null }), 202);
      if (c.url === "/api/v1/evaluations/12") {
        gets += 1;
        if (gets >= 2) done = true;
        return json(
          done
            ? makeEvaluation({ id: 12 })
            : makeEvaluation({ id: 12, status: "running", progress: 0.4, progress_message: "gsm8k 40/100", rows: [], finished_at: null }),
        );
      }
      return notFound();
    });
    renderWithProviders(<ModelBenchmarks modelId={5} modelName="tiny-chat" />);
    expect(await screen.findByTestId("no-scores")).toHaveTextContent("Not evaluated yet");
    await user.click(screen.getByTestId("evaluate"));
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.body).toEqual({ model: "5", mode: "quick" });
    await waitFor(() => expect(screen.getByRole("progressbar", { name: "Evaluation progress" })).toHaveAttribute("aria-valuenow", "40"));
    expect(screen.getByText("gsm8k 40/100")).toBeInTheDocument();
    expect(screen.getByTestId("evaluate")).toBeDisabled();
    await waitFor(() => expect(screen.getAllByTestId("task-row").length).toBeGreaterThan(0), { timeout: 6000 });
    expect(screen.queryByTestId("evaluation-progress")).toBeNull();
    expect(screen.getByTestId("evaluate")).toBeEnabled();
  }, 10_000);

  it("marks a partial evaluation: its rows are listed apart and never used as the scores", async () => {
    const partial = makeEvaluation({ id: 13, status: "partial", rows: [makeRow({ status: "partial", task: "mmlu", domain: "knowledge" })] });
    stubFetch((c) => {
      if (c.url === "/api/v1/models/5/scores") return notFound();
      if (c.url.startsWith("/api/v1/evaluations?")) return json({ items: [partial], total: 1 });
      if (c.url === "/api/v1/evaluations" && c.method === "POST") return json(partial, 202);
      if (c.url === "/api/v1/evaluations/13") return json(partial);
      return notFound();
    });
    renderWithProviders(<ModelBenchmarks modelId={5} modelName="tiny-chat" />);
    await userEvent.setup().click(await screen.findByTestId("evaluate"));
    expect(await screen.findByTestId("evaluation-outcome")).toHaveAttribute("data-status", "partial");
    const row = await screen.findByTestId("task-row");
    expect(row).toHaveAttribute("data-status", "partial");
    expect(within(row).getByTestId("row-status")).toHaveTextContent("Partial");
    expect(screen.queryByTestId("domain-radar")).toBeNull();
  });
});

describe("run page", () => {
  it("shows the trained model's evaluation as it really stands, with a link to the scores", async () => {
    const states = [
      { state: "queued", text: "Evaluation on all domains queued" },
      { state: "running", text: "Evaluating on all domains… 40%", progress: 0.4, progress_message: "boolq (2 of 5)" },
      { state: "paused", text: "Evaluation paused for higher-priority work", progress: 0.2 },
      { state: "done", text: "Evaluated on all domains (5 benchmark tasks)", progress: 1 },
      { state: "failed", text: "The evaluation failed: The model cannot be evaluated", error: "The model cannot be evaluated" },
    ] as const;
    for (const s of states) {
      const evaluation = { id: 3, model_id: 5, tasks: 5, domains: ["math", "code"], all_domains: true, progress: null, progress_message: null, error: null, ...s };
      stubFetch((c) =>
        c.url === "/api/v1/runs/7"
          ? json(makeRun({ status: "succeeded", training_outcome: "success", output_model_id: 5, evaluation }))
          : notFound(),
      );
      const { unmount } = renderAt("/hub/runs/:id", "/hub/runs/7", <RunPage />);
      const status = await screen.findByTestId("evaluation-status");
      expect(status).toHaveAttribute("data-state", s.state);
      expect(status).toHaveTextContent(s.text);
      if (s.state === "done") expect(within(status).getByTestId("evaluation-scores-link")).toHaveAttribute("href", "/hub/models/5");
      if (s.state !== "done") expect(status).not.toHaveTextContent("See the scores");
      unmount();
    }
  });

  it("names the domains of an evaluation that measured only some", async () => {
    const evaluation = { id: 3, model_id: 5, state: "done" as const, tasks: 1, domains: ["reading"], all_domains: false, progress: 1, progress_message: null, error: null };
    stubFetch((c) =>
      c.url === "/api/v1/runs/7" ? json(makeRun({ status: "succeeded", training_outcome: "success", output_model_id: 5, evaluation })) : notFound(),
    );
    renderAt("/hub/runs/:id", "/hub/runs/7", <RunPage />);
    expect(await screen.findByTestId("evaluation-status")).toHaveTextContent("Evaluated on the reading domain (1 benchmark task).");
  });

  it("claims no evaluation when none was queued (automatic evaluation off)", async () => {
    stubFetch((c) =>
      c.url === "/api/v1/runs/7" ? json(makeRun({ status: "succeeded", training_outcome: "success", output_model_id: 5, evaluation: null })) : notFound(),
    );
    renderAt("/hub/runs/:id", "/hub/runs/7", <RunPage />);
    await screen.findByTestId("run-outcome");
    expect(screen.queryByTestId("evaluation-status")).toBeNull();
    expect(screen.queryByText(/Evaluating on all domains/)).toBeNull();
  });

  it("says nothing about evaluation while the run is live", async () => {
    stubFetch((c) => (c.url === "/api/v1/runs/7" ? json(makeRun()) : notFound()));
    renderAt("/hub/runs/:id", "/hub/runs/7", <RunPage />);
    await screen.findByTestId("run-status");
    expect(screen.queryByTestId("evaluation-status")).toBeNull();
  });
});
