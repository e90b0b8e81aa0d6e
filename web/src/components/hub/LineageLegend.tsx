// The lineage graph's legend: node colours by type and edge styles by link kind (light module, no @xyflow).
import { EDGE_STYLE, NODE_STYLE } from "@/lib/modelPageLineage";
import { cn } from "@/lib/utils";

/** What the colours and line styles mean. */
export function LineageLegend() {
  return (
    <div className="flex flex-wrap items-center gap-x-4 gap-y-2 text-xs text-muted-foreground" data-testid="lineage-legend">
      {Object.entries(NODE_STYLE).map(([k, s]) => (
        <span key={k} className="inline-flex items-center gap-1.5">
          <span className={cn("inline-block size-3 rounded-sm", s.swatch)} aria-hidden />
          {s.label}
        </span>
      ))}
      {Object.entries(EDGE_STYLE).map(([k, s]) => (
        <span key={k} className="inline-flex items-center gap-1.5">
          <svg width="28" height="8" aria-hidden>
            <line x1="0" y1="4" x2="28" y2="4" stroke={s.stroke} strokeWidth={s.width} strokeDasharray={s.dash} />
          </svg>
          {s.label}
        </span>
      ))}
      <span>Model links carry the score change vs the source model, in percentage points (pp); a dataset's dotted line enters the top of each model trained on it.</span>
    </div>
  );
}
