// The memory options: the four settings in expert mode's Advanced card (help text, choices), a combination the
// machine cannot run shown inline with the server's message, and guided mode's "Save memory (QLoRA)" choice, offered
// only when GET /training/options says the machine can run it, laid over the preset in the estimate and the launch.
import { afterEach, describe, expect, it, vi } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { renderWithProviders } from "@/test/render";
import { OPTIONS } from "@/test/hubFixtures";
import Train from "@/pages/hub/Train";
import TrainExpert from "@/pages/hub/TrainExpert";
import type { TrainingOptions } from "@/lib/types";

const SAVE = { quantization: "4bit", gradient_checkpointing: true, optimizer: "paged_adamw_8bit" };
const REFUSED_MESSAGE =
  "4-bit (QLoRA) quantization needs bitsandbytes working on the device: bitsandbytes is not installed. Choose quantization none (gradient checkpointing also saves memory), or install bitsandbytes on the worker.";
const NO_BNB: TrainingOptions = {
  ...OPTIONS,
  machine: { ...OPTIONS.machine, bitsandbytes: null, bitsandbytes_works: false },
  memory_modes: (OPTIONS.memory_modes ?? []).map((m) =>
    m.key === "save" ? { ...m, available: false, reason: "4-bit (QLoRA) quantization needs bitsandbytes working on the device: bitsandbytes is not installed." } : m,
  ),
};
const NO_BNB_UNAVAILABLE: TrainingOptions = {
  ...NO_BNB,
  unavailable: [{ field: "quantization", value: "4bit", code: "quantization_unavailable", message: REFUSED_MESSAGE, alternatives: ["none"] }],
};
const ESTIMATE = { steps: 30, epochs: 1, train_tokens: 1000, epoch_tokens: 1000, tokens_per_step: 33, trainable_parameters: 100, peak_memory_bytes: 1e9, seconds: 60, device: "cpu", notes: [], config: {} };

type Call = { method: string; url: string; body: Record<string, unknown> | undefined };

function mockApi(options: TrainingOptions, refuse = false) {
  const calls: Call[] = [];
  const json = (data: unknown, status = 200) => new Response(JSON.stringify(data), { status, headers: { "Content-Type": "application/json" } });
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      const method = init?.method ?? "GET";
      const body = init?.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ method, url, body });
      if (url.startsWith("/api/v1/training/options")) return json(options);
      if (url.startsWith("/api/v1/base-models"))
        return json([{ id: 1, key: "tiny", name: "Tiny toy Llama", toy: true, available: true, gated: false, default_target_modules: [] }]);
      if (url.startsWith("/api/v1/datasets"))
        return json({ items: [{ id: 4, name: "Support chats", rows: 40, format: "text" }], total: 1, limit: 200, offset: 0 });
      if (url.startsWith("/api/v1/advisor")) return json({ similar: [], warnings: [] });
      if (url === "/api/v1/training/estimate" && refuse)
        return json(
          {
            error: {
              code: "unsupported_config",
              message: REFUSED_MESSAGE,
              details: {
                errors: [{ field: "quantization", message: REFUSED_MESSAGE }],
                refusals: [{ field: "quantization", code: "quantization_unavailable", message: REFUSED_MESSAGE, alternatives: ["none"] }],
              },
            },
          },
          422,
        );
      if (url === "/api/v1/training/estimate") return json(ESTIMATE);
      if (url === "/api/v1/runs" && method === "POST") return json({ id: 77, status: "queued" }, 202);
      return json({ error: { code: "not_found", message: "no" } }, 404);
    }),
  );
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe("expert mode: the memory settings", () => {
  it("shows the four settings in the Advanced card with their help and choices", async () => {
    mockApi(OPTIONS);
    renderWithProviders(<TrainExpert />, { route: "/hub/train/expert?base=tiny&dataset=4&preset=quick" });
    const quantization = await screen.findByLabelText(/^Quantization/);
    const advanced = screen.getByRole("heading", { name: "Advanced" }).closest("div.rounded-lg") as HTMLElement;
    const basics = screen.getByRole("heading", { name: "Basics" }).closest("div.rounded-lg") as HTMLElement;
    expect(advanced).toContainElement(quantization);
    expect(basics).not.toContainElement(quantization);
    expect(within(quantization as HTMLElement).getAllByRole("option").map((o) => o.textContent)).toEqual(["none", "4bit", "8bit"]);
    expect(within(screen.getByLabelText(/^Attention kernel/)).getAllByRole("option").map((o) => o.textContent)).toEqual(["auto", "sdpa", "flash_attention_2", "eager"]);
    expect(within(screen.getByLabelText(/^Optimizer/)).getAllByRole("option").map((o) => o.textContent)).toEqual(["adamw", "adamw_8bit", "paged_adamw_8bit"]);
    expect(screen.getByLabelText(/^Gradient checkpointing/)).toBeInTheDocument();
    for (const name of ["quantization", "gradient_checkpointing", "attention", "optimizer"]) {
      const field = OPTIONS.fields.find((f) => f.name === name)!;
      expect(field.group).toBe("advanced");
      expect(screen.getByText(field.help, { exact: false })).toBeInTheDocument();
    }
  });

  it("shows the server's refusal next to the setting it names", async () => {
    const calls = mockApi(OPTIONS, true);
    renderWithProviders(<TrainExpert />, { route: "/hub/train/expert?base=tiny&dataset=4&preset=quick" });
    await userEvent.selectOptions(await screen.findByLabelText(/^Quantization/), "4bit");
    await userEvent.click(screen.getByTestId("estimate-button"));
    expect(await screen.findByTestId("error-quantization")).toHaveTextContent("Choose quantization none");
    const sent = calls.find((c) => c.url === "/api/v1/training/estimate")!.body!;
    expect(sent.config).toMatchObject({ quantization: "4bit" });
  });

  it("flags a choice the machine refuses as soon as it is picked", async () => {
    mockApi(NO_BNB_UNAVAILABLE);
    renderWithProviders(<TrainExpert />, { route: "/hub/train/expert?base=tiny&dataset=4&preset=quick" });
    const quantization = await screen.findByLabelText(/^Quantization/);
    expect(screen.queryByTestId("error-quantization")).toBeNull();
    await userEvent.selectOptions(quantization, "4bit");
    expect(await screen.findByTestId("error-quantization")).toHaveTextContent("Choose quantization none");
    await userEvent.selectOptions(quantization, "none");
    await waitFor(() => expect(screen.queryByTestId("error-quantization")).toBeNull());
  });
});

describe("guided mode: the memory choice", () => {
  it("offers saving memory when the machine can run it and lays its settings over the preset", async () => {
    const calls = mockApi(OPTIONS);
    renderWithProviders(<Train />, { route: "/hub/train?step=3&base=tiny&dataset=4&preset=quick" });
    const choice = await screen.findByTestId("memory-choice");
    expect(within(choice).getByTestId("memory-standard")).toHaveAttribute("aria-checked", "true");
    await userEvent.click(within(choice).getByTestId("memory-save"));
    expect(within(choice).getByTestId("memory-save")).toHaveAttribute("aria-checked", "true");
    await userEvent.click(screen.getByTestId("wizard-next"));
    expect(await screen.findByText("Save memory (QLoRA)")).toBeInTheDocument(); // in the review's summary
    await waitFor(() => expect(calls.some((c) => c.url === "/api/v1/training/estimate")).toBe(true));
    expect(calls.find((c) => c.url === "/api/v1/training/estimate")!.body).toMatchObject({ preset: "quick", config: SAVE });
    await userEvent.click(await screen.findByTestId("launch"));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url === "/api/v1/runs")).toBe(true));
    expect(calls.find((c) => c.method === "POST" && c.url === "/api/v1/runs")!.body).toMatchObject({ mode: "guided", preset: "quick", config: SAVE });
  });

  it("sends no overlay with the standard choice", async () => {
    const calls = mockApi(OPTIONS);
    renderWithProviders(<Train />, { route: "/hub/train?step=4&base=tiny&dataset=4&preset=quick" });
    await waitFor(() => expect(calls.some((c) => c.url === "/api/v1/training/estimate")).toBe(true));
    expect(calls.find((c) => c.url === "/api/v1/training/estimate")!.body).not.toHaveProperty("config");
  });

  it("does not offer it where the machine cannot run it, and says why", async () => {
    const calls = mockApi(NO_BNB);
    renderWithProviders(<Train />, { route: "/hub/train?step=3&base=tiny&dataset=4&preset=quick&memory=save" });
    expect(await screen.findByTestId("memory-unavailable")).toHaveTextContent("bitsandbytes is not installed");
    expect(screen.queryByTestId("memory-choice")).toBeNull();
    await userEvent.click(screen.getByTestId("wizard-next"));
    await waitFor(() => expect(calls.some((c) => c.url === "/api/v1/training/estimate")).toBe(true));
    // a stale ?memory=save in the URL is never sent to a machine that refuses it
    expect(calls.find((c) => c.url === "/api/v1/training/estimate")!.body).not.toHaveProperty("config");
  });
});
