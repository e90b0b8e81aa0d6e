import { describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { BaseModelCard, EstimateView, FitHint } from "@/components/hub/TrainPieces";
import { RecordView } from "@/pages/hub/DatasetPage";
import type { BaseModelOut } from "@/lib/types";

function model(over: Partial<BaseModelOut> = {}): BaseModelOut {
  return {
    id: 1,
    key: "tiny",
    name: "Tiny toy Llama (TOY)",
    developer: "ModelMate",
    parameters: 926_336,
    license: "apache-2.0",
    gated: false,
    toy: true,
    available: true,
    unavailable_reason: null,
    context_length: 512,
    description: "A toy.",
    ...over,
  };
}

describe("base model cards", () => {
  it("labels the toy model as a toy and selects it", async () => {
    const onSelect = vi.fn();
    render(<BaseModelCard model={model()} selected={false} onSelect={onSelect} />);
    expect(screen.getByTestId("toy-badge")).toHaveTextContent("toy");
    expect(screen.getByText(/will not learn anything useful/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("radio", { name: "Tiny toy Llama (TOY) (toy)" }));
    expect(onSelect).toHaveBeenCalledOnce();
  });

  it("marks gated models and explains why one cannot be used; it cannot be picked", async () => {
    const onSelect = vi.fn();
    render(
      <BaseModelCard
        model={model({ key: "llama-3.2-1b", name: "Llama 3.2 1B", toy: false, gated: true, available: false, unavailable_reason: "gated on Hugging Face: accept the license" })}
        selected={false}
        onSelect={onSelect}
      />,
    );
    expect(screen.queryByTestId("toy-badge")).toBeNull();
    expect(screen.getByText("gated")).toBeInTheDocument();
    expect(screen.getByTestId("unavailable")).toHaveTextContent("gated on Hugging Face: accept the license");
    const card = screen.getByRole("radio", { name: "Llama 3.2 1B" });
    expect(card).toHaveAttribute("aria-disabled", "true");
    await userEvent.click(card);
    expect(onSelect).not.toHaveBeenCalled();
  });
});

describe("estimate", () => {
  it("shows steps, tokens, memory, time, trainable parameters and the notes", () => {
    render(
      <EstimateView
        estimate={{
          steps: 60,
          epochs: 60,
          train_tokens: 176_040,
          epoch_tokens: 2934,
          tokens_per_step: 2934,
          trainable_parameters: 16384,
          peak_memory_bytes: 628_918_784,
          seconds: 27.1,
          device: "cpu",
          notes: ["This is the TOY model."],
          config: {},
        }}
      />,
    );
    const e = screen.getByTestId("estimate");
    expect(e).toHaveTextContent("Training steps60");
    // the whole run: 60 steps × 2,934 tokens (the data is seen 60 times), never just one pass
    expect(e).toHaveTextContent(`Tokens to train on${(176040).toLocaleString()}`);
    expect(e).toHaveTextContent(`${(2934).toLocaleString()} per step · ${(2934).toLocaleString()} per pass over the data`);
    expect(e).toHaveTextContent("16.4K");
    expect(e).toHaveTextContent("599.8 MB");
    expect(e).toHaveTextContent("~27 s");
    expect(screen.getByTestId("estimate-notes")).toHaveTextContent("This is the TOY model.");
  });
});

describe("estimate: will it fit", () => {
  const base = {
    steps: 30,
    epochs: 1,
    train_tokens: 60_000,
    epoch_tokens: 60_000,
    tokens_per_step: 2048,
    trainable_parameters: 13_631_488,
    seconds: 900,
    device: "cuda",
    notes: [],
    config: {},
  };

  it("warns clearly when the run will not fit, with the savers that make it fit and their peaks", () => {
    render(
      <EstimateView
        estimate={{
          ...base,
          peak_memory_bytes: 40 * 2 ** 30,
          memory: { runtime: 0.6 * 2 ** 30, weights: 30 * 2 ** 30, adapter: 0.2 * 2 ** 30, activations: 8 * 2 ** 30, logits: 1.2 * 2 ** 30, transients: 0 },
          device_memory_bytes: 24 * 2 ** 30,
          fits: false,
          note: "This run needs about 40.0 GiB of GPU memory but the worker's GPU has 24.0 GiB (21.6 GiB usable); it would likely run out of memory. It fits with 4-bit quantization (QLoRA).",
          savers: [
            { label: "4-bit quantization (QLoRA)", change: { quantization: "4bit" }, peak_memory_bytes: 14 * 2 ** 30, fits: true },
            { label: "gradient checkpointing", change: { gradient_checkpointing: true }, peak_memory_bytes: 31 * 2 ** 30, fits: false },
          ],
        }}
      />,
    );
    const warning = screen.getByRole("alert");
    expect(warning).toHaveAttribute("data-testid", "estimate-fit-warning");
    expect(warning).toHaveTextContent("Probably too big for the worker's memory");
    expect(warning).toHaveTextContent("needs about 40.0 GiB of GPU memory but the worker's GPU has 24.0 GiB");
    const savers = screen.getByTestId("estimate-savers");
    expect(savers).toHaveTextContent("4-bit quantization (QLoRA): needs 14.0 GB");
    expect(savers).not.toHaveTextContent("gradient checkpointing"); // only the savers that make it fit are listed
    expect(warning).toHaveTextContent("You can still launch it");
    const e = screen.getByTestId("estimate");
    expect(e).toHaveTextContent("of 24.0 GB on the worker");
    expect(e).toHaveTextContent(/weights 30\.0 GB · activations 8\.0 GB · logits/); // largest part first
  });

  it("puts a one-line warning next to the launch button only when the run will not fit", () => {
    const { rerender } = render(<FitHint estimate={{ ...base, peak_memory_bytes: 40 * 2 ** 30, fits: false, device_memory_bytes: 24 * 2 ** 30 }} />);
    expect(screen.getByTestId("launch-fit-warning")).toHaveTextContent("May not fit the worker's memory: needs ~40.0 GB of 24.0 GB");
    rerender(<FitHint estimate={{ ...base, peak_memory_bytes: 2 ** 30, fits: true, device_memory_bytes: 24 * 2 ** 30 }} />);
    expect(screen.queryByTestId("launch-fit-warning")).toBeNull();
    rerender(<FitHint estimate={null} />);
    expect(screen.queryByTestId("launch-fit-warning")).toBeNull();
  });

  it("shows no warning when the run fits or the device's memory is unknown", () => {
    const { rerender } = render(<EstimateView estimate={{ ...base, peak_memory_bytes: 2 ** 30, fits: true, device_memory_bytes: 24 * 2 ** 30 }} />);
    expect(screen.queryByTestId("estimate-fit-warning")).toBeNull();
    expect(screen.getByTestId("estimate")).toHaveTextContent("of 24.0 GB on the worker");
    rerender(<EstimateView estimate={{ ...base, peak_memory_bytes: 2 ** 30, fits: null, device_memory_bytes: null }} />);
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByTestId("estimate")).not.toHaveTextContent("on the worker");
  });
});

describe("dataset rows", () => {
  it("shows conversations and text as text, never as HTML", () => {
    const { container } = render(
      <>
        <RecordView record={{ messages: [{ role: "user", content: '<img src=x onerror="alert(1)">' }, { role: "assistant", content: "<b>hi</b>" }] }} />
        <RecordView record={{ text: "<script>alert(1)</script>" }} />
      </>,
    );
    expect(container.querySelector("img, b, script")).toBeNull();
    expect(screen.getByText('<img src=x onerror="alert(1)">')).toBeInTheDocument();
    expect(screen.getByText("<b>hi</b>")).toBeInTheDocument();
    expect(screen.getByText("<script>alert(1)</script>")).toBeInTheDocument();
    expect(screen.getByText("user")).toBeInTheDocument();
  });
});
