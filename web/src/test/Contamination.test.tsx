import { describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ContaminatedToggle, ContaminationBadge, ContaminationReportView, contaminationBadge } from "@/components/hub/Contamination";
import type { ContaminationOut } from "@/client";

function check(over: Partial<ContaminationOut> = {}): ContaminationOut {
  return { dataset_id: 1, status: "done", contaminated: false, summary: "no overlap with any benchmark test set", domains: {}, tasks: [], can_check: true, rows_checked: 12, n: 13, ...over };
}

const dirty = check({
  contaminated: true,
  summary: "overlaps GSM8K test: 37 documents",
  tasks: [
    {
      task: "gsm8k", suite_task: "gsm8k", domain: "math", title: "GSM8K", rows: 40, documents: 37, total_documents: 1319, exact: 5,
      examples: [{ row: 3, row_text: "<img src=x onerror=alert(1)> Natalia sold clips", document_id: "test:0", document_text: "Natalia sold clips", kind: "exact", shared_ngrams: 0 }],
    },
  ],
});

describe("contamination badge", () => {
  it("says clean, overlapping, not checked or checking with progress", () => {
    expect(contaminationBadge(check()).label).toBe("Clean");
    expect(contaminationBadge(dirty)).toMatchObject({ label: "Overlaps GSM8K test: 37 documents", variant: "danger" });
    expect(contaminationBadge(check({ status: null })).label).toBe("Not checked");
    expect(contaminationBadge(undefined).label).toBe("Not checked");
    expect(contaminationBadge(check({ status: "running", progress: 0.4 })).label).toBe("Checking… 40 %");
    expect(contaminationBadge(check({ status: "unavailable", message: "no benchmark data" }))).toMatchObject({ variant: "warning", title: "no benchmark data" });
    render(<ContaminationBadge check={dirty} />);
    expect(screen.getByTestId("contamination-badge")).toHaveTextContent("Overlaps GSM8K test: 37 documents");
  });

  it("shows each overlapping row next to its test document, as inert text", () => {
    const { container } = render(<ContaminationReportView check={dirty} />);
    expect(screen.getByTestId("contamination-example")).toHaveTextContent("<img src=x onerror=alert(1)> Natalia sold clips");
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText(/37 of 1,?319 test documents/)).toBeInTheDocument();
  });
});

describe("leaderboard toggle", () => {
  it("says how many contaminated rows are hidden and turns them on", async () => {
    const onChange = vi.fn();
    const { rerender } = render(<ContaminatedToggle checked={false} hidden={2} onChange={onChange} />);
    expect(screen.getByTestId("hidden-contaminated")).toHaveTextContent("2 hidden");
    await userEvent.click(screen.getByRole("checkbox"));
    expect(onChange).toHaveBeenCalledWith(true);
    rerender(<ContaminatedToggle checked hidden={0} onChange={onChange} />);
    expect(screen.queryByTestId("hidden-contaminated")).toBeNull();
  });
});
