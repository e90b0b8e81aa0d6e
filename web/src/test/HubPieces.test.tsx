import { describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { BaseModelCard, EstimateView } from "@/components/hub/TrainPieces";
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
