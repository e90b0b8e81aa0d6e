import { Link } from "react-router";
import { StatusBadge } from "@/components/StatusBadge";
import type { CompareResult } from "@/lib/types";
import { formatDate, formatParams, formatValue } from "@/lib/format";
import { cn } from "@/lib/utils";

/** Fields whose values are ISO dates or timestamps: shown as "14 Mar 2026", never "2026-03-14T09:12:00Z". */
const DATE_FIELDS = new Set(["date_interacted", "created_at", "updated_at"]);

function cell(field: string, v: unknown): React.ReactNode {
  if (field === "parameters" && typeof v === "number") return formatParams(v);
  if (field === "rating" && typeof v === "number") return `${"★".repeat(v)} (${v})`;
  if (field === "status" && typeof v === "string" && v) return <StatusBadge status={v} />;
  if (DATE_FIELDS.has(field) && typeof v === "string" && v) {
    return (
      <time dateTime={v} title={v}>
        {formatDate(v)}
      </time>
    );
  }
  return formatValue(v);
}

/** Side-by-side comparison; rows whose values differ are highlighted (and can be shown alone). */
export function CompareTable({ data, onlyDiffs = false }: { data: CompareResult; onlyDiffs?: boolean }) {
  const rows = onlyDiffs ? data.fields.filter((f) => f.differs) : data.fields;
  return (
    <div className="overflow-x-auto rounded-lg border bg-card">
      <table className="w-full min-w-[36rem] text-sm" data-testid="compare-table">
        <thead>
          <tr className="border-b">
            <th scope="col" className="w-40 px-3 py-2 text-left text-xs font-medium uppercase tracking-wide text-muted-foreground">
              Field
            </th>
            {data.entries.map((e) => (
              <th key={e.id} scope="col" className="px-3 py-2 text-left font-semibold">
                <Link to={`/entries/${e.id}`} className="hover:underline">
                  {e.name}
                </Link>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((f) => (
            <tr
              key={f.field}
              data-field={f.field}
              data-differs={f.differs ? "true" : "false"}
              className={cn("border-b last:border-0", f.differs && "bg-amber-50/70 dark:bg-amber-400/10")}
            >
              <th scope="row" className="px-3 py-2 text-left align-top font-medium text-muted-foreground">
                {f.label}
                {f.differs && <span className="sr-only"> (differs)</span>}
              </th>
              {f.values.map((v, i) => (
                <td key={i} className={cn("px-3 py-2 align-top", f.differs && "font-medium")}>
                  <span className="line-clamp-4 whitespace-pre-wrap">{cell(f.field, v)}</span>
                </td>
              ))}
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={data.entries.length + 1} className="px-3 py-6 text-center text-muted-foreground">
                These models agree on every field.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
