import { describe, expect, it } from "vitest";
import { render, screen, within } from "@testing-library/react";
import { CurveHistoryBody } from "@/components/hub/CurveHistory";
import { bandLegend, bandRows, sameDatasetLegend } from "@/lib/curveHistory";
import type { CurveHistoryOut } from "@/lib/types";

const band = [4, 8, 12, 16, 20].map((bucket, i) => ({
  bucket,
  step: 2 ** ((bucket + 0.5) / 4),
  step_from: Math.ceil(2 ** (bucket / 4)),
  step_to: Math.ceil(2 ** ((bucket + 1) / 4)) - 1,
  runs: 40 - i,
  p10: 1.0 - i * 0.1,
  p25: 1.2 - i * 0.1,
  median: 1.5 - i * 0.1,
  p75: 1.8 - i * 0.1,
  p90: 2.1 - i * 0.1,
}));

function makeHistory(over: Partial<CurveHistoryOut> = {}): CurveHistoryOut {
  return {
    run_id: 7,
    base_model_id: 1,
    x_axis: "training step, log scale",
    earlier_runs: 40,
    earlier_runs_more: false,
    band_runs: 40,
    band_cap: 1000,
    band,
    run: band.map((b) => ({ bucket: b.bucket, step: b.step, last_step: b.step_to, loss: b.p10 - 0.05 })),
    same_dataset: [
      {
        run_id: 3,
        name: "same data, lr 1e-4",
        status: "succeeded",
        outcome: "success",
        created_at: "2026-03-14T02:51:00Z",
        points: band.map((b) => ({ bucket: b.bucket, step: b.step, last_step: b.step_to, loss: b.median })),
      },
    ],
    verdict: {
      kind: "faster",
      sentence: "Learned faster than usual: at step 38 its loss 0.55 is lower than 100% of 36 earlier runs (median 1.1).",
      percentile: 100,
      compared_runs: 36,
      step: 38,
      loss: 0.55,
      median: 1.1,
    },
    ...over,
  };
}

describe("curve history", () => {
  it("draws the run over the band: two shaded ranges, the median, the same-dataset runs and the run itself", () => {
    const { container } = render(<CurveHistoryBody history={makeHistory()} chartWidth={640} />);
    return screen.findByTestId("curve-history-chart").then(async (chart) => {
      await within(chart).findByText("This run");
      expect(container.querySelectorAll(".recharts-area")).toHaveLength(2);
      // median + one same-dataset run + this run
      expect(container.querySelectorAll(".recharts-line")).toHaveLength(3);
      expect(screen.getByTestId("curve-verdict")).toHaveAttribute("data-kind", "faster");
      expect(screen.getByTestId("curve-verdict")).toHaveTextContent("Learned faster than usual");
      expect(screen.getByTestId("curve-history-legend")).toHaveTextContent(
        "The band is made of 40 earlier runs on this base model that you can see.",
      );
      expect(screen.getByTestId("curve-history-legend")).toHaveTextContent("1 earlier run on the same dataset");
      expect(screen.getByTestId("curve-history-legend")).toHaveTextContent("log scale");
    });
  });

  it("has the band as a table (the chart's text alternative)", () => {
    render(<CurveHistoryBody history={makeHistory()} chartWidth={640} />);
    const table = screen.getByTestId("curve-history-table");
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(1 + band.length);
    expect(within(rows[1]).getByRole("rowheader")).toHaveTextContent("2");
    expect(rows[5]).toHaveTextContent("32–38");
    expect(within(rows[1]).getAllByRole("cell").map((c) => c.textContent)).toEqual(["40", "1", "1.2", "1.5", "1.8", "2.1", "0.95"]);
  });

  it("says how many runs the band is made of when capped, and when there are too few", () => {
    expect(bandLegend(makeHistory({ earlier_runs: 23456, band_runs: 1000 }))).toBe(
      "The band is made of 1,000 earlier runs on this base model (the newest of 23,456 you can see).",
    );
    expect(bandLegend(makeHistory({ earlier_runs: 5000, earlier_runs_more: true, band_runs: 500 }))).toBe(
      "The band is made of 500 earlier runs on this base model (the newest of more than 5,000 you can see).",
    );
    expect(sameDatasetLegend(makeHistory({ same_dataset: [] }))).toBeNull();
    expect(bandRows(makeHistory())[0]).toMatchObject({ p25p75: [1.2, 1.8], p10p90: [1.0, 2.1], median: 1.5, runs: 40 });
    render(
      <CurveHistoryBody
        history={makeHistory({
          earlier_runs: 2,
          band_runs: 2,
          verdict: { kind: "too_few", sentence: "Too few earlier runs reached step 38 to tell.", percentile: null, compared_runs: 2 },
        })}
        chartWidth={640}
      />,
    );
    expect(screen.getByTestId("curve-verdict")).toHaveTextContent("Too few runs");
  });

  it("shows an empty state without history", () => {
    render(<CurveHistoryBody history={makeHistory({ earlier_runs: 0, band_runs: 0, band: [], same_dataset: [] })} />);
    expect(screen.getByTestId("curve-history-empty")).toHaveTextContent("No history yet");
    expect(screen.queryByTestId("curve-history-chart")).toBeNull();
  });
});
