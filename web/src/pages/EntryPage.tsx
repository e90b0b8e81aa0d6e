import { useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, ExternalLink, History, NotebookPen, Pencil, RefreshCw, Save, Trash2 } from "lucide-react";
import { EmptyState } from "@/components/AppShell";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { LazyMarkdown } from "@/components/LazyMarkdown";
import { LinksEditor } from "@/components/LinksEditor";
import { MarkdownEditor } from "@/components/MarkdownEditor";
import { MetadataDiffDialog } from "@/components/MetadataDiffDialog";
import { SimilarPanel } from "@/components/SimilarPanel";
import { StatusBadge } from "@/components/StatusBadge";
import { TagInput } from "@/components/TagInput";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/select";
import { ModelTypeSelect, StatusSelect } from "@/components/EnumSelect";
import { Skeleton } from "@/components/ui/skeleton";
import { Textarea } from "@/components/ui/textarea";
import { toast } from "@/components/ui/toast";
import { api, ApiError } from "@/lib/api";
import { EVENT_LABEL, STATUS_LABEL } from "@/lib/constants";
import { ENTRY_STATUS_LABEL, MODEL_TYPE_LABEL, parseEnum } from "@/lib/enums";
import { formatDateTime, formatParams } from "@/lib/format";
import { parseParams } from "@/lib/params";
import type { EntryOut, EntryUpdate, EventOut } from "@/lib/types";
import type { AutofillPreview } from "@/client";

interface Draft {
  name: string;
  developer: string;
  model_type: string;
  parameters: string;
  license: string;
  version: string;
  description: string;
  hf_repo_id: string;
  github_repo: string;
  source_links: string[];
  status: string;
  date_interacted: string;
  rating: string;
  tags: string[];
  notes: string;
}

function toDraft(e: EntryOut): Draft {
  return {
    name: e.name,
    developer: e.developer ?? "",
    model_type: e.model_type,
    parameters: e.parameters == null ? "" : formatParams(e.parameters),
    license: e.license ?? "",
    version: e.version ?? "",
    description: e.description ?? "",
    hf_repo_id: e.hf_repo_id ?? "",
    github_repo: e.github_repo ?? "",
    source_links: e.source_links,
    status: e.status,
    date_interacted: e.date_interacted ?? "",
    rating: e.rating == null ? "" : String(e.rating),
    tags: e.tags,
    notes: e.notes,
  };
}

/** Only the fields that changed, in the API's shape (blank → null). */
function diff(entry: EntryOut, d: Draft): EntryUpdate {
  const base = toDraft(entry);
  const out: Record<string, unknown> = {};
  const txt = (k: keyof Draft) => {
    if (d[k] !== base[k]) out[k] = (d[k] as string).trim() || null;
  };
  (["developer", "license", "version", "hf_repo_id", "github_repo"] as const).forEach(txt);
  if (d.name !== base.name) out.name = d.name.trim();
  if (d.description !== base.description) out.description = d.description || null;
  if (d.model_type !== base.model_type) out.model_type = d.model_type;
  if (d.status !== base.status) out.status = d.status;
  if (d.date_interacted !== base.date_interacted) out.date_interacted = d.date_interacted || null;
  if (d.rating !== base.rating) out.rating = d.rating ? Number(d.rating) : null;
  if (d.parameters !== base.parameters) out.parameters = parseParams(d.parameters);
  if (d.notes !== base.notes) out.notes = d.notes;
  if (JSON.stringify(d.tags) !== JSON.stringify(base.tags)) out.tags = d.tags;
  const links = d.source_links.map((l) => l.trim()).filter(Boolean);
  if (JSON.stringify(links) !== JSON.stringify(base.source_links)) out.source_links = links;
  return out as EntryUpdate;
}

function Field({ label, htmlFor, children, hint }: { label: string; htmlFor?: string; children: React.ReactNode; hint?: string }) {
  return (
    <div className="grid gap-1.5">
      <Label htmlFor={htmlFor}>{label}</Label>
      {children}
      {hint && <p className="text-xs text-muted-foreground">{hint}</p>}
    </div>
  );
}

function Journal({ entryId }: { entryId: number }) {
  const qc = useQueryClient();
  const key = ["journal", entryId];
  const { data, isLoading } = useQuery({ queryKey: key, queryFn: () => api.get("/entries/{entry_id}/journal", { path: { entry_id: entryId } }) });
  const [body, setBody] = useState("");
  const [editing, setEditing] = useState<number | null>(null);
  const [editBody, setEditBody] = useState("");
  const [deleting, setDeleting] = useState<number | null>(null);
  const refresh = () => {
    qc.invalidateQueries({ queryKey: key });
    qc.invalidateQueries({ queryKey: ["history", entryId] });
  };
  const add = useMutation({
    mutationFn: () => api.post("/entries/{entry_id}/journal", { path: { entry_id: entryId }, body: { body } }),
    onSuccess: () => {
      setBody("");
      refresh();
      toast.success("Journal note added");
    },
  });
  const edit = useMutation({
    mutationFn: (id: number) => api.patch("/entries/{entry_id}/journal/{note_id}", { path: { entry_id: entryId, note_id: id }, body: { body: editBody } }),
    onSuccess: () => {
      setEditing(null);
      refresh();
      toast.success("Note saved");
    },
  });
  const del = useMutation({
    mutationFn: (id: number) => api.delete("/entries/{entry_id}/journal/{note_id}", { path: { entry_id: entryId, note_id: id } }),
    onSuccess: () => {
      setDeleting(null);
      refresh();
      toast.success("Note deleted");
    },
  });
  return (
    <Card>
      <CardHeader>
        <CardTitle className="flex items-center gap-2 text-base">
          <NotebookPen className="size-4" aria-hidden /> Journal
        </CardTitle>
      </CardHeader>
      <CardContent className="grid gap-4">
        <form
          className="grid gap-2"
          aria-label="Add a journal note"
          onSubmit={(e) => {
            e.preventDefault();
            if (body.trim()) add.mutate();
          }}
        >
          <Textarea aria-label="New journal note" rows={3} value={body} onChange={(e) => setBody(e.target.value)} placeholder="What did you notice today? (markdown)" />
          <div>
            <Button type="submit" size="sm" disabled={!body.trim() || add.isPending}>
              Add note
            </Button>
          </div>
        </form>
        {isLoading && <Skeleton className="h-16" />}
        {data?.length === 0 && <p className="text-sm text-muted-foreground">No journal notes yet.</p>}
        <ol className="grid gap-3" data-testid="journal">
          {data?.map((n) => (
            <li key={n.id} className="rounded-md border bg-background/50 p-3" data-testid="journal-note">
              <div className="mb-1 flex items-center justify-between gap-2">
                <time className="text-xs text-muted-foreground" dateTime={n.created_at}>
                  {formatDateTime(n.created_at)}
                  {n.updated_at !== n.created_at && " · edited"}
                </time>
                <div className="flex gap-1">
                  <Button
                    variant="ghost"
                    size="icon"
                    className="size-7"
                    aria-label="Edit note"
                    onClick={() => {
                      setEditing(n.id);
                      setEditBody(n.body);
                    }}
                  >
                    <Pencil aria-hidden />
                  </Button>
                  <Button variant="ghost" size="icon" className="size-7" aria-label="Delete note" onClick={() => setDeleting(n.id)}>
                    <Trash2 aria-hidden />
                  </Button>
                </div>
              </div>
              {editing === n.id ? (
                <div className="grid gap-2">
                  <Textarea aria-label="Edit journal note" rows={3} value={editBody} onChange={(e) => setEditBody(e.target.value)} />
                  <div className="flex gap-2">
                    <Button size="sm" onClick={() => edit.mutate(n.id)} disabled={!editBody.trim() || edit.isPending}>
                      Save note
                    </Button>
                    <Button size="sm" variant="ghost" onClick={() => setEditing(null)}>
                      Cancel
                    </Button>
                  </div>
                </div>
              ) : (
                <LazyMarkdown source={n.body} />
              )}
            </li>
          ))}
        </ol>
        <ConfirmDialog
          open={deleting !== null}
          onOpenChange={(o) => !o && setDeleting(null)}
          title="Delete this journal note?"
          description="This cannot be undone."
          onConfirm={() => deleting !== null && del.mutate(deleting)}
          pending={del.isPending}
        />
      </CardContent>
    </Card>
  );
}

function describeEvent(ev: EventOut): string {
  if (ev.kind === "status_changed") return `${STATUS_LABEL[ev.from_status ?? ""] ?? ev.from_status ?? "—"} → ${STATUS_LABEL[ev.to_status ?? ""] ?? ev.to_status}`;
  if (ev.kind === "added" && ev.to_status) return `as ${STATUS_LABEL[ev.to_status] ?? ev.to_status}`;
  if (ev.kind === "rated" && ev.data && "rating" in ev.data) return `${String(ev.data.rating)} / 5`;
  if (ev.kind === "updated" && ev.data && Array.isArray(ev.data.fields)) return (ev.data.fields as string[]).join(", ");
  return "";
}

function HistoryCard({ entryId }: { entryId: number }) {
  const { data, isLoading } = useQuery({ queryKey: ["history", entryId], queryFn: () => api.get("/entries/{entry_id}/history", { path: { entry_id: entryId } }) });
  return (
    <Card>
      <CardHeader>
        <CardTitle className="flex items-center gap-2 text-base">
          <History className="size-4" aria-hidden /> History
        </CardTitle>
      </CardHeader>
      <CardContent>
        {isLoading && <Skeleton className="h-16" />}
        <ol className="relative grid gap-3 border-l pl-4" data-testid="history">
          {data?.map((ev) => (
            <li key={ev.id} className="relative">
              <span className="absolute -left-[21px] top-1.5 size-2.5 rounded-full border-2 border-card bg-primary" aria-hidden />
              <p className="text-sm">
                <span className="font-medium">{EVENT_LABEL[ev.kind] ?? ev.kind}</span>{" "}
                <span className="text-muted-foreground">{describeEvent(ev)}</span>
              </p>
              <time className="text-xs text-muted-foreground" dateTime={ev.occurred_at}>
                {formatDateTime(ev.occurred_at)}
              </time>
            </li>
          ))}
        </ol>
      </CardContent>
    </Card>
  );
}

export default function EntryPage() {
  const { id } = useParams();
  const entryId = Number(id);
  const qc = useQueryClient();
  const navigate = useNavigate();
  const { data: entry, isLoading, error } = useQuery({
    queryKey: ["entry", entryId],
    queryFn: () => api.get("/entries/{entry_id}", { path: { entry_id: entryId } }),
    enabled: Number.isInteger(entryId) && entryId > 0,
    meta: { silent: true },
  });
  const [draft, setDraft] = useState<Draft | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [preview, setPreview] = useState<AutofillPreview | null>(null);
  useEffect(() => {
    if (entry) setDraft(toDraft(entry));
  }, [entry]);
  const changes = useMemo(() => (entry && draft ? diff(entry, draft) : {}), [entry, draft]);
  const dirty = Object.keys(changes).length > 0;
  const paramsBad = draft ? Number.isNaN(parseParams(draft.parameters)) : false;

  const save = useMutation({
    mutationFn: (body: EntryUpdate) => api.patch("/entries/{entry_id}", { path: { entry_id: entryId }, body }),
    onSuccess: (e) => {
      qc.setQueryData(["entry", entryId], e);
      qc.invalidateQueries({ queryKey: ["entries"] });
      qc.invalidateQueries({ queryKey: ["history", entryId] });
      qc.invalidateQueries({ queryKey: ["dashboard"] });
      toast.success("Saved", e.name);
    },
  });
  const refresh = useMutation({
    mutationFn: () => api.post("/entries/{entry_id}/refresh-metadata", { path: { entry_id: entryId } }),
    onSuccess: setPreview,
  });
  const applyRefresh = useMutation({
    mutationFn: (body: EntryUpdate) => api.patch("/entries/{entry_id}", { path: { entry_id: entryId }, body }),
    onSuccess: (e) => {
      setPreview(null);
      qc.setQueryData(["entry", entryId], e);
      qc.invalidateQueries({ queryKey: ["entries"] });
      qc.invalidateQueries({ queryKey: ["history", entryId] });
      toast.success("Metadata updated", e.name);
    },
  });
  const remove = useMutation({
    mutationFn: () => api.delete("/entries/{entry_id}", { path: { entry_id: entryId } }),
    onSuccess: () => {
      qc.invalidateQueries();
      toast.success("Entry deleted");
      navigate("/models");
    },
  });

  if (error instanceof ApiError && error.status === 404) {
    return (
      <EmptyState title="No such entry">
        <p>It may have been deleted.</p>
        <Button asChild variant="outline" className="mt-3">
          <Link to="/models">Back to My models</Link>
        </Button>
      </EmptyState>
    );
  }
  if (isLoading || !entry || !draft) {
    return (
      <div className="space-y-4" aria-busy="true">
        <Skeleton className="h-9 w-72" />
        <Skeleton className="h-64 w-full" />
      </div>
    );
  }
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setDraft((d) => (d ? { ...d, [k]: v } : d));
  const onSubmit = (e: React.FormEvent) => {
    e.preventDefault();
    if (dirty && !paramsBad) save.mutate(changes);
  };

  return (
    <div>
      <Link to="/models" className="mb-3 inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
        <ArrowLeft className="size-4" aria-hidden /> My models
      </Link>
      <div className="mb-6 flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <div className="flex flex-wrap items-center gap-2">
            <h1 className="truncate text-2xl font-semibold tracking-tight" data-testid="entry-title">
              {entry.name}
            </h1>
            <StatusBadge status={entry.status} />
          </div>
          <p className="mt-1 text-sm text-muted-foreground">
            {[entry.developer, entry.model_type, entry.parameters ? `${formatParams(entry.parameters)} parameters` : null, entry.license]
              .filter(Boolean)
              .join(" · ")}
          </p>
          <div className="mt-2 flex flex-wrap gap-3 text-sm">
            {entry.hf_repo_id && (
              <a className="inline-flex items-center gap-1 text-primary hover:underline" href={`https://huggingface.co/${entry.hf_repo_id}`} target="_blank" rel="noopener noreferrer">
                <ExternalLink className="size-3.5" aria-hidden /> {entry.hf_repo_id}
              </a>
            )}
            {entry.github_repo && (
              <a className="inline-flex items-center gap-1 text-primary hover:underline" href={`https://github.com/${entry.github_repo}`} target="_blank" rel="noopener noreferrer">
                <ExternalLink className="size-3.5" aria-hidden /> {entry.github_repo}
              </a>
            )}
          </div>
        </div>
        <div className="flex gap-2">
          <Button variant="outline" onClick={() => refresh.mutate()} disabled={refresh.isPending}>
            <RefreshCw aria-hidden className={refresh.isPending ? "animate-spin" : undefined} /> Refresh metadata
          </Button>
          <Button variant="outline" asChild>
            <Link to={`/compare?ids=${entry.id}`}>Compare…</Link>
          </Button>
          <Button variant="outline" onClick={() => setConfirmDelete(true)}>
            <Trash2 aria-hidden /> Delete
          </Button>
        </div>
      </div>

      <div className="grid gap-6 xl:grid-cols-[minmax(0,1fr)_22rem]">
        <form onSubmit={onSubmit} className="grid gap-6" aria-label="Edit entry">
          <Card>
            <CardHeader>
              <CardTitle className="text-base">Your log</CardTitle>
            </CardHeader>
            <CardContent className="grid gap-4 sm:grid-cols-3">
              <Field label="Status" htmlFor="f-status">
                <StatusSelect id="f-status" value={parseEnum(ENTRY_STATUS_LABEL, draft.status) ?? ""} onValueChange={(v) => v && set("status", v)} />
              </Field>
              <Field label="Date interacted" htmlFor="f-date">
                <Input id="f-date" type="date" value={draft.date_interacted} onChange={(e) => set("date_interacted", e.target.value)} />
              </Field>
              <Field label="Rating" htmlFor="f-rating">
                <NativeSelect id="f-rating" value={draft.rating} onChange={(e) => set("rating", e.target.value)}>
                  <option value="">No rating</option>
                  {[5, 4, 3, 2, 1].map((r) => (
                    <option key={r} value={r}>
                      {"★".repeat(r)} ({r})
                    </option>
                  ))}
                </NativeSelect>
              </Field>
              <div className="grid gap-1.5 sm:col-span-3">
                <span className="text-sm font-medium">Tags</span>
                <TagInput value={draft.tags} onChange={(t) => set("tags", t)} id="f-tags" />
              </div>
            </CardContent>
          </Card>

          <Card>
            <CardHeader>
              <CardTitle className="text-base">Notes</CardTitle>
            </CardHeader>
            <CardContent>
              <MarkdownEditor value={draft.notes} onChange={(v) => set("notes", v)} />
            </CardContent>
          </Card>

          <Card>
            <CardHeader>
              <CardTitle className="text-base">Model details</CardTitle>
            </CardHeader>
            <CardContent className="grid gap-4 sm:grid-cols-2">
              <Field label="Name" htmlFor="f-name">
                <Input id="f-name" required value={draft.name} onChange={(e) => set("name", e.target.value)} />
              </Field>
              <Field label="Developer" htmlFor="f-developer">
                <Input id="f-developer" value={draft.developer} onChange={(e) => set("developer", e.target.value)} />
              </Field>
              <Field label="Type" htmlFor="f-type">
                <ModelTypeSelect id="f-type" value={parseEnum(MODEL_TYPE_LABEL, draft.model_type) ?? ""} onValueChange={(v) => v && set("model_type", v)} />
              </Field>
              <Field label="Parameters" htmlFor="f-params" hint={paramsBad ? "Use a number, or 7B / 1.3M / 500K" : "e.g. 7B, 1.3M or 7000000000"}>
                <Input id="f-params" value={draft.parameters} aria-invalid={paramsBad} onChange={(e) => set("parameters", e.target.value)} />
              </Field>
              <Field label="License" htmlFor="f-license">
                <Input id="f-license" value={draft.license} onChange={(e) => set("license", e.target.value)} />
              </Field>
              <Field label="Version" htmlFor="f-version">
                <Input id="f-version" value={draft.version} onChange={(e) => set("version", e.target.value)} />
              </Field>
              <Field label="Hugging Face id" htmlFor="f-hf">
                <Input id="f-hf" value={draft.hf_repo_id} placeholder="owner/name" onChange={(e) => set("hf_repo_id", e.target.value)} />
              </Field>
              <Field label="GitHub repository" htmlFor="f-gh">
                <Input id="f-gh" value={draft.github_repo} placeholder="owner/repo" onChange={(e) => set("github_repo", e.target.value)} />
              </Field>
              <div className="sm:col-span-2">
                <Field label="Description" htmlFor="f-desc">
                  <Textarea id="f-desc" rows={3} value={draft.description} onChange={(e) => set("description", e.target.value)} />
                </Field>
              </div>
              <div className="grid gap-1.5 sm:col-span-2">
                <span className="text-sm font-medium">Links</span>
                <LinksEditor value={draft.source_links} onChange={(l) => set("source_links", l)} />
              </div>
            </CardContent>
          </Card>

          <div className="sticky bottom-3 z-10 flex items-center justify-end gap-2 rounded-lg border bg-card/95 p-3 shadow-md backdrop-blur">
            <span className="mr-auto text-sm text-muted-foreground" aria-live="polite">
              {dirty ? "Unsaved changes" : "All changes saved"}
            </span>
            <Button variant="ghost" disabled={!dirty} onClick={() => setDraft(toDraft(entry))}>
              Discard
            </Button>
            <Button type="submit" disabled={!dirty || paramsBad || save.isPending}>
              <Save aria-hidden /> {save.isPending ? "Saving…" : "Save changes"}
            </Button>
          </div>
        </form>

        <div className="grid content-start gap-6">
          <Journal entryId={entryId} />
          <SimilarPanel entryId={entryId} />
          <HistoryCard entryId={entryId} />
        </div>
      </div>
      {preview && (
        <MetadataDiffDialog
          diff={preview.diff ?? []}
          source={preview.id}
          onApply={(fields) => applyRefresh.mutate(fields as EntryUpdate)}
          onClose={() => setPreview(null)}
          pending={applyRefresh.isPending}
        />
      )}
      <ConfirmDialog
        open={confirmDelete}
        onOpenChange={setConfirmDelete}
        title={`Delete “${entry.name}”?`}
        description="Your status, notes and journal for this model are removed. The catalog model stays."
        onConfirm={() => remove.mutate()}
        pending={remove.isPending}
      />
    </div>
  );
}
