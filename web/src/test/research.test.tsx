import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { AggregatesChart, MiniLossChart } from "@/components/hub/ResearchCharts";
import Changes from "@/pages/hub/Changes";
import { DOMAIN_COLOR, DOMAINS, domainColor, metricLabel } from "@/lib/bench";
import Museum from "@/pages/hub/Museum";
import Research from "@/pages/hub/Research";
import {
  advisorOverrides,
  advisorRequest,
  aggregateChart,
  categoryChips,
  categoryTitle,
  changeFilters,
  configSummary,
  drawableCurve,
  exportUrl,
  formatCell,
  formatP,
  modelHref,
  museumFilters,
  splitCard,
} from "@/lib/research";
import { draftFromValues, baseValues } from "@/lib/hubConfig";
import { renderWithProviders } from "./render";
import { OPTIONS } from "./hubFixtures";
import { AGGREGATES, CARD, CHANGES, makeMuseumItem, MUSEUM, ROWS } from "./researchFixtures";

afterEach(() => {
  vi.unstubAllGlobals();
});

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

type Call = { method: string; path: string; query: URLSearchParams; body: unknown };

function stubFetch(handler: (c: Call) => Response | undefined) {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(String(input), "http://localhost");
      const call = { method: init?.method ?? "GET", path: url.pathname.replace(/^\/api\/v1/, ""), query: url.searchParams, body: init?.body ? JSON.parse(String(init.body)) : undefined };
      calls.push(call);
      const resp = handler(call);
      if (resp) return resp;
      if (call.path === "/auth/state") return json({ mode: "accounts", signup_open: false, user: { id: 1, username: "local", is_admin: false } });
      if (call.path === "/base-models") return json([{ id: 1, key: "tiny", name: "Tiny base", available: true, toy: true }]);
      return json({ error: { code: "not_found", message: `no stub for ${call.path}` } }, 404);
    }),
  );
  return calls;
}

describe("research helpers", () => {
  it("summarises a config with short labels, learning rates in e-notation", () => {
    expect(configSummary({ learning_rate: 0.0002, r: 16, alpha: 32, epochs: 3, max_steps: 40, batch_size: 8, max_seq_length: 512, dropout: 0.1 })).toEqual([
      { key: "learning_rate", label: "lr", value: "2e-4" },
      { key: "r", label: "r", value: "16" },
      { key: "alpha", label: "alpha", value: "32" },
      { key: "epochs", label: "epochs", value: "3" },
      { key: "max_steps", label: "steps", value: "40" },
      { key: "batch_size", label: "batch", value: "8" },
      { key: "max_seq_length", label: "seq len", value: "512" },
    ]);
    expect(configSummary({ lr: 0.05 })).toEqual([{ key: "learning_rate", label: "lr", value: "0.05" }]);
    expect(configSummary(null)).toEqual([]);
  });

  it("lists category chips with runs, known ones first, then new categories", () => {
    expect(categoryChips({ overfitting: 2, diverged: 1, crashed: 0, mystery: 4 })).toEqual([
      { category: "diverged", count: 1 },
      { category: "overfitting", count: 2 },
      { category: "mystery", count: 4 },
    ]);
    expect(categoryChips(undefined)).toEqual([]);
  });

  it("keeps only drawable curve points (NaN and Inf cannot be plotted)", () => {
    const c = drawableCurve([{ step: 1, loss: 2 }, { step: 2, loss: Number.NaN, eval_loss: 3 }, { step: 3, loss: Number.POSITIVE_INFINITY }]);
    expect(c).toEqual([
      { step: 1, loss: 2, eval_loss: null },
      { step: 2, loss: null, eval_loss: 3 },
    ]);
  });

  it("reads filters out of the URL", () => {
    expect(museumFilters(new URLSearchParams("category=diverged&base=3&outcome=failure&q=%20nan%20"))).toEqual({
      category: "diverged",
      base_model_id: 3,
      outcome: "failure",
      q: "nan",
    });
    expect(museumFilters(new URLSearchParams("base=abc"))).toEqual({});
    expect(changeFilters(new URLSearchParams(""))).toEqual({ flagged: true });
    expect(changeFilters(new URLSearchParams("all=1&direction=down&domain=math"))).toEqual({ direction: "down", domain: "math" });
    expect(changeFilters(new URLSearchParams("direction=sideways"))).toEqual({ flagged: true });
  });

  it("formats p-values, cells and model links", () => {
    expect(formatP(0.0004)).toBe("p < 0.001");
    expect(formatP(0.004)).toBe("p < 0.01");
    expect(formatP(0.0312)).toBe("p = 0.031");
    expect(formatP(null)).toBe("");
    expect(formatCell(null)).toBe("—");
    expect(formatCell(0.123456)).toBe("0.1235");
    expect(formatCell(12)).toBe("12");
    expect(formatCell({ a: 1 })).toBe('{"a":1}');
    expect(modelHref({ id: 4, page_path: "/m/ana/x" })).toBe("/m/ana/x");
    expect(modelHref({ id: 4, page_path: "javascript:alert(1)" })).toBe("/hub/models/4");
    expect(modelHref(null)).toBeNull();
    expect(exportUrl("csv")).toBe("/api/v1/research/export?format=csv");
  });

  it("builds the aggregates chart: one group per training domain, cross-domain bars in points", () => {
    const { data, targets } = aggregateChart(AGGREGATES.by_training_domain);
    expect(targets).toEqual(["knowledge", "reasoning"]);
    expect(data).toEqual([{ training: "chat", reasoning: 4, knowledge: -3 }]);
    expect(aggregateChart(AGGREGATES.by_training_domain, false).data).toHaveLength(2);
  });

  it("splits a card's YAML header from its markdown body", () => {
    const parts = splitCard(CARD);
    expect(parts.yaml).toContain("dataset_info:");
    expect(parts.body.startsWith("# ModelMate research runs")).toBe(true);
    expect(splitCard("# Just markdown")).toEqual({ yaml: null, body: "# Just markdown" });
  });

  it("builds the advisor request: nothing without a base, empty parts left out", () => {
    expect(advisorRequest({ base: "" })).toBeNull();
    expect(advisorRequest({ base: "tiny", preset: "", datasetId: 0, config: { r: null } })).toEqual({ base_model: "tiny" });
    expect(advisorRequest({ base: "tiny", preset: "quick", datasetId: 5, config: { learning_rate: 0.05 } })).toEqual({
      base_model: "tiny",
      preset: "quick",
      dataset_id: 5,
      config: { learning_rate: 0.05 },
    });
  });

  it("sends the advisor only valid overrides of the preset", () => {
    const fields = OPTIONS.fields;
    const draft = draftFromValues(fields, baseValues(fields, { learning_rate: 0.0002 }));
    expect(advisorOverrides(fields, draft, { learning_rate: 0.0002 })).toEqual({});
    const changed = { ...draft, learning_rate: "0.005", r: "999", alpha: "64" };
    expect(advisorOverrides(fields, changed, { learning_rate: 0.0002 })).toEqual({ learning_rate: 0.005, alpha: 64 });
  });
});

describe("research charts", () => {
  it("draws a mini loss curve with train and eval lines", () => {
    const { container } = render(<MiniLossChart curve={drawableCurve(makeMuseumItem().curve)} width={320} />);
    expect(container.querySelectorAll(".recharts-line")).toHaveLength(2);
  });

  it("draws one bar series per target domain", () => {
    const { data, targets } = aggregateChart(AGGREGATES.by_training_domain);
    const { container } = render(<AggregatesChart data={data} targets={targets} width={480} />);
    expect(container.querySelectorAll(".recharts-bar")).toHaveLength(2);
  });
});

describe("failure museum page", () => {
  it("shows cards with category, error as text, config, curve and links; chips with counts filter", async () => {
    const calls = stubFetch((c) => (c.path === "/museum" ? json(c.query.get("category") === "no_learning" ? { ...MUSEUM, items: [MUSEUM.items[1]], total: 1 } : MUSEUM) : undefined));
    renderWithProviders(<Museum />, { route: "/hub/museum" });
    const cards = await screen.findAllByTestId("museum-card");
    expect(cards).toHaveLength(2);
    const first = cards[0];
    expect(within(first).getByTestId("museum-category")).toHaveTextContent("Training diverged");
    // Error text is inert: the markup is shown as text, not parsed.
    expect(within(first).getByTestId("museum-error")).toHaveTextContent("DivergedError: The loss became NaN at step 3. <b>bold</b>");
    expect(first.querySelector("b")).toBeNull();
    expect(within(first).getByTestId("museum-config")).toHaveTextContent("lr 0.05");
    expect(within(first).getByTestId("museum-curve")).toHaveAttribute("data-points", "2");
    expect(within(first).getByText(/1 non-finite/)).toBeInTheDocument();
    expect(within(first).getByTestId("museum-run-link")).toHaveAttribute("href", "/hub/runs/11");
    // A run trained elsewhere (SDK / Trainer callback) carries its badge; a native one none.
    expect(within(first).queryByTestId("run-source")).toBeNull();
    expect(within(cards[1]).getByTestId("run-source")).toHaveTextContent("External");
    // Another user's public run: their verdict is shown, no controls; its model links to the model page.
    expect(within(cards[1]).queryByTestId("run-feedback")).toBeNull();
    // A run that finished but did not learn shows its diagnosis, not "Succeeded · Success".
    expect(within(cards[1]).getByTestId("museum-diagnosis")).toHaveTextContent("The model did not learn");
    expect(within(cards[1]).queryByTestId("run-status")).toBeNull();
    expect(within(cards[1]).queryByText("Success")).toBeNull();
    expect(within(first).getByTestId("museum-diagnosis")).toHaveTextContent("Training diverged");
    expect(within(cards[1]).getByTestId("feedback-readonly")).toHaveTextContent("did nothing");
    expect(within(cards[1]).getByRole("link", { name: /flat/ })).toHaveAttribute("href", "/m/someone-else/flat");

    const chips = screen.getAllByTestId("category-chip");
    expect(chips.map((c) => c.textContent)).toEqual(["All2", "Training diverged1", "The model did not learn1"]);
    expect(categoryChips({ uncategorized: 3 }).map((c) => categoryTitle(c.category))).toEqual(["No category"]);
    await userEvent.click(chips[2]);
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/hub/museum?category=no_learning"));
    await waitFor(() => expect(screen.getAllByTestId("museum-card")).toHaveLength(1));
    expect(calls.some((c) => c.path === "/museum" && c.query.get("category") === "no_learning")).toBe(true);
    expect(screen.getAllByTestId("category-chip")[2]).toHaveAttribute("aria-pressed", "true");

    await userEvent.selectOptions(screen.getByLabelText("Base model"), "1");
    await waitFor(() => expect(calls.some((c) => c.path === "/museum" && c.query.get("base_model_id") === "1")).toBe(true));
  });

  it("saves thumbs and a comment with PUT /runs/{id}/feedback", async () => {
    const calls = stubFetch((c) => {
      if (c.path === "/museum") return json({ ...MUSEUM, items: [MUSEUM.items[0]], total: 1 });
      if (c.method === "PUT" && c.path === "/runs/11/feedback") return json({ run_id: 11, status: "failed" });
      if (c.method === "DELETE" && c.path === "/runs/11/feedback") return new Response(null, { status: 204 });
      return undefined;
    });
    renderWithProviders(<Museum />, { route: "/hub/museum" });
    const card = await screen.findByTestId("museum-card");
    const save = within(card).getByTestId("feedback-save");
    expect(save).toBeDisabled();
    await userEvent.click(within(card).getByTestId("thumbs-down"));
    await waitFor(() => expect(calls.filter((c) => c.method === "PUT")).toHaveLength(1));
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({ value: -1, comment: null });
    expect(within(card).getByTestId("thumbs-down")).toHaveAttribute("aria-pressed", "true");
    await userEvent.type(within(card).getByTestId("feedback-comment"), "lr far too high");
    await userEvent.click(within(card).getByTestId("feedback-save"));
    await waitFor(() => expect(calls.filter((c) => c.method === "PUT")).toHaveLength(2));
    expect(calls.filter((c) => c.method === "PUT")[1].body).toEqual({ value: -1, comment: "lr far too high" });
    await userEvent.click(within(card).getByTestId("feedback-clear"));
    await waitFor(() => expect(calls.some((c) => c.method === "DELETE" && c.path === "/runs/11/feedback")).toBe(true));
    await waitFor(() => expect(within(card).getByTestId("thumbs-down")).toHaveAttribute("aria-pressed", "false"));
    expect(within(card).getByTestId("feedback-comment")).toHaveValue("");
  });

  it("has an empty state and an error state", async () => {
    stubFetch((c) => (c.path === "/museum" ? json({ items: [], total: 0, counts: {} }) : undefined));
    const { unmount } = renderWithProviders(<Museum />, { route: "/hub/museum" });
    expect(await screen.findByTestId("empty-state")).toHaveTextContent("The museum is empty");
    unmount();
    stubFetch((c) => (c.path === "/museum" ? json({ error: { code: "boom", message: "database is sad" } }, 400) : undefined));
    renderWithProviders(<Museum />, { route: "/hub/museum" });
    expect(await screen.findByRole("alert")).toHaveTextContent("database is sad");
  });
});

describe("domain colours and metric labels", () => {
  it("gives each of the seven domains its own colour, from one definition", () => {
    const colours = DOMAINS.map((d) => domainColor(d).toLowerCase());
    expect(new Set(colours).size).toBe(DOMAINS.length);
    expect(DOMAINS.map((d) => DOMAIN_COLOR[d])).toEqual(DOMAINS.map((d) => domainColor(d)));
  });

  it("names lm-eval metrics for people", () => {
    expect(metricLabel("acc,none")).toBe("accuracy");
    expect(metricLabel("acc_norm,none")).toBe("normalised accuracy");
    expect(metricLabel("exact_match,strict-match")).toBe("exact match (strict-match)");
    expect(metricLabel("chrf,none")).toBe("chrF");
    expect(metricLabel("pass@1,create_test")).toBe("pass@1 (create_test)");
    expect(metricLabel(null)).toBe("");
  });
});

describe("capability changes page", () => {
  it("lists flagged changes with sentences and model links, filters, and shows the aggregates", async () => {
    const calls = stubFetch((c) => {
      if (c.path === "/capability-changes") return json(c.query.get("direction") === "down" ? { items: [CHANGES.items[1]], total: 1 } : CHANGES);
      if (c.path === "/capability-changes/aggregates") return json(AGGREGATES);
      return undefined;
    });
    renderWithProviders(<Changes />, { route: "/hub/changes" });
    const items = await screen.findAllByTestId("change-item");
    expect(items).toHaveLength(2);
    // One unit (pp) and human labels, not the server's mix of "%" and raw metric keys.
    expect(within(items[0]).getByTestId("change-sentence")).toHaveTextContent("Reasoning · arc_easy accuracy: +10.0 pp vs its base (30.0 → 40.0)");
    expect(within(items[0]).getByTestId("change-metric")).toHaveTextContent("arc_easy · accuracy");
    expect(screen.getByTestId("change-feed")).not.toHaveTextContent("%");
    expect(within(items[1]).getByTestId("change-sentence")).toHaveTextContent("Knowledge (domain mean): −6.0 pp vs its base");
    expect(within(items[0]).getByTestId("change-model-link")).toHaveAttribute("href", "/m/ana/support-bot");
    expect(within(items[0]).getByTestId("change-reference-link")).toHaveAttribute("href", "/hub/models/1");
    expect(items[0]).toHaveAttribute("data-direction", "up");
    expect(within(items[1]).getByText("domain average")).toBeInTheDocument();
    expect(calls.find((c) => c.path === "/capability-changes")?.query.get("flagged")).toBe("true");

    await userEvent.selectOptions(screen.getByLabelText("Direction"), "down");
    await waitFor(() => expect(screen.getAllByTestId("change-item")).toHaveLength(1));
    expect(screen.getByTestId("location")).toHaveTextContent("direction=down");

    await userEvent.click(screen.getByTestId("show-all"));
    await waitFor(() => expect(calls.some((c) => c.path === "/capability-changes" && !c.query.has("flagged"))).toBe(true));

    const agg = await screen.findByTestId("aggregates");
    expect(await within(agg).findByTestId("aggregates-chart")).toHaveAttribute("data-groups", "1");
    expect(within(agg).getAllByTestId("aggregate-row-training_domain")).toHaveLength(3);
    expect(within(agg).getAllByTestId("aggregate-row-base")).toHaveLength(1);
  });

  it("explains an empty feed", async () => {
    stubFetch((c) => {
      if (c.path === "/capability-changes") return json({ items: [], total: 0 });
      if (c.path === "/capability-changes/aggregates") return json({ by_training_domain: [], by_base: [] });
      return undefined;
    });
    renderWithProviders(<Changes />, { route: "/hub/changes" });
    expect(await screen.findByTestId("empty-state")).toHaveTextContent("No significant changes yet");
    expect(await screen.findByTestId("aggregates-empty")).toBeInTheDocument();
  });
});

describe("research page", () => {
  it("previews rows, describes every column, links the exports and renders the card inertly", async () => {
    stubFetch((c) => {
      if (c.path === "/research/rows") return json(ROWS);
      if (c.path === "/research/card") return new Response(CARD, { status: 200, headers: { "content-type": "text/markdown; charset=utf-8" } });
      return undefined;
    });
    renderWithProviders(<Research />, { route: "/hub/research" });
    const preview = await screen.findByTestId("research-preview");
    expect(within(preview).getAllByTestId("research-row")).toHaveLength(2);
    expect(preview).toHaveTextContent("<script>x</script>");
    expect(preview.querySelector("script")).toBeNull();
    expect(screen.getByTestId("export-parquet")).toHaveAttribute("href", "/api/v1/research/export?format=parquet");
    expect(screen.getByTestId("export-csv")).toHaveAttribute("href", "/api/v1/research/export?format=csv");
    expect(screen.getByTestId("export-jsonl")).toHaveAttribute("download");

    await userEvent.click(screen.getByRole("tab", { name: /Columns/ }));
    expect(await screen.findAllByTestId("research-column")).toHaveLength(4);
    await userEvent.type(screen.getByLabelText("Filter columns"), "score");
    expect(screen.getAllByTestId("research-column")).toHaveLength(1);

    await userEvent.click(screen.getByRole("tab", { name: /Dataset card/ }));
    expect(await screen.findByTestId("research-card-yaml")).toHaveTextContent("dataset_info:");
    expect(await screen.findByRole("heading", { name: "ModelMate research runs" })).toBeInTheDocument();
    expect(document.querySelector("[onerror]")).toBeNull();
  });
});
