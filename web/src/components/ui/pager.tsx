// "1–20 of 57" with previous/next buttons; renders nothing when everything fits on one page.
import { ChevronLeft, ChevronRight } from "lucide-react";
import { Button } from "@/components/ui/button";
import { cn } from "@/lib/utils";

export function Pager({ offset, pageSize, total, onOffset, className }: {
  offset: number;
  pageSize: number;
  total: number;
  onOffset: (offset: number) => void;
  className?: string;
}) {
  if (total <= pageSize) return null;
  return (
    <div className={cn("flex items-center justify-end gap-2 text-sm", className)}>
      <span className="text-muted-foreground">
        {offset + 1}–{Math.min(offset + pageSize, total)} of {total}
      </span>
      <Button variant="outline" size="icon" aria-label="Previous page" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - pageSize))}>
        <ChevronLeft aria-hidden />
      </Button>
      <Button variant="outline" size="icon" aria-label="Next page" disabled={offset + pageSize >= total} onClick={() => onOffset(offset + pageSize)}>
        <ChevronRight aria-hidden />
      </Button>
    </div>
  );
}
