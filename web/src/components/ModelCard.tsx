import { Link } from "react-router";
import type { EntryOut } from "@/lib/types";
import { Card } from "@/components/ui/card";
import { Badge } from "@/components/ui/badge";
import { Checkbox } from "@/components/ui/checkbox";
import { StatusBadge, Stars } from "./StatusBadge";
import { formatDate, formatParams } from "@/lib/format";
import { cn } from "@/lib/utils";

export interface ModelCardProps {
  entry: EntryOut;
  selected?: boolean;
  onSelectedChange?: (selected: boolean) => void;
  compact?: boolean;
  className?: string;
}

/** One model entry as a card: used by the card view of My models, the dashboard wishlist and search results. */
export function ModelCard({ entry, selected, onSelectedChange, compact, className }: ModelCardProps) {
  return (
    <Card
      className={cn("group relative flex flex-col gap-3 p-4 transition-shadow hover:shadow-md", selected && "ring-2 ring-primary/60", className)}
      data-testid="model-card"
      data-entry-id={entry.id}
    >
      <div className="flex items-start gap-3">
        {onSelectedChange && (
          <Checkbox
            checked={!!selected}
            onCheckedChange={(v) => onSelectedChange(v === true)}
            aria-label={`Select ${entry.name}`}
            className="mt-1"
          />
        )}
        <div className="min-w-0 flex-1">
          <Link
            to={`/entries/${entry.id}`}
            className="block truncate font-semibold tracking-tight hover:underline focus-visible:underline"
          >
            {entry.name}
          </Link>
          <p className="truncate text-sm text-muted-foreground">
            {entry.developer ?? "Unknown developer"}
            {entry.version ? ` · ${entry.version}` : ""}
          </p>
        </div>
        <StatusBadge status={entry.status} />
      </div>
      {!compact && entry.description && (
        <p className="line-clamp-2 text-sm text-foreground/80">{entry.description}</p>
      )}
      <dl className="grid grid-cols-3 gap-2 text-xs">
        <div>
          <dt className="text-muted-foreground">Type</dt>
          <dd className="font-medium">{entry.model_type}</dd>
        </div>
        <div>
          <dt className="text-muted-foreground">Params</dt>
          <dd className="font-medium tabular-nums">{formatParams(entry.parameters)}</dd>
        </div>
        <div>
          <dt className="text-muted-foreground">Rating</dt>
          <dd>
            <Stars rating={entry.rating} />
          </dd>
        </div>
      </dl>
      {(entry.tags.length > 0 || entry.date_interacted) && (
        <div className="mt-auto flex flex-wrap items-center gap-1.5">
          {entry.tags.slice(0, compact ? 3 : 6).map((t) => (
            <Badge key={t} variant="muted">
              {t}
            </Badge>
          ))}
          {entry.date_interacted && (
            <span className="ml-auto text-xs text-muted-foreground">{formatDate(entry.date_interacted)}</span>
          )}
        </div>
      )}
    </Card>
  );
}
