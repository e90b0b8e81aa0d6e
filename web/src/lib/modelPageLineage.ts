// Lineage graph layout (pure, no React): GET /lineage's nodes and edges → positions for @xyflow, left to right.
// Columns: a model sits one column right of the model it was trained from (base → fine-tune → fork); a dataset sits
// one column left of the first model trained on it. Within a column, nodes are ordered by the mean row of what they
// come from (one barycentre pass keeps edges short and mostly uncrossed), ties broken by id for stable output.
import type { LineageEdgeOut, LineageNodeOut, LineageOut } from "./modelPage";
import { deltaLabel } from "./modelPage";

/** Node width 200 + room between columns for the edge's delta label. */
export const COLUMN_WIDTH = 440;
/** A node with its scores is ~140 px tall. */
export const ROW_HEIGHT = 170;

export interface PlacedNode {
  node: LineageNodeOut;
  column: number;
  row: number;
  x: number;
  y: number;
}

export interface LaidOutEdge {
  edge: LineageEdgeOut;
  label: string;
}

export interface LineageLayout {
  nodes: PlacedNode[];
  edges: LaidOutEdge[];
  columns: number;
}

const MODEL_EDGES = new Set(["finetune", "fork"]);

function byId(a: string, b: string): number {
  // "m12" < "m100": numeric part compared as a number.
  const na = Number(a.slice(1));
  const nb = Number(b.slice(1));
  return a[0] === b[0] && Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a.localeCompare(b);
}

/** Columns of every node: the longest model chain leading to it; datasets one left of their first model. */
export function assignColumns(graph: Pick<LineageOut, "nodes" | "edges">): Map<string, number> {
  const ids = new Set(graph.nodes.map((n) => n.id));
  const edges = graph.edges.filter((e) => ids.has(e.source) && ids.has(e.target) && e.source !== e.target);
  const parents = new Map<string, string[]>();
  for (const e of edges) {
    if (!MODEL_EDGES.has(e.type)) continue;
    parents.set(e.target, [...(parents.get(e.target) ?? []), e.source]);
  }
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = column.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle (should never happen): cut it
    visiting.add(id);
    const ps = parents.get(id) ?? [];
    const d = ps.length ? Math.max(...ps.map(depth)) + 1 : 0;
    visiting.delete(id);
    column.set(id, d);
    return d;
  };
  const datasets = graph.nodes.filter((n) => n.type === "dataset");
  for (const n of graph.nodes) if (n.type !== "dataset") depth(n.id);
  for (const d of datasets) {
    const targets = edges.filter((e) => e.source === d.id).map((e) => column.get(e.target) ?? 0);
    column.set(d.id, targets.length ? Math.min(...targets) - 1 : 0);
  }
  // Shift so that the leftmost column is 0 (a dataset of a root model lands at -1).
  const min = Math.min(0, ...column.values());
  if (min < 0) for (const [k, v] of column) column.set(k, v - min);
  return column;
}

/** Place every node (x, y in pixels) and label every edge with its per-domain deltas. */
export function layoutLineage(graph: Pick<LineageOut, "nodes" | "edges">): LineageLayout {
  const column = assignColumns(graph);
  const ids = new Set(graph.nodes.map((n) => n.id));
  const columns = new Map<number, LineageNodeOut[]>();
  for (const n of graph.nodes) {
    const c = column.get(n.id) ?? 0;
    columns.set(c, [...(columns.get(c) ?? []), n]);
  }
  const incoming = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (!ids.has(e.source) || !ids.has(e.target)) continue;
    incoming.set(e.target, [...(incoming.get(e.target) ?? []), e.source]);
  }
  const outgoing = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (!ids.has(e.source) || !ids.has(e.target)) continue;
    outgoing.set(e.source, [...(outgoing.get(e.source) ?? []), e.target]);
  }
  const row = new Map<string, number>();
  const order = [...columns.keys()].sort((a, b) => a - b);
  const mean = (list: string[] | undefined) => {
    const placed = (list ?? []).map((s) => row.get(s)).filter((v): v is number => v !== undefined);
    return placed.length ? placed.reduce((a, b) => a + b, 0) / placed.length : null;
  };
  // Two sweeps: the first orders models by their parents; the second also puts each dataset beside its models.
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const c of order) {
      const list = columns.get(c)!;
      const keys = new Map(list.map((n) => [n.id, mean(incoming.get(n.id)) ?? mean(outgoing.get(n.id)) ?? Number.POSITIVE_INFINITY]));
      list.sort((a, b) => {
        const ka = keys.get(a.id)!;
        const kb = keys.get(b.id)!;
        if (ka !== kb) return ka === Number.POSITIVE_INFINITY ? 1 : kb === Number.POSITIVE_INFINITY ? -1 : ka - kb;
        return Number(a.type === "dataset") - Number(b.type === "dataset") || byId(a.id, b.id);
      });
      list.forEach((n, i) => row.set(n.id, i));
    }
  }
  const height = Math.max(1, ...[...columns.values()].map((l) => l.length));
  const nodes: PlacedNode[] = graph.nodes.map((n) => {
    const c = column.get(n.id) ?? 0;
    const count = columns.get(c)!.length;
    const r = row.get(n.id) ?? 0;
    const offset = (height - count) / 2; // centre short columns
    return { node: n, column: c, row: r, x: c * COLUMN_WIDTH, y: (r + offset) * ROW_HEIGHT };
  });
  const edges = graph.edges
    .filter((e) => ids.has(e.source) && ids.has(e.target))
    .map((e) => ({ edge: e, label: e.type === "data" ? "" : deltaLabel(e.deltas) }));
  return { nodes, edges, columns: order.length };
}

/** The node colour classes by type (Tailwind, light + dark). */
export const NODE_STYLE: Record<string, { label: string; className: string; swatch: string }> = {
  base: {
    label: "Base model",
    className: "border-sky-400 bg-sky-50 text-sky-950 dark:border-sky-600 dark:bg-sky-950 dark:text-sky-100",
    swatch: "bg-sky-400 dark:bg-sky-600",
  },
  finetuned: {
    label: "Fine-tune",
    className: "border-emerald-400 bg-emerald-50 text-emerald-950 dark:border-emerald-600 dark:bg-emerald-950 dark:text-emerald-100",
    swatch: "bg-emerald-400 dark:bg-emerald-600",
  },
  external: {
    label: "Catalog model",
    className: "border-zinc-300 bg-zinc-50 text-zinc-900 dark:border-zinc-600 dark:bg-zinc-900 dark:text-zinc-100",
    swatch: "bg-zinc-300 dark:bg-zinc-600",
  },
  dataset: {
    label: "Dataset",
    className: "border-amber-400 bg-amber-50 text-amber-950 dark:border-amber-600 dark:bg-amber-950 dark:text-amber-100",
    swatch: "bg-amber-400 dark:bg-amber-600",
  },
};

/**
 * Edge styles by link kind. Model links (base → fine-tune, parent → fork) are solid/dashed lines into a model's left
 * side; dataset links are dotted amber curves (the dataset nodes' colour) into the model's top, so the two never
 * merge into one line, and each is labelled.
 */
export const EDGE_STYLE: Record<string, { label: string; stroke: string; dash?: string; width: number }> = {
  finetune: { label: "Fine-tuned from base", stroke: "var(--chart-1)", width: 2 },
  fork: { label: "Forked from parent", stroke: "var(--chart-2)", dash: "6 4", width: 2 },
  data: { label: "Trained on dataset", stroke: "#d97706", dash: "2 4", width: 1.75 },
};

/** The datasets each model was trained on (labels, by the model's node id), from the graph's data edges. */
export function trainedOn(graph: Pick<LineageOut, "nodes" | "edges">): Map<string, string[]> {
  const label = new Map(graph.nodes.map((n) => [n.id, n.label]));
  const out = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (e.type !== "data" || !label.has(e.source) || !label.has(e.target)) continue;
    out.set(e.target, [...(out.get(e.target) ?? []), label.get(e.source)!]);
  }
  return out;
}

/** Where a click on a node goes: a model's page, a dataset's page, or nowhere. */
export function nodeHref(n: LineageNodeOut): string | null {
  if (n.page_path) return n.page_path;
  if (n.model_id) return `/hub/models/${n.model_id}`;
  if (n.dataset_id) return `/hub/datasets/${n.dataset_id}`;
  return null;
}
