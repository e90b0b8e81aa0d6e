import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { Search } from "lucide-react";
import { api } from "@/lib/api";
import type { SearchResults } from "@/lib/types";
import { StatusBadge } from "./StatusBadge";
import { SnippetList } from "./HighlightedText";
import { cn } from "@/lib/utils";

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

const LIMIT = 6;

type Hit = SearchResults["items"][number] & { byMeaning?: boolean };

/** Keyword hits first (they contain the words), then semantic hits not already listed, up to `limit`. */
export function mergeHits(keyword: Hit[], semantic: Hit[], limit: number): Hit[] {
  const seen = new Set(keyword.map((h) => h.entry.id));
  const extra = semantic.filter((h) => !seen.has(h.entry.id)).map((h) => ({ ...h, byMeaning: true }));
  return [...keyword, ...extra].slice(0, limit);
}

/** The search box in the top bar: "/" focuses it, results drop down with highlighted snippets, Enter opens all. */
export function GlobalSearch({ className }: { className?: string }) {
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const inputRef = useRef<HTMLInputElement>(null);
  const navigate = useNavigate();
  const q = useDebounced(text.trim(), 200);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
      if (e.key === "/" && !typing && !e.metaKey && !e.ctrlKey && !e.altKey) {
        e.preventDefault();
        inputRef.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const { data, isFetching } = useQuery({
    queryKey: ["search", q, LIMIT],
    queryFn: ({ signal }) => api.get("/search", { query: { q, limit: LIMIT }, signal }),
    enabled: q.length > 0,
    staleTime: 10_000,
    meta: { silent: true },
  });
  // Keyword search needs every word to match: "small model for phones" finds nothing while the meaning matches
  // several entries. When the keywords leave room, ask semantic search too and add its hits below (a server with
  // semantic search turned off answers an error: then the keyword hits stay alone).
  const wantSemantic = q.length > 0 && !!data && data.items.length < LIMIT;
  const semantic = useQuery({
    queryKey: ["search", q, LIMIT, "semantic"],
    queryFn: ({ signal }) => api.get("/search", { query: { q, limit: LIMIT, mode: "semantic" }, signal }),
    enabled: wantSemantic,
    staleTime: 10_000,
    retry: false,
    meta: { silent: true },
  });
  const items = q ? mergeHits(data?.items ?? [], wantSemantic ? (semantic.data?.items ?? []) : [], LIMIT) : [];
  const byMeaning = items.some((h) => h.byMeaning);
  const searching = isFetching || (wantSemantic && semantic.isFetching);
  const allHref = `/search?q=${encodeURIComponent(q)}${byMeaning ? "&mode=hybrid" : ""}`;

  const go = (path: string) => {
    setOpen(false);
    setActive(-1);
    inputRef.current?.blur();
    navigate(path);
  };
  const onKeyDown = (e: React.KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(a + 1, items.length - 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, -1));
    } else if (e.key === "Enter" && text.trim()) {
      e.preventDefault();
      if (active >= 0 && items[active]) go(`/entries/${items[active].entry.id}`);
      else go(text.trim() === q ? allHref : `/search?q=${encodeURIComponent(text.trim())}`);
    } else if (e.key === "Escape") {
      setOpen(false);
      inputRef.current?.blur();
    }
  };

  const show = open && q.length > 0;
  return (
    <div className={cn("relative", className)}>
      <Search className="pointer-events-none absolute left-2.5 top-2.5 size-4 text-muted-foreground" aria-hidden />
      <input
        ref={inputRef}
        type="search"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={onKeyDown}
        placeholder="Search models and notes…"
        aria-label="Search"
        role="combobox"
        aria-expanded={show}
        aria-controls="global-search-results"
        aria-activedescendant={active >= 0 ? `gs-${active}` : undefined}
        className="h-9 w-full min-w-0 rounded-md border border-input bg-muted/50 pl-8 pr-8 text-sm outline-none transition-colors placeholder:text-muted-foreground focus:bg-card focus-visible:ring-2 focus-visible:ring-ring"
      />
      <kbd className="pointer-events-none absolute right-2 top-2 hidden rounded border bg-card px-1.5 text-[10px] text-muted-foreground sm:block">
        /
      </kbd>
      {show && (
        <div
          id="global-search-results"
          role="listbox"
          aria-label="Search results"
          className="absolute left-0 right-0 z-50 mt-1 max-h-[70vh] overflow-y-auto rounded-lg border bg-popover p-1 shadow-xl"
        >
          {items.length === 0 && (
            <p className="px-3 py-4 text-sm text-muted-foreground">{searching ? "Searching…" : `No matches for “${q}”.`}</p>
          )}
          {items.map((hit, i) => (
            <div
              key={hit.entry.id}
              id={`gs-${i}`}
              role="option"
              aria-selected={i === active}
              onMouseDown={(e) => {
                e.preventDefault();
                go(`/entries/${hit.entry.id}`);
              }}
              className={cn("cursor-pointer rounded-md px-3 py-2", i === active ? "bg-accent" : "hover:bg-accent/60")}
              data-testid="search-hit"
              data-kind={hit.byMeaning ? "semantic" : "keyword"}
            >
              {hit.byMeaning && (i === 0 || !items[i - 1].byMeaning) && (
                <p className="mb-1 text-[11px] font-semibold uppercase tracking-wider text-muted-foreground" data-testid="semantic-heading">
                  {i === 0 ? "No exact word match · related by meaning" : "Related by meaning"}
                </p>
              )}
              <div className="flex items-center justify-between gap-2">
                <span className="min-w-0 truncate text-sm font-medium">{hit.entry.name}</span>
                <StatusBadge status={hit.entry.status} />
              </div>
              {hit.byMeaning ? (
                hit.entry.description && <p className="mt-0.5 line-clamp-1 text-xs text-muted-foreground">{hit.entry.description}</p>
              ) : (
                <SnippetList snippets={hit.snippets} />
              )}
            </div>
          ))}
          {items.length > 0 && (
            <button
              type="button"
              onMouseDown={(e) => {
                e.preventDefault();
                go(allHref);
              }}
              className="mt-1 w-full rounded-md px-3 py-2 text-left text-sm text-primary hover:bg-accent"
            >
              {byMeaning ? "See all results (words and meaning)" : `See all ${data?.total ?? ""} results`}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
