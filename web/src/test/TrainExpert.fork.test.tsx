// Expert mode opened with ?fork=<model id>: prefilled from GET /models/{id}/fork-template, LoRA shape locked, the
// launch records the parent; "Start from scratch instead" leaves the fork.
import { afterEach, describe, expect, it, vi } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { renderWithProviders } from "@/test/render";
import { OPTIONS } from "@/test/hubFixtures";
import Train from "@/pages/hub/Train";
import TrainExpert from "@/pages/hub/TrainExpert";

const TEMPLATE = {
  parent: { id: 12, name: "Support bot" },
  base_model: "tiny",
  base_model_id: 1,
  parent_model_id: 12,
  dataset_id: 4,
  preset: "quick",
  mode: "expert",
  config: { r: 4, alpha: 8, learning_rate: 0.002, max_steps: 12 },
  locked: ["r", "alpha", "target_modules", "use_dora", "use_rslora"],
  name: "Support bot (fork)",
  adapter_available: true,
  unavailable_reason: null,
};

type Call = { method: string; url: string; body: unknown };

function mockApi() {
  const calls: Call[] = [];
  const json = (data: unknown, status = 200) => new Response(JSON.stringify(data), { status, headers: { "Content-Type": "application/json" } });
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      const method = init?.method ?? "GET";
      const body = init?.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ method, url, body });
      if (url.startsWith("/api/v1/training/options")) return json(OPTIONS);
      if (url.startsWith("/api/v1/base-models"))
        return json([
          { id: 1, key: "tiny", name: "Tiny toy Llama", toy: true, available: true, gated: false, default_target_modules: [] },
          { id: 2, key: "other", name: "Other", toy: false, available: true, gated: false, default_target_modules: [] },
        ]);
      if (url.startsWith("/api/v1/datasets"))
        return json({
          items: [
            { id: 3, name: "Other data", rows: 10 },
            { id: 4, name: "Support chats", rows: 40 },
          ],
          total: 2,
          limit: 200,
          offset: 0,
        });
      if (url === "/api/v1/models/12/fork-template") return json(TEMPLATE);
      if (url === "/api/v1/models/99/fork-template") return json({ error: { code: "not_found", message: "No such model visible to you." } }, 404);
      if (url.startsWith("/api/v1/advisor")) return json({ similar: [], warnings: [] });
      if (url === "/api/v1/runs" && method === "POST") return json({ id: 77, status: "queued" }, 202);
      return json({ error: { code: "not_found", message: "no" } }, 404);
    }),
  );
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe("TrainExpert with ?fork=", () => {
  it("fills in the parent's base, data, preset, config and name; locks the LoRA shape; launches with the parent", async () => {
    const calls = mockApi();
    renderWithProviders(<TrainExpert />, { route: "/hub/train/expert?fork=12" });
    expect(await screen.findByTestId("fork-parent")).toHaveTextContent("Support bot");
    await waitFor(() => expect(screen.getByLabelText("Name of your model")).toHaveValue("Support bot (fork)"));
    expect(screen.getByLabelText("Base model")).toHaveValue("tiny");
    expect(screen.getByLabelText("Dataset")).toHaveValue("4");
    expect(screen.getByLabelText("Start from")).toHaveValue("quick");
    expect(screen.getByLabelText(/^LoRA rank/)).toHaveValue(4);
    expect(screen.getByLabelText(/^LoRA rank/)).toBeDisabled();
    expect(screen.getByLabelText(/^LoRA alpha/)).toBeDisabled();
    expect(screen.getByLabelText(/^Learning rate/)).toBeEnabled();
    expect(screen.getByLabelText(/^Max steps/)).toHaveValue(12);
    expect(screen.getByTestId("fork-banner")).toHaveTextContent("r, alpha, target_modules, use_dora, use_rslora");

    await userEvent.click(screen.getByTestId("launch"));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url === "/api/v1/runs")).toBe(true));
    const body = calls.find((c) => c.method === "POST" && c.url === "/api/v1/runs")!.body as Record<string, unknown>;
    expect(body).toMatchObject({ base_model: "tiny", dataset_id: 4, preset: "quick", parent_model_id: 12, name: "Support bot (fork)", mode: "expert" });
    const config = body.config as Record<string, unknown>;
    expect(config).not.toHaveProperty("r"); // locked fields are the parent's: never sent as overrides
    expect(config).not.toHaveProperty("alpha");
    expect(config.learning_rate).toBe(0.002);
    expect(config.max_steps).toBe(12);
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/hub/runs/77"));
  });

  it("leaves the fork on 'Start from scratch instead'", async () => {
    const calls = mockApi();
    renderWithProviders(<TrainExpert />, { route: "/hub/train/expert?fork=12" });
    await waitFor(() => expect(screen.getByLabelText("Name of your model")).toHaveValue("Support bot (fork)"));
    await userEvent.click(screen.getByRole("link", { name: "Start from scratch instead" }));
    await waitFor(() => expect(screen.queryByTestId("fork-banner")).toBeNull());
    expect(screen.getByLabelText("Name of your model")).toHaveValue("");
    await waitFor(() => expect(screen.getByLabelText(/^LoRA rank/)).toBeEnabled());
    await userEvent.click(screen.getByTestId("launch"));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url === "/api/v1/runs")).toBe(true));
    expect(calls.find((c) => c.method === "POST" && c.url === "/api/v1/runs")!.body).not.toHaveProperty("parent_model_id");
  });

  it("says why a model cannot be forked", async () => {
    mockApi();
    renderWithProviders(<TrainExpert />, { route: "/hub/train/expert?fork=99" });
    expect(await screen.findByText(/This model cannot be forked: No such model visible to you\./)).toBeInTheDocument();
  });

  it("the guided builder hands a fork over to expert mode", async () => {
    mockApi();
    renderWithProviders(<Train />, { route: "/hub/train?fork=12" });
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/hub/train/expert?fork=12"));
  });
});
