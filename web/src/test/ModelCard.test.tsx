import { describe, expect, it, vi } from "vitest";
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ModelCard } from "@/components/ModelCard";
import { renderWithProviders } from "./render";
import { makeEntry } from "./fixtures";

describe("ModelCard", () => {
  it("shows the essentials of an entry and links to its page", () => {
    renderWithProviders(<ModelCard entry={makeEntry()} />);
    const link = screen.getByRole("link", { name: "Llama 3.1 8B" });
    expect(link).toHaveAttribute("href", "/entries/1");
    expect(screen.getByText(/Meta/)).toBeInTheDocument();
    expect(screen.getByText("8B")).toBeInTheDocument();
    expect(screen.getByText("Using")).toHaveAttribute("data-status", "using");
    expect(screen.getByText("chat")).toBeInTheDocument();
    expect(screen.getByLabelText("rated 4 of 5")).toBeInTheDocument();
  });

  it("renders user text as text, never as HTML", () => {
    const { container } = renderWithProviders(
      <ModelCard entry={makeEntry({ name: "<img src=x onerror=alert(1)>", description: "<script>alert(1)</script>" })} />,
    );
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect(screen.getByText("<img src=x onerror=alert(1)>")).toBeInTheDocument();
  });

  it("offers a selection checkbox only when selectable", async () => {
    const onSel = vi.fn();
    const first = renderWithProviders(<ModelCard entry={makeEntry()} />);
    expect(screen.queryByRole("checkbox")).toBeNull();
    first.unmount();
    renderWithProviders(<ModelCard entry={makeEntry()} selected={false} onSelectedChange={onSel} />);
    await userEvent.click(screen.getByRole("checkbox", { name: "Select Llama 3.1 8B" }));
    expect(onSel).toHaveBeenCalledWith(true);
  });

  it("handles missing optional fields calmly", () => {
    renderWithProviders(<ModelCard entry={makeEntry({ developer: null, parameters: null, rating: null, tags: [], date_interacted: null })} />);
    expect(screen.getByText(/Unknown developer/)).toBeInTheDocument();
    expect(screen.getByText("—", { selector: "dd" })).toBeInTheDocument();
  });
});
