import { Badge } from "@/components/ui/badge";
import { STATUS_LABEL } from "@/lib/constants";

type StatusVariant = "wishlist" | "tried" | "studied" | "using" | "archived";

export function StatusBadge({ status }: { status: string }) {
  const variant = (status in STATUS_LABEL ? status : "archived") as StatusVariant;
  return (
    <Badge variant={variant} data-status={status}>
      {STATUS_LABEL[status] ?? status}
    </Badge>
  );
}

export function Stars({ rating }: { rating: number | null | undefined }) {
  if (!rating) return <span className="text-muted-foreground">—</span>;
  return (
    <span aria-label={`rated ${rating} of 5`} title={`${rating} / 5`} className="tracking-tight text-amber-500">
      {"★".repeat(rating)}
      <span className="text-muted-foreground/40">{"★".repeat(5 - rating)}</span>
    </span>
  );
}
