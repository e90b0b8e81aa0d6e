import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { ConfigTable, KeyNumbers, OutcomePanel, RunProgress, RunStatusBadge, SourceBadge } from "@/components/hub/RunPieces";
import RunPage from "@/pages/hub/RunPage";
import type { CurvePoint, RunOut } from "@/lib/types";
import { renderWithProviders } from "./render";
import { makeRun, OPTIONS } from "./hubFixtures";

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("run page pieces", () => {
  it("marks a run trained elsewhere as external (and a native one not at all)", () => {
    const { unmount } = render(<SourceBadge source="external" />);
    expect(screen.getByTestId("run-source")).toHaveTextContent("External");
    expect(screen.getByTestId("run-source")).toHaveAttribute("data-source", "external");
    unmount();
    render(<SourceBadge source="modelmate" />);
    expect(screen.queryByTestId("run-source")).toBeNull();
  });

  it("shows the step reached, the total and a progress bar while running", () => {
    render(<RunProgress run={makeRun()} />);
    expect(screen.getByTestId("run-step")).toHaveTextContent("Step 3 of 60");
    expect(screen.getByRole("progressbar", { name: "Training progress" })).toHaveAttribute("aria-valuenow", "5");
    expect(screen.getByText(/about .* left/)).toBeInTheDocument();
  });

  it("explains a queued run", () => {
    render(<RunProgress run={makeRun({ status: "queued", loss_curve: [] })} />);
    expect(screen.getByTestId("run-step")).toHaveTextContent("Step 0 of 60");
    expect(screen.getByText(/Waiting for the worker/)).toBeInTheDocument();
  });

  it("shows a queued run's place, what runs now (another user's job unnamed) and the wait", () => {
    const queue = {
      job_id: 11,
      status: "queued" as const,
      position: 3,
      ahead: 2,
      priority: 0,
      queued_since: "2026-03-14T02:51:00Z",
      paused: false,
      running: [{ kind: "train" as const, label: "another user's job", mine: false, background: false, progress: 0.5, progress_message: null, remaining_s: 95 }],
      next_up: [
        { kind: "train" as const, label: "my earlier run", mine: true, background: false, progress: null, progress_message: null, remaining_s: 40 },
        { kind: "evaluate" as const, label: "another user's job", mine: false, background: false, progress: null, progress_message: null, remaining_s: null },
      ],
      wait_s: 135,
      wait_is_minimum: true,
    };
    render(
      <MemoryRouter>
        <RunProgress run={makeRun({ status: "queued", loss_curve: [], started_at: null, queue })} />
      </MemoryRouter>,
    );
    const panel = screen.getByTestId("queue-panel");
    expect(screen.getByTestId("queue-position")).toHaveTextContent("Position 3 in the queue");
    expect(panel).toHaveTextContent("2 jobs ahead");
    expect(screen.getByTestId("queue-running")).toHaveTextContent("another user's job (training, 50%) · about 1 min 35 s left");
    expect(screen.getByTestId("queue-ahead")).toHaveTextContent("my earlier run (training) · about 40 s to run");
    expect(screen.getByTestId("queue-wait")).toHaveTextContent("Expected to start in at least 2 min 15 s.");
    expect(screen.getByTestId("queued-since")).toHaveTextContent("Queued since");
    expect(screen.queryByText(/Waiting for the worker/)).toBeNull();
  });

  it("computes live numbers from the curve, final numbers once finished", () => {
    const { unmount } = render(<KeyNumbers run={makeRun()} />);
    expect(screen.getByTestId("num-tps")).toHaveTextContent((1800).toLocaleString());
    expect(screen.getByTestId("num-loss")).toHaveTextContent("Train loss7.9");
    unmount();
    render(
      <KeyNumbers
        run={makeRun({ status: "succeeded", tokens_per_second: 9123.4, final_loss: 3.25, final_eval_loss: 3.5, peak_memory_bytes: 512 * 2 ** 20, train_seconds: 42 })}
      />,
    );
    expect(screen.getByTestId("num-tps")).toHaveTextContent((9123).toLocaleString());
    expect(screen.getByTestId("num-loss")).toHaveTextContent("Final train loss3.25");
    expect(screen.getByText("512.0 MB")).toBeInTheDocument();
    expect(screen.getByText("42 s")).toBeInTheDocument();
  });

  it("badges the status, and a requested cancel", () => {
    const { rerender } = render(<RunStatusBadge status="running" />);
    expect(screen.getByTestId("run-status")).toHaveTextContent("Running");
    rerender(<RunStatusBadge status="running" cancelling />);
    expect(screen.getByTestId("run-status")).toHaveTextContent("Cancelling…");
    rerender(<RunStatusBadge status="succeeded" cancelling />);
    expect(screen.getByTestId("run-status")).toHaveTextContent("Succeeded");
  });

  it("says nothing about the outcome while the run is live", () => {
    renderWithProviders(<OutcomePanel run={makeRun()} />);
    expect(screen.queryByTestId("run-outcome")).toBeNull();
  });

  it("shows a success with a link to the fine-tuned model", () => {
    renderWithProviders(<OutcomePanel run={makeRun({ status: "succeeded", training_outcome: "success", output_model_id: 5 })} />);
    expect(screen.getByTestId("run-outcome")).toHaveAttribute("data-outcome", "success");
    expect(screen.getByText("Training succeeded")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: /Open the fine-tuned model/ })).toHaveAttribute("href", "/hub/models/5");
  });

  it("explains a failure in plain words, with the technical detail tucked away", () => {
    renderWithProviders(
      <OutcomePanel
        run={makeRun({
          status: "failed",
          training_outcome: "failure",
          failure_category: "out_of_memory",
          failure_message: "The model ran out of memory at step 4.",
          error: { type: "OutOfMemoryError", message: "CUDA out of memory" },
        })}
      />,
    );
    expect(screen.getByText("Training failed")).toBeInTheDocument();
    expect(screen.getByTestId("failure-category")).toHaveTextContent("Out of memory");
    expect(screen.getByText(/Lower the batch size/)).toBeInTheDocument();
    expect(screen.getByTestId("failure-message")).toHaveTextContent("The model ran out of memory at step 4.");
    expect(screen.getByText("OutOfMemoryError: CUDA out of memory")).toBeInTheDocument();
    expect(screen.queryByTestId("output-model-link")).toBeNull();
  });

  it("shows a partial result of a cancelled run, with its model", () => {
    renderWithProviders(
      <OutcomePanel run={makeRun({ status: "cancelled", training_outcome: "partial", failure_category: "cancelled", output_model_id: 9 })} />,
    );
    expect(screen.getByText("Partial result")).toBeInTheDocument();
    expect(screen.getByTestId("failure-category")).toHaveTextContent("Cancelled");
    expect(screen.getByTestId("output-model-link")).toHaveAttribute("href", "/hub/models/9");
  });

  it("lists the config in the options' order with help texts and marks changed values", () => {
    render(<ConfigTable config={makeRun().config} fields={OPTIONS.fields} />);
    const rows = within(screen.getByTestId("config-table")).getAllByRole("row").slice(1);
    const names = rows.map((r) => within(r).getAllByRole("cell")[0].querySelector("code")!.textContent);
    expect(names).toEqual(["r", "alpha", "target_modules", "learning_rate", "max_steps", "batch_size", "packing"]);
    const lr = rows[names.indexOf("learning_rate")];
    expect(lr).toHaveTextContent("changed");
    expect(lr).toHaveTextContent("0.0003");
    expect(lr).toHaveTextContent(OPTIONS.fields.find((f) => f.name === "learning_rate")!.help);
    expect(rows[names.indexOf("r")]).not.toHaveTextContent("changed");
    expect(rows[names.indexOf("target_modules")]).toHaveTextContent("automatic");
  });
});

/** A fake API: the run gains a curve point at each GET and succeeds after `finishAfter` GETs. */
function fakeApi(finishAfter: number) {
  let gets = 0;
  const calls: { method: string; url: string }[] = [];
  const curve: CurvePoint[] = [{ step: 1, loss: 8.3, lr: 0.0001, tokens: 900, seconds: 0.5 }];
  let cancelled = false;
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? "GET";
    calls.push({ method, url });
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (url.startsWith("/api/v1/training/options")) return json(OPTIONS);
    if (url === "/api/v1/runs/7/cancel" && method === "POST") {
      cancelled = true;
      return json(makeRun({ loss_curve: [...curve], job: { ...makeRun().job!, cancel_requested: true } }));
    }
    if (url === "/api/v1/runs/7") {
      gets++;
      const done = gets > finishAfter;
      if (!done) curve.push({ step: curve.length + 1, loss: 8.3 - curve.length * 0.1, lr: 0.0002, tokens: 900 * (curve.length + 1), seconds: 0.5 * (curve.length + 1) });
      const run: RunOut = makeRun({
        loss_curve: [...curve],
        status: done ? "succeeded" : "running",
        training_outcome: done ? "success" : null,
        output_model_id: done ? 5 : null,
        job: { ...makeRun().job!, cancel_requested: cancelled },
      });
      return json(run);
    }
    return json({ error: { code: "not_found", message: "no such resource" } }, 404);
  });
  vi.stubGlobal("fetch", fn);
  return { fn, calls, runGets: () => calls.filter((c) => c.url === "/api/v1/runs/7" && c.method === "GET").length };
}

function renderRunPage() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={["/hub/runs/7"]}>
        <Routes>
          <Route path="/hub/runs/:id" element={<RunPage />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("run page", () => {
  it("polls every second while the run is live, the curve grows, and polling stops once it has finished", async () => {
    const api = fakeApi(2);
    renderRunPage();
    await waitFor(() => expect(screen.getByTestId("curve-points")).toHaveAttribute("data-count", "2"));
    expect(screen.getByTestId("run-status")).toHaveTextContent("Running");
    await waitFor(() => expect(screen.getByTestId("curve-points")).toHaveAttribute("data-count", "3"), { timeout: 3000 });
    expect(screen.getByTestId("run-step")).toHaveTextContent("Step 3 of 60");
    await waitFor(() => expect(screen.getByTestId("run-status")).toHaveTextContent("Succeeded"), { timeout: 3000 });
    expect(screen.getByTestId("run-outcome")).toHaveAttribute("data-outcome", "success");
    expect(screen.queryByTestId("cancel-run")).toBeNull();
    const after = api.runGets();
    await new Promise((r) => setTimeout(r, 1600));
    expect(api.runGets()).toBe(after);
  }, 10_000);

  it("says 'queued since' while queued, and 'started' only once it started", async () => {
    let started = false;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL) => {
        const url = String(input);
        const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
        if (url.startsWith("/api/v1/training/options")) return json(OPTIONS);
        if (url.endsWith("/curve-history")) return new Response("{}", { status: 404 });
        return json(
          started
            ? makeRun({ created_at: "2026-03-14T02:51:00Z", started_at: "2026-03-14T03:07:00Z" })
            : makeRun({ status: "queued", loss_curve: [], created_at: "2026-03-14T02:51:00Z", started_at: null }),
        );
      }),
    );
    const { unmount } = renderRunPage();
    const header = await screen.findByText(/queued since/);
    expect(header).not.toHaveTextContent("started");
    unmount();
    started = true;
    renderRunPage();
    expect(await screen.findByText(/started/)).not.toHaveTextContent("queued since");
  });

  it("cancels after a confirmation", async () => {
    const user = userEvent.setup();
    const api = fakeApi(1000);
    renderRunPage();
    await user.click(await screen.findByTestId("cancel-run"));
    const dialog = screen.getByRole("alertdialog");
    expect(dialog).toHaveTextContent("Cancel this run?");
    expect(api.calls.some((c) => c.method === "POST")).toBe(false);
    await user.click(within(dialog).getByRole("button", { name: "Cancel run" }));
    await waitFor(() => expect(api.calls.some((c) => c.method === "POST" && c.url === "/api/v1/runs/7/cancel")).toBe(true));
    await waitFor(() => expect(screen.getByTestId("cancel-run")).toHaveTextContent("Cancelling…"));
    expect(screen.getByTestId("cancel-run")).toBeDisabled();
  });
});
