import { useId, useState } from "react";
import { Textarea } from "@/components/ui/textarea";
import { Tabs, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { LazyMarkdown } from "./LazyMarkdown";
import { useMediaQuery } from "@/lib/media";

/** Markdown notes: write on the left, safe live preview on the right (Write/Preview tabs on narrow screens). */
export function MarkdownEditor({ value, onChange, label = "Notes", rows = 12 }: { value: string; onChange: (v: string) => void; label?: string; rows?: number }) {
  const id = useId();
  const wide = useMediaQuery("(min-width: 768px)");
  const [tab, setTab] = useState<"write" | "preview">("write");
  const showEditor = wide || tab === "write";
  const showPreview = wide || tab === "preview";
  return (
    <div className="grid gap-2">
      {!wide && (
        <Tabs value={tab} onValueChange={(v) => setTab(v as "write" | "preview")}>
          <TabsList>
            <TabsTrigger value="write">Write</TabsTrigger>
            <TabsTrigger value="preview">Preview</TabsTrigger>
          </TabsList>
        </Tabs>
      )}
      <div className="grid gap-3 md:grid-cols-2">
        {showEditor && (
          <Textarea
            id={id}
            aria-label={label}
            rows={rows}
            value={value}
            onChange={(e) => onChange(e.target.value)}
            className="font-mono text-[13px]"
            placeholder="Markdown: **bold**, lists, links, tables…"
          />
        )}
        {showPreview && (
          <div className="min-h-24 overflow-auto rounded-md border bg-background/60 p-3" aria-label={`${label} preview`} role="region">
            {value.trim() ? <LazyMarkdown source={value} /> : <p className="text-sm text-muted-foreground">Nothing to preview yet.</p>}
          </div>
        )}
      </div>
    </div>
  );
}
