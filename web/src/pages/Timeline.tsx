import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { useInfiniteQuery } from "@tanstack/react-query";
import { GanttChart } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { EventLine } from "@/components/EventLine";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { EventKindSelect, ModelTypeSelect, StatusSelect } from "@/components/EnumSelect";
import { Skeleton } from "@/components/ui/skeleton";
import { api } from "@/lib/api";
import { ENTRY_STATUS_LABEL, EVENT_KIND_LABEL, MODEL_TYPE_LABEL, parseEnum } from "@/lib/enums";
import { formatMonth } from "@/lib/format";
import type { TimelineMonth } from "@/lib/types";


export default function Timeline() {
  const [params, setParams] = useSearchParams();
  const kind = params.get("kind") ?? "";
  const status = params.get("status") ?? "";
  const modelType = params.get("model_type") ?? "";
  const setParam = (k: string, v: string) =>
    setParams((prev) => {
      const p = new URLSearchParams(prev);
      if (v) p.set(k, v);
      else p.delete(k);
      return p;
    });

  const one = <T,>(v: T | undefined): T[] | undefined => (v === undefined ? undefined : [v]);
  const query = {
    kind: one(parseEnum(EVENT_KIND_LABEL, kind)),
    status: one(parseEnum(ENTRY_STATUS_LABEL, status)),
    model_type: one(parseEnum(MODEL_TYPE_LABEL, modelType)),
    limit: 50,
  };
  const { data, isLoading, fetchNextPage, hasNextPage, isFetchingNextPage } = useInfiniteQuery({
    queryKey: ["timeline", query],
    queryFn: ({ pageParam, signal }) => api.get("/timeline", { query: { ...query, before: pageParam ?? undefined }, signal }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });

  // Pages may split a month: merge months with the same key, keeping order.
  const months = useMemo(() => {
    const out: TimelineMonth[] = [];
    for (const page of data?.pages ?? []) {
      for (const m of page.months) {
        const last = out[out.length - 1];
        if (last && last.month === m.month) out[out.length - 1] = { ...last, events: [...last.events, ...m.events] };
        else out.push(m);
      }
    }
    return out;
  }, [data]);

  return (
    <div>
      <PageHeader title="Timeline" description="Everything you did with your models, month by month." />
      <div className="mb-6 flex flex-wrap gap-2" role="group" aria-label="Timeline filters">
        <EventKindSelect aria-label="Event kind" empty="All events" value={query.kind?.[0] ?? ""} onValueChange={(v) => setParam("kind", v)} />
        <StatusSelect aria-label="Status" empty="Any status" value={query.status?.[0] ?? ""} onValueChange={(v) => setParam("status", v)} />
        <ModelTypeSelect aria-label="Model type" empty="All types" value={query.model_type?.[0] ?? ""} onValueChange={(v) => setParam("model_type", v)} />
      </div>
      {isLoading && <Skeleton className="h-64" />}
      {!isLoading && months.length === 0 && (
        <EmptyState icon={GanttChart} title="No events">
          <p>Nothing happened that matches these filters.</p>
        </EmptyState>
      )}
      <div className="grid gap-8">
        {months.map((m) => (
          <section key={m.month} aria-labelledby={`m-${m.month}`} data-testid="timeline-month">
            <h2 id={`m-${m.month}`} className="sticky top-14 z-10 mb-2 flex items-baseline gap-2 bg-background/90 py-2 backdrop-blur">
              <span className="text-lg font-semibold tracking-tight">{formatMonth(m.month)}</span>
              <span className="text-sm text-muted-foreground">
                {m.count} {m.count === 1 ? "event" : "events"}
              </span>
            </h2>
            <Card className="divide-y px-4">
              {m.events.map((ev) => (
                <EventLine key={ev.id} ev={ev} />
              ))}
            </Card>
          </section>
        ))}
      </div>
      {hasNextPage && (
        <div className="mt-6 flex justify-center">
          <Button variant="outline" onClick={() => fetchNextPage()} disabled={isFetchingNextPage}>
            {isFetchingNextPage ? "Loading…" : "Load more"}
          </Button>
        </div>
      )}
    </div>
  );
}
