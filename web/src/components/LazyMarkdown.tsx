import { lazy, Suspense } from "react";
import { Skeleton } from "@/components/ui/skeleton";

const Markdown = lazy(() => import("./Markdown"));

export function LazyMarkdown({ source, className }: { source: string; className?: string }) {
  return (
    <Suspense fallback={<Skeleton className="h-16 w-full" />}>
      <Markdown source={source} className={className} />
    </Suspense>
  );
}
