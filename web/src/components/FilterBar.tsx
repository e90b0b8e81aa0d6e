import { useEffect, useState } from "react";
import { ArrowDownWideNarrow, ArrowUpNarrowWide, Search, X } from "lucide-react";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/select";
import { Button } from "@/components/ui/button";
import { TagInput } from "./TagInput";
import { ENTRY_STATUS_LABEL, MODEL_TYPE_LABEL, parseEnum } from "@/lib/enums";
import { ModelTypeSelect, SortSelect, StatusSelect } from "@/components/EnumSelect";
import { activeFilterCount, useEntryFilters } from "@/lib/filters";
import type { Facets } from "@/lib/types";
import type { TagOut } from "@/lib/types";

function countOf(facets: Facets | null | undefined, key: keyof Facets, value: string): string {
  const n = facets?.[key]?.find((f) => f.value === value)?.count;
  return n === undefined ? "" : ` (${n})`;
}

/** Status, type, tags, date range, text, sort — every change is written to the URL query string. */
export function FilterBar({ facets, suggestTags }: { facets?: Facets | null; suggestTags?: (q: string) => Promise<TagOut[]> }) {
  const { filters, update, reset } = useEntryFilters();
  const [text, setText] = useState(filters.q);

  useEffect(() => setText(filters.q), [filters.q]);
  useEffect(() => {
    if (text === filters.q) return;
    const t = setTimeout(() => update({ q: text }, { replace: true }), 300);
    return () => clearTimeout(t);
  }, [text, filters.q, update]);

  const active = activeFilterCount(filters);
  return (
    <section aria-label="Filters" className="flex flex-col gap-3 rounded-lg border bg-card p-3 shadow-xs">
      <div className="flex flex-wrap items-center gap-2">
        <div className="relative min-w-48 flex-1">
          <Search className="pointer-events-none absolute left-2.5 top-2.5 size-4 text-muted-foreground" aria-hidden />
          <Input
            aria-label="Filter by text"
            placeholder="Filter by name, notes, tags…"
            value={text}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => e.key === "Enter" && update({ q: text })}
            className="pl-8"
          />
        </div>
        <StatusSelect
          aria-label="Status"
          empty="All statuses"
          value={parseEnum(ENTRY_STATUS_LABEL, filters.status[0]) ?? ""}
          onValueChange={(v) => update({ status: v ? [v] : [] })}
          extra={(s) => countOf(facets, "status", s)}
        />
        <ModelTypeSelect
          aria-label="Model type"
          empty="All types"
          value={parseEnum(MODEL_TYPE_LABEL, filters.model_type[0]) ?? ""}
          onValueChange={(v) => update({ model_type: v ? [v] : [] })}
          extra={(t) => countOf(facets, "model_type", t)}
        />
        <div className="flex items-center gap-1">
          <SortSelect aria-label="Sort by" value={filters.sort} onValueChange={(v) => v && update({ sort: v })} />
          <Button
            variant="outline"
            size="icon"
            aria-label={filters.order === "asc" ? "Ascending order (switch to descending)" : "Descending order (switch to ascending)"}
            title={filters.order === "asc" ? "Ascending" : "Descending"}
            onClick={() => update({ order: filters.order === "asc" ? "desc" : "asc" })}
          >
            {filters.order === "asc" ? <ArrowUpNarrowWide aria-hidden /> : <ArrowDownWideNarrow aria-hidden />}
          </Button>
        </div>
      </div>
      <div className="flex flex-wrap items-center gap-2">
        <TagInput
          label="Filter by tags"
          placeholder="Filter by tags…"
          value={filters.tag}
          onChange={(tag) => update({ tag })}
          suggest={suggestTags}
          className="min-w-56 flex-1"
        />
        {filters.tag.length > 1 && (
          <NativeSelect aria-label="Tag match" value={filters.tag_mode} onChange={(e) => update({ tag_mode: e.target.value as "any" | "all" })}>
            <option value="any">any tag</option>
            <option value="all">all tags</option>
          </NativeSelect>
        )}
        <label className="flex items-center gap-1.5 text-sm text-muted-foreground">
          From
          <Input type="date" aria-label="Interacted from" value={filters.date_from} onChange={(e) => update({ date_from: e.target.value })} className="w-auto" />
        </label>
        <label className="flex items-center gap-1.5 text-sm text-muted-foreground">
          to
          <Input type="date" aria-label="Interacted to" value={filters.date_to} onChange={(e) => update({ date_to: e.target.value })} className="w-auto" />
        </label>
        {active > 0 && (
          <Button variant="ghost" size="sm" onClick={reset}>
            <X aria-hidden /> Clear filters ({active})
          </Button>
        )}
      </div>
    </section>
  );
}
