// One dataset: its numbers, a length histogram, and its rows page by page (always shown as plain text).
import { lazy, Suspense, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, ChevronLeft, ChevronRight, Rocket, Trash2 } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { toast } from "@/components/ui/toast";
import { api, ApiError } from "@/lib/api";
import { formatBytes, formatCount, formatDateTime, formatFloat } from "@/lib/format";
import type { DatasetStats } from "@/lib/hub";
import type { DatasetOut } from "@/lib/types";
import { datasetTokens, FORMAT_LABEL } from "@/lib/hub";
import { hubKeys, useDataset, useDatasetPreview } from "@/lib/hubQueries";
import { ContaminationCard } from "@/components/hub/Contamination";

const LengthHistogram = lazy(() => import("@/components/hub/HubCharts").then((m) => ({ default: m.LengthHistogram })));
const PAGE = 10;

function Stat({ label, value, hint }: { label: string; value: React.ReactNode; hint?: string }) {
  return (
    <div className="rounded-md border bg-background/50 p-3">
      <dt className="text-xs text-muted-foreground">{label}</dt>
      <dd className="mt-1 text-lg font-semibold tabular-nums tracking-tight">{value}</dd>
      {hint && <dd className="text-xs text-muted-foreground">{hint}</dd>}
    </div>
  );
}

interface Message {
  role?: unknown;
  content?: unknown;
}

/** One canonical record as text: a conversation turn by turn, or the text itself. Never HTML. */
export function RecordView({ record }: { record: Record<string, unknown> }) {
  const messages = record.messages;
  if (Array.isArray(messages)) {
    return (
      <div className="grid gap-2">
        {(messages as Message[]).map((m, i) => (
          <div key={i} className="grid gap-0.5 sm:grid-cols-[6rem_minmax(0,1fr)] sm:gap-3">
            <span className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">{String(m?.role ?? "?")}</span>
            <p className="whitespace-pre-wrap break-words text-sm">{typeof m?.content === "string" ? m.content : JSON.stringify(m?.content)}</p>
          </div>
        ))}
      </div>
    );
  }
  if (typeof record.text === "string" && Object.keys(record).length <= 2) {
    return <p className="whitespace-pre-wrap break-words text-sm">{record.text}</p>;
  }
  return <pre className="overflow-x-auto whitespace-pre-wrap break-words font-mono text-xs">{JSON.stringify(record, null, 2)}</pre>;
}

function Preview({ dataset }: { dataset: DatasetOut }) {
  const [offset, setOffset] = useState(0);
  const preview = useDatasetPreview(dataset.id, offset, PAGE);
  const total = preview.data?.total ?? dataset.rows;
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
        <div className="grid gap-1">
          <CardTitle className="text-base">Rows</CardTitle>
          <CardDescription>As the trainer will see them, after conversion to the common format.</CardDescription>
        </div>
        <div className="flex items-center gap-2 text-sm">
          <span className="text-muted-foreground tabular-nums" data-testid="preview-range">
            {total ? `${offset + 1}–${Math.min(offset + PAGE, total)} of ${formatCount(total)}` : "0 rows"}
          </span>
          <Button variant="outline" size="icon" aria-label="Previous rows" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            <ChevronLeft aria-hidden />
          </Button>
          <Button variant="outline" size="icon" aria-label="Next rows" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
            <ChevronRight aria-hidden />
          </Button>
        </div>
      </CardHeader>
      <CardContent>
        {preview.isLoading && <Skeleton className="h-48 w-full" />}
        <ol className="grid divide-y" data-testid="preview-rows">
          {preview.data?.rows.map((row, i) => (
            <li key={offset + i} className="grid gap-2 py-3 sm:grid-cols-[3rem_minmax(0,1fr)]" data-testid="preview-row">
              <span className="text-xs tabular-nums text-muted-foreground">#{(preview.data?.offset ?? offset) + i + 1}</span>
              <RecordView record={row} />
            </li>
          ))}
        </ol>
      </CardContent>
    </Card>
  );
}

export default function DatasetPage() {
  const id = Number(useParams().id);
  const ds = useDataset(id);
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [confirm, setConfirm] = useState(false);
  const del = useMutation({
    mutationFn: () => api.delete("/datasets/{dataset_id}", { path: { dataset_id: id } }),
    onSuccess: () => {
      qc.removeQueries({ queryKey: hubKeys.dataset(id) });
      qc.invalidateQueries({ queryKey: hubKeys.datasets });
      toast.success("Dataset deleted");
      navigate("/hub/datasets");
    },
  });

  if (ds.isError && ds.error instanceof ApiError && ds.error.status === 404) {
    return (
      <EmptyState title="No such dataset">
        <Link to="/hub/datasets" className="text-primary hover:underline">
          Back to the datasets
        </Link>
      </EmptyState>
    );
  }
  if (!ds.data) return <Skeleton className="h-96 w-full" />;
  const d = ds.data;
  const stats = (d.stats ?? {}) as DatasetStats;
  const tokens = datasetTokens(d);
  const chars = stats.chars ?? null;
  const histogram = stats.histogram ?? [];
  const unit = (stats.histogram_unit ?? (tokens ? "tokens" : "chars")) === "chars" ? "characters" : (stats.histogram_unit ?? "tokens");
  const roles = stats.roles ?? {};
  const fields = stats.fields ?? [];

  return (
    <div className="grid gap-6">
      <div>
        <Link to="/hub/datasets" className="mb-2 inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
          <ArrowLeft className="size-4" aria-hidden /> Datasets
        </Link>
        <PageHeader
          title={d.name}
          description={[d.original_filename, d.file_type?.toUpperCase(), formatBytes(d.size_bytes), `added ${formatDateTime(d.created_at)}`]
            .filter(Boolean)
            .join(" · ")}
          actions={
            <>
              <Button asChild>
                <Link to={`/hub/train?step=1&dataset=${d.id}`}>
                  <Rocket aria-hidden /> Train on it
                </Link>
              </Button>
              <Button variant="outline" onClick={() => setConfirm(true)}>
                <Trash2 aria-hidden /> Delete
              </Button>
            </>
          }
        />
        {d.description && <p className="-mt-3 mb-2 whitespace-pre-wrap text-sm">{d.description}</p>}
        <div className="flex flex-wrap gap-2">
          <Badge variant="muted">{FORMAT_LABEL[d.format] ?? d.format}</Badge>
          {d.license && <Badge variant="outline">licence {d.license}</Badge>}
          {d.domain && <Badge variant="outline">{d.domain}</Badge>}
          <Badge variant="outline" title={d.content_hash}>
            sha256 {d.content_hash.slice(0, 12)}
          </Badge>
        </div>
      </div>
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 xl:grid-cols-6" data-testid="dataset-stats">
        <Stat label="Rows" value={formatCount(d.rows)} hint={stats.empty_rows ? `${stats.empty_rows} empty` : undefined} />
        <Stat label="Train rows" value={formatCount(d.train_rows)} />
        <Stat label="Eval rows" value={formatCount(d.eval_rows)} hint="held out to measure progress" />
        <Stat
          label="Tokens"
          value={formatCount(tokens?.total)}
          hint={tokens ? [tokens.mean ? `${formatFloat(tokens.mean, 3)} per row` : null, tokens.tokenizer ? `${tokens.tokenizer} tokenizer` : null].filter(Boolean).join(" · ") : "no tokenizer on this machine"}
        />
        <Stat label="Longest row" value={formatCount(tokens?.max ?? chars?.max)} hint={tokens ? "tokens" : "characters"} />
        <Stat label="95% of rows under" value={formatCount(tokens?.p95 ?? chars?.p95)} hint={tokens ? "tokens" : "characters"} />
      </dl>
      <ContaminationCard datasetId={d.id} />
      <div className="grid gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Length of the rows</CardTitle>
            <CardDescription>How many rows have each length, in {unit}.</CardDescription>
          </CardHeader>
          <CardContent>
            {histogram.length ? (
              <Suspense fallback={<Skeleton className="h-[220px] w-full" />}>
                <div data-testid="length-histogram">
                  <LengthHistogram bins={histogram} unit={unit} />
                </div>
              </Suspense>
            ) : (
              <p className="text-sm text-muted-foreground">No histogram for this dataset.</p>
            )}
          </CardContent>
        </Card>
        <Card className="content-start">
          <CardHeader>
            <CardTitle className="text-base">Structure</CardTitle>
          </CardHeader>
          <CardContent className="grid gap-3 text-sm">
            <div>
              <p className="mb-1 text-xs text-muted-foreground">Fields in the file</p>
              <div className="flex flex-wrap gap-1.5">
                {fields.length ? fields.map((f) => <Badge key={f} variant="muted">{f}</Badge>) : <span className="text-muted-foreground">—</span>}
              </div>
            </div>
            {!!stats.turns && (
              <p>
                <span className="text-muted-foreground">Messages per row: </span>
                <span className="tabular-nums">{stats.turns}</span>
              </p>
            )}
            {Object.keys(roles).length > 0 && (
              <div>
                <p className="mb-1 text-xs text-muted-foreground">Messages by role</p>
                <dl className="grid gap-1">
                  {Object.entries(roles).map(([role, n]) => (
                    <div key={role} className="flex justify-between gap-3">
                      <dt>{role}</dt>
                      <dd className="tabular-nums">{formatCount(n)}</dd>
                    </div>
                  ))}
                </dl>
              </div>
            )}
          </CardContent>
        </Card>
      </div>
      <Preview dataset={d} />
      <ConfirmDialog
        open={confirm}
        onOpenChange={setConfirm}
        title={`Delete ${d.name}?`}
        description="It disappears from your datasets. Runs that used it keep their record of it."
        onConfirm={() => del.mutate()}
        pending={del.isPending}
      />
    </div>
  );
}
