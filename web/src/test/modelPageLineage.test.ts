import { describe, expect, it } from "vitest";
import type { LineageOut } from "@/lib/modelPage";
import { assignColumns, COLUMN_WIDTH, EDGE_STYLE, layoutLineage, nodeHref, trainedOn } from "@/lib/modelPageLineage";

// tiny (base) → A (fine-tune on d1) → B (fork of A, on d1) and C (fork of A, on d2); tiny → D (on d2).
const family: LineageOut = {
  focus: "m2",
  truncated: false,
  nodes: [
    { id: "m3", type: "finetuned", label: "B", model_id: 3, page_path: "/m/me/b", scores: { reasoning: 0.3 } },
    { id: "m1", type: "base", label: "tiny", model_id: 1, scores: { reasoning: 0.2 } },
    { id: "d1", type: "dataset", label: "chats", dataset_id: 1 },
    { id: "m2", type: "finetuned", label: "A", model_id: 2, page_path: "/m/me/a", scores: { reasoning: 0.25 } },
    { id: "m4", type: "finetuned", label: "C", model_id: 4, page_path: "/m/me/c" },
    { id: "d2", type: "dataset", label: "more", dataset_id: 2 },
    { id: "m5", type: "finetuned", label: "D", model_id: 5, page_path: "/m/me/d" },
  ],
  edges: [
    { id: "e-m1-m2", source: "m1", target: "m2", type: "finetune", deltas: { reasoning: 0.05, reading: -0.021 } },
    { id: "e-m2-m3", source: "m2", target: "m3", type: "fork", deltas: { reasoning: 0.05 } },
    { id: "e-m2-m4", source: "m2", target: "m4", type: "fork", deltas: {} },
    { id: "e-m1-m5", source: "m1", target: "m5", type: "finetune" },
    { id: "e-d1-m2", source: "d1", target: "m2", type: "data" },
    { id: "e-d1-m3", source: "d1", target: "m3", type: "data" },
    { id: "e-d2-m4", source: "d2", target: "m4", type: "data" },
    { id: "e-d2-m5", source: "d2", target: "m5", type: "data" },
  ],
};

describe("dataset links", () => {
  it("names the datasets each model was trained on", () => {
    const data = trainedOn(family);
    expect(data.get("m2")).toEqual(["chats"]);
    expect(data.get("m4")).toEqual(["more"]);
    expect(data.get("m1")).toBeUndefined();
  });

  it("draws dataset links unlike model links (colour and dash)", () => {
    const styles = [EDGE_STYLE.finetune, EDGE_STYLE.fork, EDGE_STYLE.data];
    expect(new Set(styles.map((s) => s.stroke)).size).toBe(3);
    expect(new Set(styles.map((s) => s.dash ?? "solid")).size).toBe(3);
  });
});

describe("assignColumns", () => {
  it("puts every model one column right of what it was trained from, datasets left of their first model", () => {
    const c = assignColumns(family);
    expect(c.get("m1")).toBe(0);
    expect(c.get("m2")).toBe(1);
    expect(c.get("m5")).toBe(1);
    expect(c.get("m3")).toBe(2);
    expect(c.get("m4")).toBe(2);
    expect(c.get("d1")).toBe(0); // first model on it (A) is in column 1
    expect(c.get("d2")).toBe(0); // D (column 1) before C (column 2)
  });

  it("shifts everything right when a dataset feeds a root model", () => {
    const c = assignColumns({
      nodes: [
        { id: "d9", type: "dataset", label: "x" },
        { id: "m9", type: "external", label: "lonely" },
      ],
      edges: [{ id: "e", source: "d9", target: "m9", type: "data" }],
    });
    expect(c.get("d9")).toBe(0);
    expect(c.get("m9")).toBe(1);
  });

  it("survives a cycle and edges to nodes it does not know", () => {
    const c = assignColumns({
      nodes: [
        { id: "m1", type: "finetuned", label: "a" },
        { id: "m2", type: "finetuned", label: "b" },
      ],
      edges: [
        { id: "x", source: "m1", target: "m2", type: "fork" },
        { id: "y", source: "m2", target: "m1", type: "fork" },
        { id: "z", source: "m404", target: "m1", type: "fork" },
      ],
    });
    expect([...c.keys()].sort()).toEqual(["m1", "m2"]);
  });
});

describe("layoutLineage", () => {
  it("places nodes on a grid without overlaps, x by column", () => {
    const { nodes, edges, columns } = layoutLineage(family);
    expect(columns).toBe(3);
    expect(nodes).toHaveLength(7);
    const spots = new Set(nodes.map((n) => `${n.x},${n.y}`));
    expect(spots.size).toBe(7);
    for (const n of nodes) expect(n.x).toBe(n.column * COLUMN_WIDTH);
    expect(edges).toHaveLength(8);
  });

  it("keeps forks in the order of their parents and datasets beside their models", () => {
    const { nodes } = layoutLineage(family);
    const row = (id: string) => nodes.find((n) => n.node.id === id)!.row;
    // Column 1: A (fed by tiny and d1) above D (fed by tiny and d2), as d1 sits above d2.
    expect(row("d1")).toBeLessThan(row("d2"));
    expect(row("m2")).toBeLessThan(row("m5"));
  });

  it("labels model edges with the largest deltas first and data edges with nothing", () => {
    const { edges } = layoutLineage(family);
    const label = (id: string) => edges.find((e) => e.edge.id === id)!.label;
    expect(label("e-m1-m2")).toBe("Reasoning +5.0 · Reading −2.1");
    expect(label("e-m2-m4")).toBe("");
    expect(label("e-d1-m2")).toBe("");
  });

  it("is deterministic whatever the input order", () => {
    const a = layoutLineage(family).nodes.map((n) => [n.node.id, n.x, n.y]).sort();
    const reversed = { ...family, nodes: [...family.nodes].reverse(), edges: [...family.edges].reverse() };
    const b = layoutLineage(reversed).nodes.map((n) => [n.node.id, n.x, n.y]).sort();
    expect(b).toEqual(a);
  });

  it("handles an empty graph", () => {
    expect(layoutLineage({ nodes: [], edges: [] })).toEqual({ nodes: [], edges: [], columns: 0 });
  });
});

describe("nodeHref", () => {
  it("prefers the hub page, then the catalog page, then the dataset page", () => {
    expect(nodeHref({ id: "m2", type: "finetuned", label: "A", model_id: 2, page_path: "/m/me/a" })).toBe("/m/me/a");
    expect(nodeHref({ id: "m1", type: "base", label: "tiny", model_id: 1 })).toBe("/hub/models/1");
    expect(nodeHref({ id: "d1", type: "dataset", label: "x", dataset_id: 1 })).toBe("/hub/datasets/1");
    expect(nodeHref({ id: "zz", type: "dataset", label: "x" })).toBeNull();
  });
});
