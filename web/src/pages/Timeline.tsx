import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { useInfiniteQuery } from "@tanstack/react-query";
import { GanttChart } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { EventLine } from "@/components/EventLine";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { NativeSelect } from "@/components/ui/select";
import { Skeleton } from "@/components/ui/skeleton";
import { api } from "@/lib/api";
import { EVENT_LABEL, MODEL_TYPES, STATUSES, STATUS_LABEL } from "@/lib/constants";
import { formatMonth } from "@/lib/format";
import type { TimelineMonth, TimelinePage } from "@/lib/types";

const KINDS = ["added", "status_changed", "note_added", "note_edited", "rated", "updated", "deleted"];

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

  const query = { kind, status, model_type: modelType, limit: 50 };
  const { data, isLoading, fetchNextPage, hasNextPage, isFetchingNextPage } = useInfiniteQuery({
    queryKey: ["timeline", query],
    queryFn: ({ pageParam, signal }) => api.get<TimelinePage>("/timeline", { ...query, before: pageParam ?? undefined }, signal),
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
        <NativeSelect aria-label="Event kind" value={kind} onChange={(e) => setParam("kind", e.target.value)}>
          <option value="">All events</option>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {EVENT_LABEL[k]}
            </option>
          ))}
        </NativeSelect>
        <NativeSelect aria-label="Status" value={status} onChange={(e) => setParam("status", e.target.value)}>
          <option value="">Any status</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABEL[s]}
            </option>
          ))}
        </NativeSelect>
        <NativeSelect aria-label="Model type" value={modelType} onChange={(e) => setParam("model_type", e.target.value)}>
          <option value="">All types</option>
          {MODEL_TYPES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </NativeSelect>
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
