// The lineage graph (@xyflow/react): base → fine-tunes → forks, datasets as nodes, per-domain score deltas on the
// model edges; a click on a node opens its page. @xyflow is heavy: this module is loaded lazily (model page, lineage).
import { useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router";
import {
  Background,
  BaseEdge,
  Controls,
  EdgeLabelRenderer,
  getBezierPath,
  getSmoothStepPath,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Edge,
  type EdgeProps,
  type Node,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { domainLabel, formatScore } from "@/lib/bench";
import type { DeltaItem, LineageOut, LineageNodeOut } from "@/lib/modelPage";
import { deltaItems } from "@/lib/modelPage";
import { EDGE_STYLE, layoutLineage, NODE_STYLE, nodeHref, trainedOn } from "@/lib/modelPageLineage";
import { cn } from "@/lib/utils";

type LineageNodeData = { node: LineageNodeOut; focus: boolean; compact: boolean; datasets: string[] };
type LineageFlowNode = Node<LineageNodeData, "lineage">;

/** Follows the `dark` class on <html> (the theme menu and the screenshot helper both set it). */
function useDarkClass(): boolean {
  const [dark, setDark] = useState(() => document.documentElement.classList.contains("dark"));
  useEffect(() => {
    const obs = new MutationObserver(() => setDark(document.documentElement.classList.contains("dark")));
    obs.observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
    return () => obs.disconnect();
  }, []);
  return dark;
}

function topScores(scores: LineageNodeOut["scores"], max = 3): [string, number][] {
  return Object.entries(scores ?? {})
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .sort((a, b) => a[0].localeCompare(b[0]))
    .slice(0, max);
}

function LineageNodeView({ data }: NodeProps<LineageFlowNode>) {
  const { node, focus, compact, datasets } = data;
  const style = NODE_STYLE[node.type] ?? NODE_STYLE.external;
  const scores = compact ? [] : topScores(node.scores);
  const href = nodeHref(node);
  return (
    <div
      className={cn(
        "w-[200px] rounded-lg border-2 px-3 py-2 text-left text-xs shadow-sm",
        style.className,
        href && "cursor-pointer",
        focus && "ring-2 ring-primary ring-offset-2 ring-offset-background",
      )}
      data-testid="lineage-node"
      data-node-id={node.id}
      data-node-type={node.type}
      data-focus={focus || undefined}
      title={href ? `Open ${node.label}` : node.label}
    >
      <Handle type="target" position={Position.Left} className="!size-1.5 !min-h-0 !min-w-0 !border-0 !bg-muted-foreground/60" isConnectable={false} />
      {node.type !== "dataset" && (
        // Training data comes in from the top, model links from the left: the two kinds of edge never share a line.
        <Handle id="data" type="target" position={Position.Top} className={cn("!size-1.5 !min-h-0 !min-w-0 !border-0 !bg-amber-500", datasets.length === 0 && "!opacity-0")} isConnectable={false} />
      )}
      <p className="text-[10px] font-medium uppercase tracking-wide opacity-70">
        {style.label}
        {node.outcome && node.outcome !== "success" ? ` · ${node.outcome}` : ""}
      </p>
      <p className="truncate text-sm font-semibold" data-testid="lineage-node-label">
        {node.label}
      </p>
      {node.owner && !compact && <p className="truncate opacity-70">by {node.owner}</p>}
      {datasets.length > 0 && (
        <p className="truncate opacity-80" data-testid="lineage-node-data" title={`Trained on ${datasets.join(", ")}`}>
          data: {datasets.join(", ")}
        </p>
      )}
      {scores.length > 0 && (
        <p className="mt-1 flex flex-wrap gap-x-2 tabular-nums opacity-80">
          {scores.map(([d, v]) => (
            <span key={d}>
              {domainLabel(d)} {formatScore(v)}
            </span>
          ))}
        </p>
      )}
      <Handle type="source" position={Position.Right} className="!size-1.5 !min-h-0 !min-w-0 !border-0 !bg-muted-foreground/60" isConnectable={false} />
    </div>
  );
}

type DeltaEdgeData = { kind: string; items: DeltaItem[]; title: string; compact: boolean };
type DeltaFlowEdge = Edge<DeltaEdgeData, "delta">;

const MAX_DELTAS = 4;

/**
 * A model link: a smooth-step edge with its per-domain score changes in a small box at its middle (green up, red
 * down). A dataset link: a dotted curve into the model's top, labelled "trained on".
 */
function DeltaEdgeView({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, style, markerEnd, data }: EdgeProps<DeltaFlowEdge>) {
  const isData = data?.kind === "data";
  const [path, labelX, labelY] = isData
    ? getBezierPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition })
    : getSmoothStepPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition });
  const items = data?.items ?? [];
  return (
    <>
      <BaseEdge id={id} path={path} style={style} markerEnd={markerEnd} />
      {isData && data && !data.compact && (
        <EdgeLabelRenderer>
          <div
            className="nodrag nopan absolute rounded-full border border-amber-400/70 bg-background/95 px-1.5 text-[10px] leading-4 text-amber-800 shadow-sm dark:text-amber-300"
            // Just above the arrow into the model's top: clear of the score boxes on the model links between columns.
            style={{ transform: `translate(-50%, -100%) translate(${targetX}px, ${targetY - 12}px)` }}
            data-testid="edge-data-label"
            data-edge-id={id}
            title={data.title}
          >
            trained on
          </div>
        </EdgeLabelRenderer>
      )}
      {data && !data.compact && items.length > 0 && (
        <EdgeLabelRenderer>
          <div
            className="nodrag nopan absolute rounded-md border bg-background/95 px-1.5 py-1 text-[10px] leading-tight shadow-sm tabular-nums"
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
            data-testid="edge-deltas"
            data-edge-id={id}
            title={`Score change vs the source model: ${data.title}`}
          >
            {items.slice(0, MAX_DELTAS).map((d) => (
              <div
                key={d.domain}
                className={cn(
                  "flex justify-between gap-2 whitespace-nowrap",
                  d.tone === "up" && "text-emerald-700 dark:text-emerald-400",
                  d.tone === "down" && "text-red-700 dark:text-red-400",
                  d.tone === "flat" && "text-muted-foreground",
                )}
                data-tone={d.tone}
              >
                <span>{d.label}</span>
                <span className="font-medium">{d.text}</span>
              </div>
            ))}
            {items.length > MAX_DELTAS && <div className="text-muted-foreground">+{items.length - MAX_DELTAS} more</div>}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

const nodeTypes = { lineage: LineageNodeView };
const edgeTypes = { delta: DeltaEdgeView };

export interface LineageGraphProps {
  graph: LineageOut;
  /** Small, non-interactive-ish version for the model page (no controls, no zoom on scroll, no scores). */
  compact?: boolean;
  height?: number;
  className?: string;
}

export function LineageGraph({ graph, compact = false, height = 520, className }: LineageGraphProps) {
  const navigate = useNavigate();
  const dark = useDarkClass();
  const { nodes, edges } = useMemo(() => {
    const layout = layoutLineage(graph);
    const data = trainedOn(graph);
    const labels = new Map(graph.nodes.map((n) => [n.id, n.label]));
    const nodes: LineageFlowNode[] = layout.nodes.map((p) => ({
      id: p.node.id,
      type: "lineage",
      position: { x: p.x, y: p.y },
      data: { node: p.node, focus: graph.focus === p.node.id, compact, datasets: data.get(p.node.id) ?? [] },
      draggable: false,
      connectable: false,
    }));
    const edges: DeltaFlowEdge[] = layout.edges.map(({ edge, label }) => {
      const style = EDGE_STYLE[edge.type] ?? EDGE_STYLE.finetune;
      return {
        id: edge.id,
        source: edge.source,
        target: edge.target,
        type: "delta",
        targetHandle: edge.type === "data" ? "data" : undefined,
        data: {
          kind: edge.type,
          items: edge.type === "data" ? [] : deltaItems(edge.deltas),
          title: edge.type === "data" ? `${labels.get(edge.source) ?? "Dataset"} trained ${labels.get(edge.target) ?? "this model"}` : label,
          compact,
        },
        className: `lineage-edge lineage-edge-${edge.type}`,
        style: { stroke: style.stroke, strokeWidth: style.width, strokeDasharray: style.dash },
        markerEnd: { type: MarkerType.ArrowClosed, color: style.stroke, width: 16, height: 16 },
        focusable: false,
      };
    });
    return { nodes, edges };
  }, [graph, compact]);

  return (
    <div
      className={cn("overflow-hidden rounded-md border bg-background", className)}
      style={{ height }}
      data-testid={compact ? "lineage-mini" : "lineage-graph"}
      data-nodes={nodes.length}
      data-edges={edges.length}
    >
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        colorMode={dark ? "dark" : "light"}
        fitView
        fitViewOptions={{ padding: 0.15, maxZoom: compact ? 0.9 : 1.2 }}
        minZoom={0.1}
        maxZoom={2}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={!compact}
        zoomOnScroll={!compact}
        preventScrolling={!compact}
        proOptions={{ hideAttribution: true }}
        onNodeClick={(_, n) => {
          const href = nodeHref(n.data.node);
          if (href) navigate(href);
        }}
      >
        <Background gap={24} size={1} />
        {!compact && <Controls showInteractive={false} />}
      </ReactFlow>
    </div>
  );
}

export default LineageGraph;
