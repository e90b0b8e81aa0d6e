// The research dataset: one row per run (flattened config, dataset characteristics, domain scores, deltas vs parent
// and base, outcome, failure category, feedback), described column by column, previewed, and exported as Parquet,
// CSV or JSONL with its dataset card.
import { useMemo, useState } from "react";
import { Download, FileText, Table2 } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { LazyMarkdown } from "@/components/LazyMarkdown";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { errorMessage } from "@/lib/api";
import { EXPORT_FORMATS, exportUrl, formatCell, splitCard } from "@/lib/research";
import type { ResearchColumn } from "@/lib/research";
import { useResearchCard, useResearchRows } from "@/lib/researchQueries";

const PREVIEW_ROWS = 20;

function ColumnTable({ columns }: { columns: ResearchColumn[] }) {
  const [filter, setFilter] = useState("");
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f ? columns.filter((c) => c.name.toLowerCase().includes(f) || c.description.toLowerCase().includes(f)) : columns;
  }, [columns, filter]);
  return (
    <div className="grid gap-3">
      <Input aria-label="Filter columns" placeholder="Filter columns…" value={filter} onChange={(e) => setFilter(e.target.value)} className="max-w-xs" />
      <div className="rounded-lg border bg-card">
        <Table data-testid="research-columns">
          <TableHeader>
            <TableRow>
              <TableHead>Column</TableHead>
              <TableHead>Type</TableHead>
              <TableHead>Description</TableHead>
            </TableRow>
          </TableHeader>
          <TableBody>
            {shown.map((c) => (
              <TableRow key={c.name} data-testid="research-column">
                <TableCell className="whitespace-nowrap">
                  <code className="text-xs">{c.name}</code>
                </TableCell>
                <TableCell>
                  <Badge variant="muted">{c.type}</Badge>
                </TableCell>
                <TableCell className="text-sm text-muted-foreground">{c.description}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
        {shown.length === 0 && <p className="p-4 text-sm text-muted-foreground">No column matches “{filter}”.</p>}
      </div>
    </div>
  );
}

function PreviewTable({ columns, rows }: { columns: ResearchColumn[]; rows: Record<string, unknown>[] }) {
  return (
    <div className="max-h-[60vh] overflow-auto rounded-lg border bg-card">
      <table className="w-max min-w-full text-xs" data-testid="research-preview">
        <thead className="sticky top-0 bg-card">
          <tr className="border-b">
            {columns.map((c) => (
              <th key={c.name} scope="col" title={c.description} className="whitespace-nowrap px-2 py-2 text-left font-medium text-muted-foreground">
                {c.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} className="border-b last:border-0 hover:bg-muted/50" data-testid="research-row">
              {columns.map((c) => (
                <td key={c.name} className="max-w-64 truncate whitespace-nowrap px-2 py-1.5 tabular-nums" title={formatCell(r[c.name])}>
                  {formatCell(r[c.name])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DatasetCard() {
  const card = useResearchCard();
  const parts = useMemo(() => splitCard(typeof card.data === "string" ? card.data : ""), [card.data]);
  if (card.isLoading) return <Skeleton className="h-64 w-full" />;
  if (card.isError)
    return (
      <p role="alert" className="text-sm text-destructive">
        {errorMessage(card.error)}
      </p>
    );
  return (
    <div className="grid gap-3" data-testid="research-card">
      {parts.yaml !== null && (
        <details className="rounded-md border">
          <summary className="cursor-pointer px-3 py-2 text-sm font-medium">Machine-readable header (YAML)</summary>
          <pre className="max-h-96 overflow-auto border-t bg-muted/40 p-3 font-mono text-xs" data-testid="research-card-yaml">
            {parts.yaml}
          </pre>
        </details>
      )}
      <LazyMarkdown source={parts.body} />
    </div>
  );
}

export default function Research() {
  const rows = useResearchRows(PREVIEW_ROWS);
  const columns = rows.data?.columns ?? [];
  const total = rows.data?.total ?? 0;
  return (
    <div>
      <PageHeader
        title="Research dataset"
        description="Every run you can see as one row: its configuration, data, scores, deltas vs parent and base, outcome and feedback. Download it to study what works."
      />
      <Card className="mb-6">
        <CardHeader>
          <CardTitle className="flex items-center gap-2 text-base">
            <Download className="size-4" aria-hidden /> Export
          </CardTitle>
          <CardDescription>
            {rows.data ? `${total} ${total === 1 ? "run" : "runs"}, ${columns.length} columns. ` : ""}
            The same rows from the command line: <code className="text-xs">modelmate research export --format parquet -o runs.parquet</code>
          </CardDescription>
        </CardHeader>
        <CardContent className="flex flex-wrap gap-2">
          {EXPORT_FORMATS.map((f) => (
            <Button key={f.value} variant="outline" asChild>
              <a href={exportUrl(f.value)} download data-testid={`export-${f.value}`} title={f.hint}>
                <Download aria-hidden /> {f.label}
              </a>
            </Button>
          ))}
        </CardContent>
      </Card>
      {rows.isLoading && <Skeleton className="h-64 w-full" />}
      {rows.isError && (
        <p role="alert" className="mb-6 rounded-md border border-destructive/40 bg-destructive/5 p-3 text-sm text-destructive">
          Could not load the research rows: {errorMessage(rows.error)}
        </p>
      )}
      {rows.isSuccess && (
        <Tabs defaultValue="preview">
          <TabsList>
            <TabsTrigger value="preview">
              <Table2 className="size-4" aria-hidden /> Preview
            </TabsTrigger>
            <TabsTrigger value="columns">Columns ({columns.length})</TabsTrigger>
            <TabsTrigger value="card">
              <FileText className="size-4" aria-hidden /> Dataset card
            </TabsTrigger>
          </TabsList>
          <TabsContent value="preview">
            {rows.data.rows.length === 0 ? (
              <EmptyState icon={Table2} title="No runs yet">
                <p>Train a model: every run you can see becomes a row here, failures included.</p>
              </EmptyState>
            ) : (
              <div className="grid gap-2">
                <p className="text-sm text-muted-foreground" data-testid="preview-count">
                  The first {rows.data.rows.length} of {total} rows. Hover a column name for its meaning.
                </p>
                <PreviewTable columns={columns} rows={rows.data.rows} />
              </div>
            )}
          </TabsContent>
          <TabsContent value="columns">
            <ColumnTable columns={columns} />
          </TabsContent>
          <TabsContent value="card">
            <DatasetCard />
          </TabsContent>
        </Tabs>
      )}
    </div>
  );
}
