// The base models this server can fine-tune: whether each is ready (or why not) and, for a model converted here from a
// GGUF file, where its weights came from. Administrators import GGUF files here.
import { useState } from "react";
import { Link } from "react-router";
import { Boxes, ShieldAlert, Sparkles, TriangleAlert } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { GGUFImport, ImportJobStatus } from "@/components/hub/GGUFImport";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { errorMessage } from "@/lib/api";
import { useAuthState } from "@/lib/auth";
import { formatBytes, formatCount, formatParams } from "@/lib/format";
import { useActiveImports, useBaseModels } from "@/lib/hubQueries";
import type { BaseModelOut } from "@/lib/types";

/** BaseModelOut.source for a model converted on this server (finetune/base_models.py import_source). */
export interface ModelSource {
  format?: string | null;
  file?: string | null;
  size_bytes?: number | null;
  sha256?: string | null;
  quantization?: string | null;
  file_type?: string | null;
  gguf_architecture?: string | null;
  stored_dtype?: string | null;
}

export function Provenance({ source }: { source: ModelSource | null | undefined }) {
  if (!source || !source.file) return <span className="text-muted-foreground">—</span>;
  return (
    <div className="grid gap-0.5 text-xs" data-testid="provenance">
      <span className="truncate font-medium" title={source.file}>
        {source.file}
      </span>
      <span className="text-muted-foreground">
        {[source.quantization, source.stored_dtype ? `stored as ${source.stored_dtype}` : null, source.size_bytes ? formatBytes(source.size_bytes) : null]
          .filter(Boolean)
          .join(" · ")}
      </span>
      {source.sha256 && (
        <span className="font-mono text-muted-foreground" title={`sha256 ${source.sha256}`}>
          sha256 {source.sha256.slice(0, 12)}…
        </span>
      )}
    </div>
  );
}

export function Readiness({ model: m }: { model: BaseModelOut }) {
  if (m.available) return <Badge variant="success">ready</Badge>;
  return (
    <div className="grid gap-1">
      <Badge variant="warning" className="w-fit">
        unavailable
      </Badge>
      {m.unavailable_reason && (
        <span className="flex gap-1 text-xs text-muted-foreground" data-testid="unavailable-reason">
          <TriangleAlert className="mt-0.5 size-3 shrink-0" aria-hidden /> {m.unavailable_reason}
        </span>
      )}
    </div>
  );
}

export function BaseModelTable({ models }: { models: BaseModelOut[] }) {
  return (
    <div className="rounded-lg border bg-card">
      <Table>
        <TableHeader>
          <TableRow>
            <TableHead>Model</TableHead>
            <TableHead className="hidden text-right sm:table-cell">Parameters</TableHead>
            <TableHead className="hidden md:table-cell">License</TableHead>
            <TableHead>Status</TableHead>
            <TableHead className="hidden lg:table-cell">Converted from</TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {models.map((m) => (
            <TableRow key={m.id} data-testid="base-model-row" data-key={m.key}>
              <TableCell className="min-w-52 max-w-80 align-top">
                <div className="flex flex-wrap items-center gap-1.5">
                  <span className="font-medium">{m.name}</span>
                  {m.toy && (
                    <Badge variant="warning">
                      <Sparkles className="size-3" aria-hidden /> toy
                    </Badge>
                  )}
                  {m.gated && <Badge variant="outline">gated</Badge>}
                </div>
                <code className="block truncate text-xs text-muted-foreground">{m.key}</code>
                {m.context_length ? <span className="text-xs text-muted-foreground">{formatCount(m.context_length)} context</span> : null}
              </TableCell>
              <TableCell className="hidden text-right align-top tabular-nums sm:table-cell">{m.parameters ? formatParams(m.parameters) : "—"}</TableCell>
              <TableCell className="hidden whitespace-nowrap align-top md:table-cell">{m.license ?? "—"}</TableCell>
              <TableCell className="max-w-md align-top">
                <Readiness model={m} />
              </TableCell>
              <TableCell className="hidden max-w-64 align-top lg:table-cell">
                <Provenance source={m.source as ModelSource | null | undefined} />
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </div>
  );
}

export default function BaseModels() {
  const models = useBaseModels();
  const { data: auth } = useAuthState();
  const isAdmin = !!auth?.user?.is_admin;
  const imports = useActiveImports(isAdmin);
  const [followed, setFollowed] = useState<number[]>([]); // imports started here: the form follows them itself
  const others = (imports.data ?? []).filter((j) => !followed.includes(j.id));
  const list = models.data ?? [];
  return (
    <div>
      <PageHeader
        title="Base models"
        description="The open models you can fine-tune on this server, whether each is ready, and where converted weights came from."
      />
      <div className="grid gap-6">
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Import a GGUF model</CardTitle>
            <CardDescription>Turn a llama.cpp GGUF file into a base model. The file's name, sha256 and quantization are recorded.</CardDescription>
          </CardHeader>
          <CardContent className="grid gap-4">
            {isAdmin ? (
              <>
                <GGUFImport existing={list} onQueued={(a) => setFollowed((ids) => [...ids, a.job_id])} />
                {others.length > 0 && (
                  <div className="grid gap-2" data-testid="active-imports">
                    <p className="text-sm font-medium">Imports in progress</p>
                    {others.map((j) => (
                      <ImportJobStatus key={j.id} job={j} />
                    ))}
                  </div>
                )}
              </>
            ) : (
              <p className="flex gap-2 text-sm text-muted-foreground" data-testid="admin-only">
                <ShieldAlert className="mt-0.5 size-4 shrink-0" aria-hidden /> Only administrators can import models. The command line does the same:{" "}
                <code>modelmate models add-gguf FILE --name NAME</code>.
              </p>
            )}
          </CardContent>
        </Card>
        <section aria-label="Base models">
          {models.isLoading && <Skeleton className="h-48 w-full" />}
          {models.isError && <p className="text-sm text-destructive">{errorMessage(models.error)}</p>}
          {models.isSuccess && list.length === 0 && (
            <EmptyState icon={Boxes} title="No base models yet">
              <p>Build the toy model with `modelmate models build-tiny`, or import a GGUF file.</p>
            </EmptyState>
          )}
          {list.length > 0 && <BaseModelTable models={list} />}
          <p className="mt-3 text-xs text-muted-foreground">
            Pick one to <Link to="/hub/train" className="underline underline-offset-4">train a model</Link>.
          </p>
        </section>
      </div>
    </div>
  );
}
