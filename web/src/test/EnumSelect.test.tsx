import { describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ModelTypeSelect, RunStatusSelect, StatusSelect } from "@/components/EnumSelect";
import { ENTRY_STATUS_LABEL, enumLabel, parseEnum } from "@/lib/enums";

const options = (select: HTMLElement) =>
  within(select)
    .getAllByRole("option")
    .map((o) => [(o as HTMLOptionElement).value, o.textContent]);

describe("enum selects", () => {
  it("lists the statuses in order with their labels, after the empty option", () => {
    render(<StatusSelect aria-label="Status" empty="All statuses" value="" onValueChange={() => {}} />);
    expect(options(screen.getByLabelText("Status"))).toEqual([
      ["", "All statuses"],
      ["wishlist", "Wishlist"],
      ["tried", "Tried"],
      ["studied", "Studied"],
      ["using", "Using"],
      ["archived", "Archived"],
    ]);
  });

  it("has no empty option unless asked and shows model types as spelled", () => {
    render(<ModelTypeSelect aria-label="Type" value="Vision" onValueChange={() => {}} />);
    const select = screen.getByLabelText("Type") as HTMLSelectElement;
    expect(options(select).map(([v]) => v)).toEqual(["LLM", "Vision", "Audio", "Embedding", "Multimodal", "Other"]);
    expect(select.value).toBe("Vision");
  });

  it("reports the chosen value, '' for the empty option, and shows extras after labels", async () => {
    const onValueChange = vi.fn();
    render(<RunStatusSelect aria-label="Run status" empty="Any status" value="" onValueChange={onValueChange} extra={(s) => (s === "failed" ? " (3)" : null)} />);
    const select = screen.getByLabelText("Run status");
    expect(within(select).getByRole("option", { name: "Failed (3)" })).toBeInTheDocument();
    await userEvent.selectOptions(select, "failed");
    expect(onValueChange).toHaveBeenLastCalledWith("failed");
  });

  it("parses untrusted strings into enum values and labels unknown ones as they are", () => {
    expect(parseEnum(ENTRY_STATUS_LABEL, "using")).toBe("using");
    expect(parseEnum(ENTRY_STATUS_LABEL, "toString")).toBeUndefined();
    expect(parseEnum(ENTRY_STATUS_LABEL, null)).toBeUndefined();
    expect(enumLabel(ENTRY_STATUS_LABEL, "tried")).toBe("Tried");
    expect(enumLabel(ENTRY_STATUS_LABEL, "retired")).toBe("retired");
  });
});
