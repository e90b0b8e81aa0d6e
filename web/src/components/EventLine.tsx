import { Link } from "react-router";
import { Activity, CirclePlus, NotebookPen, Pencil, Star, Trash2, ArrowRightLeft } from "lucide-react";
import type { TimelineEvent } from "@/lib/types";
import { EVENT_LABEL, STATUS_LABEL } from "@/lib/constants";
import { formatDateTime } from "@/lib/format";
import { StatusBadge } from "./StatusBadge";

const ICON = {
  added: CirclePlus,
  status_changed: ArrowRightLeft,
  note_added: NotebookPen,
  note_edited: Pencil,
  rated: Star,
  updated: Pencil,
  deleted: Trash2,
} as const;

/** One activity event (dashboard recent activity, timeline). */
export function EventLine({ ev }: { ev: TimelineEvent }) {
  const Icon = ICON[ev.kind as keyof typeof ICON] ?? Activity;
  const name = ev.entry_id ? (
    <Link to={`/entries/${ev.entry_id}`} className="font-medium hover:underline">
      {ev.model_name}
    </Link>
  ) : (
    <span className="font-medium">{ev.model_name}</span>
  );
  return (
    <div className="flex items-start gap-3 py-2" data-testid="event" data-kind={ev.kind}>
      <span className="mt-0.5 flex size-7 shrink-0 items-center justify-center rounded-full bg-muted text-muted-foreground">
        <Icon className="size-3.5" aria-hidden />
      </span>
      <div className="min-w-0 flex-1 text-sm">
        <p className="flex flex-wrap items-center gap-1.5">
          {name}
          <span className="text-muted-foreground">· {EVENT_LABEL[ev.kind] ?? ev.kind}</span>
          {ev.kind === "status_changed" && ev.to_status && (
            <>
              {ev.from_status && <StatusBadge status={ev.from_status} />}
              <span aria-label="to">→</span>
              <StatusBadge status={ev.to_status} />
            </>
          )}
          {ev.kind === "added" && ev.to_status && <StatusBadge status={ev.to_status} />}
          {ev.kind === "rated" && typeof ev.data?.rating === "number" && <span className="text-amber-500">{"★".repeat(ev.data.rating as number)}</span>}
        </p>
        <time className="text-xs text-muted-foreground" dateTime={ev.occurred_at} title={ev.to_status ? STATUS_LABEL[ev.to_status] : undefined}>
          {formatDateTime(ev.occurred_at)}
        </time>
      </div>
    </div>
  );
}
