import type { Segment, Snippet } from "@/lib/types";

/** Search snippet segments as React text nodes: matches in <mark>, never innerHTML. */
export function HighlightedSegments({ segments }: { segments: Segment[] }) {
  return (
    <>
      {segments.map((s, i) => (s.match ? <mark key={i}>{s.text}</mark> : <span key={i}>{s.text}</span>))}
    </>
  );
}

const FIELD_LABEL: Record<string, string> = {
  name: "Name",
  developer: "Developer",
  description: "Description",
  tags: "Tags",
  notes: "Notes",
};

export function SnippetList({ snippets }: { snippets: Snippet[] }) {
  if (!snippets.length) return null;
  return (
    <ul className="mt-1 space-y-0.5 text-xs text-muted-foreground" data-testid="snippets">
      {snippets.map((sn, i) => (
        <li key={i} className="line-clamp-2">
          <span className="mr-1 font-medium text-foreground/70">{FIELD_LABEL[sn.field] ?? sn.field}:</span>
          <HighlightedSegments segments={sn.segments} />
        </li>
      ))}
    </ul>
  );
}
