import { describe, expect, it } from "vitest";
import { screen, within } from "@testing-library/react";
import { CompareTable } from "@/components/CompareTable";
import type { CompareResult } from "@/lib/types";
import { renderWithProviders } from "./render";
import { makeEntry } from "./fixtures";

const data: CompareResult = {
  entries: [makeEntry({ id: 1, name: "Alpha" }), makeEntry({ id: 2, name: "Beta" })],
  fields: [
    { field: "developer", label: "Developer", values: ["Meta", "Meta"], differs: false },
    { field: "parameters", label: "Parameters", values: [8_000_000_000, 70_000_000_000], differs: true },
    { field: "tags", label: "Tags", values: [["chat"], ["chat", "code"]], differs: true },
  ],
};

describe("CompareTable", () => {
  it("shows one column per model and highlights the rows that differ", () => {
    renderWithProviders(<CompareTable data={data} />);
    expect(screen.getByRole("link", { name: "Alpha" })).toHaveAttribute("href", "/entries/1");
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows.map((r) => r.getAttribute("data-differs"))).toEqual(["false", "true", "true"]);
    const params = rows[1];
    expect(params.className).toMatch(/bg-amber/);
    expect(rows[0].className).not.toMatch(/bg-amber/);
    expect(within(params).getByText("8B")).toBeInTheDocument();
    expect(within(params).getByText("70B")).toBeInTheDocument();
    expect(within(params).getByText(/differs/)).toBeInTheDocument(); // announced to screen readers
    expect(within(rows[2]).getByText("chat, code")).toBeInTheDocument();
  });

  it("formats dates and labels statuses instead of raw ISO strings and keys", () => {
    renderWithProviders(
      <CompareTable
        data={{
          entries: data.entries,
          fields: [
            { field: "status", label: "Status", values: ["using", "wishlist"], differs: true },
            { field: "date_interacted", label: "Last interacted", values: ["2026-03-14", null], differs: true },
            { field: "created_at", label: "Added", values: ["2026-02-01T09:30:00Z", "2026-02-02T10:00:00Z"], differs: true },
          ],
        }}
      />,
    );
    const table = screen.getByTestId("compare-table");
    expect(within(table).getByText("Using")).toHaveAttribute("data-status", "using");
    expect(within(table).getByText("Wishlist")).toBeInTheDocument();
    expect(table).not.toHaveTextContent(/\d{4}-\d{2}-\d{2}/);
    expect(table).not.toHaveTextContent("using");
    expect(table.querySelector('time[datetime="2026-03-14"]')).toHaveTextContent(/2026/);
  });

  it("can show only the differences", () => {
    renderWithProviders(<CompareTable data={data} onlyDiffs />);
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.getAttribute("data-differs") === "true")).toBe(true);
  });
});
