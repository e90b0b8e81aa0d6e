import { useEffect, useRef } from "react";
import { Bookmark } from "lucide-react";
import { bookmarkletHref } from "@/lib/capture";
import { toast } from "@/components/ui/toast";

/**
 * The draggable "Save to ModelMate" link. React 19 blocks `javascript:` URLs in JSX props, so the href is set on
 * the DOM node directly; its code is built from this page's origin and holds no secret.
 */
export function BookmarkletLink({ origin = window.location.origin }: { origin?: string }) {
  const ref = useRef<HTMLAnchorElement>(null);
  useEffect(() => {
    ref.current?.setAttribute("href", bookmarkletHref(origin));
  }, [origin]);
  return (
    <a
      ref={ref}
      data-testid="bookmarklet"
      draggable
      onClick={(e) => {
        e.preventDefault();
        toast("Drag it to your bookmarks bar", { description: "Then click it on a Hugging Face or GitHub page." });
      }}
      className="inline-flex cursor-grab items-center gap-2 rounded-md border border-primary/40 bg-primary/10 px-3 py-2 text-sm font-medium text-primary"
    >
      <Bookmark className="size-4" aria-hidden /> Save to ModelMate
    </a>
  );
}
